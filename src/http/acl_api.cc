#include "http/acl_api.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "http/eureka.h"
#include "http/json_parse.h"

namespace concierge::http {

namespace asio = boost::asio;
using core::AclAccess;
using core::AclResource;
using P = core::AclAuthorizer::Permission;
using rapidjson::Value;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

namespace {

// --- JSON helpers ---

Result<rapidjson::Document> Parse(std::string_view text, std::string_view what) {
  auto doc = ParseJson(text, what);
  if (doc.ok() && !doc->IsObject()) {
    return Status::InvalidArgument(std::string(what) + ": expected a JSON object");
  }
  return doc;
}

Status GetString(const Value& obj, std::string_view name, std::string* out) {
  const Value* v = Member(obj, name);
  if (v == nullptr) return Status::Ok();
  if (!v->IsString()) return Status::InvalidArgument(std::string(name) + ": expected a string");
  out->assign(Str(*v));
  return Status::Ok();
}

// Consul fields Concierge has no counterpart for: refused when they say something.
Status RefuseNonEmpty(const Value& obj, std::string_view name, std::string_view why) {
  const Value* v = Member(obj, name);
  if (v == nullptr) return Status::Ok();
  bool empty = (v->IsArray() && v->Empty()) || (v->IsString() && v->GetStringLength() == 0) ||
               (v->IsNumber() && v->IsInt64() && v->GetInt64() == 0);
  if (empty) return Status::Ok();
  return Status::InvalidArgument(std::string(name) + ": " + std::string(why));
}

void Field(Writer& w, const char* key, std::string_view value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void IndexFields(Writer& w, core::Index create, core::Index modify) {
  w.Key("CreateIndex");
  w.Uint64(std::max<core::Index>(1, create));
  w.Key("ModifyIndex");
  w.Uint64(std::max<core::Index>(1, modify));
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    out += kDigits[(static_cast<unsigned char>(c) >> 4) & 0xf];
    out += kDigits[static_cast<unsigned char>(c) & 0xf];
  }
  return out;
}

// The resource names of Consul's rules that Concierge has: name -> (resource, prefix).
struct RuleKind {
  std::string_view key;
  AclResource resource;
  bool prefix;
};
constexpr RuleKind kRuleKinds[] = {
    {"service", AclResource::kService, false}, {"service_prefix", AclResource::kService, true},
    {"node", AclResource::kNode, false},       {"node_prefix", AclResource::kNode, true},
    {"agent", AclResource::kAgent, false},     {"agent_prefix", AclResource::kAgent, true},
    {"key", AclResource::kKey, false},         {"key_prefix", AclResource::kKey, true},
    {"session", AclResource::kSession, false}, {"session_prefix", AclResource::kSession, true},
};
// Consul's resources that Concierge has nothing for; policies written for Consul may carry
// them, and they grant nothing here.
constexpr std::string_view kIgnoredResources[] = {
    "query",           "query_prefix",     "event",
    "event_prefix",    "keyring",          "mesh",
    "peering",         "identity",         "identity_prefix",
    "partition",       "partition_prefix", "namespace",
    "namespace_prefix"};

Result<AclAccess> Level(const Value& v, std::string_view where) {
  if (!v.IsString()) {
    return Status::InvalidArgument("Rules: " + std::string(where) +
                                   ": expected \"read\", \"write\" or \"deny\"");
  }
  auto access = core::ParseAclAccess(Str(v));
  if (!access) {
    return Status::InvalidArgument("Rules: " + std::string(where) +
                                   ": expected \"read\", "
                                   "\"write\" or \"deny\", got \"" +
                                   std::string(Str(v)) + "\"");
  }
  return *access;
}

// The caller (ConsulApi) adds X-Consul-Index and the leader headers.
Response Json(std::string body) { return Response::Json(std::move(body)); }

}  // namespace

// --- Secrets ---

std::string_view RequestToken(const Request& req) {
  if (auto q = req.Query("token"); q && !q->empty()) return *q;
  if (auto h = req.Header("X-Consul-Token"); h && !h->empty()) return *h;
  if (auto h = req.Header("Authorization")) {
    std::string_view v = *h;
    constexpr std::string_view kBearer = "bearer ";
    if (v.size() > kBearer.size() &&
        std::equal(kBearer.begin(), kBearer.end(), v.begin(), [](char a, char b) {
          return a == std::tolower(static_cast<unsigned char>(b));
        })) {
      v.remove_prefix(kBearer.size());
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      return v;
    }
  }
  return {};
}

std::string HashSecret(std::string_view secret) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(secret.data(), secret.size(), digest, &size, EVP_sha256(), nullptr) != 1 ||
      size != core::kSecretHashBytes) {
    throw std::runtime_error("SHA-256 failed in OpenSSL");
  }
  return {reinterpret_cast<const char*>(digest), size};
}

