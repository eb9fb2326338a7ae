#include "server/registry.h"

#include <spdlog/spdlog.h>

#include <algorithm>

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

// One line per change: a client's own writes at debug level, what the registry or an
// operator decided (expiries, reaps, maintenance, renames) at info.
void LogEvent(const Event& e) {
  const bool client = e.cause == Event::Cause::kRequest;
  switch (e.kind) {
    case Event::Kind::kServiceRegistered:
    case Event::Kind::kServiceUpdated:
      spdlog::debug("service {} ({}): {}", e.service_id, e.service_name, e.reason);
      return;
    case Event::Kind::kServiceDeregistered:
      spdlog::log(client ? spdlog::level::debug : spdlog::level::info,
                  "service {} ({}): deregistered: {}", e.service_id, e.service_name, e.reason);
      return;
    case Event::Kind::kCheckAdded:
    case Event::Kind::kCheckRemoved:
      if (e.cause == Event::Cause::kMaintenance) {
        spdlog::info("service {} ({}): {}", e.service_id, e.service_name, e.reason);
      }
      return;
    case Event::Kind::kCheckStatusChanged:
      spdlog::info("check {} of service {} ({}): {} -> {}: {}", e.check_id, e.service_id,
                   e.service_name, core::ToString(e.old_status), core::ToString(e.new_status),
                   OneLine(e.reason));
      return;
    case Event::Kind::kSessionEnded:
      // A destroy is the client's business; a lapsed TTL or a failed check is news.
      spdlog::log(e.reason == "destroyed" ? spdlog::level::debug : spdlog::level::info,
                  "session {} ended: {}", e.check_id, e.reason);
      return;
  }
}

ExpiryOptions ExpiryOptionsOf(const RegistryOptions& options) {
  return {options.self_preservation_threshold, options.self_preservation_window,
          options.election_grace, options.check_update_interval};
}

}  // namespace

Registry::Registry(const Clock& clock, RegistryOptions options, WatchHub* hub, Metrics& metrics)
    : clock_(clock),
      metrics_(metrics),
      options_(options),
      scheduler_(clock, ExpiryOptionsOf(options), epoch_, catalog_, metrics,
                 [this](core::Command command) { Run(std::move(command)); }),
      sessions_(clock, epoch_, [this](core::Command command) { Run(std::move(command)); }),
      views_(catalog_, epoch_, hub, options.acl_default_allow) {}

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
  if (std::holds_alternative<core::RestoreSnapshot>(command)) return ApplyRestore(command);
  // An election ends a restore whose parts stopped coming (its leader is gone).
  if (std::holds_alternative<core::LeaderElected>(command) && staged_parts_ != 0) {
    staged_restore_ = {};
    staged_parts_ = 0;
  }
  auto events = catalog_.Apply(command, last_applied_ + 1);
  if (!events.ok()) return events.status();
  ++last_applied_;
  if (core::IsAclCommand(command)) {
    views_.PublishAcl();
    return last_applied_;
  }
  for (const Event& e : *events) HandleEvent(e);
  AfterApply(command, *events);
  if (!deferred_) Flush();
  // Follow-ups run after this command's effects are visible, in order.
  std::vector<core::Command> follow_ups = scheduler_.TakeFollowUps();
  metrics_.apply_latency.Observe(std::chrono::steady_clock::now() - started);
  for (core::Command& c : follow_ups) Run(std::move(c));
  FollowAliases();
  return std::max<core::Index>(1, catalog_.index());
}

Result<core::Index> Registry::ApplyRestore(const core::Command& command) {
  const auto& restore = std::get<core::RestoreSnapshot>(command);
  core::Index index = last_applied_ + 1;
  const core::Command* whole = &command;
  core::Command assembled;
  if (restore.parts != 1) {
    // Parts in order, from 0; anything else drops what was staged. Every server applies
    // the same parts in the same order, so every server stages the same bytes.
    if (restore.part != staged_parts_) {
      staged_restore_.clear();
      staged_restore_.shrink_to_fit();
      staged_parts_ = 0;
      return Status::InvalidArgument("snapshot restore: part " + std::to_string(restore.part) +
                                     " of " + std::to_string(restore.parts) +
                                     " arrived out of order; restore again");
    }
    staged_restore_ += restore.snapshot;
    ++staged_parts_;
    if (staged_parts_ < restore.parts) {
      last_applied_ = index;
      return index;
    }
    assembled = core::RestoreSnapshot{std::move(staged_restore_), restore.at};
    staged_restore_ = {};
    staged_parts_ = 0;
    whole = &assembled;
  }
  Status st =
      Replace([&](core::Catalog& catalog) { return catalog.Apply(*whole, index).status(); }, index);
  if (!st.ok()) {
    if (restore.parts != 1) last_applied_ = index;  // as the parts before it did
    return st;
  }
  spdlog::info("restored a snapshot: {} instances", catalog_.instance_count());
  return index;
}

