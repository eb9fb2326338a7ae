// Consul's KV store and sessions (issue 19, docs/kv.md): values by key with Consul's indexes,
// locks held by sessions, and sessions that end when asked, when their TTL lapses (the leader
// decides that and proposes SessionDestroy) or when a check they are bound to turns critical
// or goes (decided here, in the same log entry as the check's change). Pure and
// deterministic, like the catalog that holds it: times come from the commands.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/persistent_set.h"
#include "core/status.h"
#include "core/time.h"

namespace concierge::core {

using Index = std::uint64_t;
class Encoder;
class Decoder;
struct KvWrite;
struct SessionCreate;

struct KvLimits {
  // Consul's kv_max_value_size.
  static constexpr std::size_t kMaxValueBytes = 512 * 1024;
  static constexpr std::size_t kMaxKeyBytes = 2048;
  // Consul's limit on the operations of one transaction.
  static constexpr std::size_t kMaxTxnOps = 128;
  static constexpr std::size_t kMaxSessionChecks = 64;
  static constexpr std::size_t kMaxSessionNameBytes = 256;
  // Consul's session TTL range and largest lock delay.
  static constexpr Duration kMinSessionTtl = std::chrono::seconds(10);
  static constexpr Duration kMaxSessionTtl = std::chrono::hours(24);
  static constexpr Duration kMaxLockDelay = std::chrono::seconds(60);
  static constexpr Duration kDefaultLockDelay = std::chrono::seconds(15);
};

// The check every session is bound to unless it names its own: Consul's node health check.
// Here the node is the cluster, alive while it answers, so the check is always passing.
inline constexpr std::string_view kSerfHealthCheck = "serfHealth";

struct KvEntry {
  std::string key;
  std::string value;
  std::uint64_t flags = 0;
  Index create_index = 0;
  Index modify_index = 0;
  Index lock_index = 0;  // times the lock was acquired
  std::string session;   // the lock's holder, if any
  bool operator==(const KvEntry&) const = default;

  // What an entry counts against the store's size limit (-max-kv-bytes): its strings and a
  // fixed allowance for the record, its tree slot and its allocations.
  static constexpr std::size_t kOverheadBytes = 128;
  static std::size_t Footprint(std::size_t key_bytes, std::size_t value_bytes,
                               std::size_t session_bytes = 0) {
    return key_bytes + value_bytes + session_bytes + kOverheadBytes;
  }
  std::size_t Footprint() const { return Footprint(key.size(), value.size(), session.size()); }
};

struct KvEntryKey {
  const std::string& operator()(const std::shared_ptr<const KvEntry>& e) const { return e->key; }
};
// Sorted by key and persistent: a published copy costs a pointer, a change O(log n).
using KvEntries = PersistentSet<std::shared_ptr<const KvEntry>, KvEntryKey>;

enum class SessionBehavior : std::uint8_t { kRelease = 0, kDelete = 1 };
std::string_view ToString(SessionBehavior behavior);

struct Session {
  std::string id;
  std::string name;
  std::string node;
  // Checks that end the session when they turn critical or go; Consul's NodeChecks
  // (serfHealth by default) and ServiceChecks, by check ID.
  std::vector<std::string> node_checks;
  std::vector<std::string> service_checks;
  SessionBehavior behavior = SessionBehavior::kRelease;
  Duration ttl{0};  // 0: none
  Duration lock_delay = KvLimits::kDefaultLockDelay;
  Index create_index = 0;
  Index modify_index = 0;
  bool operator==(const Session&) const = default;
};

struct SessionKey {
  const std::string& operator()(const std::shared_ptr<const Session>& s) const { return s->id; }
};
// By ID and persistent, as the entries: a published copy costs a pointer, a change O(log n)
// (a copied map made each session change O(sessions)).
using Sessions = PersistentSet<std::shared_ptr<const Session>, SessionKey>;

// One operation of a KV write or transaction, with Consul's verbs.
struct KvOp {
  enum class Verb : std::uint8_t {
    kSet = 0,
    kCas = 1,     // set if ModifyIndex == index (0: only if the key does not exist)
    kLock = 2,    // set and acquire the lock for `session`
    kUnlock = 3,  // set and release the lock `session` holds
    kGet = 4,
    kGetTree = 5,
    kCheckIndex = 6,
    kCheckSession = 7,
    kCheckNotExists = 8,
    kDelete = 9,
    kDeleteTree = 10,
    kDeleteCas = 11,
  };
  Verb verb = Verb::kSet;
  std::string key;
  std::string value;
  std::uint64_t flags = 0;
  Index index = 0;
  std::string session;
  bool operator==(const KvOp&) const = default;
};
std::string_view ToString(KvOp::Verb verb);
// get, get-tree and the checks: they change nothing.
bool IsRead(KvOp::Verb verb);
// Consul's verb names ("set", "delete-tree", ...); nullopt for an unknown one.
std::optional<KvOp::Verb> ParseKvVerb(std::string_view text);
inline constexpr std::size_t kKvVerbCount = 12;

// Why an operation of a write failed: its position and Consul's message.
struct KvFailure {
  std::size_t op = 0;
  std::string what;
};

// The index a read of the keys under `prefix` reports and blocks on: the largest ModifyIndex
// under it, or the last delete anywhere if later (no tombstones are kept, so a delete wakes
// every prefix), or `floor` (the store's creation or restore) if later still.
Index KvPrefixIndex(const KvEntries& entries, std::string_view prefix, Index last_delete,
                    Index floor);

// Why the read `op` fails against `current` (its key's entry, or null), or "" if it holds.
std::string CheckRead(const KvOp& op, const KvEntry* current);
// The first failure of a transaction of reads only (Consul answers those without a log entry).
std::optional<KvFailure> CheckReads(const std::vector<KvOp>& ops, const KvEntries& entries);

class KvState {
 public:
  const KvEntries& entries() const { return entries_; }
  const KvEntry* Find(std::string_view key) const;
  // Last change to any key; last delete of one; the floor of every prefix index (a restore).
  Index index() const { return index_; }
  Index last_delete() const { return last_delete_; }
  Index floor() const { return floor_; }
  // The entries' footprints summed (KvEntry::Footprint): what -max-kv-bytes bounds.
  std::size_t bytes() const { return bytes_; }

