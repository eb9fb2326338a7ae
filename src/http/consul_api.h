// Consul's HTTP API over the registry (see docs/consul-compat.md for what is covered).
#pragma once

#include <boost/asio/awaitable.hpp>

#include "http/acl_api.h"
#include "http/answer_cache.h"
#include "http/consul_json.h"
#include "http/eureka_api.h"
#include "http/message.h"
#include "http/routes.h"
#include "server/command_log.h"
#include "server/log_monitor.h"
#include "server/registry.h"
#include "server/state_loop.h"
#include "server/watch_hub.h"

namespace concierge::http {

struct ApiOptions {
  NodeInfo node;
  std::string version;
  std::chrono::milliseconds default_wait{std::chrono::minutes(5)};
  std::chrono::milliseconds max_wait{std::chrono::minutes(10)};
  // The cluster as Raft sees it (leader, voters); any thread. Unset: a single in-memory
  // node that is its own leader at http_address.
  std::function<server::ClusterInfo()> cluster;
  // A cluster's side (cluster/cluster_api.h); unset on an agent that is not clustered (-dev).
  // `forward` runs once a request is routed and authorized: it answers what another server
  // must answer (nullopt: answer here). `endpoint` answers the cluster's own endpoints
  // (Endpoint::kJoin, kAgentMembers, kRaft*).
  std::function<boost::asio::awaitable<std::optional<Response>>(Request&, const RouteMatch&)>
      forward;
  std::function<boost::asio::awaitable<Response>(Endpoint, Request&)> cluster_endpoint;
  std::string http_address;
  // Body limits (docs/limits.md): a JSON body, and a backup being restored.
  std::size_t body_limit = 1 << 20;
  std::size_t backup_body_limit = std::size_t{1} << 30;
  // Accept the GETs that Consul 0.x took on some writes (Route::legacy); never from browsers.
  bool legacy_methods = true;
  // Origins (scheme://host:port) besides the agent's own whose pages may send writes.
  std::vector<std::string> allowed_origins;
  // Limits (docs/limits.md): parked blocking queries, and registered instances; 0 = none.
  std::size_t max_blocking_queries = 12288;
  std::size_t max_instances = 2097152;
  // The KV store's size (core::KvEntry::Footprint summed) and open sessions; 0 = none.
  std::size_t max_kv_bytes = std::size_t{1} << 30;
  std::size_t max_sessions = 262144;
  // Where GET /v1/agent/monitor reads log lines; null: 501.
  server::LogMonitor* monitor = nullptr;
  // Enforce ACL tokens (docs/acl.md); the default policy is the registry's.
  bool acl_enabled = false;
  // Accept registrations with script checks (-enable-script-checks); 400 otherwise.
  bool enable_script_checks = false;
};

class ConsulApi {
 public:
  ConsulApi(server::Registry& registry, server::StateLoop& state, server::WatchHub& hub,
            ApiOptions options);

  // The address /v1/status/leader reports; known once the server has bound its port.
  void set_http_address(std::string address) { options_.http_address = std::move(address); }

  // Routes one request. Never throws for bad input: answers 4xx with a message.
  boost::asio::awaitable<Response> Handle(Request& req);
  // The body limit of a request from its line and headers, before the body is read
  // (http::Server's Admit); a backup upload is refused at once without the right token.
  Admission Admit(const Request& head) const;

 private:
  using Awaitable = boost::asio::awaitable<Response>;

  // Routes the request; `match` is its route (http/routes.h).
  Awaitable Route(Request& req, const RouteMatch& match);
  // The request's route is known and allowed: its handler.
  Awaitable Dispatch(Request& req, const RouteMatch& match);
  // No route takes the method on that path: 404, 405 with Allow, or OPTIONS' answer.
  Response Unrouted(const Request& req, const RouteMatch& match) const;
  // Refuses what a browser must not do: a write from another site's page (cross-site
  // request forgery), or a legacy GET write from any page.
  Status CheckBrowser(const Request& req, const http::Route& route) const;

