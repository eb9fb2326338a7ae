// The agent's HTTP API as the command line calls it: one typed call per endpoint, each sending
// one request through an HttpClient. Applications use concierge::Client (include/concierge/),
// which covers registration and discovery with failover between servers; these calls cover
// the rest of the API (agent, operator, snapshot, maintenance; KV and sessions in kv_api.h,
// ACLs in acl_api.h) for one agent, and return the shapes the commands print. Internal.
//
// Every call fails with Unavailable when the agent cannot be reached (the HttpClient's
// message, e.g. "cannot connect to 127.0.0.1:8500: Connection refused") or answers 5xx, with
// NotFound on 404, PermissionDenied on 403, InvalidArgument on another status (those with
// Refusal's message), and with Internal when its answer cannot be read.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/http_client.h"
#include "concierge/client.h"

namespace concierge::client {

// Text on one line (runs of white space become one space), cut to `max_chars` with "...".
std::string OneLine(std::string_view text, std::size_t max_chars);

// "agent answered <status>: <body on one line, cut to 2000 characters>"; no ": " part when
// the body is empty.
std::string Refusal(const Response& answer);

// The failure an answer other than 2xx stands for (above).
Status FailureOf(const Response& answer);

// Sends one request; its answer when the status is 2xx, else the failures above.
Result<Response> Call(HttpClient& http, std::string_view method, std::string_view target,
                      std::string_view body = {},
                      std::optional<std::chrono::milliseconds> timeout = {});

// A service instance as the agent's answers describe it, with its worst check.
struct ServiceInstance {
  std::string node;
  std::string id;
  std::string service;
  std::string address;  // the service's address, else its node's
  int port = 0;
  std::vector<std::string> tags;
  std::string status;  // worst status of its checks; "passing" with no checks
  std::string output;  // output of the (first) worst check

  // "address:port"; "address" alone when port is 0, "-" when both are empty.
  std::string Endpoint() const;
};

// 0 passing, 1 warning, 2 critical or unknown, 3 maintenance: higher is worse, as in
// Consul's aggregated status.
int StatusRank(std::string_view status);

// GET /v1/health/service/<name>: [{"Node":{...},"Service":{...},"Checks":[...]}].
// Sorted by ID, then node.
Result<std::vector<ServiceInstance>> ParseHealthService(std::string_view body);

// GET /v1/agent/services: {"<id>": {"ID":..,"Service":..,"Address":..,"Port":..}}. Status
// and output stay empty. Sorted by ID.
Result<std::vector<ServiceInstance>> ParseAgentServices(std::string_view body);

struct ServerMember {
  std::string name;
  std::string raft_address;  // host:port
  std::string http_address;  // host:port; empty if the agent does not know it
  bool voter = false;        // in the Raft configuration (not merely known)
  bool leader = false;
};

// GET /v1/agent/members: [{"Name":..,"Addr":..,"Port":..,"Status":1|0,
// "Tags":{"http":..,"leader":"true"|"false"}}]. Sorted by name, then Raft address.
Result<std::vector<ServerMember>> ParseAgentMembers(std::string_view body);

struct RaftPeer {
  std::string node;
  std::string id;
  std::string address;  // Raft host:port
  bool leader = false;
  bool voter = false;
};

// GET /v1/operator/raft/configuration: {"Servers":[{"ID":..,"Node":..,"Address":..,
// "Leader":bool,"Voter":bool}]}. In the agent's order.
Result<std::vector<RaftPeer>> ParseRaftConfiguration(std::string_view body);

// DELETE /v1/operator/raft/peer?address=<host:port>
std::string RemovePeerTarget(std::string_view raft_address);

// PUT /v1/agent/service/register with a Consul-style definition, sent as it is.
Status RegisterService(HttpClient& http, std::string_view definition);
Status DeregisterService(HttpClient& http, std::string_view id);
// The agent's own services (GET /v1/agent/services).
Result<std::vector<ServiceInstance>> AgentServices(HttpClient& http);

struct ServiceHealth {
  std::vector<ServiceInstance> instances;
  std::optional<std::uint64_t> index;  // X-Consul-Index; nullopt if missing or not a number
};
// GET /v1/health/service/<name>; a blocking query with query.index > 0.
Result<ServiceHealth> HealthService(HttpClient& http, std::string_view service,
                                    const HealthQuery& query,
                                    std::optional<std::chrono::milliseconds> timeout = {});
// A TTL check's status (PUT /v1/agent/check/pass|warn|fail/<id>).
Status UpdateCheck(HttpClient& http, std::string_view check_id, HealthStatus status,
                   std::string_view note);

Result<std::vector<ServerMember>> AgentMembers(HttpClient& http);
Result<std::vector<RaftPeer>> RaftPeers(HttpClient& http);
Status RemoveRaftPeer(HttpClient& http, std::string_view raft_address);
// To the voter with Raft ID `id`; empty: the one the leader picks.
Status TransferLeadership(HttpClient& http, std::string_view id);

struct Snapshot {
  std::string bytes;
  std::optional<std::string> index;  // X-Consul-Index, as the agent wrote it
};
Result<Snapshot> SaveSnapshot(HttpClient& http);
Status RestoreSnapshot(HttpClient& http, std::string_view bytes);

// Hands the agent's log lines at `level` and above (empty: info) to `on_data` as they are
// written (GET /v1/agent/monitor), until the agent ends or `on_data` returns false.
Status Monitor(HttpClient& http, std::string_view level,
               const std::function<bool(std::string_view)>& on_data);

// What is in maintenance mode: the node (empty service_id) or a service instance.
struct Maintenance {
  std::string service_id;
  std::string reason;
};
// Read from the agent's maintenance checks (GET /v1/agent/checks), in its order.
Result<std::vector<Maintenance>> MaintenanceList(HttpClient& http);
// Of the node when `service_id` is empty.
Status SetMaintenance(HttpClient& http, std::string_view service_id, bool enable,
                      std::string_view reason);

}  // namespace concierge::client
