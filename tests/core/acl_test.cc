#include "core/acl.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/catalog.h"
#include "core/codec.h"

namespace concierge::core {
namespace {

using P = AclAuthorizer::Permission;

AclRule Rule(AclResource resource, bool prefix, std::string name, AclAccess access) {
  return {resource, prefix, std::move(name), access};
}

AclRule Service(std::string name, AclAccess access) {
  return Rule(AclResource::kService, false, std::move(name), access);
}

AclRule ServicePrefix(std::string name, AclAccess access) {
  return Rule(AclResource::kService, true, std::move(name), access);
}

AclAuthorizer Authorizer(const std::vector<AclRules>& policies, bool default_allow = false) {
  std::vector<const AclRules*> ptrs;
  for (const AclRules& r : policies) ptrs.push_back(&r);
  return AclAuthorizer("tok-1", ptrs, default_allow);
}

AclRules Rules(std::vector<AclRule> rules) {
  AclRules r;
  r.rules = std::move(rules);
  return r;
}

TEST(AclAuthorizerTest, LongestPrefixWins) {
  auto a = Authorizer(
      {Rules({ServicePrefix("", AclAccess::kRead), ServicePrefix("web", AclAccess::kWrite),
              ServicePrefix("web-internal", AclAccess::kDeny)})});
  EXPECT_TRUE(a.Allowed(AclResource::kService, "db", P::kRead));
  EXPECT_FALSE(a.Allowed(AclResource::kService, "db", P::kWrite));
  EXPECT_TRUE(a.Allowed(AclResource::kService, "web", P::kWrite));
  EXPECT_TRUE(a.Allowed(AclResource::kService, "web-api", P::kWrite));
  EXPECT_FALSE(a.Allowed(AclResource::kService, "web-internal-1", P::kRead));
}

TEST(AclAuthorizerTest, ExactRuleBeatsAnyPrefix) {
  auto a = Authorizer(
      {Rules({ServicePrefix("web", AclAccess::kDeny), Service("web", AclAccess::kRead)})});
  EXPECT_TRUE(a.Allowed(AclResource::kService, "web", P::kRead));
  EXPECT_FALSE(a.Allowed(AclResource::kService, "web", P::kWrite));
  EXPECT_FALSE(a.Allowed(AclResource::kService, "web-2", P::kRead));
}

TEST(AclAuthorizerTest, DenyWinsAcrossPolicies) {
  auto a =
      Authorizer({Rules({ServicePrefix("", AclAccess::kWrite), Service("db", AclAccess::kWrite)}),
                  Rules({Service("db", AclAccess::kDeny)})});
  EXPECT_FALSE(a.Allowed(AclResource::kService, "db", P::kRead));
  EXPECT_TRUE(a.Allowed(AclResource::kService, "web", P::kWrite));
}

TEST(AclAuthorizerTest, HigherLevelWinsWithoutDeny) {
  auto a = Authorizer(
      {Rules({Service("web", AclAccess::kRead)}), Rules({Service("web", AclAccess::kWrite)})});
  EXPECT_TRUE(a.Allowed(AclResource::kService, "web", P::kWrite));
}

TEST(AclAuthorizerTest, DefaultPolicyDecidesWhereNoRuleMatches) {
  AclRules rules = Rules({Service("db", AclAccess::kDeny)});
  auto deny = Authorizer({rules}, false);
  auto allow = Authorizer({rules}, true);
  EXPECT_FALSE(deny.Allowed(AclResource::kService, "web", P::kRead));
  EXPECT_FALSE(deny.Allowed(AclResource::kNode, "n1", P::kRead));
  EXPECT_FALSE(deny.OperatorAllowed(P::kRead));
  EXPECT_TRUE(allow.Allowed(AclResource::kService, "web", P::kWrite));
  EXPECT_TRUE(allow.OperatorAllowed(P::kWrite));
  EXPECT_FALSE(allow.Allowed(AclResource::kService, "db", P::kRead));
  // ACL management comes from a rule only, whatever the default.
  EXPECT_FALSE(allow.AclAllowed(P::kRead));
}

TEST(AclAuthorizerTest, ResourcesAreSeparate) {
  auto a = Authorizer({Rules({ServicePrefix("", AclAccess::kWrite),
                              Rule(AclResource::kNode, true, "", AclAccess::kRead)})});
  EXPECT_TRUE(a.Allowed(AclResource::kNode, "n1", P::kRead));
  EXPECT_FALSE(a.Allowed(AclResource::kNode, "n1", P::kWrite));
  EXPECT_FALSE(a.Allowed(AclResource::kAgent, "n1", P::kRead));
}

TEST(AclAuthorizerTest, OperatorAndAclLevels) {
  AclRules r;
  r.operator_access = AclAccess::kRead;
  r.acl_access = AclAccess::kWrite;
  AclRules deny;
  deny.operator_access = AclAccess::kDeny;
  auto a = Authorizer({r});
  EXPECT_TRUE(a.OperatorAllowed(P::kRead));
  EXPECT_FALSE(a.OperatorAllowed(P::kWrite));
  EXPECT_TRUE(a.AclAllowed(P::kWrite));
  EXPECT_FALSE(Authorizer({r, deny}, true).OperatorAllowed(P::kRead));
}

TEST(AclAuthorizerTest, DeniedMessageNamesTheRight) {
  auto a = Authorizer({Rules({Service("web", AclAccess::kWrite)})});
  Status st = a.Require(AclResource::kService, "db", P::kWrite);
  EXPECT_EQ(st.code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(st.message(),
            "Permission denied: token with AccessorID 'tok-1' lacks permission 'service:write' "
            "on \"db\"");
  EXPECT_EQ(a.RequireOperator(P::kRead).message(),
            "Permission denied: token with AccessorID 'tok-1' lacks permission 'operator:read'");
  EXPECT_TRUE(a.Require(AclResource::kService, "web", P::kWrite).ok());
}

TEST(AclAuthorizerTest, AllowAllAllowsEverything) {
  auto a = AclAuthorizer::AllowAll();
  EXPECT_FALSE(a->enforcing());
  EXPECT_TRUE(a->Allowed(AclResource::kService, "db", P::kWrite));
  EXPECT_TRUE(a->AclAllowed(P::kWrite));
}

// --- Commands on the catalog ---

std::string Hash(char c) { return std::string(kSecretHashBytes, c); }

AclPolicy WebPolicy() {
  AclPolicy p;
  p.id = "p-web";
  p.name = "web-writer";
  p.rules = Rules({Service("web", AclAccess::kWrite)});
  return p;
}

AclToken Token(std::string accessor, char hash, std::vector<std::string> policies) {
  AclToken t;
  t.accessor_id = std::move(accessor);
  t.secret_hash = Hash(hash);
  t.policy_ids = std::move(policies);
  return t;
}

class AclCatalogTest : public ::testing::Test {
 protected:
  Status Apply(Command c) {
    auto r = catalog_.Apply(c, ++index_);
    return r.status();
  }
  Catalog catalog_;
  Index index_ = 1;
};

TEST_F(AclCatalogTest, StartsWithBuiltins) {
  const AclState& acl = catalog_.acl();
  ASSERT_NE(acl.FindPolicy(kGlobalManagementPolicyId), nullptr);
  ASSERT_NE(acl.FindToken(kAnonymousTokenId), nullptr);
  EXPECT_EQ(acl.bootstrap_index(), 0u);
}

TEST_F(AclCatalogTest, BootstrapOnlyOnce) {
  ASSERT_TRUE(Apply(AclBootstrap{Token("root", 'r', {}), {}}).ok());
  const AclToken* root = catalog_.acl().FindToken("root");
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(root->policy_ids, std::vector<std::string>{std::string(kGlobalManagementPolicyId)});
  EXPECT_EQ(catalog_.acl().bootstrap_index(), 2u);
  Status again = Apply(AclBootstrap{Token("root2", 's', {}), {}});
  EXPECT_EQ(again.code(), Status::Code::kPermissionDenied);
  EXPECT_NE(again.message().find("ACL bootstrap no longer allowed (reset index: 2)"),
            std::string::npos);
  AclTokenIndex index(catalog_.acl(), false);
  auto candidates = index.Candidates(Hash('r'));
  ASSERT_EQ(candidates.size(), 1u);
  EXPECT_TRUE(candidates[0]->authorizer->AclAllowed(P::kWrite));
  EXPECT_TRUE(index.Candidates(Hash('x')).empty());
  EXPECT_FALSE(index.anonymous()->Allowed(AclResource::kService, "web", P::kRead));
}

TEST_F(AclCatalogTest, PolicyAndTokenLifecycle) {
  ASSERT_TRUE(Apply(AclSetPolicy{WebPolicy(), true, {}}).ok());
  EXPECT_EQ(Apply(AclSetPolicy{WebPolicy(), true, {}}).code(), Status::Code::kConflict);
  AclPolicy same_name = WebPolicy();
  same_name.id = "p-other";
  EXPECT_EQ(Apply(AclSetPolicy{same_name, true, {}}).code(), Status::Code::kConflict);
  ASSERT_TRUE(Apply(AclSetToken{Token("t-web", 'w', {"p-web"}), true, {}}).ok());
  EXPECT_EQ(Apply(AclSetToken{Token("t-dup", 'w', {}), true, {}}).code(), Status::Code::kConflict);
  EXPECT_EQ(Apply(AclSetToken{Token("t-bad", 'b', {"nope"}), true, {}}).code(),
            Status::Code::kInvalidArgument);

  AclTokenIndex index(catalog_.acl(), false);
  auto web = index.Candidates(Hash('w'));
  ASSERT_EQ(web.size(), 1u);
  EXPECT_TRUE(web[0]->authorizer->Allowed(AclResource::kService, "web", P::kWrite));
  EXPECT_FALSE(web[0]->authorizer->Allowed(AclResource::kService, "db", P::kWrite));

  // An update keeps the secret and the creation index.
  AclToken update = Token("t-web", 'w', {});
  update.secret_hash.clear();
  update.description = "no rights";
  ASSERT_TRUE(Apply(AclSetToken{update, false, {}}).ok());
  const AclToken* t = catalog_.acl().FindToken("t-web");
  EXPECT_EQ(t->secret_hash, Hash('w'));
  EXPECT_TRUE(t->policy_ids.empty());
  EXPECT_LT(t->create_index, t->modify_index);

  // Deleting a policy unlinks it from tokens.
  ASSERT_TRUE(Apply(AclSetToken{Token("t-2", '2', {"p-web"}), true, {}}).ok());
  ASSERT_TRUE(Apply(AclDeletePolicy{"p-web", {}}).ok());
  EXPECT_TRUE(catalog_.acl().FindToken("t-2")->policy_ids.empty());
  EXPECT_EQ(Apply(AclDeletePolicy{"p-web", {}}).code(), Status::Code::kNotFound);
  ASSERT_TRUE(Apply(AclDeleteToken{"t-2", {}}).ok());
  EXPECT_EQ(catalog_.acl().FindToken("t-2"), nullptr);
}

TEST_F(AclCatalogTest, BuiltinsAreProtected) {
  EXPECT_FALSE(Apply(AclDeleteToken{std::string(kAnonymousTokenId), {}}).ok());
  EXPECT_FALSE(Apply(AclDeletePolicy{std::string(kGlobalManagementPolicyId), {}}).ok());
  AclPolicy changed = *catalog_.acl().FindPolicy(kGlobalManagementPolicyId);
  changed.rules.acl_access = AclAccess::kRead;
  EXPECT_EQ(Apply(AclSetPolicy{changed, false, {}}).code(), Status::Code::kInvalidArgument);
  // The anonymous token takes policies, so anonymous reads can be allowed per service.
  AclPolicy read_web = WebPolicy();
  read_web.rules = Rules({Service("web", AclAccess::kRead)});
  ASSERT_TRUE(Apply(AclSetPolicy{read_web, true, {}}).ok());
  AclToken anonymous = *catalog_.acl().FindToken(kAnonymousTokenId);
  anonymous.policy_ids = {"p-web"};
  ASSERT_TRUE(Apply(AclSetToken{anonymous, false, {}}).ok());
  AclTokenIndex index(catalog_.acl(), false);
  EXPECT_TRUE(index.anonymous()->Allowed(AclResource::kService, "web", P::kRead));
  EXPECT_FALSE(index.anonymous()->Allowed(AclResource::kService, "web", P::kWrite));
  EXPECT_FALSE(index.anonymous()->Allowed(AclResource::kService, "db", P::kRead));
}

TEST_F(AclCatalogTest, BadPolicyNamesAndLimits) {
  AclPolicy p = WebPolicy();
  p.name = "has space";
  EXPECT_EQ(Apply(AclSetPolicy{p, true, {}}).code(), Status::Code::kInvalidArgument);
  p = WebPolicy();
  p.rules.rules.assign(AclLimits::kMaxRulesPerPolicy + 1, Service("x", AclAccess::kRead));
  EXPECT_EQ(Apply(AclSetPolicy{p, true, {}}).code(), Status::Code::kInvalidArgument);
  p = WebPolicy();
  p.id = "a/b";
  EXPECT_EQ(Apply(AclSetPolicy{p, true, {}}).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(Apply(AclSetPolicy{WebPolicy(), false, {}}).code(), Status::Code::kNotFound);
}

TEST_F(AclCatalogTest, CommandsRoundTripThroughTheCodec) {
  AclPolicy p = WebPolicy();
  p.rules.operator_access = AclAccess::kRead;
  p.rules.rules.push_back(Rule(AclResource::kAgent, true, "", AclAccess::kDeny));
  std::vector<Command> commands = {
      AclBootstrap{Token("root", 'r', {}), Time(std::chrono::seconds(5))},
      AclSetPolicy{p, false, {}},
      AclDeletePolicy{"p-web", {}},
      AclSetToken{Token("t", 't', {"a", "b"}), true, {}},
      AclDeleteToken{"t", {}},
  };
  for (const Command& c : commands) {
    auto decoded = DecodeCommand(EncodeCommand(c));
    ASSERT_TRUE(decoded.ok()) << decoded.status().message();
    EXPECT_EQ(*decoded, c);
    EXPECT_TRUE(IsAclCommand(c));
    std::string bytes = EncodeCommand(c);
    EXPECT_FALSE(DecodeCommand(bytes.substr(0, bytes.size() - 1)).ok());
  }
}

TEST_F(AclCatalogTest, SnapshotCarriesAclState) {
  ASSERT_TRUE(Apply(AclBootstrap{Token("root", 'r', {}), {}}).ok());
  ASSERT_TRUE(Apply(AclSetPolicy{WebPolicy(), true, {}}).ok());
  ASSERT_TRUE(Apply(AclSetToken{Token("t-web", 'w', {"p-web"}), true, {}}).ok());
  std::string bytes = catalog_.EncodeSnapshot();
  EXPECT_EQ(static_cast<std::uint8_t>(bytes[0]), kSnapshotFormatVersion);
  auto restored = Catalog::DecodeSnapshot(bytes);
  ASSERT_TRUE(restored.ok()) << restored.status().message();
  EXPECT_EQ(restored->acl().policies(), catalog_.acl().policies());
  EXPECT_EQ(restored->acl().tokens(), catalog_.acl().tokens());
  EXPECT_EQ(restored->acl().bootstrap_index(), catalog_.acl().bootstrap_index());
  for (std::size_t cut = 1; cut < bytes.size(); cut += 7) {
    EXPECT_FALSE(Catalog::DecodeSnapshot(bytes.substr(0, cut)).ok()) << cut;
  }
}

TEST_F(AclCatalogTest, VersionTwoSnapshotStillDecodes) {
  // Version 2: header, no groups, no node maintenance; no ACL section.
  Encoder e;
  e.U8(2);
  e.Varint(7);
  e.Varint(3);
  e.Varint(0);
  e.U8(0);
  auto restored = Catalog::DecodeSnapshot(e.Take());
  ASSERT_TRUE(restored.ok()) << restored.status().message();
  EXPECT_EQ(restored->index(), 7u);
  EXPECT_EQ(restored->acl().bootstrap_index(), 0u);
  EXPECT_NE(restored->acl().FindToken(kAnonymousTokenId), nullptr);
}

TEST_F(AclCatalogTest, RestoringABackupFromBeforeAclsKeepsTheAcls) {
  ASSERT_TRUE(Apply(AclBootstrap{Token("root", 'r', {}), {}}).ok());
  Encoder e;
  e.U8(2);
  e.Varint(1);
  e.Varint(1);
  e.Varint(0);
  e.U8(0);
  ASSERT_TRUE(Apply(RestoreSnapshot{e.Take(), {}}).ok());
  EXPECT_NE(catalog_.acl().FindToken("root"), nullptr);
  // A backup with ACLs replaces them.
  ASSERT_TRUE(Apply(RestoreSnapshot{Catalog().EncodeSnapshot(), {}}).ok());
  EXPECT_EQ(catalog_.acl().FindToken("root"), nullptr);
  EXPECT_EQ(catalog_.acl().bootstrap_index(), 0u);
}

}  // namespace
}  // namespace concierge::core