  Awaitable Register(Request& req);
  Awaitable SnapshotSave();
  Awaitable SnapshotRestore(Request& req);
  Awaitable Deregister(std::string_view id);
  Awaitable CheckStatus(Request& req, std::string_view id, core::HealthStatus status);
  Awaitable CheckUpdate(Request& req, std::string_view id);
  Awaitable HeartbeatBatch(Request& req);
  Awaitable HealthService(Request& req, std::string_view name);
  // The JSON answer of /v1/health/service for a view and its filters: encoded once per view
  // and filters, shared by every request that asks it (answers_).
  std::shared_ptr<const std::string> RenderHealthService(
      const std::shared_ptr<const server::ServiceView>& view, bool passing,
      const std::vector<std::string_view>& tags);
  // What changed in a service since ?index=N (blocking), or that the client must read it
  // all again (docs/design.md, "The delta stream").
  Awaitable ServiceDelta(Request& req, std::string_view name);
  Awaitable HealthChecks(Request& req, std::string_view name);
  Awaitable CatalogService(Request& req, std::string_view name);
  Awaitable CatalogServices(Request& req);
  Response AgentServices(const Request& req);
  Response AgentService(std::string_view id);
  Response AgentChecks(const Request& req);
  Response AgentSelf();
  Awaitable HealthState(Request& req, std::string_view state);
  Awaitable HealthNode(Request& req, std::string_view node);
  Awaitable CatalogNodes(Request& req);
  Awaitable CatalogNode(Request& req, std::string_view node);
  // The UI's blocking queries over the whole registry: {"Index"}, or with `summary` the
  // per-service counts (http/ui.h).
  Awaitable UiChanges(Request& req, bool summary);
  Response StatusPeers();
  // The KV store, transactions and sessions (http/kv_api.cc).
  Awaitable KvRead(Request& req, std::string_view key);
  Awaitable KvWrite(Request& req, std::string_view key);
  // 429 if `ops` would grow the KV store past -max-kv-bytes (writes that do not grow it pass).
  std::optional<Response> KvOverQuota(const std::vector<core::KvOp>& ops) const;
  Awaitable Txn(Request& req);
  Awaitable SessionCreate(Request& req);
  Awaitable SessionDestroy(std::string_view id);
  Response SessionRenew(std::string_view id);
  Awaitable SessionRead(Request& req, Endpoint which, std::string_view param);
  // Every instance whose service the request's token may read; `filtered` if any was not.
  std::vector<InstancePtr> ReadableInstances(const Request& req, bool* filtered) const;

  // Parks a blocking query (?index=N&wait=D) on `key` until `current()` exceeds N or the
  // wait ends. Returns an error response for a malformed index or wait. Sets req.woken_at
  // when a change ended the wait.
  boost::asio::awaitable<std::optional<Response>> Block(
      Request& req, std::string key, const std::function<core::Index()>& current);
  // Waits on `key` until `passed()` or `deadline`; an error response if the client went away.
  // Sets req.woken_at to the wake-up's time if a change woke it, clears it otherwise.
  boost::asio::awaitable<std::optional<Response>> Park(
      Request& req, std::string key, const std::function<bool()>& passed,
      std::chrono::steady_clock::time_point deadline);
  // Consul's hash-based blocking (agent endpoints): with ?hash=H, waits until `render()`
  // answers a body whose hash is not H, or ?wait ends. Adds X-Consul-ContentHash. Sets
  // req.woken_at when a change ended the wait.
  Awaitable BlockOnHash(Request& req, const std::function<Response()>& render);
  // Sets *deadline from the request's ?wait= (with Consul's jitter), or answers why not: a
  // malformed wait, or 429 when -max-blocking-queries are parked already.
  std::optional<Response> WaitDeadline(const Request& req,
                                       std::chrono::steady_clock::time_point* deadline) const;
  // Adds X-Consul-Index and the leader headers.
  Response WithIndex(Response r, core::Index index) const;
  server::ClusterInfo Cluster() const;
  Awaitable Submit(core::Command command);

  server::Registry& registry_;
  server::StateLoop& state_;
  server::WatchHub& hub_;
  ApiOptions options_;
  AclApi acl_;
  EurekaApi eureka_;
  AnswerCache answers_;
};

}  // namespace concierge::http
