// Every `concierge` command except `agent`: they talk to an agent over its HTTP API.
#pragma once

#include <string>
#include <vector>

namespace concierge::cli {

// Parses `args` (args[0] is the program; long flags already two-dashed, see args.h) and
// runs the command. Returns the exit status: 0 on success, 1 when the agent cannot be
// reached or refuses, 2 on bad usage.
int RunCommand(const std::vector<std::string>& args);

}  // namespace concierge::cli
