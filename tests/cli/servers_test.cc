#include "cli/servers.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace concierge::cli {
namespace {

TEST(ParseAgentMembersTest, ReadsServersSortedByName) {
  constexpr const char* kMembers = R"([
    {"Name": "n2", "Addr": "127.0.0.1", "Port": 8302, "Status": 0,
     "Tags": {"role": "consul", "http": "127.0.0.1:8502", "leader": "false"}},
    {"Name": "n1", "Addr": "127.0.0.1", "Port": 8301, "Status": 1,
     "Tags": {"role": "consul", "http": "127.0.0.1:8501", "leader": "true"}},
    {"Name": "n3", "Addr": "::1", "Port": 8303, "Status": 1, "Tags": {}}
  ])";
  Result<std::vector<ServerMember>> got = ParseAgentMembers(kMembers);
  ASSERT_TRUE(got.ok()) << got.status().message();
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ((*got)[0].name, "n1");
  EXPECT_EQ((*got)[0].raft_address, "127.0.0.1:8301");
  EXPECT_EQ((*got)[0].http_address, "127.0.0.1:8501");
  EXPECT_TRUE((*got)[0].voter);
  EXPECT_TRUE((*got)[0].leader);
  EXPECT_EQ((*got)[1].name, "n2");
  EXPECT_FALSE((*got)[1].voter) << "Status 0: known but not in the Raft configuration";
  EXPECT_FALSE((*got)[1].leader);
  EXPECT_EQ((*got)[2].raft_address, "[::1]:8303");
  EXPECT_EQ((*got)[2].http_address, "");
}

TEST(ParseAgentMembersTest, RejectsWhatIsNotAList) {
  EXPECT_FALSE(ParseAgentMembers("{}").ok());
  Result<std::vector<ServerMember>> bad = ParseAgentMembers("[{");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("/v1/agent/members"), std::string::npos);
}

TEST(ParseRaftConfigurationTest, ReadsServersInOrder) {
  constexpr const char* kConfiguration = R"({"Servers": [
    {"ID": "17", "Node": "n2", "Address": "127.0.0.1:8302", "Leader": false, "Voter": true},
    {"ID": "9", "Node": "", "Address": "127.0.0.1:8301", "Leader": true, "Voter": true}
  ]})";
  Result<std::vector<RaftPeer>> got = ParseRaftConfiguration(kConfiguration);
  ASSERT_TRUE(got.ok()) << got.status().message();
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].id, "17");
  EXPECT_EQ((*got)[0].node, "n2");
  EXPECT_FALSE((*got)[0].leader);
  EXPECT_TRUE((*got)[0].voter);
  EXPECT_EQ((*got)[1].address, "127.0.0.1:8301");
  EXPECT_TRUE((*got)[1].leader);
}

TEST(ParseRaftConfigurationTest, RejectsAnswerWithoutServers) {
  EXPECT_FALSE(ParseRaftConfiguration("[]").ok());
  EXPECT_FALSE(ParseRaftConfiguration("{\"Servers\": {}}").ok());
}

TEST(RemovePeerTargetTest, EncodesTheAddress) {
  EXPECT_EQ(RemovePeerTarget("10.0.0.3:8300"), "/v1/operator/raft/peer?address=10.0.0.3%3A8300");
  EXPECT_EQ(RemovePeerTarget("[::1]:8300"), "/v1/operator/raft/peer?address=%5B%3A%3A1%5D%3A8300");
}

class WriteFileAtomicallyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("servers_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static std::string Read(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::filesystem::path dir_;
};

TEST_F(WriteFileAtomicallyTest, ReplacesTheFileAndLeavesNoTemporary) {
  std::filesystem::path file = dir_ / "backup.snap";
  { std::ofstream(file) << "old"; }
  // Hex escapes are greedy ("\x01b" is one character): build the bytes piecewise.
  std::string bytes = std::string("\0\x01", 2) + "binary" + "\xff";
  ASSERT_TRUE(WriteFileAtomically(file.string(), bytes).ok());
  EXPECT_EQ(Read(file), bytes);
  int entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir_)) ++entries;
  EXPECT_EQ(entries, 1);
}

TEST_F(WriteFileAtomicallyTest, FailsWithTheFileNameWhenTheDirectoryIsMissing) {
  std::string file = (dir_ / "missing" / "backup.snap").string();
  Status st = WriteFileAtomically(file, "x");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("missing/backup.snap"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace concierge::cli
