#include "client/wire.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <tuple>

#include "client/json.h"

namespace concierge::client {
HealthStatus ParseHealthStatus(std::string_view s) {
  if (s == "passing") return HealthStatus::kPassing;
  if (s == "warning") return HealthStatus::kWarning;
  return HealthStatus::kCritical;
}

std::string GoDuration(Duration d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

std::string EncodeRegistration(const ServiceRegistration& r) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  auto field = [&](const char* key, std::string_view value) { WriteField(w, key, value); };
  w.StartObject();
  field("ID", r.InstanceId());
  field("Name", r.name);
  if (!r.address.empty()) field("Address", r.address);
  if (r.port != 0) {
    w.Key("Port");
    w.Uint(r.port);
  }
  if (!r.tags.empty()) {
    w.Key("Tags");
    w.StartArray();
    for (const std::string& t : r.tags) WriteString(w, t);
    w.EndArray();
  }
  if (!r.meta.empty()) {
    w.Key("Meta");
    w.StartObject();
    for (const auto& [k, v] : r.meta) field(k.c_str(), v);
    w.EndObject();
  }
  w.Key("Weights");
  w.StartObject();
  w.Key("Passing");
  w.Int(r.weights.passing);
  w.Key("Warning");
  w.Int(r.weights.warning);
  w.EndObject();
  if (r.ttl > Duration::zero()) {
    w.Key("Check");
    w.StartObject();
    field("TTL", GoDuration(r.ttl));
    if (r.deregister_critical_after > Duration::zero()) {
      field("DeregisterCriticalServiceAfter", GoDuration(r.deregister_critical_after));
    }
    w.EndObject();
  }
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

namespace {

// The entries of a /v1/health/service answer, sorted by ID, then node.
std::vector<Instance> DecodeHealthEntries(const Json& list) {
  std::vector<Instance> instances;
  for (const Json& entry : list.GetArray()) {
    const Json& node = GetMember(entry, "Node");
    const Json& service = GetMember(entry, "Service");
    Instance i;
    i.id = GetString(service, "ID");
    i.service = GetString(service, "Service");
    i.node = GetString(node, "Node");
    i.address = GetString(service, "Address");
    if (i.address.empty()) i.address = GetString(node, "Address");
    i.port = static_cast<std::uint16_t>(std::clamp(GetInt(service, "Port", 0), 0, 65535));
    const Json& tags = GetMember(service, "Tags");
    if (tags.IsArray()) {
      for (const Json& t : tags.GetArray()) {
        if (t.IsString()) i.tags.emplace_back(t.GetString(), t.GetStringLength());
      }
    }
    const Json& meta = GetMember(service, "Meta");
    if (meta.IsObject()) {
      for (const auto& m : meta.GetObject()) {
        if (m.value.IsString()) i.meta[m.name.GetString()] = m.value.GetString();
      }
    }
    const Json& weights = GetMember(service, "Weights");
    i.weights.passing = GetInt(weights, "Passing", 1);
    i.weights.warning = GetInt(weights, "Warning", 1);
    const Json& checks = GetMember(entry, "Checks");
    if (checks.IsArray()) {
      for (const Json& check : checks.GetArray()) {
        i.health = std::max(i.health, ParseHealthStatus(GetString(check, "Status")));
      }
    }
    instances.push_back(std::move(i));
  }
  std::sort(instances.begin(), instances.end(), [](const Instance& a, const Instance& b) {
    return std::tie(a.id, a.node) < std::tie(b.id, b.node);
  });
  return instances;
}

Status Unreadable(std::string_view what, const Status& why) {
  return Status::Internal("cannot read the registry's answer to a " + std::string(what) + ": " +
                          why.message());
}

}  // namespace

Result<std::vector<Instance>> DecodeHealth(std::string_view body) {
  Result<rapidjson::Document> doc = ParseJson(body);
  if (!doc.ok()) return Unreadable("health query", doc.status());
  if (!doc->IsArray()) {
    return Status::Internal("cannot read the registry's answer to a health query: expected a list");
  }
  return DecodeHealthEntries(*doc);
}

Result<ServiceDelta> DecodeDelta(std::string_view body) {
  Result<rapidjson::Document> doc = ParseJson(body);
  if (!doc.ok()) return Unreadable("delta query", doc.status());
  const Json& changed = GetMember(*doc, "Changed");
  const Json& removed = GetMember(*doc, "Removed");
  const Json& index = GetMember(*doc, "Index");
  const Json& resync = GetMember(*doc, "Resync");
  if (!doc->IsObject() || !changed.IsArray() || !removed.IsArray() || !index.IsUint64() ||
      !resync.IsBool()) {
    return Status::Internal(
        "cannot read the registry's answer to a delta query: expected an object with Index, "
        "Resync, Changed and Removed");
  }
  ServiceDelta delta;
  delta.index = index.GetUint64();
  delta.resync = resync.GetBool();
  delta.changed = DecodeHealthEntries(changed);
  for (const Json& id : removed.GetArray()) {
    if (id.IsString()) delta.removed.emplace_back(id.GetString(), id.GetStringLength());
  }
  std::sort(delta.removed.begin(), delta.removed.end());
  return delta;
}

std::string Encode(std::string_view text, bool path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    bool keep = std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
                (path && (c == ':' || c == '@'));
    if (keep) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string DeregisterTarget(std::string_view instance_id) {
  return "/v1/agent/service/deregister/" + Encode(instance_id, true);
}

std::string CheckTarget(std::string_view check_id, HealthStatus status, std::string_view note) {
  static constexpr const char* kVerb[] = {"pass", "warn", "fail"};
  std::string target = "/v1/agent/check/" + std::string(kVerb[static_cast<int>(status)]) + "/" +
                       Encode(check_id, true);
  if (!note.empty()) target += "?note=" + Encode(note);
  return target;
}

std::string HealthTarget(std::string_view service, const HealthQuery& query) {
  std::string target = "/v1/health/service/" + Encode(service, true);
  char sep = '?';
  auto add = [&](std::string_view key, const std::string& value) {
    target += sep;
    target += key;
    target += '=';
    target += value;
    sep = '&';
  };
  if (query.passing_only) add("passing", "1");
  for (const std::string& tag : query.tags) add("tag", Encode(tag));
  if (query.index > 0) {
    add("index", std::to_string(query.index));
    add("wait", GoDuration(query.wait));
  }
  return target;
}

std::string DeltaTarget(std::string_view service, const DeltaQuery& query) {
  return "/v1/concierge/delta/service/" + Encode(service, true) +
         "?index=" + std::to_string(query.index) + "&wait=" + GoDuration(query.wait);
}

std::optional<std::uint64_t> ParseIndex(const std::string* header) {
  if (header == nullptr || header->empty()) return std::nullopt;
  std::uint64_t value = 0;
  const char* end = header->data() + header->size();
  auto [ptr, ec] = std::from_chars(header->data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

std::uint64_t NextIndex(std::uint64_t previous, std::uint64_t received) {
  if (received < previous) return 0;
  return received == 0 ? 1 : received;
}

}  // namespace concierge::client
