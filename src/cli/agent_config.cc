#include "cli/agent_config.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <type_traits>

#include "core/time.h"
#include "http/consul_json.h"

namespace concierge::cli {

void AddAgentFlags(CLI::App& app, AgentConfig* config) {
  app.add_option("--http-addr", config->http_addr,
                 "HTTP API address, host:port (port 0 picks one)");
  app.add_option("--data-dir", config->data_dir, "Data directory (the Raft log and snapshots)");
  app.add_option("--node", config->node, "Node name (default: the host name)");
  app.add_option("--datacenter", config->datacenter, "Datacenter name");
  app.add_option("--log-level", config->log_level, "trace, debug, info, warn or error");
  app.add_option(
      "--deregister-critical-after", config->deregister_critical_after,
      "Deregister instances critical this long when their check does not say; 0 = never");
  app.add_option("--config-file", config->config_file,
                 "JSON config file (see docs/configuration.md)");
  app.add_option("--config-dir", config->config_dirs,
                 "Directory of JSON config files, read in lexical order after -config-file "
                 "(repeatable)")
      ->allow_extra_args(false);
  app.add_option("--self-preservation", config->self_preservation,
                 "Pause expiry when more than this share of TTL checks would expire within "
                 "the window, e.g. 0.5 (0 = off)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--self-preservation-window", config->self_preservation_window,
                 "The window of -self-preservation, e.g. 30s");
  app.add_option("--workers", config->workers, "HTTP I/O threads (0 = one per core)");
  app.add_option("--server-port", config->server_port,
                 "Raft port between servers, on the -http-addr host (0 picks one)");
  app.add_option("--bootstrap-expect", config->bootstrap_expect,
                 "Servers to wait for before forming a new cluster (1 = a single server)")
      ->check(CLI::Range(1, 7));
  app.add_option("--join", config->join, "HTTP address of a cluster member (repeatable)");
  app.add_flag("--dev", config->dev, "Development mode: in memory, nothing written to disk");
  app.add_flag("--acl-enabled", config->acl_enabled,
               "Enforce ACL tokens (docs/acl.md); bootstrap with `concierge acl bootstrap`");
  app.add_option("--acl-default-policy", config->acl_default_policy,
                 "With ACLs: allow or deny what no rule of a token decides (default deny; "
                 "allow with -dev)");
  app.add_option(
      "--check-allowed-networks", config->check_allowed_networks,
      "CIDR blocks HTTP, TCP, UDP, GRPC and H2PING checks may connect to, e.g. 10.0.0.0/8,fd00::/8 "
      "(default: any)");
  app.add_flag("--enable-script-checks", config->enable_script_checks,
               "Accept and run script checks (Args): any client that may register a service "
               "can then run programs as the agent's user");
  AddDnsFlags(app, &config->dns);
  AddServerTlsFlags(app, &config->tls);
  AddClusterKeyFlags(app, &config->cluster_key);
  AddLimitFlags(app, &config->server, &config->api);
}

namespace {

using rapidjson::Value;

// How a key's value is checked, stored and shown.
struct Kind {
  std::function<Status(const Value&, AgentConfig&)> read;
  std::function<std::string(const AgentConfig&)> show;
};

// The field of AgentConfig a key sets, for a const or a mutable config.
#define CONFIG_FIELD(member) \
  [](auto& c) -> auto& { return c.member; }

std::string JsonText(const Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  std::string text(buf.GetString(), buf.GetSize());
  if (text.size() > 64) text = text.substr(0, 61) + "...";
  return text;
}

Status Expected(const std::string& what, const Value& v) {
  return Status::InvalidArgument("expected " + what + ", got " + JsonText(v));
}

template <class F>
Kind Text(F field) {
  return {[field](const Value& v, AgentConfig& c) {
            if (!v.IsString()) return Expected("a string", v);
            field(c).assign(v.GetString(), v.GetStringLength());
            return Status::Ok();
          },
          [field](const AgentConfig& c) { return std::string(field(c)); }};
}

template <class F>
Kind OneOf(F field, std::vector<std::string> choices) {
  std::string list;
  for (std::size_t i = 0; i < choices.size(); ++i) {
    list += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + ("\"" + choices[i] + "\"");
  }
  return {[field, choices, list](const Value& v, AgentConfig& c) {
            if (v.IsString()) {
              std::string text(v.GetString(), v.GetStringLength());
              for (const std::string& choice : choices) {
                if (text == choice) {
                  field(c) = text;
                  return Status::Ok();
                }
              }
            }
            return Expected(list, v);
          },
          [field](const AgentConfig& c) { return std::string(field(c)); }};
}

template <class F>
Kind Flag(F field) {
  return {[field](const Value& v, AgentConfig& c) {
            if (!v.IsBool()) return Expected("true or false", v);
            field(c) = v.GetBool();
            return Status::Ok();
          },
          [field](const AgentConfig& c) { return std::string(field(c) ? "true" : "false"); }};
}

// An integer in [min, max]; `max` of the type's largest value means "no upper bound".
template <class F>
Kind Integer(F field, std::int64_t min, std::uint64_t max) {
  using T = std::remove_cvref_t<decltype(field(std::declval<AgentConfig&>()))>;
  constexpr auto kLargest = static_cast<std::uint64_t>(std::numeric_limits<T>::max());
  max = std::min(max, kLargest);
  std::string range = max == kLargest
                          ? "an integer of at least " + std::to_string(min)
                          : "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  return {[field, min, max, range](const Value& v, AgentConfig& c) {
            if (v.IsUint64() && v.GetUint64() <= max &&
                (min <= 0 || v.GetUint64() >= static_cast<std::uint64_t>(min))) {
              field(c) = static_cast<T>(v.GetUint64());
            } else if (v.IsInt64() && !v.IsUint64() && v.GetInt64() >= min) {
              field(c) = static_cast<T>(v.GetInt64());
            } else {
              return Expected(range, v);
            }
            return Status::Ok();
          },
          [field](const AgentConfig& c) { return std::to_string(field(c)); }};
}

