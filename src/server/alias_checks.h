// Alias checks (AliasService, AliasNode): a check whose status is the aggregate health of
// another instance, as Consul's CheckAlias. They are not probed: the registry tells this table
// of every catalog event, and the alias checks that follow an instance an event touched are
// evaluated at once, on the state thread, from the catalog just applied (no polling). Only
// the leader proposes what they find, as an UpdateCheck, like any active check's result.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/catalog.h"
#include "core/command.h"

namespace concierge::server {

class AliasChecks {
 public:
  // One applied event (core::Event). `catalog` is the catalog after the command.
  void Observe(const core::Catalog& catalog, const core::Event& event);
  // Forgets everything and finds every alias check in `catalog` (after a restore); all are
  // then due for evaluation.
  void Rebuild(const core::Catalog& catalog);
  // Every alias check is due (a new leader evaluates them all).
  void MarkAllDue() { due_.insert(all_.begin(), all_.end()); }
  // The updates that the due alias checks need (those whose status differs from what they
  // follow), in check ID order; nothing is due afterwards.
  std::vector<core::UpdateCheck> TakeUpdates(const core::Catalog& catalog);
  void ClearDue() { due_.clear(); }
  std::size_t size() const { return all_.size(); }

  // The status and output an alias check of `target` (a service ID; empty: the node) has
  // in `catalog`, as Consul's: critical if the instance is not registered, else its worst
  // check (passing with no checks).
  struct Health {
    core::HealthStatus status;
    std::string output;
  };
  static Health Of(const core::Catalog& catalog, std::string_view target);

 private:
  void Add(const std::string& check_id, const std::string& target);
  void Remove(const std::string& check_id);

  std::unordered_map<std::string, std::string> target_of_;            // alias check -> target
  std::unordered_map<std::string, std::set<std::string>> followers_;  // target -> alias checks
  std::set<std::string> all_;
  std::set<std::string> due_;
};

}  // namespace concierge::server
