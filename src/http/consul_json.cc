#include "http/consul_json.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <unordered_set>

#include "core/json_string.h"
#include "http/message.h"

namespace concierge::http {

namespace {

using rapidjson::Value;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// "DeregisterCriticalServiceAfter", "deregister_critical_service_after" and
// "deregisterCriticalServiceAfter" all normalise to "deregistercriticalserviceafter".
char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string NormalKey(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for (char c : key) {
    if (c != '_' && c != '-') out.push_back(Lower(c));
  }
  return out;
}

// NormalKey(a) == NormalKey(b), without building either: a registration looks up some twenty
// fields among its keys, and building every key for every lookup was an eighth of an I/O
// thread's time under a registration load.
bool SameKey(std::string_view a, std::string_view b) {
  std::size_t i = 0;
  std::size_t j = 0;
  for (;;) {
    while (i < a.size() && (a[i] == '_' || a[i] == '-')) ++i;
    while (j < b.size() && (b[j] == '_' || b[j] == '-')) ++j;
    if (i == a.size() || j == b.size()) return i == a.size() && j == b.size();
    if (Lower(a[i++]) != Lower(b[j++])) return false;
  }
}

const Value* Field(const Value& object, std::string_view normal_name) {
  for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
    std::string_view key(it->name.GetString(), it->name.GetStringLength());
    if (SameKey(key, normal_name)) return it->value.IsNull() ? nullptr : &it->value;
  }
  return nullptr;
}

std::string TypeName(const Value& v) {
  if (v.IsString()) return "a string";
  if (v.IsNumber()) return "a number";
  if (v.IsBool()) return "a boolean";
  if (v.IsArray()) return "an array";
  if (v.IsObject()) return "an object";
  return "null";
}

Status WrongType(std::string_view field, std::string_view expected, const Value& got) {
  return Status::InvalidArgument(std::string(field) + ": expected " + std::string(expected) +
                                 ", got " + TypeName(got));
}

Status NotUtf8(std::string_view field) {
  return Status::InvalidArgument(std::string(field) + ": is not valid UTF-8");
}

// Two keys that name one field ("Name" and "name") are refused: which one counts would be a
// guess, and another parser might guess otherwise.
Status UniqueKeys(const Value& object, std::string_view where) {
  auto twice = [&](std::string_view key) {
    return Status::InvalidArgument(std::string(where) + std::string(key) +
                                   ": given twice (keys are case-insensitive, '_' and '-' "
                                   "are ignored)");
  };
  // Few keys (every registration): compare each pair. Many: a set, so that a body of
  // thousands of keys costs linear time.
  constexpr rapidjson::SizeType kPairwise = 32;
  if (object.MemberCount() <= kPairwise) {
    for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
      std::string_view key(it->name.GetString(), it->name.GetStringLength());
      for (auto earlier = object.MemberBegin(); earlier != it; ++earlier) {
        if (SameKey(key,
                    std::string_view(earlier->name.GetString(), earlier->name.GetStringLength()))) {
          return twice(key);
        }
      }
    }
    return Status::Ok();
  }
  std::unordered_set<std::string> seen;
  for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
    std::string_view key(it->name.GetString(), it->name.GetStringLength());
    if (!seen.insert(NormalKey(key)).second) return twice(key);
  }
  return Status::Ok();
}

// Into a std::string or a core::Text/Symbol.
template <typename Out>
Status GetString(const Value& obj, std::string_view normal, std::string_view field, Out* out) {
  const Value* v = Field(obj, normal);
  if (v == nullptr) return Status::Ok();
  if (!v->IsString()) return WrongType(field, "a string", *v);
  std::string_view text(v->GetString(), v->GetStringLength());
  if (!ValidUtf8(text)) return NotUtf8(field);
  *out = text;
  return Status::Ok();
}

Status GetInt(const Value& obj, std::string_view normal, std::string_view field, std::int64_t lo,
              std::int64_t hi, std::int64_t* out) {
  const Value* v = Field(obj, normal);
  if (v == nullptr) return Status::Ok();
  std::int64_t n = 0;
  if (v->IsInt64()) {
    n = v->GetInt64();
  } else if (v->IsString()) {
    // Some clients send numbers as strings ("8080").
    std::string s(v->GetString(), v->GetStringLength());
    char* end = nullptr;
    errno = 0;
    long long parsed = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || errno != 0) {
      return Status::InvalidArgument(std::string(field) + ": expected an integer, got \"" + s +
                                     "\"");
    }
    n = parsed;
  } else {
    return WrongType(field, "an integer", *v);
  }
  if (n < lo || n > hi) {
    return Status::InvalidArgument(std::string(field) + ": expected an integer from " +
                                   std::to_string(lo) + " to " + std::to_string(hi) + ", got " +
                                   std::to_string(n));
  }
  *out = n;
  return Status::Ok();
}

