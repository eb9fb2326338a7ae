#include "server/concurrent_map.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace concierge::server {
namespace {

std::string Key(int i) { return "key-" + std::to_string(i); }

TEST(ConcurrentMapTest, PutGetOverwriteErase) {
  EpochDomain domain;
  ConcurrentMap<std::string> map(domain);
  EXPECT_EQ(map.Get("a"), std::nullopt);
  EXPECT_FALSE(map.Erase("a"));
  map.Put("a", "1");
  map.Put("b", "2");
  EXPECT_EQ(map.Get("a"), "1");
  EXPECT_EQ(map.Get("b"), "2");
  EXPECT_EQ(map.size(), 2u);
  map.Put("a", "3");
  EXPECT_EQ(map.Get("a"), "3");
  EXPECT_EQ(map.size(), 2u);
  EXPECT_TRUE(map.Erase("a"));
  EXPECT_FALSE(map.Erase("a"));
  EXPECT_EQ(map.Get("a"), std::nullopt);
  EXPECT_EQ(map.Get("b"), "2");
  EXPECT_EQ(map.size(), 1u);
  EXPECT_EQ(map.Get(""), std::nullopt);
  map.Put("", "empty key");
  EXPECT_EQ(map.Get(""), "empty key");
}

// Values that carry their own key: "<key>=<value>".
struct BeforeEquals {
  std::string_view operator()(const std::shared_ptr<const std::string>& v) const {
    return std::string_view(*v).substr(0, v->find('='));
  }
};

TEST(ConcurrentMapTest, KeysReadFromTheValues) {
  EpochDomain domain;
  ConcurrentMap<std::shared_ptr<const std::string>, BeforeEquals> map(domain);
  for (int i = 0; i < 100; ++i)
    map.Put(std::make_shared<const std::string>(Key(i) + "=" + std::to_string(i)));
  map.Put(std::make_shared<const std::string>("key-7=seven"));
  EXPECT_EQ(map.size(), 100u);
  EXPECT_EQ(**map.Get("key-7"), "key-7=seven");
  EXPECT_EQ(**map.Get("key-99"), "key-99=99");
  EXPECT_EQ(map.Get("key-100"), std::nullopt);
  EXPECT_TRUE(map.Erase("key-7"));
  EXPECT_EQ(map.Get("key-7"), std::nullopt);
  std::size_t seen = 0;
  map.ForEach([&](std::string_view key, const auto& v) {
    EXPECT_TRUE(v->starts_with(std::string(key) + "="));
    ++seen;
  });
  EXPECT_EQ(seen, 99u);
}

TEST(ConcurrentMapTest, WithCallsOnlyForPresentKeys) {
  EpochDomain domain;
  ConcurrentMap<int> map(domain);
  map.Put("x", 7);
  int seen = 0;
  EXPECT_TRUE(map.With("x", [&](const int& v) { seen = v; }));
  EXPECT_EQ(seen, 7);
  EXPECT_FALSE(map.With("y", [&](const int&) { seen = -1; }));
  EXPECT_EQ(seen, 7);
}

TEST(ConcurrentMapTest, ThousandsOfKeysSurviveRehashes) {
  EpochDomain domain;
  ConcurrentMap<int> map(domain);
  constexpr int kN = 5000;
  for (int i = 0; i < kN; ++i) map.Put(Key(i), i);
  EXPECT_EQ(map.size(), static_cast<std::size_t>(kN));
  for (int i = 0; i < kN; ++i) ASSERT_EQ(map.Get(Key(i)), i) << Key(i);
  for (int i = 1; i < kN; i += 2) ASSERT_TRUE(map.Erase(Key(i)));
  EXPECT_EQ(map.size(), static_cast<std::size_t>(kN / 2));
  for (int i = 0; i < kN; ++i) {
    ASSERT_EQ(map.Get(Key(i)), i % 2 == 0 ? std::optional<int>(i) : std::nullopt) << Key(i);
  }
  // Growing again over the tombstones.
  for (int i = kN; i < 3 * kN; ++i) map.Put(Key(i), i);
  for (int i = 0; i < 3 * kN; ++i) {
    bool present = i >= kN || i % 2 == 0;
    ASSERT_EQ(map.Get(Key(i)), present ? std::optional<int>(i) : std::nullopt) << Key(i);
  }
  domain.Collect();
  EXPECT_EQ(domain.pending(), 0u);
}

TEST(ConcurrentMapTest, TombstonesAreReusedAndLookupsProbePastThem) {
  EpochDomain domain;
  ConcurrentMap<int> map(domain);
  // A small live set under heavy churn: without tombstone reuse or a rehash that drops them,
  // the table would fill with tombstones and a probe would never meet an empty bucket.
  for (int round = 0; round < 20'000; ++round) {
    map.Put(Key(round % 8), round);
    map.Put(Key(1000 + round), round);
    ASSERT_TRUE(map.Erase(Key(1000 + round)));
    if (round % 1000 == 0) domain.Collect();
  }
  EXPECT_EQ(map.size(), 8u);
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(map.Get(Key(i)).has_value());
  EXPECT_EQ(map.Get(Key(1000)), std::nullopt);
}

TEST(ConcurrentMapTest, MatchesAnOracleUnderRandomOperations) {
  EpochDomain domain;
  ConcurrentMap<int> map(domain);
  std::unordered_map<std::string, int> oracle;
  std::mt19937 rng(42);
  for (int step = 0; step < 50'000; ++step) {
    std::string key = Key(static_cast<int>(rng() % 700));
    if (rng() % 3 == 0) {
      EXPECT_EQ(map.Erase(key), oracle.erase(key) == 1);
    } else {
      map.Put(key, step);
      oracle[key] = step;
    }
    if (step % 997 == 0) {
      ASSERT_EQ(map.size(), oracle.size());
      for (int i = 0; i < 700; ++i) {
        auto it = oracle.find(Key(i));
        ASSERT_EQ(map.Get(Key(i)),
                  it == oracle.end() ? std::nullopt : std::optional<int>(it->second));
      }
      domain.Collect();
    }
  }
}

TEST(ConcurrentMapTest, ForEachVisitsEveryLiveEntryOnce) {
  EpochDomain domain;
  ConcurrentMap<int> map(domain);
  for (int i = 0; i < 300; ++i) map.Put(Key(i), i);
  for (int i = 0; i < 300; i += 3) map.Erase(Key(i));
  std::map<std::string, int> seen;
  map.ForEach([&](std::string_view key, const int& v) {
    EXPECT_TRUE(seen.emplace(std::string(key), v).second) << key;
  });
  EXPECT_EQ(seen.size(), 200u);
  for (const auto& [key, v] : seen) {
    EXPECT_EQ(key, Key(v));
    EXPECT_NE(v % 3, 0);
  }
}

TEST(ConcurrentMapTest, ReleasesValuesOnOverwriteEraseAndDestruction) {
  auto value = std::make_shared<int>(1);
  {
    EpochDomain domain;
    {
      ConcurrentMap<std::shared_ptr<int>> map(domain);
      map.Put("a", value);
      map.Put("b", value);
      map.Put("c", value);
      EXPECT_EQ(value.use_count(), 4);
      map.Put("a", std::make_shared<int>(2));
      map.Erase("b");
      domain.Collect();
      EXPECT_EQ(value.use_count(), 2);
    }
    EXPECT_EQ(value.use_count(), 1);
  }
  EXPECT_EQ(value.use_count(), 1);
}

// Readers on two threads while the writer churns, rehashes and frees: under ASan a read of a
// freed node or table is reported; under TSan a missing ordering is.
TEST(ConcurrentMapTest, ReadersRunConcurrentlyWithTheWriter) {
  EpochDomain domain;
  ConcurrentMap<std::string> map(domain);
  constexpr int kKeys = 512;
  std::vector<std::string> keys;
  for (int i = 0; i < kKeys; ++i) keys.push_back(Key(i));

  std::atomic<bool> done{false};
  std::atomic<long> found{0};
  std::atomic<long> torn{0};
  auto reader = [&](int offset) {
    for (long n = 0; !done.load(std::memory_order_relaxed) || n < 1000; ++n) {
      const std::string& key = keys[(n * 7 + offset) % kKeys];
      if (std::optional<std::string> v = map.Get(key)) {
        ++found;
        // Values are "<key>#<version>": a value under another key would be a torn read.
        if (v->compare(0, key.size() + 1, key + "#") != 0) ++torn;
      }
      if (n % 64 == 0) {
        map.ForEach([&](std::string_view k, const std::string& v) {
          if (v.compare(0, k.size() + 1, std::string(k) + "#") != 0) ++torn;
        });
      }
    }
  };
  std::thread r1(reader, 0);
  std::thread r2(reader, 1);
  std::mt19937 rng(7);
  for (int op = 0; op < 100'000; ++op) {
    const std::string& key = keys[rng() % kKeys];
    if (rng() % 4 == 0) {
      map.Erase(key);
    } else {
      map.Put(key, key + "#" + std::to_string(op));
    }
    if (op % 128 == 0) domain.Collect();
  }
  // A burst of growth and shrinkage forces rehashes while the readers run.
  for (int i = 0; i < 20'000; ++i)
    map.Put("burst-" + std::to_string(i), "burst-" + std::to_string(i) + "#0");
  for (int i = 0; i < 20'000; ++i) map.Erase("burst-" + std::to_string(i));
  domain.Collect();
  done = true;
  r1.join();
  r2.join();
  domain.Collect();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_GT(found.load(), 0);
  EXPECT_EQ(domain.pending(), 0u);
}

}  // namespace
}  // namespace concierge::server
