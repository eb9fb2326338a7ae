#include "core/time.h"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <string>

namespace concierge::core {
namespace {

using namespace std::chrono_literals;

Duration Parsed(std::string_view text) {
  auto r = ParseDuration(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status().message();
  return r.ok() ? r.value() : Duration(-12345);
}

TEST(ParseDurationTest, AcceptsGoDurations) {
  EXPECT_EQ(Parsed("10s"), 10s);
  EXPECT_EQ(Parsed("1m30s"), 90s);
  EXPECT_EQ(Parsed("500ms"), 500ms);
  EXPECT_EQ(Parsed("1h"), 1h);
  EXPECT_EQ(Parsed("1.5s"), 1500ms);
  EXPECT_EQ(Parsed("250us"), 250us);
  EXPECT_EQ(Parsed("250\xC2\xB5s"), 250us);
  EXPECT_EQ(Parsed("42ns"), 42ns);
  EXPECT_EQ(Parsed("1h2m3s4ms"), 1h + 2min + 3s + 4ms);
  EXPECT_EQ(Parsed("0.1s"), 100ms);
  EXPECT_EQ(Parsed("2m"), 2min);
  EXPECT_EQ(Parsed("-10s"), -10s);
  EXPECT_EQ(Parsed("+10s"), 10s);
}

TEST(ParseDurationTest, ZeroAndBareNumbers) {
  EXPECT_EQ(Parsed("0"), Duration::zero());
  EXPECT_EQ(Parsed("0s"), Duration::zero());
  // A bare number is seconds, as older Consul clients send it.
  EXPECT_EQ(Parsed("15"), 15s);
  EXPECT_EQ(Parsed("-15"), -15s);
}

TEST(ParseDurationTest, RejectsBadInput) {
  for (const char* text : {"", "ten", "10x", "s", "-", "+", "1.2.3s", "10s5", "s10", " 10s", "10 s",
                           "1e3s", "99999999999", "9999999999h"}) {
    auto r = ParseDuration(text);
    EXPECT_FALSE(r.ok()) << '"' << text << '"';
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
      EXPECT_EQ(r.status().message(),
                "expected a duration like \"10s\", \"1m30s\" or \"500ms\", got \"" +
                    std::string(text) + "\"");
    }
  }
}

TEST(FormatDurationTest, FormatsAsGoDoes) {
  EXPECT_EQ(FormatDuration(Duration::zero()), "0s");
  EXPECT_EQ(FormatDuration(10s), "10s");
  EXPECT_EQ(FormatDuration(90s), "1m30s");
  EXPECT_EQ(FormatDuration(1500ms), "1.5s");
  EXPECT_EQ(FormatDuration(500ms), "500ms");
  EXPECT_EQ(FormatDuration(1h), "1h0m0s");
  EXPECT_EQ(FormatDuration(2min), "2m0s");
  EXPECT_EQ(FormatDuration(1h + 1ns), "1h0m0.000000001s");
  EXPECT_EQ(FormatDuration(250us), "250us");
  EXPECT_EQ(FormatDuration(1500ns), "1.5us");
  EXPECT_EQ(FormatDuration(1ns), "1ns");
  EXPECT_EQ(FormatDuration(10ms - 1ns), "9.999999ms");
  EXPECT_EQ(FormatDuration(-10s), "-10s");
  EXPECT_EQ(FormatDuration(-1500ms), "-1.5s");
}

TEST(FormatDurationTest, Extremes) {
  EXPECT_EQ(FormatDuration(Duration::max()), "2562047h47m16.854775807s");
  EXPECT_EQ(FormatDuration(Duration::min()), "-2562047h47m16.854775808s");
}

TEST(FormatDurationTest, RoundTripsThroughParse) {
  for (Duration d : {Duration(10s), Duration(90s), Duration(1500ms), Duration(500ms), Duration(1h),
                     Duration(250us), Duration(7ns), Duration(3h + 25min + 45s + 5ms)}) {
    EXPECT_EQ(Parsed(FormatDuration(d)), d) << FormatDuration(d);
  }
}

TEST(FormatTimeTest, Rfc3339WithNanoseconds) {
  EXPECT_EQ(FormatTime(Time(std::chrono::seconds(1'700'000'000))),
            "2023-11-14T22:13:20.000000000Z");
  EXPECT_EQ(FormatTime(Time(std::chrono::nanoseconds(1'700'000'000'123'456'789))),
            "2023-11-14T22:13:20.123456789Z");
  EXPECT_EQ(FormatTime(Time{}), "1970-01-01T00:00:00.000000000Z");
  EXPECT_EQ(FormatTime(Time(-1ns)), "1969-12-31T23:59:59.999999999Z");
}

}  // namespace
}  // namespace concierge::core
