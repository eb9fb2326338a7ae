// The agent's DNS flags and server start-up, kept out of agent.cc so that wiring DNS in is
// two short blocks there.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "core/status.h"
#include "dns/server.h"
#include "server/registry.h"

namespace concierge::cli {

struct DnsFlags {
  int port = 8600;  // 0 picks a free port, -1 disables DNS
  std::string domain = "consul.";
  std::string ttl = "0s";
  bool refuse_outside = true;
  // Chosen with -dns-port or in a config file: a taken port is then an error, while the
  // default one is skipped with a warning.
  bool port_given = false;
};

// -dns-port, -domain, -dns-ttl, -dns-refuse-outside.
void AddDnsFlags(CLI::App& app, DnsFlags* flags);

struct DnsNode {
  std::string name;
  std::string address;  // an IP address
  std::string datacenter;
};

// Starts the DNS server on `host` unless -dns-port is -1 (then returns null), and logs the
// address it listens on. When the default port is taken (another agent on this host), DNS is
// left off with a warning; a port given with -dns-port must be free. With `acl`, answers
// follow the anonymous token's rights.
Result<std::unique_ptr<dns::Server>> StartDns(const DnsFlags& flags, const std::string& host,
                                              const DnsNode& node, int workers,
                                              const server::Registry& registry, bool acl);

}  // namespace concierge::cli
