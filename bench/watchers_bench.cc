// N blocking queries on one big service, all woken by one change to one instance (issue 17):
// how long from the change until every watcher has its answer, how much CPU that took, and
// how many bytes were allocated and held for the answers.
//
//   watchers_bench [instances=100000] [watchers=1000] [threads=2] [variants=1] [rounds=3]
//                  [delta]
//
// With `delta`, the watchers follow the service with GET /v1/concierge/delta/service/big
// (what the client library's Watcher does) instead of /v1/health/service.
//
// In process: a Registry, a StateLoop and ConsulApi, `threads` I/O threads (the agent has one
// per core), each watcher a GET /v1/health/service/big?index=I&wait=5m coroutine; `variants`
// spreads the watchers over that many distinct questions (passing only, a tag, ...). The
// answers are kept until every watcher has one, as a server writing them all at once holds
// them; bytes are counted by a replaced operator new. No sockets: this is the registry's side
// of the cost (rendering and copying answers), not the kernel's.
#include <sys/resource.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "http/consul_api.h"
#include "server/clock.h"

namespace {

std::atomic<std::uint64_t> g_allocated{0};
std::atomic<std::int64_t> g_live{0};
std::atomic<std::int64_t> g_peak{0};

void Count(std::size_t n) {
  g_allocated.fetch_add(n, std::memory_order_relaxed);
  std::int64_t live = g_live.fetch_add(static_cast<std::int64_t>(n)) + static_cast<std::int64_t>(n);
  std::int64_t peak = g_peak.load(std::memory_order_relaxed);
  while (live > peak && !g_peak.compare_exchange_weak(peak, live)) {
  }
}

}  // namespace

// Each block carries its size in front, so that delete can count what it frees.
void* operator new(std::size_t n) {
  void* p = std::malloc(n + 16);
  if (p == nullptr) throw std::bad_alloc();
  *static_cast<std::size_t*>(p) = n;
  Count(n);
  return static_cast<char*>(p) + 16;
}
void operator delete(void* p) noexcept {
  if (p == nullptr) return;
  char* base = static_cast<char*>(p) - 16;
  g_live.fetch_sub(static_cast<std::int64_t>(*reinterpret_cast<std::size_t*>(base)));
  std::free(base);
}
void operator delete(void* p, std::size_t) noexcept { operator delete(p); }

namespace {

namespace asio = boost::asio;
using namespace concierge;
using namespace std::chrono_literals;

core::RegisterService Registration(const std::string& id, int i) {
  core::RegisterService r;
  r.service.id = id;
  r.service.name = "big";
  r.service.tags = {"v1", i % 2 == 0 ? "even" : "odd"};
  r.service.address = "10.0.3.17";
  r.service.port = 8080;
  r.service.meta = {{"version", "1.4.2"}, {"zone", "eu-west-1a"}};
  core::CheckDefinition check;
  check.id = "service:" + id;
  check.name = "Service 'big' check";
  check.ttl = 30s;
  check.deregister_critical_after = 0s;
  check.initial_status = core::HealthStatus::kPassing;
  r.checks.push_back(std::move(check));
  return r;
}

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// The variants watchers ask for: passing only, all, and by tag.
std::string Query(int variant) {
  static const char* kQueries[] = {"passing",        "",       "passing&tag=even", "tag=odd",
                                   "passing&tag=v1", "tag=v1", "passing&tag=odd",  "tag=even"};
  return kQueries[variant % 8];
}

}  // namespace

