#include "cli/instances.h"

#include <algorithm>
#include <tuple>

#include "client/json.h"

namespace concierge::cli {
namespace {

using client::GetMember;
using client::GetString;
using client::Json;

// Service fields are named alike in both answers (ID, Service, Tags, Address, Port).
Instance ReadService(const Json& service) {
  Instance instance;
  instance.id = GetString(service, "ID");
  instance.service = GetString(service, "Service");
  instance.address = GetString(service, "Address");
  instance.port = client::GetInt(service, "Port");
  const Json& tags = GetMember(service, "Tags");
  if (tags.IsArray()) {
    for (const Json& tag : tags.GetArray()) {
      if (tag.IsString()) instance.tags.emplace_back(tag.GetString(), tag.GetStringLength());
    }
  }
  return instance;
}

void SortInstances(std::vector<Instance>& instances) {
  std::sort(instances.begin(), instances.end(), [](const Instance& a, const Instance& b) {
    return std::tie(a.id, a.node) < std::tie(b.id, b.node);
  });
}

}  // namespace

std::string Instance::Endpoint() const {
  if (port == 0) return address.empty() ? "-" : address;
  return address + ":" + std::to_string(port);
}

int StatusRank(std::string_view status) {
  if (status == "passing") return 0;
  if (status == "warning") return 1;
  if (status == "maintenance") return 3;
  return 2;
}

Result<std::vector<Instance>> ParseHealthService(std::string_view body) {
  Result<rapidjson::Document> doc = client::ParseAnswer(body, "a health query");
  if (!doc.ok()) return doc.status();
  if (!doc->IsArray()) {
    return Status::Internal("cannot read the agent's answer to a health query: expected a list");
  }
  std::vector<Instance> instances;
  for (const Json& entry : doc->GetArray()) {
    const Json& node = GetMember(entry, "Node");
    Instance instance = ReadService(GetMember(entry, "Service"));
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

Result<std::vector<Instance>> ParseAgentServices(std::string_view body) {
  Result<rapidjson::Document> doc = client::ParseAnswer(body, "a services query");
  if (!doc.ok()) return doc.status();
  if (!doc->IsObject()) {
    return Status::Internal(
        "cannot read the agent's answer to a services query: expected an object");
  }
  std::vector<Instance> instances;
  for (const auto& member : doc->GetObject()) {
    Instance instance = ReadService(member.value);
    if (instance.id.empty()) {
      instance.id.assign(member.name.GetString(), member.name.GetStringLength());
    }
    instances.push_back(std::move(instance));
  }
  SortInstances(instances);
  return instances;
}

}  // namespace concierge::cli
