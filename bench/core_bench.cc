// Micro benchmarks of the core and server hot paths: the heartbeat table, TTL expiry through
// the Registry, catalog registration and the command codec. See BENCHMARKS.md for how to run
// them and what they measured.
#include <benchmark/benchmark.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/catalog.h"
#include "core/codec.h"
#include "core/command.h"
#include "core/kv.h"
#include "server/clock.h"
#include "server/epoch.h"
#include "server/heartbeat_table.h"
#include "server/registry.h"

namespace concierge {
namespace {

using core::HealthStatus;
using namespace std::chrono_literals;

// Check IDs as the HTTP layer hands them to the table: packed at a fixed stride in one
// buffer, so reading the key is a sequential scan and the cost measured is the table's.
class PackedIds {
 public:
  static constexpr std::size_t kStride = 32;

  explicit PackedIds(const std::vector<std::string>& ids)
      : buf_(ids.size() * kStride), len_(ids.size()) {
    for (std::size_t i = 0; i < ids.size(); ++i) {
      std::memcpy(&buf_[i * kStride], ids[i].data(), ids[i].size());
      len_[i] = static_cast<std::uint8_t>(ids[i].size());
    }
  }
  std::string_view operator[](std::size_t i) const { return {&buf_[i * kStride], len_[i]}; }

