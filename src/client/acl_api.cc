#include "client/acl_api.h"

#include "client/json.h"
#include "client/wire.h"

namespace concierge::client {
namespace {

std::optional<std::string> OptionalString(const Json& object, const char* key) {
  if (!GetMember(object, key).IsString()) return std::nullopt;
  return GetString(object, key);
}

AclToken ReadToken(const Json& t) {
  AclToken token{GetString(t, "AccessorID"),
                 OptionalString(t, "SecretID"),
                 GetString(t, "Description"),
                 GetString(t, "CreateTime"),
                 {}};
  const Json& policies = GetMember(t, "Policies");
  if (policies.IsArray()) {
    for (const Json& p : policies.GetArray()) {
      token.policies.push_back({GetString(p, "ID"), GetString(p, "Name")});
    }
  }
  return token;
}

AclPolicy ReadPolicy(const Json& p) {
  return {GetString(p, "ID"), GetString(p, "Name"), GetString(p, "Description"),
          OptionalString(p, "Rules")};
}

// The JSON answer of one call.
Result<rapidjson::Document> CallJson(HttpClient& http, std::string_view method,
                                     std::string_view target, std::string_view body = {}) {
  Result<Response> r = Call(http, method, target, body);
  if (!r.ok()) return r.status();
  Result<rapidjson::Document> doc = ParseJson(r->body);
  if (!doc.ok()) return Status::Internal("the agent's answer is not JSON");
  return doc;
}

template <typename T>
Result<T> CallOne(HttpClient& http, std::string_view method, std::string_view target,
                  std::string_view body, T (*read)(const Json&)) {
  Result<rapidjson::Document> doc = CallJson(http, method, target, body);
  if (!doc.ok()) return doc.status();
  return read(*doc);
}

template <typename T>
Result<std::vector<T>> CallList(HttpClient& http, std::string_view target, T (*read)(const Json&)) {
  Result<rapidjson::Document> doc = CallJson(http, "GET", target);
  if (!doc.ok()) return doc.status();
  if (!doc->IsArray()) return Status::Internal("the agent's answer is not a JSON array");
  std::vector<T> list;
  for (const Json& item : doc->GetArray()) list.push_back(read(item));
  return list;
}

Status Delete(HttpClient& http, const std::string& target) {
  Result<Response> r = Call(http, "DELETE", target);
  return r.ok() ? Status::Ok() : r.status();
}

}  // namespace

Result<AclToken> AclBootstrap(HttpClient& http) {
  return CallOne(http, "PUT", "/v1/acl/bootstrap", {}, ReadToken);
}

Result<AclPolicy> AclCreatePolicy(HttpClient& http, std::string_view name,
                                  std::string_view description, std::string_view rules) {
  rapidjson::StringBuffer body;
  JsonWriter w(body);
  w.StartObject();
  WriteField(w, "Name", name);
  WriteField(w, "Description", description);
  WriteField(w, "Rules", rules);
  w.EndObject();
  return CallOne(http, "PUT", "/v1/acl/policy", {body.GetString(), body.GetSize()}, ReadPolicy);
}

Result<std::vector<AclPolicy>> AclPolicies(HttpClient& http) {
  return CallList(http, "/v1/acl/policies", ReadPolicy);
}

Status AclDeletePolicy(HttpClient& http, std::string_view id) {
  return Delete(http, "/v1/acl/policy/" + Encode(id, true));
}

Result<AclToken> AclCreateToken(HttpClient& http, std::string_view description,
                                const std::vector<std::string>& policy_names,
                                const std::vector<std::string>& policy_ids) {
  rapidjson::StringBuffer body;
  JsonWriter w(body);
  w.StartObject();
  WriteField(w, "Description", description);
  w.Key("Policies");
  w.StartArray();
  for (const std::string& name : policy_names) {
    w.StartObject();
    WriteField(w, "Name", name);
    w.EndObject();
  }
  for (const std::string& id : policy_ids) {
    w.StartObject();
    WriteField(w, "ID", id);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return CallOne(http, "PUT", "/v1/acl/token", {body.GetString(), body.GetSize()}, ReadToken);
}

Result<std::vector<AclToken>> AclTokens(HttpClient& http) {
  return CallList(http, "/v1/acl/tokens", ReadToken);
}

Result<AclToken> AclReadToken(HttpClient& http, std::string_view accessor_id) {
  std::string id = accessor_id.empty() ? "self" : Encode(accessor_id, true);
  return CallOne(http, "GET", "/v1/acl/token/" + id, {}, ReadToken);
}

Status AclDeleteToken(HttpClient& http, std::string_view accessor_id) {
  return Delete(http, "/v1/acl/token/" + Encode(accessor_id, true));
}

}  // namespace concierge::client
