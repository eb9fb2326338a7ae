// The servers of a cluster as the agent's operator endpoints describe them, read into the
// shapes that `concierge members` and `concierge operator raft list-peers` print, and the
// atomic file write behind `concierge snapshot save`.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace concierge::cli {

struct ServerMember {
  std::string name;
  std::string raft_address;  // host:port
  std::string http_address;  // host:port; empty if the agent does not know it
  bool voter = false;        // in the Raft configuration (not merely known)
  bool leader = false;
};

// GET /v1/agent/members: [{"Name":..,"Addr":..,"Port":..,"Status":1|0,
// "Tags":{"http":..,"leader":"true"|"false"}}]. Sorted by name, then Raft address.
Result<std::vector<ServerMember>> ParseAgentMembers(std::string_view body);

struct RaftPeer {
  std::string node;
  std::string id;
  std::string address;  // Raft host:port
  bool leader = false;
  bool voter = false;
};

// GET /v1/operator/raft/configuration: {"Servers":[{"ID":..,"Node":..,"Address":..,
// "Leader":bool,"Voter":bool}]}. In the agent's order.
Result<std::vector<RaftPeer>> ParseRaftConfiguration(std::string_view body);

// DELETE /v1/operator/raft/peer?address=<host:port>
std::string RemovePeerTarget(std::string_view raft_address);

// Writes `bytes` to a temporary file next to `path`, syncs it and renames it over `path`,
// so that `path` holds either its old contents or all of `bytes`, never a part. The error
// names the file and the cause; the temporary file is removed on failure.
Status WriteFileAtomically(const std::string& path, std::string_view bytes);

}  // namespace concierge::cli
