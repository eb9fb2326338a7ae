// Access control, as Consul has it: policies hold rules (read/write/deny per service, node
// and agent name, exact or by prefix; operator and acl rights), tokens link policies, and an
// authorizer built from a token's policies answers "may this token do X on Y". Pure: secrets
// arrive already hashed, and the HTTP layer turns JSON into these values.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/model.h"
#include "core/status.h"

namespace concierge::core {

class Encoder;
class Decoder;
struct AclBootstrap;
struct AclSetPolicy;
struct AclDeletePolicy;
struct AclSetToken;
struct AclDeleteToken;

// Consul's levels. Deny wins over anything another policy grants for the same rule.
enum class AclAccess : std::uint8_t { kDeny = 0, kRead = 1, kWrite = 2 };
std::string_view ToString(AclAccess access);
std::optional<AclAccess> ParseAclAccess(std::string_view text);

// Resources whose rules are per name ("service", "service_prefix", ...).
enum class AclResource : std::uint8_t {
  kService = 0,
  kNode = 1,
  kAgent = 2,
  kKey = 3,      // KV keys
  kSession = 4,  // sessions, by the name of their node
};
inline constexpr std::size_t kAclResourceCount = 5;
std::string_view ToString(AclResource resource);

struct AclRule {
  AclResource resource = AclResource::kService;
  bool prefix = false;  // "service_prefix" rather than "service"
  std::string name;
  AclAccess access = AclAccess::kDeny;
  bool operator==(const AclRule&) const = default;
};

struct AclRules {
  std::vector<AclRule> rules;
  std::optional<AclAccess> operator_access;
  std::optional<AclAccess> acl_access;
  bool operator==(const AclRules&) const = default;
};

struct AclPolicy {
  std::string id;
  std::string name;
  std::string description;
  AclRules rules;
  Index create_index = 0;
  Index modify_index = 0;
  bool operator==(const AclPolicy&) const = default;
};

struct AclToken {
  std::string accessor_id;
  // SHA-256 of the SecretID (32 bytes); the secret itself is never stored. Empty for the
  // anonymous token, which no secret names.
  std::string secret_hash;
  std::string description;
  std::vector<std::string> policy_ids;
  Time create_time{};
  Index create_index = 0;
  Index modify_index = 0;
  bool operator==(const AclToken&) const = default;
};

// Built-ins, with Consul's IDs: the policy that grants everything, and the token used by
// requests that carry none.
inline constexpr std::string_view kGlobalManagementPolicyId =
    "00000000-0000-0000-0000-000000000001";
inline constexpr std::string_view kGlobalManagementPolicyName = "global-management";
inline constexpr std::string_view kAnonymousTokenId = "00000000-0000-0000-0000-000000000002";
inline constexpr std::size_t kSecretHashBytes = 32;

struct AclLimits {
  static constexpr std::size_t kMaxPolicies = 4096;
  static constexpr std::size_t kMaxTokens = 65536;
  static constexpr std::size_t kMaxRulesPerPolicy = 1024;
  static constexpr std::size_t kMaxPoliciesPerToken = 64;
  static constexpr std::size_t kMaxNameBytes = 128;      // policy names, IDs
  static constexpr std::size_t kMaxRuleNameBytes = 256;  // = the longest service name
  static constexpr std::size_t kMaxDescriptionBytes = 1024;
};

// What one token may do. Built from the token's policies: rules for the same name (or the
// same prefix) merge with deny winning, otherwise the higher level; an exact rule beats any
// prefix, and a longer prefix beats a shorter one. Where no rule matches, the default policy
// decides -- except for `acl` rights, which only a rule grants (as in Consul).
class AclAuthorizer {
 public:
  enum class Permission : std::uint8_t { kRead, kWrite };

  // ACLs disabled: everything is allowed, ACL management included.
  static std::shared_ptr<const AclAuthorizer> AllowAll();
  AclAuthorizer(std::string accessor_id, const std::vector<const AclRules*>& policies,
                bool default_allow);

  bool Allowed(AclResource resource, std::string_view name, Permission p) const;
  bool OperatorAllowed(Permission p) const;
  bool AclAllowed(Permission p) const;

