#include "core/persistent_set.h"

#include <gtest/gtest.h>

#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/text.h"

namespace concierge::core {
namespace {

struct First {
  int operator()(const std::pair<int, int>& p) const { return p.first; }
};
// A small node size, so that a few hundred values make a tree of several levels.
using Set = PersistentSet<std::pair<int, int>, First, 4>;
using Model = std::map<int, int>;

template <typename C>
std::vector<std::pair<int, int>> Contents(const C& c) {
  return {c.begin(), c.end()};
}

TEST(PersistentSetTest, EmptySet) {
  Set set;
  EXPECT_TRUE(set.empty());
  EXPECT_EQ(set.begin(), set.end());
  EXPECT_EQ(set.Find(1), nullptr);
  EXPECT_FALSE(set.Erase(1));
  EXPECT_TRUE(set.Valid());
}

TEST(PersistentSetTest, LowerBoundStartsARangeAcrossLeaves) {
  Set set;
  EXPECT_EQ(set.LowerBound(0), set.end());
  Model model;
  for (int i = 0; i < 300; i += 3) {
    set.Insert({i, -i});
    model[i] = -i;
  }
  for (int key = -2; key < 305; ++key) {
    auto want = model.lower_bound(key);
    auto got = set.LowerBound(key);
    if (want == model.end()) {
      EXPECT_EQ(got, set.end()) << key;
      continue;
    }
    ASSERT_NE(got, set.end()) << key;
    EXPECT_EQ(got->first, want->first) << key;
    // And iteration goes on from there to the end.
    std::size_t rest = 0;
    for (; got != set.end(); ++got) ++rest;
    EXPECT_EQ(rest, static_cast<std::size_t>(std::distance(want, model.end()))) << key;
  }
}

TEST(PersistentSetTest, InsertReplacesTheValueWithTheSameKey) {
  Set set;
  EXPECT_TRUE(set.Insert({1, 10}));
  EXPECT_FALSE(set.Insert({1, 11}));
  EXPECT_EQ(set.size(), 1u);
  ASSERT_NE(set.Find(1), nullptr);
  EXPECT_EQ(set.Find(1)->second, 11);
}

TEST(PersistentSetTest, ACopyDoesNotSeeLaterChanges) {
  Set set;
  for (int i = 0; i < 100; ++i) set.Insert({i, i});
  const Set copy = set;
  for (int i = 0; i < 100; i += 2) set.Erase(i);
  set.Insert({7, 700});
  set.Insert({1000, 1});
  EXPECT_EQ(copy.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    ASSERT_NE(copy.Find(i), nullptr);
    EXPECT_EQ(copy.Find(i)->second, i);
  }
  EXPECT_EQ(set.size(), 51u);
  EXPECT_EQ(set.Find(7)->second, 700);
  EXPECT_TRUE(copy.Valid());
  EXPECT_TRUE(set.Valid());
}

TEST(PersistentSetTest, KeysAreComparedWithOtherLookupTypes) {
  struct Id {
    const Text& operator()(const std::shared_ptr<const Text>& t) const { return *t; }
  };
  PersistentSet<std::shared_ptr<const Text>, Id> set;
  for (const char* id : {"web-2", "web-1", "web-3"}) set.Insert(std::make_shared<const Text>(id));
  ASSERT_NE(set.Find(std::string_view("web-1")), nullptr);
  EXPECT_EQ(**set.Find(std::string_view("web-1")), "web-1");
  EXPECT_TRUE(set.Erase(std::string_view("web-2")));
  EXPECT_EQ(set.Find(std::string_view("web-2")), nullptr);
  std::vector<std::string> ids;
  for (const auto& t : set) ids.push_back(t->str());
  EXPECT_EQ(ids, (std::vector<std::string>{"web-1", "web-3"}));
}

// Random inserts, replacements and erases against std::map, with copies taken along the way
// that must keep what they held (each is checked against the model's copy of that moment).
TEST(PersistentSetTest, BehavesLikeAMapUnderRandomOperations) {
  for (unsigned seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    // Small key ranges make many replacements and erases of present keys; large ones, trees
    // of several levels.
    const int keys = seed % 2 == 0 ? 50 : 2000;
    std::uniform_int_distribution<int> key(0, keys - 1);
    std::uniform_int_distribution<int> op(0, 99);
    Set set;
    Model model;
    std::vector<std::pair<Set, Model>> copies;
    for (int step = 0; step < 5000; ++step) {
      const int k = key(rng);
      const int o = op(rng);
      if (o < 55) {
        const bool added = !model.contains(k);
        model[k] = step;
        ASSERT_EQ(set.Insert({k, step}), added) << "seed " << seed << " step " << step;
      } else if (o < 95) {
        ASSERT_EQ(set.Erase(k), model.erase(k) == 1) << "seed " << seed << " step " << step;
      } else if (o < 97) {
        copies.emplace_back(set, model);
      } else {
        const std::pair<int, int>* found = set.Find(k);
        auto it = model.find(k);
        ASSERT_EQ(found != nullptr, it != model.end());
        if (found != nullptr) {
          ASSERT_EQ(found->second, it->second);
        }
      }
      ASSERT_EQ(set.size(), model.size());
      if (step % 500 == 0) {
        ASSERT_TRUE(set.Valid()) << "seed " << seed << " step " << step;
      }
    }
    ASSERT_TRUE(set.Valid());
    ASSERT_EQ(Contents(set), Contents(model));
    for (const auto& [copy, then] : copies) {
      ASSERT_TRUE(copy.Valid());
      ASSERT_EQ(Contents(copy), Contents(then)) << "seed " << seed;
    }
    // Emptied, the set is empty again.
    for (const auto& [k, v] : model) ASSERT_TRUE(set.Erase(k));
    EXPECT_TRUE(set.empty());
    EXPECT_TRUE(set.Valid());
  }
}

// As the registry uses it: a copy published after every change, read while the next change
// is made, then dropped (so paths are copied, and nodes become owned again).
TEST(PersistentSetTest, PublishedAfterEveryChange) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> key(0, 999);
  PersistentSet<std::pair<int, int>, First> set;  // the default node size
  Model model;
  std::pair<PersistentSet<std::pair<int, int>, First>, Model> published;
  for (int step = 0; step < 5000; ++step) {
    const int k = key(rng);
    if (rng() % 3 == 0) {
      model.erase(k);
      set.Erase(k);
    } else {
      model[k] = step;
      set.Insert({k, step});
    }
    if (step % 97 == 0) {
      ASSERT_EQ(Contents(published.first), Contents(published.second));
    }
    published = {set, model};
  }
  EXPECT_TRUE(set.Valid());
  EXPECT_EQ(Contents(set), Contents(model));
}

// Values are destroyed when the last copy that holds them goes, not before.
TEST(PersistentSetTest, ReleasesValuesWithTheLastCopy) {
  struct Self {
    int operator()(const std::shared_ptr<int>& p) const { return *p; }
  };
  auto probe = std::make_shared<int>(5);
  std::weak_ptr<int> weak = probe;
  {
    PersistentSet<std::shared_ptr<int>, Self, 4> set;
    for (int i = 0; i < 40; ++i) set.Insert(std::make_shared<int>(i * 2));
    set.Insert(std::move(probe));
    auto copy = set;
    set.Erase(5);
    for (int i = 0; i < 40; ++i) set.Erase(i * 2);
    EXPECT_FALSE(weak.expired());
    EXPECT_NE(copy.Find(5), nullptr);
  }
  EXPECT_TRUE(weak.expired());
}

}  // namespace
}  // namespace concierge::core
