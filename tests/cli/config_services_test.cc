#include "cli/config_services.h"

#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "http/consul_json.h"

namespace concierge::cli {
namespace {

ConfigService Service(const std::string& json) {
  auto reg = http::DecodeServiceRegistration(json);
  EXPECT_TRUE(reg.ok()) << json;
  return {*reg, json, "agent.json"};
}

// Records what is sent; answers Unavailable `refusals` times first.
struct FakeLeader {
  std::mutex mu;
  int refusals = 0;
  std::vector<std::string> sent;  // "+id address json" or "-id"
  std::set<std::string> catalog;

  Status Send(const ConfigServices::Change& c) {
    std::lock_guard lock(mu);
    if (refusals > 0) {
      --refusals;
      return Status::Unavailable("no cluster leader");
    }
    if (c.deregister) {
      sent.push_back("-" + c.id);
      catalog.erase(c.id);
    } else {
      sent.push_back("+" + c.id + " " + c.registration.service.address.str() + " " + c.json);
      catalog.insert(c.id);
    }
    return Status::Ok();
  }
};

ConfigServices Make(FakeLeader& leader) {
  return ConfigServices([&leader](const ConfigServices::Change& c) { return leader.Send(c); },
                        [&leader](const std::string& id) {
                          std::lock_guard lock(leader.mu);
                          return leader.catalog.contains(id);
                        },
                        "10.0.0.7", std::chrono::milliseconds(1));
}

TEST(ConfigServicesTest, RetriesUntilALeaderTakesThemAndFillsInTheAddress) {
  FakeLeader leader;
  leader.refusals = 3;
  ConfigServices services = Make(leader);
  services.Apply({Service(R"({"ID": "web-1", "Name": "web", "address": ""})"),
                  Service(R"({"ID": "db-1", "Name": "db", "Address": "10.0.0.9"})")});
  ASSERT_TRUE(services.WaitSent(std::chrono::seconds(30)));
  EXPECT_EQ(leader.sent,
            (std::vector<std::string>{
                R"(+web-1 10.0.0.7 {"ID":"web-1","Name":"web","Address":"10.0.0.7"})",
                R"(+db-1 10.0.0.9 {"ID": "db-1", "Name": "db", "Address": "10.0.0.9"})"}));
}

TEST(ConfigServicesTest, AnApplyDeregistersWhatTheLastOneHadAndThisOneHasNot) {
  FakeLeader leader;
  ConfigServices services = Make(leader);
  services.Apply({Service(R"({"ID": "web-1", "Name": "web", "Address": "a"})"),
                  Service(R"({"ID": "db-1", "Name": "db", "Address": "a"})")});
  ASSERT_TRUE(services.WaitSent(std::chrono::seconds(30)));
  leader.sent.clear();
  services.Apply({Service(R"({"ID": "db-1", "Name": "db", "Address": "a"})")});
  ASSERT_TRUE(services.WaitSent(std::chrono::seconds(30)));
  EXPECT_EQ(leader.sent, (std::vector<std::string>{
                             R"(+db-1 a {"ID": "db-1", "Name": "db", "Address": "a"})", "-web-1"}));
}

TEST(ConfigServicesTest, StopEndsTheRetries) {
  FakeLeader leader;
  leader.refusals = 1 << 30;
  ConfigServices services = Make(leader);
  services.Apply({Service(R"({"ID": "web-1", "Name": "web"})")});
  EXPECT_FALSE(services.WaitSent(std::chrono::milliseconds(20)));
  services.Stop();
  EXPECT_TRUE(leader.sent.empty());
}

}  // namespace
}  // namespace concierge::cli
