#include "cli/commands.h"

#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "cli/acl.h"
#include "cli/agent_config.h"
#include "cli/args.h"
#include "cli/gateway.h"
#include "cli/kv.h"
#include "cli/maint.h"
#include "cli/security_flags.h"
#include "cli/service_body.h"
#include "cli/sidecar.h"
#include "cli/snapshot_file.h"
#include "cli/table.h"
#include "cli/version.h"
#include "cli/watch.h"
#include "client/agent_api.h"
#include "client/http_client.h"
#include "client/json.h"
#include "client/wire.h"

namespace concierge::cli {
namespace {

using client::HttpClient;
using client::Response;
using client::ServiceInstance;
using namespace std::chrono_literals;

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

// "2026-11-26T00:33:45Z", for watch lines.
std::string Now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

int Fail(const std::string& message) {
  std::cerr << "Error: " << message << "\n";
  return kExitFailed;
}

int Usage(const std::string& message) {
  std::cerr << message << "\nRun with --help for more information.\n";
  return kExitUsage;
}

int Fail(const Status& status) { return Fail(status.message()); }

// Blocks SIGINT and SIGTERM for the process and waits for them on a thread of its own, so
// that a stop can cancel a blocking query cleanly instead of killing the process mid-line.
class StopSignal {
 public:
  explicit StopSignal(std::function<void()> on_stop) : on_stop_(std::move(on_stop)) {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals_, &old_mask_);
    thread_ = std::thread([this] {
      int signal = 0;
      sigwait(&signals_, &signal);
      std::lock_guard lock(mutex_);
      if (closing_) return;
      stopped_ = true;
      on_stop_();
      wake_.notify_all();
    });
  }

  ~StopSignal() {
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
    }
    // Wakes sigwait if no signal came.
    pthread_kill(thread_.native_handle(), SIGTERM);
    thread_.join();
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  }

  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  bool stopped() {
    std::lock_guard lock(mutex_);
    return stopped_;
  }

  // Sleeps for `d` or until stopped; returns false if stopped.
  bool SleepFor(std::chrono::milliseconds d) {
    std::unique_lock lock(mutex_);
    return !wake_.wait_for(lock, d, [this] { return stopped_; });
  }

 private:
  std::function<void()> on_stop_;
  sigset_t signals_;
  sigset_t old_mask_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopped_ = false;
  bool closing_ = false;
  std::thread thread_;
};

struct RegisterArgs {
  std::string file;
  ServiceFlags flags;
};

int Register(HttpClient& http, const RegisterArgs& args, bool flags_given) {
  std::string body;
  std::string id;
  if (!args.file.empty()) {
    if (flags_given) return Usage("services register: give a JSON file or flags, not both");
    std::ifstream in(args.file, std::ios::binary);
    std::stringstream contents;
    contents << in.rdbuf();
    if (!in) return Fail("cannot read " + args.file);
    body = contents.str();
    Result<rapidjson::Document> doc = client::ParseJson(body);
    if (!doc.ok()) return Fail(args.file + ": " + doc.status().message());
    if (!doc->IsObject()) {
      return Fail(args.file + ": expected a JSON object like {\"Name\": \"web\", \"Port\": 8080}");
    }
    id = client::GetString(*doc, "ID");
    if (id.empty()) id = client::GetString(*doc, "Name");
  } else {
    Result<std::string> built = BuildServiceBody(args.flags);
    if (!built.ok()) return Usage(built.status().message());
    body = std::move(built).value();
    id = args.flags.id.empty() ? args.flags.name : args.flags.id;
  }

  if (Status st = client::RegisterService(http, body); !st.ok()) return Fail(st);
  std::cout << "Registered service: " << id << "\n";
  if (args.file.empty() && !args.flags.ttl.empty()) {
    std::cout << "Send heartbeats within " << args.flags.ttl
              << " with: concierge heartbeat service:" << id << "\n";
  }
  return 0;
}

