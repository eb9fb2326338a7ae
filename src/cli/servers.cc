#include "cli/servers.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <tuple>

#include "cli/targets.h"
#include "client/json.h"

namespace concierge::cli {
namespace {

using client::GetMember;
using client::GetString;
using client::Json;

std::string JoinHostPort(const std::string& host, int port) {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string Errno() { return std::strerror(errno); }

}  // namespace

Result<std::vector<ServerMember>> ParseAgentMembers(std::string_view body) {
  Result<rapidjson::Document> doc = client::ParseAnswer(body, "GET /v1/agent/members");
  if (!doc.ok()) return doc.status();
  if (!doc->IsArray()) {
    return Status::Internal(
        "cannot read the agent's answer to GET /v1/agent/members: "
        "expected a list");
  }
  std::vector<ServerMember> members;
  for (const Json& entry : doc->GetArray()) {
    ServerMember m;
    m.name = GetString(entry, "Name");
    m.raft_address = JoinHostPort(GetString(entry, "Addr"), client::GetInt(entry, "Port"));
    m.voter = client::GetInt(entry, "Status") == 1;
    const Json& tags = GetMember(entry, "Tags");
    m.http_address = GetString(tags, "http");
    m.leader = GetString(tags, "leader") == "true";
    members.push_back(std::move(m));
  }
  std::sort(members.begin(), members.end(), [](const ServerMember& a, const ServerMember& b) {
    return std::tie(a.name, a.raft_address) < std::tie(b.name, b.raft_address);
  });
  return members;
}

Result<std::vector<RaftPeer>> ParseRaftConfiguration(std::string_view body) {
  Result<rapidjson::Document> doc =
      client::ParseAnswer(body, "GET /v1/operator/raft/configuration");
  if (!doc.ok()) return doc.status();
  const Json& servers = GetMember(*doc, "Servers");
  if (!servers.IsArray()) {
    return Status::Internal(
        "cannot read the agent's answer to GET "
        "/v1/operator/raft/configuration: expected {\"Servers\": [...]}");
  }
  std::vector<RaftPeer> peers;
  for (const Json& entry : servers.GetArray()) {
    RaftPeer p;
    p.node = GetString(entry, "Node");
    p.id = GetString(entry, "ID");
    p.address = GetString(entry, "Address");
    p.leader = client::GetBool(entry, "Leader");
    p.voter = client::GetBool(entry, "Voter");
    peers.push_back(std::move(p));
  }
  return peers;
}

std::string RemovePeerTarget(std::string_view raft_address) {
  return "/v1/operator/raft/peer?address=" + EncodeQueryValue(raft_address);
}

Status WriteFileAtomically(const std::string& path, std::string_view bytes) {
  std::string temp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Unavailable("cannot create " + temp + ": " + Errno());
  auto fail = [&](const std::string& what) {
    std::string message = what + ": " + Errno();
    ::close(fd);
    ::unlink(temp.c_str());
    return Status::Unavailable(message);
  };
  std::size_t written = 0;
  while (written < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("cannot write " + temp);
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("cannot sync " + temp);
  if (::close(fd) != 0) {
    std::string message = "cannot write " + temp + ": " + Errno();
    ::unlink(temp.c_str());
    return Status::Unavailable(message);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    std::string message = "cannot rename " + temp + " to " + path + ": " + Errno();
    ::unlink(temp.c_str());
    return Status::Unavailable(message);
  }
  return Status::Ok();
}

}  // namespace concierge::cli
