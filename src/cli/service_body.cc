#include "cli/service_body.h"

#include <set>
#include <string_view>

#include "client/json.h"
#include "core/time.h"

namespace concierge::cli {
namespace {

Status CheckDuration(std::string_view flag, const std::string& text) {
  Result<core::Duration> parsed = core::ParseDuration(text);
  if (parsed.ok() && parsed->count() > 0) return Status::Ok();
  return Status::InvalidArgument(std::string(flag) + ": expected a duration like \"10s\", got \"" +
                                 text + "\"");
}

}  // namespace

Result<std::string> BuildServiceBody(const ServiceFlags& flags) {
  if (flags.name.empty()) return Status::InvalidArgument("-name: required (or give a JSON file)");
  if (!flags.deregister_critical_after.empty() && flags.ttl.empty()) {
    return Status::InvalidArgument(
        "-deregister-critical-after: applies to the TTL check, so it needs -ttl too");
  }
  if (!flags.ttl.empty()) {
    if (Status s = CheckDuration("-ttl", flags.ttl); !s.ok()) return s;
  }
  if (!flags.deregister_critical_after.empty()) {
    Status s = CheckDuration("-deregister-critical-after", flags.deregister_critical_after);
    if (!s.ok()) return s;
  }

  rapidjson::StringBuffer out;
  client::JsonWriter json(out);
  auto string = [&](std::string_view s) { client::WriteString(json, s); };
  json.StartObject();
  client::WriteField(json, "ID", flags.id.empty() ? flags.name : flags.id);
  client::WriteField(json, "Name", flags.name);
  if (!flags.address.empty()) client::WriteField(json, "Address", flags.address);
  if (flags.port) {
    json.Key("Port");
    json.Uint(*flags.port);
  }
  if (!flags.tags.empty()) {
    json.Key("Tags");
    json.StartArray();
    for (const std::string& tag : flags.tags) string(tag);
    json.EndArray();
  }
  if (!flags.meta.empty()) {
    std::set<std::string, std::less<>> seen;
    json.Key("Meta");
    json.StartObject();
    for (const std::string& pair : flags.meta) {
      std::size_t eq = pair.find('=');
      if (eq == std::string::npos || eq == 0) {
        return Status::InvalidArgument("-meta: expected key=value, got \"" + pair + "\"");
      }
      std::string key = pair.substr(0, eq);
      if (!seen.insert(key).second) {
        return Status::InvalidArgument("-meta: key \"" + key + "\" given twice");
      }
      string(key);
      string(pair.substr(eq + 1));
    }
    json.EndObject();
  }
  if (!flags.ttl.empty()) {
    json.Key("Check");
    json.StartObject();
    client::WriteField(json, "TTL", flags.ttl);
    if (!flags.deregister_critical_after.empty()) {
      client::WriteField(json, "DeregisterCriticalServiceAfter", flags.deregister_critical_after);
    }
    json.EndObject();
  }
  json.EndObject();
  return std::string(out.GetString(), out.GetSize());
}

}  // namespace concierge::cli
