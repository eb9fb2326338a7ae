// Consul's JSON shapes: decoding request bodies (keys matched case-insensitively with
// underscores ignored, Meta keys kept exactly) and encoding replies (PascalCase keys).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/command.h"
#include "core/model.h"
#include "core/status.h"

namespace concierge::http {

// The agent's own node, as replies show it.
struct NodeInfo {
  std::string id;
  std::string name;
  std::string address;
  std::string datacenter;
};

// PUT /v1/agent/service/register. `ID` defaults to `Name`; check IDs default to
// "service:<ID>" (one Check) or "service:<ID>:<n>" (Checks). Errors name the field.
Result<core::RegisterService> DecodeServiceRegistration(std::string_view body);

// What a decoded registration may hold on this agent, beyond its own validity: script checks
// only with -enable-script-checks (Consul's 400 otherwise), and an alias check's AliasNode
// only naming this node (the registry is one node).
Status CheckAgentPolicy(const core::RegisterService& registration, bool enable_script_checks,
                        std::string_view node_name);

// PUT /v1/agent/check/update/:id: {"Status": "passing", "Output": "..."}.
struct CheckUpdate {
  core::HealthStatus status;
  std::string output;
};
Result<CheckUpdate> DecodeCheckUpdate(std::string_view body);

using InstancePtr = std::shared_ptr<const core::Instance>;

// {"<ID>": AgentService, ...} for /v1/agent/services.
std::string EncodeAgentServices(const std::vector<InstancePtr>& instances, const NodeInfo& node);
// One AgentService, for /v1/agent/service/:id.
std::string EncodeAgentService(const core::Instance& instance, const NodeInfo& node);
// {"<CheckID>": HealthCheck, ...} for /v1/agent/checks.
std::string EncodeAgentChecks(const std::vector<InstancePtr>& instances, const NodeInfo& node);
// [{Node, Service, Checks}] for /v1/health/service/:name.
std::string EncodeHealthService(const std::vector<InstancePtr>& instances, const NodeInfo& node);
// {"Index", "Resync", "Changed": [as /v1/health/service], "Removed": [IDs]} for
// /v1/concierge/delta/service/:name (docs/consul-compat.md, "Concierge's own endpoints").
std::string EncodeServiceDelta(core::Index index, bool resync,
                               const std::vector<InstancePtr>& changed,
                               const std::vector<core::Text>& removed, const NodeInfo& node);
// [HealthCheck] for /v1/health/checks/:name and /v1/health/state/:state.
std::string EncodeHealthChecks(const std::vector<const core::Check*>& checks,
                               const std::vector<const core::Instance*>& owners,
                               const NodeInfo& node);
// [CatalogService] for /v1/catalog/service/:name.
std::string EncodeCatalogService(const std::vector<InstancePtr>& instances, const NodeInfo& node);
// {"name": [tags]} for /v1/catalog/services.
std::string EncodeCatalogServices(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& services);
// {"Node": Node, "Services": {"<ID>": AgentService}} for /v1/catalog/node/:node.
std::string EncodeCatalogNode(const std::vector<InstancePtr>& instances, const NodeInfo& node);
// [Node] for /v1/catalog/nodes.
std::string EncodeCatalogNodes(const NodeInfo& node);
// A JSON string literal.
std::string EncodeString(std::string_view s);

}  // namespace concierge::http
