// The pure half of `concierge watch`: how the blocking-query index moves and what changed
// between two answers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/instances.h"

namespace concierge::cli {

// The X-Consul-Index value, or nullopt if it is missing or not a number.
std::optional<std::uint64_t> ParseIndex(const std::string* header);

// The index for the next blocking query after an answer carrying `received`, following
// Consul's advice: an index that went backwards (agent restarted or restored) resets to 0,
// which asks for the current state at once; 0 itself never blocks, so it becomes 1.
std::uint64_t NextIndex(std::uint64_t previous, std::uint64_t received);

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
