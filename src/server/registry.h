// The registry as the server runs it: the core catalog, the heartbeat table, TTL expiry and
// reap timers, and the read views that I/O threads answer from.
//
// Threading: every method marked "state thread" runs on the one thread that owns the
// catalog (StateLoop's, or a test's). Methods marked "any thread" are lock-free reads of
// published, immutable views, or the heartbeat fast path.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_set>
#include <unordered_map>
#include <vector>

#include "core/catalog.h"
#include "core/expiry_queue.h"
#include "server/active_checks.h"
#include "server/clock.h"
#include "server/concurrent_map.h"
#include "server/epoch.h"
#include "server/heartbeat_table.h"
#include "server/metrics.h"
#include "server/self_preservation.h"
#include "server/watch_hub.h"

namespace concierge::server {

// What readers see of one service name: its index and its instances, sorted by ID. The
// instances share their nodes with the catalog's group (core::InstanceSet): publishing a view
// copies one pointer, whatever the size of the service.
struct ServiceView {
  std::string name;
  core::Index index = 0;
  core::InstanceSet instances;
  // The tags of its instances, sorted, and the index of their last change.
  std::shared_ptr<const std::vector<std::string>> tags;
  core::Index tags_index = 0;
  // Instances by the status of their worst check (core::HealthStatus order).
  std::array<std::uint32_t, 3> by_status{};
};

struct RegistryOptions {
  // Applied to checks registered without DeregisterCriticalServiceAfter; 0 = never.
  core::Duration deregister_critical_after{0};
  // Self-preservation: pause expiry when more than this share of the TTL checks would expire
  // within `self_preservation_window` (0 = off; e.g. 0.5).
  double self_preservation_threshold = 0;
  core::Duration self_preservation_window = std::chrono::seconds(30);
  // The most a new leader adds to what is left of a check's TTL when no leader has heard
  // from it since an earlier election (min(TTL, this); docs/clustering.md "Elections and
  // TTLs").
  core::Duration election_grace = std::chrono::seconds(2);
  // ACLs: where no rule of a token matches, allow (true) or deny. Used only when the HTTP
  // layer enforces ACLs.
  bool acl_default_allow = false;
  // Consul's check_update_interval: an update that changes a check's output but not its
  // status goes through the log at most once per interval per check; the latest output
  // waiting is written when the interval is up. 0 = every change at once.
  core::Duration check_update_interval = std::chrono::minutes(5);
};

// What readers see of the ACL state: the policies and tokens, and the tokens by hashed secret
// with their authorizers compiled. Rebuilt by the state thread when an ACL command applies.
struct AclView {
  std::shared_ptr<const core::AclState> state;
  std::shared_ptr<const core::AclTokenIndex> tokens;
};

class Registry {
 public:
  Registry(const Clock& clock, RegistryOptions options, WatchHub* hub);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // --- State thread ---