int Deregister(HttpClient& http, const std::string& id) {
  if (Status st = client::DeregisterService(http, id); !st.ok()) return Fail(st);
  std::cout << "Deregistered service: " << id << "\n";
  return 0;
}

std::string JoinTags(const std::vector<std::string>& tags) {
  std::string out;
  for (const std::string& tag : tags) out += (out.empty() ? "" : ",") + tag;
  return out;
}

int ListServices(HttpClient& http) {
  Result<std::vector<ServiceInstance>> instances = client::AgentServices(http);
  if (!instances.ok()) return Fail(instances.status());
  std::vector<std::vector<std::string>> rows;
  for (const ServiceInstance& i : *instances) {
    rows.push_back({i.id, i.service, i.Endpoint(), JoinTags(i.tags)});
  }
  std::cout << FormatTable({"ID", "Name", "Address:Port", "Tags"}, rows);
  return 0;
}

int Health(HttpClient& http, const std::string& service, bool passing,
           const std::vector<std::string>& tags) {
  HealthQuery query{.passing_only = passing, .tags = tags};
  Result<client::ServiceHealth> health = client::HealthService(http, service, query);
  if (!health.ok()) return Fail(health.status());
  std::vector<std::vector<std::string>> rows;
  for (const ServiceInstance& i : health->instances) {
    rows.push_back({i.id, i.Endpoint(), i.status, client::OneLine(i.output, 60)});
  }
  std::cout << FormatTable({"ID", "Address:Port", "Status", "Output"}, rows);
  return 0;
}

int Heartbeat(HttpClient& http, const std::string& check_id, const std::string& status,
              const std::string& note) {
  Status st = client::UpdateCheck(http, check_id, client::ParseHealthStatus(status), note);
  if (!st.ok()) return Fail(st);
  std::cout << "Check " << check_id << ": " << status << "\n";
  return 0;
}

// Blocking queries in a loop (Consul's documented client behaviour), printing what changed.
// `concierge monitor`: prints the agent's log lines as they are written, until interrupted
// (the default SIGINT action ends the process) or the agent goes away.
int Monitor(HttpClient& http, const std::string& level) {
  Status st = client::Monitor(http, level, [](std::string_view piece) {
    std::cout.write(piece.data(), static_cast<std::streamsize>(piece.size()));
    std::cout.flush();
    return static_cast<bool>(std::cout);
  });
  return st.ok() ? 0 : Fail(st);
}

int Watch(HttpClient& http, const std::string& service, bool passing,
          const std::vector<std::string>& tags) {
  // The agent holds a query up to wait (5m) plus wait/16 of jitter.
  constexpr std::chrono::milliseconds kQueryTimeout = 5min + 5min / 16 + 30s;
  // At most one query per this interval, in case an agent answers at once every time.
  constexpr std::chrono::milliseconds kMinInterval = 50ms;
  constexpr std::chrono::milliseconds kMaxBackoff = 30s;

  StopSignal stop([&http] { http.Shutdown(); });
  std::optional<std::vector<ServiceInstance>> previous;
  std::uint64_t index = 0;
  std::chrono::milliseconds backoff = 1s;
  bool failing = false;
  while (!stop.stopped()) {
    auto started = std::chrono::steady_clock::now();
    HealthQuery query{.passing_only = passing, .tags = tags, .index = index, .wait = 5min};
    Result<client::ServiceHealth> result =
        client::HealthService(http, service, query, kQueryTimeout);
    if (stop.stopped()) break;

    // The agent is down or has no leader: wait and ask again.
    if (!result.ok() && result.status().code() == Status::Code::kUnavailable) {
      if (!failing) {
        std::cout << Now() << " " << result.status().message() << " (retrying)" << std::endl;
      }
      failing = true;
      if (!stop.SleepFor(backoff)) break;
      backoff = std::min(backoff * 2, kMaxBackoff);
      continue;
    }
    if (!result.ok()) return Fail(result.status());
    if (failing)
      std::cout << Now() << " agent " << http.address().ToString() << " is back" << std::endl;
    failing = false;
    backoff = 1s;

    if (!result->index) {
      return Fail("the answer has no numeric X-Consul-Index header; is " +
                  http.address().ToString() + " a Concierge or Consul agent?");
    }
    std::vector<ServiceInstance>& instances = result->instances;
    if (!previous && instances.empty())
      std::cout << Now() << " no instances of " << service << std::endl;
    for (const std::string& line :
         DescribeChanges(previous.value_or(std::vector<ServiceInstance>{}), instances)) {
      std::cout << Now() << " " << line << std::endl;
    }
    previous = std::move(instances);
    index = client::NextIndex(index, *result->index);

    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    if (elapsed < kMinInterval && !stop.SleepFor(kMinInterval - elapsed)) break;
  }
  return 0;
}

