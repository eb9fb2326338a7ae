// The servers of a cluster as the agents know them: name, Raft address and HTTP address.
// Raft knows only Raft addresses; forwarding a request to the leader needs its HTTP address,
// so every agent keeps this directory, learns it through -join, and saves it in the data
// directory so that a restarted server knows its peers before anyone contacts it.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace concierge::cluster {

struct Member {
  std::string name;
  std::string raft_address;  // host:port
  std::string http_address;  // host:port
  bool operator==(const Member&) const = default;
};

// The Raft server ID of a member: derived from its Raft address, so that every server
// computes the same initial configuration from the same member set.
std::uint64_t RaftId(std::string_view raft_address);

// At most this many members in one message or file, and in the directory: a cluster has 3
// or 5 servers, and a stranger must not grow the directory without bound.
inline constexpr std::size_t kMaxMembers = 64;

// A peer's address as it enters from the network or members.json: "host:port", the host
// letters, digits, '.', '-' and '_' (or an IPv6 literal in brackets), the port 1-65535. The
// error names `what` and the value.
Status CheckPeerAddress(std::string_view what, std::string_view address);
// "host:port" split, the port checked as above; nullopt if it is not one.
std::optional<std::pair<std::string, std::uint16_t>> SplitPeerAddress(std::string_view address);

std::string EncodeMembers(const std::vector<Member>& members);
// A JSON array of members, every address checked (CheckPeerAddress), names valid UTF-8 of at
// most 256 bytes. Parsed iteratively: the text comes from other hosts.
Result<std::vector<Member>> DecodeMembers(std::string_view json);

// The body of PUT /v1/concierge/join, and its answer (src/cluster/joiner.h). One parser for
// the server, the joiner and the fuzz target.
struct JoinRequest {
  std::vector<Member> members;  // the sender first
  bool want_voter = false;
};
Result<JoinRequest> DecodeJoinRequest(std::string_view body);
struct JoinReply {
  bool formed = false;              // Raft runs there and has a leader
  std::vector<std::string> voters;  // its Raft configuration, if Raft runs there
  std::vector<Member> members;
};
Result<JoinReply> DecodeJoinReply(std::string_view body);

// Thread-safe.
class Members {
 public:
  explicit Members(Member self) : self_(std::move(self)) { members_.push_back(self_); }

  // Adds or updates members (keyed by Raft address); true if anything changed. Never changes
  // self, and stops adding at kMaxMembers.
  bool Merge(const std::vector<Member>& members);
  std::vector<Member> All() const;  // sorted by Raft address
  std::optional<Member> ByRaftAddress(std::string_view raft_address) const;
  const Member& self() const { return self_; }

  // Persists to / loads from a JSON file (best effort on save; errors are returned).
  Status Save(const std::string& path) const;
  Status Load(const std::string& path);

 private:
  Member self_;
  mutable std::mutex mu_;
  mutable std::mutex save_mu_;
  std::vector<Member> members_;
};

}  // namespace concierge::cluster
