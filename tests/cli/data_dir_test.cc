#include "cli/data_dir.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace concierge::cli {
namespace {

class DataDirTest : public ::testing::Test {
 protected:
  DataDirTest() {
    std::string pattern = std::filesystem::temp_directory_path() / "concierge-data-XXXXXX";
    dir_ = mkdtemp(pattern.data());
  }
  ~DataDirTest() override { std::filesystem::remove_all(dir_); }

  std::string Read(const std::string& name) {
    std::ifstream in(dir_ + "/" + name);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name) << text;
  }

  std::string dir_;
};

TEST_F(DataDirTest, ADirectoryWithoutAFormatFileGetsOne) {
  ASSERT_TRUE(CheckDataFormat(dir_, "0.1.0").ok());
  EXPECT_EQ(Read(kDataFormatFile), "{\"format\":1,\"written_by\":\"concierge 0.1.0\"}\n");
  // Read again, by a later build of the same format: accepted and left as it is.
  ASSERT_TRUE(CheckDataFormat(dir_, "0.2.0").ok());
  EXPECT_EQ(Read(kDataFormatFile), "{\"format\":1,\"written_by\":\"concierge 0.1.0\"}\n");
}

TEST_F(DataDirTest, ANewerFormatIsRefusedNamingItsWriter) {
  Write(kDataFormatFile, R"({"format": 2, "written_by": "concierge 0.9.0"})");
  EXPECT_EQ(CheckDataFormat(dir_, "0.1.0").message(),
            "data directory " + dir_ +
                " has data format 2, written by concierge 0.9.0; this build (concierge 0.1.0) "
                "reads format 1 and older: run the newer build, or start from a backup "
                "(docs/operations.md)");
}

TEST_F(DataDirTest, AFormatFileThatIsNotOneIsRefused) {
  Write(kDataFormatFile, "format one");
  EXPECT_FALSE(CheckDataFormat(dir_, "0.1.0").ok());
}

TEST_F(DataDirTest, OneAgentAtATime) {
  DataDirLock first, second;
  ASSERT_TRUE(first.Acquire(dir_).ok());
  EXPECT_EQ(
      second.Acquire(dir_).message(),
      "data directory " + dir_ + " is in use by another agent (pass -data-dir to use another)");
}

}  // namespace
}  // namespace concierge::cli