template <class F>
Kind Number(F field, double min, double max) {
  std::string range = std::isinf(max)
                          ? "a number of at least " + JsonText(Value(min))
                          : "a number from " + JsonText(Value(min)) + " to " + JsonText(Value(max));
  return {[field, min, max, range](const Value& v, AgentConfig& c) {
            if (!v.IsNumber() || !(v.GetDouble() >= min && v.GetDouble() <= max)) {
              return Expected(range, v);
            }
            field(c) = v.GetDouble();
            return Status::Ok();
          },
          [field](const AgentConfig& c) { return std::to_string(field(c)); }};
}

// A duration like "10s", at least `min`, stored as its text or as whole seconds (rounded up).
template <class F>
Kind Duration(F field, std::chrono::milliseconds min) {
  using T = std::remove_cvref_t<decltype(field(std::declval<AgentConfig&>()))>;
  std::string at_least = min == min.zero()               ? ""
                         : min < std::chrono::seconds(1) ? std::to_string(min.count()) + "ms"
                                                         : std::to_string(min.count() / 1000) + "s";
  std::string what =
      "a duration like \"10s\"" + (at_least.empty() ? "" : " of at least " + at_least);
  return {[field, min, what](const Value& v, AgentConfig& c) {
            if (!v.IsString()) return Expected(what, v);
            std::string text(v.GetString(), v.GetStringLength());
            auto d = core::ParseDuration(text);
            if (!d.ok() || *d < min) return Expected(what, v);
            if constexpr (std::is_same_v<T, std::string>) {
              field(c) = text;
            } else {
              field(c) = std::chrono::ceil<T>(*d);
            }
            return Status::Ok();
          },
          [field](const AgentConfig& c) {
            if constexpr (std::is_same_v<T, std::string>) {
              return field(c);
            } else {
              return std::to_string(field(c).count());
            }
          }};
}

template <class F>
Kind Strings(F field) {
  return {[field](const Value& v, AgentConfig& c) {
            if (!v.IsArray()) return Expected("an array of strings", v);
            std::vector<std::string> out;
            for (const Value& item : v.GetArray()) {
              if (!item.IsString() || item.GetStringLength() == 0) {
                return Expected("an array of non-empty strings", v);
              }
              out.emplace_back(item.GetString(), item.GetStringLength());
            }
            field(c) = std::move(out);
            return Status::Ok();
          },
          [field](const AgentConfig& c) {
            std::string out;
            for (const std::string& s : field(c)) out += s + "\n";
            return out;
          }};
}

