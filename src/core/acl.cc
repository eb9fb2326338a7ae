#include "core/acl.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "core/codec.h"
#include "core/command.h"

namespace concierge::core {

namespace {

// Merging two policies' rules for the same name: deny wins, otherwise the higher level.
AclAccess Merge(AclAccess a, AclAccess b) {
  if (a == AclAccess::kDeny || b == AclAccess::kDeny) return AclAccess::kDeny;
  return std::max(a, b);
}

void MergeInto(std::optional<AclAccess>& into, std::optional<AclAccess> add) {
  if (!add) return;
  into = into ? Merge(*into, *add) : *add;
}

std::string_view PermissionName(AclAuthorizer::Permission p) {
  return p == AclAuthorizer::Permission::kRead ? "read" : "write";
}

AclRules ManagementRules() {
  AclRules r;
  for (AclResource res : {AclResource::kService, AclResource::kNode, AclResource::kAgent,
                          AclResource::kKey, AclResource::kSession}) {
    r.rules.push_back({res, true, "", AclAccess::kWrite});
  }
  r.operator_access = AclAccess::kWrite;
  r.acl_access = AclAccess::kWrite;
  return r;
}

Status Invalid(std::string_view field, std::string_view what) {
  return Status::InvalidArgument(std::string(field) + ": " + std::string(what));
}

// IDs and names as Consul allows them (IDs are usually UUIDs; any printable text without '/'
// is accepted, so that IDs chosen by an operator work too).
Status CheckId(std::string_view field, std::string_view id) {
  if (id.empty()) return Invalid(field, "is empty");
  if (id.size() > AclLimits::kMaxNameBytes) {
    return Invalid(field, "is longer than " + std::to_string(AclLimits::kMaxNameBytes) + " bytes");
  }
  for (char c : id) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '/') {
      return Invalid(field, "contains a control character or '/'");
    }
  }
  return Status::Ok();
}

Status CheckDescription(std::string_view text) {
  if (text.size() > AclLimits::kMaxDescriptionBytes) {
    return Invalid("Description",
                   "is longer than " + std::to_string(AclLimits::kMaxDescriptionBytes) + " bytes");
  }
  return Status::Ok();
}

}  // namespace

std::string_view ToString(AclAccess access) {
  switch (access) {
    case AclAccess::kDeny:
      return "deny";
    case AclAccess::kRead:
      return "read";
    case AclAccess::kWrite:
      return "write";
  }
  return "deny";
}

std::optional<AclAccess> ParseAclAccess(std::string_view text) {
  if (text == "deny") return AclAccess::kDeny;
  if (text == "read") return AclAccess::kRead;
  if (text == "write") return AclAccess::kWrite;
  return std::nullopt;
}

std::string_view ToString(AclResource resource) {
  switch (resource) {
    case AclResource::kService:
      return "service";
    case AclResource::kNode:
      return "node";
    case AclResource::kAgent:
      return "agent";
    case AclResource::kKey:
      return "key";
    case AclResource::kSession:
      return "session";
  }
  return "service";
}

// --- AclAuthorizer ---

std::shared_ptr<const AclAuthorizer> AclAuthorizer::AllowAll() {
  static const std::shared_ptr<const AclAuthorizer> all(new AclAuthorizer());
  return all;
}

AclAuthorizer::AclAuthorizer(std::string accessor_id, const std::vector<const AclRules*>& policies,
                             bool default_allow)
    : accessor_id_(std::move(accessor_id)),
      enforcing_(true),
      default_allow_(default_allow),
      manage_default_(false) {
  std::map<std::string, AclAccess, std::less<>> prefixes[kAclResourceCount];
  for (const AclRules* rules : policies) {
    for (const AclRule& rule : rules->rules) {
      auto r = static_cast<std::size_t>(rule.resource);
      auto& into = rule.prefix ? prefixes[r] : tables_[r].exact;
      auto [it, inserted] = into.try_emplace(rule.name, rule.access);
      if (!inserted) it->second = Merge(it->second, rule.access);
    }
    MergeInto(operator_, rules->operator_access);
    MergeInto(acl_, rules->acl_access);
  }
  for (std::size_t r = 0; r < kAclResourceCount; ++r) {
    for (const auto& [prefix, access] : prefixes[r])
      tables_[r].prefixes.push_back({prefix, access});
    std::stable_sort(
        tables_[r].prefixes.begin(), tables_[r].prefixes.end(),
        [](const Prefix& a, const Prefix& b) { return a.prefix.size() > b.prefix.size(); });
  }
}

