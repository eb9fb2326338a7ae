// Every change to the catalog is a Command: a plain value that can be logged, replicated
// and replayed. Each carries the time it was decided at, so applying it never reads a clock.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/acl.h"
#include "core/kv.h"
#include "core/model.h"

namespace concierge::core {

// Register a service instance, or replace it if the ID exists. Checks whose definition did
// not change keep their status.
struct RegisterService {
  ServiceDefinition service;
  std::vector<CheckDefinition> checks;
  Time at{};
  bool operator==(const RegisterService&) const = default;
};

struct DeregisterService {
  std::string service_id;
  Time at{};
  bool operator==(const DeregisterService&) const = default;
};

// Why a check's status is being set. Replicated with the command, so that every server logs
// the same reason for a transition.
enum class CheckCause : std::uint8_t {
  kUpdate = 0,       // PUT /v1/agent/check/update/:id
  kHeartbeat = 1,    // a TTL update: PUT /v1/agent/check/pass|warn|fail/:id
  kTtlExpired = 2,   // the leader saw no heartbeat within the TTL
  kActiveCheck = 3,  // the leader's active or alias check (the output says what it saw)
};

// Set a check's status and output (a heartbeat that changes status, warn/fail, a TTL
// expiry or an active check's result decided by the leader).
struct UpdateCheck {
  std::string check_id;
  HealthStatus status = HealthStatus::kPassing;
  std::string output;
  Time at{};
  CheckCause cause = CheckCause::kUpdate;
  bool operator==(const UpdateCheck&) const = default;
};

// Deregister a service if, at `at`, one of its checks has been critical for at least its
// DeregisterCriticalServiceAfter. Conditional, so a reap proposed just before the instance
// recovered is a no-op.
struct ReapService {
  std::string service_id;
  Time at{};
  bool operator==(const ReapService&) const = default;
};

// Replace the whole catalog with a snapshot (Catalog::EncodeSnapshot), e.g. a backup being
// restored. Every index moves to this command's, so watchers see the change.
//
// A large snapshot goes through the log in parts (a libraft entry must fit its 8 MiB
// segment): parts 0..parts-1 in order, each a piece of the bytes; the registry stages them
// and replaces the catalog when the last one applies (server/registry.h).
struct RestoreSnapshot {
  std::string snapshot;
  Time at{};
  std::uint32_t part = 0;
  std::uint32_t parts = 1;
  bool operator==(const RestoreSnapshot&) const = default;
};

// Maintenance mode, as Consul has it: enabling adds a critical check that never expires
// (`_service_maintenance:<ID>` to one service, or `_node_maintenance` to every service of the
// node when `service_id` is empty), so the instances fail ?passing and DNS; disabling removes
// it. The reason becomes the check's Notes.
struct SetMaintenance {
  std::string service_id;  // empty: the whole node
  bool enable = true;
  std::string reason;
  Time at{};
  bool operator==(const SetMaintenance&) const = default;
};

// A new leader took office at `at` (DESIGN.md decision 3). It does not know when the TTL
// checks were last heard from, so it starts their TTLs over; to bound how long repeated
// elections can keep a dead instance alive, every TTL check that is not critical and not
// already marked is marked "unheard since `at`" (Catalog::UnheardSince). A later leader
// gives a marked check only what is left of its TTL from the mark (plus a grace).
struct LeaderElected {
  Time at{};
  bool operator==(const LeaderElected&) const = default;
};

// The leader heard from these checks while they were marked unheard: the marks go. The
// leader acknowledges such a heartbeat only once this is committed.
struct ChecksHeard {
  std::vector<std::string> check_ids;
  Time at{};
  bool operator==(const ChecksHeard&) const = default;
};

// ACLs (core/acl.h). Secrets arrive hashed; IDs are chosen by the server that proposes the
// command, so applying stays deterministic.

// The first management token (linked to global-management). Refused once it has happened.
struct AclBootstrap {
  AclToken token;
  Time at{};
  bool operator==(const AclBootstrap&) const = default;
};

// Creates (`create`: the ID must be new) or updates (the ID must exist) a policy.
struct AclSetPolicy {
  AclPolicy policy;
  bool create = true;
  Time at{};
  bool operator==(const AclSetPolicy&) const = default;
};

struct AclDeletePolicy {
  std::string id;
  Time at{};
  bool operator==(const AclDeletePolicy&) const = default;
};

// Creates or updates a token. An update with an empty secret_hash keeps the token's secret.
struct AclSetToken {
  AclToken token;
  bool create = true;
  Time at{};
  bool operator==(const AclSetToken&) const = default;
};

struct AclDeleteToken {
  std::string accessor_id;
  Time at{};
  bool operator==(const AclDeleteToken&) const = default;
};

// The KV store and sessions (core/kv.h). IDs are chosen by the server that proposes.

// A PUT or DELETE of /v1/kv, or a transaction (/v1/txn): every operation applies, or none
// does. A conflict (a stale CAS, a lock held by another session, a failed check) is refused
// as Status::Conflict with KvConflictStatus's message.
struct KvWrite {
  std::vector<KvOp> ops;
  Time at{};
  bool operator==(const KvWrite&) const = default;
};

struct SessionCreate {
  Session session;
  Time at{};
  bool operator==(const SessionCreate&) const = default;
};

// Ends a session: destroyed by request, or (`expired`) its TTL lapsed without a renewal, as
// the leader saw it.
struct SessionDestroy {
  std::string id;
  bool expired = false;
  Time at{};
  bool operator==(const SessionDestroy&) const = default;
};

using Command = std::variant<RegisterService, DeregisterService, UpdateCheck, ReapService,
                             RestoreSnapshot, SetMaintenance, LeaderElected, ChecksHeard,
                             AclBootstrap, AclSetPolicy, AclDeletePolicy, AclSetToken,
                             AclDeleteToken, KvWrite, SessionCreate, SessionDestroy>;

// The Conflict status of a KV write whose operation `failure.op` failed, and back.
Status KvConflictStatus(const KvFailure& failure);
std::optional<KvFailure> ParseKvConflict(const Status& status);

// The command changes ACL state only (no catalog events, no service index moves).
bool IsAclCommand(const Command& command);

// The commands that restore `snapshot`: one RestoreSnapshot, or parts of at most
// `part_bytes` each when it is larger.
inline constexpr std::size_t kRestorePartBytes = 4 << 20;
std::vector<Command> RestoreCommands(std::string_view snapshot,
                                     std::size_t part_bytes = kRestorePartBytes);

}  // namespace concierge::core
