// Eureka's view of the catalog (docs/eureka.md): how a Eureka registration becomes a service
// instance with a TTL check, how any instance looks to a Eureka client, and Eureka 1.x's JSON
// and XML shapes. Pure functions: no registry, no clock.
//
// The mapping, in short:
//   app name      <-> service name: the service is the app in lower case ("MY-APP" is
//                     "my-app"); Eureka shows every service as its name in upper case; the
//                     app as the client sent it is kept in meta "eureka-app"
//   instance ID   <-> service ID (instanceId, else hostName, as Eureka's InstanceInfo.getId)
//   ipAddr, port  <-> Address, Port
//   metadata      <-> Meta (keys other than "eureka-..."); Eureka's own fields are kept in
//                     meta keys "eureka-..." (vipAddress, hostName, the URLs, ...)
//   lease         <-> the TTL check "service:<ID>" with TTL = leaseInfo.durationInSecs; a
//                     renewal is a heartbeat of it
//   UP / STARTING / DOWN <-> passing / warning / critical; OUT_OF_SERVICE <-> maintenance mode
//   an instance whose TTL check expired is gone from Eureka's view (its lease ended), while
//   Consul's API shows it critical until it is reaped.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/command.h"
#include "core/model.h"
#include "core/status.h"

namespace concierge::http {

enum class EurekaStatus : std::uint8_t { kDown, kOutOfService, kStarting, kUnknown, kUp };
// Eureka's names, which sort in this enum's order (apps__hashcode lists them sorted).
std::string_view ToString(EurekaStatus status);
std::optional<EurekaStatus> ParseEurekaStatus(std::string_view text);
// UP passing, STARTING and UNKNOWN warning, DOWN critical; OUT_OF_SERVICE is maintenance
// mode, whose lease check stays passing.
core::HealthStatus HealthOf(EurekaStatus status);

// "MY-APP" -> "my-app" (ASCII letters only).
std::string ServiceNameOfApp(std::string_view app);
// "my-app" -> "MY-APP".
std::string AppOfService(std::string_view service);

// The lease check of instance `id`: "service:<id>".
std::string LeaseCheckId(std::string_view id);
// What a lease check's output starts with while a status override is in force.
inline constexpr std::string_view kOverridePrefix = "Eureka status override: ";
// The maintenance reason of an instance registered OUT_OF_SERVICE by its client (an
// override's reason is kOverridePrefix + "OUT_OF_SERVICE").
inline constexpr std::string_view kRegisteredOutOfService = "Eureka status OUT_OF_SERVICE";
inline constexpr std::int64_t kDefaultLeaseSeconds = 90;

// POST /eureka/apps/{APP}: {"instance": {...}} as Eureka's clients send it. `path_app` is
// the {APP} of the path; the body's app must be the same name (case aside). Errors are
// Eureka's 400 messages ("Missing hostname", ...) with the field that is wrong.
struct EurekaRegistration {
  core::RegisterService command;
  EurekaStatus status = EurekaStatus::kUp;
};
Result<EurekaRegistration> DecodeEurekaRegistration(std::string_view body,
                                                    std::string_view path_app);

// The lease of `instance` has expired: a TTL check critical because no heartbeat came.
// Such an instance is not in Eureka's view.
bool LeaseExpired(const core::Instance& instance);
// The status a Eureka client sees, and the override in force (kUnknown: none).
EurekaStatus StatusOf(const core::Instance& instance);
EurekaStatus OverriddenStatusOf(const core::Instance& instance);
// The instance's vipAddress (a comma-separated list; the service name when none was
// registered) and secureVipAddress.
std::string VipAddressOf(const core::Instance& instance);
std::string SecureVipAddressOf(const core::Instance& instance);
// `vip` is one of the addresses in `list` ("a,b").
bool HasVip(std::string_view list, std::string_view vip);

// Eureka's apps__hashcode: "<STATUS>_<count>_" for each status present, by name.
std::string AppsHashcode(const std::array<std::uint32_t, 5>& counts);

enum class EurekaFormat : std::uint8_t { kJson, kXml };
// JSON when the Accept header names it, XML otherwise (Eureka's default).
EurekaFormat FormatOf(std::optional<std::string_view> accept);
std::string_view ContentType(EurekaFormat format);

enum class ActionType : std::uint8_t { kAdded, kModified, kDeleted };
using InstancePtr = std::shared_ptr<const core::Instance>;

// One instance record's encodings in a registry (action ADDED), made at most once per format
// and shared: records are immutable, so a registry encoded after a change re-encodes only
// the records that changed. Any thread.
class EncodedInstance {
 public:
  explicit EncodedInstance(InstancePtr instance) : instance_(std::move(instance)) {}
  // The instance object: {...} in JSON, <instance>...</instance> in XML.
  std::string_view Get(EurekaFormat format) const;

 private:
  InstancePtr instance_;
  mutable std::once_flag once_[2];
  mutable std::string text_[2];
};

struct EurekaEntry {
  InstancePtr instance;
  ActionType action = ActionType::kAdded;
  // Set for kAdded entries of a shared registry: written as is.
  std::shared_ptr<const EncodedInstance> encoded = nullptr;
};
struct EurekaApp {
  std::string name;     // upper case
  std::string service;  // the service it shows
  std::vector<EurekaEntry> instances;
};

// {"applications": {"versions__delta", "apps__hashcode", "application": [...]}}, or XML.
std::string EncodeApplications(const std::vector<EurekaApp>& apps, std::uint64_t version,
                               std::string_view hashcode, EurekaFormat format);
// {"application": {"name", "instance": [...]}}.
std::string EncodeApplication(const EurekaApp& app, EurekaFormat format);
// {"instance": {...}}.
std::string EncodeInstance(const core::Instance& instance, EurekaFormat format);

}  // namespace concierge::http
