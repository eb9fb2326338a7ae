// The answerer's view of the running registry: lock-free reads of the published per-service
// views, with service names matched regardless of case.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dns/answer.h"
#include "server/registry.h"

namespace concierge::dns {

// One per thread (it keeps the last view it returned alive, and a small cache).
class RegistryCatalog final : public CatalogView {
 public:
  explicit RegistryCatalog(const server::Registry& registry) : registry_(registry) {}
  // With ACLs on: services the anonymous token may not read (or whose node, `node_name`, it
  // may not read) look absent, as in Consul.
  RegistryCatalog(const server::Registry& registry, std::string node_name)
      : registry_(registry), acl_node_(std::move(node_name)), acl_(true) {}

  std::span<const std::shared_ptr<const core::Instance>> Service(std::string_view name) override;

 private:
  const server::Registry& registry_;
  std::string acl_node_;
  bool acl_ = false;
  std::shared_ptr<const server::ServiceView> held_;
  // The instances of `listed_` (held, so that its address is not reused) in one array, what
  // Service returns; listed again when the view changes.
  std::shared_ptr<const server::ServiceView> listed_;
  std::vector<std::shared_ptr<const core::Instance>> instances_;
  // Registered names that are not all lower case, by their lower-case form, sorted; rebuilt
  // when the set of names changes (services_index), so that lookups never allocate.
  std::vector<std::pair<std::string, std::string>> folded_;
  core::Index folded_at_ = 0;
};

}  // namespace concierge::dns
