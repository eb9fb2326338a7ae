// Heap bytes per registered instance, by layer: the core catalog alone, then the whole
// registry (catalog, heartbeat table, expiry queue, read views). No HTTP, no Raft: this is
// what the data structures cost, the floor under the agent's RSS (bench/run-all measures that).
//
//   memory_probe [N] [PER_NAME]   (default 100000 instances, 100 to a service name)
//
// The record is issue 9's: ID, name, 2 tags, address, port, 1 meta pair, one TTL check.
#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "core/catalog.h"
#include "core/command.h"
#include "server/clock.h"
#include "server/registry.h"

namespace concierge {
namespace {

using namespace std::chrono_literals;

core::RegisterService Record(std::int64_t i, std::int64_t per_name) {
  core::RegisterService r;
  r.service.name = "svc-" + std::to_string(i / per_name);
  r.service.id = r.service.name + "-" + std::to_string(i);
  r.service.tags = {"v1", "primary"};
  r.service.address = "10.0." + std::to_string(i / 250 % 250) + "." + std::to_string(i % 250);
  r.service.port = static_cast<std::uint16_t>(8000 + i % 1000);
  r.service.meta = {{"zone", "eu-west-1a"}};
  core::CheckDefinition check;
  check.id = "service:" + r.service.id;
  check.name = "Service '" + r.service.name + "' check";
  check.ttl = 10s;
  check.initial_status = core::HealthStatus::kPassing;
  r.checks.push_back(std::move(check));
  r.at = core::Time(core::Duration(1'700'000'000'000'000'000));
  return r;
}

std::size_t HeapInUse() {
  malloc_trim(0);
  return mallinfo2().uordblks;
}

void Report(const char* what, std::size_t before, std::size_t after, std::int64_t n) {
  std::printf("%-40s %8.0f bytes/instance\n", what,
              static_cast<double>(after - before) / static_cast<double>(n));
}

}  // namespace
}  // namespace concierge

int main(int argc, char** argv) {
  using namespace concierge;
  std::int64_t n = argc > 1 ? std::atoll(argv[1]) : 100'000;
  std::int64_t per_name = argc > 2 ? std::atoll(argv[2]) : 100;
  std::printf("%lld instances, %lld to a service name\n", static_cast<long long>(n),
              static_cast<long long>(per_name));

  std::size_t base = HeapInUse();
  {
    core::Catalog catalog;
    for (std::int64_t i = 0; i < n; ++i) {
      if (!catalog.Apply(Record(i, per_name), static_cast<core::Index>(i + 1)).ok()) return 1;
    }
    Report("core::Catalog", base, HeapInUse(), n);
  }

  // Before the base: the metrics are the agent's, not the registry's.
  auto metrics = std::make_unique<server::Metrics>();
  base = HeapInUse();
  server::FakeClock clock;
  server::Registry registry(clock, server::RegistryOptions{}, nullptr, *metrics);
  registry.set_deferred_publish(true);
  for (std::int64_t i = 0; i < n; ++i) {
    if (!registry.Apply(registry.Prepare(Record(i, per_name))).ok()) return 1;
    if (i % 4096 == 0) registry.Flush();
  }
  registry.Flush();
  registry.Collect();
  Report("server::Registry (catalog + all indexes)", base, HeapInUse(), n);
  std::size_t before_snapshot = HeapInUse();
  std::string snapshot = registry.Snapshot();
  std::printf("%-40s %8.0f bytes/instance\n", "snapshot encoding",
              static_cast<double>(snapshot.size()) / static_cast<double>(n));
  snapshot = {};
  Report("left behind by taking a snapshot", before_snapshot, HeapInUse(), n);
  return 0;
}
