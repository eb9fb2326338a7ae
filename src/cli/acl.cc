#include "cli/acl.h"

#include <fstream>
#include <iostream>
#include <sstream>
#include <utility>

#include "client/acl_api.h"

namespace concierge::cli {

namespace {

// Consul's layout of `consul acl token read`.
void PrintToken(const client::AclToken& t) {
  std::cout << "AccessorID:       " << t.accessor_id << "\n";
  if (t.secret_id) std::cout << "SecretID:         " << *t.secret_id << "\n";
  std::cout << "Description:      " << t.description << "\n"
            << "Local:            false\n"
            << "Create Time:      " << t.create_time << "\n"
            << "Policies:\n";
  for (const client::AclPolicyLink& p : t.policies) {
    std::cout << "   " << p.id << " - " << p.name << "\n";
  }
}

void PrintPolicy(const client::AclPolicy& p) {
  std::cout << "ID:           " << p.id << "\n"
            << "Name:         " << p.name << "\n"
            << "Description:  " << p.description << "\n";
  if (p.rules) std::cout << "Rules:\n" << *p.rules << "\n";
}

int Fail(const Status& status) {
  std::cerr << "Error: " << status.message() << "\n";
  return 1;
}

// Prints what a call answered, or its failure.
template <typename T>
int Print(const Result<T>& answer, void (*print)(const T&)) {
  if (!answer.ok()) return Fail(answer.status());
  print(*answer);
  return 0;
}

template <typename T>
int PrintList(const Result<std::vector<T>>& list, void (*print)(const T&)) {
  if (!list.ok()) return Fail(list.status());
  bool first = true;
  for (const T& item : *list) {
    if (!std::exchange(first, false)) std::cout << "\n";
    print(item);
  }
  return 0;
}

}  // namespace

CLI::App* AddAclCommand(CLI::App& app, AclArgs* a, const std::function<void(CLI::App*)>& each) {
  CLI::App* acl = app.add_subcommand("acl", "ACL bootstrap, policies and tokens (docs/acl.md)");
  acl->require_subcommand(1);
  a->bootstrap = acl->add_subcommand(
      "bootstrap", "Create the first management token and print it (once per cluster)");
  each(a->bootstrap);

  CLI::App* policy = acl->add_subcommand("policy", "Create, list and delete policies");
  policy->require_subcommand(1);
  a->policy_create = policy->add_subcommand("create", "Create a policy");
  a->policy_create->add_option("--name", a->name, "Policy name")->required();
  a->policy_create->add_option("--description", a->description, "Description");
  a->policy_create->add_option(
      "--rules", a->rules,
      "Rules in Consul's JSON form, or @file, e.g. {\"service_prefix\": {\"web\": {\"policy\": "
      "\"write\"}}}");
  a->policy_list = policy->add_subcommand("list", "List policies");
  a->policy_delete = policy->add_subcommand("delete", "Delete a policy");
  a->policy_delete->add_option("--id", a->id, "Policy ID")->required();

  CLI::App* token = acl->add_subcommand("token", "Create, list, read and delete tokens");
  token->require_subcommand(1);
  a->token_create = token->add_subcommand("create", "Create a token; prints its SecretID once");
  a->token_create
      ->add_option("--policy-name", a->policy_names, "Link a policy by name (repeatable)")
      ->allow_extra_args(false);
  a->token_create->add_option("--policy-id", a->policy_ids, "Link a policy by ID (repeatable)")
      ->allow_extra_args(false);
  a->token_create->add_option("--description", a->description, "Description");
  a->token_list = token->add_subcommand("list", "List tokens (secrets are never shown)");
  a->token_read = token->add_subcommand("read", "Show a token (--self: the one in use)");
  a->token_read->add_option("--id", a->id, "AccessorID (default: --self)");
  a->token_delete = token->add_subcommand("delete", "Delete a token");
  a->token_delete->add_option("--id", a->id, "AccessorID")->required();
  for (CLI::App* leaf : {a->policy_create, a->policy_list, a->policy_delete, a->token_create,
                         a->token_list, a->token_read, a->token_delete}) {
    each(leaf);
  }
  return acl;
}

int RunAcl(client::HttpClient& http, const AclArgs& a) {
  if (a.bootstrap->parsed()) return Print(client::AclBootstrap(http), PrintToken);
  if (a.policy_create->parsed()) {
    std::string rules = a.rules;
    if (rules.starts_with("@")) {
      std::ifstream in(rules.substr(1));
      std::stringstream text;
      text << in.rdbuf();
      if (!in) {
        std::cerr << "Error: cannot read " << rules.substr(1) << "\n";
        return 1;
      }
      rules = text.str();
    }
    return Print(client::AclCreatePolicy(http, a.name, a.description, rules), PrintPolicy);
  }
  if (a.policy_list->parsed()) return PrintList(client::AclPolicies(http), PrintPolicy);
  if (a.token_list->parsed()) return PrintList(client::AclTokens(http), PrintToken);
  if (a.token_create->parsed()) {
    return Print(client::AclCreateToken(http, a.description, a.policy_names, a.policy_ids),
                 PrintToken);
  }
  if (a.token_read->parsed()) return Print(client::AclReadToken(http, a.id), PrintToken);
  if (a.policy_delete->parsed() || a.token_delete->parsed()) {
    const bool policy = a.policy_delete->parsed();
    Status deleted =
        policy ? client::AclDeletePolicy(http, a.id) : client::AclDeleteToken(http, a.id);
    if (!deleted.ok()) return Fail(deleted);
    std::cout << (policy ? "Policy \"" : "Token \"") << a.id << "\" deleted successfully\n";
    return 0;
  }
  return 2;
}

}  // namespace concierge::cli