  // Fills in what the agent decides for a command: its time, and the default
  // DeregisterCriticalServiceAfter.
  core::Command Prepare(core::Command command) const;
  // Applies a command as the next log entry, then updates timers and views and wakes
  // watchers. Returns the index readers will see, or why the command was refused.
  Result<core::Index> Apply(const core::Command& command);
  // Expires checks whose TTL has passed and reaps services past their grace period.
  void RunTimers();
  // State thread, before a write is proposed: true if `command` need not go through the
  // log, and is answered as done. That is an UpdateCheck that changes nothing (same status,
  // same output), or changes only the output within check_update_interval of the last such
  // write of that check: then its output waits (RunTimers writes the latest one when the
  // interval is up, if the status is still the same).
  bool AbsorbUpdate(const core::Command& command);
  // Parts of a snapshot restore are staged (core::RestoreSnapshot): the Raft snapshot does
  // not hold them, so none may be taken meanwhile.
  bool restoring() const { return staged_parts_ != 0; }
  // Reap entries in the heap, live or superseded (for tests).
  std::size_t scheduled_reaps() const { return reaps_.size(); }
  // Time until RunTimers has work, or nullopt if nothing is scheduled.
  std::optional<core::Duration> NextTimer() const;
  // Where the registry's own commands (TTL expiries, reaps, follow-ups) go: by default
  // straight to Apply; with Raft, to the log, so that they replicate like any write.
  using Proposer = std::function<void(core::Command)>;
  void set_proposer(Proposer proposer) { proposer_ = std::move(proposer); }
  // Only the leader decides expiries and reaps. A new leader does not know the old one's
  // last-seen times, so every TTL restarts from its election (DESIGN.md decision 3), and it
  // proposes core::LeaderElected: checks it then does not hear from before the next election
  // stay marked, and the next leader gives them only what is left of their TTL since the
  // mark (plus a grace). That bounds how long repeated elections keep a dead check alive.
  void SetLeader(bool leader);
  bool leader() const { return leader_; }
  // Who runs the HTTP and TCP checks (a CheckRunner); told of every active check in the
  // catalog, now and as commands apply. Null: nobody (the checks keep their status).
  void set_active_checks(ActiveChecks* active);
  // Proposes a command the registry decided itself (an active check's result) the way TTL
  // expiries are: through the proposer, on the leader only.
  void Propose(core::Command command) { Run(std::move(command)); }
  // The catalog alone, for backups (GET /v1/snapshot); restored with a RestoreSnapshot command.
  // Taken here cheaply, encoded on any thread (core::CatalogImage).
  core::CatalogImage CatalogImage() const { return catalog_.Image(); }
  std::string CatalogSnapshot() const { return catalog_.EncodeSnapshot(); }
  // The whole state as bytes (Raft snapshots), and back. Restore replaces
  // everything, republishes every view and wakes every watcher.
  struct Image {
    core::Index last_applied = 0;
    core::CatalogImage catalog;
    std::string Encode() const;
  };
  Image TakeImage() const { return {last_applied_, catalog_.Image()}; }
  std::string Snapshot() const { return TakeImage().Encode(); }
  Status Restore(std::string_view snapshot);
  core::Index last_applied() const { return last_applied_; }

  // Deferred publication: Apply only marks what changed, and Flush publishes the views of
  // the changed services, the indexes, and wakes their watchers. A batch of commands (a mass
  // expiry, a burst of log entries) then rebuilds each service's view once, not once per
  // command. Off by default (every Apply flushes); the StateLoop turns it on and flushes
  // before it answers a write and once per loop iteration.
  void set_deferred_publish(bool deferred) { deferred_ = deferred; }
  void Flush();

  // Frees memory that readers no longer reference. Cheap; call after each batch.
  void Collect() { epoch_.Collect(); }
  const core::Catalog& catalog() const { return catalog_; }

  // --- Any thread ---

  // A heartbeat (TTL "pass"): records it and returns the check's status, or nullopt if no
  // TTL check has this ID. A non-passing status means the caller must submit the transition.
  // `unheard`, if given, says that the check is marked unheard since an election: the caller
  // must then commit core::ChecksHeard for it before acknowledging the heartbeat.
  std::optional<core::HealthStatus> Heartbeat(std::string_view check_id,
                                              bool* unheard = nullptr) {
    std::optional<core::HealthStatus> status =
        heartbeats_.Beat(check_id, clock_.Steady(), unheard);
    if (status) {
      Metrics::Get().heartbeats.Inc();
    } else {
      Metrics::Get().heartbeats_unknown.Inc();
    }
    return status;
  }
  // How long ago the TTL check `check_id` last heartbeated (registration counts), or nullopt
  // if no TTL check has that ID. Lock-free; for display (the web UI), not for decisions.
  std::optional<core::Duration> SinceHeartbeat(std::string_view check_id) const {
    std::optional<core::Time> seen = heartbeats_.LastSeen(check_id);
    if (!seen) return std::nullopt;
    return std::max(core::Duration(0), clock_.Steady() - *seen);
  }
  std::shared_ptr<const ServiceView> Service(std::string_view name) const;
  // The ACL state as of the last applied ACL command (or restore).
  AclView Acl() const {
    std::lock_guard lock(acl_mu_);
    return acl_;
  }
  std::shared_ptr<const core::Instance> Instance(std::string_view service_id) const;
  // Every service name with its tags, sorted by name.
  std::vector<std::pair<std::string, std::vector<std::string>>> ServiceNames() const;
  // Every instance, sorted by ID.
  std::vector<std::shared_ptr<const core::Instance>> Instances() const;
  // The index a blocking query on `name` compares with: the service's, or for a name that
  // does not exist, the index of the last change to the set of names.
  core::Index ServiceIndex(std::string_view name) const;
  core::Index services_index() const { return services_index_.load(); }
  core::Index index() const { return index_.load(); }
  std::size_t instance_count() const { return instance_count_.load(); }
  std::size_t tracked_checks() const { return heartbeats_.size(); }
  // Self-preservation is holding expiries back, and how many.
  bool self_preservation() const { return preserving_.load(std::memory_order_relaxed); }
  std::size_t expiries_held() const { return held_count_.load(std::memory_order_relaxed); }
  // Instances whose worst check has `status`.
  std::int64_t instances_by_status(core::HealthStatus status) const {
    return by_status_[static_cast<std::size_t>(status)].load(std::memory_order_relaxed);
  }

