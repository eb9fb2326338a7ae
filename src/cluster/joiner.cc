#include "cluster/joiner.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "client/http_client.h"
#include "server/log_limit.h"

namespace concierge::cluster {

Joiner::Joiner(Members& members, raft::RaftLog& raft, JoinOptions options, StartRaft start_raft)
    : members_(members),
      raft_(raft),
      options_(std::move(options)),
      start_raft_(std::move(start_raft)) {}

Joiner::~Joiner() { Stop(); }

void Joiner::Start(bool raft_started) {
  thread_ = std::thread([this, raft_started] { Run(raft_started); });
}

void Joiner::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Joiner::Reply Joiner::Exchange(const std::string& address, bool want_voter) {
  Reply out;
  client::HttpClientOptions opts;
  opts.connect_timeout = std::chrono::seconds(1);
  opts.tls = security_.tls.options;
  opts.tls_context = security_.tls.context;
  auto client = client::HttpClient::Open(address, opts);
  if (!client.ok()) return out;
  // Self first: a server that is asked to add a voter adds the first member of the list.
  std::vector<Member> ordered{members_.self()};
  for (const Member& m : members_.All()) {
    if (m.raft_address != members_.self().raft_address) ordered.push_back(m);
  }
  std::string body = "{\"WantVoter\":" + std::string(want_voter ? "true" : "false") +
                     ",\"Members\":" + EncodeMembers(ordered) + "}";
  client::HttpClient::Headers headers;
  if (security_.key) {
    headers.emplace_back(std::string(tls::ClusterKey::kProofHeader),
                         security_.Prove("PUT", "/v1/concierge/join", body));
  }
  auto reply = client->Send("PUT", "/v1/concierge/join", body, std::chrono::seconds(30), headers);
  if (!reply.ok() || reply->status != 200) {
    std::string why =
        reply.ok() ? std::to_string(reply->status) + " " + reply->body : reply.status().message();
    // A refusal (wrong key, TLS) needs the operator; an absent peer is normal while forming.
    bool refused = reply.ok() ? reply->status == 403 : why.find("TLS") != std::string::npos;
    if (refused && refused_.insert(address).second) {
      spdlog::warn("cluster: {} refused to exchange members: {}", address, why);
    } else {
      spdlog::debug("join {}: {}", address, why);
    }
    return out;
  }
  auto decoded = DecodeJoinReply(reply->body);
  if (!decoded.ok()) {
    spdlog::debug("join {}: its answer: {}", address, decoded.status().message());
    return out;
  }
  if (members_.Merge(decoded->members)) {
    if (auto st = members_.Save(options_.members_path); !st.ok())
      server::RateLimitedWarn("cluster: {}", st.message());
  }
  out.ok = true;
  out.formed = decoded->formed;
  out.voters = std::move(decoded->voters);
  return out;
}

void Joiner::Run(bool raft_started) {
  bool started = raft_started;
  bool announced = false;
  bool joining = false;  // Raft runs with an empty log; not yet added as a voter
  for (;;) {
    std::set<std::string> targets(options_.join.begin(), options_.join.end());
    for (const Member& m : members_.All()) {
      if (m.raft_address != members_.self().raft_address) targets.insert(m.http_address);
    }
    bool formed = false;
    std::vector<std::string> adopted;  // a running server's configuration
    for (const std::string& t : targets) {
      Reply r = Exchange(t, false);
      formed |= r.formed;
      if (adopted.empty()) adopted = r.voters;
    }
    if (!started) {
      const std::string& self = members_.self().raft_address;
      std::vector<Member> all = members_.All();
      auto bootstrap = [&](const std::vector<std::string>& voters) {
        std::vector<raft::Peer> config;
        for (const std::string& v : voters) config.push_back({RaftId(v), v});
        spdlog::info("cluster: bootstrapping with {} servers", config.size());
        start_raft_(config);
        started = true;
      };
      bool in_adopted = std::find(adopted.begin(), adopted.end(), self) != adopted.end();
      if (formed && !in_adopted) {
        // A cluster with a leader, and we are not in it: start Raft with an empty log (the
        // leader fills it), then ask to be added. The leader promotes us to voter only once
        // we have caught up, so Raft must run before we ask.
        start_raft_({});
        started = true;
        joining = true;
      } else if (!adopted.empty()) {
        // Another server bootstrapped (or runs) a configuration: take exactly that one if we
        // are in it; otherwise wait until it has a leader to join.
        if (in_adopted) bootstrap(adopted);
      } else if (static_cast<int>(all.size()) >= options_.bootstrap_expect) {
        std::vector<std::string> first;
        for (int i = 0; i < options_.bootstrap_expect; ++i) first.push_back(all[i].raft_address);
        if (std::find(first.begin(), first.end(), self) != first.end()) bootstrap(first);
      } else if (!announced) {
        spdlog::info("cluster: waiting for {} servers (know {}); writes answer 503 until then",
                     options_.bootstrap_expect, all.size());
        announced = true;
      }
    }
    if (joining) {
      for (const std::string& t : targets) {
        if (Exchange(t, true).ok) {
          spdlog::info("cluster: joined the existing cluster through {}", t);
          joining = false;
          break;
        }
      }
    }
    std::unique_lock lock(mu_);
    auto pause = started ? std::chrono::milliseconds(3000) : std::chrono::milliseconds(250);
    if (cv_.wait_for(lock, pause, [this] { return stop_; })) return;
  }
}

}  // namespace concierge::cluster
