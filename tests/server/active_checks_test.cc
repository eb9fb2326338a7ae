// What the registry tells the check runner: the active checks of the catalog, their status,
// and leadership; and that an active check's result is proposed like a TTL expiry.
#include "server/active_checks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <string>
#include <vector>

#include "server/clock.h"
#include "server/registry.h"

namespace concierge::server {
namespace {

using namespace std::chrono_literals;
using core::CheckDefinition;
using core::HealthStatus;
using ::testing::ElementsAre;

// Records every call as a line.
class FakeActiveChecks final : public ActiveChecks {
 public:
  void Track(std::string_view service_id, const CheckDefinition& d, HealthStatus s) override {
    calls.push_back("track " + std::string(service_id) + " " + d.id.str() + " " + d.active->target +
                    " " + std::string(core::ToString(s)));
  }
  void Untrack(std::string_view check_id) override {
    calls.push_back("untrack " + std::string(check_id));
  }
  void StatusChanged(std::string_view check_id, HealthStatus s) override {
    calls.push_back("status " + std::string(check_id) + " " + std::string(core::ToString(s)));
  }
  void SetLeader(bool leader) override { calls.push_back(leader ? "leader" : "follower"); }
  std::vector<std::string> calls;
};

CheckDefinition Http(std::string id, std::string url, core::Duration grace = {}) {
  CheckDefinition c;
  c.id = std::move(id);
  c.kind = core::CheckKind::kHttp;
  core::ActiveCheck active;
  active.target = std::move(url);
  active.interval = 10s;
  active.timeout = 1s;
  c.active = core::SharedConst<core::ActiveCheck>(std::move(active));
  c.deregister_critical_after = grace;
  return c;
}

core::RegisterService Reg(std::vector<CheckDefinition> checks) {
  core::RegisterService r;
  r.service.id = "web-1";
  r.service.name = "web";
  r.checks = std::move(checks);
  return r;
}

class ActiveChecksTest : public ::testing::Test {
 protected:
  ActiveChecksTest() { spdlog::set_level(spdlog::level::warn); }
  void MustApply(core::Command command) {
    auto r = registry_.Apply(registry_.Prepare(std::move(command)));
    ASSERT_TRUE(r.ok()) << r.status().message();
  }
  HealthStatus StatusOf(const std::string& check_id) {
    return registry_.Instance("web-1")->FindCheck(check_id)->status;
  }

  FakeClock clock_;
  Metrics metrics_;
  Registry registry_{clock_, RegistryOptions{}, nullptr, metrics_};
  FakeActiveChecks fake_;
};

TEST_F(ActiveChecksTest, TheRunnerLearnsTheCatalogsActiveChecksAndOnlyThose) {
  MustApply(Reg({Http("h1", "http://10.0.0.1/a")}));
  registry_.set_active_checks(&fake_);
  EXPECT_THAT(fake_.calls, ElementsAre("track web-1 h1 http://10.0.0.1/a critical", "leader"));
  fake_.calls.clear();

  CheckDefinition ttl;
  ttl.id = "t1";
  ttl.ttl = 10s;
  MustApply(Reg({Http("h1", "http://10.0.0.1/a"), Http("h2", "http://10.0.0.1/b"), ttl}));
  EXPECT_THAT(fake_.calls, ElementsAre("track web-1 h2 http://10.0.0.1/b critical"));
  EXPECT_EQ(registry_.tracked_checks(), 1u) << "only the TTL check is in the heartbeat table";
  EXPECT_FALSE(registry_.Heartbeat("h1").has_value()) << "active checks take no heartbeats";
  fake_.calls.clear();

  // Redefined: the runner starts over with the new definition.
  MustApply(Reg({Http("h1", "http://10.0.0.1/c"), Http("h2", "http://10.0.0.1/b"), ttl}));
  EXPECT_THAT(fake_.calls, ElementsAre("untrack h1", "track web-1 h1 http://10.0.0.1/c critical"));
  fake_.calls.clear();

  MustApply(core::DeregisterService{"web-1", {}});
  EXPECT_THAT(fake_.calls, ElementsAre("untrack h1", "untrack h2", "untrack t1"));
}

TEST_F(ActiveChecksTest, ResultsAreProposedOnTheLeaderAndTheirStatusComesBack) {
  registry_.set_active_checks(&fake_);
  MustApply(Reg({Http("h1", "http://10.0.0.1/a")}));
  fake_.calls.clear();

  registry_.Propose(core::UpdateCheck{
      "h1", HealthStatus::kPassing, "HTTP GET ...: 200 OK", {}, core::CheckCause::kActiveCheck});
  EXPECT_EQ(StatusOf("h1"), HealthStatus::kPassing);
  EXPECT_EQ(registry_.Instance("web-1")->FindCheck("h1")->output, "HTTP GET ...: 200 OK");
  EXPECT_THAT(fake_.calls, ElementsAre("status h1 passing"));

  // A follower proposes nothing, and the runner stops running.
  registry_.SetLeader(false);
  registry_.Propose(
      core::UpdateCheck{"h1", HealthStatus::kCritical, "", {}, core::CheckCause::kActiveCheck});
  EXPECT_EQ(StatusOf("h1"), HealthStatus::kPassing);
  EXPECT_THAT(fake_.calls, ElementsAre("status h1 passing", "follower"));
}

TEST_F(ActiveChecksTest, ACriticalActiveCheckIsReapedAfterItsGrace) {
  registry_.set_active_checks(&fake_);
  MustApply(Reg({Http("h1", "http://10.0.0.1/a", 30s)}));
  registry_.Propose(
      core::UpdateCheck{"h1", HealthStatus::kPassing, "", {}, core::CheckCause::kActiveCheck});
  clock_.Advance(1s);
  registry_.Propose(core::UpdateCheck{
      "h1", HealthStatus::kCritical, "refused", {}, core::CheckCause::kActiveCheck});
  clock_.Advance(29s);
  registry_.RunTimers();
  ASSERT_NE(registry_.Instance("web-1"), nullptr);
  clock_.Advance(1s);
  registry_.RunTimers();
  EXPECT_EQ(registry_.Instance("web-1"), nullptr);
  EXPECT_EQ(fake_.calls.back(), "untrack h1");
}

TEST_F(ActiveChecksTest, ARestoredSnapshotRetracksEverything) {
  registry_.set_active_checks(&fake_);
  MustApply(Reg({Http("h1", "http://10.0.0.1/a")}));
  std::string snapshot = registry_.Snapshot();
  fake_.calls.clear();
  ASSERT_TRUE(registry_.Restore(snapshot).ok());
  EXPECT_THAT(fake_.calls, ElementsAre("untrack h1", "track web-1 h1 http://10.0.0.1/a critical"));
}

}  // namespace
}  // namespace concierge::server
