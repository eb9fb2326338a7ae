#include "cluster/joiner.h"

#include <set>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include "client/http_client.h"

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

bool Joiner::Exchange(const std::string& address, bool want_voter, bool* ok) {
  *ok = false;
  client::HttpClientOptions opts;
  opts.connect_timeout = std::chrono::seconds(1);
  auto client = client::HttpClient::Open(address, opts);
  if (!client.ok()) return false;
  // Self first: a server that is asked to add a voter adds the first member of the list.
  std::vector<Member> all = members_.All();
  std::vector<Member> ordered{members_.self()};
  for (const Member& m : all) {
    if (m.raft_address != members_.self().raft_address) ordered.push_back(m);
  }
  std::string body = "{\"WantVoter\":" + std::string(want_voter ? "true" : "false") +
                     ",\"Members\":" + EncodeMembers(ordered) + "}";
  auto reply = client->Send("PUT", "/v1/concierge/join", body, std::chrono::seconds(30));
  if (!reply.ok() || reply->status != 200) {
    if (reply.ok()) spdlog::debug("join {}: {} {}", address, reply->status, reply->body);
    return false;
  }
  rapidjson::Document doc;
  doc.Parse(reply->body.data(), reply->body.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("Members")) return false;
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  doc["Members"].Accept(w);
  if (auto members = DecodeMembers({buf.GetString(), buf.GetSize()}); members.ok()) {
    if (members_.Merge(*members)) {
      if (auto st = members_.Save(options_.members_path); !st.ok()) {
        spdlog::warn("{}", st.message());
      }
    }
  }
  *ok = true;
  return doc.HasMember("Formed") && doc["Formed"].IsBool() && doc["Formed"].GetBool();
}

void Joiner::Run(bool raft_started) {
  bool started = raft_started;
  bool announced = false;
  for (;;) {
    std::set<std::string> targets(options_.join.begin(), options_.join.end());
    for (const Member& m : members_.All()) {
      if (m.raft_address != members_.self().raft_address) targets.insert(m.http_address);
    }
    bool formed = false;
    for (const std::string& t : targets) {
      bool ok = false;
      formed |= Exchange(t, false, &ok);
    }
    if (!started) {
      std::vector<Member> all = members_.All();
      if (formed) {
        // A cluster exists: ask to be added, then start with an empty log.
        for (const std::string& t : targets) {
          bool ok = false;
          Exchange(t, true, &ok);
          if (ok) {
            spdlog::info("cluster: joining the existing cluster through {}", t);
            start_raft_({});
            started = true;
            break;
          }
        }
      } else if (static_cast<int>(all.size()) >= options_.bootstrap_expect) {
        std::vector<raft::Peer> config;
        bool in_config = false;
        for (int i = 0; i < options_.bootstrap_expect; ++i) {
          config.push_back({RaftId(all[i].raft_address), all[i].raft_address});
          in_config |= all[i].raft_address == members_.self().raft_address;
        }
        if (in_config) {
          spdlog::info("cluster: {} servers known, bootstrapping", options_.bootstrap_expect);
          start_raft_(config);
          started = true;
        }
      } else if (!announced) {
        spdlog::info("cluster: waiting for {} servers (know {}); writes answer 503 until then",
                     options_.bootstrap_expect, all.size());
        announced = true;
      }
    }
    std::unique_lock lock(mu_);
    auto pause = started ? std::chrono::milliseconds(3000) : std::chrono::milliseconds(250);
    if (cv_.wait_for(lock, pause, [this] { return stop_; })) return;
  }
}

}  // namespace concierge::cluster
