// The pure half of `concierge watch`: how the blocking-query index moves and what changed
// between two answers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/instances.h"
#include "client/wire.h"

namespace concierge::cli {

// The blocking-query index, as the client library reads and moves it.
using client::NextIndex;
using client::ParseIndex;

// One line per difference, in ID order:
//   + web-1 10.0.0.1:8080 passing
//   - web-1 10.0.0.1:8080
//   ~ web-1 passing -> critical: TTL expired
//   ~ web-1 10.0.0.1:8080 -> 10.0.0.2:8080
//   ~ web-1 tags [v1] -> [v1,canary]
// Instances are matched by node and ID.
std::vector<std::string> DescribeChanges(const std::vector<Instance>& before,
                                         const std::vector<Instance>& after);

// Check output on one line, cut to `max_chars` with "..." ("" stays "").
std::string OneLine(std::string_view text, std::size_t max_chars);

}  // namespace concierge::cli
