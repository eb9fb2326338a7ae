#include "cli/agent_config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/args.h"

namespace concierge::cli {
namespace {

Status Parse(const std::string& text, AgentConfig* config, std::set<std::string> flags = {}) {
  return ParseConfig(text, "agent.json", flags, config);
}

std::string ParseError(const std::string& text) {
  AgentConfig config;
  Status st = Parse(text, &config);
  EXPECT_FALSE(st.ok()) << text;
  return st.message();
}

TEST(AgentConfigTest, EveryKeyNamesRealFlags) {
  AgentConfig config;
  CLI::App app;
  AddAgentFlags(app, &config);
  for (const ConfigKey& key : ConfigKeys()) {
    for (std::string_view flag : key.flags) {
      EXPECT_NE(app.get_option_no_throw("--" + std::string(flag)), nullptr)
          << key.path << ": no flag -" << flag;
    }
  }
}

TEST(AgentConfigTest, TheDocsListEveryKeyWithItsFlagAndWhetherItReloads) {
  std::ifstream in(CONCIERGE_DOCS_DIR "/configuration.md");
  ASSERT_TRUE(in) << CONCIERGE_DOCS_DIR "/configuration.md";
  std::stringstream docs;
  docs << in.rdbuf();
  for (const ConfigKey& key : ConfigKeys()) {
    std::string row = "\n| `" + std::string(key.path) + "` |";
    std::size_t at = docs.str().find(row);
    ASSERT_NE(at, std::string::npos) << key.path << " is not in the table";
    std::string line = docs.str().substr(at + 1, docs.str().find('\n', at + 1) - at - 1);
    if (!key.flags.empty()) {
      EXPECT_NE(line.find("`-" + std::string(key.flags[0]) + "`"), std::string::npos) << line;
    }
    EXPECT_NE(line.find(key.reloadable ? "| yes |" : "| restart |"), std::string::npos) << line;
  }
}

TEST(AgentConfigTest, ReadsEveryKindOfKey) {
  AgentConfig config;
  Status st = Parse(R"({
    "http_addr": "10.0.0.1:8500", "node_name": "r1", "log_level": "debug",
    "deregister_critical_after": "30m", "self_preservation": 0.5,
    "self_preservation_window": "1m", "workers": 4, "bootstrap_expect": 3,
    "retry_join": ["10.0.0.2:8500", "10.0.0.3:8500"],
    "ports": {"server": 8301, "dns": -1}, "domain": "example.",
    "dns_config": {"ttl": "10s", "refuse_outside": false},
    "tls": {"defaults": {"cert_file": "s.pem", "key_file": "k.pem", "ca_file": "ca.pem",
                         "verify_incoming": true}},
    "cluster_key_file": "/etc/key",
    "limits": {"http_max_connections": 100, "http_max_conns_per_client": 20,
               "http_request_rate": 50.5, "http_request_burst": 10,
               "http_read_timeout": "1500ms", "max_blocking_queries": 0, "max_instances": 7},
    "acl": {"enabled": true, "default_policy": "allow"},
    "services": [{"ID": "web-1", "Name": "web", "Port": 80}]
  })",
                    &config);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(config.http_addr, "10.0.0.1:8500");
  EXPECT_EQ(config.node, "r1");
  EXPECT_EQ(config.log_level, "debug");
  EXPECT_EQ(config.deregister_critical_after, "30m");
  EXPECT_EQ(config.self_preservation, 0.5);
  EXPECT_EQ(config.self_preservation_window, "1m");
  EXPECT_EQ(config.workers, 4);
  EXPECT_EQ(config.bootstrap_expect, 3);
  EXPECT_EQ(config.join, (std::vector<std::string>{"10.0.0.2:8500", "10.0.0.3:8500"}));
  EXPECT_EQ(config.server_port, 8301);
  EXPECT_EQ(config.dns.port, -1);
  EXPECT_TRUE(config.dns.port_given);
  EXPECT_EQ(config.dns.domain, "example.");
  EXPECT_EQ(config.dns.ttl, "10s");
  EXPECT_FALSE(config.dns.refuse_outside);
  EXPECT_EQ(config.tls.cert_file, "s.pem");
  EXPECT_EQ(config.tls.key_file, "k.pem");
  EXPECT_EQ(config.tls.ca_file, "ca.pem");
  EXPECT_TRUE(config.tls.verify_incoming);
  EXPECT_EQ(config.cluster_key.file, "/etc/key");
  EXPECT_EQ(config.server.max_connections, 100u);
  EXPECT_EQ(config.server.max_connections_per_ip, 20u);
  EXPECT_EQ(config.server.request_rate, 50.5);
  EXPECT_EQ(config.server.request_burst, 10);
  EXPECT_EQ(config.server.read_timeout, std::chrono::seconds(2));  // rounded up
  EXPECT_EQ(config.api.max_blocking_queries, 0u);
  EXPECT_EQ(config.api.max_instances, 7u);
  EXPECT_TRUE(config.acl_enabled);
  EXPECT_EQ(config.acl_default_policy, "allow");
  ASSERT_EQ(config.services.size(), 1u);
  EXPECT_EQ(config.services[0].registration.service.id.str(), "web-1");
}

