// The pure half of `concierge watch`: what changed between two answers.
#pragma once

#include <string>
#include <vector>

#include "client/agent_api.h"

namespace concierge::cli {

// One line per difference, in ID order:
//   + web-1 10.0.0.1:8080 passing
//   - web-1 10.0.0.1:8080
//   ~ web-1 passing -> critical: TTL expired
//   ~ web-1 10.0.0.1:8080 -> 10.0.0.2:8080
//   ~ web-1 tags [v1] -> [v1,canary]
// Instances are matched by node and ID.
std::vector<std::string> DescribeChanges(const std::vector<client::ServiceInstance>& before,
                                         const std::vector<client::ServiceInstance>& after);

}  // namespace concierge::cli
