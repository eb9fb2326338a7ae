// `concierge maint`: maintenance mode of one service instance or of the whole node, as
// Consul's `consul maint` (PUT /v1/agent/service/maintenance/:id, PUT /v1/agent/maintenance).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "client/http_client.h"

namespace concierge::cli {

struct MaintArgs {
  std::string service;  // empty: the node
  bool enable = false;
  bool disable = false;
  std::string reason;
};

// Adds the subcommand and its flags to `app`.
CLI::App* AddMaintCommand(CLI::App& app, MaintArgs* args);
// Enables or disables maintenance, or with neither flag lists what is in maintenance.
int RunMaint(client::HttpClient& client, const MaintArgs& args);

}  // namespace concierge::cli
