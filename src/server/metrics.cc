#include "server/metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <functional>
#include <thread>

#include "core/json_string.h"

namespace concierge::server {

namespace {

constexpr std::string_view kStatusNames[] = {"passing", "warning", "critical"};

void AppendNumber(std::string& out, double v) {
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  // The shortest text that reads back as the same double ("0.0005", "3").
  char buf[32];
  const double magnitude = std::fabs(v);
  const bool plain = v == 0 || (magnitude >= 1e-6 && magnitude < 1e15);
  auto [end, ec] = plain ? std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed)
                         : std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, ec == std::errc() ? end : buf);
}

// Label values and help text escape '\\', '"' (label values only) and newlines.
void AppendEscaped(std::string& out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

void AppendLabels(std::string& out, const Labels& labels, std::string_view extra_key = {},
                  std::string_view extra_value = {}) {
  if (labels.empty() && extra_key.empty()) return;
  out += '{';
  bool first = true;
  auto one = [&](std::string_view k, std::string_view v) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    AppendEscaped(out, v, true);
    out += '"';
  };
  for (const auto& [k, v] : labels) one(k, v);
  if (!extra_key.empty()) one(extra_key, extra_value);
  out += '}';
}

void AppendJsonLabels(std::string& out, const Labels& labels) {
  out += "\"Labels\":{";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ',';
    core::AppendJsonString(out, labels[i].first);
    out += ':';
    core::AppendJsonString(out, labels[i].second);
  }
  out += '}';
}

// "concierge_heartbeats_total" -> "concierge.heartbeats", as Consul names its metrics.
std::string DottedName(const Family& f) {
  std::string name = f.name;
  for (std::string_view suffix : {"_total", "_seconds", "_bytes"}) {
    if (name.ends_with(suffix)) {
      name.resize(name.size() - suffix.size());
      break;
    }
  }
  for (char& c : name) {
    if (c == '_') c = '.';
  }
  return name;
}

std::int64_t ResidentBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  long size = 0;
  long resident = 0;
  int n = std::fscanf(f, "%ld %ld", &size, &resident);
  std::fclose(f);
  if (n != 2) return 0;
  return static_cast<std::int64_t>(resident) * sysconf(_SC_PAGESIZE);
}

double CpuSeconds() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace

std::size_t ShardedCounter::Shard() {
  thread_local const std::size_t shard =
      std::hash<std::thread::id>{}(std::this_thread::get_id()) % kShards;
  return shard;
}

std::uint64_t ShardedCounter::value() const {
  std::uint64_t sum = 0;
  for (const Cell& c : shards_) sum += c.value.load(std::memory_order_relaxed);
  return sum;
}

void Histogram::Observe(std::chrono::nanoseconds d) {
  double seconds = static_cast<double>(d.count()) / 1e9;
  std::size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<std::uint64_t>(std::max<std::int64_t>(0, d.count())),
                    std::memory_order_relaxed);
}

std::array<std::uint64_t, Histogram::kBounds.size() + 1> Histogram::Cumulative() const {
  std::array<std::uint64_t, kBounds.size() + 1> out{};
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    out[i] = running;
  }
  return out;
}

double Histogram::sum_seconds() const {
  return static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
}

std::uint64_t Histogram::count() const { return Cumulative().back(); }

Family Family::Of(std::string name, std::string help, Type type, double value) {
  Family f{std::move(name), std::move(help), type, {}, {}};
  f.samples.push_back({{}, value});
  return f;
}

void Family::AddHistogram(Labels labels, const Histogram& h) {
  HistogramSample s;
  s.labels = std::move(labels);
  s.cumulative = h.Cumulative();
  // Sum read after the buckets: a concurrent Observe may show in one and not the other,
  // which Prometheus tolerates.
  s.sum = h.sum_seconds();
  s.count = s.cumulative.back();
  histograms.push_back(std::move(s));
}

