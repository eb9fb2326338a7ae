// The registry as the server runs it: the core catalog, and its two halves that the server
// derives from it as commands apply: the ExpiryScheduler (heartbeats, TTL expiry, reaps,
// self-preservation, election marks) and the ViewPublisher (the read views that I/O threads
// answer from, published once per batch). The registry applies commands, tells both halves
// what changed, logs each change, and proposes what the scheduler decides.
//
// Threading: every method marked "state thread" runs on the one thread that owns the
// catalog (StateLoop's, or a test's). Methods marked "any thread" are lock-free reads of
// published, immutable views, or the heartbeat fast path.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/catalog.h"
#include "server/active_checks.h"
#include "server/alias_checks.h"
#include "server/clock.h"
#include "server/epoch.h"
#include "server/expiry_scheduler.h"
#include "server/metrics.h"
#include "server/session_timers.h"
#include "server/view_publisher.h"
#include "server/watch_hub.h"

namespace concierge::server {

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

class Registry {
 public:
  // Records into `metrics`, which must outlive the registry.
  Registry(const Clock& clock, RegistryOptions options, WatchHub* hub, Metrics& metrics);
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
  // Expires checks whose TTL has passed, reaps services past their grace period, and ends
  // sessions whose TTL lapsed.
  void RunTimers() {
    scheduler_.RunTimers();
    sessions_.RunTimers();
  }
  // State thread, before a write is proposed: true if `command` need not go through the
  // log, and is answered as done. That is an UpdateCheck that changes nothing (same status,
  // same output), or changes only the output within check_update_interval of the last such
  // write of that check: then its output waits (RunTimers writes the latest one when the
  // interval is up, if the status is still the same).
  bool AbsorbUpdate(const core::Command& command) { return scheduler_.AbsorbUpdate(command); }
  // Parts of a snapshot restore are staged (core::RestoreSnapshot): the Raft snapshot does
  // not hold them, so none may be taken meanwhile.
  bool restoring() const { return staged_parts_ != 0; }
  // Reap entries in the heap, live or superseded (for tests).
  std::size_t scheduled_reaps() const { return scheduler_.scheduled_reaps(); }
  // Time until RunTimers has work, or nullopt if nothing is scheduled.
  std::optional<core::Duration> NextTimer() const {
    std::optional<core::Duration> checks = scheduler_.NextTimer();
    std::optional<core::Duration> sessions = sessions_.NextTimer();
    if (!checks || (sessions && *sessions < *checks)) return sessions;
    return checks;
  }
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
  // Any thread.
  bool leader() const { return scheduler_.leader(); }
  // Who runs the active checks (a CheckRunner); told of every active check in the
  // catalog, now and as commands apply. Null: nobody (the checks keep their status).
  void set_active_checks(ActiveChecks* active);
  // Proposes a command the registry decided itself (an active check's result) the way TTL
  // expiries are: through the proposer, on the leader only.
  void Propose(core::Command command) { Run(std::move(command)); }
  // The catalog alone, for backups (GET /v1/snapshot); restored with a RestoreSnapshot command.
  // Taken here cheaply, encoded on any thread (core::CatalogImage).
  core::CatalogImage CatalogImage() const { return catalog_.Image(); }
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
  // expiry, a burst of log entries) then publishes each service's view once, not once per
  // command. Off by default (every Apply flushes); the StateLoop turns it on and flushes
  // before it answers a write and once per loop iteration.
  void set_deferred_publish(bool deferred) { deferred_ = deferred; }
  void Flush() { views_.Flush(); }

  // Frees memory that readers no longer reference. Cheap; call after each batch.
  void Collect() { epoch_.Collect(); }
  const core::Catalog& catalog() const { return catalog_; }

  // --- Any thread ---