Status GetBool(const Value& obj, std::string_view normal, std::string_view field, bool* out) {
  const Value* v = Field(obj, normal);
  if (v == nullptr) return Status::Ok();
  if (!v->IsBool()) return WrongType(field, "true or false", *v);
  *out = v->GetBool();
  return Status::Ok();
}

// A Go duration: a string ("10s") or a number of nanoseconds, as Go's JSON has it.
Status GetDuration(const Value& obj, std::string_view normal, std::string_view field,
                   core::Duration* out) {
  const Value* v = Field(obj, normal);
  if (v == nullptr) return Status::Ok();
  if (v->IsInt64()) {
    *out = core::Duration(v->GetInt64());
  } else if (v->IsString()) {
    auto d = core::ParseDuration(std::string_view(v->GetString(), v->GetStringLength()));
    if (!d.ok()) return Status::InvalidArgument(std::string(field) + ": " + d.status().message());
    *out = *d;
  } else {
    return WrongType(field, "a duration like \"10s\"", *v);
  }
  if (*out < core::Duration::zero()) {
    return Status::InvalidArgument(std::string(field) + ": must not be negative");
  }
  return Status::Ok();
}

Status GetStatus(const Value& obj, std::string_view field, core::HealthStatus* out) {
  std::string s;
  if (auto st = GetString(obj, "status", field, &s); !st.ok() || s.empty()) return st;
  auto status = core::ParseHealthStatus(s);
  if (!status) {
    return Status::InvalidArgument(std::string(field) +
                                   ": expected \"passing\", \"warning\" or \"critical\", got \"" +
                                   s + "\"");
  }
  *out = *status;
  return Status::Ok();
}

Result<rapidjson::Document> ParseObject(std::string_view body) {
  rapidjson::Document doc;
  // Iterative: the recursive parser overflows the stack on deeply nested input ("[[[[...",
  // a megabyte of it fits the body limit). The pool allocator frees without recursing.
  doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (doc.HasParseError()) {
    return Status::InvalidArgument(std::string("request body is not valid JSON: ") +
                                   rapidjson::GetParseError_En(doc.GetParseError()) + " (at byte " +
                                   std::to_string(doc.GetErrorOffset()) + ")");
  }
  if (!doc.IsObject()) return WrongType("request body", "a JSON object", doc);
  if (auto st = UniqueKeys(doc, ""); !st.ok()) return st;
  return doc;
}

// Consul's check kinds that Concierge does not run: refused with a message rather than stored
// as TTL checks.
constexpr std::string_view kUnsupportedCheckKeys[] = {"script", "dockercontainerid", "shell"};

// The key that names each kind of check other than TTL, in the body (normalised).
struct KindKey {
  std::string_view key;
  std::string_view field;
  core::CheckKind kind;
};
constexpr KindKey kKindKeys[] = {
    {"http", "HTTP", core::CheckKind::kHttp},
    {"tcp", "TCP", core::CheckKind::kTcp},
    {"udp", "UDP", core::CheckKind::kUdp},
    {"args", "Args", core::CheckKind::kScript},
    {"scriptargs", "ScriptArgs", core::CheckKind::kScript},
    {"grpc", "GRPC", core::CheckKind::kGrpc},
    {"h2ping", "H2PING", core::CheckKind::kH2Ping},
    {"osservice", "OSService", core::CheckKind::kOsService},
    {"aliasservice", "AliasService", core::CheckKind::kAlias},
    {"aliasnode", "AliasNode", core::CheckKind::kAlias},
};

// Header: {"Name": ["value", ...]} as Consul has it; a plain string is taken as one value.
Status GetHeaders(const Value& obj, const std::string& field,
                  std::vector<std::pair<std::string, std::string>>* out) {
  const Value* h = Field(obj, "header");
  if (h == nullptr) return Status::Ok();
  if (!h->IsObject()) return WrongType(field, "an object of string arrays", *h);
  for (auto it = h->MemberBegin(); it != h->MemberEnd(); ++it) {
    std::string name(it->name.GetString(), it->name.GetStringLength());
    if (it->value.IsString()) {
      out->emplace_back(name, std::string(it->value.GetString(), it->value.GetStringLength()));
      continue;
    }
    if (!it->value.IsArray()) {
      return WrongType(field + "[" + name + "]", "an array of strings", it->value);
    }
    for (const Value& value : it->value.GetArray()) {
      if (!value.IsString())
        return WrongType(field + "[" + name + "]", "an array of strings", value);
      out->emplace_back(name, std::string(value.GetString(), value.GetStringLength()));
    }
  }
  return Status::Ok();
}

