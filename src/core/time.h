// Time in the core is a plain value: nanoseconds since the Unix epoch, passed in by the
// caller. The core never reads a clock, so replicas and replays agree (DESIGN.md decision 5).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace concierge::core {

using Duration = std::chrono::nanoseconds;
using Time = std::chrono::time_point<std::chrono::system_clock, Duration>;

// Parses a Go-style duration: "10s", "1m30s", "500ms", "1h", "250us", "0". A bare number
// is taken as seconds, as Consul's older clients send it.
Result<Duration> ParseDuration(std::string_view text);

// Formats as Go does for the values we emit: "10s", "1m30s", "1.5s", "500ms", "0s".
std::string FormatDuration(Duration d);

// RFC 3339 with nanoseconds, UTC: "2026-11-26T00:33:45.123456789Z".
std::string FormatTime(Time t);

}  // namespace concierge::core
