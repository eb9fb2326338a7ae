#include "cluster/members.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

#include "http/message.h"

extern "C" {
#include <raft.h>
}

namespace concierge::cluster {

std::uint64_t RaftId(std::string_view raft_address) {
  std::uint64_t id = raft_digest(raft_address.data(), raft_address.size());
  return id == 0 ? 1 : id;  // 0 is not a valid Raft ID
}

std::string EncodeMembers(const std::vector<Member>& members) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartArray();
  for (const Member& m : members) {
    w.StartObject();
    w.Key("Name");
    w.String(m.name.c_str());
    w.Key("RaftAddress");
    w.String(m.raft_address.c_str());
    w.Key("HTTPAddress");
    w.String(m.http_address.c_str());
    w.EndObject();
  }
  w.EndArray();
  return {buf.GetString(), buf.GetSize()};
}

std::optional<std::pair<std::string, std::uint16_t>> SplitPeerAddress(std::string_view address) {
  std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || address.size() > 300) return std::nullopt;
  std::string_view host = address.substr(0, colon);
  std::string_view port_text = address.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    return std::nullopt;
  }
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return std::nullopt;
    for (char c : host.substr(1, host.size() - 2)) {
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.')
        return std::nullopt;
    }
  } else {
    for (char c : host) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') {
        return std::nullopt;
      }
    }
  }
  return std::pair<std::string, std::uint16_t>(std::string(host), static_cast<std::uint16_t>(port));
}

Status CheckPeerAddress(std::string_view what, std::string_view address) {
  if (SplitPeerAddress(address)) return Status::Ok();
  std::string shown(address.substr(0, 80));
  if (!http::ValidUtf8(shown)) shown = "(not UTF-8)";
  return Status::InvalidArgument(std::string(what) +
                                 ": expected host:port with a port from 1 to "
                                 "65535, got \"" +
                                 shown + "\"");
}

namespace {

Result<std::vector<Member>> MembersFrom(const rapidjson::Value& array) {
  if (!array.IsArray()) return Status::InvalidArgument("members: expected a JSON array of members");
  if (array.Size() > kMaxMembers) {
    return Status::InvalidArgument("members: more than " + std::to_string(kMaxMembers) +
                                   " members in one message");
  }
  std::vector<Member> out;
  for (const auto& v : array.GetArray()) {
    auto field = [&v](const char* k) -> std::optional<std::string_view> {
      auto it = v.FindMember(k);
      if (it == v.MemberEnd() || !it->value.IsString()) return std::nullopt;
      return std::string_view(it->value.GetString(), it->value.GetStringLength());
    };
    if (!v.IsObject() || !field("Name") || !field("RaftAddress") || !field("HTTPAddress")) {
      return Status::InvalidArgument(
          "members: each member needs Name, RaftAddress and HTTPAddress strings");
    }
    std::string_view name = *field("Name");
    if (name.size() > 256 || !http::ValidUtf8(name) || name.find('\0') != name.npos) {
      return Status::InvalidArgument("members: Name must be valid UTF-8 of at most 256 bytes");
    }
    if (auto st = CheckPeerAddress("members: RaftAddress", *field("RaftAddress")); !st.ok()) {
      return st;
    }
    if (auto st = CheckPeerAddress("members: HTTPAddress", *field("HTTPAddress")); !st.ok()) {
      return st;
    }
    out.push_back({std::string(name), std::string(*field("RaftAddress")),
                   std::string(*field("HTTPAddress"))});
  }
  return out;
}

// Every text that comes from another host is parsed iteratively: a nesting bomb must not
// overflow the stack.
bool ParseObject(std::string_view text, rapidjson::Document& doc) {
  doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
  return !doc.HasParseError() && doc.IsObject();
}

}  // namespace

Result<std::vector<Member>> DecodeMembers(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
  if (doc.HasParseError()) {
    return Status::InvalidArgument("members: expected a JSON array of members");
  }
  return MembersFrom(doc);
}

Result<JoinRequest> DecodeJoinRequest(std::string_view body) {
  rapidjson::Document doc;
  if (!ParseObject(body, doc) || !doc.HasMember("Members")) {
    return Status::InvalidArgument("expected {\"Members\": [...], \"WantVoter\": bool}");
  }
  auto members = MembersFrom(doc["Members"]);
  if (!members.ok()) return members.status();
  JoinRequest out;
  out.members = std::move(*members);
  auto want = doc.FindMember("WantVoter");
  out.want_voter = want != doc.MemberEnd() && want->value.IsBool() && want->value.GetBool() &&
                   !out.members.empty();
  return out;
}

Result<JoinReply> DecodeJoinReply(std::string_view body) {
  rapidjson::Document doc;
  if (!ParseObject(body, doc) || !doc.HasMember("Members")) {
    return Status::InvalidArgument(
        "expected {\"Formed\": bool, \"Voters\": [...], \"Members\": [...]}");
  }
  auto members = MembersFrom(doc["Members"]);
  if (!members.ok()) return members.status();
  JoinReply out;
  out.members = std::move(*members);
  auto formed = doc.FindMember("Formed");
  out.formed = formed != doc.MemberEnd() && formed->value.IsBool() && formed->value.GetBool();
  auto voters = doc.FindMember("Voters");
  if (voters != doc.MemberEnd() && voters->value.IsArray()) {
    if (voters->value.Size() > kMaxMembers) {
      return Status::InvalidArgument("Voters: more than " + std::to_string(kMaxMembers));
    }
    for (const auto& v : voters->value.GetArray()) {
      if (!v.IsString()) continue;
      std::string_view voter(v.GetString(), v.GetStringLength());
      if (auto st = CheckPeerAddress("Voters", voter); !st.ok()) return st;
      out.voters.emplace_back(voter);
    }
  }
  return out;
}

bool Members::Merge(const std::vector<Member>& members) {
  std::lock_guard lock(mu_);
  bool changed = false;
  for (const Member& m : members) {
    if (m.raft_address.empty()) continue;
    auto it = std::find_if(members_.begin(), members_.end(),
                           [&](const Member& x) { return x.raft_address == m.raft_address; });
    if (it == members_.end()) {
      if (members_.size() >= kMaxMembers) continue;
      members_.push_back(m);
      changed = true;
    } else if (!(*it == m) && m.raft_address != self_.raft_address) {
      *it = m;
      changed = true;
    }
  }
  std::sort(members_.begin(), members_.end(),
            [](const Member& a, const Member& b) { return a.raft_address < b.raft_address; });
  return changed;
}

std::vector<Member> Members::All() const {
  std::lock_guard lock(mu_);
  return members_;
}

std::optional<Member> Members::ByRaftAddress(std::string_view raft_address) const {
  std::lock_guard lock(mu_);
  for (const Member& m : members_) {
    if (m.raft_address == raft_address) return m;
  }
  return std::nullopt;
}

Status Members::Save(const std::string& path) const {
  // The join handler and the joiner both save; one at a time, through one temp file.
  std::lock_guard save_lock(save_mu_);
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << EncodeMembers(All());
    if (!out.flush()) return Status::Unavailable("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::Unavailable("cannot rename " + tmp + " to " + path);
  }
  return Status::Ok();
}

Status Members::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("no members file at " + path);
  std::stringstream text;
  text << in.rdbuf();
  auto members = DecodeMembers(text.str());
  if (!members.ok()) return Status::InvalidArgument(path + ": " + members.status().message());
  Merge(*members);
  return Status::Ok();
}

}  // namespace concierge::cluster
