#include "server/view_publisher.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/epoch.h"

namespace concierge::server {
namespace {

using core::HealthStatus;

core::RegisterService Reg(const std::string& id, const std::string& name,
                          std::vector<std::string> tags, HealthStatus status) {
  core::RegisterService r;
  r.service.id = id;
  r.service.name = name;
  r.service.tags = core::TagList(tags.begin(), tags.end());
  core::CheckDefinition c;
  c.id = "service:" + id;
  c.ttl = std::chrono::seconds(10);
  c.initial_status = status;
  r.checks.push_back(std::move(c));
  return r;
}

class ViewPublisherTest : public ::testing::Test {
 protected:
  // Applies `command` to the catalog and tells the publisher, as the registry does.
  void Apply(const core::Command& command) {
    auto events = catalog_.Apply(command, ++index_);
    ASSERT_TRUE(events.ok()) << events.status().message();
    for (const core::Event& e : *events) {
      views_.InstanceChanged(e.service_id);
      views_.ServiceChanged(e.service_name, e.service_id);
    }
  }

  core::Catalog catalog_;
  core::Index index_ = 1;
  EpochDomain epoch_;
  ViewPublisher views_{catalog_, epoch_, nullptr, false};
};

TEST_F(ViewPublisherTest, NothingIsVisibleBeforeFlush) {
  Apply(Reg("web-1", "web", {"a"}, HealthStatus::kPassing));
  EXPECT_EQ(views_.Service("web"), nullptr);
  views_.Flush();
  auto web = views_.Service("web");
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->instances.size(), 1u);
  EXPECT_EQ(*web->tags, std::vector<std::string>{"a"});
  EXPECT_EQ(views_.index(), 2u);
  EXPECT_EQ(views_.instance_count(), 1u);
}

// A published view keeps its records when the service changes; the next one shares the
// records that did not change (the very same pointers), and the tag list if the tags did not.
TEST_F(ViewPublisherTest, ViewsShareWhatDidNotChange) {
  for (int i = 0; i < 200; ++i) {
    Apply(Reg("web-" + std::to_string(i), "web", {"a"}, HealthStatus::kPassing));
  }
  views_.Flush();
  auto before = views_.Service("web");
  core::UpdateCheck fail{"service:web-7", HealthStatus::kCritical, "", {}};
  Apply(fail);
  views_.Flush();
  auto after = views_.Service("web");
  ASSERT_NE(before, after);
  EXPECT_EQ((*before->instances.Find("web-7"))->AggregateStatus(), HealthStatus::kPassing);
  EXPECT_EQ((*after->instances.Find("web-7"))->AggregateStatus(), HealthStatus::kCritical);
  EXPECT_EQ(*before->instances.Find("web-8"), *after->instances.Find("web-8"));
  EXPECT_EQ(before->tags, after->tags);
  EXPECT_EQ(after->by_status[static_cast<std::size_t>(HealthStatus::kCritical)], 1u);
  EXPECT_EQ(views_.instances_by_status(HealthStatus::kCritical), 1);
  EXPECT_EQ(views_.instances_by_status(HealthStatus::kPassing), 199);
  Apply(Reg("web-7", "web", {"b"}, HealthStatus::kPassing));
  views_.Flush();
  EXPECT_EQ(*views_.Service("web")->tags, (std::vector<std::string>{"a", "b"}));
}

TEST_F(ViewPublisherTest, AGoneServiceHasNoView) {
  Apply(Reg("web-1", "web", {}, HealthStatus::kPassing));
  views_.Flush();
  Apply(core::DeregisterService{"web-1", {}});
  views_.Flush();
  EXPECT_EQ(views_.Service("web"), nullptr);
  EXPECT_EQ(views_.Instance("web-1"), nullptr);
  EXPECT_EQ(views_.ServiceIndex("web"), views_.services_index());
  EXPECT_TRUE(views_.ServiceNames().empty());
}

}  // namespace
}  // namespace concierge::server
