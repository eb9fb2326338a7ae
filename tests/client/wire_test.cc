#include "client/wire.h"

#include <gtest/gtest.h>

namespace concierge::client {
namespace {

TEST(TargetsTest, Encoding) {
  EXPECT_EQ(Encode("a b&c=d/é~._-"), "a%20b%26c%3Dd%2F%C3%A9~._-");
  EXPECT_EQ(Encode("service:web 1/x@y", true), "service:web%201%2Fx@y");
}

TEST(TargetsTest, Deregister) {
  EXPECT_EQ(DeregisterTarget("web 1"), "/v1/agent/service/deregister/web%201");
}

TEST(TargetsTest, CheckMapsStatusToVerb) {
  EXPECT_EQ(CheckTarget("service:web-1", HealthStatus::kPassing, ""),
            "/v1/agent/check/pass/service:web-1");
  EXPECT_EQ(CheckTarget("c", HealthStatus::kWarning, "disk 91% full"),
            "/v1/agent/check/warn/c?note=disk%2091%25%20full");
  EXPECT_EQ(CheckTarget("c", ParseHealthStatus("critical"), ""), "/v1/agent/check/fail/c");
}

TEST(TargetsTest, Health) {
  EXPECT_EQ(HealthTarget("web", {.passing_only = false}), "/v1/health/service/web");
  EXPECT_EQ(HealthTarget("web", {.passing_only = true, .tags = {"v1", "a b"}}),
            "/v1/health/service/web?passing=1&tag=v1&tag=a%20b");
  EXPECT_EQ(
      HealthTarget("web", {.passing_only = false, .index = 42, .wait = std::chrono::minutes(5)}),
      "/v1/health/service/web?index=42&wait=300s");
  EXPECT_EQ(
      HealthTarget("web", {.passing_only = true, .index = 7, .wait = std::chrono::seconds(30)}),
      "/v1/health/service/web?passing=1&index=7&wait=30s");
}

TEST(ParseIndexTest, NumbersOnly) {
  std::string good = "42", empty, junk = "4x", negative = "-1";
  EXPECT_EQ(ParseIndex(&good), 42u);
  EXPECT_EQ(ParseIndex(nullptr), std::nullopt);
  EXPECT_EQ(ParseIndex(&empty), std::nullopt);
  EXPECT_EQ(ParseIndex(&junk), std::nullopt);
  EXPECT_EQ(ParseIndex(&negative), std::nullopt);
}

TEST(NextIndexTest, FollowsConsulsAdvice) {
  EXPECT_EQ(NextIndex(0, 17), 17u);
  EXPECT_EQ(NextIndex(17, 17), 17u) << "timed out without a change";
  EXPECT_EQ(NextIndex(17, 20), 20u);
  EXPECT_EQ(NextIndex(20, 3), 0u) << "went backwards: ask for the current state at once";
  EXPECT_EQ(NextIndex(0, 0), 1u) << "0 would never block";
}

}  // namespace
}  // namespace concierge::client
