#include "cli/args.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace concierge::cli {
namespace {

using Args = std::vector<std::string>;

TEST(RewriteLongFlagsTest, OneDashLongFlagsGetTwoDashes) {
  EXPECT_EQ(RewriteLongFlags({"concierge", "services", "register", "-name", "web", "-port", "80"}),
            (Args{"concierge", "services", "register", "--name", "web", "--port", "80"}));
  EXPECT_EQ(RewriteLongFlags({"concierge", "health", "-http-addr", "h:1", "-passing"}),
            (Args{"concierge", "health", "--http-addr", "h:1", "--passing"}));
}

TEST(RewriteLongFlagsTest, KeepsTheValueAfterEquals) {
  EXPECT_EQ(RewriteLongFlags({"c", "-meta=zone=a", "-note=-x is down"}),
            (Args{"c", "--meta=zone=a", "--note=-x is down"}));
}

TEST(RewriteLongFlagsTest, LeavesShortFlagsTwoDashFlagsAndValuesAlone) {
  EXPECT_EQ(RewriteLongFlags({"c", "-h", "--name", "web", "-5", "-1m", "-", "web 1", "-a b"}),
            (Args{"c", "-h", "--name", "web", "-5", "-1m", "-", "web 1", "-a b"}));
}

TEST(RewriteLongFlagsTest, LeavesTheProgramNameAlone) {
  EXPECT_EQ(RewriteLongFlags({"-weird-name", "-x"}), (Args{"-weird-name", "-x"}));
}

TEST(RewriteLongFlagsTest, StopsAtDoubleDash) {
  EXPECT_EQ(RewriteLongFlags({"c", "agent", "-dev", "--", "-name", "-x"}),
            (Args{"c", "agent", "--dev", "--", "-name", "-x"}));
}

TEST(SplitAddressesTest, SplitsOnCommasAndDropsEmptyItems) {
  EXPECT_EQ(SplitAddresses("a:1,b:2,,c:3,"), (std::vector<std::string>{"a:1", "b:2", "c:3"}));
  EXPECT_EQ(SplitAddresses("127.0.0.1:8500"), std::vector<std::string>{"127.0.0.1:8500"});
  EXPECT_TRUE(SplitAddresses("").empty());
  EXPECT_TRUE(SplitAddresses(",").empty());
}

TEST(ParseFlagDurationTest, PositiveDurationsOnlyAndTheErrorNamesTheFlag) {
  EXPECT_EQ(*ParseFlagDuration("-ttl", "1m30s"), std::chrono::milliseconds(90'000));
  EXPECT_EQ(ParseFlagDuration("-ttl", "0s").status().message(),
            "-ttl: expected a positive duration like \"10s\", got \"0s\"");
  EXPECT_FALSE(ParseFlagDuration("-ttl", "soon").ok());
  EXPECT_FALSE(ParseFlagDuration("-ttl", "-5s").ok());
}

}  // namespace
}  // namespace concierge::cli
