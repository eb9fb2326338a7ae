#include "cluster/cluster_api.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>

#include "http/acl_api.h"
#include "http/forward.h"
#include "server/log_limit.h"

namespace concierge::cluster {

namespace asio = boost::asio;
using http::Request;
using http::Response;
using server::RateLimitedWarn;

namespace {

// "10.0.0.1:8300" -> "10.0.0.1", "[::1]:8300" -> "::1", as Request::remote_address has it.
std::string Host(std::string_view host_port) {
  std::size_t colon = host_port.rfind(':');
  std::string_view host = colon == std::string_view::npos ? host_port : host_port.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::string(host);
}

constexpr std::string_view kClientAddressHeader = "X-Concierge-Client-Address";
// How long a request waits for a new leader to apply the log before it is answered 503.
constexpr auto kLeaderReadyWait = std::chrono::seconds(10);

// PUT /v1/agent/check/{pass,warn,fail}/:id[?note=]: a heartbeat a follower batches.
http::HeartbeatEntry SingleHeartbeat(const Request& req, const http::RouteMatch& match) {
  const http::Endpoint endpoint = match.route->endpoint;
  const core::HealthStatus status =
      endpoint == http::Endpoint::kCheckPass   ? core::HealthStatus::kPassing
      : endpoint == http::Endpoint::kCheckWarn ? core::HealthStatus::kWarning
                                               : core::HealthStatus::kCritical;
  // The client's token travels with its heartbeat: the leader checks it again.
  return http::HeartbeatEntry{match.param(), status, req.Query("note").value_or(""),
                              http::RequestToken(req)};
}

}  // namespace

ClusterApi::ClusterApi(Members& members, raft::RaftLog& raft, server::StateLoop& state,
                       std::string members_path)
    : members_(members), raft_(raft), state_(state), members_path_(std::move(members_path)) {}

bool ClusterApi::FromConfiguredServer(const Request& req) const {
  for (const std::string& voter : raft_.Cluster().voters) {
    if (Host(voter) == req.remote_address) return true;
  }
  return false;
}

bool ClusterApi::FromServer(const Request& req) const {
  if (security_.key) return security_.Proven(req);
  return req.server_certificate || FromConfiguredServer(req);
}

asio::awaitable<Response> ClusterApi::Handle(http::Endpoint endpoint, Request& req) {
  switch (endpoint) {
    case http::Endpoint::kJoin:
      co_return co_await Join(req);
    case http::Endpoint::kAgentMembers:
      co_return AgentMembers();
    case http::Endpoint::kRaftConfiguration:
      co_return RaftConfiguration();
    case http::Endpoint::kRaftRemovePeer:
      co_return co_await RemovePeer(req);
    case http::Endpoint::kRaftTransferLeader:
      co_return co_await TransferLeader(req);
    default:
      co_return Response::Error(404, "no such cluster endpoint: " + req.path);
  }
}

asio::awaitable<std::optional<Response>> ClusterApi::Forward(Request& req,
                                                             const http::RouteMatch& match) {
  const http::Route& route = *match.route;
  // A request forwarded by a follower carries the original client's address, which is the
  // default address of a registration; trust it only from another server.
  if (auto client = req.Header(kClientAddressHeader); client && FromServer(req)) {
    req.remote_address = std::string(*client);
  }
  if (route.where == http::Where::kAgent) co_return std::nullopt;
  // A new leader first applies what earlier leaders committed (a restarted server replays
  // its log): until then its state is behind, and reads would miss acknowledged writes.
  auto behind = [this] {
    return !raft_.leader_ready() &&
           (raft_.is_leader() || (raft_.started() && raft_.LeaderIs(members_.self().raft_address)));
  };
  if (behind()) {
    asio::steady_timer pause(co_await asio::this_coro::executor);
    const auto give_up = std::chrono::steady_clock::now() + kLeaderReadyWait;
    while (behind() && std::chrono::steady_clock::now() < give_up) {
      pause.expires_after(std::chrono::milliseconds(5));
      co_await pause.async_wait(asio::use_awaitable);
    }
    if (behind()) {
      co_return Response::Error(503, "the new leader is still applying the log; retry shortly");
    }
  }
  if (raft_.is_leader()) {
    if (req.Has("consistent")) {
      server::StateLoop::Operation confirm = [this](std::function<void(Status)> done) {
        raft_.Barrier(std::move(done));
      };
      Status st = co_await state_.Call(std::move(confirm));
      if (!st.ok()) co_return Response::Error(503, st.message());
    }
    co_return std::nullopt;
  }
  // Just elected (the flag lags by up to 20 ms): answer here rather than forward to ourselves.
  if (raft_.started() && raft_.LeaderIs(members_.self().raft_address)) {
    co_return std::nullopt;
  }
  if (route.where == http::Where::kHeartbeat) {
    http::HeartbeatEntry beat = SingleHeartbeat(req, match);
    co_return co_await HeartbeatToLeader(beat);
  }
  const bool write = route.where != http::Where::kRead || route.Writes(http::MethodBit(req.method));
  if (!write && req.Has("stale") && raft_.started()) co_return std::nullopt;
  co_return co_await ToLeader(req, route.endpoint == http::Endpoint::kSnapshotSave
                                       ? http::kBackupAnswerLimit
                                       : http::kAnswerLimit);
}

Result<std::string> ClusterApi::LeaderHttpAddress() const {
  server::ClusterInfo info = raft_.Cluster();
  if (!info.known_leader) {
    return Status::Unavailable(
        "no cluster leader (an election is under way or the cluster has "
        "lost its quorum); retry shortly, or read with ?stale");
  }
  std::optional<Member> leader = members_.ByRaftAddress(info.leader);
  if (!leader || leader->http_address.empty()) {
    return Status::Unavailable("no known HTTP address for the leader at " + info.leader +
                               "; run this server with -join <any member>");
  }
  return leader->http_address;
}

asio::awaitable<Response> ClusterApi::ToLeader(Request& req, std::uint64_t answer_limit) {
  Result<std::string> leader = LeaderHttpAddress();
  if (!leader.ok()) co_return Response::Error(503, leader.status().message());
  std::vector<std::pair<std::string, std::string>> extra;
  extra.emplace_back(std::string(kClientAddressHeader), req.remote_address);
  if (security_.key) {
    extra.emplace_back(std::string(tls::ClusterKey::kProofHeader),
                       security_.Prove(req.method, req.target, req.body));
  }
  std::string target = std::move(*leader);
  // A blocking query may wait up to 10 minutes (plus jitter); anything else that takes a
  // minute has met a leader that is cut off or hung, and the client has long given up.
  const std::chrono::seconds timeout(req.Has("index") ? 11 * 60 : 60);
  co_return co_await http::Forward(req, std::move(target), timeout, std::move(extra), security_.tls,
                                   answer_limit);
}

asio::awaitable<Response> ClusterApi::HeartbeatToLeader(http::HeartbeatEntry entry) {
  HeartbeatForwarder::Outcome outcome = co_await heartbeats_.Beat(entry);
  if (outcome.code != 200) {
    std::string error = std::move(outcome.error);
    if (error.empty()) error = "the leader answered " + std::to_string(outcome.code);
    co_return Response::Error(outcome.code, std::move(error));
  }
  // As the leader answers a single heartbeat (ConsulApi::CheckStatus).
  Response r = Response::Json("");
  bool known_leader = false;
  std::int64_t last_contact_ms = raft_.LastContactMs(&known_leader);
  r.headers.emplace_back("X-Consul-Index",
                         std::to_string(std::max<std::uint64_t>(1, outcome.index)));
  r.headers.emplace_back("X-Consul-KnownLeader", known_leader ? "true" : "false");
  r.headers.emplace_back("X-Consul-LastContact", std::to_string(last_contact_ms));
  co_return r;
}

asio::awaitable<Response> ClusterApi::Join(Request& req) {
  if (security_.key && !security_.Proven(req)) {
    RateLimitedWarn("cluster: refused a join from {}: no valid proof of the cluster key",
                    req.remote_address);
    co_return Response::Error(403,
                              "join: refused: the request does not prove this cluster's "
                              "key; give every server the same -cluster-key (and "
                              "synchronised clocks, within a minute)");
  }
  // Without a key, a server whose Raft has a configuration hears only its servers' hosts
  // (or a verified server certificate); before that, anyone may help it form.
  if (!security_.key && !FromServer(req) && !raft_.Cluster().voters.empty()) {
    RateLimitedWarn(
        "cluster: refused a join from {}: not the host of a server in the Raft "
        "configuration, and no cluster key is set",
        req.remote_address);
    co_return Response::Error(403, "join: refused: " + req.remote_address +
                                       " is not the host of a server of this cluster; to add "
                                       "a server on a new host, give every server the same "
                                       "-cluster-key");
  }
  auto joined = DecodeJoinRequest(req.body);
  if (!joined.ok()) co_return Response::Error(400, "join: " + joined.status().message());
  if (members_.Merge(joined->members)) {
    if (auto st = members_.Save(members_path_); !st.ok())
      RateLimitedWarn("cluster: after a join: {}", st.message());
  }
  bool want_voter = joined->want_voter;
  server::ClusterInfo info = raft_.Cluster();
  bool formed = raft_.started() && info.known_leader;
  if (want_voter && formed) {
    if (!raft_.is_leader()) co_return co_await ToLeader(req, http::kAnswerLimit);
    Member joiner = joined->members.front();
    server::StateLoop::Operation add = [this, joiner](std::function<void(Status)> done) {
      raft_.AddVoter(RaftId(joiner.raft_address), joiner.raft_address, std::move(done));
    };
    Status st = co_await state_.Call(std::move(add));
    if (!st.ok()) co_return Response::Error(503, "join: " + st.message());
    spdlog::info("cluster: {} ({}) joined as a voter", joiner.name, joiner.raft_address);
  }
  // The voters of a server whose Raft runs, leader or not: a new server adopts them rather
  // than derive a configuration of its own, so that two clusters never form.
  std::string voters = "[";
  if (raft_.started()) {
    for (const std::string& v : info.voters) {
      if (voters.size() > 1) voters += ',';
      voters += "\"" + v + "\"";
    }
  }
  std::string body = "{\"Formed\":" + std::string(formed ? "true" : "false") +
                     ",\"Voters\":" + voters + "]" +
                     ",\"Members\":" + EncodeMembers(members_.All()) + "}";
  co_return Response::Json(std::move(body));
}

asio::awaitable<Response> ClusterApi::RemovePeer(Request& req) {
  std::optional<std::string_view> address = req.Query("address");
  if (!address || address->empty()) {
    co_return Response::Error(400,
                              "address: the Raft address (host:port) of the server to remove "
                              "is required, e.g. ?address=10.0.0.3:8300");
  }
  std::string target(*address);
  bool known = false;
  for (const std::string& voter : raft_.Cluster().voters) known |= voter == target;
  if (!known) co_return Response::Error(404, "no server with Raft address " + target);
  server::StateLoop::Operation remove = [this, target](std::function<void(Status)> done) {
    raft_.RemoveServer(RaftId(target), std::move(done));
  };
  Status st = co_await state_.Call(std::move(remove));
  if (!st.ok()) co_return Response::Error(503, st.message());
  spdlog::info("cluster: removed server {}", target);
  co_return Response::Json("");
}

asio::awaitable<Response> ClusterApi::TransferLeader(Request& req) {
  raft_id to = 0;
  if (std::optional<std::string_view> id = req.Query("id")) {
    auto [end, ec] = std::from_chars(id->data(), id->data() + id->size(), to);
    if (ec != std::errc() || end != id->data() + id->size() || to == 0) {
      co_return Response::Error(400,
                                "id: expected a server's Raft ID as `concierge operator raft "
                                "list-peers` shows it, got \"" +
                                    std::string(*id) + "\"");
    }
  }
  server::ClusterInfo info = raft_.Cluster();
  bool known = to == 0;
  std::size_t others = 0;
  for (const std::string& voter : info.voters) {
    if (voter == info.leader) continue;
    ++others;
    known |= RaftId(voter) == to;
  }
  if (others == 0) co_return Response::Error(400, "no other voter to hand leadership to");
  if (!known) {
    co_return Response::Error(404, "no other voter with Raft ID " + std::to_string(to));
  }
  server::StateLoop::Operation transfer = [this, to](std::function<void(Status)> done) {
    raft_.TransferLeadership(std::move(done), to);
  };
  Status st = co_await state_.Call(std::move(transfer));
  if (!st.ok()) co_return Response::Error(503, st.message());
  spdlog::info("cluster: leadership handed over on request");
  co_return Response::Json("{\"Success\":true}");
}

Response ClusterApi::AgentMembers() const {
  server::ClusterInfo info = raft_.Cluster();
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartArray();
  for (const Member& m : members_.All()) {
    bool voter = false;
    for (const std::string& v : info.voters) voter |= v == m.raft_address;
    std::size_t colon = m.raft_address.rfind(':');
    w.StartObject();
    w.Key("Name");
    w.String(m.name.c_str());
    w.Key("Addr");
    w.String(Host(m.raft_address).c_str());
    w.Key("Port");
    w.Int(colon == std::string::npos ? 0 : std::atoi(m.raft_address.c_str() + colon + 1));
    w.Key("Status");
    w.Int(voter ? 1 : 0);  // 1 = alive (a voter), 0 = known but not (yet) in the cluster
    w.Key("Tags");
    w.StartObject();
    w.Key("role");
    w.String("consul");
    w.Key("http");
    w.String(m.http_address.c_str());
    w.Key("leader");
    w.String(info.leader == m.raft_address ? "true" : "false");
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  return Response::Json({buf.GetString(), buf.GetSize()});
}

Response ClusterApi::RaftConfiguration() const {
  server::ClusterInfo info = raft_.Cluster();
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("Servers");
  w.StartArray();
  for (const std::string& v : info.voters) {
    std::optional<Member> m = members_.ByRaftAddress(v);
    w.StartObject();
    w.Key("ID");
    w.String(std::to_string(RaftId(v)).c_str());
    w.Key("Node");
    w.String(m ? m->name.c_str() : "");
    w.Key("Address");
    w.String(v.c_str());
    w.Key("Leader");
    w.Bool(v == info.leader);
    w.Key("Voter");
    w.Bool(true);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return Response::Json({buf.GetString(), buf.GetSize()});
}

}  // namespace concierge::cluster
