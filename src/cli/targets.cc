#include "cli/targets.h"

#include "client/wire.h"

namespace concierge::cli {

std::string EncodeQueryValue(std::string_view text) { return client::Encode(text); }

std::string EncodePathSegment(std::string_view text) { return client::Encode(text, true); }

std::string DeregisterTarget(std::string_view service_id) {
  return "/v1/agent/service/deregister/" + EncodePathSegment(service_id);
}

std::string HeartbeatTarget(std::string_view check_id, std::string_view status,
                            std::string_view note) {
  std::string_view verb = status == "passing" ? "pass" : status == "warning" ? "warn" : "fail";
  std::string target = "/v1/agent/check/" + std::string(verb) + "/" + EncodePathSegment(check_id);
  if (!note.empty()) target += "?note=" + EncodeQueryValue(note);
  return target;
}

std::string HealthTarget(std::string_view service, bool passing,
                         const std::vector<std::string>& tags, std::uint64_t index,
                         std::string_view wait) {
  std::string target = "/v1/health/service/" + EncodePathSegment(service);
  char separator = '?';
  auto add = [&](std::string_view key, std::string_view value) {
    target += separator;
    target += key;
    target += '=';
    target += value;
    separator = '&';
  };
  if (passing) add("passing", "1");
  for (const std::string& tag : tags) add("tag", EncodeQueryValue(tag));
  if (index > 0) {
    add("index", std::to_string(index));
    add("wait", EncodeQueryValue(wait));
  }
  return target;
}

}  // namespace concierge::cli
