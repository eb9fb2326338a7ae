#include "concierge/balancer.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace concierge {
namespace {

using namespace std::chrono_literals;

class FakeClock final : public Clock {
 public:
  TimePoint Now() const override { return now_; }
  void Advance(Duration d) { now_ += d; }

 private:
  TimePoint now_{std::chrono::hours(1)};
};

Instance Make(std::string id, int weight = 1, HealthStatus health = HealthStatus::kPassing) {
  Instance i;
  i.id = std::move(id);
  i.service = "web";
  i.address = "10.0.0.1";
  i.port = 80;
  i.weights.passing = weight;
  i.health = health;
  return i;
}

std::string PickId(Balancer& b) {
  std::optional<Balancer::Lease> lease = b.Pick();
  if (!lease) return "";
  std::string id = lease->instance().id;
  lease->Success();
  return id;
}

TEST(BalancerTest, EmptyListPicksNothing) {
  Balancer b;
  EXPECT_FALSE(b.Pick().has_value());
}

TEST(BalancerTest, RoundRobinTakesTurns) {
  Balancer b({.policy = Policy::kRoundRobin});
  b.SetInstances({Make("a"), Make("b"), Make("c")});
  std::vector<std::string> got;
  for (int i = 0; i < 6; ++i) got.push_back(PickId(b));
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b", "c", "a", "b", "c"}));
}

TEST(BalancerTest, CriticalInstancesAreNeverPicked) {
  Balancer b;
  b.SetInstances({Make("a", 1, HealthStatus::kCritical), Make("b")});
  for (int i = 0; i < 4; ++i) EXPECT_EQ(PickId(b), "b");
}

TEST(BalancerTest, RandomCoversAllAndIsSeeded) {
  Balancer b1({.policy = Policy::kRandom, .seed = 42});
  Balancer b2({.policy = Policy::kRandom, .seed = 42});
  std::vector<Instance> list = {Make("a"), Make("b"), Make("c")};
  b1.SetInstances(list);
  b2.SetInstances(list);
  std::map<std::string, int> counts;
  for (int i = 0; i < 300; ++i) {
    std::string id = PickId(b1);
    EXPECT_EQ(id, PickId(b2));
    ++counts[id];
  }
  for (const char* id : {"a", "b", "c"}) EXPECT_GT(counts[id], 50) << id;
}

TEST(BalancerTest, WeightedIsProportionalAndSmooth) {
  Balancer b({.policy = Policy::kWeighted});
  b.SetInstances({Make("a", 5), Make("b", 1), Make("c", 1)});
  std::vector<std::string> got;
  for (int i = 0; i < 7; ++i) got.push_back(PickId(b));
  // nginx's example: {a:5, b:1, c:1} gives a a b a c a a.
  EXPECT_EQ(got, (std::vector<std::string>{"a", "a", "b", "a", "c", "a", "a"}));
}

TEST(BalancerTest, WeightedUsesTheWarningWeight) {
  Balancer b({.policy = Policy::kWeighted});
  Instance warn = Make("w", 100, HealthStatus::kWarning);
  warn.weights.warning = 1;
  b.SetInstances({Make("p", 1), warn});
  std::map<std::string, int> counts;
  for (int i = 0; i < 10; ++i) ++counts[PickId(b)];
  EXPECT_EQ(counts["p"], 5);
  EXPECT_EQ(counts["w"], 5);
}

TEST(BalancerTest, PowerOfTwoChoicesPrefersFewerInFlight) {
  Balancer b({.policy = Policy::kPowerOfTwoChoices, .seed = 7});
  b.SetInstances({Make("busy"), Make("idle")});
  std::vector<Balancer::Lease> held;
  for (int i = 0; i < 3; ++i) {
    std::optional<Balancer::Lease> lease = b.Pick();
    ASSERT_TRUE(lease);
    if (lease->instance().id == "busy") held.push_back(std::move(*lease));
  }
  // With two instances both are always compared: the less loaded one wins.
  std::optional<Balancer::Lease> extra;
  while (b.InFlight("busy") < 2) {
    extra = b.Pick();
    if (extra->instance().id == "busy") held.push_back(std::move(*extra));
  }
  for (int i = 0; i < 10; ++i) EXPECT_EQ(PickId(b), "idle");
  EXPECT_EQ(b.InFlight("idle"), 0) << "finished leases no longer count";
  held.clear();
  EXPECT_EQ(b.InFlight("busy"), 0);
}

TEST(BalancerTest, FailureEjectsForAWhileThenReadmits) {
  FakeClock clock;
  Balancer b({.base_ejection = 10s, .clock = &clock});
  b.SetInstances({Make("a"), Make("b")});
  std::optional<Balancer::Lease> lease = b.Pick();
  ASSERT_EQ(lease->instance().id, "a");
  lease->Failure();
  EXPECT_TRUE(b.IsEjected("a"));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(PickId(b), "b");
  clock.Advance(10s);
  EXPECT_FALSE(b.IsEjected("a"));
  std::set<std::string> seen;
  for (int i = 0; i < 4; ++i) seen.insert(PickId(b));
  EXPECT_EQ(seen, (std::set<std::string>{"a", "b"}));
}

TEST(BalancerTest, RepeatedEjectionsDoubleUpToTheMaximum) {
  FakeClock clock;
  Balancer b({.base_ejection = 10s, .max_ejection = 25s, .clock = &clock});
  b.SetInstances({Make("a"), Make("b")});
  auto fail_a = [&] {
    while (true) {
      std::optional<Balancer::Lease> lease = b.Pick();
      if (lease->instance().id == "a") {
        lease->Failure();
        return;
      }
    }
  };
  fail_a();
  clock.Advance(10s);
  fail_a();  // second ejection: 20 s
  clock.Advance(19s);
  EXPECT_TRUE(b.IsEjected("a"));
  clock.Advance(1s);
  EXPECT_FALSE(b.IsEjected("a"));
  fail_a();  // third: 40 s, capped at 25 s
  clock.Advance(24s);
  EXPECT_TRUE(b.IsEjected("a"));
  clock.Advance(1s);
  EXPECT_FALSE(b.IsEjected("a"));
}

TEST(BalancerTest, ConsecutiveFailuresThreshold) {
  FakeClock clock;
  Balancer b({.consecutive_failures = 2, .clock = &clock});
  b.SetInstances({Make("a")});
  b.Pick()->Failure();
  EXPECT_FALSE(b.IsEjected("a"));
  b.Pick()->Success();
  b.Pick()->Failure();
  EXPECT_FALSE(b.IsEjected("a")) << "a success in between resets the count";
  b.Pick()->Failure();
  EXPECT_TRUE(b.IsEjected("a"));
}

TEST(BalancerTest, AllEjectedFallsBackToAll) {
  FakeClock clock;
  Balancer b({.clock = &clock});
  b.SetInstances({Make("a"), Make("b")});
  b.Pick()->Failure();
  b.Pick()->Failure();
  EXPECT_TRUE(b.IsEjected("a"));
  EXPECT_TRUE(b.IsEjected("b"));
  EXPECT_NE(PickId(b), "");
}

TEST(BalancerTest, EjectionSurvivesAListUpdateAndForgetsRemovedInstances) {
  FakeClock clock;
  Balancer b({.clock = &clock});
  b.SetInstances({Make("a"), Make("b")});
  std::optional<Balancer::Lease> lease = b.Pick();
  ASSERT_EQ(lease->instance().id, "a");
  lease->Failure();
  b.SetInstances({Make("a"), Make("b"), Make("c")});
  EXPECT_TRUE(b.IsEjected("a"));
  b.SetInstances({Make("b")});
  EXPECT_FALSE(b.IsEjected("a"));
  EXPECT_EQ(PickId(b), "b");
}

TEST(BalancerTest, LeaseOutlivingARemovalIsHarmless) {
  Balancer b;
  b.SetInstances({Make("a")});
  std::optional<Balancer::Lease> lease = b.Pick();
  b.SetInstances({});
  lease->Failure();
  EXPECT_FALSE(b.Pick().has_value());
}

}  // namespace
}  // namespace concierge
