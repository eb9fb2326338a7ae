#include "server/registry.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "core/codec.h"

namespace concierge::server {

using core::Event;
using core::HealthStatus;

namespace {

// A reason as one log line: control characters become spaces, and it is cut at 300 bytes
// (check output may hold a whole response body).
std::string OneLine(std::string_view reason) {
  constexpr std::size_t kMax = 300;
  if (reason.empty()) return "no output";
  std::string out(reason.substr(0, kMax));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  if (reason.size() > kMax) out += "...";
  return out;
}

}  // namespace

Registry::Registry(const Clock& clock, RegistryOptions options, WatchHub* hub)
    : clock_(clock),
      options_(options),
      hub_(hub),
      preservation_(options.self_preservation_threshold, options.self_preservation_window) {
  PublishAcl();
}

void Registry::PublishAcl() {
  AclView view{std::make_shared<const core::AclState>(catalog_.acl()), nullptr};
  view.tokens = std::make_shared<const core::AclTokenIndex>(*view.state, options_.acl_default_allow);
  std::lock_guard lock(acl_mu_);
  acl_ = std::move(view);
}

Registry::~Registry() = default;

core::Command Registry::Prepare(core::Command command) const {
  core::Time now = clock_.Now();
  std::visit([now](auto& c) { c.at = now; }, command);
  if (auto* reg = std::get_if<core::RegisterService>(&command)) {
    for (core::CheckDefinition& check : reg->checks) {
      if (check.deregister_critical_after == core::Duration::zero()) {
        check.deregister_critical_after = options_.deregister_critical_after;
      }
    }
  }
  return command;
}

Result<core::Index> Registry::Apply(const core::Command& command) {
  const auto started = std::chrono::steady_clock::now();
  if (const auto* restore = std::get_if<core::RestoreSnapshot>(&command)) {
    core::Index index = last_applied_ + 1;
    const core::Command* whole = &command;
    core::Command assembled;
    if (restore->parts != 1) {
      // Parts in order, from 0; anything else drops what was staged. Every server applies
      // the same parts in the same order, so every server stages the same bytes.
      if (restore->part != staged_parts_) {
        staged_restore_.clear();
        staged_restore_.shrink_to_fit();
        staged_parts_ = 0;
        return Status::InvalidArgument("snapshot restore: part " + std::to_string(restore->part) +
                                       " of " + std::to_string(restore->parts) +
                                       " arrived out of order; restore again");
      }
      staged_restore_ += restore->snapshot;
      ++staged_parts_;
      if (staged_parts_ < restore->parts) {
        last_applied_ = index;
        return index;
      }
      assembled = core::RestoreSnapshot{std::move(staged_restore_), restore->at};
      staged_restore_ = {};
      staged_parts_ = 0;
      whole = &assembled;
    }
    Status st = Replace(
        [&](core::Catalog& catalog) { return catalog.Apply(*whole, index).status(); }, index);
    if (!st.ok()) {
      if (restore->parts != 1) last_applied_ = index;  // as the parts before it did
      return st;
    }
    spdlog::info("restored a snapshot: {} instances", catalog_.instance_count());
    return index;
  }
  // An election ends a restore whose parts stopped coming (its leader is gone).
  if (std::holds_alternative<core::LeaderElected>(command) && staged_parts_ != 0) {
    staged_restore_ = {};
    staged_parts_ = 0;
  }
  auto events = catalog_.Apply(command, last_applied_ + 1);
  if (!events.ok()) return events.status();
  ++last_applied_;
  if (core::IsAclCommand(command)) {
    PublishAcl();
    return last_applied_;
  }
  Metrics& metrics = Metrics::Get();
  std::vector<core::Symbol> changed_names;
  std::vector<core::Text> changed_ids;
  auto add = [](auto& v, const auto& s) {
    if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
  };
  for (const Event& e : *events) {
    if (e.kind == Event::Kind::kServiceDeregistered) {
      (std::holds_alternative<core::ReapService>(command) ? metrics.deregistrations_reaped
                                                          : metrics.deregistrations_request)
          .Inc();
    }
    HandleEvent(e);
    add(changed_names, e.service_name);
    add(changed_ids, e.service_id);
  }
  if (const auto* elected = std::get_if<core::LeaderElected>(&command)) OnLeaderElected(*elected);
  if (const auto* heard = std::get_if<core::ChecksHeard>(&command)) {
    for (const std::string& id : heard->check_ids) MirrorMark(id);
  }
  if (const auto* reg = std::get_if<core::RegisterService>(&command)) {
    for (const core::CheckDefinition& c : reg->checks) MirrorMark(c.id);
  }
  if (const auto* u = std::get_if<core::UpdateCheck>(&command)) MirrorMark(u->check_id);
  // A check update that changed only the output has no event, but changed its instance.
  const auto* update = std::get_if<core::UpdateCheck>(&command);
  if (update != nullptr && events->empty() && catalog_.index() == last_applied_) {
    const core::Text& id = *catalog_.FindCheckOwner(update->check_id);
    add(changed_ids, id);
    add(changed_names, catalog_.FindInstance(id)->service.name);
  }
  bool names_changed = catalog_.services_index() > services_index_.load();
  for (const core::Symbol& name : changed_names) dirty_names_.insert(name);
  dirty_catalog_ |= names_changed;
  for (const core::Text& id : changed_ids) {
    if (auto old = instances_.Get(id)) CountStatus(old->get(), -1);
    if (auto inst = catalog_.FindInstancePtr(id)) {
      CountStatus(inst.get(), +1);
      instances_.Put(std::move(inst));
    } else {
      instances_.Erase(id);
    }
  }
  if (!deferred_) Flush();
  // Follow-ups run after this command's effects are visible, in order.
  std::vector<core::Command> follow_ups;
  follow_ups.swap(follow_ups_);
  metrics.apply_latency.Observe(std::chrono::steady_clock::now() - started);
  for (core::Command& c : follow_ups) Run(std::move(c));
  return std::max<core::Index>(1, catalog_.index());
}

void Registry::CountStatus(const core::Instance* instance, int delta) {
  by_status_[static_cast<std::size_t>(instance->AggregateStatus())].fetch_add(
      delta, std::memory_order_relaxed);
}

void Registry::Flush() {
  if (dirty_names_.empty() && !dirty_catalog_) return;
  // Views first, then the indexes, then the watchers: a woken watcher must see the change.
  for (const core::Symbol& name : dirty_names_) Publish(name);
  index_.store(std::max<core::Index>(1, catalog_.index()));
  services_index_.store(std::max<core::Index>(1, catalog_.services_index()));
  instance_count_.store(catalog_.instance_count());
  if (hub_ != nullptr) {
    for (const core::Symbol& name : dirty_names_) hub_->Notify(name);
    if (dirty_catalog_) hub_->Notify(WatchHub::kCatalogKey);
    if (!dirty_names_.empty()) hub_->Notify(WatchHub::kAnyKey);
  }
  dirty_names_.clear();
  dirty_catalog_ = false;
}

void Registry::Run(core::Command command) {
  if (!leader_) return;
  if (proposer_) {
    proposer_(Prepare(std::move(command)));
    return;
  }
  auto result = Apply(Prepare(std::move(command)));
  if (!result.ok()) spdlog::debug("internal command refused: {}", result.status().message());
}

bool Registry::AbsorbUpdate(const core::Command& command) {
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

void Registry::WriteDeferredOutputs(core::Time now) {
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
    Run(core::UpdateCheck{id, deferred.status, std::move(deferred.output), {}});
  }
}

void Registry::MirrorMark(std::string_view check_id) {
  std::optional<std::uint32_t> s = heartbeats_.Find(check_id);
  if (!s) return;
  bool marked = catalog_.UnheardSince(check_id).has_value();
  heartbeats_.at(*s).unheard.store(marked ? 1 : 0, std::memory_order_seq_cst);
}

void Registry::OnLeaderElected(const core::LeaderElected& elected) {
  const core::Time wall_now = clock_.Now();
  const core::Time steady_now = clock_.Steady();
  std::vector<std::string> heard;
  heartbeats_.ForEach([&](std::uint32_t s, HeartbeatTable::Slot& slot) {
    std::optional<core::Time> mark = catalog_.UnheardSince(slot.check_id);
    // Flag first, then read last_seen: a concurrent heartbeat either sees the flag (and has
    // the mark cleared before it answers) or stored its time before this reads it.
    slot.unheard.store(mark ? 1 : 0, std::memory_order_seq_cst);
    if (!leader_ || !mark) return;
    const std::int64_t last = slot.last_seen.load(std::memory_order_seq_cst);
    if (last > leader_since_) {
      // Heard by this leader already. Marked by this election: that heartbeat was answered
      // without clearing the mark, so clear it now. Marked earlier: it is being cleared.
      if (*mark == elected.at) heard.push_back(slot.check_id.str());
      return;
    }
    if (*mark >= elected.at) return;  // marked now: the TTL runs from this election
    if (static_cast<HealthStatus>(slot.status.load()) == HealthStatus::kCritical) return;
    // Unheard since an earlier election: what is left of the TTL since the mark, plus at most
    // a grace to reach this leader, and never more than TTL + grace after the mark.
    const core::Duration grace = std::min(slot.ttl, options_.election_grace);
    const core::Time from_mark = *mark + slot.ttl;
    const core::Time deadline =
        std::max(from_mark, std::min(elected.at + grace, from_mark + grace));
    const core::Time steady_deadline = steady_now + (deadline - wall_now);
    slot.last_seen.store((steady_deadline - slot.ttl).time_since_epoch().count(),
                         std::memory_order_seq_cst);
    Arm(s, steady_deadline);
  });
  if (!heard.empty()) follow_ups_.push_back(core::ChecksHeard{std::move(heard), {}});
}

void Registry::set_active_checks(ActiveChecks* active) {
  active_ = active;
  if (active_ == nullptr) return;
  for (const auto& [name, group] : catalog_.services()) {
    for (const auto& inst : group.instances) {
      for (const core::Check& c : inst->checks) {
        if (c.definition.kind != core::CheckKind::kTtl) {
          active_->Track(inst->service.id, c.definition, c.status);
        }
      }
    }
  }
  active_->SetLeader(leader_);
}

void Registry::SetLeader(bool leader) {
  if (leader == leader_) return;
  leader_ = leader;
  if (active_ != nullptr) active_->SetLeader(leader);
  // Held expiries are the leader's; a new leader restarts every TTL anyway.
  held_.clear();
  recheck_at_.reset();
  // Waiting outputs are soft state, as in Consul: a new leader starts without them.
  deferred_output_.clear();
  output_due_ = {};
  preserving_.store(false, std::memory_order_relaxed);
  held_count_.store(0, std::memory_order_relaxed);
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
  Run(core::LeaderElected{});
}

std::string Registry::Image::Encode() const {
  core::Encoder e;
  e.Varint(last_applied);
  std::string out = e.Take();
  out += catalog.Encode();
  return out;
}

Status Registry::Restore(std::string_view snapshot) {
  core::Decoder d(snapshot);
  core::Index last_applied = 0;
  if (!d.Varint(&last_applied)) return Status::InvalidArgument("snapshot: truncated");
  std::string_view catalog_bytes = snapshot.substr(snapshot.size() - d.remaining());
  return Replace(
      [catalog_bytes](core::Catalog& catalog) {
        auto decoded = core::Catalog::DecodeSnapshot(catalog_bytes);
        if (!decoded.ok()) return decoded.status();
        catalog = std::move(*decoded);
        return Status::Ok();
      },
      last_applied);
}

Status Registry::Replace(const std::function<Status(core::Catalog&)>& change,
                         core::Index last_applied) {
  // Names and IDs of before and after, to republish and wake all of them.
  std::vector<core::Symbol> names;
  std::vector<core::Text> ids;
  std::vector<core::Text> checks;
  for (const auto& [name, group] : catalog_.services()) {
    names.push_back(name);
    for (const auto& inst : group.instances) {
      ids.push_back(inst->service.id);
      for (const core::Check& c : inst->checks) checks.push_back(c.id());
    }
  }
  if (Status st = change(catalog_); !st.ok()) return st;
  last_applied_ = last_applied;
  PublishAcl();
  for (const core::Text& id : checks) {
    heartbeats_.Remove(id);
    if (active_ != nullptr) active_->Untrack(id);
  }
  reaps_ = {};
  reap_due_.clear();
  output_written_.clear();
  deferred_output_.clear();
  output_due_ = {};
  core::Time now = clock_.Steady();
  for (const auto& [name, group] : catalog_.services()) {
    names.push_back(name);
    for (const auto& inst : group.instances) {
      const core::Text& id = inst->service.id;
      ids.push_back(id);
      for (const core::Check& c : inst->checks) {
        if (core::IsMaintenanceCheck(c.id())) continue;
        if (c.definition.kind != core::CheckKind::kTtl) {
          if (active_ != nullptr) active_->Track(id, c.definition, c.status);
          continue;
        }
        std::uint32_t s = heartbeats_.Add(c.id(), c.definition.ttl, c.status, now);
        if (catalog_.UnheardSince(c.id())) heartbeats_.at(s).unheard.store(1);
        if (c.status != HealthStatus::kCritical) Arm(s, now + c.definition.ttl);
      }
      ScheduleReap(id);
    }
  }
  for (const core::Symbol& name : names) Publish(name, false);
  for (std::size_t s = 0; s < by_status_.size(); ++s) {
    std::int64_t count = 0;
    for (const auto& [name, group] : catalog_.services()) count += group.by_status[s];
    by_status_[s].store(count, std::memory_order_relaxed);
  }
  for (const core::Text& id : ids) {
    if (auto inst = catalog_.FindInstancePtr(id)) {
      instances_.Put(std::move(inst));
    } else {
      instances_.Erase(id);
    }
  }
  index_.store(std::max<core::Index>(1, catalog_.index()));
  services_index_.store(std::max<core::Index>(1, catalog_.services_index()));
  instance_count_.store(catalog_.instance_count());
  if (hub_ != nullptr) {
    for (const core::Symbol& name : names) hub_->Notify(name);
    hub_->Notify(WatchHub::kCatalogKey);
    hub_->Notify(WatchHub::kAnyKey);
  }
  return Status::Ok();
}

void Registry::HandleEvent(const Event& e) {
  switch (e.kind) {
    case Event::Kind::kServiceRegistered:
    case Event::Kind::kServiceUpdated:
      // Clients' own writes are debug-level; what the registry decides itself is info.
      spdlog::debug("service {} ({}): {}", e.service_id, e.service_name, e.reason);
      return;
    case Event::Kind::kServiceDeregistered:
      spdlog::log(e.reason == "deregistered by request" ? spdlog::level::debug : spdlog::level::info,
                  "service {} ({}): deregistered: {}", e.service_id, e.service_name, e.reason);
      return;
    case Event::Kind::kCheckAdded: {
      const core::Instance* inst = catalog_.FindInstance(e.service_id);
      const core::Check* check = inst->FindCheck(e.check_id);
      // Only TTL checks are tracked; maintenance checks never expire.
      if (core::IsMaintenanceCheck(e.check_id)) {
        spdlog::info("service {} ({}): {}", e.service_id, e.service_name, e.reason);
        return;
      }
      // HTTP and TCP checks are run, not heartbeated.
      if (check->definition.kind != core::CheckKind::kTtl) {
        if (active_ != nullptr) active_->Track(e.service_id, check->definition, check->status);
        if (check->status == HealthStatus::kCritical) ScheduleReap(e.service_id);
        return;
      }
      core::Time now = clock_.Steady();
      std::uint32_t s = heartbeats_.Add(e.check_id, check->definition.ttl, check->status, now);
      if (check->status == HealthStatus::kCritical) {
        ScheduleReap(e.service_id);
      } else {
        Arm(s, now + check->definition.ttl);
      }
      return;
    }
    case Event::Kind::kCheckRemoved:
      if (core::IsMaintenanceCheck(e.check_id) && e.reason.starts_with("maintenance")) {
        spdlog::info("service {} ({}): {}", e.service_id, e.service_name, e.reason);
      }
      heartbeats_.Remove(e.check_id);
      if (active_ != nullptr) active_->Untrack(e.check_id);
      output_written_.erase(e.check_id.str());
      deferred_output_.erase(e.check_id.str());
      return;
    case Event::Kind::kCheckStatusChanged: {
      Metrics::Get()
          .transitions[static_cast<std::size_t>(e.old_status)]
                      [static_cast<std::size_t>(e.new_status)]
          .Inc();
      spdlog::info("check {} of service {} ({}): {} -> {}: {}", e.check_id, e.service_id,
                   e.service_name, core::ToString(e.old_status), core::ToString(e.new_status),
                   OneLine(e.reason));
      std::optional<std::uint32_t> s = heartbeats_.Find(e.check_id);
      if (!s) {
        const core::Instance* inst = catalog_.FindInstance(e.service_id);
        const core::Check* check = inst == nullptr ? nullptr : inst->FindCheck(e.check_id);
        if (check != nullptr && check->definition.kind != core::CheckKind::kTtl) {
          if (active_ != nullptr) active_->StatusChanged(e.check_id, e.new_status);
          if (e.new_status == HealthStatus::kCritical) ScheduleReap(e.service_id);
        }
        return;
      }
      HeartbeatTable::Slot& slot = heartbeats_.at(*s);
      slot.status.store(static_cast<std::uint8_t>(e.new_status), std::memory_order_seq_cst);
      std::int64_t last = slot.last_seen.load(std::memory_order_seq_cst);
      if (e.new_status != HealthStatus::kCritical) {
        Arm(*s, core::Time(core::Duration(last)) + slot.ttl);
        return;
      }
      ScheduleReap(e.service_id);
      // A heartbeat that arrived after the expiry was decided, but read the status before
      // it turned critical, did not ask for a transition back: do it for it.
      if (slot.expiring_last_seen != HeartbeatTable::kNotExpiring &&
          slot.expiring_last_seen != last) {
        follow_ups_.push_back(core::UpdateCheck{e.check_id.str(), HealthStatus::kPassing,
                                                "heartbeat received", {},
                                                core::CheckCause::kHeartbeat});
      }
      slot.expiring_last_seen = HeartbeatTable::kNotExpiring;
      return;
    }
  }
}

void Registry::Arm(std::uint32_t s, core::Time deadline) {
  HeartbeatTable::Slot& slot = heartbeats_.at(s);
  // One live entry per slot: an earlier one re-arms itself lazily when it fires.
  if (slot.armed <= deadline) return;  // kNotArmed is later than any deadline
  slot.armed = deadline;
  expiry_.Schedule(deadline, s, slot.generation);
}

void Registry::ScheduleReap(const core::Text& service_id) {
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

void Registry::RunTimers() {
  if (!leader_) return;
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
    Run(core::ReapService{id.str(), {}});
  }
}

void Registry::Expire(const Due& due, core::Time now) {
  HeartbeatTable::Slot& slot = heartbeats_.at(due.slot);
  core::Time last_seen{core::Duration(due.last)};
  slot.expiring_last_seen = due.last;
  Metrics::Get().expiries.Inc();
  Run(core::UpdateCheck{slot.check_id.str(), HealthStatus::kCritical,
                        "TTL expired: no heartbeat for " + core::FormatDuration(now - last_seen),
                        {}, core::CheckCause::kTtlExpired});
}

std::vector<Registry::Due> Registry::Preserve(std::vector<Due> due, core::Time now) {
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
  const bool was_active = preservation_.active();
  const std::size_t tracked = heartbeats_.size();
  if (preservation_.ShouldHold(now, due.size(), tracked)) {
    std::unordered_map<std::uint32_t, std::uint32_t> held;
    for (const Due& d : due) {
      if (!held_.contains(d.slot)) Metrics::Get().expiries_paused.Inc();
      held.emplace(d.slot, heartbeats_.at(d.slot).generation);
    }
    held_ = std::move(held);
    if (!was_active) {
      spdlog::warn(
          "self-preservation engaged: {} of {} TTL checks would expire within {} ({} already "
          "did); expiry is paused until heartbeats return",
          due.size() + preservation_.recent(), tracked,
          core::FormatDuration(preservation_.window()), preservation_.recent());
    }
    recheck_at_ = now + std::min<core::Duration>(std::chrono::seconds(1), preservation_.window());
    preserving_.store(true, std::memory_order_relaxed);
    held_count_.store(held_.size(), std::memory_order_relaxed);
    return {};
  }
  if (was_active) {
    spdlog::warn("self-preservation ended: heartbeats returned; expiring the {} checks that are "
                 "still silent",
                 due.size());
  }
  held_.clear();
  recheck_at_.reset();
  // Waiting outputs are soft state, as in Consul: a new leader starts without them.
  deferred_output_.clear();
  output_due_ = {};
  preserving_.store(false, std::memory_order_relaxed);
  held_count_.store(0, std::memory_order_relaxed);
  preservation_.Proposed(now, due.size());
  return due;
}

std::optional<core::Duration> Registry::NextTimer() const {
  std::optional<core::Duration> next;
  if (!leader_) return next;
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

void Registry::Publish(const core::Symbol& name, bool reuse_tags) {
  const core::ServiceGroup* group = catalog_.FindService(name);
  if (group == nullptr) {
    views_.Erase(name);
    return;
  }
  auto view = std::make_shared<ServiceView>();
  view->name = name.str();
  view->index = group->index;
  view->instances = group->instances;
  view->tags_index = group->tags_index;
  view->by_status = group->by_status;
  if (reuse_tags) {
    views_.With(name, [&](const std::shared_ptr<const ServiceView>& old) {
      if (old->tags_index == group->tags_index) view->tags = old->tags;
    });
  }
  if (view->tags == nullptr) {
    auto tags = std::make_shared<std::vector<std::string>>();
    for (const auto& [tag, count] : group->tags) tags->push_back(tag.str());
    view->tags = std::move(tags);
  }
  views_.Put(name.view(), std::move(view));
}

std::shared_ptr<const ServiceView> Registry::Service(std::string_view name) const {
  return views_.Get(name).value_or(nullptr);
}

std::shared_ptr<const core::Instance> Registry::Instance(std::string_view service_id) const {
  return instances_.Get(service_id).value_or(nullptr);
}

core::Index Registry::ServiceIndex(std::string_view name) const {
  core::Index index = 0;
  views_.With(name, [&](const auto& view) { index = view->index; });
  return index != 0 ? index : services_index();
}

std::vector<std::pair<std::string, std::vector<std::string>>> Registry::ServiceNames() const {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  views_.ForEach(
      [&](std::string_view name, const auto& view) { out.emplace_back(name, *view->tags); });
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::shared_ptr<const core::Instance>> Registry::Instances() const {
  std::vector<std::shared_ptr<const core::Instance>> out;
  instances_.ForEach([&](std::string_view, const auto& inst) { out.push_back(inst); });
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a->service.id < b->service.id; });
  return out;
}

}  // namespace concierge::server
