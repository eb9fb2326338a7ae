#include "server/check_policy.h"

namespace concierge::server {

namespace {

std::string Cut(std::string s, std::size_t max_bytes) {
  if (s.size() > max_bytes) s.resize(max_bytes);
  return s;
}

}  // namespace

core::HealthStatus StatusOfHttpCode(int code) {
  if (code >= 200 && code <= 299) return core::HealthStatus::kPassing;
  if (code == 429) return core::HealthStatus::kWarning;
  return core::HealthStatus::kCritical;
}

std::optional<core::HealthStatus> FlapFilter::Observe(core::HealthStatus result) {
  if (result == core::HealthStatus::kCritical) {
    successes_ = 0;
    if (failures_ < failures_before_critical_) ++failures_;
    if (failures_ >= failures_before_critical_) return result;
    return std::nullopt;
  }
  failures_ = 0;
  if (successes_ < success_before_passing_) ++successes_;
  if (successes_ >= success_before_passing_) return result;
  return std::nullopt;
}

core::Duration FirstRunOffset(std::string_view check_id, core::Duration interval) {
  if (interval <= core::Duration::zero()) return core::Duration::zero();
  // FNV-1a: stable across runs and builds, unlike std::hash.
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : check_id) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return core::Duration(static_cast<std::int64_t>(h % static_cast<std::uint64_t>(interval.count())));
}

std::string HttpCheckOutput(std::string_view method, std::string_view url, int code,
                            std::string_view reason, std::string_view body, std::size_t max_bytes) {
  std::string out = "HTTP " + std::string(method) + " " + std::string(url) + ": " +
                    std::to_string(code) + (reason.empty() ? "" : " " + std::string(reason)) +
                    " Output: ";
  if (out.size() < max_bytes) out.append(body.substr(0, max_bytes - out.size()));
  return Cut(std::move(out), max_bytes);
}

std::string HttpCheckError(std::string_view method, std::string_view url, std::string_view error,
                           std::size_t max_bytes) {
  return Cut("HTTP " + std::string(method) + " " + std::string(url) + ": " + std::string(error),
             max_bytes);
}

std::string TcpCheckOutput(std::string_view address, std::string_view error,
                           std::size_t max_bytes) {
  if (error.empty()) return Cut("TCP connect " + std::string(address) + ": Success", max_bytes);
  return Cut("dial tcp " + std::string(address) + ": " + std::string(error), max_bytes);
}

}  // namespace concierge::server
