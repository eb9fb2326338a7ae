#include "cli/instances.h"

#include <gtest/gtest.h>

namespace concierge::cli {
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
  Result<std::vector<Instance>> got = ParseHealthService(kHealth);
  ASSERT_TRUE(got.ok()) << got.status().message();
  ASSERT_EQ(got->size(), 3u);

  const Instance& web1 = (*got)[0];
  EXPECT_EQ(web1.id, "web-1");
  EXPECT_EQ(web1.service, "web");
  EXPECT_EQ(web1.node, "n1");
  EXPECT_EQ(web1.Endpoint(), "10.0.0.1:80");
  EXPECT_TRUE(web1.tags.empty());
  EXPECT_EQ(web1.status, "passing");
  EXPECT_EQ(web1.output, "ok");

  const Instance& web2 = (*got)[1];
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
  Result<std::vector<Instance>> bad = ParseHealthService("[{");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("invalid JSON at offset"), std::string::npos);
}

TEST(ParseAgentServicesTest, ReadsTheMapSortedById) {
  Result<std::vector<Instance>> got = ParseAgentServices(R"({
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
  Instance i;
  EXPECT_EQ(i.Endpoint(), "-");
  i.address = "h";
  EXPECT_EQ(i.Endpoint(), "h");
  i.port = 1;
  EXPECT_EQ(i.Endpoint(), "h:1");
}

}  // namespace
}  // namespace concierge::cli