// Script checks' "Args" (or "ScriptArgs"): an array of strings.
Status GetArgs(const Value& v, const std::string& f, std::vector<std::string>* out) {
  const Value* args = Field(v, "args");
  std::string field = f + ".Args";
  if (args == nullptr) {
    args = Field(v, "scriptargs");
    field = f + ".ScriptArgs";
  }
  if (args == nullptr) return Status::Ok();
  if (!args->IsArray()) return WrongType(field, "an array of strings", *args);
  for (const Value& arg : args->GetArray()) {
    if (!arg.IsString()) return WrongType(field, "an array of strings", arg);
    std::string_view text(arg.GetString(), arg.GetStringLength());
    if (!ValidUtf8(text)) return NotUtf8(field);
    out->emplace_back(text);
  }
  return Status::Ok();
}

// Refuses a key that belongs to other kinds of check.
Status OnlyFor(const Value& v, const std::string& f, std::string_view key, std::string_view name,
               std::string_view kinds) {
  if (Field(v, key) == nullptr) return Status::Ok();
  return Status::InvalidArgument(f + "." + std::string(name) + ": is for " + std::string(kinds) +
                                 " checks only");
}

// Every kind but TTL: the target, what is sent, the schedule and the flap counters.
Status DecodeActiveCheck(const Value& v, const std::string& f, core::CheckKind kind,
                         core::CheckDefinition* c) {
  core::ActiveCheck a;
  c->kind = kind;
  using core::CheckKind;
  switch (kind) {
    case CheckKind::kHttp:
      if (auto st = GetString(v, "http", f + ".HTTP", &a.target); !st.ok()) return st;
      if (auto st = GetString(v, "method", f + ".Method", &a.method); !st.ok()) return st;
      if (a.method.empty()) a.method = "GET";
      if (auto st = GetHeaders(v, f + ".Header", &a.headers); !st.ok()) return st;
      if (auto st = GetString(v, "body", f + ".Body", &a.body); !st.ok()) return st;
      // Accepted for Consul's bodies; https:// is refused anyway (docs/health.md).
      if (auto st = GetBool(v, "tlsskipverify", f + ".TLSSkipVerify", &a.tls_skip_verify);
          !st.ok()) {
        return st;
      }
      break;
    case CheckKind::kTcp:
      if (auto st = GetString(v, "tcp", f + ".TCP", &a.target); !st.ok()) return st;
      break;
    case CheckKind::kUdp:
      if (auto st = GetString(v, "udp", f + ".UDP", &a.target); !st.ok()) return st;
      break;
    case CheckKind::kScript:
      if (auto st = GetArgs(v, f, &a.args); !st.ok()) return st;
      break;
    case CheckKind::kGrpc:
      if (auto st = GetString(v, "grpc", f + ".GRPC", &a.target); !st.ok()) return st;
      if (auto st = GetBool(v, "grpcusetls", f + ".GRPCUseTLS", &a.use_tls); !st.ok()) return st;
      if (auto st = GetBool(v, "tlsskipverify", f + ".TLSSkipVerify", &a.tls_skip_verify);
          !st.ok()) {
        return st;
      }
      break;
    case CheckKind::kH2Ping:
      if (auto st = GetString(v, "h2ping", f + ".H2PING", &a.target); !st.ok()) return st;
      // Consul's default: TLS unless H2PingUseTLS is false.
      a.use_tls = true;
      if (auto st = GetBool(v, "h2pingusetls", f + ".H2PingUseTLS", &a.use_tls); !st.ok()) {
        return st;
      }
      if (auto st = GetBool(v, "tlsskipverify", f + ".TLSSkipVerify", &a.tls_skip_verify);
          !st.ok()) {
        return st;
      }
      break;
    case CheckKind::kOsService:
      if (auto st = GetString(v, "osservice", f + ".OSService", &a.target); !st.ok()) return st;
      break;
    case CheckKind::kAlias:
      if (auto st = GetString(v, "aliasservice", f + ".AliasService", &a.target); !st.ok()) {
        return st;
      }
      if (auto st = GetString(v, "aliasnode", f + ".AliasNode", &a.alias_node); !st.ok()) {
        return st;
      }
      break;
    case CheckKind::kTtl:
      break;
  }
  if (kind != CheckKind::kHttp) {
    for (std::string_view key : {"method", "header", "body"}) {
      if (Field(v, key) != nullptr) {
        return Status::InvalidArgument(f + ": Method, Header and Body are for HTTP checks");
      }
    }
  }
  if (kind != CheckKind::kGrpc) {
    if (auto st = OnlyFor(v, f, "grpcusetls", "GRPCUseTLS", "GRPC"); !st.ok()) return st;
  }
  if (kind != CheckKind::kH2Ping) {
    if (auto st = OnlyFor(v, f, "h2pingusetls", "H2PingUseTLS", "H2PING"); !st.ok()) return st;
  }
  if (kind != CheckKind::kHttp && kind != CheckKind::kGrpc && kind != CheckKind::kH2Ping) {
    if (auto st = OnlyFor(v, f, "tlsskipverify", "TLSSkipVerify", "HTTP, GRPC and H2PING");
        !st.ok()) {
      return st;
    }
  }
  const std::string kind_name(core::ToString(kind));
  if (kind == CheckKind::kAlias) {
    // Followed at once, as Consul's alias checks are: no schedule.
    for (std::string_view key : {"interval", "timeout"}) {
      if (Field(v, key) != nullptr) {
        return Status::InvalidArgument(f +
                                       ": an alias check follows the aliased service at "
                                       "once; it takes no Interval or Timeout");
      }
    }
  } else {
    if (auto st = GetDuration(v, "interval", f + ".Interval", &a.interval); !st.ok()) return st;
    if (a.interval == core::Duration::zero()) {
      return Status::InvalidArgument(f + ".Interval: is required for " + kind_name +
                                     " checks (a duration like \"10s\")");
    }
    // Consul's defaults: 30 s for scripts, 10 s for the others.
    a.timeout = kind == CheckKind::kScript ? std::chrono::seconds(30) : std::chrono::seconds(10);
    if (auto st = GetDuration(v, "timeout", f + ".Timeout", &a.timeout); !st.ok()) return st;
    if (a.timeout == core::Duration::zero()) a.timeout = std::chrono::seconds(10);
  }
  std::int64_t n = 0;
  if (auto st = GetInt(v, "successbeforepassing", f + ".SuccessBeforePassing", 0,
                       core::Limits::kMaxCheckCounter, &n);
      !st.ok()) {
    return st;
  }
  a.success_before_passing = static_cast<std::uint32_t>(n);
  n = 0;
  if (auto st = GetInt(v, "failuresbeforecritical", f + ".FailuresBeforeCritical", 0,
                       core::Limits::kMaxCheckCounter, &n);
      !st.ok()) {
    return st;
  }
  a.failures_before_critical = static_cast<std::uint32_t>(n);
  if (Field(v, "failuresbeforewarning") != nullptr) {
    return Status::InvalidArgument(f +
                                   ".FailuresBeforeWarning: is not supported; failures "
                                   "count towards FailuresBeforeCritical");
  }
  c->active = core::SharedConst<core::ActiveCheck>(std::move(a));
  return Status::Ok();
}

