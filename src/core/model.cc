#include "core/model.h"

#include <algorithm>

namespace concierge::core {

std::string_view ToString(HealthStatus status) {
  switch (status) {
    case HealthStatus::kPassing:
      return "passing";
    case HealthStatus::kWarning:
      return "warning";
    case HealthStatus::kCritical:
      return "critical";
  }
  return "critical";
}

std::optional<HealthStatus> ParseHealthStatus(std::string_view text) {
  if (text == "passing") return HealthStatus::kPassing;
  if (text == "warning") return HealthStatus::kWarning;
  if (text == "critical") return HealthStatus::kCritical;
  return std::nullopt;
}

bool IsMaintenanceCheck(std::string_view check_id) {
  return check_id.starts_with(kServiceMaintenancePrefix) || check_id == kNodeMaintenanceCheckId;
}

HealthStatus Instance::AggregateStatus() const {
  HealthStatus worst = HealthStatus::kPassing;
  for (const Check& c : checks) worst = std::max(worst, c.status);
  return worst;
}

const Check* Instance::FindCheck(std::string_view check_id) const {
  for (const Check& c : checks) {
    if (c.id() == check_id) return &c;
  }
  return nullptr;
}

}  // namespace concierge::core