TEST(AgentConfigTest, FlagsGivenOnTheCommandLineWin) {
  AgentConfig config;
  CLI::App app;
  AddAgentFlags(app, &config);
  std::vector<std::string> args = RewriteLongFlags(
      {"agent", "-http-max-conns-per-client", "5", "-tls-verify-incoming", "-node", "cli"});
  std::vector<std::string> reversed(args.rbegin(), args.rend() - 1);
  app.parse(reversed);
  std::set<std::string> given = FlagsGiven(app);
  EXPECT_EQ(given,
            (std::set<std::string>{"http-max-conns-per-client", "tls-verify-incoming", "node"}));
  ASSERT_TRUE(Parse(R"({"node_name": "file", "datacenter": "east",
                        "limits": {"http_max_conns_per_client": 9, "max_instances": 3},
                        "tls": {"defaults": {"verify_incoming": false}}})",
                    &config, given)
                  .ok());
  EXPECT_EQ(config.node, "cli");
  EXPECT_EQ(config.server.max_connections_per_ip, 5u);
  EXPECT_TRUE(config.tls.verify_incoming);
  EXPECT_EQ(config.datacenter, "east");
  EXPECT_EQ(config.api.max_instances, 3u);
}

TEST(AgentConfigTest, AKeyAFlagOverridesIsStillChecked) {
  AgentConfig config;
  Status st = Parse(R"({"workers": "many"})", &config, {"workers"});
  EXPECT_EQ(st.message(), "agent.json: workers: expected an integer from 0 to 512, got \"many\"");
}

TEST(AgentConfigTest, WrongTypesAndRangesNameTheKey) {
  EXPECT_EQ(ParseError(R"({"limits": {"http_max_conns_per_client": -1}})"),
            "agent.json: limits.http_max_conns_per_client: expected an integer of at least 0, "
            "got -1");
  EXPECT_EQ(ParseError(R"({"limits": {"http_max_connections": 0}})"),
            "agent.json: limits.http_max_connections: expected an integer of at least 1, got 0");
  EXPECT_EQ(ParseError(R"({"ports": {"dns": 70000}})"),
            "agent.json: ports.dns: expected an integer from -1 to 65535, got 70000");
  EXPECT_EQ(ParseError(R"({"ports": {"server": 1.5}})"),
            "agent.json: ports.server: expected an integer from 0 to 65535, got 1.5");
  EXPECT_EQ(ParseError(R"({"bootstrap_expect": 9})"),
            "agent.json: bootstrap_expect: expected an integer from 1 to 7, got 9");
  EXPECT_EQ(ParseError(R"({"self_preservation": 2})"),
            "agent.json: self_preservation: expected a number from 0.0 to 1.0, got 2");
  EXPECT_EQ(ParseError(R"({"limits": {"http_request_rate": "fast"}})"),
            "agent.json: limits.http_request_rate: expected a number of at least 0.0, got "
            "\"fast\"");
  EXPECT_EQ(ParseError(R"({"limits": {"http_read_timeout": "500ms"}})"),
            "agent.json: limits.http_read_timeout: expected a duration like \"10s\" of at least "
            "1s, got \"500ms\"");
  EXPECT_EQ(ParseError(R"({"deregister_critical_after": "soon"})"),
            "agent.json: deregister_critical_after: expected a duration like \"10s\", got "
            "\"soon\"");
  EXPECT_EQ(ParseError(R"({"tls": {"defaults": {"verify_incoming": "yes"}}})"),
            "agent.json: tls.defaults.verify_incoming: expected true or false, got \"yes\"");
  EXPECT_EQ(ParseError(R"({"log_level": "loud"})"),
            "agent.json: log_level: expected \"trace\", \"debug\", \"info\", \"warn\" or "
            "\"error\", got \"loud\"");
  EXPECT_EQ(ParseError(R"({"retry_join": "10.0.0.1:8500"})"),
            "agent.json: retry_join: expected an array of strings, got \"10.0.0.1:8500\"");
  EXPECT_EQ(ParseError(R"({"tls": {"defaults": ["x"]}})"),
            "agent.json: tls.defaults: expected an object, got [\"x\"]");
  EXPECT_EQ(ParseError(R"({"services": [{"Name": ""}]})").substr(0, 24),
            "agent.json: services[0]:");
  EXPECT_EQ(ParseError(R"({"limits": {"max_instances": 1e300}})"),
            "agent.json: limits.max_instances: expected an integer of at least 0, got 1e300");
}