Result<core::CheckDefinition> DecodeCheck(const Value& v, std::string_view field) {
  if (!v.IsObject()) return WrongType(field, "an object", v);
  core::CheckDefinition c;
  std::string f(field);
  if (auto st = UniqueKeys(v, f + "."); !st.ok()) return st;
  for (std::string_view key : kUnsupportedCheckKeys) {
    if (Field(v, key) != nullptr) {
      return Status::InvalidArgument(f +
                                     ": Docker checks and the old \"Script\" key are not "
                                     "supported (a script check gives \"Args\")");
    }
  }
  // Exactly one kind: its key, or TTL without any.
  const KindKey* kind = nullptr;
  for (const KindKey& k : kKindKeys) {
    if (Field(v, k.key) == nullptr) continue;
    if (kind != nullptr && kind->kind != k.kind) {
      return Status::InvalidArgument(f + ": give one kind of check; " + std::string(kind->field) +
                                     " and " + std::string(k.field) + " are both set");
    }
    if (kind == nullptr) kind = &k;
  }
  if (kind != nullptr) {
    if (Field(v, "ttl") != nullptr) {
      return Status::InvalidArgument(f + ": give either a TTL or " + std::string(kind->field) +
                                     ", not both");
    }
    if (auto st = DecodeActiveCheck(v, f, kind->kind, &c); !st.ok()) return st;
  }
  if (auto st = GetString(v, "checkid", f + ".CheckID", &c.id); !st.ok()) return st;
  if (c.id.empty()) {
    if (auto st = GetString(v, "id", f + ".ID", &c.id); !st.ok()) return st;
  }
  if (auto st = GetString(v, "name", f + ".Name", &c.name); !st.ok()) return st;
  if (auto st = GetString(v, "notes", f + ".Notes", &c.notes); !st.ok()) return st;
  if (auto st = GetString(v, "output", f + ".Output", &c.initial_output); !st.ok()) return st;
  if (c.kind == core::CheckKind::kTtl) {
    if (auto st = GetDuration(v, "ttl", f + ".TTL", &c.ttl); !st.ok()) return st;
    if (c.ttl == core::Duration::zero()) {
      return Status::InvalidArgument(f +
                                     ".TTL: is required (a duration like \"10s\"), or "
                                     "give an HTTP, TCP, UDP, GRPC, H2PING, Args, "
                                     "OSService or AliasService target");
    }
  }
  if (auto st = GetDuration(v, "deregistercriticalserviceafter",
                            f + ".DeregisterCriticalServiceAfter", &c.deregister_critical_after);
      !st.ok()) {
    return st;
  }
  if (auto st = GetStatus(v, f + ".Status", &c.initial_status); !st.ok()) return st;
  return c;
}