 private:
  std::vector<char> buf_;
  std::vector<std::uint8_t> len_;
};

// IDs like "service:web-483920117-17": random numbers give mixed lengths and order, the
// suffix keeps them unique.
std::vector<std::string> RandomCheckIds(std::size_t n, std::mt19937_64& rng) {
  std::uniform_int_distribution<std::uint64_t> digits(100'000, 999'999'999);
  std::vector<std::string> ids;
  ids.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    ids.push_back("service:web-" + std::to_string(digits(rng)) + "-" + std::to_string(i));
  }
  return ids;
}

// One populated table shared by every thread of a run; rebuilt only when the size changes.
// Lookups go in another random order than the slots were handed out in, so that a large
// table is not walked in memory order.
struct BeatFixture {
  explicit BeatFixture(std::size_t n) : size(n) {
    std::mt19937_64 rng(42);
    std::vector<std::string> ids = RandomCheckIds(n, rng);
    core::Time now{core::Duration(1)};
    for (const std::string& id : ids) table.Add(id, 30s, HealthStatus::kPassing, now);
    std::shuffle(ids.begin(), ids.end(), rng);
    lookups = std::make_unique<PackedIds>(ids);
  }
  std::size_t size;
  server::EpochDomain domain;
  server::HeartbeatTable table{domain};
  std::unique_ptr<PackedIds> lookups;
};

BeatFixture& BeatTable(std::size_t n) {
  static std::unique_ptr<BeatFixture> fixture;
  if (!fixture || fixture->size != n) {
    fixture.reset();
    fixture = std::make_unique<BeatFixture>(n);
  }
  return *fixture;
}

// Lookups walk the ID list from a per-thread offset, so two threads touch different slots.
void BM_HeartbeatTableBeat(benchmark::State& state) {
  std::size_t n = static_cast<std::size_t>(state.range(0));
  BeatFixture* f = nullptr;
  if (state.thread_index() == 0) f = &BeatTable(n);
  // Google Benchmark holds every thread at the loop's start until all have arrived.
  static BeatFixture* shared = nullptr;
  if (state.thread_index() == 0) shared = f;
  std::size_t i = (n / 2) * static_cast<std::size_t>(state.thread_index());
  core::Time now{core::Duration(2)};
  std::size_t found = 0;
  for (auto _ : state) {
    std::optional<HealthStatus> s = shared->table.Beat((*shared->lookups)[i], now);
    found += s.has_value();
    if (++i == n) i = 0;
  }
  if (found != static_cast<std::size_t>(state.iterations())) state.SkipWithError("missed a check");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HeartbeatTableBeat)
    ->ArgName("checks")
    ->Arg(1'000)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();

// An ID that is not in the table (a heartbeat for an unknown check: a 404).
void BM_HeartbeatTableBeatMiss(benchmark::State& state) {
  BeatFixture& f = BeatTable(static_cast<std::size_t>(state.range(0)));
  core::Time now{core::Duration(2)};
  std::string id = "service:web-does-not-exist";
  for (auto _ : state) benchmark::DoNotOptimize(f.table.Beat(id, now));
}
BENCHMARK(BM_HeartbeatTableBeatMiss)->ArgName("checks")->Arg(100'000);

// Baseline for the table: std::unordered_map<std::string, uint32_t>::find on the same IDs
// in the same order, single-threaded (it is not safe for readers beside a writer).
void BM_UnorderedMapFind(benchmark::State& state) {
  std::size_t n = static_cast<std::size_t>(state.range(0));
  std::mt19937_64 rng(42);
  std::vector<std::string> ids = RandomCheckIds(n, rng);
  std::unordered_map<std::string, std::uint32_t> map;
  for (std::size_t i = 0; i < n; ++i) map.emplace(ids[i], static_cast<std::uint32_t>(i));
  std::shuffle(ids.begin(), ids.end(), rng);
  PackedIds lookups(ids);
  std::size_t i = 0;
  std::string key;
  for (auto _ : state) {
    std::string_view id = lookups[i];
    key.assign(id.data(), id.size());
    benchmark::DoNotOptimize(map.find(key));
    if (++i == n) i = 0;
  }
}
BENCHMARK(BM_UnorderedMapFind)->ArgName("checks")->Arg(1'000)->Arg(100'000)->Arg(1'000'000);

// What Registry::Heartbeat adds to Beat on a real server: one steady-clock read.
void BM_RealClockSteady(benchmark::State& state) {
  server::RealClock clock;
  for (auto _ : state) benchmark::DoNotOptimize(clock.Steady());
}
BENCHMARK(BM_RealClockSteady);

// A registration as a client library sends it: tags, meta, one TTL check.
core::RegisterService TypicalRegistration(const std::string& id, const std::string& name,
                                          HealthStatus initial) {
  core::RegisterService r;
  r.service.id = id;
  r.service.name = name;
  r.service.tags = {"v1", "primary"};
  r.service.address = "10.0.3.17";
  r.service.port = 8080;
  r.service.meta = {{"version", "1.4.2"}, {"zone", "eu-west-1a"}};
  core::CheckDefinition check;
  check.id = "service:" + id;
  check.name = "Service '" + name + "' check";
  check.ttl = 30s;
  check.deregister_critical_after = 0s;
  check.initial_status = initial;
  r.checks.push_back(std::move(check));
  r.at = core::Time(core::Duration(1'700'000'000'000'000'000));
  return r;
}

// A registry with `n` instances, `per_name` to a service name, each with one passing TTL
// check that is armed to expire 30 s after `clock`'s current time.
// What the benchmarks' registries record into (the agent gives its own).
server::Metrics& BenchMetrics() {
  static auto* metrics = new server::Metrics;
  return *metrics;
}

std::unique_ptr<server::Registry> FilledRegistry(server::FakeClock& clock, std::int64_t n,
                                                 std::int64_t per_name) {
  auto registry =
      std::make_unique<server::Registry>(clock, server::RegistryOptions{}, nullptr, BenchMetrics());
  for (std::int64_t i = 0; i < n; ++i) {
    std::string name = "svc-" + std::to_string(i / per_name);
    core::Command c = registry->Prepare(
        TypicalRegistration(name + "-" + std::to_string(i), name, HealthStatus::kPassing));
    if (!registry->Apply(c).ok()) std::abort();
  }
  registry->Collect();
  return registry;
}

// Reports the time of one iteration divided by the number of checks it handled.
void PerCheck(benchmark::State& state, std::int64_t checks) {
  state.counters["per_check"] = benchmark::Counter(
      static_cast<double>(checks),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// Every check misses its TTL: RunTimers proposes and applies N transitions to critical.
// Args: checks, instances per service name.
void BM_RegistryExpire(benchmark::State& state) {
  std::int64_t n = state.range(0);
  for (auto _ : state) {
    state.PauseTiming();
    server::FakeClock clock;
    auto registry = FilledRegistry(clock, n, state.range(1));
    clock.Advance(31s);
    state.ResumeTiming();
    registry->RunTimers();
    state.PauseTiming();
    if (registry->NextTimer().has_value()) state.SkipWithError("a check did not expire");
    registry.reset();
    state.ResumeTiming();
  }
  PerCheck(state, n);
}
BENCHMARK(BM_RegistryExpire)
    ->ArgNames({"checks", "per_name"})
    ->Args({1'000, 10})
    ->Args({10'000, 10})
    ->Args({100'000, 10})
    ->Args({1'000, 1'000})
    ->Args({10'000, 10'000})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

// What a restarted server does before it serves again (issue 22: within 5 s at 1,000,000
// instances): restore the Raft snapshot of N instances (100 per name, TTL checks passing),
// then win the election, which restarts every TTL from it (core::LeaderElected). The two
// steps are reported apart, in ms of wall time per restart.
void BM_RegistryRestart(benchmark::State& state) {
  server::FakeClock clock;
  const std::string snapshot = FilledRegistry(clock, state.range(0), 100)->Snapshot();
  double restore_ms = 0, elect_ms = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto registry = std::make_unique<server::Registry>(clock, server::RegistryOptions{}, nullptr,
                                                       BenchMetrics());
    registry->SetLeader(false);
    state.ResumeTiming();
    auto t0 = std::chrono::steady_clock::now();
    if (!registry->Restore(snapshot).ok()) state.SkipWithError("the snapshot did not restore");
    auto t1 = std::chrono::steady_clock::now();
    registry->SetLeader(true);
    registry->Collect();
    auto t2 = std::chrono::steady_clock::now();
    restore_ms += std::chrono::duration<double, std::milli>(t1 - t0).count();
    elect_ms += std::chrono::duration<double, std::milli>(t2 - t1).count();
    state.PauseTiming();
    registry.reset();
    state.ResumeTiming();
  }
  state.counters["restore_ms"] = restore_ms / static_cast<double>(state.iterations());
  state.counters["elect_ms"] = elect_ms / static_cast<double>(state.iterations());
}
BENCHMARK(BM_RegistryRestart)
    ->ArgName("instances")
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(2);

// Expiries one at a time, as they come when instances fail independently: each RunTimers
// expires one check of a service with `checks` instances, and Collect runs after it (as the
// state loop does). Isolates the per-transition cost from BM_RegistryExpire's pile-up.
void BM_RegistryExpireOneByOne(benchmark::State& state) {
  std::int64_t n = state.range(0);
  server::FakeClock clock;
  auto registry =
      std::make_unique<server::Registry>(clock, server::RegistryOptions{}, nullptr, BenchMetrics());
  for (std::int64_t i = 0; i < n; ++i) {
    core::Command c = registry->Prepare(
        TypicalRegistration("web-" + std::to_string(i), "web", HealthStatus::kPassing));
    if (!registry->Apply(c).ok()) std::abort();
    registry->Collect();
    clock.Advance(1ms);
  }
  // Check i expires at i ms + 30 s: the first iteration expires check 0, the next check 1...
  clock.Advance(30s - std::chrono::milliseconds(n + 1));
  core::Index start = registry->catalog().index();
  for (auto _ : state) {
    clock.Advance(1ms);
    registry->RunTimers();
    registry->Collect();
  }
  if (registry->catalog().index() != start + state.iterations()) {
    state.SkipWithError("not one expiry per iteration");
  }
}
BENCHMARK(BM_RegistryExpireOneByOne)
    ->ArgName("instances_of_one_name")
    ->Arg(1'000)
    ->Arg(10'000)
    ->Iterations(1'000)
    ->Unit(benchmark::kMicrosecond);

// Every check heartbeated since it was armed: RunTimers pops each entry and re-arms it at
// last-seen + TTL, with no transition. Steady state, so the registry is built once.
void BM_RegistryRearm(benchmark::State& state) {
  std::int64_t n = state.range(0);
  server::FakeClock clock;
  auto registry = FilledRegistry(clock, n, 10);
  std::vector<std::string> ids;
  for (std::int64_t i = 0; i < n; ++i) {
    ids.push_back("service:svc-" + std::to_string(i / 10) + "-" + std::to_string(i));
  }
  core::Index start = registry->catalog().index();
  for (auto _ : state) {
    state.PauseTiming();
    clock.Advance(15s);
    for (const std::string& id : ids) registry->Heartbeat(id);
    clock.Advance(15s);
    state.ResumeTiming();
    registry->RunTimers();
  }
  if (registry->catalog().index() != start) {
    state.SkipWithError("a check expired");
  }
  PerCheck(state, n);
}
BENCHMARK(BM_RegistryRearm)
    ->ArgName("checks")
    ->Arg(1'000)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Unit(benchmark::kMillisecond);

// Registry::Apply of a new registration (catalog, heartbeat table, timers, read views).
// Args: instances per service name. The registry is refilled every kBatch registrations.
void BM_RegistryRegister(benchmark::State& state) {
  constexpr std::int64_t kBatch = 10'000;
  std::int64_t per_name = state.range(0);
  server::FakeClock clock;
  std::unique_ptr<server::Registry> registry;
  std::vector<core::Command> batch;
  std::int64_t next = kBatch;
  for (auto _ : state) {
    if (next == kBatch) {
      state.PauseTiming();
      registry = std::make_unique<server::Registry>(clock, server::RegistryOptions{}, nullptr,
                                                    BenchMetrics());
      batch.clear();
      for (std::int64_t i = 0; i < kBatch; ++i) {
        std::string name = "svc-" + std::to_string(i / per_name);
        batch.push_back(registry->Prepare(
            TypicalRegistration(name + "-" + std::to_string(i), name, HealthStatus::kCritical)));
      }
      next = 0;
      state.ResumeTiming();
    }
    if (!registry->Apply(batch[next++]).ok()) state.SkipWithError("refused");
    if (next % 256 == 0) registry->Collect();
  }
}
BENCHMARK(BM_RegistryRegister)->ArgName("per_name")->Arg(1)->Arg(10)->Arg(10'000);

// Applies a command and publishes it as the state loop does (Flush, then Collect).
bool ApplyAndPublish(server::Registry& registry, core::Command command) {
  core::Command c = registry.Prepare(std::move(command));
  const bool ok = registry.Apply(c).ok();
  registry.Flush();
  registry.Collect();
  return ok;
}

// Applies make(0..n-1), published every 1,024 commands and at the end, as a loaded registry.
template <typename Make>
void Fill(server::Registry& registry, std::int64_t n, Make make) {
  for (std::int64_t i = 0; i < n; ++i) {
    core::Command c = registry.Prepare(make(i));
    if (!registry.Apply(c).ok()) std::abort();
    if (i % 1024 == 0) {
      registry.Flush();
      registry.Collect();
    }
  }
  registry.Flush();
  registry.Collect();
}

// One instance of a service with `instances` instances fails, then passes again, each change
// published as the state loop does it (deferred publication, one Flush and Collect per
// command). What a status change costs as one service grows (issue 17).
void BM_RegistryFlipInBigService(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  server::FakeClock clock;
  server::Registry registry(clock, server::RegistryOptions{}, nullptr, BenchMetrics());
  registry.set_deferred_publish(true);
  Fill(registry, n, [](std::int64_t i) -> core::Command {
    return TypicalRegistration("big-" + std::to_string(i), "big", HealthStatus::kPassing);
  });
  const std::string check = "service:big-7";
  for (auto _ : state) {
    for (HealthStatus s : {HealthStatus::kCritical, HealthStatus::kPassing}) {
      if (!ApplyAndPublish(registry, core::UpdateCheck{check, s, "", {}, {}})) {
        state.SkipWithError("refused");
      }
    }
  }
  state.counters["per_change"] = benchmark::Counter(
      2, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_RegistryFlipInBigService)
    ->ArgName("instances_of_one_name")
    ->Arg(1'000)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Unit(benchmark::kMicrosecond);

core::SessionCreate Create(std::string id) {
  core::Session s;
  s.id = std::move(id);
  s.node = "node-1";
  s.node_checks = {std::string(core::kSerfHealthCheck)};
  return core::SessionCreate{std::move(s), {}};
}

// A session is created and destroyed among `sessions` others, each change published as the
// state loop does it: what one session change costs as their number grows (the published
// sessions are a persistent set; a copied map made this O(sessions)).
void BM_RegistrySessionChange(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  server::FakeClock clock;
  server::Registry registry(clock, server::RegistryOptions{}, nullptr, BenchMetrics());
  registry.set_deferred_publish(true);
  Fill(registry, n,
       [](std::int64_t i) -> core::Command { return Create("session-" + std::to_string(i)); });
  for (auto _ : state) {
    if (!ApplyAndPublish(registry, Create("extra")) ||
        !ApplyAndPublish(registry, core::SessionDestroy{"extra", false, {}})) {
      state.SkipWithError("refused");
    }
  }
  state.counters["per_change"] = benchmark::Counter(
      2, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_RegistrySessionChange)
    ->ArgName("sessions")
    ->Arg(1'000)
    ->Arg(100'000)
    ->Unit(benchmark::kMicrosecond);

// Catalog::Apply of a new registration, all instances of one service name. The catalog is
// replaced every kBatch registrations.
void BM_CatalogApplyRegister(benchmark::State& state) {
  constexpr std::size_t kBatch = 100'000;
  std::vector<core::Command> batch;
  for (std::size_t i = 0; i < kBatch; ++i) {
    batch.push_back(
        TypicalRegistration("web-" + std::to_string(i), "web", HealthStatus::kCritical));
  }
  auto catalog = std::make_unique<core::Catalog>();
  std::size_t next = 0;
  core::Index index = 0;
  for (auto _ : state) {
    if (next == kBatch) {
      state.PauseTiming();
      catalog = std::make_unique<core::Catalog>();
      next = 0;
      state.ResumeTiming();
    }
    auto events = catalog->Apply(batch[next++], ++index);
    if (!events.ok()) state.SkipWithError("refused");
  }
}
BENCHMARK(BM_CatalogApplyRegister);

// Catalog::Apply of a re-registration that changes nothing (a client's periodic refresh).
void BM_CatalogApplyReregisterUnchanged(benchmark::State& state) {
  core::Catalog catalog;
  core::Command c = TypicalRegistration("web-1", "web", HealthStatus::kCritical);
  core::Index index = 0;
  if (!catalog.Apply(c, ++index).ok()) std::abort();
  for (auto _ : state) benchmark::DoNotOptimize(catalog.Apply(c, ++index));
}
BENCHMARK(BM_CatalogApplyReregisterUnchanged);

// A Raft snapshot of a catalog of N instances (100 per service name): what the state thread
// pays (Image: pointer copies) against what it paid before snapshots were encoded on a
// worker thread (the whole encoding, which now runs there).
core::Catalog CatalogOf(std::size_t n) {
  core::Catalog catalog;
  core::Index index = 0;
  for (std::size_t i = 0; i < n; ++i) {
    auto events = catalog.Apply(
        TypicalRegistration("web-" + std::to_string(i), "web-" + std::to_string(i / 100),
                            HealthStatus::kCritical),
        ++index);
    if (!events.ok()) std::abort();
  }
  return catalog;
}

void BM_SnapshotImage(benchmark::State& state) {
  const core::Catalog catalog = CatalogOf(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(catalog.Image());
}
BENCHMARK(BM_SnapshotImage)->ArgName("instances")->Arg(100'000)->Unit(benchmark::kMillisecond);

void BM_SnapshotEncode(benchmark::State& state) {
  const core::Catalog catalog = CatalogOf(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(catalog.EncodeSnapshot());
}
BENCHMARK(BM_SnapshotEncode)->ArgName("instances")->Arg(100'000)->Unit(benchmark::kMillisecond);

void BM_EncodeCommand(benchmark::State& state) {
  core::Command c = TypicalRegistration("web-123456", "web", HealthStatus::kCritical);
  for (auto _ : state) benchmark::DoNotOptimize(core::EncodeCommand(c));
  state.counters["bytes"] = static_cast<double>(core::EncodeCommand(c).size());
}
BENCHMARK(BM_EncodeCommand);

void BM_DecodeCommand(benchmark::State& state) {
  std::string bytes =
      core::EncodeCommand(TypicalRegistration("web-123456", "web", HealthStatus::kCritical));
  for (auto _ : state) {
    auto c = core::DecodeCommand(bytes);
    if (!c.ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(c);
  }
}
BENCHMARK(BM_DecodeCommand);

}  // namespace
}  // namespace concierge

// The Registry logs every registration and transition at info level. The benchmarks measure
// it with a logger that formats every line and writes nowhere (as with a slow-enough sink,
// the formatting is what the state thread pays); pass --quiet to drop info lines unformatted.
int main(int argc, char** argv) {
  bool quiet = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quiet") == 0) {
      quiet = true;
    } else {
      args.push_back(argv[i]);
    }
  }
  auto logger =
      std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());
  logger->set_level(quiet ? spdlog::level::warn : spdlog::level::info);
  spdlog::set_default_logger(logger);
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