std::string NewUuid() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("OpenSSL RAND_bytes failed");
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  std::string hex = Hex({reinterpret_cast<const char*>(b), sizeof b});
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

// --- Rules ---

Result<core::AclRules> DecodeRules(std::string_view text) {
  std::string_view trimmed = text;
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.front()))) {
    trimmed.remove_prefix(1);
  }
  core::AclRules out;
  if (trimmed.empty()) return out;
  if (trimmed.front() != '{') {
    return Status::InvalidArgument(
        "Rules: only the JSON form of Consul's rules is supported, not HCL; write e.g. "
        "{\"service_prefix\": {\"web\": {\"policy\": \"write\"}}, \"node_prefix\": {\"\": "
        "{\"policy\": \"read\"}}}");
  }
  auto doc = Parse(trimmed, "Rules");
  if (!doc.ok()) return doc.status();
  const Value& root = *doc;  // const iterators: clang rejects comparing the others (C++20)
  for (auto it = root.MemberBegin(); it != root.MemberEnd(); ++it) {
    std::string_view key = Str(it->name);
    const Value& v = it->value;
    if (key == "operator" || key == "acl") {
      auto level = Level(v, key);
      if (!level.ok()) return level.status();
      (key == "acl" ? out.acl_access : out.operator_access) = *level;
      continue;
    }
    if (std::find(std::begin(kIgnoredResources), std::end(kIgnoredResources), key) !=
        std::end(kIgnoredResources)) {
      continue;
    }
    const RuleKind* kind = nullptr;
    for (const RuleKind& k : kRuleKinds) {
      if (k.key == key) kind = &k;
    }
    if (kind == nullptr) {
      return Status::InvalidArgument(
          "Rules: unknown resource \"" + std::string(key) +
          "\"; Concierge knows service, service_prefix, node, node_prefix, agent, "
          "agent_prefix, key, key_prefix, session, session_prefix, operator and acl");
    }
    if (!v.IsObject()) {
      return Status::InvalidArgument("Rules: " + std::string(key) +
                                     ": expected an object {\"<name>\": {\"policy\": \"read\"}}");
    }
    for (auto r = v.MemberBegin(); r != v.MemberEnd(); ++r) {
      std::string name(Str(r->name));
      std::string where = std::string(key) + " \"" + name + "\"";
      if (!r->value.IsObject()) {
        return Status::InvalidArgument("Rules: " + where + ": expected {\"policy\": \"read\"}");
      }
      const Value* policy = nullptr;
      for (auto f = r->value.MemberBegin(); f != r->value.MemberEnd(); ++f) {
        std::string_view field = Str(f->name);
        if (field == "policy") {
          policy = &f->value;
        } else if (field != "intentions") {  // mesh intentions: nothing to grant here
          return Status::InvalidArgument("Rules: " + where + ": unknown field \"" +
                                         std::string(field) + "\"");
        }
      }
      if (policy == nullptr) {
        return Status::InvalidArgument("Rules: " + where + ": missing \"policy\"");
      }
      auto level = Level(*policy, where);
      if (!level.ok()) return level.status();
      out.rules.push_back({kind->resource, kind->prefix, std::move(name), *level});
    }
  }
  return out;
}

