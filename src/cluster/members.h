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

std::string EncodeMembers(const std::vector<Member>& members);
Result<std::vector<Member>> DecodeMembers(std::string_view json);

// Thread-safe.
class Members {
 public:
  explicit Members(Member self) : self_(std::move(self)) { members_.push_back(self_); }

  // Adds or updates members (keyed by Raft address); true if anything changed.
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
