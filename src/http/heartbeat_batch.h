// The native batch of heartbeats: PUT /v1/concierge/heartbeats (docs/clustering.md).
// Followers send the leader one of these for many clients' heartbeats, and a client or load
// generator that holds many instances can send its own. The body:
//
//   {"Status": "passing", "Note": "", "Checks": ["service:web-1", {"ID": "service:web-2",
//    "Status": "warning", "Note": "slow disk", "Token": "..."}, ...]}
//
// "Status" and "Note" at the top are the defaults of the entries (passing, no note); an entry
// is a check ID or an object that overrides them. With ACLs on, an entry's "Token" is the ACL
// token its heartbeat is checked against (a follower forwards many clients' heartbeats in one
// batch, each with its client's token); without one, the request's token. The answer lists one
// HTTP-like code per entry, in order, and a message for each entry that failed:
//
//   {"Index": 42, "Results": [200, 404, ...], "Errors": [{"Position": 1, "Error": "..."}]}
//
// Decoding and encoding only; the handlers are in consul_api.cc and cluster_api.cc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/model.h"
#include "core/status.h"

namespace concierge::http {

struct HeartbeatEntry {
  std::string_view check_id;
  core::HealthStatus status = core::HealthStatus::kPassing;
  std::string_view note;
  std::string_view token;  // ACL token of this entry's client; empty: the request's
};

// At most this many entries in one batch (docs/limits.md).
inline constexpr std::size_t kMaxHeartbeatBatch = 10000;

// Parses `body` in place: the entries' strings point into it, so it must outlive them and
// is modified. Bad input gives InvalidArgument naming the entry.
Result<std::vector<HeartbeatEntry>> DecodeHeartbeatBatch(std::string& body);
std::string EncodeHeartbeatBatch(const std::vector<HeartbeatEntry>& entries);

struct HeartbeatResults {
  std::uint64_t index = 0;
  std::vector<std::uint16_t> codes;                           // one per entry, 200 = recorded
  std::vector<std::pair<std::uint32_t, std::string>> errors;  // position, message
};

std::string EncodeHeartbeatResults(const HeartbeatResults& results);
// `expected` entries must be answered; anything else is an error.
Result<HeartbeatResults> DecodeHeartbeatResults(std::string& body, std::size_t expected);

}  // namespace concierge::http
