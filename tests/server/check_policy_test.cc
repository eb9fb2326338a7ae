#include "server/check_policy.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace concierge::server {
namespace {

using namespace std::chrono_literals;
using core::HealthStatus;

constexpr HealthStatus kPass = HealthStatus::kPassing;
constexpr HealthStatus kWarn = HealthStatus::kWarning;
constexpr HealthStatus kCrit = HealthStatus::kCritical;

TEST(CheckPolicyTest, HttpCodes) {
  EXPECT_EQ(StatusOfHttpCode(200), kPass);
  EXPECT_EQ(StatusOfHttpCode(204), kPass);
  EXPECT_EQ(StatusOfHttpCode(299), kPass);
  EXPECT_EQ(StatusOfHttpCode(429), kWarn);
  for (int code : {100, 199, 300, 301, 304, 400, 404, 428, 430, 500, 503, 999}) {
    EXPECT_EQ(StatusOfHttpCode(code), kCrit) << code;
  }
}

// Feeds results and collects what the filter reports after each (nullopt: held back).
std::vector<std::optional<HealthStatus>> Feed(FlapFilter& f, std::vector<HealthStatus> results) {
  std::vector<std::optional<HealthStatus>> out;
  for (HealthStatus r : results) out.push_back(f.Observe(r));
  return out;
}

TEST(CheckPolicyTest, WithoutCountersEveryResultCounts) {
  for (std::uint32_t zero_or_one : {0u, 1u}) {
    FlapFilter f(zero_or_one, zero_or_one);
    EXPECT_EQ(Feed(f, {kPass, kCrit, kWarn, kCrit}),
              (std::vector<std::optional<HealthStatus>>{kPass, kCrit, kWarn, kCrit}));
  }
}

TEST(CheckPolicyTest, FailuresBeforeCriticalHoldsBackShortRunsOfFailures) {
  FlapFilter f(0, 3);
  EXPECT_EQ(Feed(f, {kPass, kCrit, kCrit, kPass, kCrit, kCrit, kCrit, kCrit}),
            (std::vector<std::optional<HealthStatus>>{kPass, std::nullopt, std::nullopt, kPass,
                                                      std::nullopt, std::nullopt, kCrit, kCrit}));
}

TEST(CheckPolicyTest, SuccessBeforePassingHoldsBackShortRunsOfSuccesses) {
  FlapFilter f(2, 0);
  // Warning counts as a success, as in Consul; a failure restarts the run.
  EXPECT_EQ(Feed(f, {kCrit, kPass, kCrit, kPass, kWarn, kPass}),
            (std::vector<std::optional<HealthStatus>>{kCrit, std::nullopt, kCrit, std::nullopt,
                                                      kWarn, kPass}));
}

TEST(CheckPolicyTest, ResetStartsTheRunsAgain) {
  FlapFilter f(0, 2);
  EXPECT_EQ(f.Observe(kCrit), std::nullopt);
  f.Reset();
  EXPECT_EQ(f.Observe(kCrit), std::nullopt);
  EXPECT_EQ(f.Observe(kCrit), kCrit);
}

TEST(CheckPolicyTest, FirstRunsSpreadOverTheInterval) {
  // 1,000 checks registered at once: every offset within the interval, none piled up.
  const core::Duration interval = 10s;
  std::vector<int> per_second(10);
  for (int i = 0; i < 1000; ++i) {
    core::Duration offset = FirstRunOffset("service:web-" + std::to_string(i), interval);
    ASSERT_GE(offset, core::Duration::zero());
    ASSERT_LT(offset, interval);
    ++per_second[static_cast<std::size_t>(offset / 1s)];
  }
  for (int n : per_second) {
    EXPECT_GT(n, 60);
    EXPECT_LT(n, 140);
  }
  // Stable: a check keeps its slot.
  EXPECT_EQ(FirstRunOffset("a", interval), FirstRunOffset("a", interval));
  EXPECT_EQ(FirstRunOffset("a", core::Duration::zero()), core::Duration::zero());
}

TEST(CheckPolicyTest, OutputIsConsulsLineCutToTheLimit) {
  EXPECT_EQ(HttpCheckOutput("GET", "http://x/h", 200, "OK", "fine", 4096),
            "HTTP GET http://x/h: 200 OK Output: fine");
  std::string big(10000, 'b');
  std::string out = HttpCheckOutput("GET", "http://x/h", 500, "Internal Server Error", big, 4096);
  EXPECT_EQ(out.size(), 4096u);
  EXPECT_TRUE(out.starts_with("HTTP GET http://x/h: 500 Internal Server Error Output: bbb"));
  EXPECT_EQ(HttpCheckOutput("GET", "http://x/h", 200, "OK", "", 10), "HTTP GET h");
  // Issue 18: a body that is not UTF-8, or cut inside a character, is stored as valid UTF-8.
  EXPECT_EQ(HttpCheckOutput("GET", "http://x/h", 200, "OK", "a\xFF\xC3(", 4096),
            "HTTP GET http://x/h: 200 OK Output: a\xEF\xBF\xBD\xEF\xBF\xBD(");
  EXPECT_EQ(HttpCheckOutput("GET", "http://x/h", 200, "OK", "\xC3\xA9\xC3\xA9", 39),
            "HTTP GET http://x/h: 200 OK Output: \xC3\xA9");
  EXPECT_EQ(HttpCheckError("HEAD", "http://x/", "timed out after 1s", 4096),
            "HTTP HEAD http://x/: timed out after 1s");
  EXPECT_EQ(TcpCheckOutput("10.0.0.1:5432", "", 4096), "TCP connect 10.0.0.1:5432: Success");
  EXPECT_EQ(TcpCheckOutput("10.0.0.1:5432", "Connection refused", 4096),
            "dial tcp 10.0.0.1:5432: Connection refused");
}

TEST(NetworkAllowListTest, ParsesBlocksAndMatchesAddresses) {
  auto empty = NetworkAllowList::Parse("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->Allows(boost::asio::ip::make_address("169.254.169.254")));
  auto list = NetworkAllowList::Parse(" 10.0.0.0/8, 192.168.1.0/24,fd00::/8 ,127.0.0.1/32");
  ASSERT_TRUE(list.ok()) << list.status().message();
  EXPECT_EQ(list->ToString(), "10.0.0.0/8,192.168.1.0/24,fd00::/8,127.0.0.1/32");
  for (const char* yes : {"10.1.2.3", "192.168.1.200", "fd00::1", "127.0.0.1", "::ffff:10.0.0.1"}) {
    EXPECT_TRUE(list->Allows(boost::asio::ip::make_address(yes))) << yes;
  }
  for (const char* no :
       {"11.0.0.1", "192.168.2.1", "fe80::1", "127.0.0.2", "169.254.169.254", "::1"}) {
    EXPECT_FALSE(list->Allows(boost::asio::ip::make_address(no))) << no;
  }
  for (const char* bad : {"10.0.0.0", "10.0.0.0/33", "fd00::/129", "ten/8", "10.0.0.0/8x"}) {
    auto r = NetworkAllowList::Parse(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("-check-allowed-networks"), std::string::npos);
  }
}

TEST(CheckPolicyTest, ScriptExitCodesAndUnitStatesAsConsul) {
  EXPECT_EQ(StatusOfExitCode(0), HealthStatus::kPassing);
  EXPECT_EQ(StatusOfExitCode(1), HealthStatus::kWarning);
  for (int code : {2, 126, 127, 128 + 9, 255}) {
    EXPECT_EQ(StatusOfExitCode(code), HealthStatus::kCritical) << code;
  }
  EXPECT_EQ(StatusOfUnitState("active\n"), HealthStatus::kPassing);
  EXPECT_EQ(StatusOfUnitState("reloading"), HealthStatus::kPassing);
  for (const char* state : {"inactive", "failed", "activating", "deactivating", ""}) {
    EXPECT_EQ(StatusOfUnitState(state), HealthStatus::kCritical) << state;
  }
  EXPECT_EQ(UdpCheckOutput("10.0.0.1:53", "", 4096), "UDP connect 10.0.0.1:53: Success");
  EXPECT_EQ(UdpCheckOutput("10.0.0.1:53", "Connection refused", 4096),
            "dial udp 10.0.0.1:53: Connection refused");
}

}  // namespace
}  // namespace concierge::server
