// `concierge gateway`: server-side discovery. Callers reach one address; the gateway routes
// each HTTP request (by path prefix or Host) or TCP connection to a healthy instance of a
// service, as the registry reports it (src/gateway/, docs/gateway.md).
#pragma once

#include <string>
#include <vector>

namespace concierge::cli {

// args[0] is the program, args[1] "gateway"; long flags already two-dashed (args.h).
// Runs until SIGINT or SIGTERM. Returns 0 after a clean stop, 1 if a listener could not be
// bound, 2 on bad usage.
int RunGateway(const std::vector<std::string>& args);

}  // namespace concierge::cli
