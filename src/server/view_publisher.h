// The registry's read side: the immutable views I/O threads answer from (a ServiceView per
// service name, each instance record by ID, the ACL state, the indexes and gauges), published
// once per batch of applied commands, then the watchers of what changed woken.
//
// Threading: "state thread" methods run on the thread that applies commands; "any thread"
// methods are lock-free reads of what was last published.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/catalog.h"
#include "server/change_history.h"
#include "server/concurrent_map.h"
#include "server/epoch.h"
#include "server/watch_hub.h"

namespace concierge::server {

// What readers see of one service name: its index and its instances, sorted by ID. The
// instances share their nodes with the catalog's group (core::InstanceSet): publishing a view
// copies one pointer, whatever the size of the service.
struct ServiceView {
  std::string name;
  core::Index index = 0;
  core::InstanceSet instances;
  // Which instances changed at which index, for the delta stream; the same object in every
  // view of the name while it has instances (it is internally locked, not immutable).
  std::shared_ptr<ChangeHistory> history;
  // The tags of its instances, sorted, and the index of their last change.
  std::shared_ptr<const std::vector<std::string>> tags;
  core::Index tags_index = 0;
  // Instances by the status of their worst check (core::HealthStatus order).
  std::array<std::uint32_t, 3> by_status{};
};

// What readers see of the ACL state: the policies and tokens, and the tokens by hashed secret
// with their authorizers compiled. Rebuilt by the state thread when an ACL command applies.
struct AclView {
  std::shared_ptr<const core::AclState> state;
  std::shared_ptr<const core::AclTokenIndex> tokens;
};

// What readers see of the KV store and sessions (core/kv.h): the entries share their nodes
// with the catalog's, and so do the sessions (a copy of either costs a pointer).
struct KvView {
  core::KvEntries entries;
  std::size_t bytes = 0;  // core::KvState::bytes
  core::Index index = 0;
  core::Index last_delete = 0;
  core::Index floor = 0;
  core::Sessions sessions;
  core::Index sessions_index = 0;
  // The index of a read of the keys under `prefix` (core::KvPrefixIndex), at least 1.
  core::Index PrefixIndex(std::string_view prefix) const {
    return std::max<core::Index>(1, core::KvPrefixIndex(entries, prefix, last_delete, floor));
  }
};

class ViewPublisher {
 public:
  // The fewest changes a service's history keeps (docs/limits.md); else half its instances.
  static constexpr std::size_t kMinHistory = 256;

  ViewPublisher(const core::Catalog& catalog, EpochDomain& epoch, WatchHub* hub,
                bool acl_default_allow);

  // --- State thread ---

  // The record of instance `id` changed (or went): republished at once, and its service's
  // view at the next Flush.
  void InstanceChanged(const core::Text& id);
  // Instance `id` of service `name` changed (or went, or moved to another name): the view of
  // `name` is republished at the next Flush, and its history records the ID.
  void ServiceChanged(const core::Symbol& name, const core::Text& id) {
    dirty_names_[name].push_back(id);
  }
  // Publishes the views of the changed services, then the indexes, then wakes their
  // watchers: a woken watcher sees the change. Once per batch of commands.
  void Flush();
  // The whole catalog changed (a restore): republishes the names and instances of before
  // (`names`, `ids`) and after, and wakes every watcher.
  void PublishAll(const std::vector<core::Symbol>& names, const std::vector<core::Text>& ids);
  void PublishAcl();
  // Publishes the KV store and sessions if either changed, then wakes their watchers.
  void PublishKv();

  // --- Any thread ---

  std::shared_ptr<const ServiceView> Service(std::string_view name) const {
    return views_.Get(name).value_or(nullptr);
  }
  std::shared_ptr<const core::Instance> Instance(std::string_view service_id) const {
    return instances_.Get(service_id).value_or(nullptr);
  }
  AclView Acl() const {
    std::lock_guard lock(acl_mu_);
    return acl_;
  }
  std::shared_ptr<const KvView> Kv() const {
    std::lock_guard lock(acl_mu_);
    return kv_;
  }
  std::vector<std::pair<std::string, std::vector<std::string>>> ServiceNames() const;
  std::vector<std::shared_ptr<const core::Instance>> Instances() const;
  core::Index ServiceIndex(std::string_view name) const;
  core::Index services_index() const { return services_index_.load(); }
  core::Index index() const { return index_.load(); }
  std::size_t instance_count() const { return instance_count_.load(); }
  std::int64_t instances_by_status(core::HealthStatus status) const {
    return by_status_[static_cast<std::size_t>(status)].load(std::memory_order_relaxed);
  }

 private:
  // `incremental`: after changes to `changed` (the IDs of its instances that changed since it
  // was last published), so the view keeps its history, and its tag list if the group's
  // tags_index did not move; else both start afresh (a restore).
  void Publish(const core::Symbol& name, bool incremental, std::span<const core::Text> changed);
  void PublishIndexes();
  // Moves `instance` into (delta +1) or out of (-1) the count of its aggregate status.
  void CountStatus(const core::Instance* instance, int delta);

  const core::Catalog& catalog_;
  WatchHub* hub_;
  const bool acl_default_allow_;
  ConcurrentMap<std::shared_ptr<const ServiceView>> views_;
  // Keyed by the records' own IDs (no key per entry).
  struct InstanceId {
    std::string_view operator()(const std::shared_ptr<const core::Instance>& inst) const {
      return inst->service.id;
    }
  };
  ConcurrentMap<std::shared_ptr<const core::Instance>, InstanceId> instances_;
  std::atomic<core::Index> index_{1};
  std::atomic<core::Index> services_index_{1};
  std::atomic<std::size_t> instance_count_{0};
  std::array<std::atomic<std::int64_t>, 3> by_status_{};
  // Rarely written (ACL commands), read once per request when ACLs are on; also guards kv_
  // (written once per batch that changed the KV store).
  mutable std::mutex acl_mu_;
  AclView acl_;
  std::shared_ptr<const KvView> kv_;
  std::unordered_map<core::Symbol, std::vector<core::Text>> dirty_names_;
};

}  // namespace concierge::server
