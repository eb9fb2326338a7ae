// The catalog's data: services (instances), their checks, and health statuses.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/text.h"
#include "core/time.h"

namespace concierge::core {

// Raft log index (before Raft: a counter that becomes one). Never 0 in a reply.
using Index = std::uint64_t;

enum class HealthStatus : std::uint8_t { kPassing = 0, kWarning = 1, kCritical = 2 };

// "passing", "warning", "critical": Consul's spelling.
std::string_view ToString(HealthStatus status);
std::optional<HealthStatus> ParseHealthStatus(std::string_view text);

struct Weights {
  std::int32_t passing = 1;
  std::int32_t warning = 1;
  bool operator==(const Weights&) const = default;
};

// What a registration says about a service instance.
struct ServiceDefinition {
  Text id;      // unique in the catalog; defaults to name
  Symbol name;  // the service it is an instance of
  std::vector<Symbol> tags;
  Text address;  // set by the server from the client's address when empty
  std::uint16_t port = 0;
  std::vector<std::pair<Symbol, Symbol>> meta;  // sorted by key, keys unique
  Weights weights;
  bool enable_tag_override = false;
  bool operator==(const ServiceDefinition&) const = default;
};

// Check IDs that maintenance mode uses (core::SetMaintenance); registrations may not use them.
inline constexpr std::string_view kServiceMaintenancePrefix = "_service_maintenance:";
inline constexpr std::string_view kNodeMaintenanceCheckId = "_node_maintenance";
bool IsMaintenanceCheck(std::string_view check_id);

// What a registration says about one TTL check of a service. Maintenance checks have no TTL
// (ttl 0) and never expire.
struct CheckDefinition {
  Text id;  // "service:<ID>" (or ":<n>") when the registration gave none
  Symbol name;
  Symbol notes;
  Duration ttl{0};
  // Deregister the service once this check has been critical this long; 0 = never.
  Duration deregister_critical_after{0};
  HealthStatus initial_status = HealthStatus::kCritical;
  Text initial_output;
  bool operator==(const CheckDefinition&) const = default;
};

struct Check {
  CheckDefinition definition;
  HealthStatus status = HealthStatus::kCritical;
  Text output;
  Time status_since{};  // when the status last changed (command time)
  Index create_index = 0;
  Index modify_index = 0;

  const Text& id() const { return definition.id; }
};

// One registered service instance and its checks. Immutable once in the catalog: a change
// replaces the whole record, so readers may hold it without locks.
struct Instance {
  ServiceDefinition service;
  std::vector<Check> checks;
  Index create_index = 0;
  Index modify_index = 0;

  // The worst status of its checks; passing when it has none.
  HealthStatus AggregateStatus() const;
  const Check* FindCheck(std::string_view check_id) const;
};

// Limits on what a registration may contain; each is documented in docs/limits.md.
struct Limits {
  static constexpr std::size_t kMaxIdBytes = 256;
  static constexpr std::size_t kMaxNameBytes = 256;
  static constexpr std::size_t kMaxTags = 64;
  static constexpr std::size_t kMaxTagBytes = 256;
  static constexpr std::size_t kMaxMetaPairs = 64;
  static constexpr std::size_t kMaxMetaKeyBytes = 128;
  static constexpr std::size_t kMaxMetaValueBytes = 512;
  static constexpr std::size_t kMaxAddressBytes = 256;
  static constexpr std::size_t kMaxChecksPerService = 32;
  static constexpr std::size_t kMaxOutputBytes = 4096;
  static constexpr Duration kMinTtl = std::chrono::milliseconds(10);
};

}  // namespace concierge::core