// The same JSON as PUT /v1/agent/service/register, one object per service.
Kind Services() {
  return {[](const Value& v, AgentConfig& c) {
            if (!v.IsArray()) return Expected("an array of service registrations", v);
            // Appended: every file's services count (the caller sets each one's source).
            std::vector<ConfigService> services;
            for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
              rapidjson::StringBuffer buf;
              rapidjson::Writer<rapidjson::StringBuffer> w(buf);
              v[i].Accept(w);
              std::string json(buf.GetString(), buf.GetSize());
              auto reg = http::DecodeServiceRegistration(json);
              if (!reg.ok()) {
                return Status::InvalidArgument("[" + std::to_string(i) +
                                               "]: " + reg.status().message());
              }
              services.push_back({std::move(*reg), std::move(json), {}});
            }
            c.services.insert(c.services.end(), std::make_move_iterator(services.begin()),
                              std::make_move_iterator(services.end()));
            return Status::Ok();
          },
          [](const AgentConfig&) { return std::string(); }};
}

// Also remembers that the port was chosen, so that a taken port stops the agent.
Kind DnsPort() {
  Kind port = Integer(CONFIG_FIELD(dns.port), -1, 65535);
  return {[read = port.read](const Value& v, AgentConfig& c) {
            Status st = read(v, c);
            if (st.ok()) c.dns.port_given = true;
            return st;
          },
          port.show};
}

constexpr bool kReload = true;
constexpr bool kRestart = false;

ConfigKey Key(std::string_view path, std::vector<std::string_view> flags, bool reloadable,
              Kind kind) {
  return {path, std::move(flags), reloadable, std::move(kind.read), std::move(kind.show)};
}

