#include "client/agent_api.h"

#include <algorithm>
#include <tuple>

#include "client/json.h"
#include "client/wire.h"

namespace concierge::client {
namespace {

// Service fields are named alike in both answers (ID, Service, Tags, Address, Port).
ServiceInstance ReadService(const Json& service) {
  ServiceInstance instance;
  instance.id = GetString(service, "ID");
  instance.service = GetString(service, "Service");
  instance.address = GetString(service, "Address");
  instance.port = GetInt(service, "Port");
  const Json& tags = GetMember(service, "Tags");
  if (tags.IsArray()) {
    for (const Json& tag : tags.GetArray()) {
      if (tag.IsString()) instance.tags.emplace_back(tag.GetString(), tag.GetStringLength());
    }
  }
  return instance;
}

void SortInstances(std::vector<ServiceInstance>& instances) {
  std::sort(instances.begin(), instances.end(),
            [](const ServiceInstance& a, const ServiceInstance& b) {
              return std::tie(a.id, a.node) < std::tie(b.id, b.node);
            });
}

// A call whose answer is not read.
Status Send(HttpClient& http, std::string_view method, std::string_view target,
            std::string_view body = {}) {
  Result<Response> r = Call(http, method, target, body);
  return r.ok() ? Status::Ok() : r.status();
}

}  // namespace

std::string OneLine(std::string_view text, std::size_t max_chars) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  if (out.size() > max_chars && max_chars >= 3) out = out.substr(0, max_chars - 3) + "...";
  return out;
}

std::string Refusal(const Response& answer) {
  std::string body = OneLine(answer.body, 2000);
  return "agent answered " + std::to_string(answer.status) + (body.empty() ? "" : ": " + body);
}

Status FailureOf(const Response& answer) {
  if (answer.status >= 500) return Status::Unavailable(Refusal(answer));
  if (answer.status == 404) return Status::NotFound(Refusal(answer));
  if (answer.status == 403) return Status::PermissionDenied(Refusal(answer));
  return Status::InvalidArgument(Refusal(answer));
}

Result<Response> Call(HttpClient& http, std::string_view method, std::string_view target,
                      std::string_view body, std::optional<std::chrono::milliseconds> timeout) {
  Result<Response> r = http.Send(method, target, body, timeout);
  if (!r.ok() || (r->status >= 200 && r->status < 300)) return r;
  return FailureOf(*r);
}

std::string ServiceInstance::Endpoint() const {
  if (port == 0) return address.empty() ? "-" : address;
  return address + ":" + std::to_string(port);
}

int StatusRank(std::string_view status) {
  if (status == "passing") return 0;
  if (status == "warning") return 1;
  if (status == "maintenance") return 3;
  return 2;
}

Result<std::vector<ServiceInstance>> ParseHealthService(std::string_view body) {
  Result<rapidjson::Document> doc = ParseAnswer(body, "a health query");
  if (!doc.ok()) return doc.status();
  if (!doc->IsArray()) {
    return Status::Internal("cannot read the agent's answer to a health query: expected a list");
  }
  std::vector<ServiceInstance> instances;
  for (const Json& entry : doc->GetArray()) {
    const Json& node = GetMember(entry, "Node");
    ServiceInstance instance = ReadService(GetMember(entry, "Service"));
    instance.node = GetString(node, "Node");
    if (instance.address.empty()) instance.address = GetString(node, "Address");
    instance.status = "passing";
    const Json& checks = GetMember(entry, "Checks");
    if (checks.IsArray()) {
      bool first = true;
      for (const Json& check : checks.GetArray()) {
        std::string status = GetString(check, "Status");
        if (first || StatusRank(status) > StatusRank(instance.status)) {
          instance.status = status;
          instance.output = GetString(check, "Output");
          first = false;
        }
      }
    }
    instances.push_back(std::move(instance));
  }
  SortInstances(instances);
  return instances;
}

Result<std::vector<ServiceInstance>> ParseAgentServices(std::string_view body) {
  Result<rapidjson::Document> doc = ParseAnswer(body, "a services query");
  if (!doc.ok()) return doc.status();
  if (!doc->IsObject()) {
    return Status::Internal(
        "cannot read the agent's answer to a services query: expected an object");
  }
  std::vector<ServiceInstance> instances;
  for (const auto& member : doc->GetObject()) {
    ServiceInstance instance = ReadService(member.value);
    if (instance.id.empty()) {
      instance.id.assign(member.name.GetString(), member.name.GetStringLength());
    }
    instances.push_back(std::move(instance));
  }
  SortInstances(instances);
  return instances;
}

Result<std::vector<ServerMember>> ParseAgentMembers(std::string_view body) {
  Result<rapidjson::Document> doc = ParseAnswer(body, "GET /v1/agent/members");
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
    HostPort raft{GetString(entry, "Addr"),
                  static_cast<std::uint16_t>(std::clamp(GetInt(entry, "Port"), 0, 65535))};
    m.raft_address = raft.ToString();
    m.voter = GetInt(entry, "Status") == 1;
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
  Result<rapidjson::Document> doc = ParseAnswer(body, "GET /v1/operator/raft/configuration");
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
    p.leader = GetBool(entry, "Leader");
    p.voter = GetBool(entry, "Voter");
    peers.push_back(std::move(p));
  }
  return peers;
}

