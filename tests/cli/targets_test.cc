#include "cli/targets.h"

#include <gtest/gtest.h>

namespace concierge::cli {
namespace {

TEST(TargetsTest, Encoding) {
  EXPECT_EQ(EncodeQueryValue("a b&c=d/é~._-"), "a%20b%26c%3Dd%2F%C3%A9~._-");
  EXPECT_EQ(EncodePathSegment("service:web 1/x@y"), "service:web%201%2Fx@y");
}

TEST(TargetsTest, Deregister) {
  EXPECT_EQ(DeregisterTarget("web 1"), "/v1/agent/service/deregister/web%201");
}

TEST(TargetsTest, HeartbeatMapsStatusToVerb) {
  EXPECT_EQ(HeartbeatTarget("service:web-1", "passing", ""), "/v1/agent/check/pass/service:web-1");
  EXPECT_EQ(HeartbeatTarget("c", "warning", "disk 91% full"),
            "/v1/agent/check/warn/c?note=disk%2091%25%20full");
  EXPECT_EQ(HeartbeatTarget("c", "critical", ""), "/v1/agent/check/fail/c");
}

TEST(TargetsTest, Health) {
  EXPECT_EQ(HealthTarget("web", false, {}), "/v1/health/service/web");
  EXPECT_EQ(HealthTarget("web", true, {"v1", "a b"}),
            "/v1/health/service/web?passing=1&tag=v1&tag=a%20b");
  EXPECT_EQ(HealthTarget("web", false, {}, 42), "/v1/health/service/web?index=42&wait=5m");
  EXPECT_EQ(HealthTarget("web", true, {}, 7, "30s"),
            "/v1/health/service/web?passing=1&index=7&wait=30s");
}

}  // namespace
}  // namespace concierge::cli
