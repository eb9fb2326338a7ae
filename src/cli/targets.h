// Request targets (path and query) of the agent's HTTP API, URL-encoded.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace concierge::cli {

// RFC 3986 percent-encoding of everything but unreserved characters (A-Z a-z 0-9 - . _ ~),
// fit for one query value.
std::string EncodeQueryValue(std::string_view text);

// The same, but keeps ':' and '@' (legal in a path), so that check IDs read as they are
// written: "/v1/agent/check/pass/service:web-1".
std::string EncodePathSegment(std::string_view text);

// PUT /v1/agent/service/deregister/<id>
std::string DeregisterTarget(std::string_view service_id);

// PUT /v1/agent/check/pass|warn|fail/<check-id>[?note=...]; `status` is "passing",
// "warning" or "critical" (anything else is a programming error and gives "fail").
std::string HeartbeatTarget(std::string_view check_id, std::string_view status,
                            std::string_view note);

// GET /v1/health/service/<name>[?passing=1][&tag=t]...[&index=N&wait=W]; index 0 leaves
// out index and wait (an answer at once).
std::string HealthTarget(std::string_view service, bool passing,
                         const std::vector<std::string>& tags, std::uint64_t index = 0,
                         std::string_view wait = "5m");

}  // namespace concierge::cli
