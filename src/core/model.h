// The catalog's data: services (instances), their checks, and health statuses.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/interned_list.h"
#include "core/status.h"
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
  TagList tags;  // interned: instances with the same tags share them (core/interned_list.h)
  Text address;  // set by the server from the client's address when empty
  std::uint16_t port = 0;
  MetaList meta;  // sorted by key, keys unique; interned like the tags
  Weights weights;
  bool enable_tag_override = false;
  bool operator==(const ServiceDefinition&) const = default;
};

// Check IDs that maintenance mode uses (core::SetMaintenance); registrations may not use them.
inline constexpr std::string_view kServiceMaintenancePrefix = "_service_maintenance:";
inline constexpr std::string_view kNodeMaintenanceCheckId = "_node_maintenance";
bool IsMaintenanceCheck(std::string_view check_id);

// "service:<ID>": the ID a service's check gets when its registration names none. The catalog
// finds the owner of such a check from its name, with no index entry.
inline constexpr std::string_view kDefaultCheckPrefix = "service:";
inline bool IsDefaultCheckId(std::string_view check_id, std::string_view service_id) {
  return check_id.size() == kDefaultCheckPrefix.size() + service_id.size() &&
         check_id.starts_with(kDefaultCheckPrefix) && check_id.ends_with(service_id);
}

// How a check learns the instance's health: heartbeats within a TTL (the instance reports),
// or an HTTP request or a TCP connection that the agent makes every Interval (active checks).
enum class CheckKind : std::uint8_t { kTtl = 0, kHttp = 1, kTcp = 2 };
std::string_view ToString(CheckKind kind);  // "ttl", "http", "tcp"

// An active check's target and schedule (docs/health.md "Active checks").
struct ActiveCheck {
  // kHttp: an "http://host[:port]/path?query" URL; kTcp: "host:port".
  std::string target;
  std::string method = "GET";                                     // kHttp
  std::vector<std::pair<std::string, std::string>> headers;       // kHttp; in order, may repeat
  std::string body;                                               // kHttp
  Duration interval{0};
  Duration timeout{0};
  // Consecutive results needed before the status changes (0 and 1 both mean at once).
  std::uint32_t success_before_passing = 0;
  std::uint32_t failures_before_critical = 0;
  bool operator==(const ActiveCheck&) const = default;
};

// What a registration says about one check of a service. Maintenance checks are TTL checks
// without a TTL (ttl 0) that never expire.
struct CheckDefinition {
  Text id;  // "service:<ID>" (or ":<n>") when the registration gave none
  Symbol name;
  Symbol notes;
  CheckKind kind = CheckKind::kTtl;
  Duration ttl{0};  // kTtl only
  // kHttp and kTcp only, shared by the copies of a record. Null for TTL checks, which are
  // most checks: they pay one pointer for it, not the settings (memory per instance).
  std::shared_ptr<const ActiveCheck> active;
  // Deregister the service once this check has been critical this long; 0 = never.
  Duration deregister_critical_after{0};
  HealthStatus initial_status = HealthStatus::kCritical;
  Text initial_output;
  // By value, `active` included.
  bool operator==(const CheckDefinition& other) const;
};

// An HTTP check's URL, split. Only plain http:// is supported (no TLS yet).
struct HttpUrl {
  std::string host;  // without brackets for IPv6 literals
  std::uint16_t port = 80;
  std::string target;  // path and query, at least "/"
};
Result<HttpUrl> ParseHttpUrl(std::string_view url);
// A TCP check's "host:port" ("[::1]:80" for IPv6).
struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};
Result<HostPort> ParseHostPort(std::string_view address);

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
  static constexpr Duration kMinCheckInterval = std::chrono::milliseconds(100);
  static constexpr std::size_t kMaxCheckTargetBytes = 2048;
  static constexpr std::size_t kMaxCheckHeaders = 32;
  static constexpr std::size_t kMaxCheckHeaderBytes = 1024;  // name + value
  static constexpr std::size_t kMaxCheckBodyBytes = 4096;
  static constexpr std::uint32_t kMaxCheckCounter = 1000;  // SuccessBefore.../FailuresBefore...
};

}  // namespace concierge::core
