// Where commands are ordered before they are applied: straight through (in memory, -dev), or
// through the Raft log (durable, replicated). Both run on the state thread.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/command.h"
#include "core/status.h"
#include "server/registry.h"

namespace concierge::server {

// What the HTTP API shows of the cluster.
struct ClusterInfo {
  bool known_leader = false;
  std::string leader;                // the leader's server address, if known
  std::vector<std::string> voters;   // server addresses of the voters
  std::int64_t last_contact_ms = 0;  // since a follower last heard from the leader
};

class CommandLog {
 public:
  using Done = std::function<void(Result<core::Index>)>;
  virtual ~CommandLog() = default;

  // State thread. Orders `command` (prepared and validated) and applies it to the registry;
  // `done` runs on the state thread with the apply's result, or with the reason it could not
  // be committed (e.g. "no cluster leader"). It is never acknowledged before it is durable.
  virtual void Append(core::Command command, Done done) = 0;
  // Append for the commands that arrived together, in this order. A log that writes to disk
  // makes them share one write (group commit); the default appends one by one.
  struct Write {
    core::Command command;
    Done done;
  };
  virtual void AppendAll(std::vector<Write> writes) {
    for (Write& w : writes) Append(std::move(w.command), std::move(w.done));
  }
  // State thread. Releases what the log holds; `done` runs once it has (possibly later).
  virtual void Close(std::function<void()> done) = 0;
};

// No log: applies at once. State lives in memory only.
class DirectLog final : public CommandLog {
 public:
  explicit DirectLog(Registry& registry) : registry_(registry) {}
  void Append(core::Command command, Done done) override { done(registry_.Apply(command)); }
  void Close(std::function<void()> done) override { done(); }

 private:
  Registry& registry_;
};

}  // namespace concierge::server