std::string EncodeRules(const core::AclRules& rules) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  for (const RuleKind& k : kRuleKinds) {
    bool open = false;
    for (const core::AclRule& r : rules.rules) {
      if (r.resource != k.resource || r.prefix != k.prefix) continue;
      if (!open) {
        w.Key(k.key.data(), static_cast<rapidjson::SizeType>(k.key.size()));
        w.StartObject();
        open = true;
      }
      w.Key(r.name.data(), static_cast<rapidjson::SizeType>(r.name.size()));
      w.StartObject();
      Field(w, "policy", core::ToString(r.access));
      w.EndObject();
    }
    if (open) w.EndObject();
  }
  if (rules.operator_access) Field(w, "operator", core::ToString(*rules.operator_access));
  if (rules.acl_access) Field(w, "acl", core::ToString(*rules.acl_access));
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

// --- Resolution and authorization ---

AclApi::AclApi(server::Registry& registry, server::StateLoop& state, bool enabled, NodeInfo node)
    : registry_(registry), state_(state), enabled_(enabled), node_(std::move(node)) {}

Result<std::shared_ptr<const core::AclAuthorizer>> AclApi::Resolve(const Request& req) const {
  if (!enabled_) return core::AclAuthorizer::AllowAll();
  return ResolveSecret(RequestToken(req));
}

Result<std::shared_ptr<const core::AclAuthorizer>> AclApi::ResolveSecret(
    std::string_view secret) const {
  if (!enabled_) return core::AclAuthorizer::AllowAll();
  server::AclView view = registry_.Acl();
  if (secret.empty() || secret == "anonymous") return view.tokens->anonymous();
  std::string hash = HashSecret(secret);
  for (const auto* entry : view.tokens->Candidates(hash)) {
    if (CRYPTO_memcmp(entry->secret_hash.data(), hash.data(), hash.size()) == 0) {
      return entry->authorizer;
    }
  }
  return Status::PermissionDenied("ACL not found");
}

asio::awaitable<std::vector<Status>> AclApi::AuthorizeHeartbeats(
    const Request& req, const std::vector<HeartbeatEntry>& entries) {
  std::vector<Status> out(entries.size());
  if (!enabled_) co_return out;
  // Which service each check belongs to: the catalog knows, on the state thread.
  auto ids = std::make_shared<std::vector<std::string>>();
  ids->reserve(entries.size());
  for (const HeartbeatEntry& e : entries) ids->emplace_back(e.check_id);
  auto names = std::make_shared<std::vector<std::optional<std::string>>>(entries.size());
  server::StateLoop::Operation find = [this, ids, names](std::function<void(Status)> done) {
    const core::Catalog& catalog = registry_.catalog();
    for (std::size_t i = 0; i < ids->size(); ++i) {
      const core::Text* owner = catalog.FindCheckOwner((*ids)[i]);
      const core::Instance* inst = owner != nullptr ? catalog.FindInstance(*owner) : nullptr;
      if (inst != nullptr) (*names)[i] = inst->service.name.str();
    }
    done(Status::Ok());
  };
  co_await state_.Call(std::move(find));
  // Entries forwarded by a follower carry their clients' tokens; most batches hold a few.
  std::vector<std::pair<std::string_view, Result<std::shared_ptr<const core::AclAuthorizer>>>>
      resolved;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (!(*names)[i]) continue;
    std::shared_ptr<const core::AclAuthorizer> authorizer = req.acl;
    if (std::string_view token = entries[i].token; !token.empty()) {
      auto it = std::find_if(resolved.begin(), resolved.end(),
                             [&](const auto& r) { return r.first == token; });
      if (it == resolved.end()) it = resolved.insert(resolved.end(), {token, ResolveSecret(token)});
      if (!it->second.ok()) {
        out[i] = it->second.status();
        continue;
      }
      authorizer = *it->second;
    }
    out[i] = authorizer->Require(AclResource::kService, *(*names)[i], P::kWrite);
  }
  co_return out;
}