  // The clock the registry runs on (for readers that keep time windows of their own).
  const Clock& clock() const { return clock_; }
  // Where the registry records, and the parts that serve it (state loop, log, HTTP API).
  Metrics& metrics() const { return metrics_; }
  // A heartbeat (TTL "pass"): records it and returns the check's status, or nullopt if no
  // TTL check has this ID. A non-passing status means the caller must submit the transition.
  // `unheard`, if given, says that the check is marked unheard since an election: the caller
  // must then commit core::ChecksHeard for it before acknowledging the heartbeat.
  std::optional<core::HealthStatus> Heartbeat(std::string_view check_id, bool* unheard = nullptr) {
    std::optional<core::HealthStatus> status = scheduler_.Heartbeat(check_id, unheard);
    if (status) {
      metrics_.heartbeats.Inc();
    } else {
      metrics_.heartbeats_unknown.Inc();
    }
    return status;
  }
  // How long ago the TTL check `check_id` last heartbeated (registration counts), or nullopt
  // if no TTL check has that ID. Lock-free; for display (the web UI), not for decisions.
  std::optional<core::Duration> SinceHeartbeat(std::string_view check_id) const {
    std::optional<core::Time> seen = scheduler_.LastSeen(check_id);
    if (!seen) return std::nullopt;
    return std::max(core::Duration(0), clock_.Steady() - *seen);
  }
  std::shared_ptr<const ServiceView> Service(std::string_view name) const {
    return views_.Service(name);
  }
  // The ACL state as of the last applied ACL command (or restore).
  AclView Acl() const { return views_.Acl(); }
  // The KV store and sessions as of the last batch that changed them.
  std::shared_ptr<const KvView> Kv() const { return views_.Kv(); }
  // A session renewal (a heartbeat: no log entry). False if no session with a TTL has this
  // ID (a session without one needs no renewal).
  bool RenewSession(std::string_view id) { return sessions_.Renew(id); }
  std::shared_ptr<const core::Instance> Instance(std::string_view service_id) const {
    return views_.Instance(service_id);
  }
  // Every service name with its tags, sorted by name.
  std::vector<std::pair<std::string, std::vector<std::string>>> ServiceNames() const {
    return views_.ServiceNames();
  }
  // Every instance, sorted by ID.
  std::vector<std::shared_ptr<const core::Instance>> Instances() const {
    return views_.Instances();
  }
  // The index a blocking query on `name` compares with: the service's, or for a name that
  // does not exist, the index of the last change to the set of names.
  core::Index ServiceIndex(std::string_view name) const { return views_.ServiceIndex(name); }
  core::Index services_index() const { return views_.services_index(); }
  core::Index index() const { return views_.index(); }
  std::size_t instance_count() const { return views_.instance_count(); }
  std::size_t tracked_checks() const { return scheduler_.tracked_checks(); }
  // Self-preservation is holding expiries back, and how many.
  bool self_preservation() const { return scheduler_.self_preservation(); }
  std::size_t expiries_held() const { return scheduler_.expiries_held(); }
  // Instances whose worst check has `status`.
  std::int64_t instances_by_status(core::HealthStatus status) const {
    return views_.instances_by_status(status);
  }

 private:
  // Tells the scheduler, the active checks and the log what one event changed.
  void HandleEvent(const core::Event& event);
  void CheckAdded(const core::Event& event);
  void CheckStatusChanged(const core::Event& event);
  // After a command applied: marks in the heartbeat slots, views to publish.
  void AfterApply(const core::Command& command, const std::vector<core::Event>& events);
  // Applies `change` to the catalog and rebuilds everything derived from it: heartbeat
  // slots, timers, views; wakes every watcher.
  Status Replace(const std::function<Status(core::Catalog&)>& change, core::Index last_applied);
  void Run(core::Command command);
  // Stages a part of a restore; the whole, once its last part is here, goes to Replace.
  Result<core::Index> ApplyRestore(const core::Command& command);
  // Tells active_ of every probed check in the catalog.
  void TrackActiveChecks();
  // On the leader, proposes the alias checks' new statuses that the last events call for.
  void FollowAliases();

  const Clock& clock_;
  Metrics& metrics_;
  RegistryOptions options_;
  core::Catalog catalog_;
  // Index 1 is the empty registry's (replies never carry 0), so the first command applies as
  // 2 and a blocking query that started from the empty registry sees it.
  core::Index last_applied_ = 1;

  EpochDomain epoch_;  // before the halves that retire into it
  ExpiryScheduler scheduler_;
  SessionTimers sessions_;
  ViewPublisher views_;
  Proposer proposer_;
  ActiveChecks* active_ = nullptr;
  AliasChecks aliases_;
  bool deferred_ = false;
  // The parts of a restore applied so far (RestoreSnapshot::part 0..staged_parts_-1).
  std::string staged_restore_;
  std::uint32_t staged_parts_ = 0;
};

}  // namespace concierge::server
