// Copyright: the Concierge authors.
//
// concierge::Client talks to a Concierge registry (or to Consul) over its HTTP API:
// it registers and deregisters service instances, reports their health, and asks which
// instances of a service are healthy.
//
//   concierge::ClientOptions options;
//   options.addresses = {"10.0.0.1:8500", "10.0.0.2:8500", "10.0.0.3:8500"};
//   auto client = concierge::Client::Open(options);
//   if (!client.ok()) { ... client.status().message() ... }
//   concierge::Status s = (*client)->Register({.name = "web", .port = 8080});
//
// A Client knows several registry addresses (the servers of one cluster) and fails over
// between them: a request that cannot connect, times out, or is answered with a 5xx status
// (e.g. a server without a cluster leader) is sent to the next address at once. Each
// request tries every address at most once; callers that loop (Heartbeater, Watcher) back
// off between rounds. The address that last answered is tried first.
//
// Thread safety: every method may be called from any thread, concurrently. Each call in
// progress uses its own connection; idle connections are kept for reuse.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "concierge/status.h"
#include "concierge/tls.h"

namespace concierge {

using Duration = std::chrono::milliseconds;

// A source of monotonic time. The library reads time only through a Clock, so tests can
// drive time-dependent behaviour (ejection, staleness) without sleeping.
class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;

  // std::chrono::steady_clock. Never null, never destroyed.
  static const Clock* Real();
};

// How often an instance is chosen relative to the others by a weighted Balancer, by its
// health (Consul's "Weights"). Only passing and warning instances are ever chosen.
struct Weights {
  int passing = 1;
  int warning = 1;
};

// What PUT /v1/agent/service/register sends.
struct ServiceRegistration {
  std::string name{};  // required
  std::string id{};    // instance ID; empty: the name (unique IDs are strongly advised)
  // Empty: the address the registry sees the registration come from.
  std::string address{};
  std::uint16_t port = 0;
  std::vector<std::string> tags{};
  std::map<std::string, std::string> meta{};
  Weights weights{};
  // The instance gets one TTL check, "service:<ID>", that turns critical unless a heartbeat
  // arrives within this long. 0: no check (the instance is always passing).
  Duration ttl = std::chrono::seconds(10);
  // Deregister after the check has been critical this long. 0: the registry's default.
  Duration deregister_critical_after = Duration::zero();

  // id, or name when id is empty.
  std::string InstanceId() const;
  // "service:<InstanceId()>", the ID the registry gives the TTL check.
  std::string CheckId() const;
};

enum class HealthStatus { kPassing, kWarning, kCritical };

// "passing", "warning", "critical".
const char* ToString(HealthStatus status);

// One instance of a service, as a health query answers it.
struct Instance {
  std::string id{};
  std::string service{};
  std::string node{};
  std::string address{};  // the service's address, else its node's
  std::uint16_t port = 0;
  std::vector<std::string> tags{};
  std::map<std::string, std::string> meta{};
  Weights weights{};
  HealthStatus health = HealthStatus::kPassing;  // the worst of its checks

  // "address:port" (IPv6 addresses in brackets).
  std::string Endpoint() const;

  friend bool operator==(const Instance&, const Instance&);
};

struct HealthQuery {
  // Only instances whose checks all pass (warning ones are left out too).
  bool passing_only = true;
  // Only instances that carry every one of these tags.
  std::vector<std::string> tags{};
  // Blocking query: with index > 0, the registry answers when the service's index moves
  // away from `index` or after `wait` (plus up to wait/16 of jitter). 0: answer at once.
  std::uint64_t index = 0;
  Duration wait = std::chrono::minutes(1);
};

struct HealthAnswer {
  std::vector<Instance> instances{};  // sorted by ID, then node
  std::uint64_t index = 0;            // X-Consul-Index, for the next blocking query
  std::string address{};              // the registry address that answered
};

// What changed in a service after an index (Client::Delta). Concierge's own endpoint, not
// Consul's: GET /v1/concierge/delta/service/<name>.
struct DeltaQuery {
  // Changes after this index (a HealthAnswer's or a ServiceDelta's). Blocking: the registry
  // answers when the service's index moves away from it, or after `wait` (plus up to wait/16).
  std::uint64_t index = 0;
  Duration wait = std::chrono::minutes(1);
};

struct ServiceDelta {
  std::uint64_t index = 0;  // for the next query
  // The registry does not know what changed after the index asked (too old for the changes
  // it keeps, ahead of it, or 0): read the whole service again with Health().
  bool resync = false;
  // Every instance whose record changed, whatever its health and tags, sorted by ID.
  std::vector<Instance> changed{};
  std::vector<std::string> removed{};  // IDs of instances that went, sorted
  std::string address{};               // the registry address that answered
};

struct ClientOptions {
  // Registry HTTP addresses, "host:port" (no scheme), tried in this order. At least one.
  std::vector<std::string> addresses = {"127.0.0.1:8500"};
  // Bounds resolving plus connecting to one address.
  Duration connect_timeout = std::chrono::seconds(2);
  // Bounds one request to one address (blocking queries get their wait on top).
  Duration request_timeout = std::chrono::seconds(10);
  // HTTPS to every address (see concierge/tls.h). Open fails if the files cannot be used.
  TlsOptions tls{};
  // ACL token (SecretID) sent with every request (X-Consul-Token); empty: the anonymous token.
  std::string token{};
};

class Client {
 public:
  // Checks every address (InvalidArgument names the bad one); connects lazily.
  static Result<std::unique_ptr<Client>> Open(ClientOptions options);

  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  // Aborts calls in progress, which return Unavailable.
  ~Client();

  // Registers (or re-registers, replacing) an instance. A TTL check starts critical until
  // the first heartbeat. InvalidArgument if the registry refused the definition.
  Status Register(const ServiceRegistration& registration);

  // Removes an instance. Ok if it was not registered (the registry answers either way).
  Status Deregister(std::string_view instance_id);

  // Reports a TTL check's status (a heartbeat); `note` becomes the check's output.
  // NotFound if the registry does not know the check, e.g. because it forgot the instance
  // (restored from an old snapshot, or deregistered it after a long silence).
  Status UpdateCheck(std::string_view check_id, HealthStatus status, std::string_view note = {});

  // The instances of `service` (GET /v1/health/service/<service>). An unknown service is an
  // empty list, not an error.
  Result<HealthAnswer> Health(std::string_view service, const HealthQuery& query = {});

  // What changed in `service` after query.index, so that a watcher of a big service does
  // not read all of it again when one instance changes. NotFound when the registry does not
  // serve it (Consul, or a Concierge before 0.x): ask Health() instead.
  Result<ServiceDelta> Delta(std::string_view service, const DeltaQuery& query);

  // Aborts the calls in progress and makes every later call fail with Unavailable.
  // Permanent; any thread.
  void Shutdown();

  const ClientOptions& options() const;

  // The address the next request goes to first (the last one that answered).
  std::string preferred_address() const;

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace concierge
