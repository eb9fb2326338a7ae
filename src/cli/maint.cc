#include "cli/maint.h"

#include <iostream>

#include "client/agent_api.h"

namespace concierge::cli {

CLI::App* AddMaintCommand(CLI::App& app, MaintArgs* args) {
  CLI::App* cmd = app.add_subcommand(
      "maint", "Put a service instance (-service) or the whole node into maintenance mode");
  cmd->add_option("--service", args->service, "Instance ID (default: the whole node)");
  auto* enable = cmd->add_flag("--enable", args->enable, "Enable maintenance mode");
  auto* disable = cmd->add_flag("--disable", args->disable, "Disable maintenance mode");
  enable->excludes(disable);
  cmd->add_option("--reason", args->reason, "Why (shown as the maintenance check's notes)");
  return cmd;
}

int RunMaint(client::HttpClient& http, const MaintArgs& args) {
  if (!args.enable && !args.disable) {
    Result<std::vector<client::Maintenance>> list = client::MaintenanceList(http);
    if (!list.ok()) {
      std::cerr << "Error: " << list.status().message() << "\n";
      return 1;
    }
    for (const client::Maintenance& m : *list) {
      if (m.service_id.empty()) {
        std::cout << "Node:\n  Reason: " << m.reason << "\n";
      } else {
        std::cout << "Service:\n  ID: " << m.service_id << "\n  Reason: " << m.reason << "\n";
      }
    }
    return 0;
  }
  Status set = client::SetMaintenance(http, args.service, args.enable, args.reason);
  if (!set.ok()) {
    std::cerr << "Error: " << set.message() << "\n";
    return 1;
  }
  std::string what = args.service.empty() ? "node" : "service " + args.service;
  std::cout << (args.enable ? "Maintenance mode enabled for " : "Maintenance mode disabled for ")
            << what << "\n";
  return 0;
}

}  // namespace concierge::cli
