#include "server/alias_checks.h"

namespace concierge::server {

using core::HealthStatus;

void AliasChecks::Observe(const core::Catalog& catalog, const core::Event& e) {
  using Kind = core::Event::Kind;
  if (e.kind == Kind::kSessionEnded) return;
  const std::string check_id(e.check_id.view());
  if (e.kind == Kind::kCheckAdded) {
    const core::Instance* inst = catalog.FindInstance(e.service_id);
    const core::Check* check = inst == nullptr ? nullptr : inst->FindCheck(e.check_id);
    if (check != nullptr && check->definition.kind == core::CheckKind::kAlias) {
      Add(check_id, check->definition.active->target);
    }
  } else if (e.kind == Kind::kCheckRemoved && target_of_.contains(check_id)) {
    Remove(check_id);
  }
  // Whatever happened to the instance, those who follow it look again.
  if (auto it = followers_.find(std::string(e.service_id.view())); it != followers_.end()) {
    due_.insert(it->second.begin(), it->second.end());
  }
  // Node checks (node maintenance) are what an alias of the node follows.
  if (e.check_id == core::kNodeMaintenanceCheckId) {
    if (auto it = followers_.find(""); it != followers_.end()) {
      due_.insert(it->second.begin(), it->second.end());
    }
  }
}

void AliasChecks::Rebuild(const core::Catalog& catalog) {
  target_of_.clear();
  followers_.clear();
  all_.clear();
  due_.clear();
  for (const auto& [name, group] : catalog.services()) {
    for (const auto& inst : group.instances) {
      for (const core::Check& c : inst->checks) {
        if (c.definition.kind == core::CheckKind::kAlias) {
          Add(c.id().str(), c.definition.active->target);
        }
      }
    }
  }
}

void AliasChecks::Add(const std::string& check_id, const std::string& target) {
  Remove(check_id);
  target_of_[check_id] = target;
  followers_[target].insert(check_id);
  all_.insert(check_id);
  due_.insert(check_id);
}

void AliasChecks::Remove(const std::string& check_id) {
  auto it = target_of_.find(check_id);
  if (it == target_of_.end()) return;
  auto f = followers_.find(it->second);
  f->second.erase(check_id);
  if (f->second.empty()) followers_.erase(f);
  target_of_.erase(it);
  all_.erase(check_id);
  due_.erase(check_id);
}

AliasChecks::Health AliasChecks::Of(const core::Catalog& catalog, std::string_view target) {
  if (target.empty()) {
    const auto& maintenance = catalog.node_maintenance();
    if (maintenance) {
      return {maintenance->status, "Aliased check \"Node Maintenance Mode\" failing: " +
                                       maintenance->definition.notes.str()};
    }
    return {HealthStatus::kPassing, "All checks passing."};
  }
  const core::Instance* inst = catalog.FindInstance(target);
  if (inst == nullptr) {
    return {HealthStatus::kCritical,
            "Service " + std::string(target) + " could not be found on this node"};
  }
  if (inst->checks.empty()) return {HealthStatus::kPassing, "No checks found."};
  const core::Check* worst = nullptr;
  for (const core::Check& c : inst->checks) {
    if (worst == nullptr || c.status > worst->status) worst = &c;
  }
  if (worst->status == HealthStatus::kPassing)
    return {HealthStatus::kPassing, "All checks passing."};
  const std::string name =
      worst->definition.name.empty() ? worst->id().str() : worst->definition.name.str();
  return {worst->status, "Aliased check \"" + name + "\" failing: " + worst->output.str()};
}

std::vector<core::UpdateCheck> AliasChecks::TakeUpdates(const core::Catalog& catalog) {
  std::vector<core::UpdateCheck> updates;
  for (const std::string& id : due_) {
    const core::Text* owner = catalog.FindCheckOwner(id);
    const core::Instance* inst = owner == nullptr ? nullptr : catalog.FindInstance(*owner);
    const core::Check* check = inst == nullptr ? nullptr : inst->FindCheck(id);
    if (check == nullptr) continue;
    Health health = Of(catalog, target_of_.at(id));
    if (health.status == check->status) continue;
    updates.push_back(core::UpdateCheck{
        id, health.status, std::move(health.output), {}, core::CheckCause::kActiveCheck});
  }
  due_.clear();
  return updates;
}

}  // namespace concierge::server
