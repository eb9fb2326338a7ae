// `concierge agent`: wires the registry, its state thread and the HTTP API, and runs them in
// the foreground until SIGINT or SIGTERM. SIGHUP reloads the config file's log level and
// services, and the HTTPS certificate (docs/configuration.md, "Reloading").
#include "cli/agent.h"

#include <malloc.h>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <thread>
#include <functional>
#include <future>
#include <set>

#include "cli/agent_config.h"
#include "http/consul_api.h"
#include "http/server.h"
#include "cluster/cluster_api.h"
#include "cluster/joiner.h"
#include "cluster/members.h"
#include "raft/raft_log.h"
#include "server/check_runner.h"
#include "server/log_monitor.h"
#include "server/registry.h"
#include "server/state_loop.h"
#include "server/watch_hub.h"

namespace concierge::cli {

namespace {

std::string Hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "concierge";
  return buf;
}

Result<std::pair<std::string, std::uint16_t>> SplitHostPort(const std::string& addr) {
  std::size_t colon = addr.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Status::InvalidArgument("-http-addr: expected host:port like 127.0.0.1:8500, got \"" +
                                   addr + "\"");
  }
  std::string host = addr.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host == "localhost") host = "127.0.0.1";
  int port = -1;
  try {
    std::size_t used = 0;
    port = std::stoi(addr.substr(colon + 1), &used);
    if (used != addr.size() - colon - 1) port = -1;
  } catch (const std::exception&) {
    port = -1;
  }
  if (port < 0 || port > 65535) {
    return Status::InvalidArgument("-http-addr: port must be 0..65535, got \"" + addr + "\"");
  }
  return std::pair{host, static_cast<std::uint16_t>(port)};
}

// The agent logs to stderr at -log-level, and to `concierge monitor` readers at the level
// each asks for (server::LogMonitor sets the logger to the lower of the two).
struct Logging {
  std::shared_ptr<spdlog::sinks::stderr_color_sink_mt> stderr_sink;
  std::shared_ptr<server::LogMonitor> monitor;
};

Status SetLogLevel(const Logging& logging, const std::string& name) {
  auto level = spdlog::level::from_str(name);
  if (level == spdlog::level::off && name != "off") {
    return Status::InvalidArgument(
        "-log-level: expected trace, debug, info, warn or error, got \"" + name + "\"");
  }
  logging.stderr_sink->set_level(level);
  logging.monitor->SetBaseLevel(level);
  return Status::Ok();
}

