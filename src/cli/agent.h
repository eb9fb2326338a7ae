// `concierge agent`: runs the server in the foreground.
#pragma once

namespace concierge::cli {

// argv[0] is "agent"; argv[1..argc) are the agent's arguments, with one-dash long flags
// already rewritten to two dashes (see args.h). Returns the process exit status.
int RunAgent(int argc, char** argv);

}  // namespace concierge::cli