  // Ok, or PermissionDenied with Consul's message, e.g. "Permission denied: token with
  // AccessorID '...' lacks permission 'service:write' on \"db\"".
  Status Require(AclResource resource, std::string_view name, Permission p) const;
  Status RequireOperator(Permission p) const;
  Status RequireAcl(Permission p) const;

  const std::string& accessor_id() const { return accessor_id_; }
  // ACLs are enforced (false for AllowAll).
  bool enforcing() const { return enforcing_; }

 private:
  AclAuthorizer() = default;
  struct Prefix {
    std::string prefix;
    AclAccess access;
  };
  struct Table {
    std::map<std::string, AclAccess, std::less<>> exact;
    std::vector<Prefix> prefixes;  // longest first
  };
  bool Decide(std::optional<AclAccess> access, Permission p, bool fallback) const;
  Status Denied(std::string_view permission, std::string_view name) const;

  std::string accessor_id_;
  bool enforcing_ = false;
  bool default_allow_ = true;
  bool manage_default_ = true;
  Table tables_[kAclResourceCount];
  std::optional<AclAccess> operator_;
  std::optional<AclAccess> acl_;
};

// The replicated ACL state: policies by ID, tokens by accessor ID, and whether bootstrap has
// happened. Starts with the global-management policy and the anonymous token.
class AclState {
 public:
  AclState();

  const std::map<std::string, AclPolicy, std::less<>>& policies() const { return policies_; }
  const std::map<std::string, AclToken, std::less<>>& tokens() const { return tokens_; }
  const AclPolicy* FindPolicy(std::string_view id) const;
  const AclPolicy* FindPolicyByName(std::string_view name) const;
  const AclToken* FindToken(std::string_view accessor_id) const;
  // The index bootstrap happened at, 0 if it has not.
  Index bootstrap_index() const { return bootstrap_index_; }

  // The token's authorizer (its policies' rules; links to deleted policies are skipped).
  std::shared_ptr<const AclAuthorizer> Authorize(const AclToken& token, bool default_allow) const;

  // Part of the catalog snapshot.
  void Encode(Encoder& e) const;
  static bool Decode(Decoder& d, AclState* out);

  // Each command is validated (ok, or why it is refused: InvalidArgument, NotFound,
  // Conflict, PermissionDenied for a second bootstrap) before it is applied as entry `index`.
  Status Validate(const AclBootstrap& cmd) const;
  Status Validate(const AclSetPolicy& cmd) const;
  Status Validate(const AclDeletePolicy& cmd) const;
  Status Validate(const AclSetToken& cmd) const;
  Status Validate(const AclDeleteToken& cmd) const;
  void Apply(const AclBootstrap& cmd, Index index);
  void Apply(const AclSetPolicy& cmd, Index index);
  void Apply(const AclDeletePolicy& cmd, Index index);
  void Apply(const AclSetToken& cmd, Index index);
  void Apply(const AclDeleteToken& cmd, Index index);

 private:
  Status ValidateNewToken(const AclToken& token) const;
  std::map<std::string, AclPolicy, std::less<>> policies_;
  std::map<std::string, AclToken, std::less<>> tokens_;
  Index bootstrap_index_ = 0;
};

// Tokens by hashed secret, with their authorizers compiled: what the HTTP layer resolves a
// request's token against. Immutable once built; rebuilt when the ACL state changes.
class AclTokenIndex {
 public:
  AclTokenIndex(const AclState& state, bool default_allow);

  struct Entry {
    std::string secret_hash;
    std::shared_ptr<const AclAuthorizer> authorizer;
  };
  // Tokens whose hash starts with the same 8 bytes as `secret_hash` (almost always at most
  // one); the caller compares the whole hash in constant time.
  std::vector<const Entry*> Candidates(std::string_view secret_hash) const;
  const std::shared_ptr<const AclAuthorizer>& anonymous() const { return anonymous_; }

 private:
  static std::uint64_t Key(std::string_view secret_hash);
  std::unordered_multimap<std::uint64_t, Entry> by_hash_;
  std::shared_ptr<const AclAuthorizer> anonymous_;
};

}  // namespace concierge::core
