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
    EXPECT_NE(r.status().message().find("given twice"), std::string::npos) << r.status().message();
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

// Each kind of check from Consul's keys, with its own fields and defaults.
TEST(ConsulJsonTest, EveryCheckKindDecodes) {
  auto r = DecodeServiceRegistration(R"({"Name": "web", "ID": "web-1", "Checks": [
      {"UDP": "127.0.0.1:53", "Interval": "5s"},
      {"Args": ["/bin/check", "-v"], "Interval": "10s"},
      {"script_args": ["/bin/check"], "Interval": "10s", "Timeout": "1s"},
      {"GRPC": "127.0.0.1:50051/svc", "GRPCUseTLS": true, "TLSSkipVerify": true,
       "Interval": "10s"},
      {"H2PING": "127.0.0.1:443", "Interval": "10s"},
      {"H2PING": "127.0.0.1:80", "H2PingUseTLS": false, "Interval": "10s"},
      {"OSService": "nginx.service", "Interval": "10s"},
      {"AliasService": "db-1"},
      {"alias_node": "node-a"}]})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->checks.size(), 9u);
  using core::CheckKind;
  const auto& c = r->checks;
  EXPECT_EQ(c[0].kind, CheckKind::kUdp);
  EXPECT_EQ(c[0].active->timeout, std::chrono::seconds(10));
  EXPECT_EQ(c[1].kind, CheckKind::kScript);
  EXPECT_EQ(c[1].active->args, (std::vector<std::string>{"/bin/check", "-v"}));
  EXPECT_EQ(c[1].active->timeout, std::chrono::seconds(30));  // Consul's default for scripts
  EXPECT_EQ(c[2].active->args, (std::vector<std::string>{"/bin/check"}));
  EXPECT_EQ(c[3].kind, CheckKind::kGrpc);
  EXPECT_TRUE(c[3].active->use_tls);
  EXPECT_TRUE(c[3].active->tls_skip_verify);
  EXPECT_EQ(c[4].kind, CheckKind::kH2Ping);
  EXPECT_TRUE(c[4].active->use_tls);  // Consul's default
  EXPECT_FALSE(c[5].active->use_tls);
  EXPECT_EQ(c[6].kind, CheckKind::kOsService);
  EXPECT_EQ(c[6].active->target, "nginx.service");
  EXPECT_EQ(c[7].kind, CheckKind::kAlias);
  EXPECT_EQ(c[7].active->target, "db-1");
  EXPECT_EQ(c[8].active->alias_node, "node-a");

  EXPECT_EQ(CheckAgentPolicy(*r, false, "node-a").message().substr(0, 32),
            "Scripts are disabled on this age");
  auto alias = DecodeServiceRegistration(R"({"Name": "web", "Check": {"AliasNode": "node-a"}})");
  ASSERT_TRUE(alias.ok()) << alias.status().message();
  EXPECT_NE(CheckAgentPolicy(*alias, true, "node-b").message().find("Check.AliasNode"),
            std::string::npos);
}

TEST(ConsulJsonTest, MalformedChecksAreRefusedWithTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"GRPC": "127.0.0.1:1", "TCP": "127.0.0.1:1", "Interval": "1s"})",
       "give one kind of check; TCP and GRPC are both set"},
      {R"({"GRPC": "127.0.0.1:1"})", "Check.Interval: is required for grpc checks"},
      {R"({"Args": "true", "Interval": "1s"})", "Check.Args: expected an array of strings"},
      {R"({"Args": ["true"], "TTL": "10s"})", "give either a TTL or Args, not both"},
      {R"({"UDP": "127.0.0.1:53", "GRPCUseTLS": true, "Interval": "1s"})",
       "Check.GRPCUseTLS: is for GRPC checks only"},
      {R"({"TCP": "127.0.0.1:53", "TLSSkipVerify": true, "Interval": "1s"})",
       "Check.TLSSkipVerify: is for HTTP, GRPC and H2PING checks only"},
      {R"({"AliasService": "db", "Interval": "1s"})", "it takes no Interval or Timeout"},
      {R"({"Script": "/bin/true", "Interval": "1s"})", "a script check gives \"Args\""},
      {R"({"DockerContainerID": "abc", "Interval": "1s"})", "Docker checks"},
      {R"({"GRPC": "127.0.0.1:1", "GRPCUseTLS": "yes", "Interval": "1s"})",
       "Check.GRPCUseTLS: expected true or false"},
  };
  for (const auto& [check, message] : cases) {
    auto r = DecodeServiceRegistration(std::string(R"({"Name": "web", "Check": )") + check + "}");
    ASSERT_FALSE(r.ok()) << check;
    EXPECT_NE(r.status().message().find(message), std::string::npos)
        << check << ": " << r.status().message();
  }
}

}  // namespace
}  // namespace concierge::http