TEST(AgentConfigTest, UnknownKeysListTheKnownOnesAtTheirLevel) {
  EXPECT_EQ(ParseError(R"({"tls": {"defaults": {"cert": "x"}}})"),
            "agent.json: unknown key \"tls.defaults.cert\" (known in tls.defaults: cert_file, "
            "key_file, ca_file, verify_incoming)");
  EXPECT_EQ(ParseError(R"({"ports": {"http": 8500}})"),
            "agent.json: unknown key \"ports.http\" (known in ports: server, dns)");
  std::string top = ParseError(R"({"start_join": []})");
  EXPECT_TRUE(top.starts_with("agent.json: unknown key \"start_join\" (known: http_addr, ")) << top;
  EXPECT_NE(top.find("retry_join"), std::string::npos);
  EXPECT_NE(top.find(", limits, acl, services)"), std::string::npos) << top;
}

TEST(AgentConfigTest, OneSettingTwiceIsAnError) {
  EXPECT_EQ(ParseError(R"({"server_port": 1, "ports": {"server": 2}})"),
            "agent.json: ports.server: set together with server_port; give only one of them");
  EXPECT_EQ(ParseError(R"({"cluster_key": "a", "cluster_key_file": "b"})"),
            "agent.json: cluster_key_file: set together with cluster_key; give only one of them");
  EXPECT_EQ(ParseError(R"({"workers": 1, "workers": 2})"), "agent.json: workers: given twice");
  EXPECT_EQ(ParseError(R"({"services": [], "services": []})"), "agent.json: services: given twice");
}

TEST(AgentConfigTest, NotJsonOrNotAnObject) {
  EXPECT_EQ(ParseError("{\"workers\": 1,}"),
            "agent.json: not valid JSON: Missing a name for object member. (at byte 14)");
  EXPECT_EQ(ParseError("[]"), "agent.json: expected a JSON object");
}

TEST(AgentConfigTest, CommentsAreAllowed) {
  AgentConfig config;
  ASSERT_TRUE(
      Parse("// the packaged file explains itself\n{ /* HTTP */ \"workers\": 2 // two\n}", &config)
          .ok());
  EXPECT_EQ(config.workers, 2);
}

TEST(AgentConfigTest, AnErrorChangesNothing) {
  AgentConfig config;
  EXPECT_FALSE(Parse(R"({"datacenter": "east", "workers": -1})", &config).ok());
  EXPECT_EQ(config.datacenter, "dc1");
}

TEST(AgentConfigTest, ChangedRestartKeysIgnoresReloadableOnes) {
  AgentConfig running;
  AgentConfig now = running;
  ASSERT_TRUE(Parse(R"({"log_level": "debug", "tls": {"defaults": {"cert_file": "new.pem"}},
                        "services": [{"Name": "web"}],
                        "limits": {"max_instances": 5}, "retry_join": ["a:1"]})",
                    &now)
                  .ok());
  EXPECT_EQ(ChangedRestartKeys(running, now),
            (std::vector<std::string>{"retry_join", "limits.max_instances"}));
}

