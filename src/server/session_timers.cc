#include "server/session_timers.h"

#include <string>
#include <vector>

namespace concierge::server {

void SessionTimers::Added(const core::Session& session) {
  if (session.ttl <= core::Duration::zero()) return;
  const core::Time now = clock_.Steady();
  std::uint32_t s =
      table_.Add(core::Text(session.id), session.ttl, core::HealthStatus::kPassing, now);
  if (leader_) Arm(s, now + session.ttl);
}

void SessionTimers::Rebuild(const core::KvState& kv) {
  std::vector<std::string> ids;
  table_.ForEach(
      [&](std::uint32_t, HeartbeatTable::Slot& slot) { ids.emplace_back(slot.check_id.view()); });
  for (const std::string& id : ids) table_.Remove(id);
  for (const auto& session : kv.sessions()) Added(*session);
}

void SessionTimers::SetLeader(bool leader) {
  leader_ = leader;
  if (!leader) return;
  const core::Time now = clock_.Steady();
  table_.ForEach([&](std::uint32_t s, HeartbeatTable::Slot& slot) {
    slot.last_seen.store(now.time_since_epoch().count(), std::memory_order_seq_cst);
    slot.armed = HeartbeatTable::kNotArmed;
    Arm(s, now + slot.ttl);
  });
}

void SessionTimers::Arm(std::uint32_t s, core::Time deadline) {
  HeartbeatTable::Slot& slot = table_.at(s);
  if (slot.armed <= deadline) return;  // one live entry per slot
  slot.armed = deadline;
  deadlines_.Schedule(deadline, s, slot.generation);
}

void SessionTimers::RunTimers() {
  if (!leader_) return;
  const core::Time now = clock_.Steady();
  while (std::optional<core::ExpiryQueue::Entry> e = deadlines_.PopDue(now)) {
    HeartbeatTable::Slot& slot = table_.at(e->key);
    if (slot.generation != e->generation || slot.armed != e->deadline) continue;  // stale
    slot.armed = HeartbeatTable::kNotArmed;
    core::Time last{core::Duration(slot.last_seen.load(std::memory_order_seq_cst))};
    if (!core::TtlExpired(last, slot.ttl, now)) {
      Arm(e->key, last + slot.ttl);
      continue;
    }
    // Not re-armed: the session ends when this applies (or at the next election, which
    // restarts every TTL, if it does not).
    propose_(core::SessionDestroy{std::string(slot.check_id.view()), true, {}});
  }
}

std::optional<core::Duration> SessionTimers::NextTimer() const {
  if (!leader_) return std::nullopt;
  std::optional<core::Time> next = deadlines_.next_deadline();
  if (!next) return std::nullopt;
  return *next - clock_.Steady();
}

}  // namespace concierge::server
