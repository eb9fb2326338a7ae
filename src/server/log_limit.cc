#include "server/log_limit.h"

#include <mutex>
#include <unordered_map>

namespace concierge::server {

namespace {

struct Place {
  const char* file;
  std::uint_least32_t line;
  bool operator==(const Place&) const = default;
};

struct PlaceHash {
  std::size_t operator()(const Place& p) const {
    return std::hash<const void*>{}(p.file) * 31 + p.line;
  }
};

}  // namespace

bool AdmitLimitedLine(const std::source_location& where, std::uint64_t* held_back) {
  static std::mutex mu;
  static std::unordered_map<Place, LogLimiter, PlaceHash> limiters;
  std::lock_guard lock(mu);
  auto [it, added] =
      limiters.try_emplace(Place{where.file_name(), where.line()}, LogLimiter(kLogLimitInterval));
  return it->second.Admit(std::chrono::steady_clock::now(), held_back);
}

std::string HeldBackNote(std::uint64_t held_back) {
  if (held_back == 0) return "";
  return " (and " + std::to_string(held_back) + " more like this since the last one logged)";
}

}  // namespace concierge::server