bool AclApi::CanRead(const Request& req, std::string_view service, bool node) const {
  const core::AclAuthorizer& a = *req.acl;
  return a.Allowed(AclResource::kService, service, P::kRead) &&
         (!node || a.Allowed(AclResource::kNode, node_.name, P::kRead));
}

Status AclApi::RequireServiceWrite(const Request& req, std::string_view service_id,
                                   std::string_view name) const {
  const core::AclAuthorizer& a = *req.acl;
  if (auto st = a.Require(AclResource::kService, name, P::kWrite); !st.ok()) return st;
  if (!a.enforcing()) return Status::Ok();
  // Re-registering an ID under another name takes it from that service: write on both.
  if (auto existing = registry_.Instance(service_id); existing && existing->service.name != name) {
    return a.Require(AclResource::kService, existing->service.name, P::kWrite);
  }
  return Status::Ok();
}

asio::awaitable<std::optional<std::string>> AclApi::ServiceOfCheck(std::string check_id) {
  // "service:<ID>" and "service:<ID>:<n>": the IDs registrations give checks by default.
  if (check_id.starts_with("service:")) {
    std::string_view id = std::string_view(check_id).substr(8);
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (auto inst = registry_.Instance(id)) {
        for (const core::Check& c : inst->checks) {
          if (c.id() == check_id) co_return inst->service.name.str();
        }
      }
      std::size_t colon = id.rfind(':');
      if (colon == std::string_view::npos) break;
      id = id.substr(0, colon);
    }
  }
  // Any other check ID: the catalog on the state thread knows its owner.
  auto name = std::make_shared<std::optional<std::string>>();
  server::StateLoop::Operation find = [this, name, check_id](std::function<void(Status)> done) {
    if (const core::Text* owner = registry_.catalog().FindCheckOwner(check_id)) {
      if (const core::Instance* inst = registry_.catalog().FindInstance(*owner)) {
        *name = inst->service.name.str();
      }
    }
    done(Status::Ok());
  };
  co_await state_.Call(std::move(find));
  co_return std::move(*name);
}

asio::awaitable<Status> AclApi::Authorize(const Request& req, const RouteMatch& match) {
  const core::AclAuthorizer& a = *req.acl;
  if (!a.enforcing()) co_return Status::Ok();
  const Route& route = *match.route;
  const P p = route.Writes(MethodBit(req.method)) ? P::kWrite : P::kRead;
  switch (route.acl) {
    case AclScope::kNone:
    case AclScope::kFiltered:
    case AclScope::kServiceInBody:
    case AclScope::kEachHeartbeat:
    case AclScope::kAnyToken:
    case AclScope::kCluster:
      co_return Status::Ok();  // decided by the handler, or by the cluster key
    case AclScope::kServiceOfCheck: {
      std::string check_id(match.param());
      std::optional<std::string> service = co_await ServiceOfCheck(check_id);
      // An unknown check is the handler's 404.
      if (!service) co_return Status::Ok();
      co_return a.Require(AclResource::kService, *service, p);
    }
    case AclScope::kService:
      co_return a.Require(AclResource::kService, match.param(), p);
    case AclScope::kServiceOfApp:
      co_return a.Require(AclResource::kService, ServiceNameOfApp(match.param()), p);
    case AclScope::kServiceOfInstance: {
      auto inst = registry_.Instance(match.param());
      if (!inst) co_return Status::Ok();  // the handler's 404
      co_return a.Require(AclResource::kService, inst->service.name, p);
    }
    case AclScope::kNode:
      co_return a.Require(AclResource::kNode, node_.name, p);
    case AclScope::kAgent:
      co_return a.Require(AclResource::kAgent, node_.name, p);
    case AclScope::kKey:
      // A recursive read or a key list is filtered key by key; a recursive delete needs
      // write on the prefix.
      if (p == P::kRead && (req.Has("recurse") || req.Has("keys"))) co_return Status::Ok();
      co_return a.Require(AclResource::kKey, match.param(), p);
    case AclScope::kSession:
      co_return a.Require(AclResource::kSession, node_.name, p);
    case AclScope::kOperator:
      co_return a.RequireOperator(p);
    case AclScope::kAcl:
      co_return a.RequireAcl(p);
  }
  co_return Status::PermissionDenied("no ACL rule for " + req.path);
}