void WriteString(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
void Key(Writer& w, std::string_view k) {
  w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
}
void StringField(Writer& w, std::string_view k, std::string_view v) {
  Key(w, k);
  WriteString(w, v);
}
void IntField(Writer& w, std::string_view k, std::int64_t v) {
  Key(w, k);
  w.Int64(v);
}
// `tags`: a range of strings (std::vector or core::TagList).
template <typename List>
void Tags(Writer& w, std::string_view k, const List& tags) {
  Key(w, k);
  w.StartArray();
  for (const auto& t : tags) WriteString(w, t);
  w.EndArray();
}
// `m`: a range of (key, value) pairs of strings (std::vector or core::MetaList).
template <typename List>
void Meta(Writer& w, std::string_view k, const List& m) {
  Key(w, k);
  w.StartObject();
  for (const auto& [mk, mv] : m) StringField(w, mk, mv);
  w.EndObject();
}
void Weights(Writer& w, const core::Weights& weights) {
  Key(w, "Weights");
  w.StartObject();
  IntField(w, "Passing", weights.passing);
  IntField(w, "Warning", weights.warning);
  w.EndObject();
}

void WriteAgentService(Writer& w, const core::Instance& inst, const NodeInfo& node) {
  const core::ServiceDefinition& s = inst.service;
  w.StartObject();
  StringField(w, "ID", s.id);
  StringField(w, "Service", s.name);
  Tags(w, "Tags", s.tags);
  Meta(w, "Meta", s.meta);
  IntField(w, "Port", s.port);
  StringField(w, "Address", s.address);
  Weights(w, s.weights);
  Key(w, "EnableTagOverride");
  w.Bool(s.enable_tag_override);
  StringField(w, "Datacenter", node.datacenter);
  IntField(w, "CreateIndex", static_cast<std::int64_t>(inst.create_index));
  IntField(w, "ModifyIndex", static_cast<std::int64_t>(inst.modify_index));
  w.EndObject();
}

// Consul's HealthCheckDefinition fields of a check other than TTL.
void WriteActiveDefinition(Writer& w, const core::CheckDefinition& d) {
  const core::ActiveCheck& a = *d.active;
  switch (d.kind) {
    case core::CheckKind::kHttp: {
      StringField(w, "HTTP", a.target);
      StringField(w, "Method", a.method);
      Key(w, "Header");
      w.StartObject();
      // Grouped by name, in the order names first appear.
      for (std::size_t i = 0; i < a.headers.size(); ++i) {
        const std::string& name = a.headers[i].first;
        bool seen = false;
        for (std::size_t j = 0; j < i && !seen; ++j) seen = a.headers[j].first == name;
        if (seen) continue;
        Key(w, name);
        w.StartArray();
        for (std::size_t j = i; j < a.headers.size(); ++j) {
          if (a.headers[j].first == name) WriteString(w, a.headers[j].second);
        }
        w.EndArray();
      }
      w.EndObject();
      StringField(w, "Body", a.body);
      Key(w, "TLSSkipVerify");
      w.Bool(a.tls_skip_verify);
      break;
    }
    case core::CheckKind::kTcp:
      StringField(w, "TCP", a.target);
      break;
    case core::CheckKind::kUdp:
      StringField(w, "UDP", a.target);
      break;
    case core::CheckKind::kScript:
      Tags(w, "ScriptArgs", a.args);
      break;
    case core::CheckKind::kGrpc:
      StringField(w, "GRPC", a.target);
      Key(w, "GRPCUseTLS");
      w.Bool(a.use_tls);
      Key(w, "TLSSkipVerify");
      w.Bool(a.tls_skip_verify);
      break;
    case core::CheckKind::kH2Ping:
      StringField(w, "H2PING", a.target);
      Key(w, "H2PingUseTLS");
      w.Bool(a.use_tls);
      Key(w, "TLSSkipVerify");
      w.Bool(a.tls_skip_verify);
      break;
    case core::CheckKind::kOsService:
      StringField(w, "OSService", a.target);
      break;
    case core::CheckKind::kAlias:
      StringField(w, "AliasService", a.target);
      StringField(w, "AliasNode", a.alias_node);
      break;
    case core::CheckKind::kTtl:
      break;
  }
  if (d.kind != core::CheckKind::kAlias) {
    StringField(w, "Interval", core::FormatDuration(a.interval));
    StringField(w, "Timeout", core::FormatDuration(a.timeout));
  }
  IntField(w, "SuccessBeforePassing", a.success_before_passing);
  IntField(w, "FailuresBeforeCritical", a.failures_before_critical);
}

void WriteCheck(Writer& w, const core::Check& c, const core::Instance& owner,
                const NodeInfo& node) {
  w.StartObject();
  StringField(w, "Node", node.name);
  StringField(w, "CheckID", c.id());
  StringField(
      w, "Name",
      c.definition.name.empty() ? "Service '" + owner.service.name + "' check" : c.definition.name);
  StringField(w, "Status", core::ToString(c.status));
  StringField(w, "Notes", c.definition.notes);
  StringField(w, "Output", c.output);
  // The node's maintenance check belongs to the node, not to a service, as in Consul.
  const bool node_check = c.id() == core::kNodeMaintenanceCheckId;
  StringField(w, "ServiceID", node_check ? "" : owner.service.id);
  StringField(w, "ServiceName", node_check ? "" : owner.service.name);
  Tags(w, "ServiceTags", node_check ? std::vector<core::Symbol>{} : owner.service.tags);
  const bool maintenance = core::IsMaintenanceCheck(c.id());
  const core::CheckDefinition& d = c.definition;
  StringField(w, "Type", maintenance ? "maintenance" : core::ToString(d.kind));
  Key(w, "Definition");
  w.StartObject();
  if (!maintenance) {
    if (d.kind == core::CheckKind::kTtl) {
      StringField(w, "TTL", core::FormatDuration(d.ttl));
    } else {
      WriteActiveDefinition(w, d);
    }
    StringField(w, "DeregisterCriticalServiceAfter",
                core::FormatDuration(d.deregister_critical_after));
  }
  w.EndObject();
  StringField(w, "StatusSince", core::FormatTime(c.status_since));
  IntField(w, "CreateIndex", static_cast<std::int64_t>(c.create_index));
  IntField(w, "ModifyIndex", static_cast<std::int64_t>(c.modify_index));
  w.EndObject();
}

// The node's own fields, shared by Node objects and flat catalog entries.
void NodeFields(Writer& w, const NodeInfo& node) {
  StringField(w, "ID", node.id);
  StringField(w, "Node", node.name);
  StringField(w, "Address", node.address);
  StringField(w, "Datacenter", node.datacenter);
  Key(w, "TaggedAddresses");
  w.StartObject();
  StringField(w, "lan", node.address);
  StringField(w, "wan", node.address);
  w.EndObject();
}

void WriteNode(Writer& w, const NodeInfo& node) {
  w.StartObject();
  NodeFields(w, node);
  Key(w, "Meta");
  w.StartObject();
  w.EndObject();
  IntField(w, "CreateIndex", 1);
  IntField(w, "ModifyIndex", 1);
  w.EndObject();
}

template <typename F>
std::string Build(F&& f) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  f(w);
  return {buf.GetString(), buf.GetSize()};
}

}  // namespace

