// Self-preservation (DESIGN.md decision 4): when more than a set share of the TTL checks
// would expire within one window, the trouble is more likely on the registry's side (its
// network, a pause) than in that many services at once, as Eureka assumes. Expiry then
// pauses until heartbeats return. Off unless a threshold is set.
//
// This class only decides; the Registry holds the paused expiries and re-checks them.
// State thread only; time is an argument.
#pragma once

#include <cstddef>
#include <deque>

#include "core/time.h"

namespace concierge::server {

class SelfPreservation {
 public:
  // `threshold` is a share of the tracked TTL checks (0 = off, e.g. 0.5); `window` is how far
  // back expiries already proposed still count.
  SelfPreservation(double threshold, core::Duration window)
      : threshold_(threshold), window_(window) {}

  bool enabled() const { return threshold_ > 0; }
  // Never holds back fewer expiries than this: with a handful of instances, one crash is
  // more than half of them, and that is no reason to stop expiring.
  static constexpr std::size_t kMinExpiries = 3;

  // Whether `due` expiries (those held so far and new ones) must wait at `now`, given
  // `tracked` TTL checks. Changes active() accordingly.
  bool ShouldHold(core::Time now, std::size_t due, std::size_t tracked);
  // Records `n` expiries proposed at `now`; they count against the threshold for one window.
  void Proposed(core::Time now, std::size_t n);
  // Holding expiries back right now.
  bool active() const { return active_; }
  core::Duration window() const { return window_; }
  // Expiries proposed within the window before `now` (as of the last ShouldHold).
  std::size_t recent() const { return recent_.size(); }

 private:
  double threshold_;
  core::Duration window_;
  std::deque<core::Time> recent_;
  bool active_ = false;
};

}  // namespace concierge::server