// --- /v1/acl/ endpoints ---

namespace {

void WriteToken(Writer& w, const core::AclToken& t, const core::AclState& state,
                std::string_view secret) {
  w.StartObject();
  Field(w, "AccessorID", t.accessor_id);
  if (!secret.empty()) Field(w, "SecretID", secret);
  Field(w, "Description", t.description);
  w.Key("Policies");
  w.StartArray();
  for (const std::string& id : t.policy_ids) {
    const core::AclPolicy* p = state.FindPolicy(id);
    if (p == nullptr) continue;
    w.StartObject();
    Field(w, "ID", p->id);
    Field(w, "Name", p->name);
    w.EndObject();
  }
  w.EndArray();
  w.Key("Local");
  w.Bool(false);
  Field(w, "CreateTime", core::FormatTime(t.create_time));
  IndexFields(w, t.create_index, t.modify_index);
  w.EndObject();
}

}  // namespace

asio::awaitable<Response> AclApi::Handle(Request& req, const RouteMatch& match) {
  if (!enabled_) {
    co_return Response::Error(401,
                              "ACL support disabled (start the agent with -acl-enabled; "
                              "see docs/acl.md)");
  }
  // The route's ACL rule (acl:read or acl:write) was checked before (Authorize).
  std::string param(match.param());
  const bool del = req.method == "DELETE";
  const Endpoint endpoint = match.route->endpoint;
  const bool by_id = endpoint == Endpoint::kAclPolicyRead ||
                     endpoint == Endpoint::kAclPolicyWrite || endpoint == Endpoint::kAclTokenRead ||
                     endpoint == Endpoint::kAclTokenWrite;
  if (by_id && param.empty()) {
    co_return Response::Error(400, "an ID is required after " + req.path);
  }
  switch (endpoint) {
    case Endpoint::kAclBootstrap:
      co_return co_await Bootstrap();
    case Endpoint::kAclTokenSelf:
      co_return TokenRead(registry_.Acl().state->FindToken(req.acl->accessor_id()));
    case Endpoint::kAclPolicies:
      co_return Policies();
    case Endpoint::kAclTokens:
      co_return Tokens();
    case Endpoint::kAclPolicyByName:
      co_return PolicyRead(registry_.Acl().state->FindPolicyByName(param));
    case Endpoint::kAclPolicyRead:
      co_return PolicyRead(registry_.Acl().state->FindPolicy(param));
    case Endpoint::kAclTokenRead:
      co_return TokenRead(registry_.Acl().state->FindToken(param));
    case Endpoint::kAclPolicyCreate:
    case Endpoint::kAclPolicyWrite: {
      if (del) {
        core::Command command = core::AclDeletePolicy{param, {}};
        co_return co_await Delete(std::move(command));
      }
      // A new policy gets its ID from the server; named values: g++ 12 and temporaries
      // passed to coroutines.
      if (endpoint == Endpoint::kAclPolicyCreate) param.clear();
      co_return co_await PolicyWrite(req, param);
    }
    case Endpoint::kAclTokenCreate:
    case Endpoint::kAclTokenWrite: {
      if (del) {
        core::Command command = core::AclDeleteToken{param, {}};
        co_return co_await Delete(std::move(command));
      }
      if (endpoint == Endpoint::kAclTokenCreate) param.clear();
      co_return co_await TokenWrite(req, param);
    }
    default:
      co_return Response::Error(404, "no such ACL endpoint: " + req.path);
  }
}

