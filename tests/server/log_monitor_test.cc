#include "server/log_monitor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace concierge::server {
namespace {

using ::testing::ElementsAre;

class LogMonitorTest : public ::testing::Test {
 protected:
  LogMonitorTest() {
    logger_->set_pattern("%l %v");
    monitor_->Attach(logger_, spdlog::level::info);
  }

  std::shared_ptr<LogMonitor> monitor_ = std::make_shared<LogMonitor>();
  std::shared_ptr<spdlog::logger> logger_ =
      std::make_shared<spdlog::logger>("monitor-test", monitor_);
};

TEST_F(LogMonitorTest, ReadersGetTheLinesOfTheirLevelAndAbove) {
  int wakes = 0;
  auto info = monitor_->Subscribe(spdlog::level::info, [&] { ++wakes; });
  auto warn = monitor_->Subscribe(spdlog::level::warn, nullptr);
  logger_->info("one");
  logger_->warn("two");
  logger_->info("three");
  EXPECT_THAT(info->Take(), ElementsAre("info one\n", "warning two\n", "info three\n"));
  EXPECT_THAT(warn->Take(), ElementsAre("warning two\n"));
  EXPECT_EQ(wakes, 1) << "woken once, when its queue got its first line";
  logger_->info("four");
  EXPECT_EQ(wakes, 2);
  EXPECT_TRUE(warn->Take().empty());
}

TEST_F(LogMonitorTest, ASlowReaderLosesLinesWithAMarkerAndNeverBlocks) {
  auto slow = monitor_->Subscribe(spdlog::level::info, nullptr, 3);
  for (int i = 0; i < 10; ++i) logger_->info("line {}", i);
  EXPECT_THAT(slow->Take(),
              ElementsAre("info line 0\n", "info line 1\n", "info line 2\n",
                          "[concierge monitor: 7 log lines dropped: this reader fell behind]\n"));
  logger_->info("after");
  EXPECT_THAT(slow->Take(), ElementsAre("info after\n"));
}

TEST_F(LogMonitorTest, TheLoggerGoesAsLowAsAReaderAsksAndBackAfterIt) {
  EXPECT_EQ(logger_->level(), spdlog::level::info);
  auto debug = monitor_->Subscribe(spdlog::level::debug, nullptr);
  EXPECT_EQ(logger_->level(), spdlog::level::debug);
  logger_->debug("detail");
  EXPECT_THAT(debug->Take(), ElementsAre("debug detail\n"));
  monitor_->SetBaseLevel(spdlog::level::warn);
  EXPECT_EQ(logger_->level(), spdlog::level::debug);
  monitor_->Unsubscribe(debug.get());
  EXPECT_EQ(logger_->level(), spdlog::level::warn);
}

TEST_F(LogMonitorTest, ReadersAreBounded) {
  std::vector<std::shared_ptr<LogSubscription>> readers;
  for (std::size_t i = 0; i < LogMonitor::kMaxReaders; ++i) {
    readers.push_back(monitor_->Subscribe(spdlog::level::info, nullptr));
    ASSERT_NE(readers.back(), nullptr);
  }
  EXPECT_EQ(monitor_->Subscribe(spdlog::level::info, nullptr), nullptr);
  monitor_->Unsubscribe(readers.back().get());
  EXPECT_NE(monitor_->Subscribe(spdlog::level::info, nullptr), nullptr);
  EXPECT_EQ(monitor_->readers(), LogMonitor::kMaxReaders);
}

}  // namespace
}  // namespace concierge::server