std::string RenderPrometheus(const std::vector<Family>& families) {
  std::string out;
  out.reserve(4096);
  for (const Family& f : families) {
    out += "# HELP ";
    out += f.name;
    out += ' ';
    AppendEscaped(out, f.help, false);
    out += "\n# TYPE ";
    out += f.name;
    out += f.type == Family::Type::kCounter ? " counter\n"
           : f.type == Family::Type::kGauge ? " gauge\n"
                                            : " histogram\n";
    for (const Family::Sample& s : f.samples) {
      out += f.name;
      AppendLabels(out, s.labels);
      out += ' ';
      AppendNumber(out, s.value);
      out += '\n';
    }
    for (const Family::HistogramSample& h : f.histograms) {
      for (std::size_t i = 0; i < h.cumulative.size(); ++i) {
        out += f.name;
        out += "_bucket";
        std::string le;
        if (i < Histogram::kBounds.size()) {
          AppendNumber(le, Histogram::kBounds[i]);
        } else {
          le = "+Inf";
        }
        AppendLabels(out, h.labels, "le", le);
        out += ' ';
        AppendNumber(out, static_cast<double>(h.cumulative[i]));
        out += '\n';
      }
      out += f.name;
      out += "_sum";
      AppendLabels(out, h.labels);
      out += ' ';
      AppendNumber(out, h.sum);
      out += '\n';
      out += f.name;
      out += "_count";
      AppendLabels(out, h.labels);
      out += ' ';
      AppendNumber(out, static_cast<double>(h.count));
      out += '\n';
    }
  }
  return out;
}

std::string RenderJson(const std::vector<Family>& families, std::string_view timestamp) {
  std::string gauges;
  std::string counters;
  std::string samples;
  auto sep = [](std::string& s) {
    if (!s.empty()) s += ',';
  };
  for (const Family& f : families) {
    std::string name = DottedName(f);
    for (const Family::Sample& s : f.samples) {
      std::string& list = f.type == Family::Type::kCounter ? counters : gauges;
      sep(list);
      list += "{\"Name\":";
      core::AppendJsonString(list, name);
      if (f.type == Family::Type::kCounter) {
        list += ",\"Count\":";
        AppendNumber(list, s.value);
        list += ",\"Sum\":";
      } else {
        list += ",\"Value\":";
      }
      AppendNumber(list, s.value);
      list += ',';
      AppendJsonLabels(list, s.labels);
      list += '}';
    }
    for (const Family::HistogramSample& h : f.histograms) {
      if (h.count == 0) continue;
      sep(samples);
      samples += "{\"Name\":";
      core::AppendJsonString(samples, name);
      samples += ",\"Count\":";
      AppendNumber(samples, static_cast<double>(h.count));
      // Consul reports samples in milliseconds.
      samples += ",\"Sum\":";
      AppendNumber(samples, h.sum * 1e3);
      samples += ",\"Mean\":";
      AppendNumber(samples, h.sum * 1e3 / static_cast<double>(h.count));
      samples += ',';
      AppendJsonLabels(samples, h.labels);
      samples += '}';
    }
  }
  std::string out = "{\"Timestamp\":";
  core::AppendJsonString(out, timestamp);
  out += ",\"Gauges\":[" + gauges + "],\"Points\":[],\"Counters\":[" + counters +
         "],\"Samples\":[" + samples + "]}";
  return out;
}

void Metrics::ObserveRequest(std::size_t route, int code, std::chrono::nanoseconds latency) {
  if (route >= kRouteSlots) route = 0;
  if (code < 100 || code > 599) code = 599;
  requests[route][static_cast<std::size_t>(code - 100)].Inc();
  request_latency[route].Observe(latency);
}

