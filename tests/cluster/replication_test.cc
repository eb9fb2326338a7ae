// Replication through three in-process servers (cluster_fixture.h): what a write on the leader
// does on every server, an election after the leader stops, and a follower catching up.
#include <gtest/gtest.h>

#include <string>

#include "cluster_fixture.h"

namespace concierge::cluster_test {
namespace {

core::RegisterService Reg(const std::string& id) {
  core::RegisterService r;
  r.service.id = id;
  r.service.name = "web";
  return r;
}

// `id` is registered on every running server.
bool OnAll(const Cluster& c, const std::string& id) {
  for (int i = 0; i < c.size(); ++i) {
    if (c.running(i) && c.registry(i).Instance(id) == nullptr) return false;
  }
  return true;
}

TEST(ClusterTest, AWriteOnTheLeaderIsAppliedOnAllThree) {
  Cluster c;
  c.StartAll();
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  Result<core::Index> index = c.Write(leader, Reg("web-1"));
  ASSERT_TRUE(index.ok()) << index.status().message();
  ASSERT_TRUE(c.WaitFor([&] { return OnAll(c, "web-1"); }));
}

TEST(ClusterTest, AFollowerRefusesWrites) {
  Cluster c;
  c.StartAll();
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  int follower = (leader + 1) % c.size();
  EXPECT_FALSE(c.Write(follower, Reg("web-1")).ok());
  EXPECT_EQ(c.registry(leader).Instance("web-1"), nullptr);
}

TEST(ClusterTest, WhenTheLeaderStopsAnotherIsElectedAndTakesWrites) {
  Cluster c;
  c.StartAll();
  int first = c.WaitForLeader();
  ASSERT_GE(first, 0);
  ASSERT_TRUE(c.Write(first, Reg("before")).ok());
  c.Stop(first);
  int second = c.WaitForLeader();
  ASSERT_GE(second, 0);
  EXPECT_NE(second, first);
  // The new leader holds what the old one committed, and takes new writes.
  EXPECT_NE(c.registry(second).Instance("before"), nullptr);
  Result<core::Index> index = c.Write(second, Reg("after"));
  ASSERT_TRUE(index.ok()) << index.status().message();
  ASSERT_TRUE(c.WaitFor([&] { return OnAll(c, "after"); }));
}

TEST(ClusterTest, AFollowerThatWasDownCatchesUp) {
  Cluster c;
  c.StartAll();
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  int follower = (leader + 1) % c.size();
  c.Stop(follower);
  // Two of three are a quorum: writes go on while the follower is down.
  for (int i = 0; i < 20; ++i) {
    Result<core::Index> index = c.Write(leader, Reg("web-" + std::to_string(i)));
    ASSERT_TRUE(index.ok()) << i << ": " << index.status().message();
  }
  c.Start(follower);
  ASSERT_TRUE(
      c.WaitFor([&] { return c.registry(follower).instance_count() == 20 && OnAll(c, "web-19"); }));
}

}  // namespace
}  // namespace concierge::cluster_test
