#include "client/agent_api.h"

#include <gtest/gtest.h>

#include "fake_registry.h"

namespace concierge::client {
namespace {

constexpr const char* kHealth = R"([
  {"Node": {"Node": "n1", "Address": "10.0.0.9"},
   "Service": {"ID": "web-2", "Service": "web", "Tags": ["v2"], "Address": "", "Port": 81},
   "Checks": [
     {"CheckID": "serfHealth", "Status": "passing", "Output": "alive"},
     {"CheckID": "service:web-2", "Status": "warning", "Output": "slow"},
     {"CheckID": "service:web-2:2", "Status": "critical", "Output": "TTL expired"},
     {"CheckID": "service:web-2:3", "Status": "critical", "Output": "second critical"}]},
  {"Node": {"Node": "n1", "Address": "10.0.0.9"},
   "Service": {"ID": "web-1", "Service": "web", "Tags": null, "Address": "10.0.0.1", "Port": 80},
   "Checks": [{"CheckID": "service:web-1", "Status": "passing", "Output": "ok"}]},
  {"Node": {"Node": "n1", "Address": "10.0.0.9"},
   "Service": {"ID": "web-3", "Service": "web", "Port": 82},
   "Checks": []}
])";

TEST(ParseHealthServiceTest, ReadsInstancesSortedWithWorstStatus) {
  Result<std::vector<ServiceInstance>> got = ParseHealthService(kHealth);
  ASSERT_TRUE(got.ok()) << got.status().message();
  ASSERT_EQ(got->size(), 3u);

  const ServiceInstance& web1 = (*got)[0];
  EXPECT_EQ(web1.id, "web-1");
  EXPECT_EQ(web1.service, "web");
  EXPECT_EQ(web1.node, "n1");
  EXPECT_EQ(web1.Endpoint(), "10.0.0.1:80");
  EXPECT_TRUE(web1.tags.empty());
  EXPECT_EQ(web1.status, "passing");
  EXPECT_EQ(web1.output, "ok");

  const ServiceInstance& web2 = (*got)[1];
  EXPECT_EQ(web2.Endpoint(), "10.0.0.9:81") << "falls back to the node's address";
  EXPECT_EQ(web2.tags, std::vector<std::string>{"v2"});
  EXPECT_EQ(web2.status, "critical");
  EXPECT_EQ(web2.output, "TTL expired") << "the first of the worst checks";

  EXPECT_EQ((*got)[2].status, "passing") << "no checks";
}

TEST(ParseHealthServiceTest, MaintenanceIsWorstAndUnknownCountsAsCritical) {
  EXPECT_LT(StatusRank("passing"), StatusRank("warning"));
  EXPECT_LT(StatusRank("warning"), StatusRank("critical"));
  EXPECT_EQ(StatusRank("bogus"), StatusRank("critical"));
  EXPECT_GT(StatusRank("maintenance"), StatusRank("critical"));
}

TEST(ParseHealthServiceTest, RejectsWhatIsNotAList) {
  EXPECT_FALSE(ParseHealthService("{}").ok());
  Result<std::vector<ServiceInstance>> bad = ParseHealthService("[{");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("invalid JSON at offset"), std::string::npos);
}

TEST(ParseAgentServicesTest, ReadsTheMapSortedById) {
  Result<std::vector<ServiceInstance>> got = ParseAgentServices(R"({
    "web-2": {"ID": "web-2", "Service": "web", "Tags": ["a", "b"], "Address": "h", "Port": 2},
    "db": {"Service": "db", "Port": 5432}
  })");
  ASSERT_TRUE(got.ok()) << got.status().message();
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].id, "db") << "the key stands in for a missing ID";
  EXPECT_EQ((*got)[0].Endpoint(), ":5432");
  EXPECT_EQ((*got)[1].id, "web-2");
  EXPECT_EQ((*got)[1].tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ((*got)[1].Endpoint(), "h:2");
  EXPECT_FALSE(ParseAgentServices("[]").ok());
}

TEST(InstanceTest, Endpoint) {
  ServiceInstance i;
  EXPECT_EQ(i.Endpoint(), "-");
  i.address = "h";
  EXPECT_EQ(i.Endpoint(), "h");
  i.port = 1;
  EXPECT_EQ(i.Endpoint(), "h:1");
}

