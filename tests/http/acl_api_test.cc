#include "http/acl_api.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace concierge::http {
namespace {

using core::AclAccess;
using core::AclResource;

Request WithHeaders(std::vector<std::pair<std::string, std::string>> headers,
                    std::vector<std::pair<std::string, std::string>> query = {}) {
  Request r;
  r.headers = std::move(headers);
  r.query = std::move(query);
  return r;
}

TEST(AclTokenTest, TokenSourcesInConsulsOrder) {
  EXPECT_EQ(RequestToken(WithHeaders({})), "");
  EXPECT_EQ(RequestToken(WithHeaders({{"Authorization", "Bearer abc"}})), "abc");
  EXPECT_EQ(RequestToken(WithHeaders({{"authorization", "bearer  abc"}})), "abc");
  EXPECT_EQ(RequestToken(WithHeaders({{"Authorization", "Basic abc"}})), "");
  EXPECT_EQ(RequestToken(WithHeaders({{"Authorization", "Bearer abc"}, {"X-Consul-Token", "x"}})),
            "x");
  EXPECT_EQ(RequestToken(WithHeaders({{"X-Consul-Token", "x"}}, {{"token", "q"}})), "q");
}

TEST(AclTokenTest, HashIsSha256) {
  std::string h = HashSecret("abc");
  ASSERT_EQ(h.size(), 32u);
  EXPECT_EQ(static_cast<unsigned char>(h[0]), 0xba);
  EXPECT_EQ(static_cast<unsigned char>(h[31]), 0xad);
  EXPECT_NE(HashSecret("abd"), h);
}

TEST(AclTokenTest, UuidsAreVersion4AndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string id = NewUuid();
    ASSERT_EQ(id.size(), 36u);
    EXPECT_EQ(id[8], '-');
    EXPECT_EQ(id[14], '4');
    EXPECT_TRUE(seen.insert(id).second);
  }
}

TEST(AclRulesTest, DecodesConsulsJsonForm) {
  auto r = DecodeRules(R"({"service_prefix": {"": {"policy": "read"}},
                           "service": {"web": {"policy": "write", "intentions": "read"}},
                           "node_prefix": {"": {"policy": "read"}},
                           "agent": {"n1": {"policy": "deny"}},
                           "key_prefix": {"": {"policy": "write"}},
                           "operator": "read", "acl": "write"})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->rules.size(), 5u);
  EXPECT_EQ(r->operator_access, AclAccess::kRead);
  EXPECT_EQ(r->acl_access, AclAccess::kWrite);
  auto again = DecodeRules(EncodeRules(*r));
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->operator_access, r->operator_access);
  EXPECT_EQ(again->rules.size(), r->rules.size());
  EXPECT_TRUE(DecodeRules("").ok());
  EXPECT_TRUE(DecodeRules("  ").ok());
}

TEST(AclRulesTest, RefusesHclAndBadRulesWithMessages) {
  struct Case {
    const char* rules;
    const char* message;
  } cases[] = {
      {R"(service "web" { policy = "write" })", "not HCL"},
      {R"({"service": {"web": {"policy": "admin"}}})", "got \"admin\""},
      {R"({"services": {}})", "unknown resource \"services\""},
      {R"({"service": {"web": "write"}})", "expected {\"policy\": \"read\"}"},
      {R"({"service": {"web": {}}})", "missing \"policy\""},
      {R"({"service": {"web": {"policy": "read", "x": 1}}})", "unknown field \"x\""},
      {R"({"operator": 3})", "operator"},
      {R"({"service": [)", "not valid JSON"},
      {R"([[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[)", "not HCL"},
  };
  for (const Case& c : cases) {
    auto r = DecodeRules(c.rules);
    ASSERT_FALSE(r.ok()) << c.rules;
    EXPECT_NE(r.status().message().find(c.message), std::string::npos)
        << c.rules << " -> " << r.status().message();
  }
  std::string deep = "{\"a\":" + std::string(100000, '[');
  EXPECT_FALSE(DecodeRules(deep).ok());
}

}  // namespace
}  // namespace concierge::http
