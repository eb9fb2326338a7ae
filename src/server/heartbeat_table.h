// Last-seen times of TTL checks: the one hot path that skips the state thread
// (DESIGN.md decision 1). A heartbeat is a lock-free lookup of the check ID and two atomic
// operations on its slot: no allocation, no lock, no log entry.
//
// The state thread adds and removes checks and mirrors each check's status into its slot,
// so that a heartbeat can tell at once whether it must also propose a transition.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/model.h"
#include "server/concurrent_map.h"
#include "server/epoch.h"

namespace concierge::server {

class HeartbeatTable {
 public:
  // Sentinels rather than std::optional: 16 bytes less per TTL check (memory per instance).
  static constexpr core::Time kNotArmed = core::Time::max();
  static constexpr std::int64_t kNotExpiring = std::numeric_limits<std::int64_t>::min();

  struct Slot {
    std::atomic<std::int64_t> last_seen{0};  // steady-clock nanoseconds
    std::atomic<std::uint8_t> status{0};     // core::HealthStatus
    // 1 while the catalog marks the check unheard since an election (core::LeaderElected):
    // a heartbeat must then have the mark cleared through the log before it is acknowledged.
    std::atomic<std::uint8_t> unheard{0};
    // State thread only:
    std::uint32_t generation = 0;  // bumped on removal; stale expiry entries compare it
    core::Text check_id;           // shares the catalog record's buffer
    core::Duration ttl{0};
    // Deadline of this slot's one live expiry entry; kNotArmed if none.
    core::Time armed = kNotArmed;
    // The last_seen an expiry was decided on, while that expiry is being applied (a
    // heartbeat that lands in between is detected by comparing with it); kNotExpiring if none.
    std::int64_t expiring_last_seen = kNotExpiring;
  };

  static constexpr std::uint32_t kChunkSlots = 4096;
  static constexpr std::uint32_t kMaxChunks = 4096;  // 16M checks

  explicit HeartbeatTable(EpochDomain& domain) : domain_(domain), index_(domain) {}
  // Runs the pending slot releases, which refer to this table. No reader may be active.
  ~HeartbeatTable() { domain_.Collect(); }
  HeartbeatTable(const HeartbeatTable&) = delete;
  HeartbeatTable& operator=(const HeartbeatTable&) = delete;

  // Any thread. Records a heartbeat for `check_id` at `now` and returns the check's status,
  // or nullopt if no TTL check has that ID. `unheard`, if given, is set to the slot's flag,
  // read after the heartbeat is stored (so that the state thread, which sets the flag and
  // then reads last_seen, sees one or the other).
  std::optional<core::HealthStatus> Beat(std::string_view check_id, core::Time now,
                                         bool* unheard = nullptr) {
    std::optional<core::HealthStatus> status;
    index_.With(check_id, [&](std::uint32_t s) {
      Slot& slot = at(s);
      slot.last_seen.store(now.time_since_epoch().count(), std::memory_order_seq_cst);
      status = static_cast<core::HealthStatus>(slot.status.load(std::memory_order_seq_cst));
      if (unheard != nullptr) *unheard = slot.unheard.load(std::memory_order_seq_cst) != 0;
    });
    return status;
  }

  // Any thread. The steady time of the check's last heartbeat (its registration counts as
  // one), or nullopt if no TTL check has that ID. A lock-free read through the same index as
  // Beat: it never blocks a heartbeat or the state thread, and may be a moment old.
  std::optional<core::Time> LastSeen(std::string_view check_id) const {
    std::optional<core::Time> seen;
    index_.With(check_id, [&](std::uint32_t s) {
      const Slot& slot = chunks_[s / kChunkSlots][s % kChunkSlots];
      seen = core::Time(core::Duration(slot.last_seen.load(std::memory_order_seq_cst)));
    });
    return seen;
  }

  // State thread. Starts tracking a check (as if it had just heartbeated); returns its slot.
  std::uint32_t Add(const core::Text& check_id, core::Duration ttl, core::HealthStatus status,
                    core::Time now);
  // State thread. Stops tracking; the slot is reused once no reader can hold it.
  void Remove(std::string_view check_id);
  // State thread.
  std::optional<std::uint32_t> Find(std::string_view check_id) const {
    return index_.Get(check_id);
  }
  Slot& at(std::uint32_t s) { return chunks_[s / kChunkSlots][s % kChunkSlots]; }
  // State thread: f(slot index, slot) for every tracked check.
  template <typename F>
  void ForEach(F&& f) {
    index_.ForEach([&](std::string_view, std::uint32_t s) { f(s, at(s)); });
  }
  std::size_t size() const { return index_.size(); }

 private:
  EpochDomain& domain_;
  ConcurrentMap<std::uint32_t> index_;
  std::unique_ptr<Slot[]> chunks_[kMaxChunks];
  std::uint32_t next_slot_ = 0;
  std::vector<std::uint32_t> free_slots_;
};

}  // namespace concierge::server
