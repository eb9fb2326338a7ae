#include "http/routes.h"

#include <vector>

#include "server/metrics.h"

namespace concierge::http {

namespace {

using enum Endpoint;
constexpr AclScope kNoAcl = AclScope::kNone;
constexpr AclScope kFiltered = AclScope::kFiltered;
constexpr AclScope kOfCheck = AclScope::kServiceOfCheck;
constexpr AclScope kOfInstance = AclScope::kServiceOfInstance;
constexpr AclScope kInBody = AclScope::kServiceInBody;
constexpr AclScope kOfApp = AclScope::kServiceOfApp;
constexpr AclScope kServiceAcl = AclScope::kService;
constexpr AclScope kEachBeat = AclScope::kEachHeartbeat;
constexpr AclScope kNodeAcl = AclScope::kNode;
constexpr AclScope kAgentAcl = AclScope::kAgent;
constexpr AclScope kKeyAcl = AclScope::kKey;
constexpr AclScope kSessionAcl = AclScope::kSession;
constexpr AclScope kOperatorAcl = AclScope::kOperator;
constexpr AclScope kAclAcl = AclScope::kAcl;
constexpr AclScope kAnyToken = AclScope::kAnyToken;
constexpr AclScope kClusterKey = AclScope::kCluster;
constexpr Access R = Access::kRead;
constexpr Access W = Access::kWrite;
constexpr Where kLocal = Where::kAgent;
constexpr Where kToLeader = Where::kLeader;
constexpr Where kBeat = Where::kHeartbeat;
constexpr Where kStale = Where::kRead;
constexpr Blocking kNoBlock = Blocking::kNo;
constexpr Blocking kByIndex = Blocking::kIndex;
constexpr Blocking kByHash = Blocking::kHash;
constexpr BodyLimit kNoBody = BodyLimit::kNone;
constexpr BodyLimit kJson = BodyLimit::kJson;
constexpr BodyLimit kBackup = BodyLimit::kBackup;

// A Consul endpoint Concierge does not serve: any method, 501 with `why`.
constexpr Route Unsupported(std::string_view pattern, std::string_view why) {
  return {kAnyMethod, 0, pattern, kUnsupported, kNoAcl, R, kLocal, kNoBlock, kNoBody, why};
}

// Consul 1.x's methods are the reference (agent/http_register.go): PUT for writes, GET for
// reads; the heartbeats come first, as the hot path.
// clang-format off
constexpr Route kRoutes[] = {
  // methods  legacy pattern                                   endpoint             ACL          access where      blocking  body
  {kPut,      kGet, "/v1/agent/check/pass/:id",                kCheckPass,          kOfCheck,    W, kBeat,     kNoBlock, kNoBody},
  {kPut,      kGet, "/v1/agent/check/warn/:id",                kCheckWarn,          kOfCheck,    W, kBeat,     kNoBlock, kNoBody},
  {kPut,      kGet, "/v1/agent/check/fail/:id",                kCheckFail,          kOfCheck,    W, kBeat,     kNoBlock, kNoBody},
  {kPut,      0,    "/v1/agent/check/update/:id",              kCheckUpdate,        kOfCheck,    W, kToLeader, kNoBlock, kJson},
  {kPut,      0,    "/v1/concierge/heartbeats",                kHeartbeatBatch,     kEachBeat,   W, kToLeader, kNoBlock, kJson},
  {kGet,      0,    "/v1/concierge/heartbeats",                kUiHeartbeats,       kOperatorAcl, R, kStale,   kNoBlock, kNoBody},
  {kGet,      0,    "/v1/concierge/changes",                   kUiChanges,          kOperatorAcl, R, kStale,   kByIndex, kNoBody},
  {kGet,      0,    "/v1/concierge/summary",                   kUiSummary,          kOperatorAcl, R, kStale,   kByIndex, kNoBody},
  {kPut,      0,    "/v1/agent/service/register",              kRegister,           kInBody,     W, kToLeader, kNoBlock, kJson},
  {kPut,      kGet, "/v1/agent/service/deregister/:id",        kDeregister,         kOfInstance, W, kToLeader, kNoBlock, kNoBody},
  {kPut,      0,    "/v1/agent/service/maintenance/:id",       kServiceMaintenance, kOfInstance, W, kToLeader, kNoBlock, kNoBody},
  {kPut,      0,    "/v1/agent/maintenance",                   kNodeMaintenance,    kNodeAcl,    W, kToLeader, kNoBlock, kNoBody},
  {kGet,      0,    "/v1/agent/service/:id",                   kAgentService,       kOfInstance, R, kStale,    kByHash,  kNoBody},
  {kGet,      0,    "/v1/agent/services",                      kAgentServices,      kFiltered,   R, kStale,    kByHash,  kNoBody},
  {kGet,      0,    "/v1/agent/checks",                        kAgentChecks,        kFiltered,   R, kStale,    kByHash,  kNoBody},
  {kGet,      0,    "/v1/agent/self",                          kAgentSelf,          kAgentAcl,   R, kLocal,    kNoBlock, kNoBody},
  {kGet,      0,    "/v1/agent/members",                       kAgentMembers,       kAgentAcl,   R, kLocal,    kNoBlock, kNoBody},
  {kGet,      0,    "/v1/agent/metrics",                       kAgentMetrics,       kAgentAcl,   R, kLocal,    kNoBlock, kNoBody},
  {kGet,      0,    "/v1/agent/monitor",                       kAgentMonitor,       kAgentAcl,   R, kLocal,    kNoBlock, kNoBody},
  {kGet,      0,    "/v1/health/service/:name",                kHealthService,      kFiltered,   R, kStale,    kByIndex, kNoBody},
  {kGet,      0,    "/v1/concierge/delta/service/:name",       kServiceDelta,       kServiceAcl, R, kStale,    kByIndex, kNoBody},
  {kGet,      0,    "/v1/health/checks/:name",                 kHealthChecks,       kFiltered,   R, kStale,    kByIndex, kNoBody},
  {kGet,      0,    "/v1/health/state/:state",                 kHealthState,        kFiltered,   R, kStale,    kByIndex, kNoBody},
  {kGet,      0,    "/v1/health/node/:node",                   kHealthNode,         kFiltered,   R, kStale,    kByIndex, kNoBody},
  {kGet,      0,    "/v1/catalog/services",                    kCatalogServices,    kFiltered,   R, kStale,    kByIndex, kNoBody},
  {kGet,      0,    "/v1/catalog/service/:name",               kCatalogService,     kFiltered,   R, kStale,    kByIndex, kNoBody},
  {kGet,      0,    "/v1/catalog/nodes",                       kCatalogNodes,       kFiltered,   R, kStale,    kByIndex, kNoBody},
  {kGet,      0,    "/v1/catalog/node/:node",                  kCatalogNode,        kFiltered,   R, kStale,    kByIndex, kNoBody},
  {kGet,      0,    "/v1/catalog/datacenters",                 kCatalogDatacenters, kNoAcl,      R, kLocal,    kNoBlock, kNoBody},
  {kGet,      0,    "/v1/status/leader",                       kStatusLeader,       kNoAcl,      R, kLocal,    kNoBlock, kNoBody},
  {kGet,      0,    "/v1/status/peers",                        kStatusPeers,        kNoAcl,      R, kLocal,    kNoBlock, kNoBody},
  {kGet,      0,    "/v1/snapshot",                            kSnapshotSave,       kAclAcl,     W, kStale,    kNoBlock, kNoBody},
  {kPut,      0,    "/v1/snapshot",                            kSnapshotRestore,    kAclAcl,     W, kToLeader, kNoBlock, kBackup},
  {kPut,      0,    "/v1/acl/bootstrap",                       kAclBootstrap,       kAnyToken,   W, kToLeader, kNoBlock, kNoBody},
  {kGet,      0,    "/v1/acl/token/self",                      kAclTokenSelf,       kAnyToken,   R, kStale,    kNoBlock, kNoBody},
  {kGet,      0,    "/v1/acl/policies",                        kAclPolicies,        kAclAcl,     R, kStale,    kNoBlock, kNoBody},
  {kGet,      0,    "/v1/acl/tokens",                          kAclTokens,          kAclAcl,     R, kStale,    kNoBlock, kNoBody},
  {kPut,      0,    "/v1/acl/policy",                          kAclPolicyCreate,    kAclAcl,     W, kToLeader, kNoBlock, kJson},
  {kPut,      0,    "/v1/acl/token",                           kAclTokenCreate,     kAclAcl,     W, kToLeader, kNoBlock, kJson},
  {kGet,      0,    "/v1/acl/policy/name/:name",               kAclPolicyByName,    kAclAcl,     R, kStale,    kNoBlock, kNoBody},
  {kGet,      0,    "/v1/acl/policy/:id",                      kAclPolicyRead,      kAclAcl,     R, kStale,    kNoBlock, kNoBody},
  {kPut|kDelete, 0, "/v1/acl/policy/:id",                      kAclPolicyWrite,     kAclAcl,     W, kToLeader, kNoBlock, kJson},
  {kGet,      0,    "/v1/acl/token/:id",                       kAclTokenRead,       kAclAcl,     R, kStale,    kNoBlock, kNoBody},
  {kPut|kDelete, 0, "/v1/acl/token/:id",                       kAclTokenWrite,      kAclAcl,     W, kToLeader, kNoBlock, kJson},
  {kPut,      0,    "/v1/concierge/join",                      kJoin,               kClusterKey, W, kLocal,    kNoBlock, kJson},
  {kGet,      0,    "/v1/operator/raft/configuration",         kRaftConfiguration,  kOperatorAcl, R, kLocal,   kNoBlock, kNoBody},
  {kDelete,   0,    "/v1/operator/raft/peer",                  kRaftRemovePeer,     kOperatorAcl, W, kToLeader, kNoBlock, kNoBody},
  {kPost,     0,    "/v1/operator/raft/transfer-leader",       kRaftTransferLeader, kOperatorAcl, W, kToLeader, kNoBlock, kNoBody},
  {kGet,      0,    "/v1/kv/:key",                             kKvRead,             kKeyAcl,     R, kStale,    kByIndex, kNoBody},
  {kPut|kDelete, 0, "/v1/kv/:key",                             kKvWrite,            kKeyAcl,     W, kToLeader, kNoBlock, kJson},
  {kPut,      0,    "/v1/txn",                                 kTxn,                kFiltered,   W, kToLeader, kNoBlock, kJson},
  {kPut,      0,    "/v1/session/create",                      kSessionCreate,      kSessionAcl, W, kToLeader, kNoBlock, kJson},
  {kPut,      0,    "/v1/session/destroy/:id",                 kSessionDestroy,     kSessionAcl, W, kToLeader, kNoBlock, kNoBody},
  {kPut,      0,    "/v1/session/renew/:id",                   kSessionRenew,       kSessionAcl, W, kToLeader, kNoBlock, kNoBody},
  {kGet,      0,    "/v1/session/info/:id",                    kSessionInfo,        kFiltered,   R, kStale,    kByIndex, kNoBody},
  {kGet,      0,    "/v1/session/node/:node",                  kSessionNode,        kFiltered,   R, kStale,    kByIndex, kNoBody},
  {kGet,      0,    "/v1/session/list",                        kSessionList,        kFiltered,   R, kStale,    kByIndex, kNoBody},
  {kGet,      0,    "/",                                       kUiRedirect,         kNoAcl,      R, kLocal,    kNoBlock, kNoBody},
  {kGet,      0,    "/ui",                                     kUiRedirect,         kNoAcl,      R, kLocal,    kNoBlock, kNoBody},
  {kGet,      0,    "/ui/:file",                               kUiFile,             kNoAcl,      R, kLocal,    kNoBlock, kNoBody},
  // Eureka's REST API (docs/eureka.md), under /eureka/ and /eureka/v2/: longer patterns first
  // (a last parameter takes the rest of the path). Renewals go to the leader whole, not
  // batched: a Eureka renewal keeps the status, where a batched heartbeat sets one.
  {kGet,      0,    "/eureka/apps",                            kEurekaApps,         kFiltered,   R, kStale,    kNoBlock, kNoBody},
  {kGet,      0,    "/eureka/apps/delta",                      kEurekaDelta,        kFiltered,   R, kStale,    kNoBlock, kNoBody},
  {kPut|kDelete, 0, "/eureka/apps/:app/:id/status",            kEurekaStatus,       kOfApp,      W, kToLeader, kNoBlock, kNoBody},
  {kPut,      0,    "/eureka/apps/:app/:id/metadata",          kEurekaMetadata,     kOfApp,      W, kToLeader, kNoBlock, kNoBody},
  {kGet,      0,    "/eureka/apps/:app/:id",                   kEurekaInstance,     kFiltered,   R, kStale,    kNoBlock, kNoBody},
  {kPut,      0,    "/eureka/apps/:app/:id",                   kEurekaRenew,        kOfApp,      W, kToLeader, kNoBlock, kNoBody},
  {kDelete,   0,    "/eureka/apps/:app/:id",                   kEurekaCancel,       kOfApp,      W, kToLeader, kNoBlock, kNoBody},
  {kGet,      0,    "/eureka/apps/:app",                       kEurekaApp,          kFiltered,   R, kStale,    kNoBlock, kNoBody},
  {kPost,     0,    "/eureka/apps/:app",                       kEurekaRegister,     kOfApp,      W, kToLeader, kNoBlock, kJson},
  {kGet,      0,    "/eureka/instances/:id",                   kEurekaInstanceById, kFiltered,   R, kStale,    kNoBlock, kNoBody},
  {kGet,      0,    "/eureka/vips/:vip",                       kEurekaVip,          kFiltered,   R, kStale,    kNoBlock, kNoBody},
  {kGet,      0,    "/eureka/svips/:svip",                     kEurekaSecureVip,    kFiltered,   R, kStale,    kNoBlock, kNoBody},
  {kGet,      0,    "/eureka/v2/apps",                         kEurekaApps,         kFiltered,   R, kStale,    kNoBlock, kNoBody},
  {kGet,      0,    "/eureka/v2/apps/delta",                   kEurekaDelta,        kFiltered,   R, kStale,    kNoBlock, kNoBody},
  {kPut|kDelete, 0, "/eureka/v2/apps/:app/:id/status",         kEurekaStatus,       kOfApp,      W, kToLeader, kNoBlock, kNoBody},
  {kPut,      0,    "/eureka/v2/apps/:app/:id/metadata",       kEurekaMetadata,     kOfApp,      W, kToLeader, kNoBlock, kNoBody},
  {kGet,      0,    "/eureka/v2/apps/:app/:id",                kEurekaInstance,     kFiltered,   R, kStale,    kNoBlock, kNoBody},
  {kPut,      0,    "/eureka/v2/apps/:app/:id",                kEurekaRenew,        kOfApp,      W, kToLeader, kNoBlock, kNoBody},
  {kDelete,   0,    "/eureka/v2/apps/:app/:id",                kEurekaCancel,       kOfApp,      W, kToLeader, kNoBlock, kNoBody},
  {kGet,      0,    "/eureka/v2/apps/:app",                    kEurekaApp,          kFiltered,   R, kStale,    kNoBlock, kNoBody},
  {kPost,     0,    "/eureka/v2/apps/:app",                    kEurekaRegister,     kOfApp,      W, kToLeader, kNoBlock, kJson},
  {kGet,      0,    "/eureka/v2/instances/:id",                kEurekaInstanceById, kFiltered,   R, kStale,    kNoBlock, kNoBody},
  {kGet,      0,    "/eureka/v2/vips/:vip",                    kEurekaVip,          kFiltered,   R, kStale,    kNoBlock, kNoBody},
  {kGet,      0,    "/eureka/v2/svips/:svip",                  kEurekaSecureVip,    kFiltered,   R, kStale,    kNoBlock, kNoBody},
  Unsupported("/v1/event/:op",                  "user events are not supported"),
  Unsupported("/v1/connect/:op",                "Connect (service mesh) is not supported"),
  Unsupported("/v1/query",                      "prepared queries are not supported"),
  Unsupported("/v1/query/:id",                  "prepared queries are not supported"),
  Unsupported("/v1/operator/:op",               "this operator endpoint is not supported"),
  Unsupported("/v1/coordinate/:op",             "network coordinates are not supported"),
  Unsupported("/v1/config",                     "configuration entries are not supported"),
  Unsupported("/v1/config/:kind",               "configuration entries are not supported"),
  Unsupported("/v1/namespace/:name",            "namespaces are not supported"),
  Unsupported("/v1/namespaces",                 "namespaces are not supported"),
  Unsupported("/v1/partition/:name",            "admin partitions are not supported"),
  Unsupported("/v1/partitions",                 "admin partitions are not supported"),
  Unsupported("/v1/peering/:op",                "cluster peering is not supported"),
  Unsupported("/v1/peerings",                   "cluster peering is not supported"),
  Unsupported("/v1/internal/:op",               "Consul's internal UI endpoints are not supported"),
  Unsupported("/v1/agent/check/register",       "standalone checks are not supported; register checks with a service"),
  Unsupported("/v1/agent/check/deregister/:id", "standalone checks are not supported; deregister the service"),
  Unsupported("/v1/agent/join/:address",        "joining is not supported here; start the agent with -join"),
  Unsupported("/v1/agent/leave",                "leaving is not supported yet"),
  Unsupported("/v1/agent/token/:kind",          "agent tokens are not supported; give clients their token"),
  Unsupported("/v1/catalog/register",           "use PUT /v1/agent/service/register"),
  Unsupported("/v1/catalog/deregister",         "use PUT /v1/agent/service/deregister/:id"),
};
// clang-format on

// Matches `path` against `pattern`, filling `params`.
bool Matches(std::string_view pattern, std::string_view path,
             std::array<std::string_view, 3>& params) {
  std::size_t n = 0;
  while (!pattern.empty()) {
    std::size_t colon = pattern.find(':');
    std::string_view literal = pattern.substr(0, colon);
    if (!path.starts_with(literal)) return false;
    path.remove_prefix(literal.size());
    if (colon == std::string_view::npos) return path.empty();
    pattern.remove_prefix(colon);
    std::size_t end = pattern.find('/');
    if (end == std::string_view::npos) {  // the last parameter: the rest
      params[n] = path;
      return true;
    }
    std::size_t segment = path.find('/');
    if (segment == 0 || segment == std::string_view::npos) return false;
    params[n++] = path.substr(0, segment);
    path.remove_prefix(segment);
    pattern.remove_prefix(end);
  }
  return path.empty();
}

struct Labels {
  std::vector<std::string_view> names{"other"};
  std::array<std::size_t, std::size(kRoutes)> slot{};
  Labels() {
    for (std::size_t i = 0; i < std::size(kRoutes); ++i) {
      std::size_t s = 0;
      while (s < names.size() && names[s] != kRoutes[i].pattern) ++s;
      if (s == names.size()) names.push_back(kRoutes[i].pattern);
      slot[i] = s;
    }
  }
};

const Labels& TheLabels() {
  static_assert(std::size(kRoutes) < server::kRouteSlots, "more routes than metrics slots");
  static const Labels labels;
  return labels;
}

}  // namespace

Methods MethodBit(std::string_view method) {
  if (method == "GET" || method == "HEAD") return kGet;
  if (method == "PUT") return kPut;
  if (method == "POST") return kPost;
  if (method == "DELETE") return kDelete;
  return 0;
}

std::span<const Route> Routes() { return kRoutes; }

RouteMatch MatchRoute(std::string_view method, std::string_view path) {
  const Methods bit = MethodBit(method);
  RouteMatch match;
  std::string_view first;  // the first pattern that matches: only its routes serve the path
  for (const Route& route : kRoutes) {
    std::array<std::string_view, 3> params{};
    if (!first.empty() && route.pattern != first) continue;
    if (!Matches(route.pattern, path, params)) continue;
    first = route.pattern;
    match.allowed |= route.methods | route.legacy;
    if ((route.methods | route.legacy) & bit) {
      match.route = &route;
      match.params = params;
      return match;
    }
  }
  return match;
}

std::string AllowHeader(Methods methods) {
  std::string out;
  for (auto [bit, name] :
       {std::pair{kGet, "GET, HEAD"}, {kPut, "PUT"}, {kPost, "POST"}, {kDelete, "DELETE"}}) {
    if (!(methods & bit)) continue;
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

std::span<const std::string_view> MetricsLabels() { return TheLabels().names; }

std::size_t MetricsSlot(const Route* route) {
  if (route == nullptr) return 0;
  return TheLabels().slot[static_cast<std::size_t>(route - kRoutes)];
}

}  // namespace concierge::http