std::string RemovePeerTarget(std::string_view raft_address) {
  return "/v1/operator/raft/peer?address=" + Encode(raft_address);
}

Status RegisterService(HttpClient& http, std::string_view definition) {
  return Send(http, "PUT", "/v1/agent/service/register", definition);
}

Status DeregisterService(HttpClient& http, std::string_view id) {
  return Send(http, "PUT", DeregisterTarget(id));
}

Result<std::vector<ServiceInstance>> AgentServices(HttpClient& http) {
  Result<Response> r = Call(http, "GET", "/v1/agent/services");
  if (!r.ok()) return r.status();
  return ParseAgentServices(r->body);
}

Result<ServiceHealth> HealthService(HttpClient& http, std::string_view service,
                                    const HealthQuery& query,
                                    std::optional<std::chrono::milliseconds> timeout) {
  Result<Response> r = Call(http, "GET", HealthTarget(service, query), {}, timeout);
  if (!r.ok()) return r.status();
  Result<std::vector<ServiceInstance>> instances = ParseHealthService(r->body);
  if (!instances.ok()) return instances.status();
  return ServiceHealth{std::move(instances).value(), ParseIndex(r->Header("X-Consul-Index"))};
}

Status UpdateCheck(HttpClient& http, std::string_view check_id, HealthStatus status,
                   std::string_view note) {
  return Send(http, "PUT", CheckTarget(check_id, status, note));
}

Result<std::vector<ServerMember>> AgentMembers(HttpClient& http) {
  Result<Response> r = Call(http, "GET", "/v1/agent/members");
  if (!r.ok()) return r.status();
  return ParseAgentMembers(r->body);
}

Result<std::vector<RaftPeer>> RaftPeers(HttpClient& http) {
  Result<Response> r = Call(http, "GET", "/v1/operator/raft/configuration");
  if (!r.ok()) return r.status();
  return ParseRaftConfiguration(r->body);
}

Status RemoveRaftPeer(HttpClient& http, std::string_view raft_address) {
  return Send(http, "DELETE", RemovePeerTarget(raft_address));
}

Status TransferLeadership(HttpClient& http, std::string_view id) {
  std::string target = "/v1/operator/raft/transfer-leader";
  if (!id.empty()) target += "?id=" + Encode(id);
  return Send(http, "POST", target);
}

Result<Snapshot> SaveSnapshot(HttpClient& http) {
  Result<Response> r = Call(http, "GET", "/v1/snapshot");
  if (!r.ok()) return r.status();
  Snapshot snapshot{std::move(r->body), std::nullopt};
  if (const std::string* index = r->Header("X-Consul-Index")) snapshot.index = *index;
  return snapshot;
}

Status RestoreSnapshot(HttpClient& http, std::string_view bytes) {
  return Send(http, "PUT", "/v1/snapshot", bytes);
}

Status Monitor(HttpClient& http, std::string_view level,
               const std::function<bool(std::string_view)>& on_data) {
  std::string target = "/v1/agent/monitor";
  if (!level.empty()) target += "?loglevel=" + Encode(level);
  Result<Response> r = http.Stream(target, on_data);
  if (!r.ok()) return r.status();
  if (r->status != 200) return FailureOf(*r);
  return Status::Ok();
}

Result<std::vector<Maintenance>> MaintenanceList(HttpClient& http) {
  static constexpr std::string_view kServicePrefix = "_service_maintenance:";
  Result<Response> r = Call(http, "GET", "/v1/agent/checks");
  if (!r.ok()) return r.status();
  Result<rapidjson::Document> doc = ParseJson(r->body);
  if (!doc.ok() || !doc->IsObject()) {
    return Status::Internal("the agent's /v1/agent/checks is not a JSON object");
  }
  std::vector<Maintenance> list;
  for (const auto& [name, check] : doc->GetObject()) {
    std::string_view id(name.GetString(), name.GetStringLength());
    if (!GetMember(check, "Notes").IsString()) continue;
    if (id == "_node_maintenance") {
      list.push_back({"", GetString(check, "Notes")});
    } else if (id.starts_with(kServicePrefix)) {
      list.push_back({std::string(id.substr(kServicePrefix.size())), GetString(check, "Notes")});
    }
  }
  return list;
}

Status SetMaintenance(HttpClient& http, std::string_view service_id, bool enable,
                      std::string_view reason) {
  std::string target = service_id.empty() ? "/v1/agent/maintenance"
                                          : "/v1/agent/service/maintenance/" + Encode(service_id);
  target += enable ? "?enable=true" : "?enable=false";
  if (!reason.empty()) target += "&reason=" + Encode(reason);
  return Send(http, "PUT", target);
}

}  // namespace concierge::client
