// libFuzzer target: the messages servers send each other, with the parsers the server uses
// (src/cluster/members.cc): the body of PUT /v1/concierge/join, its answer, members.json, and
// a peer address as it enters. What decodes must hold only checked addresses, and encode
// back to what decodes the same.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "cluster/members.h"

namespace {

using namespace concierge;

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckMembers(const std::vector<cluster::Member>& members) {
  Check(members.size() <= cluster::kMaxMembers);
  for (const cluster::Member& m : members) {
    Check(cluster::CheckPeerAddress("RaftAddress", m.raft_address).ok());
    Check(cluster::CheckPeerAddress("HTTPAddress", m.http_address).ok());
  }
  auto again = cluster::DecodeMembers(cluster::EncodeMembers(members));
  Check(again.ok() && *again == members);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto join = cluster::DecodeJoinRequest(in); join.ok()) CheckMembers(join->members);
  if (auto reply = cluster::DecodeJoinReply(in); reply.ok()) {
    CheckMembers(reply->members);
    for (const std::string& v : reply->voters) Check(cluster::CheckPeerAddress("v", v).ok());
  }
  if (auto members = cluster::DecodeMembers(in); members.ok()) CheckMembers(*members);
  if (cluster::CheckPeerAddress("address", in).ok()) {
    auto split = cluster::SplitPeerAddress(in);
    Check(split.has_value() && split->second != 0);
  }
  return 0;
}