std::string YesNo(bool b) { return b ? "true" : "false"; }

int Members(HttpClient& http) {
  Result<std::vector<client::ServerMember>> members = client::AgentMembers(http);
  if (!members.ok()) return Fail(members.status());
  std::vector<std::vector<std::string>> rows;
  for (const client::ServerMember& m : *members) {
    rows.push_back({m.name, m.raft_address, m.http_address.empty() ? "-" : m.http_address,
                    m.voter ? "voter" : "non-voter", YesNo(m.leader)});
  }
  std::cout << FormatTable({"Name", "Raft address", "HTTP address", "Status", "Leader"}, rows);
  return 0;
}

int ListPeers(HttpClient& http) {
  Result<std::vector<client::RaftPeer>> peers = client::RaftPeers(http);
  if (!peers.ok()) return Fail(peers.status());
  std::vector<std::vector<std::string>> rows;
  for (const client::RaftPeer& p : *peers) {
    rows.push_back({p.node.empty() ? "-" : p.node, p.id, p.address,
                    p.leader ? "leader" : "follower", YesNo(p.voter)});
  }
  std::cout << FormatTable({"Node", "ID", "Address", "State", "Voter"}, rows);
  return 0;
}

int RemovePeer(HttpClient& http, const std::string& raft_address) {
  if (Status st = client::RemoveRaftPeer(http, raft_address); !st.ok()) return Fail(st);
  std::cout << "Removed peer with address \"" << raft_address << "\"\n";
  return 0;
}

int TransferLeader(HttpClient& http, const std::string& id) {
  if (Status st = client::TransferLeadership(http, id); !st.ok()) return Fail(st);
  std::cout << "Leadership transferred\n";
  return 0;
}

// The TLS flags of the command being run (one per process).
ClientTlsFlags client_tls;

// A client for the agent at `address`, over HTTPS when the TLS flags say so.
Result<HttpClient> OpenAgent(std::string address, client::HttpClientOptions options = {}) {
  options.tls = ResolveClientTls(client_tls, &address);
  return HttpClient::Open(address, std::move(options));
}

// A snapshot is the whole catalog: allow more than the default body size and time.
constexpr std::uint64_t kMaxSnapshotBytes = std::uint64_t{4} << 30;
constexpr std::chrono::milliseconds kSnapshotTimeout = 10min;

int SnapshotSave(const std::string& address, const std::string& token, const std::string& file) {
  client::HttpClientOptions options;
  options.token = token;
  options.max_body_bytes = kMaxSnapshotBytes;
  options.read_timeout = kSnapshotTimeout;
  Result<HttpClient> http = OpenAgent(address, options);
  if (!http.ok()) return Usage("--http-addr: " + http.status().message());
  Result<client::Snapshot> snapshot = client::SaveSnapshot(*http);
  if (!snapshot.ok()) return Fail(snapshot.status());
  if (snapshot->bytes.empty()) return Fail("the agent answered GET /v1/snapshot with no bytes");
  if (Status st = WriteFileAtomically(file, snapshot->bytes); !st.ok()) return Fail(st.message());
  std::cout << "Saved snapshot to " << file << " (" << snapshot->bytes.size() << " bytes";
  if (snapshot->index) std::cout << ", index " << *snapshot->index;
  std::cout << ")\n";
  return 0;
}

