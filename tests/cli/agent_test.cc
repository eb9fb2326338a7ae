// The agent's life cycle in process: Build, Start, Reload (what SIGHUP does), Stop, on a -dev
// agent with ports picked by the kernel.
#include "cli/agent.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "server/registry.h"

namespace concierge::cli {
namespace {

class AgentTest : public ::testing::Test {
 protected:
  AgentTest() {
    std::string pattern = std::filesystem::temp_directory_path() / "concierge-agent-XXXXXX";
    dir_ = mkdtemp(pattern.data());
  }
  ~AgentTest() override { std::filesystem::remove_all(dir_); }

  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name) << text;
  }

  // A -dev agent on 127.0.0.1:0 without DNS, reading the config directory.
  Result<std::unique_ptr<Agent>> Build() {
    AgentConfig base;
    base.dev = true;
    base.http_addr = "127.0.0.1:0";
    base.dns.port = -1;
    base.log_level = "warn";
    base.config_dirs = {dir_};
    AgentConfig config = base;
    if (auto st = LoadConfigFiles({}, &config); !st.ok()) return st;
    return Agent::Build(config, {base, {}}, InstallLogging());
  }

  std::string dir_;
};

TEST_F(AgentTest, StartRegistersTheConfigServicesAndReloadFollowsTheFiles) {
  Write("10-web.json", R"({"services": [{"ID": "web-1", "Name": "web", "Port": 80}]})");
  auto agent = Build();
  ASSERT_TRUE(agent.ok()) << agent.status().message();
  (*agent)->Start();
  EXPECT_NE((*agent)->http_port(), 0);
  auto web = (*agent)->registry().Instance("web-1");
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->service.address.str(), "127.0.0.1");  // the agent's address by default

  Write("20-db.json", R"({"services": [{"ID": "db-1", "Name": "db", "Port": 5432}]})");
  (*agent)->Reload();
  EXPECT_NE((*agent)->registry().Instance("db-1"), nullptr);

  std::filesystem::remove(dir_ + "/10-web.json");
  (*agent)->Reload();
  EXPECT_EQ((*agent)->registry().Instance("web-1"), nullptr);
  EXPECT_NE((*agent)->registry().Instance("db-1"), nullptr);

  // A broken file changes nothing.
  Write("30-bad.json", R"({"services": "db"})");
  (*agent)->Reload();
  EXPECT_NE((*agent)->registry().Instance("db-1"), nullptr);
  (*agent)->Stop();
}

TEST_F(AgentTest, BuildRefusesABadConfigWithoutStartingAnything) {
  AgentConfig config;
  config.dev = true;
  config.http_addr = "127.0.0.1:0";
  config.dns.port = -1;
  config.bootstrap_expect = 3;
  auto agent = Agent::Build(config, {config, {}}, InstallLogging());
  ASSERT_FALSE(agent.ok());
  EXPECT_TRUE(agent.status().message().starts_with("-dev runs in memory"));
}

}  // namespace
}  // namespace concierge::cli
