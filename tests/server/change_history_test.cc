// server/change_history.h: what changed after an index, the floor when changes are dropped,
// nothing kept before the first reader; and a property test against a model that keeps every
// change.
#include "server/change_history.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>

namespace concierge::server {
namespace {

std::vector<core::Text> Texts(std::initializer_list<const char*> ids) {
  std::vector<core::Text> out;
  for (const char* id : ids) out.emplace_back(id);
  return out;
}

std::vector<std::string> Strings(const std::vector<core::Text>& ids) {
  std::vector<std::string> out;
  for (const core::Text& id : ids) out.push_back(id.str());
  return out;
}

TEST(ChangeHistoryTest, NothingIsKeptUntilAReaderAsks) {
  ChangeHistory h(3);
  h.Record(4, Texts({"a"}), 100);
  h.Record(6, Texts({"b"}), 100);
  EXPECT_EQ(h.size(), 0u);
  EXPECT_EQ(h.floor(), 6u);
  // Before the floor: unknown. At it: nothing since.
  EXPECT_FALSE(h.Since(5, 6).has_value());
  ASSERT_TRUE(h.Since(6, 6).has_value());
  EXPECT_TRUE(h.Since(6, 6)->empty());
  // From the first reader on, changes are kept.
  h.Record(8, Texts({"c", "a"}), 100);
  h.Record(9, Texts({"a"}), 100);
  EXPECT_EQ(Strings(*h.Since(6, 9)), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(Strings(*h.Since(8, 9)), (std::vector<std::string>{"a"}));
  // Up to the reader's view: a change published after it is not its to see.
  EXPECT_EQ(Strings(*h.Since(6, 8)), (std::vector<std::string>{"a", "c"}));
  EXPECT_TRUE(h.Since(9, 9)->empty());
}

TEST(ChangeHistoryTest, AReaderAboutToWaitKeepsTheChangeThatWakesIt) {
  ChangeHistory h(3);
  h.Record(4, Texts({"a"}), 100);
  h.Want();
  h.Record(5, Texts({"b"}), 100);
  EXPECT_EQ(Strings(*h.Since(4, 5)), std::vector<std::string>{"b"});
}

TEST(ChangeHistoryTest, DroppedChangesMoveTheFloor) {
  ChangeHistory h(1);
  ASSERT_TRUE(h.Since(1, 1).has_value());
  for (core::Index i = 2; i <= 11; ++i) h.Record(i, Texts({"x"}), 4);
  // At most 4 kept; whoever is at or after the floor gets every change since.
  EXPECT_LE(h.size(), 4u);
  EXPECT_GE(h.size(), 2u);
  const core::Index floor = h.floor();
  EXPECT_GT(floor, 1u);
  EXPECT_FALSE(h.Since(floor - 1, 11).has_value());
  EXPECT_EQ(Strings(*h.Since(floor, 11)), std::vector<std::string>{"x"});
}

// Random changes and reads against a model that keeps everything: a read is either complete
// (exactly the model's IDs changed in (after, upto]) or refused, and refused only for an
// index before the floor, which never passes the last change dropped.
TEST(ChangeHistoryTest, PropertyAgreesWithAModelThatKeepsEverything) {
  std::mt19937 rng(17);
  for (int trial = 0; trial < 50; ++trial) {
    const std::size_t limit = 2 + rng() % 40;
    ChangeHistory h(0);
    ASSERT_TRUE(h.Since(0, 0).has_value());
    std::multimap<core::Index, std::string> model;
    core::Index index = 0;
    std::size_t kept_at_least = 0;
    for (int step = 0; step < 400; ++step) {
      if (rng() % 3 != 0) {
        index += 1 + rng() % 3;
        std::vector<core::Text> ids;
        const int n = 1 + static_cast<int>(rng() % 4);
        for (int i = 0; i < n; ++i) {
          std::string id = "i" + std::to_string(rng() % 30);
          ids.emplace_back(id);
          model.emplace(index, id);
        }
        h.Record(index, ids, limit);
        kept_at_least = std::min<std::size_t>(model.size(), limit / 2);
        ASSERT_LE(h.size(), std::max<std::size_t>(limit, 2));
        ASSERT_GE(h.size(), kept_at_least);
        continue;
      }
      const core::Index upto = index == 0 ? 0 : index - rng() % std::min<core::Index>(index, 3);
      const core::Index after = upto == 0 ? 0 : rng() % (upto + 1);
      auto got = h.Since(after, upto);
      if (!got) {
        ASSERT_LT(after, h.floor());
        continue;
      }
      std::set<std::string> want;
      for (auto it = model.upper_bound(after); it != model.end() && it->first <= upto; ++it) {
        want.insert(it->second);
      }
      ASSERT_EQ(Strings(*got), std::vector<std::string>(want.begin(), want.end()))
          << "trial " << trial << " step " << step << " after " << after << " upto " << upto;
    }
  }
}

}  // namespace
}  // namespace concierge::server