int SnapshotRestore(const std::string& address, const std::string& token, const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  if (!in) return Fail("cannot read " + file);
  std::string bytes = contents.str();
  if (bytes.empty()) return Fail(file + " is empty; expected a file written by snapshot save");
  client::HttpClientOptions options;
  options.read_timeout = kSnapshotTimeout;
  options.token = token;
  Result<HttpClient> http = OpenAgent(address, options);
  if (!http.ok()) return Usage("--http-addr: " + http.status().message());
  if (Status st = client::RestoreSnapshot(*http, bytes); !st.ok()) return Fail(st);
  std::cout << "Restored snapshot from " << file << " (" << bytes.size() << " bytes)\n";
  return 0;
}

// -http-addr, -token and the TLS flags on every command that talks to an agent.
void AddHttpAddr(CLI::App* command, std::string& address, std::string& token) {
  command
      ->add_option("--http-addr", address,
                   "Agent HTTP address as host:port (https://host:port for HTTPS)")
      ->envname("CONCIERGE_HTTP_ADDR")
      ->capture_default_str();
  command
      ->add_option("--token", token,
                   "ACL token (SecretID); also CONCIERGE_HTTP_TOKEN or CONSUL_HTTP_TOKEN")
      ->envname("CONCIERGE_HTTP_TOKEN");
  AddClientTlsFlags(command, &client_tls);
}

// `concierge validate`: what the agent would read and check at start (Consul's validate).
int Validate(const std::vector<std::string>& paths) {
  AgentConfig config;
  Status st = LoadConfigPaths(paths, {}, &config);
  if (st.ok()) st = CheckConfig(config);
  if (!st.ok()) {
    std::cerr << st.message() << "\n";
    return 1;
  }
  std::cout << "Configuration is valid!\n";
  return 0;
}

}  // namespace

