// The registry's clock-driven half: which TTL checks are alive (the heartbeat table), when
// each one expires (one queue of deadlines, no scan), when a critical instance is reaped,
// self-preservation, the unheard-since marks that bound how long elections keep a dead check
// alive, and check outputs held back by check_update_interval. It decides commands (expiries,
// reaps, follow-ups, held outputs) and hands them to the registry to propose; it never changes
// the catalog itself.
//
// Threading: "state thread" methods run on the thread that applies commands; "any thread"
// methods are the lock-free heartbeat path and gauges.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/catalog.h"
#include "core/expiry_queue.h"
#include "server/clock.h"
#include "server/epoch.h"
#include "server/heartbeat_table.h"
#include "server/metrics.h"
#include "server/self_preservation.h"

namespace concierge::server {

struct ExpiryOptions {
  // Pause expiry when more than this share of the TTL checks would expire within `window`
  // (0 = off).
  double self_preservation_threshold = 0;
  core::Duration self_preservation_window = std::chrono::seconds(30);
  // The most a new leader adds to what is left of a check's TTL when no leader has heard
  // from it since an earlier election (docs/clustering.md "Elections and TTLs").
  core::Duration election_grace = std::chrono::seconds(2);
  // Consul's check_update_interval (RegistryOptions); 0 = every output change at once.
  core::Duration check_update_interval = std::chrono::minutes(5);
};

class ExpiryScheduler {
 public:
  // `propose` sends a command the scheduler decided (on the leader only) to the log.
  using Propose = std::function<void(core::Command)>;
  ExpiryScheduler(const Clock& clock, ExpiryOptions options, EpochDomain& epoch,
                  const core::Catalog& catalog, Metrics& metrics, Propose propose);

  // --- Any thread ---

  // A heartbeat: records it and returns the check's status, or nullopt if no TTL check has
  // this ID (Registry::Heartbeat says what the caller does with it).
  std::optional<core::HealthStatus> Heartbeat(std::string_view check_id, bool* unheard) {
    return heartbeats_.Beat(check_id, clock_.Steady(), unheard);
  }
  std::optional<core::Time> LastSeen(std::string_view check_id) const {
    return heartbeats_.LastSeen(check_id);
  }
  std::size_t tracked_checks() const { return heartbeats_.size(); }
  bool leader() const { return leader_.load(std::memory_order_relaxed); }
  bool self_preservation() const { return preserving_.load(std::memory_order_relaxed); }
  std::size_t expiries_held() const { return held_count_.load(std::memory_order_relaxed); }

  // --- State thread: what applied commands changed ---

  // A TTL check to track (`check` is its record in the catalog).
  void TtlCheckAdded(const core::Check& check, const core::Text& service_id);
  void CheckRemoved(const core::Text& check_id);
  // A TTL check's new status (false if the check is not tracked here).
  bool TtlStatusChanged(const core::Event& e);
  // Schedules the reap of the instance if one of its checks has a grace running.
  void ScheduleReap(const core::Text& service_id);
  // Mirrors the catalog's unheard-since mark of a check into its heartbeat slot.
  void MirrorMark(std::string_view check_id);
  // `marked`: the catalog marked some check at this election (Catalog::last_election_marked);
  // if not, and this server does not lead, the slots' flags are right already.
  void LeaderElected(const core::LeaderElected& elected, bool marked);
  // Before a write is proposed: true if this check update need not be written (it changes
  // nothing, or only the output within check_update_interval; Registry::AbsorbUpdate).
  bool AbsorbUpdate(const core::Command& command);
  // Reap entries in the heap, live or superseded (for tests).
  std::size_t scheduled_reaps() const { return reaps_.size(); }
  // Commands decided while applying another, to run once its effects are visible.
  std::vector<core::Command> TakeFollowUps() { return std::exchange(follow_ups_, {}); }
  // The catalog was replaced: forget `old_checks`, track every check of the catalog.
  void Rebuild(const std::vector<core::Text>& old_checks);

  // --- State thread: time and leadership ---

  // Only the leader expires and reaps (Registry::SetLeader says how TTLs restart).
  void SetLeader(bool leader);
  void RunTimers();
  std::optional<core::Duration> NextTimer() const;

 private:
  // A TTL expiry decided at `now` on the heartbeat seen at `last` (steady nanoseconds).
  struct Due {
    std::uint32_t slot;
    std::int64_t last;
  };
  void Arm(std::uint32_t slot, core::Time deadline);
  void Expire(const Due& due, core::Time now);
  void RunReaps(core::Time now);
  void WriteDeferredOutputs(core::Time now);
  // Self-preservation: returns the expiries to propose now; holds the rest back.
  std::vector<Due> Preserve(std::vector<Due> due, core::Time now);
  // Held expiries whose check is still silent, added to `due`.
  void RecheckHeld(std::vector<Due>& due, core::Time now);
  void Hold(const std::vector<Due>& due, core::Time now);
  void Release();
  // Gives a check marked unheard since an earlier election what is left of its TTL.
  void ResumeMarked(std::uint32_t s, HeartbeatTable::Slot& slot, core::Time mark,
                    const core::LeaderElected& elected);

  const Clock& clock_;
  ExpiryOptions options_;
  const core::Catalog& catalog_;
  Metrics& metrics_;
  Propose propose_;
  HeartbeatTable heartbeats_;
  SelfPreservation preservation_;
  // Expiries held back by self-preservation: slot -> its generation when held.
  std::unordered_map<std::uint32_t, std::uint32_t> held_;
  std::optional<core::Time> recheck_at_;  // steady time to look at held_ again
  std::atomic<bool> preserving_{false};
  std::atomic<std::size_t> held_count_{0};
  // TTL deadlines (steady time), one live entry per heartbeat slot.
  core::ExpiryQueue expiry_;
  // Reap deadlines (wall time) by service ID. The live one of each service is in
  // reap_due_; a heap entry that does not match it is superseded and skipped (the heap is
  // rebuilt when those pile up), and a due one is proposed only if the instance is still
  // due, so a flapping check costs neither memory nor Raft writes.
  using Reap = std::pair<core::Time, core::Text>;
  std::priority_queue<Reap, std::vector<Reap>, std::greater<>> reaps_;
  std::unordered_map<core::Text, core::Time> reap_due_;
  // check_update_interval: when each check's output last went through the log (for checks
  // whose output changed alone), and the outputs waiting, by when they are due.
  struct DeferredOutput {
    core::HealthStatus status;
    std::string output;
    core::Time due;
  };
  std::unordered_map<std::string, core::Time> output_written_;
  std::unordered_map<std::string, DeferredOutput> deferred_output_;
  using OutputDue = std::pair<core::Time, std::string>;
  std::priority_queue<OutputDue, std::vector<OutputDue>, std::greater<>> output_due_;
  std::vector<core::Command> follow_ups_;
  // Read by I/O threads (metrics), written by the state thread.
  std::atomic<bool> leader_{true};
  // Steady time at which this server last became the leader; a slot whose last_seen is
  // later has been heard by this leader.
  std::int64_t leader_since_ = 0;
};

}  // namespace concierge::server
