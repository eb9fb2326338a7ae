#include "server/heartbeat_table.h"

#include <cstdio>
#include <cstdlib>

namespace concierge::server {

std::uint32_t HeartbeatTable::Add(const core::Text& check_id, core::Duration ttl,
                                  core::HealthStatus status, core::Time now) {
  std::uint32_t s;
  if (!free_slots_.empty()) {
    s = free_slots_.back();
    free_slots_.pop_back();
  } else {
    s = next_slot_++;
    if (s / kChunkSlots >= kMaxChunks) {
      std::fprintf(stderr, "concierge: more than %u TTL checks\n", kChunkSlots * kMaxChunks);
      std::abort();
    }
    if (!chunks_[s / kChunkSlots]) chunks_[s / kChunkSlots] = std::make_unique<Slot[]>(kChunkSlots);
  }
  Slot& slot = at(s);
  slot.last_seen.store(now.time_since_epoch().count());
  slot.status.store(static_cast<std::uint8_t>(status));
  slot.unheard.store(0);
  slot.check_id = check_id;
  slot.ttl = ttl;
  slot.armed = kNotArmed;
  slot.expiring_last_seen = kNotExpiring;
  // Publishing the index entry after the slot is filled makes the slot visible to readers.
  index_.Put(slot.check_id, s);
  return s;
}

void HeartbeatTable::Remove(std::string_view check_id) {
  std::optional<std::uint32_t> s = index_.Get(check_id);
  if (!s) return;
  index_.Erase(check_id);
  ++at(*s).generation;
  domain_.Retire([this, slot = *s] { free_slots_.push_back(slot); });
}

}  // namespace concierge::server
