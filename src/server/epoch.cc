#include "server/epoch.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <unordered_map>

namespace concierge::server {

std::atomic<std::uint64_t>& EpochDomain::ReaderSlot() {
  // One slot per (thread, domain), handed out on first use and kept for the thread's life.
  thread_local std::unordered_map<std::uint64_t, int> slots;
  auto it = slots.find(id_);
  if (it == slots.end()) {
    int n = readers_used_.fetch_add(1);
    if (n >= kMaxReaders) {
      std::fprintf(stderr, "concierge: more than %d reader threads\n", kMaxReaders);
      std::abort();
    }
    it = slots.emplace(id_, n).first;
  }
  return readers_[it->second].epoch;
}

void EpochDomain::Retire(std::function<void()> free) {
  std::uint64_t e = epoch_.fetch_add(1, std::memory_order_seq_cst);
  retired_.emplace_back(e, std::move(free));
}

void EpochDomain::Collect() {
  if (retired_.empty()) return;
  // The oldest epoch any reader is in; things retired before it are unreachable.
  std::uint64_t oldest = UINT64_MAX;
  int used = std::min(readers_used_.load(), kMaxReaders);
  for (int i = 0; i < used; ++i) {
    std::uint64_t e = readers_[i].epoch.load(std::memory_order_seq_cst);
    if (e != 0 && e < oldest) oldest = e;
  }
  std::size_t kept = 0;
  for (std::size_t i = 0; i < retired_.size(); ++i) {
    if (retired_[i].first < oldest) {
      retired_[i].second();
    } else {
      retired_[kept++] = std::move(retired_[i]);
    }
  }
  retired_.resize(kept);
}

void EpochDomain::FreeAll() {
  for (auto& [e, free] : retired_) free();
  retired_.clear();
}

}  // namespace concierge::server
