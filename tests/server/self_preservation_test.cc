// Self-preservation (DESIGN.md decision 4) with a fake clock: the decider alone, then the
// Registry holding and releasing expiries.
#include "server/self_preservation.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <string>

#include "server/clock.h"
#include "server/registry.h"
#include "server/watch_hub.h"

namespace concierge::server {
namespace {

using namespace std::chrono_literals;
using core::HealthStatus;

const core::Time kT0 = core::Time(std::chrono::seconds(1000));

TEST(SelfPreservationTest, OffByDefault) {
  SelfPreservation p(0, 30s);
  EXPECT_FALSE(p.enabled());
  EXPECT_FALSE(p.ShouldHold(kT0, 100, 100));
}

TEST(SelfPreservationTest, HoldsWhenMoreThanTheShareWouldExpire) {
  SelfPreservation p(0.5, 30s);
  EXPECT_FALSE(p.ShouldHold(kT0, 5, 10));  // exactly half: not more than half
  EXPECT_TRUE(p.ShouldHold(kT0, 6, 10));
  EXPECT_TRUE(p.active());
  EXPECT_FALSE(p.ShouldHold(kT0, 1, 10));
  EXPECT_FALSE(p.active());
}

TEST(SelfPreservationTest, CountsExpiriesAlreadyProposedWithinTheWindow) {
  SelfPreservation p(0.5, 30s);
  p.Proposed(kT0, 4);
  EXPECT_TRUE(p.ShouldHold(kT0 + 29s, 2, 10));   // 4 recent + 2 due > 5
  EXPECT_FALSE(p.ShouldHold(kT0 + 30s, 2, 10));  // the 4 left the window
}

TEST(SelfPreservationTest, NeverHoldsAFewExpiries) {
  SelfPreservation p(0.5, 30s);
  EXPECT_FALSE(p.ShouldHold(kT0, 1, 1));
  EXPECT_FALSE(p.ShouldHold(kT0, 2, 2));
  EXPECT_TRUE(p.ShouldHold(kT0, 3, 3));
}

class RegistryPreservationTest : public ::testing::Test {
 protected:
  RegistryPreservationTest() {
    spdlog::set_level(spdlog::level::off);
    RegistryOptions options;
    options.self_preservation_threshold = 0.5;
    options.self_preservation_window = 30s;
    registry_ = std::make_unique<Registry>(clock_, options, &hub_, metrics_);
    for (int i = 0; i < 10; ++i) {
      core::RegisterService r;
      r.service.id = "web-" + std::to_string(i);
      r.service.name = "web";
      core::CheckDefinition c;
      c.id = "service:" + r.service.id;
      c.ttl = 10s;
      c.initial_status = HealthStatus::kPassing;
      r.checks.push_back(c);
      EXPECT_TRUE(registry_->Apply(registry_->Prepare(r)).ok());
    }
  }
  void Beat(int from, int to) {
    for (int i = from; i < to; ++i) registry_->Heartbeat("service:web-" + std::to_string(i));
  }
  void Advance(core::Duration d) {
    clock_.Advance(d);
    registry_->RunTimers();
  }
  int Critical() {
    return static_cast<int>(registry_->instances_by_status(HealthStatus::kCritical));
  }

  FakeClock clock_;
  Metrics metrics_;
  WatchHub hub_;
  std::unique_ptr<Registry> registry_;
};

TEST_F(RegistryPreservationTest, AFewSilentInstancesStillExpire) {
  Advance(5s);
  Beat(0, 8);  // 2 of 10 go silent: below the share
  Advance(5s);
  EXPECT_EQ(Critical(), 2);
  EXPECT_FALSE(registry_->self_preservation());
}

TEST_F(RegistryPreservationTest, MassSilencePausesExpiryUntilHeartbeatsReturn) {
  Metrics& m = metrics_;
  std::uint64_t paused_before = m.expiries_paused.value();
  Advance(5s);
  Beat(0, 3);  // 7 of 10 go silent at once
  Advance(5s);
  EXPECT_EQ(Critical(), 0);
  EXPECT_TRUE(registry_->self_preservation());
  EXPECT_EQ(registry_->expiries_held(), 7u);
  EXPECT_EQ(m.expiries_paused.value() - paused_before, 7u);
  // The registry keeps looking while it holds them.
  ASSERT_TRUE(registry_->NextTimer().has_value());
  EXPECT_LE(*registry_->NextTimer(), 1s);
  Advance(20s);  // the other 3 fall silent too
  EXPECT_EQ(Critical(), 0);
  EXPECT_TRUE(registry_->self_preservation());
  EXPECT_EQ(registry_->expiries_held(), 10u);
  // Heartbeats return for 9 of the 10: expiry resumes on its own, and the one still silent
  // expires.
  Beat(0, 9);
  Advance(1s);
  EXPECT_FALSE(registry_->self_preservation());
  EXPECT_EQ(registry_->expiries_held(), 0u);
  EXPECT_EQ(Critical(), 1);
  auto inst = registry_->Instance("web-9");
  EXPECT_EQ(inst->checks[0].status, HealthStatus::kCritical);
}

TEST_F(RegistryPreservationTest, HeldChecksThatGoAwayAreForgotten) {
  Advance(10s);  // all 10 silent: held
  EXPECT_EQ(registry_->expiries_held(), 10u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(
        registry_
            ->Apply(registry_->Prepare(core::DeregisterService{"web-" + std::to_string(i), {}}))
            .ok());
  }
  Advance(1s);
  EXPECT_FALSE(registry_->self_preservation());
  EXPECT_EQ(registry_->expiries_held(), 0u);
}

}  // namespace
}  // namespace concierge::server
