#include "cli/watch.h"

#include <gtest/gtest.h>

namespace concierge::cli {
namespace {

using client::ServiceInstance;
using Lines = std::vector<std::string>;

ServiceInstance Make(std::string id, std::string status, std::string output = "") {
  ServiceInstance i;
  i.node = "n1";
  i.id = std::move(id);
  i.service = "web";
  i.address = "10.0.0.1";
  i.port = 80;
  i.status = std::move(status);
  i.output = std::move(output);
  return i;
}

TEST(DescribeChangesTest, NothingChanged) {
  std::vector<ServiceInstance> same = {Make("web-1", "passing", "ok")};
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
  std::vector<ServiceInstance> before = {Make("web-1", "passing"), Make("web-2", "passing"),
                                         Make("web-3", "passing")};
  std::vector<ServiceInstance> after = {Make("web-1", "critical", "TTL expired\nlast seen 12s ago"),
                                        Make("web-3", "passing"), Make("web-4", "warning")};
  EXPECT_EQ(DescribeChanges(before, after),
            (Lines{"~ web-1 passing -> critical: TTL expired last seen 12s ago",
                   "- web-2 10.0.0.1:80", "+ web-4 10.0.0.1:80 warning"}));
}

TEST(DescribeChangesTest, AddressAndTags) {
  ServiceInstance moved = Make("web-1", "passing");
  moved.port = 81;
  moved.tags = {"v2"};
  EXPECT_EQ(DescribeChanges({Make("web-1", "passing")}, {moved}),
            (Lines{"~ web-1 10.0.0.1:80 -> 10.0.0.1:81", "~ web-1 tags [] -> [v2]"}));
}

TEST(DescribeChangesTest, SameIdOnTwoNodesAreTwoInstances) {
  ServiceInstance other = Make("web-1", "passing");
  other.node = "n2";
  EXPECT_EQ(DescribeChanges({Make("web-1", "passing")}, {Make("web-1", "passing"), other}),
            (Lines{"+ web-1 10.0.0.1:80 passing"}));
}

}  // namespace
}  // namespace concierge::cli
