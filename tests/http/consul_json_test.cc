// Registration bodies as Consul's clients spell them: keys in any case, snake_case or
// kebab-case, and two spellings of one key refused.
#include "http/consul_json.h"

#include <gtest/gtest.h>

#include <string>

namespace concierge::http {
namespace {

TEST(ConsulJsonTest, KeysMatchInAnyCaseWithUnderscoresAndDashesIgnored) {
  auto r = DecodeServiceRegistration(
      R"({"id": "web-1", "NAME": "web", "tags": ["a"], "Port": 80,
          "check": {"t_t_l": "10s", "deregister-critical-service-after": "1m30s"}})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->service.id, "web-1");
  EXPECT_EQ(r->service.name, "web");
  EXPECT_EQ(r->service.port, 80);
  ASSERT_EQ(r->checks.size(), 1u);
  EXPECT_EQ(r->checks[0].ttl, std::chrono::seconds(10));
  EXPECT_EQ(r->checks[0].deregister_critical_after, std::chrono::seconds(90));
}

TEST(ConsulJsonTest, AKeyThatOnlyLooksAlikeIsNotTheField) {
  // "Names" is not "Name", nor is "Nam": the whole key has to match.
  auto r = DecodeServiceRegistration(R"({"Names": "x", "Nam": "y", "Name": "web"})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->service.name, "web");
  EXPECT_FALSE(DecodeServiceRegistration(R"({"Nam": "web"})").ok());
}

TEST(ConsulJsonTest, TwoSpellingsOfOneKeyAreRefused) {
  for (const char* body : {R"({"Name": "a", "name": "b"})", R"({"Name": "a", "N_A-me": "b"})",
                           R"({"Name": "web", "Check": {"TTL": "10s", "ttl": "20s"}})"}) {
    auto r = DecodeServiceRegistration(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_NE(r.status().message().find("given twice"), std::string::npos)
        << r.status().message();
  }
}

TEST(ConsulJsonTest, ManyKeysAreCheckedForDuplicatesToo) {
  // Past 32 keys the check uses a set instead of comparing pairs; both refuse a duplicate.
  std::string body = R"({"Name": "web", )";
  for (int i = 0; i < 40; ++i) body += "\"Unknown" + std::to_string(i) + "\": 1, ";
  auto ok = DecodeServiceRegistration(body + R"("Port": 80})");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->service.port, 80);
  auto r = DecodeServiceRegistration(body + R"("N_A_M_E": "other"})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("given twice"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace concierge::http