Result<core::RegisterService> DecodeServiceRegistration(std::string_view body) {
  auto doc = ParseObject(body);
  if (!doc.ok()) return doc.status();
  const Value& v = *doc;
  core::RegisterService cmd;
  core::ServiceDefinition& s = cmd.service;
  if (auto st = GetString(v, "name", "Name", &s.name); !st.ok()) return st;
  if (s.name.empty()) return Status::InvalidArgument("Name: is required");
  if (auto st = GetString(v, "id", "ID", &s.id); !st.ok()) return st;
  if (s.id.empty()) s.id = s.name.view();
  if (auto st = GetString(v, "address", "Address", &s.address); !st.ok()) return st;
  std::int64_t port = 0;
  if (auto st = GetInt(v, "port", "Port", 0, 65535, &port); !st.ok()) return st;
  s.port = static_cast<std::uint16_t>(port);
  if (const Value* tags = Field(v, "tags")) {
    if (!tags->IsArray()) return WrongType("Tags", "an array of strings", *tags);
    std::vector<core::Symbol> list;
    for (const Value& t : tags->GetArray()) {
      if (!t.IsString()) return WrongType("Tags", "an array of strings", t);
      std::string_view tag(t.GetString(), t.GetStringLength());
      if (!ValidUtf8(tag)) return NotUtf8("Tags");
      list.emplace_back(tag);
    }
    s.tags = list;
  }
  if (const Value* meta = Field(v, "meta")) {
    if (!meta->IsObject()) return WrongType("Meta", "an object of strings", *meta);
    std::vector<std::pair<core::Symbol, core::Symbol>> pairs;
    for (auto it = meta->MemberBegin(); it != meta->MemberEnd(); ++it) {
      std::string key(it->name.GetString(), it->name.GetStringLength());
      if (!ValidUtf8(key)) return NotUtf8("Meta key");
      if (!it->value.IsString()) return WrongType("Meta[" + key + "]", "a string", it->value);
      std::string_view value(it->value.GetString(), it->value.GetStringLength());
      if (!ValidUtf8(value)) return NotUtf8("Meta[" + key + "]");
      pairs.emplace_back(key, value);
    }
    std::sort(pairs.begin(), pairs.end());
    s.meta = pairs;
  }
  if (const Value* weights = Field(v, "weights")) {
    if (!weights->IsObject()) return WrongType("Weights", "an object", *weights);
    if (auto st = UniqueKeys(*weights, "Weights."); !st.ok()) return st;
    std::int64_t passing = 1;
    std::int64_t warning = 1;
    if (auto st = GetInt(*weights, "passing", "Weights.Passing", 1, 1 << 20, &passing); !st.ok()) {
      return st;
    }
    if (auto st = GetInt(*weights, "warning", "Weights.Warning", 0, 1 << 20, &warning); !st.ok()) {
      return st;
    }
    s.weights = {static_cast<std::int32_t>(passing), static_cast<std::int32_t>(warning)};
  }
  if (auto st = GetBool(v, "enabletagoverride", "EnableTagOverride", &s.enable_tag_override);
      !st.ok()) {
    return st;
  }
  if (const Value* check = Field(v, "check")) {
    auto c = DecodeCheck(*check, "Check");
    if (!c.ok()) return c.status();
    if (c->id.empty()) c->id = "service:" + s.id;
    cmd.checks.push_back(std::move(*c));
  }
  if (const Value* checks = Field(v, "checks")) {
    if (!checks->IsArray()) return WrongType("Checks", "an array of checks", *checks);
    std::size_t n = 0;
    for (const Value& cv : checks->GetArray()) {
      ++n;
      auto c = DecodeCheck(cv, "Checks[" + std::to_string(n - 1) + "]");
      if (!c.ok()) return c.status();
      if (c->id.empty()) c->id = "service:" + s.id + ":" + std::to_string(cmd.checks.size() + 1);
      cmd.checks.push_back(std::move(*c));
    }
  }
  return cmd;
}

