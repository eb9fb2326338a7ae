#include "cluster_fixture.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <csignal>

#include "../raft/free_address.h"

namespace concierge::cluster_test {

// One server: what the agent builds for its state (agent.cc BuildState, BuildRaft).
struct Cluster::Server {
  Server(const raft::RaftOptions& options, std::function<void()> applied) {
    log.emplace(state.loop(), registry, options);
    log->set_after_apply([this, applied = std::move(applied)] {
      state.ArmTimer();
      applied();
    });
    state.set_log(&*log);
    Status st = log->Start(options);
    EXPECT_TRUE(st.ok()) << st.message();
    state.Start();
  }
  ~Server() {
    state.Stop();  // closes the log on the state thread, then joins it
    log.reset();
  }

  server::Metrics metrics;
  server::RealClock clock;
  server::Registry registry{clock, server::RegistryOptions{}, nullptr, metrics};
  server::StateLoop state{registry};
  std::optional<raft::RaftLog> log;
};

Cluster::Cluster(int size) : servers_(size) {
  spdlog::set_level(spdlog::level::warn);
  // As the agent does (main.cc): a write to a peer that just stopped is an error, not a signal.
  std::signal(SIGPIPE, SIG_IGN);
  char tmpl[] = "/tmp/concierge-cluster-test-XXXXXX";
  dir_ = ::mkdtemp(tmpl);
  for (int i = 0; i < size; ++i) {
    peers_.push_back({static_cast<raft_id>(i + 1), raft::FreeAddress()});
  }
}

Cluster::~Cluster() {
  for (int i = 0; i < size(); ++i) {
    if (running(i)) Stop(i);
  }
  std::filesystem::remove_all(dir_);
}

void Cluster::Start(int i) {
  raft::RaftOptions options;
  options.dir = dir_ + "/" + std::to_string(i + 1);
  options.id = peers_[i].id;
  options.address = peers_[i].address;
  options.bootstrap = peers_;  // used only while the directory holds no configuration
  servers_[i] = std::make_unique<Server>(options, [this] { Applied(); });
}

void Cluster::StartAll() {
  for (int i = 0; i < size(); ++i) Start(i);
}

void Cluster::Stop(int i) {
  servers_[i].reset();
  Applied();  // what a waiter checks may depend on who runs
}

void Cluster::Applied() {
  { std::lock_guard lock(mutex_); }
  applied_.notify_all();
}

bool Cluster::WaitFor(const std::function<bool()>& done, std::chrono::seconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  std::unique_lock lock(mutex_);
  // Woken by applies; the slice bounds the wait for changes that apply nothing (a barrier
  // completing, a leadership flag refreshed on libraft's 20 ms watch).
  while (!applied_.wait_for(lock, std::chrono::milliseconds(50), done)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
  }
  return true;
}

int Cluster::Leader() const {
  for (int i = 0; i < static_cast<int>(servers_.size()); ++i) {
    if (servers_[i] != nullptr && servers_[i]->log->leader_ready()) return i;
  }
  return -1;
}

int Cluster::WaitForLeader() {
  WaitFor([&] { return Leader() >= 0; });
  return Leader();
}

const server::Registry& Cluster::registry(int i) const { return servers_[i]->registry; }

Result<core::Index> Cluster::Write(int i, core::Command command) {
  return servers_[i]->state.SubmitAndWait(std::move(command));
}

}  // namespace concierge::cluster_test
