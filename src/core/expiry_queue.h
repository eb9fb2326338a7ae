// Deadlines of TTL checks and reaps, earliest first: a binary heap, so finding the next
// expiry is O(1) and scheduling O(log n). Nothing scans all instances and nothing ticks:
// the server sleeps until next_deadline() exactly (DESIGN.md decision 2).
//
// Entries are never removed in place. A heartbeat does not touch the queue at all; when an
// entry comes due the owner compares it with the latest heartbeat and either expires the
// check or schedules it again (lazy re-arming, as Kafka's and etcd's lease queues do). An
// entry whose key is gone or re-used is recognised by its generation and dropped.
#pragma once

#include <cstdint>
#include <optional>
#include <queue>
#include <vector>

#include "core/time.h"

namespace concierge::core {

class ExpiryQueue {
 public:
  struct Entry {
    Time deadline;
    std::uint32_t key;         // a heartbeat-table slot, for instance
    std::uint32_t generation;  // the key's generation when scheduled
    bool operator>(const Entry& o) const { return deadline > o.deadline; }
  };

  void Schedule(Time deadline, std::uint32_t key, std::uint32_t generation) {
    heap_.push({deadline, key, generation});
  }
  std::optional<Time> next_deadline() const {
    if (heap_.empty()) return std::nullopt;
    return heap_.top().deadline;
  }
  // Removes and returns the earliest entry if it is due (deadline <= now).
  std::optional<Entry> PopDue(Time now) {
    if (heap_.empty() || heap_.top().deadline > now) return std::nullopt;
    Entry e = heap_.top();
    heap_.pop();
    return e;
  }
  std::size_t size() const { return heap_.size(); }

 private:
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap_;
};

// The TTL rule: a check with its last heartbeat at `last_seen` is alive until
// last_seen + ttl and expired from that instant on. A heartbeat that arrives exactly at the
// deadline, before the expiry is processed, renews it.
inline bool TtlExpired(Time last_seen, Duration ttl, Time now) { return now >= last_seen + ttl; }

}  // namespace concierge::core
