// http/answer_cache.h: one encoding per (question, view) shared by every asker, answers of
// older views dropped, the limits, and concurrent askers waiting for the one encoding.
#include "http/answer_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

namespace concierge::http {
namespace {

using namespace std::string_view_literals;

struct View {
  int n = 0;
};

std::shared_ptr<const void> MakeView() { return std::make_shared<const View>(); }

TEST(AnswerCacheTest, OneEncodingPerQuestionAndViewSharedByEveryAsker) {
  AnswerCache cache;
  auto view = MakeView();
  int encodings = 0;
  auto encode = [&] {
    ++encodings;
    return std::string("[answer]");
  };
  auto a = cache.Get("web\0p"sv, view, 5, encode);
  auto b = cache.Get("web\0p"sv, view, 5, encode);
  EXPECT_EQ(a.get(), b.get());
  EXPECT_EQ(*a, "[answer]");
  EXPECT_EQ(encodings, 1);
  // Another question of the same view is another answer.
  auto c = cache.Get("web\0a"sv, view, 5, [] { return std::string("[all]"); });
  EXPECT_EQ(*c, "[all]");
  EXPECT_EQ(cache.entries(), 2u);
  EXPECT_EQ(cache.bytes(), 8u + 5u);
  EXPECT_EQ(cache.encoded(), 2u);
}

TEST(AnswerCacheTest, ANewerViewReplacesTheAnswerOfTheOlderOne) {
  AnswerCache cache;
  auto v1 = MakeView();
  auto v2 = MakeView();
  auto old = cache.Get("web", v1, 5, [] { return std::string("old"); });
  auto now = cache.Get("web", v2, 7, [] { return std::string("newer"); });
  EXPECT_EQ(*now, "newer");
  EXPECT_EQ(cache.entries(), 1u);
  EXPECT_EQ(cache.bytes(), 5u);
  // A request still holding the old answer keeps it intact.
  EXPECT_EQ(*old, "old");
  // The cache holds the view it answered about only while it keeps the answer.
  std::weak_ptr<const void> gone = v1;
  v1.reset();
  EXPECT_TRUE(gone.expired());
  // A reader that took the older view before the change gets its answer, not cached.
  auto v0 = MakeView();
  auto stale = cache.Get("web", v0, 3, [] { return std::string("stale"); });
  EXPECT_EQ(*stale, "stale");
  EXPECT_EQ(*cache.Get("web", v2, 7, [] { return std::string("again"); }), "newer");
  EXPECT_EQ(cache.encoded(), 3u);
}

TEST(AnswerCacheTest, TheLeastRecentlyAskedGoFirstBeyondTheLimits) {
  AnswerCache cache({.max_entries = 2, .max_bytes = 10});
  auto view = MakeView();
  cache.Get("a", view, 1, [] { return std::string("aaaa"); });
  cache.Get("b", view, 1, [] { return std::string("bbbb"); });
  cache.Get("a", view, 1, [] { return std::string("????"); });  // a is now the most recent
  cache.Get("c", view, 1, [] { return std::string("cccc"); });  // b goes
  EXPECT_EQ(cache.entries(), 2u);
  EXPECT_EQ(*cache.Get("a", view, 1, [] { return std::string("????"); }), "aaaa");
  EXPECT_EQ(*cache.Get("b", view, 1, [] { return std::string("b2"); }), "b2");
  // Bytes: an answer larger than the budget is answered, and kept alone.
  auto big = cache.Get("d", view, 1, [] { return std::string(20, 'd'); });
  EXPECT_EQ(big->size(), 20u);
  EXPECT_EQ(cache.entries(), 1u);
  EXPECT_EQ(cache.bytes(), 20u);
}

TEST(AnswerCacheTest, AskersOfTheSameQuestionAtOnceWaitForTheOneEncodingIt) {
  AnswerCache cache;
  auto view = MakeView();
  std::promise<void> started;
  std::promise<void> release;
  std::atomic<int> encodings{0};
  auto slow = [&] {
    ++encodings;
    started.set_value();
    release.get_future().wait();
    return std::string("slow answer");
  };
  auto first = std::async(std::launch::async, [&] { return cache.Get("web", view, 9, slow); });
  started.get_future().wait();
  // The second asker arrives while the first encodes: it must not encode it again.
  auto second = std::async(std::launch::async, [&] {
    return cache.Get("web", view, 9, [&] {
      ++encodings;
      return std::string("second encoding");
    });
  });
  // Other questions are not held up meanwhile.
  EXPECT_EQ(*cache.Get("other", view, 9, [] { return std::string("x"); }), "x");
  release.set_value();
  auto a = first.get();
  auto b = second.get();
  EXPECT_EQ(a.get(), b.get());
  EXPECT_EQ(*b, "slow answer");
  EXPECT_EQ(encodings.load(), 1);
}

}  // namespace
}  // namespace concierge::http