std::vector<ConfigKey> MakeKeys() {
  constexpr std::uint64_t kNoMax = std::numeric_limits<std::uint64_t>::max();
  constexpr double kInfinity = std::numeric_limits<double>::infinity();
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  return {
      Key("http_addr", {"http-addr"}, kRestart, Text(CONFIG_FIELD(http_addr))),
      Key("data_dir", {"data-dir"}, kRestart, Text(CONFIG_FIELD(data_dir))),
      Key("node_name", {"node"}, kRestart, Text(CONFIG_FIELD(node))),
      Key("datacenter", {"datacenter"}, kRestart, Text(CONFIG_FIELD(datacenter))),
      Key("log_level", {"log-level"}, kReload,
          OneOf(CONFIG_FIELD(log_level), {"trace", "debug", "info", "warn", "error"})),
      Key("deregister_critical_after", {"deregister-critical-after"}, kRestart,
          Duration(CONFIG_FIELD(deregister_critical_after), milliseconds(0))),
      Key("self_preservation", {"self-preservation"}, kRestart,
          Number(CONFIG_FIELD(self_preservation), 0, 1)),
      Key("self_preservation_window", {"self-preservation-window"}, kRestart,
          Duration(CONFIG_FIELD(self_preservation_window), milliseconds(1))),
      Key("workers", {"workers"}, kRestart, Integer(CONFIG_FIELD(workers), 0, 512)),
      Key("bootstrap_expect", {"bootstrap-expect"}, kRestart,
          Integer(CONFIG_FIELD(bootstrap_expect), 1, 7)),
      Key("retry_join", {"join"}, kRestart, Strings(CONFIG_FIELD(join))),
      Key("ports.server", {"server-port"}, kRestart, Integer(CONFIG_FIELD(server_port), 0, 65535)),
      Key("ports.dns", {"dns-port"}, kRestart, DnsPort()),
      Key("server_port", {"server-port"}, kRestart, Integer(CONFIG_FIELD(server_port), 0, 65535)),
      Key("domain", {"domain"}, kRestart, Text(CONFIG_FIELD(dns.domain))),
      Key("dns_config.ttl", {"dns-ttl"}, kRestart,
          Duration(CONFIG_FIELD(dns.ttl), milliseconds(0))),
      Key("dns_config.refuse_outside", {"dns-refuse-outside"}, kRestart,
          Flag(CONFIG_FIELD(dns.refuse_outside))),
      Key("tls.defaults.cert_file", {"tls-cert-file"}, kReload, Text(CONFIG_FIELD(tls.cert_file))),
      Key("tls.defaults.key_file", {"tls-key-file"}, kReload, Text(CONFIG_FIELD(tls.key_file))),
      Key("tls.defaults.ca_file", {"tls-ca-file"}, kReload, Text(CONFIG_FIELD(tls.ca_file))),
      Key("tls.defaults.verify_incoming", {"tls-verify-incoming"}, kReload,
          Flag(CONFIG_FIELD(tls.verify_incoming))),
      Key("cluster_key", {"cluster-key", "cluster-key-file"}, kRestart,
          Text(CONFIG_FIELD(cluster_key.key))),
      Key("cluster_key_file", {"cluster-key-file", "cluster-key"}, kRestart,
          Text(CONFIG_FIELD(cluster_key.file))),
      Key("check_allowed_networks", {"check-allowed-networks"}, kRestart,
          Text(CONFIG_FIELD(check_allowed_networks))),
      Key("enable_script_checks", {"enable-script-checks"}, kRestart,
          Flag(CONFIG_FIELD(enable_script_checks))),
      Key("http_config.legacy_methods", {"http-legacy-methods"}, kRestart,
          Flag(CONFIG_FIELD(api.legacy_methods))),
      Key("http_config.allowed_origins", {"http-allowed-origins"}, kRestart,
          Strings(CONFIG_FIELD(api.allowed_origins))),
      Key("limits.http_max_connections", {"http-max-connections"}, kRestart,
          Integer(CONFIG_FIELD(server.max_connections), 1, kNoMax)),
      Key("limits.http_max_conns_per_client", {"http-max-conns-per-client"}, kRestart,
          Integer(CONFIG_FIELD(server.max_connections_per_ip), 0, kNoMax)),
      Key("limits.http_request_rate", {"http-request-rate"}, kRestart,
          Number(CONFIG_FIELD(server.request_rate), 0, kInfinity)),
      Key("limits.http_request_burst", {"http-request-burst"}, kRestart,
          Number(CONFIG_FIELD(server.request_burst), 0, kInfinity)),
      Key("limits.http_read_timeout", {"http-read-timeout"}, kRestart,
          Duration(CONFIG_FIELD(server.read_timeout), seconds(1))),
      Key("limits.max_blocking_queries", {"max-blocking-queries"}, kRestart,
          Integer(CONFIG_FIELD(api.max_blocking_queries), 0, kNoMax)),
      Key("limits.max_instances", {"max-instances"}, kRestart,
          Integer(CONFIG_FIELD(api.max_instances), 0, kNoMax)),
      Key("limits.max_kv_bytes", {"max-kv-bytes"}, kRestart,
          Integer(CONFIG_FIELD(api.max_kv_bytes), 0, kNoMax)),
      Key("limits.max_sessions", {"max-sessions"}, kRestart,
          Integer(CONFIG_FIELD(api.max_sessions), 0, kNoMax)),
      Key("acl.enabled", {"acl-enabled"}, kRestart, Flag(CONFIG_FIELD(acl_enabled))),
      Key("acl.default_policy", {"acl-default-policy"}, kRestart,
          OneOf(CONFIG_FIELD(acl_default_policy), {"allow", "deny"})),
      Key("acl.tokens.agent", {}, kReload, Text(CONFIG_FIELD(acl_agent_token))),
      Key("services", {}, kReload, Services()),
  };
}

#undef CONFIG_FIELD

// Walks the JSON object level by level: a member is a key of the table, or a section (an
// object whose members are keys further down), or an error.
class ConfigReader {
 public:
  ConfigReader(const std::string& source, const std::set<std::string>& flags_given,
               AgentConfig* out)
      : source_(source), flags_given_(flags_given), out_(out) {}

