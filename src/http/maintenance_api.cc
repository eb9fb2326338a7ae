#include "http/maintenance_api.h"

namespace concierge::http {

Result<core::SetMaintenance> DecodeMaintenance(const Request& req, std::string service_id) {
  std::optional<std::string_view> enable = req.Query("enable");
  if (!enable || enable->empty()) {
    return Status::InvalidArgument("enable: is required (?enable=true or ?enable=false)");
  }
  core::SetMaintenance cmd;
  cmd.service_id = std::move(service_id);
  if (*enable == "true" || *enable == "1") {
    cmd.enable = true;
  } else if (*enable == "false" || *enable == "0") {
    cmd.enable = false;
  } else {
    return Status::InvalidArgument("enable: expected true or false, got \"" + std::string(*enable) +
                                   "\"");
  }
  cmd.reason = std::string(req.Query("reason").value_or(""));
  return cmd;
}

}  // namespace concierge::http