bool AclAuthorizer::Decide(std::optional<AclAccess> access, Permission p, bool fallback) const {
  if (!access) return fallback;
  if (p == Permission::kRead) return *access != AclAccess::kDeny;
  return *access == AclAccess::kWrite;
}

bool AclAuthorizer::Allowed(AclResource resource, std::string_view name, Permission p) const {
  if (!enforcing_) return true;
  const Table& t = tables_[static_cast<std::size_t>(resource)];
  std::optional<AclAccess> access;
  if (auto it = t.exact.find(name); it != t.exact.end()) {
    access = it->second;
  } else {
    for (const Prefix& prefix : t.prefixes) {
      if (name.starts_with(prefix.prefix)) {
        access = prefix.access;
        break;
      }
    }
  }
  return Decide(access, p, default_allow_);
}

bool AclAuthorizer::OperatorAllowed(Permission p) const {
  return !enforcing_ || Decide(operator_, p, default_allow_);
}

bool AclAuthorizer::AclAllowed(Permission p) const {
  return !enforcing_ || Decide(acl_, p, manage_default_);
}

Status AclAuthorizer::Denied(std::string_view permission, std::string_view name) const {
  std::string msg = "Permission denied: token with AccessorID '" + accessor_id_ +
                    "' lacks permission '" + std::string(permission) + "'";
  if (!name.empty()) msg += " on \"" + std::string(name) + "\"";
  return Status::PermissionDenied(std::move(msg));
}

Status AclAuthorizer::Require(AclResource resource, std::string_view name, Permission p) const {
  if (Allowed(resource, name, p)) return Status::Ok();
  return Denied(std::string(ToString(resource)) + ":" + std::string(PermissionName(p)), name);
}

Status AclAuthorizer::RequireOperator(Permission p) const {
  if (OperatorAllowed(p)) return Status::Ok();
  return Denied("operator:" + std::string(PermissionName(p)), "");
}

Status AclAuthorizer::RequireAcl(Permission p) const {
  if (AclAllowed(p)) return Status::Ok();
  return Denied("acl:" + std::string(PermissionName(p)), "");
}

// --- AclState ---

AclState::AclState() {
  AclPolicy management;
  management.id = std::string(kGlobalManagementPolicyId);
  management.name = std::string(kGlobalManagementPolicyName);
  management.description = "Builtin Policy that grants unlimited access";
  management.rules = ManagementRules();
  policies_.emplace(management.id, std::move(management));
  AclToken anonymous;
  anonymous.accessor_id = std::string(kAnonymousTokenId);
  anonymous.description = "Anonymous Token";
  tokens_.emplace(anonymous.accessor_id, std::move(anonymous));
}

const AclPolicy* AclState::FindPolicy(std::string_view id) const {
  auto it = policies_.find(id);
  return it == policies_.end() ? nullptr : &it->second;
}

const AclPolicy* AclState::FindPolicyByName(std::string_view name) const {
  for (const auto& [id, policy] : policies_) {
    if (policy.name == name) return &policy;
  }
  return nullptr;
}

const AclToken* AclState::FindToken(std::string_view accessor_id) const {
  auto it = tokens_.find(accessor_id);
  return it == tokens_.end() ? nullptr : &it->second;
}

std::shared_ptr<const AclAuthorizer> AclState::Authorize(const AclToken& token,
                                                         bool default_allow) const {
  std::vector<const AclRules*> rules;
  for (const std::string& id : token.policy_ids) {
    if (const AclPolicy* p = FindPolicy(id)) rules.push_back(&p->rules);
  }
  return std::make_shared<const AclAuthorizer>(token.accessor_id, rules, default_allow);
}

void AclState::Encode(Encoder& e) const {
  e.Varint(bootstrap_index_);
  e.Varint(policies_.size());
  for (const auto& [id, p] : policies_) PutAclPolicy(e, p);
  e.Varint(tokens_.size());
  for (const auto& [id, t] : tokens_) PutAclToken(e, t);
}