int RunCommand(const std::vector<std::string>& args) {
  // The sidecar parses its own flags, as the agent does.
  if (args.size() >= 2 && args[1] == "sidecar") return RunSidecar(args);
  if (args.size() >= 2 && args[1] == "gateway") return RunGateway(args);
  if (args.size() == 2 && args[1] == "keygen") return RunKeygen();
  CLI::App app{"Concierge: a service registry that speaks Consul's HTTP API.", "concierge"};
  app.require_subcommand(1);
  std::string address = "127.0.0.1:8500";
  std::string token;

  app.add_subcommand("agent", "Run an agent (the registry server) in the foreground");
  app.add_subcommand("sidecar", "Register a process and heartbeat for it while it is healthy");
  app.add_subcommand("gateway", "Proxy HTTP and TCP to healthy instances (server-side discovery)");
  CLI::App* version = app.add_subcommand("version", "Print the version");
  app.add_subcommand("keygen", "Print a new random cluster key (for -cluster-key)");
  std::vector<std::string> config_paths;
  CLI::App* validate_cmd = app.add_subcommand(
      "validate", "Check agent config files and directories without starting anything");
  validate_cmd
      ->add_option("paths", config_paths,
                   "Config files, or directories whose *.json files are read in lexical order")
      ->required();

  CLI::App* services = app.add_subcommand("services", "Register, deregister and list services");
  services->require_subcommand(1);

  RegisterArgs reg;
  CLI::App* register_cmd = services->add_subcommand(
      "register", "Register a service from a Consul-style JSON file, or from flags");
  register_cmd->add_option("file", reg.file, "Service definition (JSON), sent as is")
      ->check(CLI::ExistingFile);
  // Each flag that builds the body; giving one together with a file is an error.
  std::vector<CLI::Option*> body_flags = {
      register_cmd->add_option("--name", reg.flags.name, "Service name"),
      register_cmd->add_option("--id", reg.flags.id, "Instance ID (default: the name)"),
      register_cmd->add_option("--address", reg.flags.address,
                               "Instance address (default: the address it registers from)"),
      register_cmd->add_option("--port", reg.flags.port, "Instance port"),
      register_cmd->add_option("--tag", reg.flags.tags, "A tag (repeatable)")
          ->allow_extra_args(false),
      register_cmd->add_option("--meta", reg.flags.meta, "Metadata as key=value (repeatable)")
          ->allow_extra_args(false),
      register_cmd->add_option(
          "--ttl", reg.flags.ttl,
          "Add a TTL check: heartbeats are due within this duration, e.g. 10s"),
      register_cmd->add_option("--deregister-critical-after", reg.flags.deregister_critical_after,
                               "Deregister after the check has been critical this long, e.g. 1m"),
  };
  AddHttpAddr(register_cmd, address, token);

  std::string service_id;
  CLI::App* deregister_cmd =
      services->add_subcommand("deregister", "Deregister a service instance");
  deregister_cmd->add_option("id", service_id, "Instance ID")->required();
  AddHttpAddr(deregister_cmd, address, token);

  CLI::App* list_cmd = services->add_subcommand("list", "List the agent's services");
  AddHttpAddr(list_cmd, address, token);

  std::string service;
  bool passing = false;
  std::vector<std::string> tags;
  CLI::App* health_cmd =
      app.add_subcommand("health", "Show the instances of a service and their health");
  health_cmd->add_option("service", service, "Service name")->required();
  health_cmd->add_flag("--passing", passing, "Only instances whose checks all pass");
  health_cmd->add_option("--tag", tags, "Only instances with this tag (repeatable)")
      ->allow_extra_args(false);
  AddHttpAddr(health_cmd, address, token);

  std::string check_id;
  std::string note;
  std::string status = "passing";
  CLI::App* heartbeat_cmd = app.add_subcommand("heartbeat", "Report a TTL check's status");
  heartbeat_cmd->add_option("check-id", check_id, "Check ID, e.g. service:web-1")->required();
  heartbeat_cmd->add_option("--note", note, "Text stored as the check's output");
  heartbeat_cmd->add_option("--status", status, "passing, warning or critical")
      ->check(CLI::IsMember({"passing", "warning", "critical"}))
      ->capture_default_str();
  AddHttpAddr(heartbeat_cmd, address, token);

  CLI::App* watch_cmd =
      app.add_subcommand("watch", "Print each change to a service's instances until stopped");
  watch_cmd->add_option("service", service, "Service name")->required();
  watch_cmd->add_flag("--passing", passing, "Only instances whose checks all pass");
  watch_cmd->add_option("--tag", tags, "Only instances with this tag (repeatable)")
      ->allow_extra_args(false);
  AddHttpAddr(watch_cmd, address, token);

  CLI::App* members_cmd = app.add_subcommand("members", "List the servers of the cluster");
  AddHttpAddr(members_cmd, address, token);

  CLI::App* operator_cmd = app.add_subcommand("operator", "Cluster operations");
  operator_cmd->require_subcommand(1);
  CLI::App* raft_cmd = operator_cmd->add_subcommand("raft", "Inspect and change the Raft peers");
  raft_cmd->require_subcommand(1);
  CLI::App* list_peers_cmd =
      raft_cmd->add_subcommand("list-peers", "List the servers in the Raft configuration");
  AddHttpAddr(list_peers_cmd, address, token);
  std::string peer_address;
  CLI::App* remove_peer_cmd =
      raft_cmd->add_subcommand("remove-peer", "Remove a (dead) server from the Raft configuration");
  remove_peer_cmd
      ->add_option("--address", peer_address, "Raft address (host:port) of the server to remove")
      ->required();
  AddHttpAddr(remove_peer_cmd, address, token);
  std::string transfer_id;
  CLI::App* transfer_cmd = raft_cmd->add_subcommand(
      "transfer-leader", "Hand leadership to another voter (default: the most up to date)");
  transfer_cmd->add_option("--id", transfer_id, "Raft ID of the new leader (see list-peers)");
  AddHttpAddr(transfer_cmd, address, token);

  CLI::App* snapshot_cmd = app.add_subcommand("snapshot", "Save and restore the catalog");
  snapshot_cmd->require_subcommand(1);
  std::string snapshot_file;
  CLI::App* save_cmd =
      snapshot_cmd->add_subcommand("save", "Write a snapshot of the catalog to a file");
  save_cmd->add_option("file", snapshot_file, "Where to write it (replaced atomically)")
      ->required();
  AddHttpAddr(save_cmd, address, token);
  CLI::App* restore_cmd = snapshot_cmd->add_subcommand(
      "restore", "Replace the catalog with a snapshot written by snapshot save");
  restore_cmd->add_option("file", snapshot_file, "The snapshot file")
      ->required()
      ->check(CLI::ExistingFile);
  AddHttpAddr(restore_cmd, address, token);

  MaintArgs maint;
  CLI::App* maint_cmd = AddMaintCommand(app, &maint);
  AddHttpAddr(maint_cmd, address, token);

  KvArgs kv;
  CLI::App* kv_cmd = AddKvCommand(app, &kv, [&](CLI::App* c) { AddHttpAddr(c, address, token); });
  LockArgs lock;
  CLI::App* lock_cmd = AddLockCommand(app, &lock);
  AddHttpAddr(lock_cmd, address, token);

  AclArgs acl;
  std::function<void(CLI::App*)> connect = [&](CLI::App* c) { AddHttpAddr(c, address, token); };
  CLI::App* acl_cmd = AddAclCommand(app, &acl, connect);

  std::string log_level;
  CLI::App* monitor_cmd =
      app.add_subcommand("monitor", "Print the agent's log lines as they happen, until stopped");
  monitor_cmd->add_option("--log-level", log_level,
                          "trace, debug, info (default), warn or error; may be lower than the "
                          "agent's own -log-level");
  AddHttpAddr(monitor_cmd, address, token);

  const std::string version_line =
      std::string("concierge ") + kVersion + " (commit " + kGitCommit + ")";
  app.set_version_flag("--version", version_line);

  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }

  if (version->parsed()) {
    std::cout << version_line << "\n";
    return 0;
  }

  if (validate_cmd->parsed()) return Validate(config_paths);

  token = TokenFromEnv(token);
  if (save_cmd->parsed()) return SnapshotSave(address, token, snapshot_file);
  if (restore_cmd->parsed()) return SnapshotRestore(address, token, snapshot_file);

  client::HttpClientOptions client_options;
  client_options.token = token;
  if (lock_cmd->parsed()) {
    client::HttpClientOptions lock_options = client_options;
    std::string lock_address = address;
    lock_options.tls = ResolveClientTls(client_tls, &lock_address);
    return RunLock(lock_address, lock_options, lock);
  }
  Result<HttpClient> http = OpenAgent(address, client_options);
  if (!http.ok()) return Usage("--http-addr: " + http.status().message());

  if (register_cmd->parsed()) {
    bool flags_given = std::any_of(body_flags.begin(), body_flags.end(),
                                   [](const CLI::Option* o) { return o->count() > 0; });
    return Register(*http, reg, flags_given);
  }
  if (deregister_cmd->parsed()) return Deregister(*http, service_id);
  if (list_cmd->parsed()) return ListServices(*http);
  if (health_cmd->parsed()) return Health(*http, service, passing, tags);
  if (heartbeat_cmd->parsed()) return Heartbeat(*http, check_id, status, note);
  if (watch_cmd->parsed()) return Watch(*http, service, passing, tags);
  if (members_cmd->parsed()) return Members(*http);
  if (maint_cmd->parsed()) return RunMaint(*http, maint);
  if (kv_cmd->parsed()) return RunKv(*http, kv);
  if (monitor_cmd->parsed()) return Monitor(*http, log_level);
  if (list_peers_cmd->parsed()) return ListPeers(*http);
  if (remove_peer_cmd->parsed()) return RemovePeer(*http, peer_address);
  if (transfer_cmd->parsed()) return TransferLeader(*http, transfer_id);
  if (acl_cmd->parsed()) return RunAcl(*http, acl);
  return Usage("agent: run as the first argument, e.g. concierge agent -dev");
}

}  // namespace concierge::cli