Status CheckAgentPolicy(const core::RegisterService& registration, bool enable_script_checks,
                        std::string_view node_name) {
  for (const core::CheckDefinition& c : registration.checks) {
    if (c.kind == core::CheckKind::kScript && !enable_script_checks) {
      return Status::InvalidArgument(
          "Scripts are disabled on this agent; to enable, configure 'enable_script_checks' "
          "to true or start it with -enable-script-checks");
    }
    if (c.kind == core::CheckKind::kAlias && !c.active->alias_node.empty() &&
        c.active->alias_node != node_name) {
      return Status::InvalidArgument("Check.AliasNode: \"" + c.active->alias_node +
                                     "\" is not a node of this registry; it is one node, \"" +
                                     std::string(node_name) + "\" (or leave AliasNode out)");
    }
  }
  return Status::Ok();
}

Result<CheckUpdate> DecodeCheckUpdate(std::string_view body) {
  auto doc = ParseObject(body);
  if (!doc.ok()) return doc.status();
  CheckUpdate u{core::HealthStatus::kPassing, ""};
  std::string status;
  if (auto st = GetString(*doc, "status", "Status", &status); !st.ok()) return st;
  if (status.empty()) return Status::InvalidArgument("Status: is required");
  if (auto st = GetStatus(*doc, "Status", &u.status); !st.ok()) return st;
  if (auto st = GetString(*doc, "output", "Output", &u.output); !st.ok()) return st;
  return u;
}

namespace {

void WriteAgentServices(Writer& w, const std::vector<InstancePtr>& instances,
                        const NodeInfo& node) {
  w.StartObject();
  for (const auto& inst : instances) {
    Key(w, inst->service.id);
    WriteAgentService(w, *inst, node);
  }
  w.EndObject();
}

}  // namespace

