// `concierge acl`: bootstrap, policies and tokens, as Consul's `consul acl` (docs/acl.md).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "client/http_client.h"

namespace concierge::cli {

struct AclArgs {
  std::string name;
  std::string description;
  std::string rules;  // JSON, or @file
  std::vector<std::string> policy_names;
  std::vector<std::string> policy_ids;
  std::string id;
  CLI::App* bootstrap = nullptr;
  CLI::App* policy_create = nullptr;
  CLI::App* policy_list = nullptr;
  CLI::App* policy_delete = nullptr;
  CLI::App* token_create = nullptr;
  CLI::App* token_list = nullptr;
  CLI::App* token_read = nullptr;
  CLI::App* token_delete = nullptr;
};

// Adds `acl` and its subcommands to `app`; `each` is called on every leaf command (for the
// flags all commands share: -http-addr, -token).
CLI::App* AddAclCommand(CLI::App& app, AclArgs* args, const std::function<void(CLI::App*)>& each);
// Runs the parsed subcommand. 0 on success, 1 when the agent refuses, 2 on bad usage.
int RunAcl(client::HttpClient& client, const AclArgs& args);

}  // namespace concierge::cli