std::vector<Family> Metrics::Collect(std::span<const std::string_view> route_labels) const {
  using Type = Family::Type;
  std::vector<Family> out;
  out.push_back(Family::Of("concierge_heartbeats_total",
                           "TTL check updates (pass, warn, fail) received for known checks",
                           Type::kCounter, static_cast<double>(heartbeats.value())));
  out.push_back(Family::Of("concierge_heartbeats_unknown_total",
                           "TTL check updates for check IDs that are not registered",
                           Type::kCounter, static_cast<double>(heartbeats_unknown.value())));
  out.push_back(Family::Of("concierge_expiries_total",
                           "TTL checks the leader marked critical because no heartbeat came",
                           Type::kCounter, static_cast<double>(expiries.value())));
  out.push_back(Family::Of("concierge_expiries_paused_total",
                           "TTL expiries held back by self-preservation", Type::kCounter,
                           static_cast<double>(expiries_paused.value())));
  out.push_back(
      Family::Of("concierge_active_checks",
                 "active checks in the catalog, all but TTL and alias (run by the leader)",
                 Type::kGauge, static_cast<double>(active_checks.value())));
  Family runs{"concierge_active_check_runs_total",
              "active check runs on this server, by result (before FailuresBeforeCritical "
              "and SuccessBeforePassing)",
              Type::kCounter,
              {},
              {}};
  for (std::size_t status = 0; status < 3; ++status) {
    runs.samples.push_back({{{"status", std::string(kStatusNames[status])}},
                            static_cast<double>(active_check_runs[status].value())});
  }
  out.push_back(std::move(runs));
  out.push_back(Family::Of("concierge_raft_appends_total",
                           "Batches of commands the leader appended to the Raft log",
                           Type::kCounter, static_cast<double>(raft_appends.value())));
  out.push_back(Family::Of("concierge_raft_entries_total",
                           "Commands in those batches (entries per batch: group commit)",
                           Type::kCounter, static_cast<double>(raft_entries.value())));
  Family dereg{"concierge_deregistrations_total",
               "Service instances removed, by request or by the reaper",
               Type::kCounter,
               {},
               {}};
  dereg.samples.push_back(
      {{{"reason", "request"}}, static_cast<double>(deregistrations_request.value())});
  dereg.samples.push_back(
      {{{"reason", "reaped"}}, static_cast<double>(deregistrations_reaped.value())});
  out.push_back(std::move(dereg));
  Family trans{"concierge_check_transitions_total",
               "Check status changes, by old and new status",
               Type::kCounter,
               {},
               {}};
  for (std::size_t from = 0; from < 3; ++from) {
    for (std::size_t to = 0; to < 3; ++to) {
      if (from == to) continue;
      trans.samples.push_back(
          {{{"from", std::string(kStatusNames[from])}, {"to", std::string(kStatusNames[to])}},
           static_cast<double>(transitions[from][to].value())});
    }
  }
  out.push_back(std::move(trans));
  Family apply{"concierge_apply_seconds",
               "Time to apply one command to the catalog and publish its views",
               Type::kHistogram,
               {},
               {}};
  apply.AddHistogram({}, apply_latency);
  out.push_back(std::move(apply));
  Family commit{"concierge_commit_seconds",
                "Time from submitting a command to its result (Raft commit and apply)",
                Type::kHistogram,
                {},
                {}};
  commit.AddHistogram({}, commit_latency);
  out.push_back(std::move(commit));
  Family fanout{"concierge_watch_fanout_seconds",
                "Time from a change waking a blocking query (applied and published) until its "
                "answer is handed to the socket",
                Type::kHistogram,
                {},
                {}};
  fanout.AddHistogram({}, watch_fanout);
  out.push_back(std::move(fanout));

  Family reqs{"concierge_http_requests_total",
              "HTTP requests, by route pattern and status code",
              Type::kCounter,
              {},
              {}};
  Family lat{"concierge_http_request_duration_seconds",
             "HTTP request latency, by route pattern",
             Type::kHistogram,
             {},
             {}};
  for (std::size_t r = 0; r < std::min(kRouteSlots, route_labels.size()); ++r) {
    bool any = false;
    for (std::size_t c = 0; c < requests[r].size(); ++c) {
      std::uint64_t n = requests[r][c].value();
      if (n == 0) continue;
      any = true;
      reqs.samples.push_back(
          {{{"route", std::string(route_labels[r])}, {"code", std::to_string(c + 100)}},
           static_cast<double>(n)});
    }
    if (any) lat.AddHistogram({{"route", std::string(route_labels[r])}}, request_latency[r]);
  }
  out.push_back(std::move(reqs));
  out.push_back(std::move(lat));

  out.push_back(Family::Of("process_resident_memory_bytes", "Resident memory size in bytes",
                           Type::kGauge, static_cast<double>(ResidentBytes())));
  out.push_back(Family::Of("process_cpu_seconds_total", "User and system CPU time spent",
                           Type::kCounter, CpuSeconds()));
  return out;
}

}  // namespace concierge::server
