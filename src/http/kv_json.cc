#include "http/kv_json.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>
#include <limits>

#include "core/time.h"
#include "http/json_parse.h"
#include "tls/base64.h"

namespace concierge::http {

namespace {

using rapidjson::Value;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Key(Writer& w, std::string_view key) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
}
void String(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

Status Wrong(std::string_view field, std::string_view expected) {
  return Status::InvalidArgument(std::string(field) + ": expected " + std::string(expected));
}

Status GetString(const Value& obj, std::string_view name, std::string_view where,
                 std::string* out) {
  const Value* v = Member(obj, name);
  if (v == nullptr) return Status::Ok();
  if (!v->IsString()) return Wrong(std::string(where) + std::string(name), "a string");
  out->assign(Str(*v));
  return Status::Ok();
}

Status GetUint(const Value& obj, std::string_view name, std::string_view where,
               std::uint64_t* out) {
  const Value* v = Member(obj, name);
  if (v == nullptr) return Status::Ok();
  if (!v->IsUint64())
    return Wrong(std::string(where) + std::string(name), "a non-negative integer");
  *out = v->GetUint64();
  return Status::Ok();
}

// A list of check IDs: strings, or (ServiceChecks) objects with an "ID".
Status GetChecks(const Value& obj, std::string_view name, std::vector<std::string>* out) {
  const Value* v = Member(obj, name);
  if (v == nullptr) return Status::Ok();
  if (!v->IsArray()) return Wrong(name, "an array of check IDs");
  for (const Value& c : v->GetArray()) {
    if (c.IsString()) {
      out->emplace_back(Str(c));
      continue;
    }
    const Value* id = c.IsObject() ? Member(c, "ID") : nullptr;
    if (id == nullptr || !id->IsString()) {
      return Wrong(name, "check IDs, or objects {\"ID\": \"...\"}");
    }
    out->emplace_back(Str(*id));
  }
  return Status::Ok();
}

Result<core::Duration> GetDuration(const Value& obj, std::string_view name) {
  const Value* v = Member(obj, name);
  if (v == nullptr) return core::Duration(-1);  // not given
  if (v->IsString()) {
    auto d = core::ParseDuration(Str(*v));
    if (!d.ok()) return Status::InvalidArgument(std::string(name) + ": " + d.status().message());
    return *d;
  }
  if (v->IsUint64()) {
    // Consul: a number below 1000 is seconds, from there on nanoseconds.
    std::uint64_t n = v->GetUint64();
    if (n < 1000) return core::Duration(std::chrono::seconds(n));
    if (n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return Status::InvalidArgument(std::string(name) + ": too large");
    }
    return core::Duration(static_cast<std::int64_t>(n));
  }
  return Wrong(name, "a duration such as \"15s\"");
}

void WriteEntry(Writer& w, const core::KvEntry& e, bool value) {
  w.StartObject();
  Key(w, "LockIndex");
  w.Uint64(e.lock_index);
  Key(w, "Key");
  String(w, e.key);
  Key(w, "Flags");
  w.Uint64(e.flags);
  Key(w, "Value");
  if (value && !e.value.empty()) {
    String(w, tls::Base64Encode(e.value));
  } else {
    w.Null();
  }
  if (!e.session.empty()) {
    Key(w, "Session");
    String(w, e.session);
  }
  Key(w, "CreateIndex");
  w.Uint64(e.create_index);
  Key(w, "ModifyIndex");
  w.Uint64(e.modify_index);
  w.EndObject();
}

}  // namespace

std::string EncodeKvEntries(const std::vector<const core::KvEntry*>& entries, bool values) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartArray();
  for (const core::KvEntry* e : entries) WriteEntry(w, *e, values);
  w.EndArray();
  return {buf.GetString(), buf.GetSize()};
}

std::string EncodeKeys(const std::vector<std::string>& keys) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartArray();
  for (const std::string& k : keys) String(w, k);
  w.EndArray();
  return {buf.GetString(), buf.GetSize()};
}

std::string EncodeSessions(const std::vector<const core::Session*>& sessions) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartArray();
  for (const core::Session* s : sessions) {
    w.StartObject();
    Key(w, "ID");
    String(w, s->id);
    Key(w, "Name");
    String(w, s->name);
    Key(w, "Node");
    String(w, s->node);
    Key(w, "LockDelay");
    w.Int64(s->lock_delay.count());
    Key(w, "Behavior");
    String(w, core::ToString(s->behavior));
    Key(w, "TTL");
    String(w, s->ttl == core::Duration::zero() ? "" : core::FormatDuration(s->ttl));
    // Consul before 1.7 had one list; its clients still read it.
    Key(w, "Checks");
    w.StartArray();
    for (const auto* list : {&s->node_checks, &s->service_checks}) {
      for (const std::string& c : *list) String(w, c);
    }
    w.EndArray();
    Key(w, "NodeChecks");
    w.StartArray();
    for (const std::string& c : s->node_checks) String(w, c);
    w.EndArray();
    Key(w, "ServiceChecks");
    if (s->service_checks.empty()) {
      w.Null();
    } else {
      w.StartArray();
      for (const std::string& c : s->service_checks) {
        w.StartObject();
        Key(w, "ID");
        String(w, c);
        Key(w, "Namespace");
        String(w, "");
        w.EndObject();
      }
      w.EndArray();
    }
    Key(w, "CreateIndex");
    w.Uint64(s->create_index);
    Key(w, "ModifyIndex");
    w.Uint64(s->modify_index);
    w.EndObject();
  }
  w.EndArray();
  return {buf.GetString(), buf.GetSize()};
}

