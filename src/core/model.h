// The catalog's data: services (instances), their checks, and health statuses.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
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
// (Members are ordered for size, not meaning: this is part of every instance record.)
struct ServiceDefinition {
  Text id;        // unique in the catalog; defaults to name
  Symbol name;    // the service it is an instance of
  TagList tags;   // interned: instances with the same tags share them (core/interned_list.h)
  Text address;   // set by the server from the client's address when empty
  MetaList meta;  // sorted by key, keys unique; interned like the tags
  Weights weights;
  std::uint16_t port = 0;
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
// a probe that the leader makes every Interval (HTTP, TCP, UDP, a script, gRPC, an HTTP/2
// ping, a systemd unit's state: active checks), or another instance's health (alias).
// The values are part of the Raft encoding (core/codec.cc): never renumber them.
enum class CheckKind : std::uint8_t {
  kTtl = 0,
  kHttp = 1,
  kTcp = 2,
  kUdp = 3,
  kScript = 4,
  kAlias = 5,
  kGrpc = 6,
  kH2Ping = 7,
  kOsService = 8,
};
inline constexpr CheckKind kLastCheckKind = CheckKind::kOsService;
// Consul's Type: "ttl", "http", "tcp", "udp", "script", "alias", "grpc", "h2ping", "os_service".
std::string_view ToString(CheckKind kind);

// An active check's target and schedule (docs/health.md "Active checks").
struct ActiveCheck {
  // kHttp: an "http://host[:port]/path?query" URL; kTcp, kUdp, kH2Ping: "host:port"; kGrpc:
  // "host:port[/service]"; kAlias: the aliased service ID (may be empty with alias_node);
  // kOsService: the systemd unit; kScript: empty (the command is `args`).
  std::string target;
  std::string method = "GET";                                // kHttp
  std::vector<std::pair<std::string, std::string>> headers;  // kHttp; in order, may repeat
  std::string body;                                          // kHttp
  Duration interval{0};
  Duration timeout{0};
  // Consecutive results needed before the status changes (0 and 1 both mean at once).
  std::uint32_t success_before_passing = 0;
  std::uint32_t failures_before_critical = 0;
  std::vector<std::string> args;  // kScript: the program and its arguments
  std::string alias_node;         // kAlias: AliasNode
  bool use_tls = false;           // kGrpc: GRPCUseTLS; kH2Ping: H2PingUseTLS
  bool tls_skip_verify = false;   // kGrpc, kH2Ping (and accepted, unused, on kHttp)
  bool operator==(const ActiveCheck&) const = default;
};
// The kinds that the check runner probes every Interval (all but TTL and alias checks).
inline bool IsProbed(CheckKind kind) {
  return kind != CheckKind::kTtl && kind != CheckKind::kAlias;
}

// An immutable T shared by reference count through one pointer (a std::shared_ptr is two):
// what a record pays for a field that few records use.
template <typename T>
class SharedConst {
 public:
  SharedConst() noexcept = default;
  SharedConst(std::nullptr_t) noexcept {}  // NOLINT: implicit, like a pointer
  explicit SharedConst(T value) : holder_(new Holder{{1}, std::move(value)}) {}
  SharedConst(const SharedConst& other) noexcept : holder_(other.holder_) {
    if (holder_ != nullptr) holder_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  SharedConst(SharedConst&& other) noexcept : holder_(std::exchange(other.holder_, nullptr)) {}
  SharedConst& operator=(SharedConst other) noexcept {
    std::swap(holder_, other.holder_);
    return *this;
  }
  ~SharedConst() {
    if (holder_ != nullptr && holder_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      delete holder_;
    }
  }

  const T& operator*() const noexcept { return holder_->value; }
  const T* operator->() const noexcept { return &holder_->value; }
  const T* get() const noexcept { return holder_ == nullptr ? nullptr : &holder_->value; }
  explicit operator bool() const noexcept { return holder_ != nullptr; }
  friend bool operator==(const SharedConst& a, const SharedConst& b) noexcept {
    return a.holder_ == b.holder_;
  }
  friend bool operator==(const SharedConst& a, std::nullptr_t) noexcept {
    return a.holder_ == nullptr;
  }

 private:
  struct Holder {
    std::atomic<std::uint32_t> refs;
    T value;
  };
  Holder* holder_ = nullptr;
};

// What a registration says about one check of a service. Maintenance checks are TTL checks
// without a TTL (ttl 0) that never expire.
// (Members are ordered for size, not meaning: this is part of every instance record.)
struct CheckDefinition {
  Text id;  // "service:<ID>" (or ":<n>") when the registration gave none
  Symbol name;
  Symbol notes;
  Duration ttl{0};  // kTtl only
  // kHttp and kTcp only, shared by the copies of a record. Null for TTL checks, which are
  // most checks: they pay one pointer for it, not the settings (memory per instance).
  SharedConst<ActiveCheck> active;
  // Deregister the service once this check has been critical this long; 0 = never.
  Duration deregister_critical_after{0};
  Text initial_output;
  CheckKind kind = CheckKind::kTtl;
  HealthStatus initial_status = HealthStatus::kCritical;
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
// A TCP, UDP or H2PING check's "host:port" ("[::1]:80" for IPv6); `what` names the field
// in errors.
struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};
Result<HostPort> ParseHostPort(std::string_view address, std::string_view what = "TCP");
// A GRPC check's "host:port[/service]": the service asked about (empty: the server as a whole).
struct GrpcTarget {
  HostPort address;
  std::string service;
};
Result<GrpcTarget> ParseGrpcTarget(std::string_view target);

struct Check {
  CheckDefinition definition;
  HealthStatus status = HealthStatus::kCritical;
  Text output;
  Time status_since{};  // when the status last changed (command time)
  Index create_index = 0;
  Index modify_index = 0;

