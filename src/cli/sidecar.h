// `concierge sidecar`: registers a process that cannot use the C++ client library, heartbeats
// on its behalf while its local health endpoint answers, and deregisters it on exit.
#pragma once

#include <string>
#include <vector>

namespace concierge::cli {

// args[0] is the program, args[1] "sidecar"; long flags already two-dashed (args.h).
// Runs until SIGINT or SIGTERM. Returns 0 after a clean stop, 1 if deregistering failed,
// 2 on bad usage.
int RunSidecar(const std::vector<std::string>& args);

}  // namespace concierge::cli
