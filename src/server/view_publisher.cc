#include "server/view_publisher.h"

#include <algorithm>

namespace concierge::server {

ViewPublisher::ViewPublisher(const core::Catalog& catalog, EpochDomain& epoch, WatchHub* hub,
                             bool acl_default_allow)
    : catalog_(catalog),
      hub_(hub),
      acl_default_allow_(acl_default_allow),
      views_(epoch),
      instances_(epoch) {
  PublishAcl();
  PublishKv();
}

void ViewPublisher::PublishKv() {
  const core::KvState& kv = catalog_.kv();
  std::shared_ptr<const KvView> old = Kv();
  const bool kv_changed = old == nullptr || old->index != kv.index() || old->floor != kv.floor();
  const bool sessions_changed = old == nullptr || old->sessions_index != kv.sessions_index();
  if (!kv_changed && !sessions_changed) return;
  auto view = std::make_shared<KvView>();
  view->entries = kv.entries();
  view->bytes = kv.bytes();
  view->index = kv.index();
  view->last_delete = kv.last_delete();
  view->floor = kv.floor();
  view->sessions = kv.sessions();
  view->sessions_index = kv.sessions_index();
  {
    std::lock_guard lock(acl_mu_);
    kv_ = std::move(view);
  }
  if (hub_ == nullptr) return;
  if (kv_changed) hub_->Notify(WatchHub::kKvKey);
  if (sessions_changed) hub_->Notify(WatchHub::kSessionsKey);
}

void ViewPublisher::PublishAcl() {
  AclView view{std::make_shared<const core::AclState>(catalog_.acl()), nullptr};
  view.tokens = std::make_shared<const core::AclTokenIndex>(*view.state, acl_default_allow_);
  std::lock_guard lock(acl_mu_);
  acl_ = std::move(view);
}

void ViewPublisher::InstanceChanged(const core::Text& id) {
  if (auto old = instances_.Get(id)) CountStatus(old->get(), -1);
  if (auto inst = catalog_.FindInstancePtr(id)) {
    CountStatus(inst.get(), +1);
    instances_.Put(std::move(inst));
  } else {
    instances_.Erase(id);
  }
}

void ViewPublisher::CountStatus(const core::Instance* instance, int delta) {
  by_status_[static_cast<std::size_t>(instance->AggregateStatus())].fetch_add(
      delta, std::memory_order_relaxed);
}

void ViewPublisher::Flush() {
  PublishKv();
  const bool names_changed = catalog_.services_index() > services_index_.load();
  if (dirty_names_.empty() && !names_changed) return;
  // Views first, then the indexes, then the watchers: a woken watcher must see the change.
  for (const auto& [name, ids] : dirty_names_) Publish(name, true, ids);
  PublishIndexes();
  if (hub_ != nullptr) {
    for (const auto& [name, ids] : dirty_names_) hub_->Notify(name);
    if (names_changed) hub_->Notify(WatchHub::kCatalogKey);
    if (!dirty_names_.empty()) hub_->Notify(WatchHub::kAnyKey);
  }
  dirty_names_.clear();
}

void ViewPublisher::PublishAll(const std::vector<core::Symbol>& names,
                               const std::vector<core::Text>& ids) {
  PublishAcl();
  PublishKv();
  for (const core::Symbol& name : names) Publish(name, false, {});
  for (const auto& [name, group] : catalog_.services()) Publish(name, false, {});
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
  for (const auto& [name, group] : catalog_.services()) {
    for (const auto& inst : group.instances) instances_.Put(inst);
  }
  PublishIndexes();
  dirty_names_.clear();
  if (hub_ == nullptr) return;
  for (const core::Symbol& name : names) hub_->Notify(name);
  for (const auto& [name, group] : catalog_.services()) hub_->Notify(name);
  hub_->Notify(WatchHub::kCatalogKey);
  hub_->Notify(WatchHub::kAnyKey);
}

void ViewPublisher::PublishIndexes() {
  index_.store(std::max<core::Index>(1, catalog_.index()));
  services_index_.store(std::max<core::Index>(1, catalog_.services_index()));
  instance_count_.store(catalog_.instance_count());
}

void ViewPublisher::Publish(const core::Symbol& name, bool incremental,
                            std::span<const core::Text> changed) {
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
  if (incremental) {
    views_.With(name, [&](const std::shared_ptr<const ServiceView>& old) {
      view->history = old->history;
      if (old->tags_index == group->tags_index) view->tags = old->tags;
    });
  }
  // A name without a view had no instances, and a restore may have changed every instance:
  // what a delta reader knew before is unknown.
  if (view->history == nullptr) view->history = std::make_shared<ChangeHistory>(catalog_.index());
  // Kept: half the service's size (a delta of more than that is about as long as the whole
  // answer), at least kMinHistory.
  view->history->Record(group->index, changed, std::max(kMinHistory, group->instances.size() / 2));
  if (view->tags == nullptr) {
    auto tags = std::make_shared<std::vector<std::string>>();
    for (const auto& [tag, count] : group->tags) tags->push_back(tag.str());
    view->tags = std::move(tags);
  }
  views_.Put(name.view(), std::move(view));
}

core::Index ViewPublisher::ServiceIndex(std::string_view name) const {
  core::Index index = 0;
  views_.With(name, [&](const auto& view) { index = view->index; });
  return index != 0 ? index : services_index();
}

std::vector<std::pair<std::string, std::vector<std::string>>> ViewPublisher::ServiceNames() const {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  views_.ForEach(
      [&](std::string_view name, const auto& view) { out.emplace_back(name, *view->tags); });
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::shared_ptr<const core::Instance>> ViewPublisher::Instances() const {
  std::vector<std::shared_ptr<const core::Instance>> out;
  instances_.ForEach([&](std::string_view, const auto& inst) { out.push_back(inst); });
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a->service.id < b->service.id; });
  return out;
}

}  // namespace concierge::server
