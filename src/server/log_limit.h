// Logging that a client cannot turn into a flood: a warning that a request (or a connection,
// or a peer) can cause is written at most once per interval at each place in the code that
// writes it; the ones held back meanwhile are counted, and the next line that gets through
// says how many there were ("... (and 341 more like this since the last one logged)").
#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace concierge::server {

// One place's budget: a line per `interval`. Not thread-safe; LimitedLog guards it.
class LogLimiter {
 public:
  explicit LogLimiter(std::chrono::steady_clock::duration interval) : interval_(interval) {}

  // True if a line may be written at `now`; then *held_back is the number refused since the
  // last one admitted.
  bool Admit(std::chrono::steady_clock::time_point now, std::uint64_t* held_back) {
    if (admitted_ && now - last_ < interval_) {
      ++held_back_;
      return false;
    }
    admitted_ = true;
    last_ = now;
    *held_back = std::exchange(held_back_, 0);
    return true;
  }

 private:
  std::chrono::steady_clock::duration interval_;
  std::chrono::steady_clock::time_point last_{};
  bool admitted_ = false;
  std::uint64_t held_back_ = 0;
};

inline constexpr std::chrono::seconds kLogLimitInterval{10};

// Any thread. Whether the place `where` (its format string) may log now (one LogLimiter per
// place, each allowed a line per kLogLimitInterval), and how many lines it held back before.
bool AdmitLimitedLine(const void* where, std::uint64_t* held_back);
// " (and N more like this since the last one logged)", or "" for none.
std::string HeldBackNote(std::uint64_t held_back);

// A format string literal; its address is the key of its budget (std::source_location
// would be the natural key, but clang 14 with libstdc++ 12 has none). Places that log the
// very same text may share a budget: they say the same thing.
struct LimitedFormat {
  template <std::size_t N>
  LimitedFormat(const char (&text)[N]) : format(text, N - 1), where(text) {}
  std::string_view format;
  const void* where;
};

// spdlog::warn, at most once per kLogLimitInterval from each place that calls it.
template <class... Args>
void RateLimitedWarn(LimitedFormat format, Args&&... args) {
  std::uint64_t held_back = 0;
  if (!AdmitLimitedLine(format.where, &held_back)) return;
  spdlog::warn("{}{}", fmt::format(fmt::runtime(format.format), std::forward<Args>(args)...),
               HeldBackNote(held_back));
}

template <class... Args>
void RateLimitedError(LimitedFormat format, Args&&... args) {
  std::uint64_t held_back = 0;
  if (!AdmitLimitedLine(format.where, &held_back)) return;
  spdlog::error("{}{}", fmt::format(fmt::runtime(format.format), std::forward<Args>(args)...),
                HeldBackNote(held_back));
}

}  // namespace concierge::server
