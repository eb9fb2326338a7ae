#include "http/metrics_api.h"

#include <ctime>

#include "http/routes.h"
#include "server/metrics.h"

namespace concierge::http {

namespace {

using server::Family;
using Type = server::Family::Type;

// What the registry and the hub hold, read at scrape time.
void AddRegistryFamilies(const server::Registry& registry, const server::WatchHub& hub,
                         std::vector<Family>* out) {
  Family by_status{"concierge_instances",
                   "Registered service instances, by aggregate status",
                   Type::kGauge,
                   {},
                   {}};
  for (core::HealthStatus s : {core::HealthStatus::kPassing, core::HealthStatus::kWarning,
                               core::HealthStatus::kCritical}) {
    by_status.samples.push_back({{{"status", std::string(core::ToString(s))}},
                                 static_cast<double>(registry.instances_by_status(s))});
  }
  out->push_back(std::move(by_status));
  out->push_back(Family::Of("concierge_ttl_checks", "TTL checks tracked in the heartbeat table",
                            Type::kGauge, static_cast<double>(registry.tracked_checks())));
  out->push_back(Family::Of("concierge_blocking_queries", "Blocking queries parked right now",
                            Type::kGauge, static_cast<double>(hub.parked())));
  out->push_back(Family::Of("concierge_index", "Index of the last change to the catalog",
                            Type::kGauge, static_cast<double>(registry.index())));
  out->push_back(Family::Of("concierge_self_preservation",
                            "1 while self-preservation holds TTL expiries back", Type::kGauge,
                            registry.self_preservation() ? 1 : 0));
  out->push_back(Family::Of("concierge_expiries_held",
                            "TTL expiries that self-preservation is holding back now", Type::kGauge,
                            static_cast<double>(registry.expiries_held())));
  out->push_back(Family::Of("concierge_leader",
                            "1 if this server decides expiries and reaps (the leader)",
                            Type::kGauge, registry.leader() ? 1 : 0));
}

std::string Timestamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[40];
  std::strftime(out, sizeof out, "%Y-%m-%d %H:%M:%S +0000 UTC", &tm);
  return out;
}

}  // namespace

Response AgentMetrics(const Request& req, const server::Registry& registry,
                      const server::WatchHub& hub) {
  std::vector<Family> families = registry.metrics().Collect(MetricsLabels());
  AddRegistryFamilies(registry, hub, &families);
  std::string_view format = req.Query("format").value_or("");
  if (format == "prometheus") {
    return {
        200, "text/plain; version=0.0.4; charset=utf-8", server::RenderPrometheus(families), {}};
  }
  if (!format.empty()) {
    return Response::Error(400, "format: expected \"prometheus\" or nothing (JSON), got \"" +
                                    std::string(format) + "\"");
  }
  return Response::Json(server::RenderJson(families, Timestamp()));
}

}  // namespace concierge::http