// A directory of config files, removed at the end of the test.
class ConfigDir {
 public:
  ConfigDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "concierge-dir-XXXXXX");
    path_ = mkdtemp(pattern.data());
  }
  ~ConfigDir() { std::filesystem::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ + "/" + name) << text;
    return path_ + "/" + name;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(AgentConfigTest, ConfigDirMergesItsJsonFilesInLexicalOrder) {
  ConfigDir dir;
  dir.Write("20-web.json",
            R"({"log_level": "debug", "services": [{"ID": "web-1", "Name": "web"}]})");
  dir.Write("10-base.json", R"({"log_level": "warn", "datacenter": "east",
                                "services": [{"ID": "db-1", "Name": "db"}]})");
  dir.Write("README", "not a config file");
  dir.Write("30-off.json.bak", "{not json");
  std::filesystem::create_directory(dir.path() + "/40-sub.json");
  AgentConfig config;
  config.config_dirs = {dir.path()};
  ASSERT_TRUE(LoadConfigFiles({}, &config).ok());
  EXPECT_EQ(config.log_level, "debug");  // the later file wins
  EXPECT_EQ(config.datacenter, "east");
  ASSERT_EQ(config.services.size(), 2u);  // from both files, in file order
  EXPECT_EQ(config.services[0].registration.service.id.str(), "db-1");
  EXPECT_EQ(config.services[0].source, dir.path() + "/10-base.json");
  EXPECT_EQ(config.services[1].registration.service.id.str(), "web-1");
}

TEST(AgentConfigTest, ConfigDirsAfterTheConfigFileAndAFlagWinsOverAll) {
  ConfigDir a, b;
  std::string file = a.Write("agent.json", R"({"datacenter": "one", "workers": 2})");
  b.Write("x.json", R"({"datacenter": "two", "workers": 3})");
  AgentConfig config;
  config.config_file = file;
  config.config_dirs = {b.path()};
  config.workers = 9;
  ASSERT_TRUE(LoadConfigFiles({"workers"}, &config).ok());
  EXPECT_EQ(config.datacenter, "two");
  EXPECT_EQ(config.workers, 9);
}

TEST(AgentConfigTest, ConfigDirErrorsNameTheFileAndTheKey) {
  ConfigDir dir;
  dir.Write("a.json", R"({"services": [{"ID": "web-1", "Name": "web"}]})");
  std::string bad = dir.Write("b.json", R"({"limits": {"max_instances": -1}})");
  AgentConfig config;
  config.config_dirs = {dir.path()};
  EXPECT_EQ(LoadConfigFiles({}, &config).message(),
            bad + ": limits.max_instances: expected an integer of at least 0, got -1");
  EXPECT_TRUE(config.services.empty());  // nothing changed

  std::string twice = dir.Write("b.json", R"({"services": [{"ID": "web-1", "Name": "web"}]})");
  EXPECT_EQ(LoadConfigFiles({}, &config).message(),
            twice + ": services[0]: ID \"web-1\" is already defined in " + dir.path() + "/a.json");

  config.config_dirs = {dir.path() + "/missing"};
  EXPECT_TRUE(LoadConfigFiles({}, &config)
                  .message()
                  .starts_with("cannot read config directory " + dir.path() + "/missing: "));
}

TEST(AgentConfigTest, CheckConfigFindsWhatOneKeyCannotTell) {
  AgentConfig config;
  EXPECT_TRUE(CheckConfig(config).ok());
  config.http_addr = "127.0.0.1";
  EXPECT_EQ(CheckConfig(config).message(),
            "-http-addr: expected host:port like 127.0.0.1:8500, got \"127.0.0.1\"");
  config = {};
  config.dev = true;
  config.join = {"10.0.0.1:8500"};
  EXPECT_TRUE(CheckConfig(config).message().starts_with("-dev runs in memory"));
  config = {};
  config.tls.cert_file = "/nonexistent/server.pem";
  config.tls.key_file = "/nonexistent/server-key.pem";
  EXPECT_FALSE(CheckConfig(config).ok());
}

}  // namespace
}  // namespace concierge::cli
