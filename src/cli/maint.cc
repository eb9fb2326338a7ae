#include "cli/maint.h"

#include <iostream>

#include "cli/answer.h"
#include "client/json.h"
#include "client/wire.h"

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

int RunMaint(client::HttpClient& client, const MaintArgs& args) {
  if (!args.enable && !args.disable) {
    Result<client::Response> r = client.Send("GET", "/v1/agent/checks");
    if (!r.ok()) {
      std::cerr << "Error: " << r.status().message() << "\n";
      return 1;
    }
    if (r->status != 200) return Refused(*r);
    Result<rapidjson::Document> doc = client::ParseJson(r->body);
    if (!doc.ok() || !doc->IsObject()) {
      std::cerr << "Error: the agent's /v1/agent/checks is not a JSON object\n";
      return 1;
    }
    for (const auto& [name, check] : doc->GetObject()) {
      std::string_view id = name.GetString();
      if (!client::GetMember(check, "Notes").IsString()) continue;
      std::string notes = client::GetString(check, "Notes");
      if (id == "_node_maintenance") {
        std::cout << "Node:\n  Reason: " << notes << "\n";
      } else if (id.starts_with("_service_maintenance:")) {
        std::cout << "Service:\n  ID: "
                  << id.substr(std::string_view("_service_maintenance:").size())
                  << "\n  Reason: " << notes << "\n";
      }
    }
    return 0;
  }
  std::string target = args.service.empty()
                           ? "/v1/agent/maintenance"
                           : "/v1/agent/service/maintenance/" + client::Encode(args.service);
  target += std::string("?enable=") + (args.enable ? "true" : "false");
  if (!args.reason.empty()) target += "&reason=" + client::Encode(args.reason);
  Result<client::Response> r = client.Send("PUT", target);
  if (!r.ok()) {
    std::cerr << "Error: " << r.status().message() << "\n";
    return 1;
  }
  if (r->status != 200) return Refused(*r);
  std::string what = args.service.empty() ? "node" : "service " + args.service;
  std::cout << (args.enable ? "Maintenance mode enabled for " : "Maintenance mode disabled for ")
            << what << "\n";
  return 0;
}

}  // namespace concierge::cli
