#include "core/expiry_queue.h"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

namespace concierge::core {
namespace {

using namespace std::chrono_literals;

const Time kT0 = Time(std::chrono::seconds(1'700'000'000));

TEST(ExpiryQueueTest, EmptyQueueHasNothingDue) {
  ExpiryQueue q;
  EXPECT_EQ(q.next_deadline(), std::nullopt);
  EXPECT_EQ(q.PopDue(Time::max()), std::nullopt);
  EXPECT_EQ(q.size(), 0u);
}

TEST(ExpiryQueueTest, PopsInDeadlineOrder) {
  ExpiryQueue q;
  const std::vector<int> offsets = {30, 10, 50, 20, 40, 10};
  for (std::uint32_t i = 0; i < offsets.size(); ++i) q.Schedule(kT0 + offsets[i] * 1s, i, 7);
  EXPECT_EQ(q.size(), offsets.size());
  EXPECT_EQ(q.next_deadline(), kT0 + 10s);
  std::vector<Time> popped;
  while (auto e = q.PopDue(kT0 + 1h)) {
    EXPECT_EQ(e->generation, 7u);
    EXPECT_EQ(e->deadline, kT0 + offsets[e->key] * 1s);
    popped.push_back(e->deadline);
  }
  EXPECT_EQ(popped,
            (std::vector<Time>{kT0 + 10s, kT0 + 10s, kT0 + 20s, kT0 + 30s, kT0 + 40s, kT0 + 50s}));
  EXPECT_EQ(q.size(), 0u);
}

TEST(ExpiryQueueTest, DeadlineEqualToNowIsDue) {
  ExpiryQueue q;
  q.Schedule(kT0 + 10s, 3, 1);
  EXPECT_EQ(q.PopDue(kT0 + 10s - 1ns), std::nullopt);
  EXPECT_EQ(q.size(), 1u);
  auto e = q.PopDue(kT0 + 10s);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->key, 3u);
  EXPECT_EQ(e->generation, 1u);
  EXPECT_EQ(e->deadline, kT0 + 10s);
  EXPECT_EQ(q.size(), 0u);
}

TEST(ExpiryQueueTest, PopDueStopsAtTheFirstFutureEntry) {
  ExpiryQueue q;
  q.Schedule(kT0 + 1s, 1, 0);
  q.Schedule(kT0 + 3s, 3, 0);
  q.Schedule(kT0 + 2s, 2, 0);
  EXPECT_EQ(q.PopDue(kT0 + 2s)->key, 1u);
  EXPECT_EQ(q.PopDue(kT0 + 2s)->key, 2u);
  EXPECT_EQ(q.PopDue(kT0 + 2s), std::nullopt);
  EXPECT_EQ(q.next_deadline(), kT0 + 3s);
  // Scheduling earlier than the head moves the head.
  q.Schedule(kT0, 9, 0);
  EXPECT_EQ(q.next_deadline(), kT0);
}

TEST(TtlExpiredTest, ExpiredFromExactlyLastSeenPlusTtl) {
  EXPECT_FALSE(TtlExpired(kT0, 10s, kT0));
  EXPECT_FALSE(TtlExpired(kT0, 10s, kT0 + 10s - 1ns));
  EXPECT_TRUE(TtlExpired(kT0, 10s, kT0 + 10s));
  EXPECT_TRUE(TtlExpired(kT0, 10s, kT0 + 1h));
}

}  // namespace
}  // namespace concierge::core