Result<core::Session> DecodeSessionCreate(std::string_view body, std::string_view node) {
  core::Session s;
  s.node = std::string(node);
  s.node_checks = {std::string(core::kSerfHealthCheck)};
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return s;  // all defaults
  auto doc = ParseJson(body, "request body");
  if (!doc.ok()) return doc.status();
  if (!doc->IsObject()) return Status::InvalidArgument("request body: expected a JSON object");
  const Value& obj = *doc;
  if (auto st = GetString(obj, "Name", "", &s.name); !st.ok()) return st;
  if (auto st = GetString(obj, "Node", "", &s.node); !st.ok()) return st;
  if (s.node.empty()) s.node = std::string(node);
  std::string behavior;
  if (auto st = GetString(obj, "Behavior", "", &behavior); !st.ok()) return st;
  if (behavior == "delete") {
    s.behavior = core::SessionBehavior::kDelete;
  } else if (!behavior.empty() && behavior != "release") {
    return Status::InvalidArgument("Behavior: expected \"release\" or \"delete\", got \"" +
                                   behavior + "\"");
  }
  auto ttl = GetDuration(obj, "TTL");
  if (!ttl.ok()) return ttl.status();
  if (*ttl >= core::Duration::zero()) s.ttl = *ttl;
  auto delay = GetDuration(obj, "LockDelay");
  if (!delay.ok()) return delay.status();
  if (*delay >= core::Duration::zero()) s.lock_delay = *delay;
  // Checks (Consul before 1.7) and NodeChecks are node checks; with none of the three
  // given, serfHealth; given empty, none.
  std::vector<std::string> node_checks;
  std::vector<std::string> service_checks;
  if (auto st = GetChecks(obj, "Checks", &node_checks); !st.ok()) return st;
  if (auto st = GetChecks(obj, "NodeChecks", &node_checks); !st.ok()) return st;
  if (auto st = GetChecks(obj, "ServiceChecks", &service_checks); !st.ok()) return st;
  if (Member(obj, "Checks") || Member(obj, "NodeChecks") || Member(obj, "ServiceChecks")) {
    s.node_checks = std::move(node_checks);
    s.service_checks = std::move(service_checks);
  }
  return s;
}

Result<std::vector<core::KvOp>> DecodeTxn(std::string_view body) {
  auto doc = ParseJson(body, "request body");
  if (!doc.ok()) return doc.status();
  if (!doc->IsArray())
    return Status::InvalidArgument("request body: expected an array of operations");
  std::vector<core::KvOp> ops;
  for (rapidjson::SizeType i = 0; i < doc->Size(); ++i) {
    const Value& item = (*doc)[i];
    const std::string where = "op " + std::to_string(i) + ": ";
    if (!item.IsObject()) return Status::InvalidArgument(where + "expected an object");
    const Value* kv = Member(item, "KV");
    if (kv == nullptr) {
      return Status::InvalidArgument(where +
                                     "only KV operations are supported (Node, Service "
                                     "and Check operations are not)");
    }
    if (!kv->IsObject()) return Wrong(where + "KV", "an object");
    core::KvOp op;
    std::string verb;
    if (auto st = GetString(*kv, "Verb", where, &verb); !st.ok()) return st;
    auto parsed = core::ParseKvVerb(verb);
    if (!parsed) return Status::InvalidArgument(where + "unknown KV verb \"" + verb + "\"");
    op.verb = *parsed;
    std::string value;
    if (auto st = GetString(*kv, "Key", where, &op.key); !st.ok()) return st;
    if (auto st = GetString(*kv, "Value", where, &value); !st.ok()) return st;
    if (auto st = GetUint(*kv, "Flags", where, &op.flags); !st.ok()) return st;
    if (auto st = GetUint(*kv, "Index", where, &op.index); !st.ok()) return st;
    if (auto st = GetString(*kv, "Session", where, &op.session); !st.ok()) return st;
    auto bytes = tls::Base64Decode(value);
    if (!bytes) return Status::InvalidArgument(where + "Value: expected base64");
    op.value = std::move(*bytes);
    ops.push_back(std::move(op));
  }
  return ops;
}

std::string EncodeTxnResults(const std::vector<core::KvOp>& ops,
                             const std::vector<std::vector<const core::KvEntry*>>& results) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  Key(w, "Results");
  w.StartArray();
  for (std::size_t i = 0; i < ops.size() && i < results.size(); ++i) {
    const bool read =
        ops[i].verb == core::KvOp::Verb::kGet || ops[i].verb == core::KvOp::Verb::kGetTree;
    for (const core::KvEntry* e : results[i]) {
      w.StartObject();
      Key(w, "KV");
      WriteEntry(w, *e, read);
      w.EndObject();
    }
  }
  w.EndArray();
  Key(w, "Errors");
  w.Null();
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

std::string EncodeTxnErrors(const std::vector<core::KvFailure>& errors) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  Key(w, "Results");
  w.Null();
  Key(w, "Errors");
  w.StartArray();
  for (const core::KvFailure& f : errors) {
    w.StartObject();
    Key(w, "OpIndex");
    w.Uint64(f.op);
    Key(w, "What");
    String(w, f.what);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

}  // namespace concierge::http
