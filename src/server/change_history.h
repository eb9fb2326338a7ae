// Which instances of one service changed, by the index of their change: what the delta
// stream (GET /v1/concierge/delta/service/<name>, docs/design.md "The delta stream") answers
// "what changed after index N" from, so that a watcher of a big service reads the few
// instances that changed instead of all of them.
//
// Bounded: it keeps the latest changes only (between limit/2 and `limit` of them), and its
// floor is the index up to which changes were dropped: "after N" is answerable for N at or
// after the floor, and a reader with an older N must read the whole service again. Nothing is
// kept until a reader first asks (the floor simply follows the changes), so a service nobody
// reads deltas of costs no memory.
//
// Threading: Record on the state thread; Since and floor on any thread (a mutex, held for
// the copy of the IDs asked for).
#pragma once

#include <algorithm>
#include <cstddef>
#include <mutex>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "core/model.h"
#include "core/text.h"

namespace concierge::server {

class ChangeHistory {
 public:
  // A history that knows nothing before `floor`.
  explicit ChangeHistory(core::Index floor) : floor_(floor) {}

  // The instances `ids` changed (or went) at `index`, which is at least every earlier one.
  void Record(core::Index index, std::span<const core::Text> ids, std::size_t limit) {
    std::lock_guard lock(mu_);
    if (!wanted_) {
      floor_ = std::max(floor_, index);
      return;
    }
    for (const core::Text& id : ids) changes_.emplace_back(index, id);
    limit = std::max<std::size_t>(limit, 2);
    if (changes_.size() > limit) {
      // Down to half the limit at once: amortized O(1) a change.
      const std::size_t drop = changes_.size() - limit / 2;
      floor_ = std::max(floor_, changes_[drop - 1].first);
      changes_.erase(changes_.begin(), changes_.begin() + static_cast<std::ptrdiff_t>(drop));
    }
  }

  // Keeps changes from now on (a reader is about to wait for the next one). Any thread.
  void Want() const {
    std::lock_guard lock(mu_);
    wanted_ = true;
  }

  // The IDs that changed after index `after` up to `upto` included, sorted, each once; nullopt
  // when changes after `after` were not kept (after < floor). Keeps changes from then on.
  std::optional<std::vector<core::Text>> Since(core::Index after, core::Index upto) const {
    std::lock_guard lock(mu_);
    wanted_ = true;
    if (after < floor_) return std::nullopt;
    std::vector<core::Text> out;
    auto first = std::upper_bound(changes_.begin(), changes_.end(), after,
                                  [](core::Index i, const auto& c) { return i < c.first; });
    for (auto it = first; it != changes_.end() && it->first <= upto; ++it) {
      out.push_back(it->second);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  core::Index floor() const {
    std::lock_guard lock(mu_);
    return floor_;
  }
  std::size_t size() const {
    std::lock_guard lock(mu_);
    return changes_.size();
  }

 private:
  mutable std::mutex mu_;
  mutable bool wanted_ = false;
  core::Index floor_;
  std::vector<std::pair<core::Index, core::Text>> changes_;  // by index
};

}  // namespace concierge::server
