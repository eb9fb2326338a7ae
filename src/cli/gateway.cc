#include "cli/gateway.h"

#include <pthread.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <tuple>

#include "cli/args.h"
#include "cli/security_flags.h"
#include "concierge/client.h"
#include "core/time.h"
#include "gateway/gateway.h"
#include "gateway/routes.h"

namespace concierge::cli {
namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

int Usage(const std::string& message) {
  std::cerr << "gateway: " << message << "\nRun with --help for more information.\n";
  return kExitUsage;
}

Result<Policy> ParsePolicy(const std::string& text) {
  if (text == "round-robin") return Policy::kRoundRobin;
  if (text == "weighted") return Policy::kWeighted;
  if (text == "p2c") return Policy::kPowerOfTwoChoices;
  if (text == "random") return Policy::kRandom;
  return Status::InvalidArgument("-policy: expected round-robin, weighted, p2c or random, got \"" +
                                 text + "\"");
}

}  // namespace

int RunGateway(const std::vector<std::string>& args) {
  CLI::App app{
      "Forward HTTP requests (by path prefix or Host) and TCP connections to healthy "
      "instances of services, as the registry reports them.",
      "concierge gateway"};
  std::string addresses = "127.0.0.1:8500";
  gateway::GatewayOptions options;
  std::vector<std::string> path_routes, host_routes, tcp_routes;
  std::string policy = "round-robin";
  std::string connect_timeout = "2s", timeout = "30s", client_timeout = "60s", eject = "10s";
  app.add_option("--http-addr", addresses,
                 "Registry address host:port; a comma-separated list for a cluster")
      ->envname("CONCIERGE_HTTP_ADDR")
      ->capture_default_str();
  std::string token;
  app.add_option("--token", token,
                 "ACL token (SecretID); also CONCIERGE_HTTP_TOKEN or CONSUL_HTTP_TOKEN")
      ->envname("CONCIERGE_HTTP_TOKEN");
  app.add_option("--listen", options.listen, "HTTP listen address host:port (port 0: any)")
      ->capture_default_str();
  app.add_option("--route", path_routes, "PREFIX=SERVICE[:TAG], e.g. /api/=web (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--route-host", host_routes,
                 "HOST=SERVICE[:TAG], e.g. shop.example=shop (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--route-tcp", tcp_routes,
                 "LISTEN=SERVICE[:TAG], e.g. 127.0.0.1:9000=db: a TCP proxy (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--policy", policy, "round-robin, weighted, p2c or random")->capture_default_str();
  app.add_option("--workers", options.workers, "Proxy threads")->capture_default_str();
  app.add_option("--attempts", options.attempts,
                 "Instances tried per idempotent request or TCP connection")
      ->capture_default_str();
  app.add_option("--connect-timeout", connect_timeout, "Connecting to an instance")
      ->capture_default_str();
  app.add_option("--timeout", timeout, "Sending a request to an instance and reading its answer")
      ->capture_default_str();
  app.add_option("--client-timeout", client_timeout, "Reading a request; idle keep-alive")
      ->capture_default_str();
  app.add_option("--eject", eject, "How long an instance that failed is left out at first")
      ->capture_default_str();
  // HTTPS to the registry (-ca-file, ...) and on the listener (-tls-cert-file, ...).
  ClientTlsFlags registry_tls;
  AddClientTlsFlags(&app, &registry_tls);
  tls::ServerFiles listener_tls;
  AddServerTlsFlags(app, &listener_tls);

  std::vector<const char*> argv;
  argv.push_back("concierge gateway");
  for (std::size_t i = 2; i < args.size(); ++i) argv.push_back(args[i].c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }

  gateway::RouteTable routes;
  for (auto [kind, specs] : {std::pair{gateway::RouteKind::kPath, &path_routes},
                             std::pair{gateway::RouteKind::kHost, &host_routes},
                             std::pair{gateway::RouteKind::kTcp, &tcp_routes}}) {
    for (const std::string& spec : *specs) {
      Result<gateway::Route> route = gateway::ParseRoute(kind, spec);
      if (!route.ok()) return Usage(route.status().message());
      Status added = routes.Add(std::move(route).value());
      if (!added.ok()) return Usage(added.message());
    }
  }
  if (routes.routes().empty()) {
    return Usage("no routes: give at least one -route, -route-host or -route-tcp");
  }
  Result<Policy> parsed_policy = ParsePolicy(policy);
  if (!parsed_policy.ok()) return Usage(parsed_policy.status().message());
  options.policy = *parsed_policy;
  if (options.workers < 1) return Usage("-workers: expected at least 1");
  if (options.attempts < 1) return Usage("-attempts: expected at least 1");
  for (auto [flag, text, out] :
       {std::tuple{"-connect-timeout", &connect_timeout, &options.connect_timeout},
        std::tuple{"-timeout", &timeout, &options.upstream_timeout},
        std::tuple{"-client-timeout", &client_timeout, &options.client_timeout},
        std::tuple{"-eject", &eject, &options.ejection}}) {
    Result<Duration> d = ParseFlagDuration(flag, *text);
    if (!d.ok()) return Usage(d.status().message());
    *out = *d;
  }

  if (Status st = listener_tls.Check("-tls-"); !st.ok()) return Usage(st.message());
  if (listener_tls.enabled()) {
    auto ctx = tls::ServerContext(listener_tls);
    if (!ctx.ok()) return Usage(ctx.status().message());
    options.tls = std::move(ctx).value();
  }
  TlsOptions tls = ResolveClientTls(registry_tls, &addresses);
  Result<std::unique_ptr<Client>> client = Client::Open(
      {.addresses = SplitAddresses(addresses), .tls = tls, .token = TokenFromEnv(token)});
  if (!client.ok()) return Usage("-http-addr: " + client.status().message());

  spdlog::set_default_logger(spdlog::stderr_color_mt("concierge"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  // Signals are taken by sigwait below; every thread started after this inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  gateway::Gateway gw(std::move(client).value(), std::move(routes), options);
  Status started = gw.Start();
  if (!started.ok()) {
    std::cerr << "gateway: " << started.message() << "\n";
    return kExitFailed;
  }
  if (gw.http_port() != 0) {
    std::string host = options.listen.substr(0, options.listen.rfind(':'));
    std::cerr << "Gateway listening on " << (options.tls ? "https://" : "http://") << host << ":"
              << gw.http_port() << std::endl;
  }
  for (const std::string& where : gw.tcp_listeners()) {
    std::cerr << "Gateway TCP listening on " << where << std::endl;
  }
  int signal = 0;
  sigwait(&signals, &signal);
  std::cerr << "gateway: stopping on " << (signal == SIGINT ? "SIGINT" : "SIGTERM") << std::endl;
  gw.Stop();
  return 0;
}

}  // namespace concierge::cli
