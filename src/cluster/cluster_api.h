// The cluster side of the HTTP API: the endpoints only a cluster has (the route table's
// kJoin, kAgentMembers, kRaftConfiguration, kRaftRemovePeer, kRaftTransferLeader), and where
// every other request is answered (Route::where): a follower forwards writes, and reads that
// are not ?stale, to the leader (heartbeats coalesced into batches); without a leader they
// get 503 "no cluster leader".
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>

#include "cluster/heartbeat_forwarder.h"
#include "cluster/members.h"
#include "cluster/peer_security.h"
#include "http/message.h"
#include "http/routes.h"
#include "raft/raft_log.h"
#include "server/state_loop.h"

namespace concierge::cluster {

class ClusterApi {
 public:
  ClusterApi(Members& members, raft::RaftLog& raft, server::StateLoop& state,
             std::string members_path);

  // Before the server starts: TLS and the cluster key for requests to and from other servers.
  void set_security(PeerSecurity security) {
    security_ = std::move(security);
    heartbeats_.set_tls(security_.tls);
  }

  // ConsulApi's ApiOptions::forward: the answer of another server, or nullopt to answer here.
  boost::asio::awaitable<std::optional<http::Response>> Forward(http::Request& req,
                                                                const http::RouteMatch& match);
  // ApiOptions::cluster_endpoint.
  boost::asio::awaitable<http::Response> Handle(http::Endpoint endpoint, http::Request& req);

 private:
  boost::asio::awaitable<http::Response> Join(http::Request& req);
  boost::asio::awaitable<http::Response> RemovePeer(http::Request& req);
  boost::asio::awaitable<http::Response> TransferLeader(http::Request& req);
  http::Response AgentMembers() const;
  http::Response RaftConfiguration() const;
  // `answer_limit`: http::Forward's.
  boost::asio::awaitable<http::Response> ToLeader(http::Request& req, std::uint64_t answer_limit);
  // A follower's heartbeat (pass/warn/fail of one check): to the leader in a batch.
  boost::asio::awaitable<http::Response> HeartbeatToLeader(http::HeartbeatEntry entry);
  // The leader's HTTP address, or why it is not known (the 503 message).
  Result<std::string> LeaderHttpAddress() const;
  // From the host of a voter in the Raft configuration.
  bool FromConfiguredServer(const http::Request& req) const;
  // Sent by another server of this cluster: it proves the cluster key; without a key, it
  // showed a verified server certificate or comes from a configured server's host.
  bool FromServer(const http::Request& req) const;

  Members& members_;
  raft::RaftLog& raft_;
  server::StateLoop& state_;
  std::string members_path_;
  HeartbeatForwarder heartbeats_{[this] { return LeaderHttpAddress(); }};
  PeerSecurity security_;
};

}  // namespace concierge::cluster
