#include "cli/snapshot_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace concierge::cli {
namespace {

class WriteFileAtomicallyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("snapshot_file_test_" + std::to_string(::getpid()) + "_" +
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
