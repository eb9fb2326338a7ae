#include "server/watch_hub.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>

namespace concierge::server {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

asio::awaitable<void> WaitFor(WatchHub& hub, std::string key, bool passed,
                              std::chrono::steady_clock::time_point deadline, int* woke,
                              std::optional<WatchHub::TimePoint>* woken_at = nullptr) {
  auto when = co_await hub.Wait(
      std::move(key), [passed] { return passed; }, deadline);
  ++*woke;
  if (woken_at != nullptr) *woken_at = when;
}

std::chrono::steady_clock::time_point Far() { return std::chrono::steady_clock::now() + 1h; }

TEST(WatchHubTest, ReturnsAtOnceWhenAlreadyPassed) {
  asio::io_context ctx;
  WatchHub hub;
  int woke = 0;
  asio::co_spawn(ctx, WaitFor(hub, "a", true, Far(), &woke), asio::detached);
  ctx.poll();
  EXPECT_EQ(woke, 1);
  EXPECT_EQ(hub.parked(), 0u);
}

TEST(WatchHubTest, NotifyWakesEveryWaiterOfTheKeyAndNoOther) {
  asio::io_context ctx;
  WatchHub hub;
  int a = 0;
  int b = 0;
  asio::co_spawn(ctx, WaitFor(hub, "a", false, Far(), &a), asio::detached);
  asio::co_spawn(ctx, WaitFor(hub, "a", false, Far(), &a), asio::detached);
  asio::co_spawn(ctx, WaitFor(hub, "b", false, Far(), &b), asio::detached);
  ctx.poll();
  EXPECT_EQ(hub.parked(), 3u);
  hub.Notify("c");
  hub.Notify("a");
  ctx.poll();
  EXPECT_EQ(a, 2);
  EXPECT_EQ(b, 0);
  EXPECT_EQ(hub.parked(), 1u);
  hub.Notify("a");  // nobody left
  hub.Notify("b");
  ctx.poll();
  EXPECT_EQ(b, 1);
  EXPECT_EQ(hub.parked(), 0u);
}

TEST(WatchHubTest, CatalogKeyIsItsOwnKey) {
  asio::io_context ctx;
  WatchHub hub;
  int woke = 0;
  asio::co_spawn(ctx, WaitFor(hub, std::string(WatchHub::kCatalogKey), false, Far(), &woke),
                 asio::detached);
  ctx.poll();
  hub.Notify("web");
  ctx.poll();
  EXPECT_EQ(woke, 0);
  hub.Notify(WatchHub::kCatalogKey);
  ctx.poll();
  EXPECT_EQ(woke, 1);
}

TEST(WatchHubTest, DeadlineEndsTheWaitAndUnparks) {
  asio::io_context ctx;
  WatchHub hub;
  int woke = 0;
  asio::co_spawn(ctx, WaitFor(hub, "a", false, std::chrono::steady_clock::now() - 1s, &woke),
                 asio::detached);
  ctx.run();
  EXPECT_EQ(woke, 1);
  EXPECT_EQ(hub.parked(), 0u);
  hub.Notify("a");  // the timed-out waiter is off the list
  ctx.restart();
  ctx.poll();
  EXPECT_EQ(woke, 1);
}

TEST(WatchHubTest, NotifyFromAnotherThread) {
  asio::io_context ctx;
  WatchHub hub;
  int woke = 0;
  asio::co_spawn(ctx, WaitFor(hub, "a", false, Far(), &woke), asio::detached);
  ctx.poll();
  ASSERT_EQ(hub.parked(), 1u);
  std::thread([&] { hub.Notify("a"); }).join();
  ctx.run();
  EXPECT_EQ(woke, 1);
}

// The fan-out of a change is measured from the Notify: each waiter it wakes is told when it
// was called, and a waiter that no Notify woke is told nothing.
TEST(WatchHubTest, NotifyTellsEachWaiterWhenItWasCalled) {
  asio::io_context ctx;
  WatchHub hub;
  int woke = 0;
  std::optional<WatchHub::TimePoint> first;
  std::optional<WatchHub::TimePoint> second;
  asio::co_spawn(ctx, WaitFor(hub, "a", false, Far(), &woke, &first), asio::detached);
  asio::co_spawn(ctx, WaitFor(hub, "a", false, Far(), &woke, &second), asio::detached);
  ctx.poll();
  ASSERT_EQ(hub.parked(), 2u);
  const auto before = std::chrono::steady_clock::now();
  hub.Notify("a");
  const auto after = std::chrono::steady_clock::now();
  ctx.poll();
  ASSERT_EQ(woke, 2);
  ASSERT_TRUE(first.has_value());
  EXPECT_GE(*first, before);
  EXPECT_LE(*first, after);
  EXPECT_EQ(first, second);  // one clock read for the whole Notify
}

TEST(WatchHubTest, NoWakeUpTimeWithoutANotify) {
  asio::io_context ctx;
  WatchHub hub;
  int woke = 0;
  std::optional<WatchHub::TimePoint> at_once = WatchHub::TimePoint{};
  std::optional<WatchHub::TimePoint> timed_out = WatchHub::TimePoint{};
  std::optional<WatchHub::TimePoint> ended = WatchHub::TimePoint{};
  asio::co_spawn(ctx, WaitFor(hub, "a", true, Far(), &woke, &at_once), asio::detached);
  asio::co_spawn(ctx,
                 WaitFor(hub, "b", false, std::chrono::steady_clock::now() - 1s, &woke, &timed_out),
                 asio::detached);
  // The client went away: the wait is ended early, as the HTTP layer does on a hangup.
  std::function<void()> end;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        ended = co_await hub.Wait(
            "c", [] { return false; }, Far(), [&](std::function<void()> f) { end = std::move(f); });
        ++woke;
      },
      asio::detached);
  ctx.poll();
  ASSERT_TRUE(end);
  end();
  ctx.run();
  EXPECT_EQ(woke, 3);
  EXPECT_EQ(at_once, std::nullopt);
  EXPECT_EQ(timed_out, std::nullopt);
  EXPECT_EQ(ended, std::nullopt);
  EXPECT_EQ(hub.parked(), 0u);
}

}  // namespace
}  // namespace concierge::server
