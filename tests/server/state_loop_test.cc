#include "server/state_loop.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <future>
#include <optional>
#include <thread>
#include <vector>

#include "server/clock.h"
#include "server/registry.h"
#include "server/watch_hub.h"

namespace concierge::server {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using core::HealthStatus;
using core::Index;

core::RegisterService Reg(std::string id, std::string name, core::Duration ttl = {}) {
  core::RegisterService r;
  r.service.id = std::move(id);
  r.service.name = std::move(name);
  if (ttl > core::Duration::zero()) {
    core::CheckDefinition c;
    c.id = "service:" + r.service.id;
    c.ttl = ttl;
    c.initial_status = HealthStatus::kPassing;
    r.checks.push_back(c);
  }
  return r;
}

// Coroutines are free functions, not capturing lambdas (g++ 12 mishandles lambda captures).
asio::awaitable<void> SubmitInto(StateLoop& loop, core::Command command,
                                 std::optional<Result<Index>>* out) {
  *out = co_await loop.Submit(std::move(command));
}

class StateLoopTest : public ::testing::Test {
 protected:
  StateLoopTest() {
    spdlog::set_level(spdlog::level::warn);
    loop_.Start();
  }

  // Submits from a coroutine on an io_context run by this thread, and waits for the result.
  Result<Index> Submit(core::Command command) {
    asio::io_context ctx;
    std::optional<Result<Index>> result;
    asio::co_spawn(ctx, SubmitInto(loop_, std::move(command), &result), asio::detached);
    ctx.run();
    EXPECT_TRUE(result.has_value());
    return result ? *result : Result<Index>(concierge::Status::Internal("no result"));
  }

  RealClock clock_;
  Metrics metrics_;
  WatchHub hub_;
  Registry registry_{clock_, RegistryOptions{}, &hub_, metrics_};
  StateLoop loop_{registry_};
};

TEST_F(StateLoopTest, SubmitAppliesOnTheStateThread) {
  Result<Index> r = Submit(Reg("web-1", "web"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(registry_.index(), r.value());
  auto inst = registry_.Instance("web-1");
  ASSERT_NE(inst, nullptr);
  EXPECT_EQ(inst->service.name, "web");
}

TEST_F(StateLoopTest, SubmitReturnsTheError) {
  Result<Index> r = Submit(core::DeregisterService{"nope", {}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), concierge::Status::Code::kNotFound);
}

TEST_F(StateLoopTest, ConcurrentSubmitsGetDistinctIndexes) {
  asio::io_context ctx;
  constexpr int kN = 50;
  std::vector<std::optional<Result<Index>>> results(kN);
  for (int i = 0; i < kN; ++i) {
    asio::co_spawn(ctx, SubmitInto(loop_, Reg("web-" + std::to_string(i), "web"), &results[i]),
                   asio::detached);
  }
  ctx.run();
  std::vector<Index> indexes;
  for (const auto& r : results) {
    ASSERT_TRUE(r.has_value());
    ASSERT_TRUE(r->ok());
    indexes.push_back(r->value());
  }
  std::sort(indexes.begin(), indexes.end());
  EXPECT_EQ(std::unique(indexes.begin(), indexes.end()), indexes.end());
  EXPECT_EQ(registry_.instance_count(), static_cast<std::size_t>(kN));
}

// Registers a check with the shortest TTL and waits (on the hub, bounded) for the state
// thread's timer to expire it.
asio::awaitable<void> RegisterAndAwaitExpiry(StateLoop& loop, Registry& registry, WatchHub& hub,
                                             std::optional<HealthStatus>* status) {
  Result<Index> r = co_await loop.Submit(Reg("web-1", "web", core::Limits::kMinTtl));
  if (!r.ok()) co_return;
  const Index registered = r.value();
  co_await hub.Wait(
      "web", [&] { return registry.ServiceIndex("web") > registered; },
      std::chrono::steady_clock::now() + 10s);
  if (auto inst = registry.Instance("web-1")) *status = inst->checks[0].status;
}

TEST_F(StateLoopTest, TimerExpiresATtlCheckWithoutHeartbeats) {
  asio::io_context ctx;
  std::optional<HealthStatus> status;
  asio::co_spawn(ctx, RegisterAndAwaitExpiry(loop_, registry_, hub_, &status), asio::detached);
  ctx.run();
  EXPECT_EQ(status, HealthStatus::kCritical);
}

TEST_F(StateLoopTest, PostRunsOnTheStateThread) {
  std::promise<std::thread::id> ran_on;
  loop_.Post([&] { ran_on.set_value(std::this_thread::get_id()); });
  EXPECT_NE(ran_on.get_future().get(), std::this_thread::get_id());
}

// Jobs posted from many threads at once all run, once each: none waits for a wake-up that
// never comes (the loop is woken only when its queue goes from empty to not empty).
TEST_F(StateLoopTest, PostsFromManyThreadsAllRun) {
  constexpr int kThreads = 4;
  constexpr int kEach = 2000;
  std::atomic<int> ran{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) loop_.Post([&] { ran.fetch_add(1); });
    });
  }
  for (auto& t : threads) t.join();
  std::promise<void> last;
  loop_.Post([&] { last.set_value(); });
  last.get_future().wait();
  EXPECT_EQ(ran.load(), kThreads * kEach);
}

TEST_F(StateLoopTest, StopRunsQueuedWorkAndIsIdempotent) {
  bool ran = false;
  loop_.Post([&] { ran = true; });
  loop_.Stop();
  EXPECT_TRUE(ran);
  loop_.Stop();
}

TEST(StateLoopLifecycleTest, StopWithoutStartIsHarmless) {
  RealClock clock;
  Metrics metrics;
  Registry registry(clock, RegistryOptions{}, nullptr, metrics);
  StateLoop loop(registry);
  loop.Stop();
}

}  // namespace
}  // namespace concierge::server
