#include "server/metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

namespace concierge::server {
namespace {

using namespace std::chrono_literals;

TEST(HistogramTest, BucketsAreCumulativeAndSumIsInSeconds) {
  Histogram h;
  h.Observe(50us);   // <= 0.0001
  h.Observe(300us);  // <= 0.0005
  h.Observe(20s);    // +Inf only
  auto c = h.Cumulative();
  EXPECT_EQ(c[0], 1u);
  EXPECT_EQ(c[1], 1u);
  EXPECT_EQ(c[2], 2u);
  EXPECT_EQ(c[Histogram::kBounds.size() - 1], 2u);
  EXPECT_EQ(c.back(), 3u);
  EXPECT_EQ(h.count(), 3u);
  EXPECT_NEAR(h.sum_seconds(), 20.00035, 1e-9);
}

TEST(ShardedCounterTest, SumsItsShards) {
  ShardedCounter c;
  for (int i = 0; i < 1000; ++i) c.Inc();
  EXPECT_EQ(c.value(), 1000u);
}

TEST(RenderTest, PrometheusTextFormat) {
  std::vector<Family> families;
  families.push_back(Family::Of("x_total", "An \"x\"\nwith a newline", Family::Type::kCounter, 3));
  Family g{"g", "a gauge", Family::Type::kGauge, {}, {}};
  g.samples.push_back({{{"route", "/a\"b"}}, 1.5});
  families.push_back(g);
  Histogram h;
  h.Observe(1ms);
  Family hist{"h_seconds", "a histogram", Family::Type::kHistogram, {}, {}};
  hist.AddHistogram({{"route", "/r"}}, h);
  families.push_back(hist);
  std::string text = RenderPrometheus(families);
  EXPECT_NE(text.find("# HELP x_total An \"x\"\\nwith a newline\n# TYPE x_total counter\n"
                      "x_total 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("g{route=\"/a\\\"b\"} 1.5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_seconds_bucket{route=\"/r\",le=\"0.0005\"} 0\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("h_seconds_bucket{route=\"/r\",le=\"0.001\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("h_seconds_bucket{route=\"/r\",le=\"+Inf\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("h_seconds_count{route=\"/r\"} 1\n"), std::string::npos);
}

TEST(RenderTest, ConsulJsonShape) {
  std::vector<Family> families;
  families.push_back(Family::Of("concierge_heartbeats_total", "h", Family::Type::kCounter, 7));
  families.push_back(Family::Of("concierge_ttl_checks", "t", Family::Type::kGauge, 2));
  std::string json = RenderJson(families, "2026-01-01 00:00:00 +0000 UTC");
  EXPECT_NE(json.find("\"Gauges\":[{\"Name\":\"concierge.ttl.checks\",\"Value\":2,\"Labels\":{}}]"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("{\"Name\":\"concierge.heartbeats\",\"Count\":7,\"Sum\":7,\"Labels\":{}}"),
            std::string::npos)
      << json;
}

TEST(MetricsTest, CollectCountsRequestsByRouteAndCode) {
  auto metrics = std::make_unique<Metrics>();  // 0.5 MB of counters: not on the stack
  Metrics& m = *metrics;
  const std::string_view labels[] = {"other", "/v1/catalog/services"};
  m.ObserveRequest(1, 200, 2ms);
  m.ObserveRequest(1, 200, 2ms);
  std::string text = RenderPrometheus(m.Collect(labels));
  EXPECT_NE(
      text.find("concierge_http_requests_total{route=\"/v1/catalog/services\",code=\"200\"} 2"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("process_resident_memory_bytes "), std::string::npos);
  EXPECT_EQ(text.find("process_resident_memory_bytes 0\n"), std::string::npos);
}

TEST(MetricsTest, CollectExportsTheWatchFanOut) {
  auto metrics = std::make_unique<Metrics>();
  Metrics& m = *metrics;
  const std::string_view labels[] = {"other"};
  m.watch_fanout.Observe(3ms);
  m.watch_fanout.Observe(40ms);
  std::vector<Family> families = m.Collect(labels);
  std::string text = RenderPrometheus(families);
  EXPECT_NE(text.find("# TYPE concierge_watch_fanout_seconds histogram\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("concierge_watch_fanout_seconds_bucket{le=\"0.005\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("concierge_watch_fanout_seconds_bucket{le=\"0.05\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("concierge_watch_fanout_seconds_count 2\n"), std::string::npos);
  std::string json = RenderJson(families, "2026-01-01 00:00:00 +0000 UTC");
  EXPECT_NE(json.find("{\"Name\":\"concierge.watch.fanout\",\"Count\":2,\"Sum\":43,"),
            std::string::npos)
      << json;
}

}  // namespace
}  // namespace concierge::server
