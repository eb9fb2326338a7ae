#include "cli/dns_agent.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "core/time.h"

namespace concierge::cli {

void AddDnsFlags(CLI::App& app, DnsFlags* flags) {
  // Recorded as the flags are parsed: the app (and its options) do not outlive the parse.
  app.add_option_function<int>(
      "--dns-port",
      [flags](int port) {
        flags->port = port;
        flags->port_given = true;
      },
      "DNS port, UDP and TCP, on the -http-addr host (0 picks one, -1 disables)");
  app.add_option("--domain", flags->domain, "DNS domain served (default consul.)");
  app.add_option("--dns-ttl", flags->ttl, "TTL of DNS answers and negative answers, e.g. 10s");
  app.add_option("--dns-refuse-outside", flags->refuse_outside,
                 "Answer names outside the domain with REFUSED (true) or SERVFAIL (false)");
}

Result<std::unique_ptr<dns::Server>> StartDns(const DnsFlags& flags, const std::string& host,
                                              const DnsNode& node, int workers,
                                              const server::Registry& registry, bool acl) {
  if (flags.port == -1) return std::unique_ptr<dns::Server>();
  if (flags.port < -1 || flags.port > 65535) {
    return Status::InvalidArgument("-dns-port: expected 0..65535, or -1 to disable DNS, got " +
                                   std::to_string(flags.port));
  }
  auto ttl = core::ParseDuration(flags.ttl);
  if (!ttl.ok()) return Status::InvalidArgument("-dns-ttl: " + ttl.status().message());
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(*ttl).count();
  if (seconds < 0 || seconds > 0x7FFFFFFF) {
    return Status::InvalidArgument("-dns-ttl: expected 0s to 68 years, got \"" + flags.ttl + "\"");
  }
  dns::AnswerOptions answer_options;
  answer_options.domain = flags.domain;
  answer_options.datacenter = node.datacenter;
  answer_options.node_name = node.name;
  answer_options.node_address = node.address;
  answer_options.ttl = static_cast<std::uint32_t>(seconds);
  answer_options.refuse_outside = flags.refuse_outside;
  auto answerer = dns::Answerer::Create(answer_options);
  if (!answerer.ok()) return answerer.status();

  dns::ServerOptions options;
  options.host = host;
  options.port = static_cast<std::uint16_t>(flags.port);
  options.workers = workers;
  options.acl = acl;
  options.acl_node = node.name;
  auto server = std::make_unique<dns::Server>(options, std::move(*answerer), registry);
  if (auto st = server->Listen(); !st.ok()) {
    if (flags.port_given) return st;
    spdlog::warn("DNS is off: {} (pass -dns-port to choose another port)", st.message());
    return std::unique_ptr<dns::Server>();
  }
  server->Start();
  spdlog::info("DNS listening on {}:{} (udp+tcp), domain {}", host, server->port(),
               answer_options.domain);
  return server;
}

}  // namespace concierge::cli
