#include "client/kv_api.h"

#include "client/json.h"
#include "client/wire.h"
#include "tls/base64.h"

namespace concierge::client {
namespace {

std::string KeyTarget(std::string_view key) { return "/v1/kv/" + Encode(key, true); }

Result<rapidjson::Document> ParseArray(std::string_view body) {
  Result<rapidjson::Document> doc = ParseJson(body);
  if (!doc.ok() || !doc->IsArray()) {
    return Status::Internal("the agent's answer is not a JSON array");
  }
  return doc;
}

KvEntry ReadEntry(const Json& item) {
  KvEntry e;
  e.key = GetString(item, "Key");
  e.value = tls::Base64Decode(GetString(item, "Value")).value_or("");
  e.flags = GetUint64(item, "Flags");
  e.create_index = GetUint64(item, "CreateIndex");
  e.modify_index = GetUint64(item, "ModifyIndex");
  e.lock_index = GetUint64(item, "LockIndex");
  e.session = GetString(item, "Session");
  return e;
}

// A write whose answer is true or false.
Result<bool> Write(HttpClient& http, std::string_view method, std::string_view target,
                   std::string_view body) {
  Result<Response> r = Call(http, method, target, body);
  if (!r.ok()) return r.status();
  return r->body.starts_with("true");
}

}  // namespace

Result<KvRead> KvGet(HttpClient& http, std::string_view key, const KvQuery& query) {
  std::string target = KeyTarget(key);
  char separator = '?';
  if (query.recurse) {
    target += "?recurse";
    separator = '&';
  }
  std::optional<std::chrono::milliseconds> timeout;
  if (query.index > 0) {
    target += separator + ("index=" + std::to_string(query.index)) +
              "&wait=" + std::to_string(query.wait.count()) + "ms";
    timeout = query.wait + std::chrono::seconds(5);
  }
  // A 404 (no such key) carries the index to wait on too.
  Result<Response> r = http.Send("GET", target, {}, timeout);
  if (!r.ok()) return r.status();
  KvRead read{{}, ParseIndex(r->Header("X-Consul-Index")).value_or(0)};
  if (r->status == 404) return read;
  if (r->status != 200) return FailureOf(*r);
  Result<rapidjson::Document> doc = ParseArray(r->body);
  if (!doc.ok()) return doc.status();
  for (const Json& item : doc->GetArray()) {
    if (item.IsObject()) read.entries.push_back(ReadEntry(item));
  }
  return read;
}

Result<std::vector<std::string>> KvKeys(HttpClient& http, std::string_view prefix,
                                        std::string_view separator) {
  Result<Response> r =
      Call(http, "GET", KeyTarget(prefix) + "?keys&separator=" + Encode(separator));
  if (!r.ok()) {
    if (r.status().code() == Status::Code::kNotFound) return std::vector<std::string>{};
    return r.status();
  }
  Result<rapidjson::Document> doc = ParseArray(r->body);
  if (!doc.ok()) return doc.status();
  std::vector<std::string> keys;
  for (const Json& item : doc->GetArray()) {
    if (item.IsString()) keys.emplace_back(item.GetString(), item.GetStringLength());
  }
  return keys;
}

Result<bool> KvPut(HttpClient& http, std::string_view key, std::string_view value,
                   const KvWrite& write) {
  std::string target = KeyTarget(key) + "?flags=" + std::to_string(write.flags);
  if (write.cas) target += "&cas=" + std::to_string(*write.cas);
  if (!write.acquire.empty()) target += "&acquire=" + Encode(write.acquire);
  if (!write.release.empty()) target += "&release=" + Encode(write.release);
  return Write(http, "PUT", target, value);
}

Result<bool> KvDelete(HttpClient& http, std::string_view key, bool recurse,
                      std::optional<std::uint64_t> cas) {
  std::string target = KeyTarget(key);
  if (recurse) {
    target += "?recurse";
  } else if (cas) {
    target += "?cas=" + std::to_string(*cas);
  }
  return Write(http, "DELETE", target, {});
}

Result<std::string> CreateSession(HttpClient& http, const SessionOptions& options) {
  rapidjson::StringBuffer body;
  JsonWriter w(body);
  w.StartObject();
  WriteField(w, "Name", options.name);
  WriteField(w, "TTL", options.ttl);
  WriteField(w, "LockDelay", options.lock_delay);
  WriteField(w, "Behavior", "release");
  w.EndObject();
  Result<Response> r = Call(http, "PUT", "/v1/session/create", {body.GetString(), body.GetSize()});
  if (!r.ok()) return r.status();
  Result<rapidjson::Document> doc = ParseJson(r->body);
  if (!doc.ok() || !GetMember(*doc, "ID").IsString()) {
    return Status::Internal("the agent's answer to PUT /v1/session/create has no ID");
  }
  return GetString(*doc, "ID");
}

Status RenewSession(HttpClient& http, std::string_view id) {
  Result<Response> r = Call(http, "PUT", "/v1/session/renew/" + Encode(id, true));
  return r.ok() ? Status::Ok() : r.status();
}

Status DestroySession(HttpClient& http, std::string_view id) {
  Result<Response> r = Call(http, "PUT", "/v1/session/destroy/" + Encode(id, true));
  return r.ok() ? Status::Ok() : r.status();
}

}  // namespace concierge::client
