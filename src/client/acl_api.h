// The agent's ACL endpoints (docs/acl.md), as `concierge acl` calls them; failures as in
// agent_api.h, and Internal "the agent's answer is not JSON" for an unreadable answer.
// Internal.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/agent_api.h"

namespace concierge::client {

struct AclPolicyLink {
  std::string id;
  std::string name;
};

struct AclToken {
  std::string accessor_id;
  std::optional<std::string> secret_id;  // only when the agent shows it
  std::string description;
  std::string create_time;
  std::vector<AclPolicyLink> policies;
};

struct AclPolicy {
  std::string id;
  std::string name;
  std::string description;
  std::optional<std::string> rules;  // not in lists
};

// The first management token (once per cluster).
Result<AclToken> AclBootstrap(HttpClient& http);
// `rules` in Consul's JSON form.
Result<AclPolicy> AclCreatePolicy(HttpClient& http, std::string_view name,
                                  std::string_view description, std::string_view rules);
Result<std::vector<AclPolicy>> AclPolicies(HttpClient& http);
Status AclDeletePolicy(HttpClient& http, std::string_view id);
// Linked to policies by name and by ID.
Result<AclToken> AclCreateToken(HttpClient& http, std::string_view description,
                                const std::vector<std::string>& policy_names,
                                const std::vector<std::string>& policy_ids);
Result<std::vector<AclToken>> AclTokens(HttpClient& http);
// Empty `accessor_id`: the token in use (self).
Result<AclToken> AclReadToken(HttpClient& http, std::string_view accessor_id);
Status AclDeleteToken(HttpClient& http, std::string_view accessor_id);

}  // namespace concierge::client
