#include "core/text.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/interned_list.h"

namespace concierge::core {
namespace {

TEST(Text, EmptyAllocatesNothingAndReadsAsEmpty) {
  Text t;
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.view(), "");
  EXPECT_EQ(t, "");
  EXPECT_TRUE(Text("").empty());
}

TEST(Text, CopiesShareOneBufferAndCompareByContents) {
  Text a("web-1");
  Text b = a;
  EXPECT_EQ(a.data(), b.data());
  Text c("web-1");
  EXPECT_NE(a.data(), c.data());  // not interned
  EXPECT_EQ(a, c);
  EXPECT_LT(a, Text("web-2"));
  EXPECT_EQ(a, std::string("web-1"));
  EXPECT_EQ("id " + a, "id web-1");
}

TEST(Symbol, EqualContentsShareOneBufferUntilTheLastGoes) {
  std::size_t before = InternedCount();
  {
    Symbol a("text-test-symbol");
    Symbol b(std::string("text-test-symbol"));
    EXPECT_EQ(a.data(), b.data());
    EXPECT_EQ(a, b);
    EXPECT_EQ(InternedCount(), before + 1);
    Symbol c = std::move(a);
    EXPECT_TRUE(a.empty());  // NOLINT: moved-from is empty by contract
    EXPECT_EQ(InternedCount(), before + 1);
  }
  EXPECT_EQ(InternedCount(), before);
}

TEST(Text, KeysOfUnorderedMapsAreFoundByStringView) {
  std::unordered_map<Text, int, TextHash, TextEqual> map;
  map.emplace(Text("a"), 1);
  std::string_view key = "a";
  EXPECT_EQ(map.find(key)->second, 1);
}

// Threads intern, copy and drop the same symbols at once: every buffer is freed exactly once
// (ASan/TSan builds check it) and the table ends empty of them.
TEST(Symbol, ConcurrentInterningAndReleaseAreSafe) {
  std::size_t before = InternedCount();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([] {
      for (int i = 0; i < 20'000; ++i) {
        Symbol s("shared-" + std::to_string(i % 7));
        Symbol copy = s;
        Text own(s.view());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(InternedCount(), before);
}

TEST(InternedList, EqualItemsShareOneBlockUntilTheLastGoes) {
  std::size_t before = TagList::Count();
  {
    TagList a = {"text-test-v1", "primary"};
    TagList b(std::vector<Symbol>{"text-test-v1", "primary"});
    EXPECT_EQ(a.begin(), b.begin());
    EXPECT_EQ(a, b);
    EXPECT_EQ(TagList::Count(), before + 1);
    EXPECT_NE(a, (TagList{"primary", "text-test-v1"}));  // order matters
    ASSERT_EQ(a.size(), 2u);
    EXPECT_EQ(a[1], "primary");
    EXPECT_EQ(a.vector(), (std::vector<Symbol>{"text-test-v1", "primary"}));
    TagList c = std::move(a);
    EXPECT_TRUE(a.empty());  // NOLINT: moved-from is empty by contract
    EXPECT_EQ(c, b);
  }
  EXPECT_EQ(TagList::Count(), before);
}

TEST(InternedList, EmptyAllocatesNothing) {
  std::size_t before = MetaList::Count();
  MetaList empty = std::vector<std::pair<Symbol, Symbol>>{};
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty.begin(), empty.end());
  EXPECT_EQ(empty, MetaList());
  EXPECT_EQ(MetaList::Count(), before);
  MetaList one = {{"zone", "a"}};
  EXPECT_EQ(one[0].second, "a");
  EXPECT_EQ(MetaList::Count(), before + 1);
}

// As for Symbol: threads build, copy and drop the same lists at once.
TEST(InternedList, ConcurrentInterningAndReleaseAreSafe) {
  std::size_t before = TagList::Count();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([] {
      for (int i = 0; i < 20'000; ++i) {
        TagList list = {Symbol("shared-" + std::to_string(i % 7)), Symbol("v1")};
        TagList copy = list;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(TagList::Count(), before);
}

}  // namespace
}  // namespace concierge::core
