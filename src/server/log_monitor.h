// `concierge monitor`: a log sink that hands the agent's log lines to live readers
// (GET /v1/agent/monitor), each through a bounded queue of its own. Logging never waits for a
// reader: when a reader's queue is full, its new lines are dropped and counted, and the
// reader gets one marker line saying how many it lost.
#pragma once

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace concierge::server {

// One reader's queue. Filled by the logging threads, drained by the reader.
class LogSubscription {
 public:
  // `wake` runs (on a logging thread, with logging locked: it must not log) when the
  // queue gets its first line after being drained.
  LogSubscription(spdlog::level::level_enum level, std::size_t capacity, std::function<void()> wake)
      : level_(level), capacity_(capacity), wake_(std::move(wake)) {}

  // The lines queued since the last Take, oldest first, ending with a marker line if lines
  // were dropped; empty if there are none.
  std::vector<std::string> Take();
  spdlog::level::level_enum level() const { return level_; }

 private:
  friend class LogMonitor;
  void Push(const std::string& line);

  const spdlog::level::level_enum level_;
  const std::size_t capacity_;
  const std::function<void()> wake_;
  std::mutex mu_;
  std::vector<std::string> lines_;
  std::size_t dropped_ = 0;
};

class LogMonitor final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  static constexpr std::size_t kQueueLines = 1024;  // per reader
  static constexpr std::size_t kMaxReaders = 32;

  // The logger whose level follows what is asked of it: the lower of `base` (the agent's
  // -log-level, for stderr) and the lowest level a reader asked for.
  void Attach(const std::shared_ptr<spdlog::logger>& logger, spdlog::level::level_enum base);
  void SetBaseLevel(spdlog::level::level_enum base);

  // A new reader of lines at `level` and above, or null when kMaxReaders already read.
  std::shared_ptr<LogSubscription> Subscribe(spdlog::level::level_enum level,
                                             std::function<void()> wake,
                                             std::size_t capacity = kQueueLines);
  void Unsubscribe(const LogSubscription* subscription);
  std::size_t readers();

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}

 private:
  // Sets the attached logger's level; `mutex_` held.
  void UpdateLevel();

  std::vector<std::shared_ptr<LogSubscription>> readers_;
  // Weak: the logger holds this sink, and the two must not keep each other alive.
  std::weak_ptr<spdlog::logger> logger_;
  spdlog::level::level_enum base_ = spdlog::level::info;
};

}  // namespace concierge::server