bool AclState::Decode(Decoder& d, AclState* out) {
  AclState s;
  s.policies_.clear();
  s.tokens_.clear();
  std::size_t n = 0;
  if (!d.Varint(&s.bootstrap_index_) || !GetCount(d, AclLimits::kMaxPolicies + 1, &n)) {
    return false;
  }
  for (std::size_t i = 0; i < n; ++i) {
    AclPolicy p;
    if (!GetAclPolicy(d, &p)) return false;
    std::string id = p.id;
    if (!s.policies_.emplace(std::move(id), std::move(p)).second) return false;
  }
  if (!GetCount(d, AclLimits::kMaxTokens + 1, &n)) return false;
  for (std::size_t i = 0; i < n; ++i) {
    AclToken t;
    if (!GetAclToken(d, &t)) return false;
    std::string id = t.accessor_id;
    if (!s.tokens_.emplace(std::move(id), std::move(t)).second) return false;
  }
  // The built-ins are always there. The management policy's rules are this build's (a
  // snapshot of a build with fewer resources holds fewer rules).
  if (!s.FindPolicy(kGlobalManagementPolicyId) || !s.FindToken(kAnonymousTokenId)) return false;
  s.policies_.find(kGlobalManagementPolicyId)->second.rules = ManagementRules();
  *out = std::move(s);
  return true;
}

Status AclState::ValidateNewToken(const AclToken& token) const {
  if (auto st = CheckId("AccessorID", token.accessor_id); !st.ok()) return st;
  if (FindToken(token.accessor_id) != nullptr) {
    return Status::Conflict("AccessorID: a token with AccessorID '" + token.accessor_id +
                            "' already exists");
  }
  if (token.secret_hash.size() != kSecretHashBytes) {
    return Invalid("SecretID", "missing (internal: the secret must arrive hashed)");
  }
  for (const auto& [id, t] : tokens_) {
    if (t.secret_hash == token.secret_hash) {
      return Status::Conflict("SecretID: another token already uses this SecretID");
    }
  }
  if (tokens_.size() >= AclLimits::kMaxTokens) {
    return Status::Conflict("too many tokens (the limit is " +
                            std::to_string(AclLimits::kMaxTokens) + ")");
  }
  return Status::Ok();
}

Status AclState::Validate(const AclBootstrap& cmd) const {
  if (bootstrap_index_ != 0) {
    return Status::PermissionDenied(
        "Permission denied: ACL bootstrap no longer allowed (reset index: " +
        std::to_string(bootstrap_index_) + ")");
  }
  return ValidateNewToken(cmd.token);
}

Status AclState::Validate(const AclSetPolicy& cmd) const {
  const AclPolicy& p = cmd.policy;
  if (auto st = CheckId("ID", p.id); !st.ok()) return st;
  if (p.name.empty() || p.name.size() > AclLimits::kMaxNameBytes) {
    return Invalid("Name", "must be 1 to " + std::to_string(AclLimits::kMaxNameBytes) + " bytes");
  }
  for (char c : p.name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return Invalid("Name", "\"" + p.name + "\" may contain only letters, digits, '-' and '_'");
    }
  }
  if (auto st = CheckDescription(p.description); !st.ok()) return st;
  if (p.rules.rules.size() > AclLimits::kMaxRulesPerPolicy) {
    return Invalid("Rules",
                   "more than " + std::to_string(AclLimits::kMaxRulesPerPolicy) + " rules");
  }
  for (const AclRule& r : p.rules.rules) {
    if (r.name.size() > AclLimits::kMaxRuleNameBytes) {
      return Invalid("Rules", "the name \"" + r.name.substr(0, 32) + "...\" is longer than " +
                                  std::to_string(AclLimits::kMaxRuleNameBytes) + " bytes");
    }
  }
  const AclPolicy* existing = FindPolicy(p.id);
  if (cmd.create && existing != nullptr) {
    return Status::Conflict("ID: a policy with ID '" + p.id + "' already exists");
  }
  if (!cmd.create && existing == nullptr) {
    return Status::NotFound("no policy with ID '" + p.id + "'");
  }
  if (const AclPolicy* named = FindPolicyByName(p.name); named != nullptr && named->id != p.id) {
    return Status::Conflict("Name: a policy named \"" + p.name + "\" already exists (ID '" +
                            named->id + "')");
  }
  if (p.id == kGlobalManagementPolicyId && !(p.rules == existing->rules)) {
    return Invalid("Rules", "the rules of the builtin global-management policy cannot change");
  }
  if (cmd.create && policies_.size() >= AclLimits::kMaxPolicies) {
    return Status::Conflict("too many policies (the limit is " +
                            std::to_string(AclLimits::kMaxPolicies) + ")");
  }
  return Status::Ok();
}

Status AclState::Validate(const AclDeletePolicy& cmd) const {
  if (cmd.id == kGlobalManagementPolicyId) {
    return Status::InvalidArgument("the builtin global-management policy cannot be deleted");
  }
  if (FindPolicy(cmd.id) == nullptr) return Status::NotFound("no policy with ID '" + cmd.id + "'");
  return Status::Ok();
}

