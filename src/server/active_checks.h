// What the registry tells whoever runs the active (HTTP, TCP) checks: which checks exist, their
// replicated status, and whether this server leads (only the leader runs them, as only the
// leader decides TTL expiries). Calls come from the state thread.
#pragma once

#include <string_view>

#include "core/model.h"

namespace concierge::server {

class ActiveChecks {
 public:
  virtual ~ActiveChecks() = default;
  // A new or redefined probed check (core::IsProbed), with its status in the catalog.
  virtual void Track(std::string_view service_id, const core::CheckDefinition& definition,
                     core::HealthStatus status) = 0;
  virtual void Untrack(std::string_view check_id) = 0;
  // The catalog applied a status change of a tracked check (from this runner or elsewhere).
  virtual void StatusChanged(std::string_view check_id, core::HealthStatus status) = 0;
  virtual void SetLeader(bool leader) = 0;
};

}  // namespace concierge::server
