#include "cli/watch.h"

#include <gtest/gtest.h>

namespace concierge::cli {
namespace {

using Lines = std::vector<std::string>;

Instance Make(std::string id, std::string status, std::string output = "") {
  Instance i;
  i.node = "n1";
  i.id = std::move(id);
  i.service = "web";
  i.address = "10.0.0.1";
  i.port = 80;
  i.status = std::move(status);
  i.output = std::move(output);
  return i;
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

TEST(DescribeChangesTest, NothingChanged) {
  std::vector<Instance> same = {Make("web-1", "passing", "ok")};
  EXPECT_TRUE(DescribeChanges(same, same).empty());
}

TEST(DescribeChangesTest, OutputAloneIsNotAChange) {
  EXPECT_TRUE(
      DescribeChanges({Make("web-1", "passing", "ok 1")}, {Make("web-1", "passing", "ok 2")})
          .empty());
}

TEST(DescribeChangesTest, FirstAnswerListsEveryInstanceAsAdded) {
  EXPECT_EQ(DescribeChanges({}, {Make("web-2", "critical"), Make("web-1", "passing", "ok")}),
            (Lines{"+ web-1 10.0.0.1:80 passing: ok", "+ web-2 10.0.0.1:80 critical"}));
}

TEST(DescribeChangesTest, AddedRemovedAndStatusInIdOrder) {
  std::vector<Instance> before = {Make("web-1", "passing"), Make("web-2", "passing"),
                                  Make("web-3", "passing")};
  std::vector<Instance> after = {Make("web-1", "critical", "TTL expired\nlast seen 12s ago"),
                                 Make("web-3", "passing"), Make("web-4", "warning")};
  EXPECT_EQ(DescribeChanges(before, after),
            (Lines{"~ web-1 passing -> critical: TTL expired last seen 12s ago",
                   "- web-2 10.0.0.1:80", "+ web-4 10.0.0.1:80 warning"}));
}

TEST(DescribeChangesTest, AddressAndTags) {
  Instance moved = Make("web-1", "passing");
  moved.port = 81;
  moved.tags = {"v2"};
  EXPECT_EQ(DescribeChanges({Make("web-1", "passing")}, {moved}),
            (Lines{"~ web-1 10.0.0.1:80 -> 10.0.0.1:81", "~ web-1 tags [] -> [v2]"}));
}

TEST(DescribeChangesTest, SameIdOnTwoNodesAreTwoInstances) {
  Instance other = Make("web-1", "passing");
  other.node = "n2";
  EXPECT_EQ(DescribeChanges({Make("web-1", "passing")}, {Make("web-1", "passing"), other}),
            (Lines{"+ web-1 10.0.0.1:80 passing"}));
}

TEST(OneLineTest, CollapsesWhitespaceAndCuts) {
  EXPECT_EQ(OneLine("  a\n\tb  c \r\n", 100), "a b c");
  EXPECT_EQ(OneLine("", 10), "");
  EXPECT_EQ(OneLine("abcdefghij", 8), "abcde...");
  EXPECT_EQ(OneLine("abcdefgh", 8), "abcdefgh");
}

}  // namespace
}  // namespace concierge::cli
