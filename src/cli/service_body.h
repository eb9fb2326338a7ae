// The body of PUT /v1/agent/service/register, built from `services register` flags.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace concierge::cli {

struct ServiceFlags {
  std::string name;
  std::string id;  // empty: the name, as Consul does (the CLI always sends an ID)
  std::string address;
  std::optional<std::uint16_t> port;
  std::vector<std::string> tags;
  std::vector<std::string> meta;  // "key=value", as typed
  std::string ttl;                // Go-style duration; empty: no check
  std::string deregister_critical_after;
};

// A Consul-style registration, e.g.
//   {"ID":"web-1","Name":"web","Address":"10.0.0.1","Port":8080,"Tags":["v1"],
//    "Meta":{"zone":"a"},"Check":{"TTL":"10s","DeregisterCriticalServiceAfter":"1m"}}
// Fields not given are left out. Fails with InvalidArgument, naming the flag, on an empty
// name, a malformed or repeated -meta, a bad duration, or -deregister-critical-after
// without -ttl.
Result<std::string> BuildServiceBody(const ServiceFlags& flags);

}  // namespace concierge::cli
