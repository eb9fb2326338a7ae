#include "server/self_preservation.h"

namespace concierge::server {

bool SelfPreservation::ShouldHold(core::Time now, std::size_t due, std::size_t tracked) {
  while (!recent_.empty() && recent_.front() <= now - window_) recent_.pop_front();
  if (!enabled() || due == 0) {
    active_ = false;
    return false;
  }
  std::size_t expiring = recent_.size() + due;
  active_ = expiring >= kMinExpiries &&
            static_cast<double>(expiring) > threshold_ * static_cast<double>(tracked);
  return active_;
}

void SelfPreservation::Proposed(core::Time now, std::size_t n) {
  if (!enabled()) return;
  for (std::size_t i = 0; i < n; ++i) recent_.push_back(now);
}

}  // namespace concierge::server
