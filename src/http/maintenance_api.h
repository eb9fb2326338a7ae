// PUT /v1/agent/service/maintenance/:id and PUT /v1/agent/maintenance, as Consul has them:
// ?enable=true|false (required) and ?reason= (optional, becomes the check's Notes).
#pragma once

#include <string>

#include "core/command.h"
#include "core/status.h"
#include "http/message.h"

namespace concierge::http {

// The command for one maintenance request; `service_id` empty means the whole node.
Result<core::SetMaintenance> DecodeMaintenance(const Request& req, std::string service_id);

}  // namespace concierge::http
