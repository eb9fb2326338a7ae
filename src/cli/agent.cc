// `concierge agent`: wires the registry, its state thread and the HTTP API, and runs them in
// the foreground until SIGINT or SIGTERM. SIGHUP reloads the log level and the services
// defined in the config file.
#include "cli/agent.h"

#include <malloc.h>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
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
#include <fstream>
#include <functional>
#include <future>
#include <set>
#include <sstream>

#include "cli/dns_agent.h"
#include "cli/security_flags.h"
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

struct AgentConfig {
  std::string http_addr = "127.0.0.1:8500";
  std::string data_dir = "data";
  std::string node;
  std::string datacenter = "dc1";
  std::string log_level = "info";
  std::string deregister_critical_after = "1h";
  std::string config_file;
  int workers = 0;
  int server_port = 8300;
  int bootstrap_expect = 1;
  std::vector<std::string> join;
  bool dev = false;
  bool acl_enabled = false;
  std::string acl_default_policy;  // "allow" or "deny"; empty: deny, or allow with -dev
  std::vector<core::RegisterService> services;  // from the config file
};

// "acl": {"enabled": true, "default_policy": "deny"}, Consul's keys.
Status ReadAclConfig(const std::string& path, const rapidjson::Value& v, AgentConfig* config,
                     const std::set<std::string>& given_on_command_line) {
  if (!v.IsObject()) return Status::InvalidArgument(path + ": acl: expected an object");
  for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
    std::string key = it->name.GetString();
    if (key == "enabled") {
      if (!it->value.IsBool()) return Status::InvalidArgument(path + ": acl.enabled: expected true or false");
      if (!given_on_command_line.contains("acl_enabled")) config->acl_enabled = it->value.GetBool();
    } else if (key == "default_policy") {
      if (!it->value.IsString()) {
        return Status::InvalidArgument(path + ": acl.default_policy: expected \"allow\" or \"deny\"");
      }
      if (!given_on_command_line.contains("acl_default_policy")) {
        config->acl_default_policy = it->value.GetString();
      }
    } else {
      return Status::InvalidArgument(path + ": acl: unknown key \"" + key +
                                     "\" (known: enabled, default_policy)");
    }
  }
  return Status::Ok();
}

std::string Hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "concierge";
  return buf;
}