void Registry::AfterApply(const core::Command& command, const std::vector<Event>& events) {
  if (const auto* elected = std::get_if<core::LeaderElected>(&command)) {
    scheduler_.LeaderElected(*elected, catalog_.last_election_marked());
  }
  if (const auto* heard = std::get_if<core::ChecksHeard>(&command)) {
    for (const std::string& id : heard->check_ids) scheduler_.MirrorMark(id);
  }
  if (const auto* reg = std::get_if<core::RegisterService>(&command)) {
    for (const core::CheckDefinition& c : reg->checks) scheduler_.MirrorMark(c.id);
  }
  const auto* update = std::get_if<core::UpdateCheck>(&command);
  if (update != nullptr) scheduler_.MirrorMark(update->check_id);
  // The events of one instance come together: republishing it once per run of them keeps a
  // command over every instance (node maintenance) linear.
  if (const auto* created = std::get_if<core::SessionCreate>(&command)) {
    sessions_.Added(*catalog_.kv().FindSession(created->session.id));
  }
  const Event* last = nullptr;
  for (const Event& e : events) {
    if (e.kind == Event::Kind::kSessionEnded) continue;  // no instance changed
    if (last != nullptr && last->service_id == e.service_id &&
        last->service_name == e.service_name) {
      continue;
    }
    last = &e;
    views_.InstanceChanged(e.service_id);
    views_.ServiceChanged(e.service_name, e.service_id);
  }
  // A check update that changed only the output has no event, but changed its instance.
  if (update != nullptr && events.empty() && catalog_.index() == last_applied_) {
    const core::Text id = *catalog_.FindCheckOwner(update->check_id);
    views_.InstanceChanged(id);
    views_.ServiceChanged(catalog_.FindInstance(id)->service.name, id);
  }
}

void Registry::Run(core::Command command) {
  if (!scheduler_.leader()) return;
  if (proposer_) {
    proposer_(Prepare(std::move(command)));
    return;
  }
  auto result = Apply(Prepare(std::move(command)));
  if (!result.ok()) spdlog::debug("internal command refused: {}", result.status().message());
}

void Registry::set_active_checks(ActiveChecks* active) {
  active_ = active;
  if (active_ == nullptr) return;
  TrackActiveChecks();
  active_->SetLeader(scheduler_.leader());
}

void Registry::TrackActiveChecks() {
  for (const auto& [name, group] : catalog_.services()) {
    for (const auto& inst : group.instances) {
      for (const core::Check& c : inst->checks) {
        if (core::IsProbed(c.definition.kind)) {
          active_->Track(inst->service.id, c.definition, c.status);
        }
      }
    }
  }
}

void Registry::SetLeader(bool leader) {
  if (leader == scheduler_.leader()) return;
  scheduler_.SetLeader(leader);
  sessions_.SetLeader(leader);
  if (active_ != nullptr) active_->SetLeader(leader);
  if (leader) {
    Run(core::LeaderElected{});
    aliases_.MarkAllDue();
    FollowAliases();
  }
}

void Registry::FollowAliases() {
  if (!scheduler_.leader()) {
    aliases_.ClearDue();
    return;
  }
  for (core::UpdateCheck& update : aliases_.TakeUpdates(catalog_)) Run(std::move(update));
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
  // Names, IDs and checks of before, to republish and forget.
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
  if (active_ != nullptr) {
    for (const core::Text& id : checks) active_->Untrack(id);
    TrackActiveChecks();
  }
  scheduler_.Rebuild(checks);
  sessions_.Rebuild(catalog_.kv());
  views_.PublishAll(names, ids);
  aliases_.Rebuild(catalog_);
  FollowAliases();
  return Status::Ok();
}

void Registry::HandleEvent(const Event& e) {
  LogEvent(e);
  aliases_.Observe(catalog_, e);
  switch (e.kind) {
    case Event::Kind::kServiceRegistered:
    case Event::Kind::kServiceUpdated:
      return;
    case Event::Kind::kServiceDeregistered:
      (e.cause == Event::Cause::kReap ? metrics_.deregistrations_reaped
                                      : metrics_.deregistrations_request)
          .Inc();
      return;
    case Event::Kind::kCheckAdded:
      CheckAdded(e);
      return;
    case Event::Kind::kCheckRemoved:
      scheduler_.CheckRemoved(e.check_id);
      if (active_ != nullptr) active_->Untrack(e.check_id);
      return;
    case Event::Kind::kCheckStatusChanged:
      CheckStatusChanged(e);
      return;
    case Event::Kind::kSessionEnded:
      sessions_.Removed(e.check_id);
      return;
  }
}

void Registry::CheckAdded(const Event& e) {
  // Maintenance checks never expire.
  if (core::IsMaintenanceCheck(e.check_id)) return;
  const core::Check* check = catalog_.FindInstance(e.service_id)->FindCheck(e.check_id);
  // Active checks are run (alias checks follow their service), not heartbeated.
  if (check->definition.kind != core::CheckKind::kTtl) {
    if (active_ != nullptr && core::IsProbed(check->definition.kind)) {
      active_->Track(e.service_id, check->definition, check->status);
    }
    if (check->status == HealthStatus::kCritical) scheduler_.ScheduleReap(e.service_id);
    return;
  }
  scheduler_.TtlCheckAdded(*check, e.service_id);
}

void Registry::CheckStatusChanged(const Event& e) {
  metrics_
      .transitions[static_cast<std::size_t>(e.old_status)][static_cast<std::size_t>(e.new_status)]
      .Inc();
  if (scheduler_.TtlStatusChanged(e)) return;
  const core::Instance* inst = catalog_.FindInstance(e.service_id);
  const core::Check* check = inst == nullptr ? nullptr : inst->FindCheck(e.check_id);
  if (check != nullptr && check->definition.kind != core::CheckKind::kTtl) {
    if (active_ != nullptr) active_->StatusChanged(e.check_id, e.new_status);
    if (e.new_status == HealthStatus::kCritical) scheduler_.ScheduleReap(e.service_id);
  }
}

}  // namespace concierge::server