// Registers the services of the config file and deregisters those that a reload removed.
// Writes go through the state thread like any other; while Raft elects a leader (a few
// milliseconds after start) they are retried.
void ApplyConfigServices(server::StateLoop& state, const server::Registry& registry,
                         const std::vector<core::RegisterService>& services,
                         const std::string& default_address, std::set<std::string>* owned) {
  auto submit = [&state](core::Command command) {
    for (int attempt = 0;; ++attempt) {
      Result<core::Index> r = state.SubmitAndWait(command);
      if (r.ok() || r.status().code() != Status::Code::kUnavailable || attempt == 100) {
        return r;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  };
  std::set<std::string> now;
  for (core::RegisterService reg : services) {
    if (reg.service.address.empty()) reg.service.address = default_address;
    now.insert(reg.service.id.str());
    std::string id = reg.service.id.str();
    if (auto r = submit(std::move(reg)); !r.ok()) {
      spdlog::error("config: service {} not registered: {}", id, r.status().message());
    }
  }
  for (const std::string& id : *owned) {
    if (!now.contains(id) && registry.Instance(id) != nullptr) {
      if (auto r = submit(core::DeregisterService{id, {}}); !r.ok()) {
        spdlog::error("config: service {} not deregistered: {}", id, r.status().message());
      }
    }
  }
  *owned = std::move(now);
}

// SIGHUP: connections accepted from now on get the certificate, key and CA of `now`; open
// ones keep theirs. Turning HTTPS on or off needs a restart (the port speaks one protocol).
void ReloadTls(http::Server& server, const tls::ServerFiles& started,
               const tls::ServerFiles& now) {
  if (started.enabled() != now.enabled()) {
    spdlog::warn("reload: turning HTTPS {} takes effect when the agent restarts",
                 now.enabled() ? "on" : "off");
    return;
  }
  if (!now.enabled()) return;
  if (auto st = now.Check("-tls-"); !st.ok()) {
    spdlog::error("reload: keeping the current certificate: {}", st.message());
    return;
  }
  auto ctx = tls::ServerContext(now);
  if (!ctx.ok()) {
    spdlog::error("reload: keeping the current certificate: {}", ctx.status().message());
    return;
  }
  server.SetTls(std::move(ctx).value());
  spdlog::info("reload: HTTPS certificate {} loaded for new connections", now.cert_file);
}

// Holds an exclusive lock on the data directory, so that two agents never share one.
class DataDirLock {
 public:
  Status Acquire(const std::string& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status::Unavailable("cannot create data directory " + dir + ": " + ec.message());
    std::string path = dir + "/LOCK";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return Status::Unavailable("cannot open " + path + ": " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      return Status::Unavailable("data directory " + dir +
                                 " is in use by another agent (pass -data-dir to use another)");
    }
    return Status::Ok();
  }
  ~DataDirLock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  int fd_ = -1;
};

}  // namespace

int RunAgent(int argc, char** argv) {
  // A fixed mmap threshold: glibc otherwise raises it to the size of the largest block freed
  // (a snapshot: 150 bytes per instance), and with it the amount of freed heap it keeps
  // instead of returning (2x that). Measured: RSS per instance 1,346 -> 935 B at 100k.
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  AgentConfig config;
  CLI::App app{"Runs a Concierge agent (registry server) in the foreground.", "concierge agent"};
  AddAgentFlags(app, &config);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;  // bad flags exit 2, as every other command does
  }

  Logging logging{std::make_shared<spdlog::sinks::stderr_color_sink_mt>(),
                  std::make_shared<server::LogMonitor>()};
  auto logger = std::make_shared<spdlog::logger>(
      "concierge", spdlog::sinks_init_list{logging.stderr_sink, logging.monitor});
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  logging.monitor->Attach(logger, spdlog::level::info);

  // A reload starts again from the flags and the defaults, so that a key removed from the
  // file goes back to its default.
  const std::set<std::string> from_flags = FlagsGiven(app);
  const AgentConfig base = config;
  auto fail = [](const Status& st) {
    spdlog::error("{}", st.message());
    return 1;
  };
  if (!config.config_file.empty()) {
    if (auto st = ReadConfigFile(config.config_file, from_flags, &config); !st.ok()) {
      return fail(st);
    }
  }
  // What a reload compares with, to warn of changes that need a restart.
  const AgentConfig started = config;
  if (auto st = SetLogLevel(logging, config.log_level); !st.ok()) return fail(st);
  auto addr = SplitHostPort(config.http_addr);
  if (!addr.ok()) return fail(addr.status());
  auto grace = core::ParseDuration(config.deregister_critical_after);
  if (!grace.ok()) {
    return fail(Status::InvalidArgument("-deregister-critical-after: " + grace.status().message()));
  }
  if (config.node.empty()) config.node = Hostname();
  // HTTPS and the cluster key (docs/clustering.md, "Security").
  const tls::ServerFiles& tls_files = config.tls;
  if (auto st = tls_files.Check("-tls-"); !st.ok()) return fail(st);
  http::ServerOptions server_options = config.server;
  http::ApiOptions api_options = config.api;
  cluster::PeerSecurity security;
  if (tls_files.enabled()) {
    auto ctx = tls::ServerContext(tls_files);
    if (!ctx.ok()) return fail(ctx.status());
    server_options.tls = std::move(ctx).value();
    // To other servers, this server shows its own certificate and checks theirs.
    security.tls.options = {.enabled = true, .ca_file = tls_files.ca_file,
                            .cert_file = tls_files.cert_file, .key_file = tls_files.key_file};
    auto client_ctx = tls::ClientContext(security.tls.options);
    if (!client_ctx.ok()) return fail(client_ctx.status());
    security.tls.context = std::move(client_ctx).value();
  }
  auto cluster_key = LoadClusterKey(config.cluster_key);
  if (!cluster_key.ok()) return fail(cluster_key.status());
  security.key = *cluster_key;

  server::RealClock clock;
  server::WatchHub hub;
  if (config.acl_default_policy.empty()) config.acl_default_policy = config.dev ? "allow" : "deny";
  if (config.acl_default_policy != "allow" && config.acl_default_policy != "deny") {
    return fail(Status::InvalidArgument("-acl-default-policy: expected allow or deny, got \"" +
                                        config.acl_default_policy + "\""));
  }
  server::RegistryOptions registry_options{*grace};
  registry_options.acl_default_allow = config.acl_default_policy == "allow";
  registry_options.self_preservation_threshold = config.self_preservation;
  if (auto window = core::ParseDuration(config.self_preservation_window); window.ok()) {
    registry_options.self_preservation_window = *window;
  } else {
    return fail(
        Status::InvalidArgument("-self-preservation-window: " + window.status().message()));
  }
  server::Registry registry(clock, registry_options, &hub);
  server::StateLoop state(registry);
  // HTTP and TCP checks run on their own event loop thread, on the leader; their results go
  // through the registry's proposer on the state thread, like TTL expiries. Told of the
  // catalog's checks before the state thread starts (and replays the log).
  server::CheckRunner check_runner([&state, &registry](core::UpdateCheck update) {
    state.Post([&registry, update = std::move(update)]() mutable {
      registry.Propose(std::move(update));
    });
  });
  registry.set_active_checks(&check_runner);

  // Durable by default: a single-voter Raft log in the data directory. -dev keeps everything
  // in memory.
  const std::string node_address =
      addr->first == "0.0.0.0" || addr->first == "::" ? "127.0.0.1" : addr->first;
  const bool clustered = config.bootstrap_expect > 1 || !config.join.empty();
  if (config.dev && clustered) {
    return fail(Status::InvalidArgument("-dev runs in memory on one server; drop -join and "
                                        "-bootstrap-expect, or drop -dev"));
  }
  if (clustered && (config.server_port == 0 || addr->second == 0)) {
    return fail(Status::InvalidArgument(
        "a cluster needs fixed ports: give -http-addr and -server-port real port numbers"));
  }
  DataDirLock lock;
  std::unique_ptr<raft::RaftLog> raft_log;
  raft::RaftOptions raft_options;
  bool raft_has_data = false;
  if (!config.dev) {
    if (auto st = lock.Acquire(config.data_dir); !st.ok()) return fail(st);
    raft_options.dir = config.data_dir + "/raft";
    raft_options.address = node_address + ":" + std::to_string(config.server_port);
    raft_options.id = cluster::RaftId(raft_options.address);
    raft_options.cluster_key = security.key;
    raft_has_data = std::filesystem::exists(raft_options.dir + "/metadata1") ||
                    std::filesystem::exists(raft_options.dir + "/metadata2");
    raft_log = std::make_unique<raft::RaftLog>(state.loop(), registry, raft_options);
    raft_log->set_after_apply([&state] { state.ArmTimer(); });
    state.set_log(raft_log.get());
    if (!clustered || raft_has_data) {
      // A single server bootstraps itself; a server with a log just restarts.
      if (!raft_has_data) raft_options.bootstrap = {{raft_options.id, raft_options.address}};
      raft::RaftOptions start_options = raft_options;
      if (auto st = raft_log->Start(start_options); !st.ok()) return fail(st);
    }
  }

  api_options.node = {std::to_string(std::hash<std::string>{}(config.node)), config.node,
                      node_address, config.datacenter};
  api_options.version = CONCIERGE_VERSION;
  api_options.monitor = logging.monitor.get();
  api_options.acl_enabled = config.acl_enabled;
  if (raft_log) api_options.cluster = [log = raft_log.get()] { return log->Cluster(); };
  std::unique_ptr<cluster::Members> members;
  std::unique_ptr<cluster::ClusterApi> cluster_api;
  const std::string members_path = config.data_dir + "/members.json";
  if (raft_log) {
    members = std::make_unique<cluster::Members>(cluster::Member{
        config.node, raft_options.address, node_address + ":" + std::to_string(addr->second)});
    members->Load(members_path);  // absent on a new server
    cluster_api =
        std::make_unique<cluster::ClusterApi>(*members, *raft_log, state, members_path);
    cluster_api->set_security(security);
    api_options.intercept = [c = cluster_api.get()](http::Request& req) {
      return c->Intercept(req);
    };
  }
  http::ConsulApi api(registry, state, hub, api_options);
  server_options.host = addr->first;
  server_options.port = addr->second;
  server_options.workers = config.workers;
  http::Server http_server(server_options, [&api](http::Request& req) { return api.Handle(req); });
  if (auto st = http_server.Listen(); !st.ok()) return fail(st);
  api.set_http_address(node_address + ":" + std::to_string(http_server.port()));
  // DNS (docs/dns.md) on the HTTP API's host; stopped by its destructor, before the registry's.
  auto dns_server = StartDns(config.dns, addr->first, {config.node, node_address, config.datacenter},
                             config.workers, registry, config.acl_enabled);
  if (!dns_server.ok()) return fail(dns_server.status());

  // Signals are caught from here on, so a SIGTERM right after start still stops cleanly.
  boost::asio::io_context signals_ctx(1);
  boost::asio::signal_set signals(signals_ctx, SIGINT, SIGTERM, SIGHUP);

  check_runner.Start();
  state.Start();
  std::set<std::string> config_services;
  std::unique_ptr<cluster::Joiner> joiner;
  std::thread config_thread;
  if (clustered) {
    if (members) members->Save(members_path);
    cluster::JoinOptions join_options{config.join, config.bootstrap_expect, members_path};
    joiner = std::make_unique<cluster::Joiner>(
        *members, *raft_log, join_options, [&](std::vector<raft::Peer> bootstrap) {
          raft::RaftOptions start_options = raft_options;
          start_options.bootstrap = std::move(bootstrap);
          state.Post([&raft_log, start_options] {
            if (auto st = raft_log->Start(start_options); !st.ok()) {
              spdlog::error("cluster: cannot start Raft: {}", st.message());
            }
          });
        });
    joiner->set_security(security);
    joiner->Start(raft_has_data);
    // The services of the config file wait for the cluster to have a leader.
    config_thread = std::thread([&] {
      ApplyConfigServices(state, registry, config.services, node_address, &config_services);
    });
  } else {
    // Registered before the API answers, so a client never sees the agent without them.
    ApplyConfigServices(state, registry, config.services, node_address, &config_services);
  }
  http_server.Start();
  spdlog::info("concierge agent {}: node {}, datacenter {}, {}", CONCIERGE_VERSION, config.node,
               config.datacenter,
               config.dev ? "dev mode (in memory, nothing written to disk)"
                          : "data in " + config.data_dir + ", Raft on " + addr->first + ":" +
                                std::to_string(config.server_port));
  spdlog::info("HTTP API listening on {}://{}:{}", server_options.tls ? "https" : "http",
               addr->first, http_server.port());
  if (config.acl_enabled) {
    spdlog::info("ACLs enabled, default policy {}{}", config.acl_default_policy,
                 registry.Acl().state->bootstrap_index() == 0
                     ? "; not bootstrapped yet: run `concierge acl bootstrap`"
                     : "");
  }

  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (sig != SIGHUP) {
          spdlog::info("received {}, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
          return;  // run() returns: nothing more is waiting
        }
        spdlog::info("received SIGHUP, reloading {}",
                     config.config_file.empty() ? "(no config file)" : config.config_file);
        AgentConfig fresh = base;
        if (!config.config_file.empty()) {
          if (auto st = ReadConfigFile(config.config_file, from_flags, &fresh); !st.ok()) {
            spdlog::error("reload failed, keeping the running config: {}", st.message());
            signals.async_wait(on_signal);
            return;
          }
          for (const std::string& key : ChangedRestartKeys(started, fresh)) {
            spdlog::warn("reload: {} changed; it takes effect when the agent restarts", key);
          }
          if (auto lv = SetLogLevel(logging, fresh.log_level); !lv.ok()) {
            spdlog::error("reload: {}", lv.message());
          }
          ApplyConfigServices(state, registry, fresh.services, node_address, &config_services);
        }
        // The certificate files are read again even when their names did not change: that
        // is how a renewed certificate is put in place.
        ReloadTls(http_server, started.tls, fresh.tls);
        signals.async_wait(on_signal);
      };
  signals.async_wait(on_signal);
  signals_ctx.run();

  if (config_thread.joinable()) config_thread.join();
  if (joiner) joiner->Stop();
  if (raft_log) {
    // A leader hands over before it goes, so the others need not wait for an election.
    std::promise<void> handed_over;
    state.Post([&] { raft_log->TransferLeadership([&](Status) { handed_over.set_value(); }); });
    handed_over.get_future().wait_for(std::chrono::seconds(3));
  }
  http_server.Stop();
  // Before the state thread: the runner posts its results there.
  check_runner.Stop();
  state.Stop();
  registry.set_active_checks(nullptr);
  spdlog::info("stopped");
  return 0;
}

}  // namespace concierge::cli
