#include "server/log_limit.h"

#include <mutex>
#include <unordered_map>

namespace concierge::server {

bool AdmitLimitedLine(const void* where, std::uint64_t* held_back) {
  static std::mutex mu;
  static std::unordered_map<const void*, LogLimiter> limiters;
  std::lock_guard lock(mu);
  auto it = limiters.try_emplace(where, LogLimiter(kLogLimitInterval)).first;
  return it->second.Admit(std::chrono::steady_clock::now(), held_back);
}

std::string HeldBackNote(std::uint64_t held_back) {
  if (held_back == 0) return "";
  return " (and " + std::to_string(held_back) + " more like this since the last one logged)";
}

}  // namespace concierge::server
