// The agent's own metrics: counters, gauges and latency histograms that hot paths update with
// relaxed atomics (no locks, no allocation), and renderers for Prometheus' text format and
// Consul's JSON shape (/v1/agent/metrics).
//
// The agent owns one Metrics and gives it to the registry (Registry::metrics()), which the
// parts that serve the registry (state loop, Raft log, HTTP API) record through, and to the
// check runner; tests make their own. Values that already live elsewhere (instance counts,
// parked queries) are not copied here; the endpoint reads them at scrape time and passes
// them in as Families.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace concierge::server {

class Counter {
 public:
  void Inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// A counter written from many threads at a high rate (heartbeats): one cache line per shard,
// so that I/O threads do not bounce one line between cores.
class ShardedCounter {
 public:
  void Inc() { shards_[Shard()].value.fetch_add(1, std::memory_order_relaxed); }
  std::uint64_t value() const;

 private:
  static constexpr std::size_t kShards = 16;
  static std::size_t Shard();
  struct alignas(64) Cell {
    std::atomic<std::uint64_t> value{0};
  };
  std::array<Cell, kShards> shards_;
};

class Gauge {
 public:
  void Set(std::int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void Add(std::int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
  std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

// Latencies in seconds, in fixed buckets from 100 us to 10 s (Prometheus' defaults, extended
// down, because most of our requests take well under a millisecond).
class Histogram {
 public:
  static constexpr std::array<double, 16> kBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                     0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                                     1,      2.5,     5,      10};
  void Observe(std::chrono::nanoseconds d);
  // Cumulative counts per bound, then the +Inf count (= count()).
  std::array<std::uint64_t, kBounds.size() + 1> Cumulative() const;
  double sum_seconds() const;
  std::uint64_t count() const;

 private:
  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets_{};  // not cumulative
  std::atomic<std::uint64_t> sum_ns_{0};
};

using Labels = std::vector<std::pair<std::string, std::string>>;

// One metric name with its samples, as renderers take it.
struct Family {
  enum class Type { kCounter, kGauge, kHistogram };
  struct Sample {
    Labels labels;
    double value = 0;
  };
  struct HistogramSample {
    Labels labels;
    std::array<std::uint64_t, Histogram::kBounds.size() + 1> cumulative{};
    double sum = 0;
    std::uint64_t count = 0;
  };
  std::string name;  // Prometheus spelling, e.g. "concierge_heartbeats_total"
  std::string help;
  Type type = Type::kGauge;
  std::vector<Sample> samples;
  std::vector<HistogramSample> histograms;

  static Family Of(std::string name, std::string help, Type type, double value);
  void AddHistogram(Labels labels, const Histogram& h);
};

// Prometheus text exposition format 0.0.4.
std::string RenderPrometheus(const std::vector<Family>& families);
// Consul's /v1/agent/metrics shape: {"Timestamp", "Gauges", "Points", "Counters", "Samples"},
// with names in Consul's dotted spelling ("concierge.heartbeats").
std::string RenderJson(const std::vector<Family>& families, std::string_view timestamp);

// HTTP requests are counted by route (http/routes.h): slot 0 is "other", slot i the route
// pattern the HTTP layer numbers i; never raw paths, so that the number of series is bounded.
inline constexpr std::size_t kRouteSlots = 128;

struct Metrics {
  // Heartbeats (TTL pass/warn/fail) that found their check, and those that did not.
  ShardedCounter heartbeats;
  Counter heartbeats_unknown;
  // Checks the leader proposed as critical because their TTL passed.
  Counter expiries;
  // Expiries that self-preservation held back.
  Counter expiries_paused;
  // Services removed by request and by the reaper (as applied, on every server).
  Counter deregistrations_request;
  Counter deregistrations_reaped;
  // Active (HTTP, TCP) checks known to the runner, and the runs it made by their result
  // (before the flap filter), [status].
  Gauge active_checks;
  std::array<Counter, 3> active_check_runs;
  // Check status transitions, [from][to].
  std::array<std::array<Counter, 3>, 3> transitions;
  // Applying one command to the catalog (including republishing views).
  Histogram apply_latency;
  // From submitting a command to its result: ordering (Raft: commit) plus apply.
  Histogram commit_latency;
  // The fan-out of changes to blocking queries: for each parked query a change wakes, from
  // the wake-up (WatchHub::Notify, once the change is applied and its views published) until
  // its answer is handed to the socket (counted once the write succeeded). Queries that end
  // by their wait, or whose client went away, are not counted.
  Histogram watch_fanout;
  // Group commit on the leader: raft_apply calls, and the commands they carried.
  Counter raft_appends;
  Counter raft_entries;
  // HTTP requests by route slot and status code, and their latency by route slot.
  void ObserveRequest(std::size_t route, int code, std::chrono::nanoseconds latency);
  std::array<Histogram, kRouteSlots> request_latency;
  std::array<std::array<Counter, 500>, kRouteSlots> requests;  // codes 100..599

  // The families of everything above, plus the process' RSS and CPU time; `route_labels[i]`
  // names route slot i.
  std::vector<Family> Collect(std::span<const std::string_view> route_labels) const;
};

}  // namespace concierge::server
