// The catalog and health state machine: commands in, events out. Pure and deterministic:
// no I/O, no clock, no threads. The server owns one Catalog and applies commands to it in
// log order; replicas that apply the same commands hold the same state.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/acl.h"
#include "core/command.h"
#include "core/kv.h"
#include "core/model.h"
#include "core/persistent_set.h"
#include "core/status.h"

namespace concierge::core {

// What one applied command changed; the server turns these into heartbeat-table updates,
// expiry and reap timers, watcher wake-ups and log lines.
struct Event {
  enum class Kind {
    kServiceRegistered,    // new instance
    kServiceUpdated,       // re-registered with changes
    kServiceDeregistered,  // removed (by request or reaped)
    kCheckAdded,           // a check to track (TTL heartbeats)
    kCheckRemoved,
    kCheckStatusChanged,
    kSessionEnded,  // a session ended (destroyed, its TTL lapsed, or a check of it failed)
  };
  Kind kind;
  Symbol service_name;
  Text service_id;
  Text check_id;  // check events only; for kSessionEnded, the session's ID
  HealthStatus old_status = HealthStatus::kPassing;
  HealthStatus new_status = HealthStatus::kPassing;
  std::string reason;  // human-readable cause, for logs
  // Who decided it, which sets how loudly it is logged: a client's own writes are its
  // business (debug); what the registry or an operator decides is everyone's (info).
  enum class Cause : std::uint8_t {
    kRequest,      // the client's write (register, deregister, check update)
    kRename,       // the instance was registered again under another name
    kReap,         // critical for longer than its DeregisterCriticalServiceAfter
    kMaintenance,  // maintenance mode enabled or disabled
  };
  Cause cause = Cause::kRequest;
};

// Instance records by ID, persistent: a copy (a published view, a snapshot image) costs one
// pointer, and a change to one record copies O(log n) nodes, not the service (issue 17).
struct InstanceId {
  const Text& operator()(const std::shared_ptr<const Instance>& inst) const {
    return inst->service.id;
  }
};
using InstanceSet = PersistentSet<std::shared_ptr<const Instance>, InstanceId>;

// All instances of one service name, sorted by instance ID.
struct ServiceGroup {
  Index index = 0;       // last change to any instance of this name
  Index tags_index = 0;  // last change to the set of tags
  InstanceSet instances;
  // Each tag with the number of instances carrying it, so the tag set is known in O(tags).
  std::map<Symbol, std::uint32_t, std::less<>> tags;
  // Instances by the status of their worst check (HealthStatus order), kept as they change.
  std::array<std::uint32_t, 3> by_status{};
};

// 2 adds the node's maintenance check, 3 the unheard-since marks, 4 active checks, 5 the ACL
// state, 6 the KV store and sessions; versions 1 to 5 still decode (with the initial ACL
// state: nothing bootstrapped; an empty KV store).
inline constexpr std::uint8_t kSnapshotFormatVersion = 6;

// What a snapshot holds, taken from the catalog without copying its records (they are
// immutable and shared): cheap enough for the state thread, which must not stop for long,
// and encoded afterwards on any thread while the catalog moves on.
class CatalogImage {
 public:
  // The snapshot's bytes (Catalog::DecodeSnapshot reads them).
  std::string Encode() const;

 private:
  friend class Catalog;
  struct Group {
    Symbol name;
    Index index = 0;
    InstanceSet instances;  // shared with the catalog, not copied
  };
  Index index_ = 0;
  Index services_index_ = 0;
  std::vector<Group> groups_;  // by name
  std::optional<Check> node_maintenance_;
  std::vector<std::pair<Text, Time>> unheard_;  // sorted
  AclState acl_;
  KvState kv_;
};

class Catalog {
 public:
  // Validates and applies `command` as log entry `index` (strictly increasing). On error
  // the state is unchanged and the status says what was wrong.
  Result<std::vector<Event>> Apply(const Command& command, Index index);

  // Checks a command without applying it, so that a server can answer a bad request
  // before proposing it to the log.
  Status Validate(const Command& command) const;

  const Instance* FindInstance(std::string_view service_id) const;
  std::shared_ptr<const Instance> FindInstancePtr(std::string_view service_id) const;
  const ServiceGroup* FindService(std::string_view name) const;
  // The service ID a check belongs to, or null.
  const Text* FindCheckOwner(std::string_view check_id) const;

  const std::map<Symbol, ServiceGroup, std::less<>>& services() const { return services_; }
  std::size_t instance_count() const { return instances_.size(); }

  // Last index that changed anything.
  Index index() const { return index_; }
  // Last index that changed the set of service names or their tags (/v1/catalog/services);
  // also the index of a service name that does not exist.
  Index services_index() const { return services_index_; }

  // The whole catalog as bytes, for Raft snapshots and backups. The encoding starts with a
  // format version (kSnapshotFormatVersion) so that a newer server reads an older snapshot.
  std::string EncodeSnapshot() const { return Image().Encode(); }
  // The same, in two steps: Image here, in O(services) pointer copies; Encode anywhere.
  CatalogImage Image() const;
  // Rejects unknown versions and malformed or inconsistent input.
  static Result<Catalog> DecodeSnapshot(std::string_view bytes);