int main(int argc, char** argv) {
  const int instances = argc > 1 ? std::atoi(argv[1]) : 100'000;
  const int watchers = argc > 2 ? std::atoi(argv[2]) : 1'000;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 2;
  const int variants = argc > 4 ? std::atoi(argv[4]) : 1;
  const int rounds = argc > 5 ? std::atoi(argv[5]) : 3;
  const bool delta = argc > 6 && std::string(argv[6]) == "delta";

  server::FakeClock clock;
  server::WatchHub hub;
  server::Metrics metrics;
  server::Registry registry(clock, server::RegistryOptions{}, &hub, metrics);
  for (int i = 0; i < instances; ++i) {
    core::Command c = registry.Prepare(Registration("big-" + std::to_string(i), i));
    if (!registry.Apply(c).ok()) std::abort();
    if (i % 1024 == 0) registry.Collect();
  }
  registry.Flush();
  registry.Collect();
  server::StateLoop state(registry);
  state.Start();
  http::ApiOptions options;
  options.node = {"1", "node-1", "127.0.0.1", "dc1"};
  options.version = "bench";
  options.max_blocking_queries = 0;
  http::ConsulApi api(registry, state, hub, options);

  asio::io_context ctx;
  auto work = asio::make_work_guard(ctx);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back([&] { ctx.run(); });

  std::printf("instances %d, watchers %d, I/O threads %d, variants %d%s\n", instances, watchers,
              threads, variants, delta ? ", deltas" : "");
  for (int round = 0; round < rounds; ++round) {
    const core::Index index = registry.ServiceIndex("big");
    std::mutex mu;
    std::vector<http::Response> answers;
    answers.reserve(static_cast<std::size_t>(watchers));
    std::atomic<int> done{0};
    std::promise<void> all_done;
    std::vector<std::unique_ptr<http::Request>> requests;
    for (int w = 0; w < watchers; ++w) {
      auto req = std::make_unique<http::Request>();
      req->method = "GET";
      req->path = delta ? "/v1/concierge/delta/service/big" : "/v1/health/service/big";
      std::string query = "index=" + std::to_string(index) + "&wait=5m";
      std::string variant = delta ? "" : Query(w % variants);
      if (!variant.empty()) query += "&" + variant;
      req->target = req->path + "?" + query;
      req->query = *http::ParseQuery(query);
      req->remote_address = "127.0.0.1";
      http::Request* r = req.get();
      requests.push_back(std::move(req));
      asio::co_spawn(
          ctx,
          [&, r]() -> asio::awaitable<void> {
            http::Response answer = co_await api.Handle(*r);
            std::lock_guard lock(mu);
            answers.push_back(std::move(answer));
            if (++done == watchers) all_done.set_value();
          },
          asio::detached);
    }
    while (hub.parked() < static_cast<std::size_t>(watchers)) std::this_thread::sleep_for(1ms);

    const std::uint64_t allocated0 = g_allocated.load();
    g_peak.store(g_live.load());
    const std::int64_t live0 = g_live.load();
    const double cpu0 = CpuSeconds();
    const auto t0 = std::chrono::steady_clock::now();
    // One instance fails (or passes again): one change, every watcher woken.
    std::promise<void> applied;
    state.Post([&] {
      const auto status =
          round % 2 == 0 ? core::HealthStatus::kCritical : core::HealthStatus::kPassing;
      core::Command c = registry.Prepare(core::UpdateCheck{"service:big-7", status, "", {}, {}});
      if (!registry.Apply(c).ok()) std::abort();
      registry.Flush();
      applied.set_value();
    });
    applied.get_future().wait();
    all_done.get_future().wait();
    const auto t1 = std::chrono::steady_clock::now();
    const double cpu1 = CpuSeconds();
    std::size_t body = 0;
    for (const http::Response& a : answers) {
      if (a.status != 200) std::abort();
      body = std::max(body, a.Body().size());
    }
    std::printf(
        "round %d: all %d answered %.1f ms after the change, CPU %.1f ms, allocated %.1f MB, "
        "peak held %.1f MB (an answer is %zu bytes)\n",
        round, watchers, std::chrono::duration<double, std::milli>(t1 - t0).count(),
        (cpu1 - cpu0) * 1e3, static_cast<double>(g_allocated.load() - allocated0) / 1e6,
        static_cast<double>(g_peak.load() - live0) / 1e6, body);
    std::fflush(stdout);
  }
  work.reset();
  ctx.stop();
  for (std::thread& t : pool) t.join();
  state.Stop();
  return 0;
}
