#include "cli/acl.h"

#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/answer.h"
#include "client/json.h"

namespace concierge::cli {

namespace {

using Writer = client::JsonWriter;
using client::GetString;
using client::WriteField;

// Consul's layout of `consul acl token read`.
void PrintToken(const rapidjson::Value& t) {
  std::cout << "AccessorID:       " << GetString(t, "AccessorID") << "\n";
  if (t.HasMember("SecretID"))
    std::cout << "SecretID:         " << GetString(t, "SecretID") << "\n";
  std::cout << "Description:      " << GetString(t, "Description") << "\n"
            << "Local:            false\n"
            << "Create Time:      " << GetString(t, "CreateTime") << "\n"
            << "Policies:\n";
  if (t.HasMember("Policies") && t["Policies"].IsArray()) {
    for (const auto& p : t["Policies"].GetArray()) {
      std::cout << "   " << GetString(p, "ID") << " - " << GetString(p, "Name") << "\n";
    }
  }
}

void PrintPolicy(const rapidjson::Value& p) {
  std::cout << "ID:           " << GetString(p, "ID") << "\n"
            << "Name:         " << GetString(p, "Name") << "\n"
            << "Description:  " << GetString(p, "Description") << "\n";
  if (p.HasMember("Rules")) std::cout << "Rules:\n" << GetString(p, "Rules") << "\n";
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

int RunAcl(client::HttpClient& client, const AclArgs& a) {
  int rc = 0;
  if (a.bootstrap->parsed()) {
    auto t = Call(client, "PUT", "/v1/acl/bootstrap", "", &rc);
    if (!t) return rc;
    PrintToken(*t);
    return 0;
  }
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
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    WriteField(w, "Name", a.name);
    WriteField(w, "Description", a.description);
    WriteField(w, "Rules", rules);
    w.EndObject();
    auto p = Call(client, "PUT", "/v1/acl/policy", {buf.GetString(), buf.GetSize()}, &rc);
    if (!p) return rc;
    PrintPolicy(*p);
    return 0;
  }
  if (a.policy_list->parsed() || a.token_list->parsed()) {
    const bool policies = a.policy_list->parsed();
    auto list = Call(client, "GET", policies ? "/v1/acl/policies" : "/v1/acl/tokens", "", &rc);
    if (!list) return rc;
    if (!list->IsArray()) return 1;
    bool first = true;
    for (const auto& item : list->GetArray()) {
      if (!std::exchange(first, false)) std::cout << "\n";
      policies ? PrintPolicy(item) : PrintToken(item);
    }
    return 0;
  }
  if (a.token_create->parsed()) {
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    WriteField(w, "Description", a.description);
    w.Key("Policies");
    w.StartArray();
    for (const std::string& name : a.policy_names) {
      w.StartObject();
      WriteField(w, "Name", name);
      w.EndObject();
    }
    for (const std::string& id : a.policy_ids) {
      w.StartObject();
      WriteField(w, "ID", id);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    auto t = Call(client, "PUT", "/v1/acl/token", {buf.GetString(), buf.GetSize()}, &rc);
    if (!t) return rc;
    PrintToken(*t);
    return 0;
  }
  if (a.token_read->parsed()) {
    std::string target = "/v1/acl/token/" + (a.id.empty() ? std::string("self") : a.id);
    auto t = Call(client, "GET", target, "", &rc);
    if (!t) return rc;
    PrintToken(*t);
    return 0;
  }
  if (a.policy_delete->parsed() || a.token_delete->parsed()) {
    const bool policy = a.policy_delete->parsed();
    std::string target = std::string(policy ? "/v1/acl/policy/" : "/v1/acl/token/") + a.id;
    if (!Call(client, "DELETE", target, "", &rc)) return rc;
    std::cout << (policy ? "Policy \"" : "Token \"") << a.id << "\" deleted successfully\n";
    return 0;
  }
  return 2;
}

}  // namespace concierge::cli
