// Three servers of one cluster in one process, for cluster unit tests: each with its own
// registry, state loop (its own thread) and Raft log on disk in a temporary directory, the
// logs talking over loopback TCP as the agents' do. No HTTP, no joining: the three are
// bootstrapped with the same configuration.
//
// Nothing sleeps: every apply on any server notifies one condition variable, and WaitFor
// re-checks its condition then, up to a generous bound (elections take a second or two).
#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "raft/raft_log.h"
#include "server/clock.h"
#include "server/metrics.h"
#include "server/registry.h"
#include "server/state_loop.h"

namespace concierge::cluster_test {

class Cluster {
 public:
  // Makes the directories and picks the addresses; starts nothing.
  explicit Cluster(int size = 3);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Starts server `i` (again, after Stop: it replays its log and catches up).
  void Start(int i);
  void StartAll();
  // Stops server `i` as the agent does (its state thread closes the log); its directory stays.
  void Stop(int i);
  bool running(int i) const { return servers_[i] != nullptr; }

  // Waits until `done` holds (checked after every apply on any server); false after `bound`.
  bool WaitFor(const std::function<bool()>& done,
               std::chrono::seconds bound = std::chrono::seconds(60));
  // The running server that leads and has applied what earlier leaders committed, or -1.
  int Leader() const;
  // Waits for a ready leader among the running servers; -1 if none within the bound.
  int WaitForLeader();
  // Appends `command` through server `i`'s state loop and waits for its result.
  Result<core::Index> Write(int i, core::Command command);

  // Any thread: server `i`'s published views (running servers only).
  const server::Registry& registry(int i) const;
  int size() const { return static_cast<int>(servers_.size()); }

 private:
  struct Server;
  void Applied();

  std::string dir_;
  std::vector<raft::Peer> peers_;
  std::vector<std::unique_ptr<Server>> servers_;
  std::mutex mutex_;
  std::condition_variable applied_;
};

}  // namespace concierge::cluster_test