TEST(ParseAgentMembersTest, ReadsServersSortedByName) {
  constexpr const char* kMembers = R"([
    {"Name": "n2", "Addr": "127.0.0.1", "Port": 8302, "Status": 0,
     "Tags": {"role": "consul", "http": "127.0.0.1:8502", "leader": "false"}},
    {"Name": "n1", "Addr": "127.0.0.1", "Port": 8301, "Status": 1,
     "Tags": {"role": "consul", "http": "127.0.0.1:8501", "leader": "true"}},
    {"Name": "n3", "Addr": "::1", "Port": 8303, "Status": 1, "Tags": {}}
  ])";
  Result<std::vector<ServerMember>> got = ParseAgentMembers(kMembers);
  ASSERT_TRUE(got.ok()) << got.status().message();
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ((*got)[0].name, "n1");
  EXPECT_EQ((*got)[0].raft_address, "127.0.0.1:8301");
  EXPECT_EQ((*got)[0].http_address, "127.0.0.1:8501");
  EXPECT_TRUE((*got)[0].voter);
  EXPECT_TRUE((*got)[0].leader);
  EXPECT_EQ((*got)[1].name, "n2");
  EXPECT_FALSE((*got)[1].voter) << "Status 0: known but not in the Raft configuration";
  EXPECT_FALSE((*got)[1].leader);
  EXPECT_EQ((*got)[2].raft_address, "[::1]:8303");
  EXPECT_EQ((*got)[2].http_address, "");
}

TEST(ParseAgentMembersTest, RejectsWhatIsNotAList) {
  EXPECT_FALSE(ParseAgentMembers("{}").ok());
  Result<std::vector<ServerMember>> bad = ParseAgentMembers("[{");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("/v1/agent/members"), std::string::npos);
}

TEST(ParseRaftConfigurationTest, ReadsServersInOrder) {
  constexpr const char* kConfiguration = R"({"Servers": [
    {"ID": "17", "Node": "n2", "Address": "127.0.0.1:8302", "Leader": false, "Voter": true},
    {"ID": "9", "Node": "", "Address": "127.0.0.1:8301", "Leader": true, "Voter": true}
  ]})";
  Result<std::vector<RaftPeer>> got = ParseRaftConfiguration(kConfiguration);
  ASSERT_TRUE(got.ok()) << got.status().message();
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].id, "17");
  EXPECT_EQ((*got)[0].node, "n2");
  EXPECT_FALSE((*got)[0].leader);
  EXPECT_TRUE((*got)[0].voter);
  EXPECT_EQ((*got)[1].address, "127.0.0.1:8301");
  EXPECT_TRUE((*got)[1].leader);
}

TEST(ParseRaftConfigurationTest, RejectsAnswerWithoutServers) {
  EXPECT_FALSE(ParseRaftConfiguration("[]").ok());
  EXPECT_FALSE(ParseRaftConfiguration("{\"Servers\": {}}").ok());
}

TEST(RemovePeerTargetTest, EncodesTheAddress) {
  EXPECT_EQ(RemovePeerTarget("10.0.0.3:8300"), "/v1/operator/raft/peer?address=10.0.0.3%3A8300");
  EXPECT_EQ(RemovePeerTarget("[::1]:8300"), "/v1/operator/raft/peer?address=%5B%3A%3A1%5D%3A8300");
}

TEST(OneLineTest, CollapsesWhitespaceAndCuts) {
  EXPECT_EQ(OneLine("  a\n\tb  c \r\n", 100), "a b c");
  EXPECT_EQ(OneLine("", 10), "");
  EXPECT_EQ(OneLine("abcdefghij", 8), "abcde...");
  EXPECT_EQ(OneLine("abcdefgh", 8), "abcdefgh");
}

TEST(CallTest, AStatusOtherThan2xxIsTheFailureItStandsFor) {
  testing::FakeRegistry agent([](const std::string&, const std::string& target) {
    return testing::FakeReply{std::stoi(target.substr(1)), "no  such\nthing\n"};
  });
  Result<HttpClient> http = HttpClient::Open(agent.address());
  ASSERT_TRUE(http.ok()) << http.status().message();
  EXPECT_TRUE(Call(*http, "GET", "/201").ok());
  EXPECT_EQ(Call(*http, "GET", "/503").status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(Call(*http, "GET", "/403").status().code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(Call(*http, "GET", "/400").status().code(), Status::Code::kInvalidArgument);
  Result<Response> missing = Call(*http, "GET", "/404");
  EXPECT_EQ(missing.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(missing.status().message(), "agent answered 404: no such thing");
}

TEST(MaintenanceListTest, ReadsTheNodeAndServicesInTheAgentsOrder) {
  testing::FakeRegistry agent([](const std::string&, const std::string&) {
    return testing::FakeReply{200, R"({
      "_service_maintenance:web-1": {"Notes": "deploy"},
      "service:web-1": {"Notes": "not maintenance"},
      "_node_maintenance": {"Notes": "disk"}})"};
  });
  Result<HttpClient> http = HttpClient::Open(agent.address());
  ASSERT_TRUE(http.ok()) << http.status().message();
  Result<std::vector<Maintenance>> list = MaintenanceList(*http);
  ASSERT_TRUE(list.ok()) << list.status().message();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].service_id, "web-1");
  EXPECT_EQ((*list)[0].reason, "deploy");
  EXPECT_EQ((*list)[1].service_id, "");
  EXPECT_EQ((*list)[1].reason, "disk");
}

}  // namespace
}  // namespace concierge::client
