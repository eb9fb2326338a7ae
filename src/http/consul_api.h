// Consul's HTTP API over the registry (see docs/consul-compat.md for what is covered).
#pragma once

#include <boost/asio/awaitable.hpp>

#include "http/acl_api.h"
#include "http/consul_json.h"
#include "http/message.h"
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
  // Runs before routing: answers cluster endpoints and forwards what the leader must answer.
  // nullopt means "answer it here".
  std::function<boost::asio::awaitable<std::optional<Response>>(Request&)> intercept;
  std::string http_address;
  // Limits (docs/limits.md): parked blocking queries, and registered instances; 0 = none.
  std::size_t max_blocking_queries = 12288;
  std::size_t max_instances = 2097152;
  // Where GET /v1/agent/monitor reads log lines; null: 501.
  server::LogMonitor* monitor = nullptr;
  // Enforce ACL tokens (docs/acl.md); the default policy is the registry's.
  bool acl_enabled = false;
};

class ConsulApi {
 public:
  ConsulApi(server::Registry& registry, server::StateLoop& state, server::WatchHub& hub,
            ApiOptions options);

  // The address /v1/status/leader reports; known once the server has bound its port.
  void set_http_address(std::string address) { options_.http_address = std::move(address); }

  // Routes one request. Never throws for bad input: answers 4xx with a message.
  boost::asio::awaitable<Response> Handle(Request& req);

 private:
  using Awaitable = boost::asio::awaitable<Response>;

  Awaitable Route(Request& req);

  Awaitable Register(Request& req);
  Awaitable SnapshotSave();
  Awaitable SnapshotRestore(Request& req);
  Awaitable Deregister(std::string_view id);
  Awaitable CheckStatus(Request& req, std::string_view id, core::HealthStatus status);
  Awaitable CheckUpdate(Request& req, std::string_view id);
  Awaitable HeartbeatBatch(Request& req);
  Awaitable HealthService(Request& req, std::string_view name);
  // The JSON answer of /v1/health/service for a view and its filters (cached per thread).
  std::string RenderHealthService(const std::shared_ptr<const server::ServiceView>& view,
                                  bool passing, const std::vector<std::string_view>& tags) const;
  Awaitable HealthChecks(Request& req, std::string_view name);
  Awaitable CatalogService(Request& req, std::string_view name);
  Awaitable CatalogServices(Request& req);
  Response AgentServices(const Request& req);
  Response AgentService(std::string_view id);
  Response AgentChecks(const Request& req);
  Response AgentSelf();
  Response HealthState(const Request& req, std::string_view state);
  Response CatalogNodes(const Request& req);
  // Every instance whose service the request's token may read; `filtered` if any was not.
  std::vector<InstancePtr> ReadableInstances(const Request& req, bool* filtered) const;

  // Parks a blocking query (?index=N&wait=D) on `key` until `current()` exceeds N or the
  // wait ends. Returns an error response for a malformed index or wait.
  boost::asio::awaitable<std::optional<Response>> Block(
      const Request& req, std::string key, const std::function<core::Index()>& current);
  // Adds X-Consul-Index and the leader headers.
  Response WithIndex(Response r, core::Index index) const;
  server::ClusterInfo Cluster() const;
  Awaitable Submit(core::Command command);

  server::Registry& registry_;
  server::StateLoop& state_;
  server::WatchHub& hub_;
  ApiOptions options_;
  AclApi acl_;
};

}  // namespace concierge::http