  Status ReadObject(const Value& object, const std::string& prefix) {
    for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
      std::string path = prefix + std::string(it->name.GetString(), it->name.GetStringLength());
      if (auto st = ReadMember(path, it->value); !st.ok()) return st;
    }
    return Status::Ok();
  }

 private:
  Status ReadMember(const std::string& path, const Value& v) {
    for (const ConfigKey& key : ConfigKeys()) {
      if (key.path == path) return ReadKey(key, v);
    }
    for (const ConfigKey& key : ConfigKeys()) {
      if (key.path.starts_with(path + ".")) {
        if (!v.IsObject()) return Error(path, "expected an object, got " + JsonText(v));
        return ReadObject(v, path + ".");
      }
    }
    std::size_t dot = path.rfind('.');
    std::string level = dot == std::string::npos ? "" : path.substr(0, dot + 1);
    std::string known;
    std::set<std::string_view> listed;
    for (const ConfigKey& key : ConfigKeys()) {
      if (!key.path.starts_with(level)) continue;
      std::string_view name = key.path.substr(level.size());
      name = name.substr(0, name.find('.'));
      if (listed.insert(name).second) known += (known.empty() ? "" : ", ") + std::string(name);
    }
    return Status::InvalidArgument(source_ + ": unknown key \"" + path + "\" (known" +
                                   (level.empty() ? "" : " in " + level.substr(0, dot)) + ": " +
                                   known + ")");
  }

  Status ReadKey(const ConfigKey& key, const Value& v) {
    // Two keys for one setting (a key twice, or server_port with ports.server) would leave
    // which one wins to the order of the file.
    for (std::string_view flag : key.flags) {
      auto [it, fresh] = set_by_.emplace(flag, key.path);
      if (!fresh) {
        return Error(key.path, it->second == key.path
                                   ? "given twice"
                                   : "set together with " + std::string(it->second) +
                                         "; give only one of them");
      }
    }
    if (key.flags.empty() && !seen_.insert(key.path).second) return Error(key.path, "given twice");
    bool from_flag = false;
    for (std::string_view flag : key.flags) from_flag |= flags_given_.contains(std::string(flag));
    // Checked even when a flag wins, so that a mistake in the file never waits for the day
    // the flag is dropped.
    Status st = key.read(v, from_flag ? ignored_ : *out_);
    if (st.ok()) return st;
    // An item of a list names itself: "services[2]: Name: ...".
    if (st.message().starts_with("[")) {
      return Status::InvalidArgument(source_ + ": " + std::string(key.path) + st.message());
    }
    return Error(key.path, st.message());
  }

  Status Error(std::string_view path, const std::string& message) const {
    return Status::InvalidArgument(source_ + ": " + std::string(path) + ": " + message);
  }

  const std::string& source_;
  const std::set<std::string>& flags_given_;
  AgentConfig* out_;
  AgentConfig ignored_;
  std::map<std::string_view, std::string_view> set_by_;  // flag -> the key that set it
  std::set<std::string_view> seen_;                      // keys without a flag
};

}  // namespace

const std::vector<ConfigKey>& ConfigKeys() {
  static const std::vector<ConfigKey> keys = MakeKeys();
  return keys;
}

std::set<std::string> FlagsGiven(const CLI::App& app) {
  std::set<std::string> given;
  for (const ConfigKey& key : ConfigKeys()) {
    for (std::string_view flag : key.flags) {
      if (app.count("--" + std::string(flag)) > 0) given.emplace(flag);
    }
  }
  return given;
}

Status ParseConfig(std::string_view text, const std::string& source,
                   const std::set<std::string>& flags_given, AgentConfig* config) {
  rapidjson::Document doc;
  // Comments (// and /* */) let a config file explain itself, as the packaged one does.
  doc.Parse<rapidjson::kParseCommentsFlag | rapidjson::kParseIterativeFlag>(text.data(),
                                                                            text.size());
  if (doc.HasParseError()) {
    return Status::InvalidArgument(
        source + ": not valid JSON: " + rapidjson::GetParseError_En(doc.GetParseError()) +
        " (at byte " + std::to_string(doc.GetErrorOffset()) + ")");
  }
  if (!doc.IsObject()) return Status::InvalidArgument(source + ": expected a JSON object");
  AgentConfig result = *config;
  ConfigReader reader(source, flags_given, &result);
  if (auto st = reader.ReadObject(doc, ""); !st.ok()) return st;
  for (std::size_t i = config->services.size(); i < result.services.size(); ++i) {
    result.services[i].source = source;
  }
  *config = std::move(result);
  return Status::Ok();
}

