#include "server/log_monitor.h"

#include <algorithm>

namespace concierge::server {

void LogSubscription::Push(const std::string& line) {
  bool first = false;
  {
    std::lock_guard lock(mu_);
    if (lines_.size() >= capacity_) {
      ++dropped_;
      return;
    }
    first = lines_.empty();
    lines_.push_back(line);
  }
  if (first && wake_) wake_();
}

std::vector<std::string> LogSubscription::Take() {
  std::vector<std::string> out;
  std::lock_guard lock(mu_);
  out.swap(lines_);
  if (dropped_ > 0) {
    // The drops came after every queued line (the queue was full), so the marker goes last.
    out.push_back("[concierge monitor: " + std::to_string(dropped_) +
                  " log lines dropped: this reader fell behind]\n");
    dropped_ = 0;
  }
  return out;
}

void LogMonitor::Attach(const std::shared_ptr<spdlog::logger>& logger,
                        spdlog::level::level_enum base) {
  std::lock_guard lock(mutex_);
  logger_ = logger;
  base_ = base;
  UpdateLevel();
}

void LogMonitor::SetBaseLevel(spdlog::level::level_enum base) {
  std::lock_guard lock(mutex_);
  base_ = base;
  UpdateLevel();
}

std::shared_ptr<LogSubscription> LogMonitor::Subscribe(spdlog::level::level_enum level,
                                                       std::function<void()> wake,
                                                       std::size_t capacity) {
  auto subscription = std::make_shared<LogSubscription>(level, capacity, std::move(wake));
  std::lock_guard lock(mutex_);
  if (readers_.size() >= kMaxReaders) return nullptr;
  readers_.push_back(subscription);
  UpdateLevel();
  return subscription;
}

void LogMonitor::Unsubscribe(const LogSubscription* subscription) {
  std::lock_guard lock(mutex_);
  std::erase_if(readers_, [&](const auto& r) { return r.get() == subscription; });
  UpdateLevel();
}

std::size_t LogMonitor::readers() {
  std::lock_guard lock(mutex_);
  return readers_.size();
}

void LogMonitor::sink_it_(const spdlog::details::log_msg& msg) {
  if (readers_.empty()) return;
  spdlog::memory_buf_t formatted;
  formatter_->format(msg, formatted);
  std::string line(formatted.data(), formatted.size());
  for (const auto& reader : readers_) {
    if (msg.level >= reader->level()) reader->Push(line);
  }
}

void LogMonitor::UpdateLevel() {
  std::shared_ptr<spdlog::logger> logger = logger_.lock();
  if (!logger) return;
  spdlog::level::level_enum level = base_;
  for (const auto& reader : readers_) level = std::min(level, reader->level());
  logger->set_level(level);
}

}  // namespace concierge::server
