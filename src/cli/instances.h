// Service instances as the agent's JSON answers describe them, read into one flat shape
// that the `services list`, `health` and `watch` commands print.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace concierge::cli {

struct Instance {
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
Result<std::vector<Instance>> ParseHealthService(std::string_view body);

// GET /v1/agent/services: {"<id>": {"ID":..,"Service":..,"Address":..,"Port":..}}. Status
// and output stay empty. Sorted by ID.
Result<std::vector<Instance>> ParseAgentServices(std::string_view body);

}  // namespace concierge::cli