  const Sessions& sessions() const { return sessions_; }
  const Session* FindSession(std::string_view id) const;
  Index sessions_index() const { return sessions_index_; }
  // The sessions bound to a check, by check ID.
  std::vector<std::string> SessionsOf(std::string_view check_id) const;

  // The first operation of `cmd` that cannot apply, if any (Consul's CAS, lock and check
  // rules), as it stands now. Malformed operations (a key too long...) are InvalidArgument
  // from ValidateOps; this is the conflict a client may expect (HTTP 200 false, or 409).
  // `index` is the entry the write would apply as (what a check-index of a key the same
  // transaction wrote compares with).
  std::optional<KvFailure> Conflict(const KvWrite& cmd, Index index) const;
  static Status ValidateOps(const KvWrite& cmd);
  // Applies every operation, or none: on a conflict the state is unchanged and it is returned.
  std::optional<KvFailure> Apply(const KvWrite& cmd, Index index);

  // The checks are the catalog's to judge (Catalog::Validate); this checks the rest.
  Status Validate(const SessionCreate& cmd) const;
  void Apply(const SessionCreate& cmd, Index index);
  // Ends a session: the locks it holds are released (with its lock delay) or their keys
  // deleted, as its behavior says. False if there is no such session.
  bool EndSession(std::string_view id, Time at, Index index);

  // The whole store was replaced at `index` (a restore): every index moves there, so that
  // every watcher sees the change.
  void Restored(Index index) { index_ = sessions_index_ = floor_ = index; }

  // Part of the catalog snapshot (format 6 on).
  void Encode(Encoder& e) const;
  static bool Decode(Decoder& d, KvState* out);

 private:
  // A write in progress: the entries as the operations so far left them (a copy costs a
  // pointer), and the lock holders that changed.
  struct Work {
    KvEntries entries;
    Index last_delete = 0;
    bool changed = false;
    std::int64_t bytes = 0;  // the footprint's change
    // Check the conditions only: nothing reads the result (the last operation of a dry run).
    bool dry = false;
    struct Held {
      std::string key, from, to;  // session before and after ("" for none)
    };
    std::vector<Held> held;
  };
  // `check_only`: the conditions are all that matters (the last operation changes nothing).
  std::optional<KvFailure> Run(const KvWrite& cmd, Index index, Work* work,
                               bool check_only = false) const;
  // Indexes the session under each check it is bound to.
  void Bind(const Session& s);
  // One operation; a failure's message, or "" if it applied.
  std::string ApplyOp(const KvOp& op, Time at, Index index, Work* work) const;

  KvEntries entries_;
  std::size_t bytes_ = 0;
  Index index_ = 0;
  Index last_delete_ = 0;
  Index floor_ = 0;
  Sessions sessions_;
  Index sessions_index_ = 0;
  // Derived (rebuilt on decode): the keys each session holds, the sessions of each check.
  std::map<std::string, std::set<std::string>, std::less<>> held_;
  std::multimap<std::string, std::string, std::less<>> by_check_;
  // Keys whose lock may not be taken again before a time (Consul's lock delay). Not part of
  // the snapshot, as in Consul; expired entries go when the key is next locked.
  std::unordered_map<std::string, Time> lock_delay_;
};

}  // namespace concierge::core
