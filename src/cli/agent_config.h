// The agent's settings: its flags and the keys of its JSON config files (-config-file,
// -config-dir), one table for both (docs/configuration.md). A flag given on the command line
// wins over the files; a later file wins over an earlier one; the files win over the defaults.
#pragma once

#include <rapidjson/document.h>

#include <CLI/CLI.hpp>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cli/dns_agent.h"
#include "cli/security_flags.h"
#include "core/model.h"
#include "core/status.h"
#include "http/consul_api.h"
#include "http/server.h"
#include "tls/context.h"

namespace concierge::cli {

// A service of a config file: what it registers, and its JSON as written (a follower sends
// that to the leader, as a client's registration).
struct ConfigService {
  core::RegisterService registration;
  std::string json;
  std::string source;  // the file that defines it
};

struct AgentConfig {
  std::string http_addr = "127.0.0.1:8500";
  std::string data_dir = "data";
  std::string node;
  std::string datacenter = "dc1";
  std::string log_level = "info";
  std::string deregister_critical_after = "1h";
  std::string config_file;
  std::vector<std::string> config_dirs;  // every *.json in each, in lexical order
  int workers = 0;
  int server_port = 8300;
  int bootstrap_expect = 1;
  std::vector<std::string> join;
  bool dev = false;
  double self_preservation = 0;
  std::string self_preservation_window = "30s";
  bool acl_enabled = false;
  std::string acl_default_policy;  // "allow" or "deny"; empty: deny, or allow with -dev
  // The token a follower sends with the config services it registers through the leader.
  std::string acl_agent_token;
  std::string check_allowed_networks;  // CIDR blocks, comma-separated; empty: any
  bool enable_script_checks = false;   // run script checks (Args); refused (400) otherwise
  DnsFlags dns;
  tls::ServerFiles tls;
  ClusterKeyFlags cluster_key;
  // Only the limits are set here (docs/limits.md); the agent fills in the rest.
  http::ServerOptions server;
  http::ApiOptions api;
  std::vector<ConfigService> services;  // from the config files only, all of them
};

// Adds every agent flag to `app`, writing into `config`.
void AddAgentFlags(CLI::App& app, AgentConfig* config);

// One key of the config file.
struct ConfigKey {
  std::string_view path;  // "limits.http_max_conns_per_client"
  // The flags that set the same thing ("http-max-conns-per-client"); when one was given on
  // the command line the key is read (and checked) but not used. Empty: file only.
  std::vector<std::string_view> flags;
  bool reloadable = false;  // SIGHUP applies a new value without a restart
  // Checks `v` and stores it; the error says what was expected ("expected a port 0..65535").
  std::function<Status(const rapidjson::Value& v, AgentConfig& config)> read;
  // The value as text, to tell whether a reload changed a key that needs a restart.
  std::function<std::string(const AgentConfig& config)> show;
};

// Every key, in the order of docs/configuration.md.
const std::vector<ConfigKey>& ConfigKeys();

// The flags (without dashes) of ConfigKeys() that `app` saw on the command line.
std::set<std::string> FlagsGiven(const CLI::App& app);

// Reads the JSON text of a config file into `config`, skipping the keys whose flag is in
// `flags_given`. Errors start with `source` (the file's path) and name the key; nothing is
// changed on error. An unknown key is an error that lists the known ones at its level.
Status ParseConfig(std::string_view text, const std::string& source,
                   const std::set<std::string>& flags_given, AgentConfig* config);
// ParseConfig over the file at `path`.
Status ReadConfigFile(const std::string& path, const std::set<std::string>& flags_given,
                      AgentConfig* config);

// The files a config directory contributes: its `*.json` regular files, in lexical order.
Result<std::vector<std::string>> ConfigDirFiles(const std::string& dir);

// Reads each of `paths` into `config` in order, a directory as its ConfigDirFiles: services
// are collected from all files (an ID defined twice is an error naming both files); any other
// key of a later file replaces the earlier value. Nothing is changed on error.
Status LoadConfigPaths(const std::vector<std::string>& paths,
                       const std::set<std::string>& flags_given, AgentConfig* config);
// LoadConfigPaths of config->config_file, then of each of config->config_dirs.
Status LoadConfigFiles(const std::set<std::string>& flags_given, AgentConfig* config);

// The checks that go beyond one key: the HTTP address, durations, the certificate files, the
// cluster key, the combination of -dev with a cluster. What the agent checks before it starts
// anything, and all that `concierge validate` does after reading the files.
Status CheckConfig(const AgentConfig& config);

// host:port of -http-addr ("localhost" becomes 127.0.0.1; brackets are taken off IPv6).
Result<std::pair<std::string, std::uint16_t>> SplitHostPort(const std::string& addr);

// The keys that `now` sets differently from `running` and that only a restart applies.
std::vector<std::string> ChangedRestartKeys(const AgentConfig& running, const AgentConfig& now);

}  // namespace concierge::cli