Status AclState::Validate(const AclSetToken& cmd) const {
  const AclToken& t = cmd.token;
  if (auto st = CheckDescription(t.description); !st.ok()) return st;
  if (t.policy_ids.size() > AclLimits::kMaxPoliciesPerToken) {
    return Invalid("Policies",
                   "more than " + std::to_string(AclLimits::kMaxPoliciesPerToken) + " policies");
  }
  for (std::size_t i = 0; i < t.policy_ids.size(); ++i) {
    if (FindPolicy(t.policy_ids[i]) == nullptr) {
      return Invalid("Policies", "no policy with ID '" + t.policy_ids[i] + "'");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (t.policy_ids[j] == t.policy_ids[i]) {
        return Invalid("Policies", "policy '" + t.policy_ids[i] + "' is linked twice");
      }
    }
  }
  if (cmd.create) return ValidateNewToken(t);
  const AclToken* existing = FindToken(t.accessor_id);
  if (existing == nullptr)
    return Status::NotFound("no token with AccessorID '" + t.accessor_id + "'");
  if (!t.secret_hash.empty() && t.secret_hash != existing->secret_hash) {
    return Invalid("SecretID", "cannot be changed; create a new token instead");
  }
  return Status::Ok();
}

Status AclState::Validate(const AclDeleteToken& cmd) const {
  if (cmd.accessor_id == kAnonymousTokenId) {
    return Status::InvalidArgument("the anonymous token cannot be deleted");
  }
  if (FindToken(cmd.accessor_id) == nullptr) {
    return Status::NotFound("no token with AccessorID '" + cmd.accessor_id + "'");
  }
  return Status::Ok();
}

void AclState::Apply(const AclBootstrap& cmd, Index index) {
  AclToken t = cmd.token;
  t.policy_ids = {std::string(kGlobalManagementPolicyId)};
  t.description = "Bootstrap Token (Global Management)";
  t.create_time = cmd.at;
  t.create_index = t.modify_index = index;
  bootstrap_index_ = index;
  std::string id = t.accessor_id;
  tokens_.insert_or_assign(std::move(id), std::move(t));
}

void AclState::Apply(const AclSetPolicy& cmd, Index index) {
  AclPolicy p = cmd.policy;
  const AclPolicy* existing = FindPolicy(p.id);
  p.create_index = existing != nullptr ? existing->create_index : index;
  p.modify_index = index;
  std::string id = p.id;
  policies_.insert_or_assign(std::move(id), std::move(p));
}

void AclState::Apply(const AclDeletePolicy& cmd, Index index) {
  policies_.erase(cmd.id);
  for (auto& [id, t] : tokens_) {
    auto it = std::find(t.policy_ids.begin(), t.policy_ids.end(), cmd.id);
    if (it == t.policy_ids.end()) continue;
    t.policy_ids.erase(it);
    t.modify_index = index;
  }
}

void AclState::Apply(const AclSetToken& cmd, Index index) {
  AclToken t = cmd.token;
  if (const AclToken* existing = FindToken(t.accessor_id)) {
    t.secret_hash = existing->secret_hash;
    t.create_time = existing->create_time;
    t.create_index = existing->create_index;
  } else {
    t.create_time = cmd.at;
    t.create_index = index;
  }
  t.modify_index = index;
  std::string id = t.accessor_id;
  tokens_.insert_or_assign(std::move(id), std::move(t));
}

void AclState::Apply(const AclDeleteToken& cmd, Index) { tokens_.erase(cmd.accessor_id); }

// --- AclTokenIndex ---

AclTokenIndex::AclTokenIndex(const AclState& state, bool default_allow) {
  for (const auto& [id, token] : state.tokens()) {
    if (id == kAnonymousTokenId) {
      anonymous_ = state.Authorize(token, default_allow);
    } else if (token.secret_hash.size() == kSecretHashBytes) {
      by_hash_.emplace(Key(token.secret_hash),
                       Entry{token.secret_hash, state.Authorize(token, default_allow)});
    }
  }
}

std::uint64_t AclTokenIndex::Key(std::string_view secret_hash) {
  std::uint64_t key = 0;
  std::memcpy(&key, secret_hash.data(), std::min(sizeof key, secret_hash.size()));
  return key;
}

std::vector<const AclTokenIndex::Entry*> AclTokenIndex::Candidates(
    std::string_view secret_hash) const {
  std::vector<const Entry*> out;
  auto [begin, end] = by_hash_.equal_range(Key(secret_hash));
  for (auto it = begin; it != end; ++it) out.push_back(&it->second);
  return out;
}

}  // namespace concierge::core