  const Text& id() const { return definition.id; }
};

// An instance's checks, read and built like a std::vector<Check>. Nearly every instance has
// one check (or none), so the first is stored inline, in the record's own allocation; a
// second moves them all to the heap (memory per instance, issue 9).
class CheckList {
 public:
  CheckList() noexcept {}
  CheckList(const CheckList& other) { Append(other.begin(), other.end()); }
  CheckList(CheckList&& other) noexcept { Take(std::move(other)); }
  CheckList& operator=(const CheckList& other) {
    if (this != &other) {
      CheckList copy(other);
      clear();
      Take(std::move(copy));
    }
    return *this;
  }
  CheckList& operator=(CheckList&& other) noexcept {
    if (this != &other) {
      clear();
      Take(std::move(other));
    }
    return *this;
  }
  ~CheckList() { clear(); }

  Check* begin() noexcept { return data(); }
  Check* end() noexcept { return data() + size_; }
  const Check* begin() const noexcept { return data(); }
  const Check* end() const noexcept { return data() + size_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  Check& operator[](std::size_t i) noexcept { return data()[i]; }
  const Check& operator[](std::size_t i) const noexcept { return data()[i]; }

  void push_back(Check check) {
    Reserve(size_ + 1);
    new (data() + size_) Check(std::move(check));
    ++size_;
  }
  // Default-constructs checks up to `n` (n >= size()).
  void resize(std::size_t n) {
    Reserve(n);
    for (; size_ < n; ++size_) new (data() + size_) Check();
  }
  // Removes the checks for which pred(check) is true, keeping the others' order.
  template <typename Pred>
  void erase_if(Pred pred) {
    Check* out = begin();
    for (Check& c : *this) {
      if (pred(std::as_const(c))) continue;
      if (out != &c) *out = std::move(c);
      ++out;
    }
    while (end() != out) {
      --size_;
      end()->~Check();
    }
  }
  void clear() noexcept {
    for (Check& c : *this) c.~Check();
    size_ = 0;
    if (capacity_ > 1) {
      ::operator delete(heap_);
      capacity_ = 1;
    }
  }

 private:
  static_assert(std::is_nothrow_move_constructible_v<Check>);
  Check* data() noexcept { return capacity_ > 1 ? heap_ : &inline_; }
  const Check* data() const noexcept { return capacity_ > 1 ? heap_ : &inline_; }
  void Append(const Check* first, const Check* last) {
    Reserve(size_ + static_cast<std::size_t>(last - first));
    for (; first != last; ++first, ++size_) new (data() + size_) Check(*first);
  }
  // Precondition: this list is empty and inline.
  void Take(CheckList&& other) noexcept {
    if (other.capacity_ > 1) {
      heap_ = other.heap_;
      capacity_ = std::exchange(other.capacity_, 1);
      size_ = std::exchange(other.size_, 0);
    } else if (other.size_ == 1) {
      new (&inline_) Check(std::move(other.inline_));
      size_ = 1;
      other.clear();
    }
  }
  void Reserve(std::size_t n) {
    if (n <= capacity_) return;
    std::size_t capacity = std::max<std::size_t>(n, 2 * capacity_);
    auto* fresh = static_cast<Check*>(::operator new(capacity * sizeof(Check)));
    for (std::uint32_t i = 0; i < size_; ++i) {
      new (fresh + i) Check(std::move(data()[i]));
      data()[i].~Check();
    }
    if (capacity_ > 1) ::operator delete(heap_);
    heap_ = fresh;
    capacity_ = static_cast<std::uint32_t>(capacity);
  }

  union {
    Check inline_;  // capacity_ == 1: the one slot, constructed while size_ == 1
    Check* heap_;   // capacity_ > 1
  };
  std::uint32_t size_ = 0;
  std::uint32_t capacity_ = 1;
};

// One registered service instance and its checks. Immutable once in the catalog: a change
// replaces the whole record, so readers may hold it without locks.
struct Instance {
  ServiceDefinition service;
  CheckList checks;
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
  // TTL, Interval, Timeout, DeregisterCriticalServiceAfter: ten years. Longer ones are a
  // mistake or an attack, and added to a time they would overflow (issue 18).
  static constexpr Duration kMaxDuration = std::chrono::hours(24 * 3650);
  static constexpr Duration kMinCheckInterval = std::chrono::milliseconds(100);
  static constexpr std::size_t kMaxCheckTargetBytes = 2048;
  static constexpr std::size_t kMaxCheckHeaders = 32;
  static constexpr std::size_t kMaxCheckHeaderBytes = 1024;  // name + value
  static constexpr std::size_t kMaxCheckBodyBytes = 4096;
  static constexpr std::size_t kMaxScriptArgs = 64;         // a script check's Args
  static constexpr std::size_t kMaxScriptArgsBytes = 8192;  // all of them together
  static constexpr std::uint32_t kMaxCheckCounter = 1000;   // SuccessBefore.../FailuresBefore...
};

}  // namespace concierge::core