std::string EncodeAgentServices(const std::vector<InstancePtr>& instances, const NodeInfo& node) {
  return Build([&](Writer& w) { WriteAgentServices(w, instances, node); });
}

std::string EncodeCatalogNode(const std::vector<InstancePtr>& instances, const NodeInfo& node) {
  return Build([&](Writer& w) {
    w.StartObject();
    w.Key("Node");
    WriteNode(w, node);
    w.Key("Services");
    WriteAgentServices(w, instances, node);
    w.EndObject();
  });
}

std::string EncodeAgentService(const core::Instance& instance, const NodeInfo& node) {
  return Build([&](Writer& w) { WriteAgentService(w, instance, node); });
}

std::string EncodeAgentChecks(const std::vector<InstancePtr>& instances, const NodeInfo& node) {
  return Build([&](Writer& w) {
    w.StartObject();
    bool node_check_written = false;
    for (const auto& inst : instances) {
      for (const core::Check& c : inst->checks) {
        // Every instance carries the node's maintenance check; the node has it once.
        if (c.id() == core::kNodeMaintenanceCheckId) {
          if (node_check_written) continue;
          node_check_written = true;
        }
        Key(w, c.id());
        WriteCheck(w, c, *inst, node);
      }
    }
    w.EndObject();
  });
}

std::string EncodeHealthService(const std::vector<InstancePtr>& instances, const NodeInfo& node) {
  return Build([&](Writer& w) {
    w.StartArray();
    for (const auto& inst : instances) {
      w.StartObject();
      Key(w, "Node");
      WriteNode(w, node);
      Key(w, "Service");
      WriteAgentService(w, *inst, node);
      Key(w, "Checks");
      w.StartArray();
      for (const core::Check& c : inst->checks) WriteCheck(w, c, *inst, node);
      w.EndArray();
      w.EndObject();
    }
    w.EndArray();
  });
}

std::string EncodeServiceDelta(core::Index index, bool resync,
                               const std::vector<InstancePtr>& changed,
                               const std::vector<core::Text>& removed, const NodeInfo& node) {
  std::string out = "{\"Index\":" + std::to_string(index) +
                    (resync ? ",\"Resync\":true" : ",\"Resync\":false") + ",\"Changed\":";
  out += EncodeHealthService(changed, node);
  out += ",\"Removed\":[";
  for (std::size_t i = 0; i < removed.size(); ++i) {
    if (i > 0) out += ',';
    core::AppendJsonString(out, removed[i].view());
  }
  out += "]}";
  return out;
}

std::string EncodeHealthChecks(const std::vector<const core::Check*>& checks,
                               const std::vector<const core::Instance*>& owners,
                               const NodeInfo& node) {
  return Build([&](Writer& w) {
    w.StartArray();
    for (std::size_t i = 0; i < checks.size(); ++i) WriteCheck(w, *checks[i], *owners[i], node);
    w.EndArray();
  });
}

std::string EncodeCatalogService(const std::vector<InstancePtr>& instances, const NodeInfo& node) {
  return Build([&](Writer& w) {
    w.StartArray();
    for (const auto& inst : instances) {
      const core::ServiceDefinition& s = inst->service;
      w.StartObject();
      NodeFields(w, node);
      Key(w, "NodeMeta");
      w.StartObject();
      w.EndObject();
      StringField(w, "ServiceID", s.id);
      StringField(w, "ServiceName", s.name);
      StringField(w, "ServiceAddress", s.address);
      Tags(w, "ServiceTags", s.tags);
      Meta(w, "ServiceMeta", s.meta);
      IntField(w, "ServicePort", s.port);
      Key(w, "ServiceWeights");
      w.StartObject();
      IntField(w, "Passing", s.weights.passing);
      IntField(w, "Warning", s.weights.warning);
      w.EndObject();
      Key(w, "ServiceEnableTagOverride");
      w.Bool(s.enable_tag_override);
      IntField(w, "CreateIndex", static_cast<std::int64_t>(inst->create_index));
      IntField(w, "ModifyIndex", static_cast<std::int64_t>(inst->modify_index));
      w.EndObject();
    }
    w.EndArray();
  });
}

std::string EncodeCatalogServices(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& services) {
  return Build([&](Writer& w) {
    w.StartObject();
    for (const auto& [name, tags] : services) Tags(w, name, tags);
    w.EndObject();
  });
}

std::string EncodeCatalogNodes(const NodeInfo& node) {
  return Build([&](Writer& w) {
    w.StartArray();
    WriteNode(w, node);
    w.EndArray();
  });
}

std::string EncodeString(std::string_view s) {
  return Build([&](Writer& w) { WriteString(w, s); });
}

}  // namespace concierge::http
