// The decisions of active (HTTP, TCP) checks, without sockets or clocks, so that they are
// unit-tested directly: what an HTTP status means, when a run of results changes the status
// (SuccessBeforePassing / FailuresBeforeCritical), when a check first runs, and its output.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/model.h"
#include "core/status.h"

namespace concierge::server {

// -check-allowed-networks: the networks HTTP, TCP, UDP, GRPC and H2PING checks may connect to, as
// CIDR blocks
// ("10.0.0.0/8", "fd00::/8", "127.0.0.1/32"). Empty allows every address (Consul's
// behaviour). An IPv4-mapped IPv6 address counts as its IPv4 address.
class NetworkAllowList {
 public:
  // "CIDR,CIDR,..." (spaces allowed); the error names the block that is wrong.
  static Result<NetworkAllowList> Parse(std::string_view text);
  bool empty() const { return blocks_.empty(); }
  bool Allows(const boost::asio::ip::address& address) const;
  std::string ToString() const;  // as given, normalised: "10.0.0.0/8,fd00::/8"

 private:
  struct Block {
    boost::asio::ip::address base;
    unsigned prefix;
  };
  std::vector<Block> blocks_;
};

// As Consul: 2xx is passing, 429 Too Many Requests is warning, anything else is critical.
core::HealthStatus StatusOfHttpCode(int code);

// Holds a status change back until enough consecutive results agree, as Consul's
// StatusHandler does: passing and warning results count as successes, critical ones as
// failures; a change is reported after `success_before_passing` successes or
// `failures_before_critical` failures in a row (0 and 1 both mean the first).
class FlapFilter {
 public:
  FlapFilter(std::uint32_t success_before_passing, std::uint32_t failures_before_critical)
      : success_before_passing_(success_before_passing),
        failures_before_critical_(failures_before_critical) {}
  // The status to report after this result, or nullopt while the run is too short.
  std::optional<core::HealthStatus> Observe(core::HealthStatus result);
  void Reset() { successes_ = failures_ = 0; }

 private:
  std::uint32_t success_before_passing_;
  std::uint32_t failures_before_critical_;
  std::uint32_t successes_ = 0;
  std::uint32_t failures_ = 0;
};

// When a check first runs after the runner starts it: an offset in [0, interval) taken from a
// hash of its ID, so that a thousand checks registered (or taken over by a new leader) at once
// spread over the interval instead of running together, and a check keeps its slot.
core::Duration FirstRunOffset(std::string_view check_id, core::Duration interval);

// Consul's output lines, cut to `max_bytes`:
// "HTTP GET http://10.0.0.1/health: 200 OK Output: <body>".
std::string HttpCheckOutput(std::string_view method, std::string_view url, int code,
                            std::string_view reason, std::string_view body, std::size_t max_bytes);
// "HTTP GET http://10.0.0.1/health: <error>" (no response).
std::string HttpCheckError(std::string_view method, std::string_view url, std::string_view error,
                           std::size_t max_bytes);
// "TCP connect 10.0.0.1:5432: Success", or "dial tcp 10.0.0.1:5432: <error>".
std::string TcpCheckOutput(std::string_view address, std::string_view error, std::size_t max_bytes);

// "UDP connect 10.0.0.1:53: Success" (a reply, or no error within the timeout), or
// "dial udp 10.0.0.1:53: <error>".
std::string UdpCheckOutput(std::string_view address, std::string_view error, std::size_t max_bytes);

// As Consul's script checks: exit code 0 is passing, 1 is warning, anything else critical.
core::HealthStatus StatusOfExitCode(int code);

// A systemd unit's state as `systemctl is-active` prints it: "active" is passing (and
// "reloading", which is still serving), anything else critical.
core::HealthStatus StatusOfUnitState(std::string_view state);

}  // namespace concierge::server
