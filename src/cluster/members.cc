#include "cluster/members.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

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

Result<std::vector<Member>> DecodeMembers(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsArray()) {
    return Status::InvalidArgument("members: expected a JSON array of members");
  }
  std::vector<Member> out;
  for (const auto& v : doc.GetArray()) {
    auto field = [&v](const char* k) -> const rapidjson::Value* {
      auto it = v.FindMember(k);
      return it != v.MemberEnd() && it->value.IsString() ? &it->value : nullptr;
    };
    if (!v.IsObject() || !field("Name") || !field("RaftAddress") || !field("HTTPAddress")) {
      return Status::InvalidArgument(
          "members: each member needs Name, RaftAddress and HTTPAddress strings");
    }
    out.push_back({field("Name")->GetString(), field("RaftAddress")->GetString(),
                   field("HTTPAddress")->GetString()});
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
