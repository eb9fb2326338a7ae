// How servers find each other and form, or join, a cluster (-join, -bootstrap-expect).
//
// Every server tells the addresses it was given, and every member it knows of, who it is and
// whom it knows (PUT /v1/concierge/join), and merges what they answer. Once a new server
// knows -bootstrap-expect members, the first that many by Raft address form the initial
// configuration: every server derives the same one from the same set, so they all bootstrap
// identically. A server that meets a cluster that already has a leader asks to be added as
// a voter instead, and starts with an empty log that the leader fills. The exchange goes on
// every few seconds afterwards, so that every server learns every other's HTTP address
// (needed to forward requests to whoever leads).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cluster/members.h"
#include "cluster/peer_security.h"
#include "raft/raft_log.h"

namespace concierge::cluster {

struct JoinOptions {
  std::vector<std::string> join;  // HTTP addresses of any members
  int bootstrap_expect = 1;
  std::string members_path;
};

class Joiner {
 public:
  // `start_raft(bootstrap)` must start Raft on the state thread with that initial
  // configuration (empty: join an existing cluster).
  using StartRaft = std::function<void(std::vector<raft::Peer> bootstrap)>;

  Joiner(Members& members, raft::RaftLog& raft, JoinOptions options, StartRaft start_raft);
  ~Joiner();
  Joiner(const Joiner&) = delete;
  Joiner& operator=(const Joiner&) = delete;

  // `raft_started`: the data directory already held a log, so Raft runs already.
  // Before Start: TLS and the cluster key for the exchanges.
  void set_security(PeerSecurity security) { security_ = std::move(security); }
  void Start(bool raft_started);
  void Stop();

 private:
  void Run(bool raft_started);
  struct Reply {
    bool ok = false;                  // answered 200
    bool formed = false;              // has Raft running and a leader
    std::vector<std::string> voters;  // its Raft configuration, if Raft runs there
  };
  // Exchanges members with `address`.
  Reply Exchange(const std::string& address, bool want_voter);

  Members& members_;
  raft::RaftLog& raft_;
  JoinOptions options_;
  StartRaft start_raft_;
  PeerSecurity security_;
  std::set<std::string> refused_;  // addresses that refused us, warned about once
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

}  // namespace concierge::cluster