 private:
  void HandleEvent(const core::Event& event);
  // Mirrors the catalog's unheard-since mark of a check into its heartbeat slot.
  void MirrorMark(std::string_view check_id);
  void OnLeaderElected(const core::LeaderElected& elected);
  // Applies `change` to the catalog and rebuilds everything derived from it: heartbeat
  // slots, timers, views; wakes every watcher.
  Status Replace(const std::function<Status(core::Catalog&)>& change, core::Index last_applied);
  void Arm(std::uint32_t slot, core::Time deadline);
  void ScheduleReap(const core::Text& service_id);
  // `reuse_tags`: keep the published tag list if the group's tags_index did not move.
  void Publish(const core::Symbol& name, bool reuse_tags = true);
  void PublishAcl();
  void Run(core::Command command);
  // A TTL expiry decided at `now` on the heartbeat seen at `last` (steady nanoseconds).
  struct Due {
    std::uint32_t slot;
    std::int64_t last;
  };
  void Expire(const Due& due, core::Time now);
  // Self-preservation: returns the expiries to propose now; holds the rest back.
  std::vector<Due> Preserve(std::vector<Due> due, core::Time now);
  // Moves `instance` into (delta +1) or out of (-1) the count of its aggregate status.
  void CountStatus(const core::Instance* instance, int delta);

  const Clock& clock_;
  RegistryOptions options_;
  WatchHub* hub_;
  core::Catalog catalog_;
  // Index 1 is the empty registry's (replies never carry 0), so the first command applies as
  // 2 and a blocking query that started from the empty registry sees it.
  core::Index last_applied_ = 1;

  EpochDomain epoch_;  // before the maps that retire into it
  HeartbeatTable heartbeats_{epoch_};
  ConcurrentMap<std::shared_ptr<const ServiceView>> views_{epoch_};
  // Keyed by the records' own IDs (no key per entry).
  struct InstanceId {
    std::string_view operator()(const std::shared_ptr<const core::Instance>& inst) const {
      return inst->service.id;
    }
  };
  ConcurrentMap<std::shared_ptr<const core::Instance>, InstanceId> instances_{epoch_};
  std::atomic<core::Index> index_{1};
  std::atomic<core::Index> services_index_{1};
  std::atomic<std::size_t> instance_count_{0};
  std::array<std::atomic<std::int64_t>, 3> by_status_{};
  // Rarely written (ACL commands), read once per request when ACLs are on.
  mutable std::mutex acl_mu_;
  AclView acl_;

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
  // The parts of a restore applied so far (RestoreSnapshot::part 0..staged_parts_-1).
  std::string staged_restore_;
  std::uint32_t staged_parts_ = 0;
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
  void WriteDeferredOutputs(core::Time now);
  // Commands decided while applying another (e.g. a heartbeat that raced an expiry).
  std::vector<core::Command> follow_ups_;
  Proposer proposer_;
  ActiveChecks* active_ = nullptr;
  bool deferred_ = false;
  std::unordered_set<core::Symbol> dirty_names_;
  bool dirty_catalog_ = false;
  bool leader_ = true;
  // Steady time at which this server last became the leader; a slot whose last_seen is
  // later has been heard by this leader.
  std::int64_t leader_since_ = 0;
};

}  // namespace concierge::server