asio::awaitable<Response> AclApi::Bootstrap() {
  std::string secret = NewUuid();
  core::AclToken token;
  token.accessor_id = NewUuid();
  token.secret_hash = HashSecret(secret);
  core::Command command = core::AclBootstrap{token, {}};
  Result<core::Index> r = co_await state_.Submit(std::move(command));
  if (!r.ok()) co_return FromStatus(r.status());
  // The one time the secret is shown: it is stored only as its hash.
  co_return TokenRead(registry_.Acl().state->FindToken(token.accessor_id), secret);
}

asio::awaitable<Response> AclApi::PolicyWrite(Request& req, std::string id) {
  auto doc = Parse(req.body, "request body");
  if (!doc.ok()) co_return FromStatus(doc.status());
  core::AclPolicy p;
  std::string body_id;
  std::string rules;
  for (auto [name, out] : {std::pair{"ID", &body_id},
                           {"Name", &p.name},
                           {"Description", &p.description},
                           {"Rules", &rules}}) {
    if (auto st = GetString(*doc, name, out); !st.ok()) co_return FromStatus(st);
  }
  if (auto st = RefuseNonEmpty(*doc, "Datacenters", "policies apply to every datacenter here");
      !st.ok()) {
    co_return FromStatus(st);
  }
  const bool create = id.empty();
  if (!create && !body_id.empty() && body_id != id) {
    co_return Response::Error(400, "ID: the body says '" + body_id + "' but the path '" + id + "'");
  }
  if (create && !body_id.empty()) {
    co_return Response::Error(400,
                              "ID: a new policy gets its ID from the server; use PUT "
                              "/v1/acl/policy/:id to update one");
  }
  auto decoded = DecodeRules(rules);
  if (!decoded.ok()) co_return FromStatus(decoded.status());
  p.rules = std::move(*decoded);
  p.id = create ? NewUuid() : id;
  std::string policy_id = p.id;
  core::Command command = core::AclSetPolicy{std::move(p), create, {}};
  Result<core::Index> r = co_await state_.Submit(std::move(command));
  if (!r.ok()) co_return FromStatus(r.status());
  co_return PolicyRead(registry_.Acl().state->FindPolicy(policy_id));
}

