#include "server/expiry_scheduler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>

#include "server/metrics.h"

namespace concierge::server {

using core::HealthStatus;

ExpiryScheduler::ExpiryScheduler(const Clock& clock, ExpiryOptions options, EpochDomain& epoch,
                                 const core::Catalog& catalog, Metrics& metrics, Propose propose)
    : clock_(clock),
      options_(options),
      catalog_(catalog),
      metrics_(metrics),
      propose_(std::move(propose)),
      heartbeats_(epoch),
      preservation_(options.self_preservation_threshold, options.self_preservation_window) {}

void ExpiryScheduler::TtlCheckAdded(const core::Check& check, const core::Text& service_id) {
  core::Time now = clock_.Steady();
  std::uint32_t s = heartbeats_.Add(check.id(), check.definition.ttl, check.status, now);
  if (check.status == HealthStatus::kCritical) {
    ScheduleReap(service_id);
  } else {
    Arm(s, now + check.definition.ttl);
  }
}

bool ExpiryScheduler::TtlStatusChanged(const core::Event& e) {
  std::optional<std::uint32_t> s = heartbeats_.Find(e.check_id);
  if (!s) return false;
  HeartbeatTable::Slot& slot = heartbeats_.at(*s);
  slot.status.store(static_cast<std::uint8_t>(e.new_status), std::memory_order_seq_cst);
  std::int64_t last = slot.last_seen.load(std::memory_order_seq_cst);
  if (e.new_status != HealthStatus::kCritical) {
    Arm(*s, core::Time(core::Duration(last)) + slot.ttl);
    return true;
  }
  ScheduleReap(e.service_id);
  // A heartbeat that arrived after the expiry was decided, but read the status before it
  // turned critical, did not ask for a transition back: do it for it.
  if (slot.expiring_last_seen != HeartbeatTable::kNotExpiring && slot.expiring_last_seen != last) {
    follow_ups_.push_back(core::UpdateCheck{e.check_id.str(),
                                            HealthStatus::kPassing,
                                            "heartbeat received",
                                            {},
                                            core::CheckCause::kHeartbeat});
  }
  slot.expiring_last_seen = HeartbeatTable::kNotExpiring;
  return true;
}

void ExpiryScheduler::CheckRemoved(const core::Text& check_id) {
  heartbeats_.Remove(check_id);
  output_written_.erase(check_id.str());
  deferred_output_.erase(check_id.str());
}

void ExpiryScheduler::ScheduleReap(const core::Text& service_id) {
  const core::Instance* inst = catalog_.FindInstance(service_id);
  if (inst == nullptr) return;
  std::optional<core::Time> due = core::Catalog::ReapDeadline(*inst);
  if (!due) return;
  auto [it, added] = reap_due_.try_emplace(service_id, *due);
  if (!added) {
    if (it->second == *due) return;
    it->second = *due;
  }
  reaps_.emplace(*due, service_id);
  // A check that flaps leaves superseded entries behind: rebuild from the live ones before
  // they outnumber them.
  if (reaps_.size() > 2 * reap_due_.size() + 64) {
    std::vector<Reap> live;
    live.reserve(reap_due_.size());
    for (const auto& [id, at] : reap_due_) live.emplace_back(at, id);
    reaps_ = decltype(reaps_)(std::greater<>(), std::move(live));
  }
}

bool ExpiryScheduler::AbsorbUpdate(const core::Command& command) {
  const auto* update = std::get_if<core::UpdateCheck>(&command);
  if (update == nullptr) return false;
  const core::Text* owner = catalog_.FindCheckOwner(update->check_id);
  const core::Instance* inst = owner == nullptr ? nullptr : catalog_.FindInstance(*owner);
  const core::Check* check = inst == nullptr ? nullptr : inst->FindCheck(update->check_id);
  // A check marked unheard since an election needs the write that clears the mark.
  if (check == nullptr || check->status != update->status ||
      catalog_.UnheardSince(update->check_id)) {
    deferred_output_.erase(update->check_id);
    return false;
  }
  if (check->output.view() == update->output) {
    deferred_output_.erase(update->check_id);
    return true;
  }
  if (options_.check_update_interval <= core::Duration::zero()) return false;
  const core::Time now = clock_.Now();
  auto [written, first] = output_written_.try_emplace(update->check_id, now);
  if (first || now - written->second >= options_.check_update_interval) {
    written->second = now;
    deferred_output_.erase(update->check_id);
    return false;
  }
  const core::Time due = written->second + options_.check_update_interval;
  auto [it, added] =
      deferred_output_.try_emplace(update->check_id, DeferredOutput{update->status, {}, due});
  it->second.status = update->status;
  it->second.output = update->output;
  if (added) output_due_.emplace(due, update->check_id);
  return true;
}

void ExpiryScheduler::WriteDeferredOutputs(core::Time now) {
  while (!output_due_.empty() && output_due_.top().first <= now) {
    auto [at, id] = output_due_.top();
    output_due_.pop();
    auto it = deferred_output_.find(id);
    if (it == deferred_output_.end() || it->second.due != at) continue;  // written meanwhile
    DeferredOutput deferred = std::move(it->second);
    deferred_output_.erase(it);
    output_written_[id] = now;
    const core::Text* owner = catalog_.FindCheckOwner(id);
    const core::Instance* inst = owner == nullptr ? nullptr : catalog_.FindInstance(*owner);
    const core::Check* check = inst == nullptr ? nullptr : inst->FindCheck(id);
    if (check == nullptr || check->status != deferred.status) continue;
    propose_(core::UpdateCheck{id, deferred.status, std::move(deferred.output), {}});
  }
}

void ExpiryScheduler::MirrorMark(std::string_view check_id) {
  std::optional<std::uint32_t> s = heartbeats_.Find(check_id);
  if (!s) return;
  bool marked = catalog_.UnheardSince(check_id).has_value();
  heartbeats_.at(*s).unheard.store(marked ? 1 : 0, std::memory_order_seq_cst);
}

void ExpiryScheduler::LeaderElected(const core::LeaderElected& elected, bool marked) {
  if (!marked && !leader()) return;
  std::vector<std::string> heard;
  heartbeats_.ForEach([&](std::uint32_t s, HeartbeatTable::Slot& slot) {
    std::optional<core::Time> mark = catalog_.UnheardSince(slot.check_id);
    // Flag first, then read last_seen: a concurrent heartbeat either sees the flag (and has
    // the mark cleared before it answers) or stored its time before this reads it.
    slot.unheard.store(mark ? 1 : 0, std::memory_order_seq_cst);
    if (!leader() || !mark) return;
    const std::int64_t last = slot.last_seen.load(std::memory_order_seq_cst);
    if (last > leader_since_) {
      // Heard by this leader already. Marked by this election: that heartbeat was answered
      // without clearing the mark, so clear it now. Marked earlier: it is being cleared.
      if (*mark == elected.at) heard.push_back(slot.check_id.str());
      return;
    }
    if (*mark >= elected.at) return;  // marked now: the TTL runs from this election
    if (static_cast<HealthStatus>(slot.status.load()) == HealthStatus::kCritical) return;
    ResumeMarked(s, slot, *mark, elected);
  });
  if (!heard.empty()) follow_ups_.push_back(core::ChecksHeard{std::move(heard), {}});
}

void ExpiryScheduler::ResumeMarked(std::uint32_t s, HeartbeatTable::Slot& slot, core::Time mark,
                                   const core::LeaderElected& elected) {
  // What is left of the TTL since the mark, plus at most a grace to reach this leader, and
  // never more than TTL + grace after the mark.
  const core::Duration grace = std::min(slot.ttl, options_.election_grace);
  const core::Time from_mark = mark + slot.ttl;
  const core::Time deadline = std::max(from_mark, std::min(elected.at + grace, from_mark + grace));
  const core::Time steady_deadline = clock_.Steady() + (deadline - clock_.Now());
  slot.last_seen.store((steady_deadline - slot.ttl).time_since_epoch().count(),
                       std::memory_order_seq_cst);
  Arm(s, steady_deadline);
}

void ExpiryScheduler::Rebuild(const std::vector<core::Text>& old_checks) {
  for (const core::Text& id : old_checks) heartbeats_.Remove(id);
  reaps_ = {};
  reap_due_.clear();
  output_written_.clear();
  deferred_output_.clear();
  output_due_ = {};
  core::Time now = clock_.Steady();
  for (const auto& [name, group] : catalog_.services()) {
    for (const auto& inst : group.instances) {
      for (const core::Check& c : inst->checks) {
        if (core::IsMaintenanceCheck(c.id()) || c.definition.kind != core::CheckKind::kTtl) {
          continue;
        }
        std::uint32_t s = heartbeats_.Add(c.id(), c.definition.ttl, c.status, now);
        if (catalog_.UnheardSince(c.id())) heartbeats_.at(s).unheard.store(1);
        if (c.status != HealthStatus::kCritical) Arm(s, now + c.definition.ttl);
      }
      ScheduleReap(inst->service.id);
    }
  }
}

void ExpiryScheduler::SetLeader(bool leader) {
  leader_.store(leader, std::memory_order_relaxed);
  // Held expiries are the leader's; a new leader restarts every TTL anyway.
  Release();
  // Waiting outputs are soft state, as in Consul: a new leader starts without them.
  deferred_output_.clear();
  output_due_ = {};
  if (!leader) return;
  core::Time now = clock_.Steady();
  leader_since_ = now.time_since_epoch().count();
  heartbeats_.ForEach([&](std::uint32_t s, HeartbeatTable::Slot& slot) {
    slot.last_seen.store(now.time_since_epoch().count(), std::memory_order_seq_cst);
    slot.expiring_last_seen = HeartbeatTable::kNotExpiring;
    if (static_cast<HealthStatus>(slot.status.load()) != HealthStatus::kCritical) {
      Arm(s, now + slot.ttl);
    }
  });
}

void ExpiryScheduler::Arm(std::uint32_t s, core::Time deadline) {
  HeartbeatTable::Slot& slot = heartbeats_.at(s);
  // One live entry per slot: an earlier one re-arms itself lazily when it fires.
  if (slot.armed <= deadline) return;  // kNotArmed is later than any deadline
  slot.armed = deadline;
  expiry_.Schedule(deadline, s, slot.generation);
}

void ExpiryScheduler::RunTimers() {
  if (!leader()) return;
  core::Time now = clock_.Steady();
  std::vector<Due> due;
  while (std::optional<core::ExpiryQueue::Entry> e = expiry_.PopDue(now)) {
    HeartbeatTable::Slot& slot = heartbeats_.at(e->key);
    if (slot.generation != e->generation || slot.armed != e->deadline) continue;  // stale
    slot.armed = HeartbeatTable::kNotArmed;
    auto status = static_cast<HealthStatus>(slot.status.load(std::memory_order_seq_cst));
    if (status == HealthStatus::kCritical) continue;  // re-armed when it passes again
    std::int64_t last = slot.last_seen.load(std::memory_order_seq_cst);
    core::Time last_seen{core::Duration(last)};
    if (!core::TtlExpired(last_seen, slot.ttl, now)) {
      Arm(e->key, last_seen + slot.ttl);
      continue;
    }
    due.push_back({e->key, last});
  }
  if (preservation_.enabled()) due = Preserve(std::move(due), now);
  for (const Due& d : due) Expire(d, now);
  core::Time wall = clock_.Now();
  WriteDeferredOutputs(wall);
  RunReaps(wall);
}

void ExpiryScheduler::RunReaps(core::Time wall) {
  while (!reaps_.empty() && reaps_.top().first <= wall) {
    auto [at, id] = reaps_.top();
    reaps_.pop();
    auto live = reap_due_.find(id);
    if (live == reap_due_.end() || live->second != at) continue;  // superseded
    reap_due_.erase(live);
    // Only a reap that will happen goes through the log: the instance may have recovered
    // or gone since it was scheduled.
    const core::Instance* inst = catalog_.FindInstance(id);
    std::optional<core::Time> due = inst ? core::Catalog::ReapDeadline(*inst) : std::nullopt;
    if (!due) continue;
    if (*due > wall) {
      ScheduleReap(id);
      continue;
    }
    propose_(core::ReapService{id.str(), {}});
  }
}

void ExpiryScheduler::Expire(const Due& due, core::Time now) {
  HeartbeatTable::Slot& slot = heartbeats_.at(due.slot);
  core::Time last_seen{core::Duration(due.last)};
  slot.expiring_last_seen = due.last;
  metrics_.expiries.Inc();
  propose_(
      core::UpdateCheck{slot.check_id.str(),
                        HealthStatus::kCritical,
                        "TTL expired: no heartbeat for " + core::FormatDuration(now - last_seen),
                        {},
                        core::CheckCause::kTtlExpired});
}

std::vector<ExpiryScheduler::Due> ExpiryScheduler::Preserve(std::vector<Due> due, core::Time now) {
  RecheckHeld(due, now);
  const bool was_active = preservation_.active();
  const std::size_t tracked = heartbeats_.size();
  if (preservation_.ShouldHold(now, due.size(), tracked)) {
    Hold(due, now);
    if (!was_active) {
      spdlog::warn(
          "self-preservation engaged: {} of {} TTL checks would expire within {} ({} already "
          "did); expiry is paused until heartbeats return",
          due.size() + preservation_.recent(), tracked,
          core::FormatDuration(preservation_.window()), preservation_.recent());
    }
    return {};
  }
  if (was_active) {
    spdlog::warn(
        "self-preservation ended: heartbeats returned; expiring the {} checks that are "
        "still silent",
        due.size());
  }
  Release();
  preservation_.Proposed(now, due.size());
  return due;
}

void ExpiryScheduler::RecheckHeld(std::vector<Due>& due, core::Time now) {
  // Held expiries are looked at again: a heartbeat came back, or the check went away.
  for (const auto& [s, generation] : held_) {
    HeartbeatTable::Slot& slot = heartbeats_.at(s);
    if (slot.generation != generation) continue;
    if (static_cast<HealthStatus>(slot.status.load(std::memory_order_seq_cst)) ==
        HealthStatus::kCritical) {
      continue;
    }
    std::int64_t last = slot.last_seen.load(std::memory_order_seq_cst);
    core::Time last_seen{core::Duration(last)};
    if (!core::TtlExpired(last_seen, slot.ttl, now)) {
      Arm(s, last_seen + slot.ttl);
      continue;
    }
    if (std::none_of(due.begin(), due.end(), [s = s](const Due& d) { return d.slot == s; })) {
      due.push_back({s, last});
    }
  }
}

void ExpiryScheduler::Hold(const std::vector<Due>& due, core::Time now) {
  std::unordered_map<std::uint32_t, std::uint32_t> held;
  for (const Due& d : due) {
    if (!held_.contains(d.slot)) metrics_.expiries_paused.Inc();
    held.emplace(d.slot, heartbeats_.at(d.slot).generation);
  }
  held_ = std::move(held);
  recheck_at_ = now + std::min<core::Duration>(std::chrono::seconds(1), preservation_.window());
  preserving_.store(true, std::memory_order_relaxed);
  held_count_.store(held_.size(), std::memory_order_relaxed);
}

void ExpiryScheduler::Release() {
  held_.clear();
  recheck_at_.reset();
  preserving_.store(false, std::memory_order_relaxed);
  held_count_.store(0, std::memory_order_relaxed);
}

std::optional<core::Duration> ExpiryScheduler::NextTimer() const {
  std::optional<core::Duration> next;
  if (!leader()) return next;
  if (auto d = expiry_.next_deadline()) next = *d - clock_.Steady();
  if (recheck_at_) {
    core::Duration r = *recheck_at_ - clock_.Steady();
    if (!next || r < *next) next = r;
  }
  if (!reaps_.empty()) {
    core::Duration r = reaps_.top().first - clock_.Now();
    if (!next || r < *next) next = r;
  }
  if (!output_due_.empty()) {
    core::Duration r = output_due_.top().first - clock_.Now();
    if (!next || r < *next) next = r;
  }
  if (next && *next < core::Duration::zero()) next = core::Duration::zero();
  return next;
}

}  // namespace concierge::server
