// Catalog snapshots: every instance with its checks' runtime state, and the indexes.
#include <algorithm>

#include "core/catalog.h"
#include "core/codec.h"

namespace concierge::core {

namespace {

// Generous bounds for counts read from a snapshot, against corrupt lengths.
constexpr std::size_t kMaxGroups = 1u << 26;
constexpr std::size_t kMaxInstancesPerGroup = 1u << 26;

void PutCheck(Encoder& e, const Check& c) {
  PutCheckDefinition(e, c.definition);
  e.U8(static_cast<std::uint8_t>(c.status));
  e.Bytes(c.output);
  PutTime(e, c.status_since);
  e.Varint(c.create_index);
  e.Varint(c.modify_index);
}

bool GetCheck(Decoder& d, Check* c, std::uint8_t version) {
  return GetCheckDefinition(d, &c->definition, version >= 4) && GetStatus(d, &c->status) &&
         d.Bytes(&c->output) && GetTime(d, &c->status_since) && d.Varint(&c->create_index) &&
         d.Varint(&c->modify_index);
}

}  // namespace

CatalogImage Catalog::Image() const {
  CatalogImage image;
  image.index_ = index_;
  image.services_index_ = services_index_;
  image.groups_.reserve(services_.size());
  for (const auto& [name, group] : services_) {
    CatalogImage::Group& g = image.groups_.emplace_back();
    g.name = name;
    g.index = group.index;
    g.instances = group.instances;
  }
  image.node_maintenance_ = node_maintenance_;
  // Sorted, so that equal catalogs encode to equal bytes.
  image.unheard_.assign(unheard_since_.begin(), unheard_since_.end());
  std::sort(image.unheard_.begin(), image.unheard_.end(),
            [](const auto& a, const auto& b) { return a.first.view() < b.first.view(); });
  image.acl_ = acl_;
  image.kv_ = kv_;
  return image;
}

std::string CatalogImage::Encode() const {
  Encoder e;
  e.U8(kSnapshotFormatVersion);
  e.Varint(index_);
  e.Varint(services_index_);
  e.Varint(groups_.size());
  for (const Group& group : groups_) {
    e.Bytes(group.name);
    e.Varint(group.index);
    e.Varint(group.instances.size());
    for (const auto& inst : group.instances) {
      PutService(e, inst->service);
      e.Varint(inst->create_index);
      e.Varint(inst->modify_index);
      e.Varint(inst->checks.size());
      for (const Check& c : inst->checks) PutCheck(e, c);
    }
  }
  e.U8(node_maintenance_ ? 1 : 0);
  if (node_maintenance_) PutCheck(e, *node_maintenance_);
  e.Varint(unheard_.size());
  for (const auto& [id, at] : unheard_) {
    e.Bytes(id);
    PutTime(e, at);
  }
  acl_.Encode(e);
  kv_.Encode(e);
  return e.Take();
}

Result<Catalog> Catalog::DecodeSnapshot(std::string_view bytes) {
  auto bad = [](const std::string& what) { return Status::InvalidArgument("snapshot: " + what); };
  Decoder d(bytes);
  std::uint8_t version = 0;
  if (!d.U8(&version)) return bad("empty");
  if (version < 1 || version > kSnapshotFormatVersion) {
    return bad("unknown format version " + std::to_string(version));
  }
  Catalog c;
  std::size_t total_checks = 0;  // bounds the unheard-since marks
  std::size_t groups = 0;
  if (!d.Varint(&c.index_) || !d.Varint(&c.services_index_) || !GetCount(d, kMaxGroups, &groups)) {
    return bad("truncated header");
  }
  for (std::size_t g = 0; g < groups; ++g) {
    std::string name;
    ServiceGroup group;
    std::size_t n = 0;
    if (!d.Bytes(&name) || !d.Varint(&group.index) || !GetCount(d, kMaxInstancesPerGroup, &n)) {
      return bad("truncated service group");
    }
    if (n == 0 || c.services_.contains(name)) return bad("inconsistent service group " + name);
    group.tags_index = group.index;
    for (std::size_t i = 0; i < n; ++i) {
      auto inst = std::make_shared<Instance>();
      std::size_t checks = 0;
      if (!GetService(d, &inst->service) || !d.Varint(&inst->create_index) ||
          !d.Varint(&inst->modify_index) ||
          !GetCount(d, Limits::kMaxChecksPerService + 2, &checks)) {
        return bad("truncated instance");
      }
      inst->checks.resize(checks);
      for (Check& check : inst->checks) {
        if (!GetCheck(d, &check, version)) return bad("truncated check");
        ++total_checks;
        if (IsMaintenanceCheck(check.id())) continue;  // not addressable by ID
        const bool derived = IsDefaultCheckId(check.id(), inst->service.id);
        if (inst->FindCheck(check.id()) != &check || c.check_owner_.contains(check.id()) ||
            (!derived && c.FindCheckOwner(check.id()) != nullptr)) {
          return bad("check ID " + check.id() + " appears twice");
        }
        if (!derived) c.check_owner_.emplace(check.id(), inst->service.id);
      }
      const Text& id = inst->service.id;
      if (inst->service.name != name || !c.instances_.insert({inst}).second) {
        return bad("inconsistent instance " + id);
      }
      CountTags(group, inst->service.tags, +1);
      ++group.by_status[static_cast<std::size_t>(inst->AggregateStatus())];
      group.instances.Insert(std::move(inst));
    }
    c.services_.emplace(std::move(name), std::move(group));
  }
  if (version >= 2) {
    std::uint8_t has_node_maintenance = 0;
    if (!d.U8(&has_node_maintenance) || has_node_maintenance > 1) return bad("truncated node");
    if (has_node_maintenance == 1) {
      Check check;
      if (!GetCheck(d, &check, version)) return bad("truncated node maintenance check");
      c.node_maintenance_ = std::move(check);
    }
  }
  if (version >= 3) {
    std::size_t n = 0;
    if (!GetCount(d, total_checks, &n)) return bad("truncated unheard-since marks");
    for (std::size_t i = 0; i < n; ++i) {
      std::string id;
      Time at{};
      if (!d.Bytes(&id) || !GetTime(d, &at)) return bad("truncated unheard-since mark");
      if (c.FindCheckOwner(id) == nullptr) return bad("unheard-since mark of unknown check " + id);
      if (!c.unheard_since_.emplace(std::move(id), at).second) return bad("mark appears twice");
    }
  }
  if (version >= 5 && !AclState::Decode(d, &c.acl_)) return bad("malformed ACL state");
  if (version >= 6 && !KvState::Decode(d, &c.kv_)) return bad("malformed KV store");
  if (!d.done()) return bad("trailing bytes");
  return c;
}

}  // namespace concierge::core
