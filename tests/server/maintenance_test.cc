// Maintenance checks in the server: never tracked as TTL checks, never expired, and counted
// in the instances-by-status gauge.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "server/clock.h"
#include "server/registry.h"
#include "server/watch_hub.h"

namespace concierge::server {
namespace {

using namespace std::chrono_literals;
using core::HealthStatus;

class MaintenanceTest : public ::testing::Test {
 protected:
  MaintenanceTest() {
    spdlog::set_level(spdlog::level::off);
    core::RegisterService r;
    r.service.id = "web-1";
    r.service.name = "web";
    core::CheckDefinition c;
    c.id = "service:web-1";
    c.ttl = 10s;
    c.initial_status = HealthStatus::kPassing;
    r.checks.push_back(c);
    Apply(r);
  }
  void Apply(core::Command command) {
    auto r = registry_.Apply(registry_.Prepare(std::move(command)));
    ASSERT_TRUE(r.ok()) << r.status().message();
  }

  FakeClock clock_;
  Metrics metrics_;
  WatchHub hub_;
  Registry registry_{clock_, RegistryOptions{}, &hub_, metrics_};
};

TEST_F(MaintenanceTest, MaintenanceChecksAreNotTrackedAndNeverExpire) {
  Apply(core::SetMaintenance{"web-1", true, "deploying", {}});
  Apply(core::SetMaintenance{"", true, "", {}});
  EXPECT_EQ(registry_.tracked_checks(), 1u);
  EXPECT_EQ(registry_.Heartbeat("_service_maintenance:web-1"), std::nullopt);
  EXPECT_EQ(registry_.Heartbeat("_node_maintenance"), std::nullopt);
  EXPECT_EQ(registry_.instances_by_status(HealthStatus::kCritical), 1);
  EXPECT_EQ(registry_.instances_by_status(HealthStatus::kPassing), 0);
  for (int i = 0; i < 10; ++i) {
    clock_.Advance(9s);
    registry_.Heartbeat("service:web-1");
    registry_.RunTimers();
  }
  auto inst = registry_.Instance("web-1");
  ASSERT_NE(inst, nullptr);
  EXPECT_EQ(inst->FindCheck("service:web-1")->status, HealthStatus::kPassing);
  EXPECT_EQ(inst->FindCheck("_service_maintenance:web-1")->status, HealthStatus::kCritical);
  Apply(core::SetMaintenance{"web-1", false, "", {}});
  Apply(core::SetMaintenance{"", false, "", {}});
  EXPECT_EQ(registry_.instances_by_status(HealthStatus::kPassing), 1);
  EXPECT_EQ(registry_.Instance("web-1")->AggregateStatus(), HealthStatus::kPassing);
}

TEST_F(MaintenanceTest, ARestoredSnapshotDoesNotTrackMaintenanceChecks) {
  Apply(core::SetMaintenance{"web-1", true, "", {}});
  std::string snapshot = registry_.Snapshot();
  Registry other(clock_, RegistryOptions{}, &hub_, metrics_);
  ASSERT_TRUE(other.Restore(snapshot).ok());
  EXPECT_EQ(other.tracked_checks(), 1u);
  EXPECT_EQ(other.instances_by_status(HealthStatus::kCritical), 1);
}

}  // namespace
}  // namespace concierge::server