Status ReadConfigFile(const std::string& path, const std::set<std::string>& flags_given,
                      AgentConfig* config) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("cannot read config file " + path);
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::InvalidArgument("cannot read config file " + path);
  return ParseConfig(text.str(), path, flags_given, config);
}

Result<std::vector<std::string>> ConfigDirFiles(const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> files;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::filesystem::path& path = it->path();
    std::error_code type_ec;
    if (path.extension() == ".json" && it->is_regular_file(type_ec)) files.push_back(path);
  }
  if (ec) {
    return Status::InvalidArgument("cannot read config directory " + dir + ": " + ec.message());
  }
  std::sort(files.begin(), files.end());
  return files;
}

Status LoadConfigPaths(const std::vector<std::string>& paths,
                       const std::set<std::string>& flags_given, AgentConfig* config) {
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    std::error_code ec;
    if (!std::filesystem::is_directory(path, ec)) {
      files.push_back(path);
      continue;
    }
    auto in_dir = ConfigDirFiles(path);
    if (!in_dir.ok()) return in_dir.status();
    files.insert(files.end(), in_dir->begin(), in_dir->end());
  }
  AgentConfig result = *config;
  std::map<std::string, std::string> defined_in;  // service ID -> file
  for (const std::string& file : files) {
    std::size_t before = result.services.size();
    if (auto st = ReadConfigFile(file, flags_given, &result); !st.ok()) return st;
    for (std::size_t i = before; i < result.services.size(); ++i) {
      std::string id = result.services[i].registration.service.id.str();
      auto [it, fresh] = defined_in.emplace(id, file);
      if (!fresh) {
        return Status::InvalidArgument(file + ": services[" + std::to_string(i - before) +
                                       "]: ID \"" + id + "\" is already defined in " + it->second);
      }
    }
  }
  *config = std::move(result);
  return Status::Ok();
}

Status LoadConfigFiles(const std::set<std::string>& flags_given, AgentConfig* config) {
  std::vector<std::string> paths;
  if (!config->config_file.empty()) paths.push_back(config->config_file);
  for (const std::string& dir : config->config_dirs) {
    // A -config-dir that is not a directory is a mistake, not a file to read.
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
      return Status::InvalidArgument("cannot read config directory " + dir + ": not a directory");
    }
    paths.push_back(dir);
  }
  return LoadConfigPaths(paths, flags_given, config);
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

Status CheckConfig(const AgentConfig& config) {
  if (auto addr = SplitHostPort(config.http_addr); !addr.ok()) return addr.status();
  if (auto grace = core::ParseDuration(config.deregister_critical_after); !grace.ok()) {
    return Status::InvalidArgument("-deregister-critical-after: " + grace.status().message());
  }
  if (auto window = core::ParseDuration(config.self_preservation_window); !window.ok()) {
    return Status::InvalidArgument("-self-preservation-window: " + window.status().message());
  }
  if (!config.acl_default_policy.empty() && config.acl_default_policy != "allow" &&
      config.acl_default_policy != "deny") {
    return Status::InvalidArgument("-acl-default-policy: expected allow or deny, got \"" +
                                   config.acl_default_policy + "\"");
  }
  const bool clustered = config.bootstrap_expect > 1 || !config.join.empty();
  if (config.dev && clustered) {
    return Status::InvalidArgument(
        "-dev runs in memory on one server; drop -join and -bootstrap-expect, or drop -dev");
  }
  if (clustered && (config.server_port == 0 || SplitHostPort(config.http_addr)->second == 0)) {
    return Status::InvalidArgument(
        "a cluster needs fixed ports: give -http-addr and -server-port real port numbers");
  }
  if (auto st = config.tls.Check("-tls-"); !st.ok()) return st;
  if (config.tls.enabled()) {
    if (auto ctx = tls::ServerContext(config.tls); !ctx.ok()) return ctx.status();
  }
  if (auto key = LoadClusterKey(config.cluster_key); !key.ok()) return key.status();
  return Status::Ok();
}

std::vector<std::string> ChangedRestartKeys(const AgentConfig& running, const AgentConfig& now) {
  std::vector<std::string> changed;
  for (const ConfigKey& key : ConfigKeys()) {
    if (!key.reloadable && key.show(running) != key.show(now)) changed.emplace_back(key.path);
  }
  return changed;
}

}  // namespace concierge::cli
