#include "server/watch_hub.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <string>
#include <thread>

namespace concierge::server {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

asio::awaitable<void> WaitFor(WatchHub& hub, std::string key, bool passed,
                              std::chrono::steady_clock::time_point deadline, int* woke) {
  co_await hub.Wait(
      std::move(key), [passed] { return passed; }, deadline);
  ++*woke;
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

}  // namespace
}  // namespace concierge::server
