// The `concierge` binary: `agent` runs the server, every other command talks to one.
#include <csignal>
#include <string>
#include <vector>

#include "cli/agent.h"
#include "cli/args.h"
#include "cli/commands.h"

int main(int argc, char** argv) {
  // A peer that goes away mid-write must cost an error on that socket, not the process.
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> args =
      concierge::cli::RewriteLongFlags(std::vector<std::string>(argv, argv + argc));
  // The agent parses its own flags, so it gets everything after its name untouched by the
  // client commands' parser.
  if (args.size() >= 2 && args[1] == "agent") {
    std::vector<char*> agent_argv;
    for (std::size_t i = 1; i < args.size(); ++i) agent_argv.push_back(args[i].data());
    agent_argv.push_back(nullptr);
    return concierge::cli::RunAgent(static_cast<int>(args.size() - 1), agent_argv.data());
  }
  return concierge::cli::RunCommand(args);
}
