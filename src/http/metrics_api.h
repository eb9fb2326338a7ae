// GET /v1/agent/metrics: the agent's metrics as Consul's JSON, or with ?format=prometheus in
// Prometheus' text format.
#pragma once

#include "http/message.h"
#include "server/registry.h"
#include "server/watch_hub.h"

namespace concierge::http {

Response AgentMetrics(const Request& req, const server::Registry& registry,
                      const server::WatchHub& hub);

}  // namespace concierge::http