Status ReadConfigFile(const std::string& path, AgentConfig* config,
                      const std::set<std::string>& given_on_command_line) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("cannot read config file " + path);
  std::stringstream text;
  text << in.rdbuf();
  rapidjson::Document doc;
  std::string body = text.str();
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError()) {
    return Status::InvalidArgument(
        path + ": not valid JSON: " + rapidjson::GetParseError_En(doc.GetParseError()) +
        " (at byte " + std::to_string(doc.GetErrorOffset()) + ")");
  }
  if (!doc.IsObject()) return Status::InvalidArgument(path + ": expected a JSON object");
  std::vector<core::RegisterService> services;
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    std::string key = it->name.GetString();
    const auto& v = it->value;
    auto string_field = [&](std::string* out) -> Status {
      if (!v.IsString()) return Status::InvalidArgument(path + ": " + key + ": expected a string");
      if (!given_on_command_line.contains(key)) *out = v.GetString();
      return Status::Ok();
    };
    Status st;
    if (key == "http_addr") {
      st = string_field(&config->http_addr);
    } else if (key == "data_dir") {
      st = string_field(&config->data_dir);
    } else if (key == "node_name") {
      st = string_field(&config->node);
    } else if (key == "datacenter") {
      st = string_field(&config->datacenter);
    } else if (key == "log_level") {
      st = string_field(&config->log_level);
    } else if (key == "deregister_critical_after") {
      st = string_field(&config->deregister_critical_after);
    } else if (key == "workers") {
      if (!v.IsInt() || v.GetInt() < 0) {
        st = Status::InvalidArgument(path + ": workers: expected a non-negative integer");
      } else if (!given_on_command_line.contains(key)) {
        config->workers = v.GetInt();
      }
    } else if (key == "server_port") {
      if (!v.IsInt() || v.GetInt() < 0 || v.GetInt() > 65535) {
        st = Status::InvalidArgument(path + ": server_port: expected a port number");
      } else if (!given_on_command_line.contains(key)) {
        config->server_port = v.GetInt();
      }
    } else if (key == "acl") {
      st = ReadAclConfig(path, v, config, given_on_command_line);
    } else if (key == "services") {
      if (!v.IsArray()) return Status::InvalidArgument(path + ": services: expected an array");
      for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
        rapidjson::StringBuffer buf;
        rapidjson::Writer<rapidjson::StringBuffer> w(buf);
        v[i].Accept(w);
        auto reg = http::DecodeServiceRegistration({buf.GetString(), buf.GetSize()});
        if (!reg.ok()) {
          return Status::InvalidArgument(path + ": services[" + std::to_string(i) +
                                         "]: " + reg.status().message());
        }
        services.push_back(std::move(*reg));
      }
    } else {
      return Status::InvalidArgument(
          path + ": unknown key \"" + key +
          "\" (known: http_addr, data_dir, node_name, datacenter, log_level, "
          "deregister_critical_after, workers, server_port, acl, services)");
    }
    if (!st.ok()) return st;
  }
  config->services = std::move(services);
  return Status::Ok();
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
  app.add_option("--http-addr", config.http_addr, "HTTP API address, host:port (port 0 picks one)");
  app.add_option("--data-dir", config.data_dir, "Data directory (durable storage comes with Raft)");
  app.add_option("--node", config.node, "Node name (default: the host name)");
  app.add_option("--datacenter", config.datacenter, "Datacenter name");
  app.add_option("--log-level", config.log_level, "trace, debug, info, warn or error");
  app.add_option(
      "--deregister-critical-after", config.deregister_critical_after,
      "Deregister instances critical this long when their check does not say; 0 = never");
  app.add_option("--config-file", config.config_file,
                 "JSON config file (see docs/configuration.md)");
  double self_preservation = 0;
  std::string self_preservation_window = "30s";
  app.add_option("--self-preservation", self_preservation,
                 "Pause expiry when more than this share of TTL checks would expire within "
                 "the window, e.g. 0.5 (0 = off)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--self-preservation-window", self_preservation_window,
                 "The window of -self-preservation, e.g. 30s");
  app.add_option("--workers", config.workers, "HTTP I/O threads (0 = one per core)");
  app.add_option("--server-port", config.server_port,
                 "Raft port between servers, on the -http-addr host (0 picks one)");
  app.add_option("--bootstrap-expect", config.bootstrap_expect,
                 "Servers to wait for before forming a new cluster (1 = a single server)")
      ->check(CLI::Range(1, 7));
  app.add_option("--join", config.join, "HTTP address of a cluster member (repeatable)");
  app.add_flag("--dev", config.dev, "Development mode: in memory, nothing written to disk");
  app.add_flag("--acl-enabled", config.acl_enabled,
               "Enforce ACL tokens (docs/acl.md); bootstrap with `concierge acl bootstrap`");
  app.add_option("--acl-default-policy", config.acl_default_policy,
                 "With ACLs: allow or deny what no rule of a token decides (default deny; "
                 "allow with -dev)");
  DnsFlags dns_flags;
  AddDnsFlags(app, &dns_flags);
  tls::ServerFiles tls_files;
  AddServerTlsFlags(app, &tls_files);
  ClusterKeyFlags key_flags;
  AddClusterKeyFlags(app, &key_flags);
  http::ServerOptions server_options;
  http::ApiOptions api_options;
  AddLimitFlags(app, &server_options, &api_options);
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

  std::set<std::string> from_flags;
  for (const char* name : {"http-addr", "data-dir", "node", "datacenter", "log-level",
                           "deregister-critical-after", "workers", "server-port", "acl-enabled",
                           "acl-default-policy"}) {
    if (app.count(std::string("--") + name) > 0) {
      std::string key = name;
      std::replace(key.begin(), key.end(), '-', '_');
      from_flags.insert(key == "node" ? "node_name" : key);
    }
  }
  auto fail = [](const Status& st) {
    spdlog::error("{}", st.message());
    return 1;
  };
  if (!config.config_file.empty()) {
    if (auto st = ReadConfigFile(config.config_file, &config, from_flags); !st.ok())
      return fail(st);
  }
  if (auto st = SetLogLevel(logging, config.log_level); !st.ok()) return fail(st);
  auto addr = SplitHostPort(config.http_addr);
  if (!addr.ok()) return fail(addr.status());
  auto grace = core::ParseDuration(config.deregister_critical_after);
  if (!grace.ok()) {
    return fail(Status::InvalidArgument("-deregister-critical-after: " + grace.status().message()));
  }
  if (config.node.empty()) config.node = Hostname();
  // HTTPS and the cluster key (docs/clustering.md, "Security").
  if (auto st = tls_files.Check("-tls-"); !st.ok()) return fail(st);
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
  auto cluster_key = LoadClusterKey(key_flags);
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
  registry_options.self_preservation_threshold = self_preservation;
  if (auto window = core::ParseDuration(self_preservation_window); window.ok()) {
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
  auto dns_server = StartDns(dns_flags, addr->first, {config.node, node_address, config.datacenter},
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
        if (!config.config_file.empty()) {
          AgentConfig fresh = config;
          if (auto st = ReadConfigFile(config.config_file, &fresh, from_flags); !st.ok()) {
            spdlog::error("reload failed, keeping the running config: {}", st.message());
          } else if (auto lv = SetLogLevel(logging, fresh.log_level); !lv.ok()) {
            spdlog::error("reload failed: {}", lv.message());
          } else {
            ApplyConfigServices(state, registry, fresh.services, node_address, &config_services);
          }
        }
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
