// The JSON and URL shapes of the registry's HTTP API that the client library uses.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "concierge/client.h"

namespace concierge::client {

// Go-style duration for a registration body: "10s", "1500ms".
std::string GoDuration(Duration d);

// The body of PUT /v1/agent/service/register. Always carries an ID.
std::string EncodeRegistration(const ServiceRegistration& registration);

// GET /v1/health/service/<name> answer -> instances sorted by ID, then node.
Result<std::vector<Instance>> DecodeHealth(std::string_view body);

// GET /v1/concierge/delta/service/<name> answer -> its fields; `changed` sorted as above.
Result<ServiceDelta> DecodeDelta(std::string_view body);

// GET /v1/concierge/delta/service/<name>?index=N&wait=W
std::string DeltaTarget(std::string_view service, const DeltaQuery& query);

// RFC 3986 percent-encoding of all but unreserved characters; with `path`, ':' and '@' too.
std::string Encode(std::string_view text, bool path = false);

// PUT /v1/agent/service/deregister/<id>
std::string DeregisterTarget(std::string_view instance_id);

// PUT /v1/agent/check/pass|warn|fail/<check-id>[?note=...]
std::string CheckTarget(std::string_view check_id, HealthStatus status, std::string_view note);

// "passing", "warning"; anything else is critical.
HealthStatus ParseHealthStatus(std::string_view status);

// GET /v1/health/service/<name>?passing=1&tag=..&index=N&wait=W
std::string HealthTarget(std::string_view service, const HealthQuery& query);

// The X-Consul-Index value, or nullopt if it is missing or not a number.
std::optional<std::uint64_t> ParseIndex(const std::string* header);

// The index for the next blocking query after an answer carrying `received`, following
// Consul's advice: an index that went backwards (the registry restarted or was restored)
// resets to 0, which asks for the current state at once; 0 itself never blocks, so it
// becomes 1.
std::uint64_t NextIndex(std::uint64_t previous, std::uint64_t received);

}  // namespace concierge::client