asio::awaitable<Response> AclApi::TokenWrite(Request& req, std::string accessor_id) {
  auto doc = Parse(req.body, "request body");
  if (!doc.ok()) co_return FromStatus(doc.status());
  core::AclToken t;
  std::string body_accessor;
  std::string secret;
  for (auto [name, out] : {std::pair{"AccessorID", &body_accessor},
                           {"SecretID", &secret},
                           {"Description", &t.description}}) {
    if (auto st = GetString(*doc, name, out); !st.ok()) co_return FromStatus(st);
  }
  for (auto [name, why] :
       {std::pair{"Roles", "roles are not supported; link policies directly"},
        {"ServiceIdentities", "service identities are not supported; link a policy"},
        {"NodeIdentities", "node identities are not supported; link a policy"},
        {"TemplatedPolicies", "templated policies are not supported; link a policy"},
        {"ExpirationTTL", "token expiry is not supported"},
        {"ExpirationTime", "token expiry is not supported"}}) {
    if (auto st = RefuseNonEmpty(*doc, name, why); !st.ok()) co_return FromStatus(st);
  }
  const bool create = accessor_id.empty();
  if (!create && !body_accessor.empty() && body_accessor != accessor_id) {
    co_return Response::Error(400, "AccessorID: the body says '" + body_accessor +
                                       "' but the path '" + accessor_id + "'");
  }
  server::AclView view = registry_.Acl();
  if (const Value* links = Member(*doc, "Policies")) {
    if (!links->IsArray()) co_return Response::Error(400, "Policies: expected an array");
    for (const Value& link : links->GetArray()) {
      std::string id;
      std::string name;
      if (!link.IsObject() || !GetString(link, "ID", &id).ok() ||
          !GetString(link, "Name", &name).ok() || (id.empty() && name.empty())) {
        co_return Response::Error(400,
                                  "Policies: expected [{\"ID\": \"...\"} or "
                                  "{\"Name\": \"...\"}, ...]");
      }
      if (id.empty()) {
        const core::AclPolicy* p = view.state->FindPolicyByName(name);
        if (p == nullptr)
          co_return Response::Error(400, "Policies: no policy named \"" + name + "\"");
        id = p->id;
      }
      t.policy_ids.push_back(std::move(id));
    }
  } else if (!create) {
    // An update without Policies keeps the links, as a partial update would.
    if (const core::AclToken* old = view.state->FindToken(accessor_id))
      t.policy_ids = old->policy_ids;
  }
  std::string shown_secret;
  if (create) {
    t.accessor_id = body_accessor.empty() ? NewUuid() : body_accessor;
    shown_secret = secret.empty() ? NewUuid() : secret;
    t.secret_hash = HashSecret(shown_secret);
  } else {
    t.accessor_id = accessor_id;
    if (!secret.empty()) t.secret_hash = HashSecret(secret);
    if (accessor_id == core::kAnonymousTokenId && !secret.empty()) {
      co_return Response::Error(400, "SecretID: the anonymous token has no secret");
    }
  }
  std::string id = t.accessor_id;
  core::Command command = core::AclSetToken{std::move(t), create, {}};
  Result<core::Index> r = co_await state_.Submit(std::move(command));
  if (!r.ok()) co_return FromStatus(r.status());
  // On creation, the one time the secret is shown: after this only its hash exists.
  co_return TokenRead(registry_.Acl().state->FindToken(id), shown_secret);
}

asio::awaitable<Response> AclApi::Delete(core::Command command) {
  Result<core::Index> r = co_await state_.Submit(std::move(command));
  if (!r.ok()) co_return FromStatus(r.status());
  co_return Json("true");
}

Response AclApi::PolicyRead(const core::AclPolicy* p) const {
  if (p == nullptr) return Response::Error(404, "ACL policy not found");
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  Field(w, "ID", p->id);
  Field(w, "Name", p->name);
  Field(w, "Description", p->description);
  Field(w, "Rules", EncodeRules(p->rules));
  IndexFields(w, p->create_index, p->modify_index);
  w.EndObject();
  return Json({buf.GetString(), buf.GetSize()});
}

Response AclApi::TokenRead(const core::AclToken* t, std::string_view secret) const {
  if (t == nullptr) return Response::Error(404, "ACL token not found");
  server::AclView view = registry_.Acl();
  rapidjson::StringBuffer buf;
  Writer w(buf);
  WriteToken(w, *t, *view.state, secret);
  return Json({buf.GetString(), buf.GetSize()});
}

Response AclApi::Policies() const {
  server::AclView view = registry_.Acl();
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartArray();
  for (const auto& [id, p] : view.state->policies()) {
    w.StartObject();
    Field(w, "ID", p.id);
    Field(w, "Name", p.name);
    Field(w, "Description", p.description);
    IndexFields(w, p.create_index, p.modify_index);
    w.EndObject();
  }
  w.EndArray();
  return Json({buf.GetString(), buf.GetSize()});
}

Response AclApi::Tokens() const {
  server::AclView view = registry_.Acl();
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartArray();
  for (const auto& [id, t] : view.state->tokens()) WriteToken(w, t, *view.state, {});
  w.EndArray();
  return Json({buf.GetString(), buf.GetSize()});
}

}  // namespace concierge::http
