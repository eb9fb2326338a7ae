#include "server/log_limit.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>

namespace concierge::server {
namespace {

using namespace std::chrono_literals;

TEST(LogLimiterTest, OneLinePerIntervalThenTheCountOfThoseHeldBack) {
  LogLimiter limiter(10s);
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  std::uint64_t held_back = 99;
  ASSERT_TRUE(limiter.Admit(t0, &held_back));
  EXPECT_EQ(held_back, 0u);
  for (int i = 0; i < 340000; ++i) EXPECT_FALSE(limiter.Admit(t0 + 1ms * (i % 9000), &held_back));
  EXPECT_FALSE(limiter.Admit(t0 + 10s - 1ns, &held_back));
  ASSERT_TRUE(limiter.Admit(t0 + 10s, &held_back));
  EXPECT_EQ(held_back, 340001u);
  EXPECT_EQ(HeldBackNote(held_back), " (and 340001 more like this since the last one logged)");
  ASSERT_TRUE(limiter.Admit(t0 + 25s, &held_back));
  EXPECT_EQ(held_back, 0u);
  EXPECT_EQ(HeldBackNote(0), "");
}

TEST(LogLimiterTest, EachPlaceHasItsOwnBudget) {
  std::uint64_t held_back = 0;
  static const char kFirst[] = "first";
  static const char kSecond[] = "second";
  EXPECT_TRUE(AdmitLimitedLine(kFirst, &held_back));
  EXPECT_TRUE(AdmitLimitedLine(kSecond, &held_back));
  EXPECT_FALSE(AdmitLimitedLine(kFirst, &held_back));
  EXPECT_FALSE(AdmitLimitedLine(kSecond, &held_back));
}

}  // namespace
}  // namespace concierge::server
