// The route table: every HTTP endpoint the agent serves, described once. The router
// (ConsulApi), the ACL check (AclApi::Authorize), cluster forwarding (cluster::ClusterApi),
// the metrics labels and the body limit (Server's admission, before a body is read) all read
// it; none of them matches paths on its own.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace concierge::http {

// Methods as bits. HEAD goes wherever GET goes.
enum Method : std::uint8_t {
  kGet = 1 << 0,
  kPut = 1 << 1,
  kPost = 1 << 2,
  kDelete = 1 << 3,
  kAnyMethod = kGet | kPut | kPost | kDelete,
};
using Methods = std::uint8_t;
// The bit of a request's method; 0 for a method no route takes (OPTIONS, PATCH, ...).
Methods MethodBit(std::string_view method);

// What answers the request (ConsulApi::Dispatch has one case for each).
enum class Endpoint : std::uint8_t {
  // TTL heartbeats and check updates.
  kCheckPass,
  kCheckWarn,
  kCheckFail,
  kCheckUpdate,
  kHeartbeatBatch,
  // Agent (the registry's) services.
  kRegister,
  kDeregister,
  kServiceMaintenance,
  kNodeMaintenance,
  kAgentService,
  kAgentServices,
  kAgentChecks,
  kAgentSelf,
  kAgentMetrics,
  kAgentMonitor,
  // Health and catalog reads.
  kHealthService,
  kServiceDelta,  // Concierge's own: what changed in a service since an index
  kHealthChecks,
  kHealthState,
  kHealthNode,
  kCatalogServices,
  kCatalogService,
  kCatalogNodes,
  kCatalogNode,
  kCatalogDatacenters,
  kStatusLeader,
  kStatusPeers,
  // Backups.
  kSnapshotSave,
  kSnapshotRestore,
  // ACLs (http/acl_api.h).
  kAclBootstrap,
  kAclTokenSelf,
  kAclPolicies,
  kAclTokens,
  kAclPolicyCreate,
  kAclTokenCreate,
  kAclPolicyByName,
  kAclPolicyRead,
  kAclPolicyWrite,
  kAclTokenRead,
  kAclTokenWrite,
  // The cluster (cluster/cluster_api.h); 501 on an agent that is not clustered (-dev).
  kJoin,
  kAgentMembers,
  kRaftConfiguration,
  kRaftRemovePeer,
  kRaftTransferLeader,
  // The KV store, transactions and sessions (http/kv_api.cc).
  kKvRead,
  kKvWrite,
  kTxn,
  kSessionCreate,
  kSessionDestroy,
  kSessionRenew,
  kSessionInfo,
  kSessionNode,
  kSessionList,
  // The web UI: its files and its data.
  kUiRedirect,
  kUiFile,
  kUiHeartbeats,
  kUiChanges,
  kUiSummary,
  // Eureka's REST API (http/eureka_api.h, docs/eureka.md).
  kEurekaApps,
  kEurekaDelta,
  kEurekaApp,
  kEurekaRegister,
  kEurekaInstance,
  kEurekaRenew,
  kEurekaCancel,
  kEurekaStatus,
  kEurekaMetadata,
  kEurekaInstanceById,
  kEurekaVip,
  kEurekaSecureVip,
  // A Consul endpoint Concierge does not serve: 501 with the route's message.
  kUnsupported,
};

// Where a request is answered in a cluster.
enum class Where : std::uint8_t {
  kAgent,      // by the server that receives it, leader or not
  kLeader,     // by the leader: a follower forwards it; 503 "no cluster leader" without one
  kHeartbeat,  // by the leader; a follower batches it with other heartbeats
  kRead,       // by the leader, or by any server when the request says ?stale
};

// What a request's ACL token needs (docs/acl.md); checked by AclApi::Authorize.
enum class AclScope : std::uint8_t {
  kNone,               // anyone: status, the UI's files, 501s
  kFiltered,           // lists: the handler leaves out what the token may not read
  kServiceOfCheck,     // service:<the service the check :id belongs to>
  kServiceOfInstance,  // service:<the service of instance :id>
  kServiceInBody,      // service:<the name registered>, once the body is decoded
  kServiceOfApp,       // service:<the service of Eureka app :app> (docs/eureka.md)
  kService,            // service:<:name>
  kEachHeartbeat,      // service:write for each entry of a batch, with the entry's token
  kNode,               // node:<this node>
  kAgent,              // agent:<this node>
  kKey,                // key:<:key> (?recurse and ?keys reads are filtered by the handler)
  kSession,            // session:<this node>
  kOperator,           // operator
  kAcl,                // acl (management)
  kAnyToken,           // any valid token (acl/token/self), or none (acl/bootstrap)
  kCluster,            // internal: another server (the cluster key, or a member's address)
};
enum class Access : std::uint8_t { kRead, kWrite };

// Blocking queries (Consul's ?index=N&wait=D, or ?hash=H&wait=D on agent endpoints).
enum class Blocking : std::uint8_t { kNo, kIndex, kHash };

// The largest body a request may carry (docs/limits.md), known before it is read.
enum class BodyLimit : std::uint8_t {
  kNone,    // no body is expected: up to kNoBodyLimit bytes are read and ignored
  kJson,    // a JSON document: -http-max-body (1 MiB by default)
  kBackup,  // a backup being restored (-snapshot-max-body), only once its token is checked
};
inline constexpr std::size_t kNoBodyLimit = 64 << 10;

struct Route {
  Methods methods;
  // Methods that Consul 0.x took on these writes and that python3-consul 0.7.1 still sends
  // (GET on deregister and pass/warn/fail): refused to browsers and with
  // -http-legacy-methods=false.
  Methods legacy;
  // "/v1/health/service/:name": literal segments, and parameters (":x"). A parameter in the
  // middle matches one segment; the last one matches the rest of the path, '/' included,
  // and may be empty.
  std::string_view pattern;
  Endpoint endpoint;
  AclScope acl;
  Access access;
  Where where;
  Blocking blocking;
  BodyLimit body;
  // For Endpoint::kUnsupported: why, as the 501 says it.
  std::string_view message = {};

  // A method that changes state (including a legacy GET).
  bool Writes(Methods method) const { return access == Access::kWrite || (method & legacy); }
};

// Every route, in match order: the first pattern that matches a path decides, and of the
// routes with that pattern, the one that takes the method serves the request.
std::span<const Route> Routes();

struct RouteMatch {
  const Route* route = nullptr;  // null: no pattern matches (404)
  // The parameters' values, in pattern order, as views into the matched path.
  std::array<std::string_view, 3> params{};
  // Every method the path's patterns take (the Allow header of a 405), with HEAD for GET.
  Methods allowed = 0;
  std::string_view param(std::size_t i = 0) const { return params[i]; }
};

// The route for `method` on `path`. A path whose first matching pattern does not take the
// method gives route == null and the methods that pattern takes.
RouteMatch MatchRoute(std::string_view method, std::string_view path);

// "GET, HEAD, PUT": an Allow header.
std::string AllowHeader(Methods methods);

// The metrics label of each route: its pattern; routes that share a pattern share a label.
// Slot 0 is "other" (no route).
std::span<const std::string_view> MetricsLabels();
std::size_t MetricsSlot(const Route* route);

}  // namespace concierge::http
