#include "dns/catalog.h"

#include <algorithm>

namespace concierge::dns {

std::span<const std::shared_ptr<const core::Instance>> RegistryCatalog::Service(
    std::string_view name) {
  held_ = registry_.Service(name);
  if (held_ == nullptr) {
    core::Index at = registry_.services_index();
    if (at != folded_at_) {
      folded_.clear();
      for (auto& [registered, tags] : registry_.ServiceNames()) {
        std::string lower = registered;
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](char c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; });
        if (lower != registered) folded_.emplace_back(std::move(lower), registered);
      }
      std::sort(folded_.begin(), folded_.end());
      folded_at_ = at;
    }
    auto it =
        std::lower_bound(folded_.begin(), folded_.end(), name,
                         [](const auto& entry, std::string_view key) { return entry.first < key; });
    if (it != folded_.end() && it->first == name) held_ = registry_.Service(it->second);
  }
  if (held_ == nullptr) return {};
  if (acl_) {
    using P = core::AclAuthorizer::Permission;
    const core::AclAuthorizer& anonymous = *registry_.Acl().tokens->anonymous();
    if (!anonymous.Allowed(core::AclResource::kService, held_->name, P::kRead) ||
        !anonymous.Allowed(core::AclResource::kNode, acl_node_, P::kRead)) {
      return {};
    }
  }
  if (held_ != listed_) {
    instances_.assign(held_->instances.begin(), held_->instances.end());
    listed_ = held_;
  }
  return instances_;
}

}  // namespace concierge::dns