  // Since when the leaders have not heard from this TTL check, if it is marked so
  // (LeaderElected marks, heartbeats and writes of the check clear the mark); nullopt if not.
  std::optional<Time> UnheardSince(std::string_view check_id) const;
  const std::unordered_map<Text, Time, TextHash, TextEqual>& unheard() const {
    return unheard_since_;
  }
  // Whether the last command applied was a LeaderElected that marked a check. One right
  // after another marks nothing (an earlier mark is kept) and is O(1), not O(instances): a
  // restart replays the elections of every restart since the last snapshot, and a crash
  // loop would otherwise add a pass over every instance each time.
  bool last_election_marked() const { return last_election_marked_; }

  // Policies and tokens (ACL commands change nothing else).
  const AclState& acl() const { return acl_; }
  // The KV store and sessions (KV and session commands change nothing else).
  const KvState& kv() const { return kv_; }

  // The check every instance carries while the node is in maintenance mode.
  const std::optional<Check>& node_maintenance() const { return node_maintenance_; }

  // When the instance becomes due for reaping, if ever: the earliest time at which one of its
  // critical checks has been critical for its DeregisterCriticalServiceAfter.
  static std::optional<Time> ReapDeadline(const Instance& instance);

 private:
  Result<std::vector<Event>> ApplyRegister(const RegisterService& cmd, Index index);
  Result<std::vector<Event>> ApplyDeregister(std::string_view id, Index index, std::string reason,
                                             Event::Cause cause);
  Result<std::vector<Event>> ApplyUpdateCheck(const UpdateCheck& cmd, Index index);
  Result<std::vector<Event>> ApplyReap(const ReapService& cmd, Index index);
  Result<std::vector<Event>> ApplyRestore(const RestoreSnapshot& cmd, Index index);
  Result<std::vector<Event>> ApplyMaintenance(const SetMaintenance& cmd, Index index);
  void ApplyLeaderElected(const LeaderElected& cmd);
  Status ValidateSession(const SessionCreate& cmd) const;
  // Ends the session `id` at `at` and says so in `events`.
  void EndSession(const std::string& id, Time at, Index index, std::string reason,
                  std::vector<Event>* events);
  // The sessions bound to checks that the events turned critical or removed end.
  void EndSessionsOfFailedChecks(Time at, Index index, std::vector<Event>* events);
  void Heard(std::string_view check_id) {
    if (auto it = unheard_since_.find(check_id); it != unheard_since_.end()) {
      unheard_since_.erase(it);
    }
  }
  // Puts `check` (or, if null, no check) under `check_id` into the instance's record.
  void ReplaceMaintenanceCheck(const Text& service_id, const Text& check_id, const Check* check,
                               Index index, const std::string& reason, std::vector<Event>* events);
  void Touch(const Symbol& name, Index index);
  // Puts `inst` into its group and the ID index, in place of `old` (null: a new instance).
  void Store(ServiceGroup& group, const Instance* old, std::shared_ptr<const Instance> inst);
  // Count `tags` into (delta +1) or out of (delta -1) the group; true if the set changed.
  static bool CountTags(ServiceGroup& group, const TagList& tags, int delta);

  // Every instance, found by its ID: a set of records keyed by their own IDs, with no key per
  // entry (memory per instance). Replacing a record keeps its ID, hence its place in the set.
  struct IndexedInstance {
    mutable std::shared_ptr<const Instance> ptr;
  };
  // Not noexcept on purpose: libstdc++ then keeps each entry's hash in its node (8 bytes),
  // so that growing the set relinks nodes instead of reading every record to hash its ID
  // again (a 1.4 s stop of the state thread at 1,000,000 instances, and most of a restart's
  // index building).
  struct ById {
    using is_transparent = void;
    static std::string_view Id(std::string_view id) { return id; }
    static std::string_view Id(const IndexedInstance& e) { return e.ptr->service.id; }
    template <typename A>
    std::size_t operator()(const A& a) const {
      return std::hash<std::string_view>()(Id(a));
    }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const noexcept {
      return Id(a) == Id(b);
    }
  };
  std::unordered_set<IndexedInstance, ById, ById> instances_;
  std::unordered_map<Text, Text, TextHash, TextEqual> check_owner_;  // check ID -> service ID
  std::map<Symbol, ServiceGroup, std::less<>> services_;
  Index index_ = 0;
  Index services_index_ = 0;
  std::optional<Check> node_maintenance_;
  // TTL checks no leader has heard from since a LeaderElected: check ID -> its time.
  std::unordered_map<Text, Time, TextHash, TextEqual> unheard_since_;
  // Every TTL check that a LeaderElected would mark is marked: nothing but elections has been
  // applied since the last one's pass.
  bool marks_complete_ = false;
  bool last_election_marked_ = false;
  AclState acl_;
  KvState kv_;
};

}  // namespace concierge::core
