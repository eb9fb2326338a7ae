#include "server/heartbeat_table.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace concierge::server {
namespace {

using namespace std::chrono_literals;
using core::HealthStatus;
using core::Time;

const Time kT0 = Time(std::chrono::seconds(1'700'000'000));

TEST(HeartbeatTableTest, AddThenBeatRecordsLastSeenAndReportsStatus) {
  EpochDomain domain;
  HeartbeatTable table(domain);
  std::uint32_t s = table.Add("c1", 10s, HealthStatus::kPassing, kT0);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.Find("c1"), s);
  HeartbeatTable::Slot& slot = table.at(s);
  EXPECT_EQ(slot.check_id, "c1");
  EXPECT_EQ(slot.ttl, 10s);
  EXPECT_EQ(slot.last_seen.load(), kT0.time_since_epoch().count());

  EXPECT_EQ(table.Beat("c1", kT0 + 3s), HealthStatus::kPassing);
  EXPECT_EQ(slot.last_seen.load(), (kT0 + 3s).time_since_epoch().count());

  slot.status.store(static_cast<std::uint8_t>(HealthStatus::kCritical));
  EXPECT_EQ(table.Beat("c1", kT0 + 4s), HealthStatus::kCritical);
}

TEST(HeartbeatTableTest, UnknownCheckIsNullopt) {
  EpochDomain domain;
  HeartbeatTable table(domain);
  EXPECT_EQ(table.Beat("nope", kT0), std::nullopt);
  EXPECT_EQ(table.Find("nope"), std::nullopt);
  table.Remove("nope");  // harmless
  EXPECT_EQ(table.size(), 0u);
}

TEST(HeartbeatTableTest, RemoveBumpsGenerationAndFreesTheSlotAfterCollect) {
  EpochDomain domain;
  HeartbeatTable table(domain);
  std::uint32_t a = table.Add("a", 10s, HealthStatus::kPassing, kT0);
  std::uint32_t gen = table.at(a).generation;
  table.Remove("a");
  EXPECT_EQ(table.Beat("a", kT0), std::nullopt);
  EXPECT_EQ(table.Find("a"), std::nullopt);
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.at(a).generation, gen + 1);

  // Not reused while a reader could still hold it.
  std::uint32_t b = table.Add("b", 10s, HealthStatus::kPassing, kT0);
  EXPECT_NE(b, a);
  domain.Collect();
  std::uint32_t c = table.Add("c", 20s, HealthStatus::kWarning, kT0 + 1s);
  EXPECT_EQ(c, a);
  // A reused slot starts clean, and keeps the bumped generation.
  HeartbeatTable::Slot& slot = table.at(c);
  EXPECT_EQ(slot.generation, gen + 1);
  EXPECT_EQ(slot.check_id, "c");
  EXPECT_EQ(slot.ttl, 20s);
  EXPECT_EQ(slot.last_seen.load(), (kT0 + 1s).time_since_epoch().count());
  EXPECT_EQ(table.Beat("c", kT0 + 2s), HealthStatus::kWarning);
}

TEST(HeartbeatTableTest, AddResetsTimerStateOfAReusedSlot) {
  EpochDomain domain;
  HeartbeatTable table(domain);
  std::uint32_t a = table.Add("a", 10s, HealthStatus::kPassing, kT0);
  table.at(a).armed = kT0 + 10s;
  table.at(a).expiring_last_seen = 5;
  table.Remove("a");
  domain.Collect();
  ASSERT_EQ(table.Add("b", 10s, HealthStatus::kPassing, kT0), a);
  EXPECT_EQ(table.at(a).armed, HeartbeatTable::kNotArmed);
  EXPECT_EQ(table.at(a).expiring_last_seen, HeartbeatTable::kNotExpiring);
}

TEST(HeartbeatTableTest, GrowsPastOneChunk) {
  EpochDomain domain;
  HeartbeatTable table(domain);
  const std::uint32_t n = HeartbeatTable::kChunkSlots * 2 + 10;
  for (std::uint32_t i = 0; i < n; ++i) {
    ASSERT_EQ(table.Add("c" + std::to_string(i), 10s, HealthStatus::kPassing, kT0), i);
  }
  EXPECT_EQ(table.size(), n);
  for (std::uint32_t i = 0; i < n; i += 97) {
    EXPECT_EQ(table.Beat("c" + std::to_string(i), kT0 + 1s), HealthStatus::kPassing);
    EXPECT_EQ(table.at(i).last_seen.load(), (kT0 + 1s).time_since_epoch().count());
    EXPECT_EQ(table.at(i).check_id, "c" + std::to_string(i));
  }
}

// Heartbeats from other threads while the state thread adds, removes and recycles slots.
TEST(HeartbeatTableTest, ConcurrentBeatsWhileChecksComeAndGo) {
  EpochDomain domain;
  HeartbeatTable table(domain);
  constexpr int kKeys = 64;
  std::vector<std::string> ids;
  for (int i = 0; i < kKeys; ++i) ids.push_back("check-" + std::to_string(i));
  for (int i = 0; i < kKeys; i += 2) table.Add(ids[i], 10s, HealthStatus::kPassing, kT0);

  std::atomic<bool> stop{false};
  std::atomic<long> hits{0};
  std::vector<std::thread> beaters;
  for (int t = 0; t < 2; ++t) {
    beaters.emplace_back([&, t] {
      for (long n = 0; !stop.load(std::memory_order_relaxed) || n < 1000; ++n) {
        if (table.Beat(ids[(n + t) % kKeys], kT0 + std::chrono::nanoseconds(n))) ++hits;
      }
    });
  }
  for (int round = 0; round < 20'000; ++round) {
    const std::string& id = ids[round % kKeys];
    if (table.Find(id)) {
      table.Remove(id);
    } else {
      table.Add(id, 10s, HealthStatus::kPassing, kT0);
    }
    if (round % 64 == 0) domain.Collect();
  }
  stop = true;
  for (auto& t : beaters) t.join();
  EXPECT_GT(hits.load(), 0);
}

}  // namespace
}  // namespace concierge::server
