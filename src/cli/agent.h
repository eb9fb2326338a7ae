// `concierge agent`: the registry server, its state thread, the HTTP API, DNS and (unless -dev)
// the Raft log and the cluster, as one object with the life cycle of the process.
#pragma once

#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "cli/agent_config.h"
#include "core/status.h"
#include "server/log_monitor.h"

namespace concierge::server {
class Registry;
}

namespace concierge::cli {

// The agent logs to stderr at -log-level, and to `concierge monitor` readers at the level
// each asks for (server::LogMonitor sets the logger to the lower of the two).
struct Logging {
  std::shared_ptr<spdlog::sinks::stderr_color_sink_mt> stderr_sink;
  std::shared_ptr<server::LogMonitor> monitor;
};
// Makes spdlog's default logger write to both sinks of a new Logging.
Logging InstallLogging();

class Agent {
 public:
  // What Reload starts again from: the flags given and the defaults, before any config file.
  struct Origin {
    AgentConfig base;
    std::set<std::string> flags_given;
  };

  // Checks `config` (the files already read into it) and builds every part: opens the data
  // directory and the Raft log, binds the HTTP and DNS ports. Nothing is served yet.
  static Result<std::unique_ptr<Agent>> Build(AgentConfig config, Origin origin, Logging logging);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Starts the threads and the cluster, registers the config files' services (on a single
  // server before the API answers), then serves HTTP.
  void Start();
  // SIGHUP: reads the config files again and applies what can change while running (log
  // level, services, the HTTPS certificate); warns of changed keys that need a restart. A
  // file with an error changes nothing.
  void Reload();
  // A leader hands over first; then stops serving and joins every thread. Once.
  void Stop();

  std::uint16_t http_port() const;
  const server::Registry& registry() const;

  struct Parts;  // every part, in the order they are built (defined in agent.cc)

 private:
  explicit Agent(std::unique_ptr<Parts> parts);

  std::unique_ptr<Parts> parts_;
};

// argv[0] is "agent"; argv[1..argc) are the agent's arguments, with one-dash long flags
// already rewritten to two dashes (see args.h). Runs until SIGINT or SIGTERM; returns the
// process exit status.
int RunAgent(int argc, char** argv);

}  // namespace concierge::cli
