#include "core/catalog.h"

#include <algorithm>
#include <cctype>
#include <set>

namespace concierge::core {

namespace {

Status Invalid(std::string_view field, std::string_view what) {
  return Status::InvalidArgument(std::string(field) + ": " + std::string(what));
}

Status AtMostMax(std::string_view field, Duration d) {
  if (d <= Limits::kMaxDuration) return Status::Ok();
  return Invalid(field, "must be at most " + FormatDuration(Limits::kMaxDuration) +
                            " (ten years), got " + FormatDuration(d));
}

Status CheckText(std::string_view field, std::string_view value, std::size_t max_bytes,
                 bool required) {
  if (required && value.empty()) return Invalid(field, "is required");
  if (value.size() > max_bytes) {
    return Invalid(field, "is " + std::to_string(value.size()) + " bytes, the limit is " +
                              std::to_string(max_bytes));
  }
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f) return Invalid(field, "must not contain control characters");
  }
  return Status::Ok();
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f ||
        std::string_view("()<>@,;:\\\"/[]?={}").find(static_cast<char>(c)) !=
            std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// The check's target field, as the registration spells it.
std::string TargetField(CheckKind kind) {
  switch (kind) {
    case CheckKind::kHttp:
      return "Check.HTTP";
    case CheckKind::kTcp:
      return "Check.TCP";
    case CheckKind::kUdp:
      return "Check.UDP";
    case CheckKind::kScript:
      return "Check.Args";
    case CheckKind::kAlias:
      return "Check.AliasService";
    case CheckKind::kGrpc:
      return "Check.GRPC";
    case CheckKind::kH2Ping:
      return "Check.H2PING";
    case CheckKind::kOsService:
      return "Check.OSService";
    case CheckKind::kTtl:
      break;
  }
  return "Check.TTL";
}

Status ValidateHttpRequest(const ActiveCheck& a) {
  if (!IsToken(a.method) || a.method.size() > 32) {
    return Invalid("Check.Method",
                   "expected an HTTP method like \"GET\", got \"" + a.method + "\"");
  }
  if (a.headers.size() > Limits::kMaxCheckHeaders) {
    return Invalid("Check.Header", "has " + std::to_string(a.headers.size()) +
                                       " values, the limit is " +
                                       std::to_string(Limits::kMaxCheckHeaders));
  }
  for (const auto& [name, value] : a.headers) {
    if (!IsToken(name)) return Invalid("Check.Header", "\"" + name + "\" is not a header name");
    if (name.size() + value.size() > Limits::kMaxCheckHeaderBytes) {
      return Invalid("Check.Header[" + name + "]",
                     "is longer than " + std::to_string(Limits::kMaxCheckHeaderBytes) + " bytes");
    }
    for (unsigned char ch : value) {
      if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
        return Invalid("Check.Header[" + name + "]", "must not contain control characters");
      }
    }
  }
  if (a.body.size() > Limits::kMaxCheckBodyBytes) {
    return Invalid("Check.Body",
                   "is longer than " + std::to_string(Limits::kMaxCheckBodyBytes) + " bytes");
  }
  return Status::Ok();
}

Status ValidateScriptArgs(const ActiveCheck& a) {
  if (a.args.empty()) return Invalid("Check.Args", "must name a program to run");
  if (a.args.size() > Limits::kMaxScriptArgs) {
    return Invalid("Check.Args", "has " + std::to_string(a.args.size()) +
                                     " arguments, the limit is " +
                                     std::to_string(Limits::kMaxScriptArgs));
  }
  std::size_t bytes = 0;
  for (const std::string& arg : a.args) {
    bytes += arg.size();
    if (arg.find('\0') != std::string::npos) {
      return Invalid("Check.Args", "an argument must not contain a NUL byte");
    }
  }
  if (a.args.front().empty()) return Invalid("Check.Args", "the program name is empty");
  if (bytes > Limits::kMaxScriptArgsBytes) {
    return Invalid("Check.Args", "is longer than " + std::to_string(Limits::kMaxScriptArgsBytes) +
                                     " bytes in all");
  }
  return Status::Ok();
}

// A systemd unit name: letters, digits and ":-_.\\@", as systemd allows.
Status ValidateUnitName(const std::string& unit) {
  if (unit.empty() || unit.size() > 256) {
    return Invalid("Check.OSService", "expected a systemd unit like \"nginx.service\"");
  }
  for (unsigned char c : unit) {
    if (!std::isalnum(c) &&
        std::string_view(":-_.\\@").find(static_cast<char>(c)) == std::string_view::npos) {
      return Invalid("Check.OSService", "\"" + unit + "\" is not a systemd unit name");
    }
  }
  return Status::Ok();
}

// A check other than TTL: its target, its schedule and what it sends.
Status ValidateActiveCheck(const CheckDefinition& c) {
  const std::string field = TargetField(c.kind);
  if (c.active == nullptr) return Invalid(field, "the check needs its settings");
  const ActiveCheck& a = *c.active;
  if (c.ttl != Duration::zero()) {
    return Invalid("Check.TTL", "a check has either a TTL or another kind's target, not both");
  }
  if (a.target.size() > Limits::kMaxCheckTargetBytes) {
    return Invalid(field,
                   "is longer than " + std::to_string(Limits::kMaxCheckTargetBytes) + " bytes");
  }
  if (c.kind != CheckKind::kHttp && (!a.headers.empty() || !a.body.empty())) {
    return Invalid("Check.Header", "only HTTP checks send headers and a body");
  }
  if (c.kind != CheckKind::kScript && !a.args.empty()) {
    return Invalid("Check.Args", "only script checks run a program");
  }
  if (c.kind != CheckKind::kAlias && !a.alias_node.empty()) {
    return Invalid("Check.AliasNode", "only alias checks follow a node");
  }
  if (a.use_tls && c.kind != CheckKind::kGrpc && c.kind != CheckKind::kH2Ping) {
    return Invalid("Check.GRPCUseTLS", "only GRPC and H2PING checks use TLS");
  }
  switch (c.kind) {
    case CheckKind::kHttp: {
      if (auto url = ParseHttpUrl(a.target); !url.ok()) return url.status();
      if (auto st = ValidateHttpRequest(a); !st.ok()) return st;
      break;
    }
    case CheckKind::kTcp:
    case CheckKind::kUdp:
    case CheckKind::kH2Ping: {
      auto target = ParseHostPort(a.target, field.substr(6));
      if (!target.ok()) return target.status();
      break;
    }
    case CheckKind::kGrpc: {
      if (auto target = ParseGrpcTarget(a.target); !target.ok()) return target.status();
      break;
    }
    case CheckKind::kScript: {
      if (!a.target.empty()) return Invalid("Check.Args", "a script check has no target");
      if (auto st = ValidateScriptArgs(a); !st.ok()) return st;
      break;
    }
    case CheckKind::kOsService: {
      if (auto st = ValidateUnitName(a.target); !st.ok()) return st;
      break;
    }
    case CheckKind::kAlias: {
      if (a.target.empty() && a.alias_node.empty()) {
        return Invalid("Check.AliasService", "an alias check needs AliasService or AliasNode");
      }
      if (auto st = CheckText("Check.AliasService", a.target, Limits::kMaxIdBytes, false);
          !st.ok()) {
        return st;
      }
      if (auto st = CheckText("Check.AliasNode", a.alias_node, Limits::kMaxNameBytes, false);
          !st.ok()) {
        return st;
      }
      // Alias checks follow at once: no schedule.
      if (a.interval != Duration::zero() || a.timeout != Duration::zero()) {
        return Invalid("Check.Interval",
                       "an alias check follows the aliased service at once; "
                       "it has no Interval or Timeout");
      }
      break;
    }
    case CheckKind::kTtl:
      break;
  }
  if (c.kind != CheckKind::kAlias) {
    if (a.interval < Limits::kMinCheckInterval) {
      return Invalid("Check.Interval", "must be at least " +
                                           FormatDuration(Limits::kMinCheckInterval) + ", got " +
                                           FormatDuration(a.interval));
    }
    if (a.timeout <= Duration::zero()) return Invalid("Check.Timeout", "must be positive");
  }
  if (auto st = AtMostMax("Check.Interval", a.interval); !st.ok()) return st;
  if (auto st = AtMostMax("Check.Timeout", a.timeout); !st.ok()) return st;
  if (a.success_before_passing > Limits::kMaxCheckCounter ||
      a.failures_before_critical > Limits::kMaxCheckCounter) {
    return Invalid("Check.SuccessBeforePassing",
                   "SuccessBeforePassing and FailuresBeforeCritical must be at most " +
                       std::to_string(Limits::kMaxCheckCounter));
  }
  return Status::Ok();
}

Status ValidateRegister(const RegisterService& cmd) {
  const ServiceDefinition& s = cmd.service;
  if (auto st = CheckText("Name", s.name, Limits::kMaxNameBytes, true); !st.ok()) return st;
  if (auto st = CheckText("ID", s.id, Limits::kMaxIdBytes, true); !st.ok()) return st;
  if (s.id.view().find('/') != std::string::npos) return Invalid("ID", "must not contain '/'");
  if (auto st = CheckText("Address", s.address, Limits::kMaxAddressBytes, false); !st.ok()) {
    return st;
  }
  if (s.tags.size() > Limits::kMaxTags) {
    return Invalid("Tags", "has " + std::to_string(s.tags.size()) + " tags, the limit is " +
                               std::to_string(Limits::kMaxTags));
  }
  for (const Symbol& tag : s.tags) {
    if (auto st = CheckText("Tags", tag, Limits::kMaxTagBytes, true); !st.ok()) return st;
  }
  if (s.meta.size() > Limits::kMaxMetaPairs) {
    return Invalid("Meta", "has " + std::to_string(s.meta.size()) + " keys, the limit is " +
                               std::to_string(Limits::kMaxMetaPairs));
  }
  for (std::size_t i = 0; i < s.meta.size(); ++i) {
    const auto& [key, value] = s.meta[i];
    if (auto st = CheckText("Meta key", key, Limits::kMaxMetaKeyBytes, true); !st.ok()) return st;
    if (value.size() > Limits::kMaxMetaValueBytes) {
      return Invalid(
          "Meta[" + key + "]",
          "value is longer than " + std::to_string(Limits::kMaxMetaValueBytes) + " bytes");
    }
    if (i > 0 && !(s.meta[i - 1].first < key)) {
      return Invalid("Meta", "keys must be unique (\"" + key + "\" repeats)");
    }
  }
  if (s.weights.passing < 1 || s.weights.warning < 0) {
    return Invalid("Weights", "Passing must be at least 1 and Warning at least 0");
  }
  if (cmd.checks.size() > Limits::kMaxChecksPerService) {
    return Invalid("Checks", "has " + std::to_string(cmd.checks.size()) + " checks, the limit is " +
                                 std::to_string(Limits::kMaxChecksPerService));
  }
  std::set<std::string_view> ids;
  for (const CheckDefinition& c : cmd.checks) {
    if (auto st = CheckText("CheckID", c.id, Limits::kMaxIdBytes, true); !st.ok()) return st;
    if (c.id.view().find('/') != std::string::npos)
      return Invalid("CheckID", "must not contain '/'");
    if (!ids.insert(c.id).second) return Invalid("CheckID", "\"" + c.id + "\" is used twice");
    if (IsMaintenanceCheck(c.id)) {
      return Invalid("CheckID", "\"" + c.id + "\" is reserved for maintenance mode");
    }
    if (c.kind != CheckKind::kTtl) {
      if (auto st = ValidateActiveCheck(c); !st.ok()) return st;
      if (c.kind == CheckKind::kAlias && c.active->target == s.id.view()) {
        return Invalid("Check.AliasService", "an alias check cannot follow its own instance");
      }
    } else if (c.ttl < Limits::kMinTtl) {
      return Invalid("Check.TTL", "must be at least " + FormatDuration(Limits::kMinTtl) + ", got " +
                                      FormatDuration(c.ttl));
    } else if (c.active != nullptr) {
      return Invalid("Check.TTL", "a TTL check has no other kind's settings");
    }
    if (c.deregister_critical_after < Duration::zero()) {
      return Invalid("Check.DeregisterCriticalServiceAfter", "must not be negative");
    }
    if (auto st = AtMostMax("Check.TTL", c.ttl); !st.ok()) return st;
    if (auto st = AtMostMax("Check.DeregisterCriticalServiceAfter", c.deregister_critical_after);
        !st.ok()) {
      return st;
    }
    if (c.initial_output.size() > Limits::kMaxOutputBytes) {
      return Invalid("Check.Output",
                     "is longer than " + std::to_string(Limits::kMaxOutputBytes) + " bytes");
    }
  }
  return Status::Ok();
}

}  // namespace

Status Catalog::Validate(const Command& command) const {
  return std::visit(
      [this](const auto& cmd) -> Status {
        using T = std::decay_t<decltype(cmd)>;
        if constexpr (std::is_same_v<T, RegisterService>) {
          if (auto st = ValidateRegister(cmd); !st.ok()) return st;
          // A check ID may belong to one service only.
          for (const CheckDefinition& c : cmd.checks) {
            const Text* owner = FindCheckOwner(c.id);
            if (owner != nullptr && *owner != cmd.service.id) {
              return Status::Conflict("CheckID: \"" + c.id + "\" already belongs to service \"" +
                                      *owner + "\"");
            }
          }
          return Status::Ok();
        } else if constexpr (std::is_same_v<T, DeregisterService>) {
          if (FindInstance(cmd.service_id) == nullptr) {
            return Status::NotFound("unknown service ID \"" + cmd.service_id + "\"");
          }
          return Status::Ok();
        } else if constexpr (std::is_same_v<T, UpdateCheck>) {
          if (FindCheckOwner(cmd.check_id) == nullptr) {
            return Status::NotFound("unknown check ID \"" + cmd.check_id + "\"");
          }
          if (cmd.output.size() > Limits::kMaxOutputBytes) {
            return Invalid("Output",
                           "is longer than " + std::to_string(Limits::kMaxOutputBytes) + " bytes");
          }
          return Status::Ok();
        } else if constexpr (std::is_same_v<T, ReapService>) {
          return Status::Ok();  // a reap of a gone service is a no-op
        } else if constexpr (std::is_same_v<T, SetMaintenance>) {
          if (!cmd.service_id.empty() && FindInstance(cmd.service_id) == nullptr) {
            return Status::NotFound("unknown service ID \"" + cmd.service_id + "\"");
          }
          return CheckText("reason", cmd.reason, Limits::kMaxOutputBytes, false);
        } else if constexpr (std::is_same_v<T, LeaderElected> || std::is_same_v<T, ChecksHeard>) {
          return Status::Ok();  // IDs gone meanwhile are skipped
        } else if constexpr (std::is_same_v<T, RestoreSnapshot>) {
          // A part is checked when the registry has them all.
          if (cmd.parts != 1) return Status::Ok();
          return DecodeSnapshot(cmd.snapshot).status();
        } else if constexpr (std::is_same_v<T, KvWrite>) {
          if (auto st = KvState::ValidateOps(cmd); !st.ok()) return st;
          // The log entry's index is not known here; the catalog's next is (the same in the
          // registry unless entries that change nothing came between).
          if (auto failure = kv_.Conflict(cmd, index_ + 1)) return KvConflictStatus(*failure);
          return Status::Ok();
        } else if constexpr (std::is_same_v<T, SessionCreate>) {
          return ValidateSession(cmd);
        } else if constexpr (std::is_same_v<T, SessionDestroy>) {
          return Status::Ok();  // a session already gone is a no-op, as in Consul
        } else {
          return acl_.Validate(cmd);
        }
      },
      command);
}

Result<std::vector<Event>> Catalog::Apply(const Command& command, Index index) {
  if (auto st = Validate(command); !st.ok()) return st;
  last_election_marked_ = false;
  if (!std::holds_alternative<LeaderElected>(command)) marks_complete_ = false;
  Result<std::vector<Event>> events = std::visit(
      [&](const auto& cmd) -> Result<std::vector<Event>> {
        using T = std::decay_t<decltype(cmd)>;
        if constexpr (std::is_same_v<T, RegisterService>) {
          return ApplyRegister(cmd, index);
        } else if constexpr (std::is_same_v<T, DeregisterService>) {
          return ApplyDeregister(cmd.service_id, index, "deregistered by request",
                                 Event::Cause::kRequest);
        } else if constexpr (std::is_same_v<T, UpdateCheck>) {
          return ApplyUpdateCheck(cmd, index);
        } else if constexpr (std::is_same_v<T, ReapService>) {
          return ApplyReap(cmd, index);
        } else if constexpr (std::is_same_v<T, SetMaintenance>) {
          return ApplyMaintenance(cmd, index);
        } else if constexpr (std::is_same_v<T, LeaderElected>) {
          ApplyLeaderElected(cmd);
          return std::vector<Event>{};
        } else if constexpr (std::is_same_v<T, ChecksHeard>) {
          for (const std::string& id : cmd.check_ids) Heard(id);
          return std::vector<Event>{};
        } else if constexpr (std::is_same_v<T, RestoreSnapshot>) {
          return ApplyRestore(cmd, index);
        } else if constexpr (std::is_same_v<T, KvWrite>) {
          if (auto failure = kv_.Apply(cmd, index)) return KvConflictStatus(*failure);
          index_ = index;
          return std::vector<Event>{};
        } else if constexpr (std::is_same_v<T, SessionCreate>) {
          kv_.Apply(cmd, index);
          index_ = index;
          return std::vector<Event>{};
        } else if constexpr (std::is_same_v<T, SessionDestroy>) {
          std::vector<Event> ended;
          EndSession(cmd.id, cmd.at, index, cmd.expired ? "its TTL lapsed" : "destroyed", &ended);
          return ended;
        } else {
          acl_.Apply(cmd, index);
          index_ = index;
          return std::vector<Event>{};
        }
      },
      command);
  if (events.ok() && !kv_.sessions().empty() && !std::holds_alternative<RestoreSnapshot>(command)) {
    const Time at = std::visit([](const auto& cmd) { return cmd.at; }, command);
    EndSessionsOfFailedChecks(at, index, &*events);
  }
  return events;
}

Status Catalog::ValidateSession(const SessionCreate& cmd) const {
  if (auto st = kv_.Validate(cmd); !st.ok()) return st;
  for (const auto* list : {&cmd.session.node_checks, &cmd.session.service_checks}) {
    for (const std::string& check : *list) {
      if (check == kSerfHealthCheck) continue;
      const Text* owner = FindCheckOwner(check);
      const Instance* inst = owner == nullptr ? nullptr : FindInstance(*owner);
      const Check* c = inst == nullptr ? nullptr : inst->FindCheck(check);
      if (c == nullptr)
        return Status::InvalidArgument("Missing check '" + check + "' registration");
      if (c->status == HealthStatus::kCritical) {
        return Status::InvalidArgument("Check '" + check + "' is in critical state");
      }
    }
  }
  return Status::Ok();
}

void Catalog::EndSession(const std::string& id, Time at, Index index, std::string reason,
                         std::vector<Event>* events) {
  if (!kv_.EndSession(id, at, index)) return;
  index_ = index;
  events->push_back({Event::Kind::kSessionEnded,
                     {},
                     {},
                     Text(id),
                     HealthStatus::kPassing,
                     HealthStatus::kPassing,
                     std::move(reason),
                     Event::Cause::kRequest});
}

void Catalog::EndSessionsOfFailedChecks(Time at, Index index, std::vector<Event>* events) {
  const std::size_t n = events->size();
  for (std::size_t i = 0; i < n; ++i) {
    const Event& e = (*events)[i];
    const bool failed =
        e.kind == Event::Kind::kCheckRemoved ||
        (e.kind == Event::Kind::kCheckStatusChanged && e.new_status == HealthStatus::kCritical);
    if (!failed) continue;
    const std::string check(e.check_id.view());
    const std::string why = e.kind == Event::Kind::kCheckRemoved
                                ? "its check " + check + " was removed"
                                : "its check " + check + " is critical";
    for (const std::string& id : kv_.SessionsOf(check)) EndSession(id, at, index, why, events);
  }
}

void Catalog::Touch(const Symbol& name, Index index) {
  services_[name].index = index;
  index_ = index;
}

bool Catalog::CountTags(ServiceGroup& group, const TagList& tags, int delta) {
  bool changed = false;
  for (const Symbol& tag : tags) {
    if (delta > 0) {
      changed |= group.tags[tag]++ == 0;
    } else if (auto it = group.tags.find(tag); it != group.tags.end() && --it->second == 0) {
      group.tags.erase(it);
      changed = true;
    }
  }
  return changed;
}

Result<std::vector<Event>> Catalog::ApplyRegister(const RegisterService& cmd, Index index) {
  std::vector<Event> events;
  // A registration is a sign of life of its checks.
  for (const CheckDefinition& cd : cmd.checks) Heard(cd.id);
  const ServiceDefinition& def = cmd.service;
  auto old_it = instances_.find(def.id);
  std::shared_ptr<const Instance> old = old_it == instances_.end() ? nullptr : old_it->ptr;

  // Same ID under another name: the old registration goes first, as a deregistration.
  if (old && old->service.name != def.name) {
    auto removed =
        ApplyDeregister(def.id, index, "re-registered under another name", Event::Cause::kRename);
    events = std::move(removed.value());
    old = nullptr;
  }
  // This registration's own events follow those of the deregistration.
  const auto own_events = static_cast<std::ptrdiff_t>(events.size());

  auto inst = std::make_shared<Instance>();
  inst->service = def;
  inst->create_index = old ? old->create_index : index;
  inst->modify_index = index;
  for (const CheckDefinition& cd : cmd.checks) {
    const Check* prev = old ? old->FindCheck(cd.id) : nullptr;
    if (prev && prev->definition == cd) {
      inst->checks.push_back(*prev);  // unchanged check keeps its status
      continue;
    }
    Check c;
    c.definition = cd;
    c.status = cd.initial_status;
    c.output = cd.initial_output;
    c.status_since = cmd.at;
    c.create_index = index;
    c.modify_index = index;
    if (prev && prev->status == cd.initial_status) c.status_since = prev->status_since;
    inst->checks.push_back(std::move(c));
  }
  // Maintenance mode outlives re-registration, and covers new instances of a node in it.
  if (old) {
    for (const Check& c : old->checks) {
      if (IsMaintenanceCheck(c.id())) inst->checks.push_back(c);
    }
  }
  if (node_maintenance_ && inst->FindCheck(kNodeMaintenanceCheckId) == nullptr) {
    inst->checks.push_back(*node_maintenance_);
  }

  if (old && old->service == inst->service && old->checks.size() == inst->checks.size() &&
      std::equal(old->checks.begin(), old->checks.end(), inst->checks.begin(),
                 [](const Check& a, const Check& b) {
                   return a.definition == b.definition && a.status == b.status &&
                          a.output == b.output;
                 })) {
    return events;  // identical re-registration: nothing changed
  }

  ServiceGroup& group = services_[def.name];
  bool new_name = group.instances.empty();

  // Checks that the new registration dropped.
  if (old) {
    for (const Check& c : old->checks) {
      if (inst->FindCheck(c.id()) == nullptr) {
        check_owner_.erase(c.id());
        Heard(c.id());
        events.push_back({Event::Kind::kCheckRemoved, def.name, def.id, c.id(), c.status, c.status,
                          "check removed by re-registration"});
      }
    }
  }
  for (const Check& c : inst->checks) {
    const Check* prev = old ? old->FindCheck(c.id()) : nullptr;
    if (prev == nullptr) {
      if (!IsMaintenanceCheck(c.id()) && !IsDefaultCheckId(c.id(), def.id)) {
        check_owner_[c.id()] = def.id;
      }
      events.push_back(
          {Event::Kind::kCheckAdded, def.name, def.id, c.id(), c.status, c.status, "registered"});
      continue;
    }
    if (!(prev->definition == c.definition)) {
      // A new definition (e.g. another TTL): the tracker must start over with it.
      events.push_back({Event::Kind::kCheckRemoved, def.name, def.id, c.id(), prev->status,
                        prev->status, "check redefined"});
      events.push_back({Event::Kind::kCheckAdded, def.name, def.id, c.id(), c.status, c.status,
                        "check redefined"});
    }
    if (prev->status != c.status) {
      events.push_back({Event::Kind::kCheckStatusChanged, def.name, def.id, c.id(), prev->status,
                        c.status, "re-registered with a new check definition"});
    }
  }

  bool tags_changed = CountTags(group, def.tags, +1);
  if (old) tags_changed |= CountTags(group, old->service.tags, -1);
  if (new_name || tags_changed) group.tags_index = index;
  Store(group, old.get(), inst);
  Touch(def.name, index);
  if (new_name || tags_changed) services_index_ = index;
  events.insert(
      events.begin() + own_events,
      {old ? Event::Kind::kServiceUpdated : Event::Kind::kServiceRegistered, def.name, def.id, "",
       HealthStatus::kPassing, HealthStatus::kPassing, old ? "re-registered" : "registered"});
  return events;
}

Result<std::vector<Event>> Catalog::ApplyDeregister(std::string_view service_id, Index index,
                                                    std::string reason, Event::Cause cause) {
  auto it = instances_.find(service_id);
  std::shared_ptr<const Instance> inst = it->ptr;
  const Symbol& name = inst->service.name;
  const Text& id = inst->service.id;
  std::vector<Event> events;
  events.push_back({Event::Kind::kServiceDeregistered, name, id, "", HealthStatus::kPassing,
                    HealthStatus::kPassing, reason, cause});
  for (const Check& c : inst->checks) {
    check_owner_.erase(c.id());
    Heard(c.id());
    events.push_back(
        {Event::Kind::kCheckRemoved, name, id, c.id(), c.status, c.status, reason, cause});
  }
  instances_.erase(it);
  auto group = services_.find(name);
  bool tags_changed = CountTags(group->second, inst->service.tags, -1);
  group->second.instances.Erase(id.view());
  --group->second.by_status[static_cast<std::size_t>(inst->AggregateStatus())];
  index_ = index;
  if (group->second.instances.empty()) {
    services_.erase(group);
    services_index_ = index;
  } else {
    group->second.index = index;
    if (tags_changed) {
      group->second.tags_index = index;
      services_index_ = index;
    }
  }
  return events;
}

namespace {

std::string UpdateReason(const UpdateCheck& cmd) {
  std::string why;
  switch (cmd.cause) {
    case CheckCause::kUpdate:
      why = "check update";
      break;
    case CheckCause::kHeartbeat:
      why = "heartbeat";
      break;
    case CheckCause::kTtlExpired:
      return (cmd.output.empty() ? "TTL expired" : cmd.output) + " (at " + FormatTime(cmd.at) + ")";
    case CheckCause::kActiveCheck:
      why = "check output";
      break;
  }
  return cmd.output.empty() ? why : why + ": " + cmd.output;
}

}  // namespace

Result<std::vector<Event>> Catalog::ApplyUpdateCheck(const UpdateCheck& cmd, Index index) {
  const Text service_id = *FindCheckOwner(cmd.check_id);  // a copy: the record is replaced
  const std::shared_ptr<const Instance> slot = instances_.find(service_id)->ptr;
  const Check* current = slot->FindCheck(cmd.check_id);
  // From a client, an update is a sign of life; from the leader (an expiry), the check is
  // critical and needs no mark.
  Heard(cmd.check_id);
  if (current->status == cmd.status && current->output == cmd.output) return std::vector<Event>{};

  auto inst = std::make_shared<Instance>(*slot);
  inst->modify_index = index;
  std::vector<Event> events;
  for (Check& c : inst->checks) {
    if (c.id() != cmd.check_id) continue;
    if (c.status != cmd.status) {
      events.push_back({Event::Kind::kCheckStatusChanged, inst->service.name, service_id, c.id(),
                        c.status, cmd.status, UpdateReason(cmd)});
      c.status = cmd.status;
      c.status_since = cmd.at;
    }
    c.output = cmd.output;
    c.modify_index = index;
  }
  Store(services_.find(inst->service.name)->second, slot.get(), inst);
  Touch(inst->service.name, index);
  return events;
}

void Catalog::ApplyLeaderElected(const LeaderElected& cmd) {
  if (marks_complete_) return;  // an earlier election marked them all; its marks stay
  marks_complete_ = true;
  std::vector<const Text*> marked;  // first, so that the map grows once
  for (const IndexedInstance& e : instances_) {
    for (const Check& check : e.ptr->checks) {
      if (IsMaintenanceCheck(check.id()) || check.definition.ttl <= Duration::zero() ||
          check.status == HealthStatus::kCritical) {
        continue;
      }
      marked.push_back(&check.id());
    }
  }
  unheard_since_.reserve(unheard_since_.size() + marked.size());
  for (const Text* id : marked)
    last_election_marked_ |= unheard_since_.try_emplace(*id, cmd.at).second;
}

std::optional<Time> Catalog::UnheardSince(std::string_view check_id) const {
  auto it = unheard_since_.find(check_id);
  if (it == unheard_since_.end()) return std::nullopt;
  return it->second;
}

Result<std::vector<Event>> Catalog::ApplyRestore(const RestoreSnapshot& cmd, Index index) {
  Result<Catalog> restored = DecodeSnapshot(cmd.snapshot);
  // The leader decodes a backup before it proposes one, so a log entry that does not decode
  // was never proposed by us: refuse it like any other invalid command.
  if (!restored.ok()) return restored.status();
  // A backup from before ACLs (formats 1 to 4) says nothing about them: keep the current
  // ones rather than drop every token and let anyone bootstrap again.
  const auto version = static_cast<std::uint8_t>(cmd.snapshot.front());
  if (version < 5) restored->acl_ = acl_;
  if (version < 6) restored->kv_ = kv_;  // nor before the KV store about it
  *this = std::move(*restored);
  // Indexes never go backwards: everything restored changed at this command.
  index_ = index;
  services_index_ = index;
  for (auto& [name, group] : services_) group.index = group.tags_index = index;
  kv_.Restored(index);
  return std::vector<Event>{};
}

namespace {

Check MaintenanceCheck(std::string_view id, std::string_view name, std::string_view notes, Time at,
                       Index index) {
  Check c;
  c.definition.id = id;
  c.definition.name = name;
  c.definition.notes = notes;
  c.definition.initial_status = HealthStatus::kCritical;
  c.status = HealthStatus::kCritical;
  c.status_since = at;
  c.create_index = index;
  c.modify_index = index;
  return c;
}

}  // namespace

Result<std::vector<Event>> Catalog::ApplyMaintenance(const SetMaintenance& cmd, Index index) {
  std::vector<Event> events;
  const bool node = cmd.service_id.empty();
  std::optional<Check> check;
  if (cmd.enable) {
    // Consul's names and default notes.
    std::string notes = cmd.reason;
    if (notes.empty()) {
      notes = std::string("Maintenance mode is enabled for this ") + (node ? "node" : "service") +
              ", but no reason was provided. This is a default message.";
    }
    check = node ? MaintenanceCheck(kNodeMaintenanceCheckId, "Node Maintenance Mode",
                                    std::move(notes), cmd.at, index)
                 : MaintenanceCheck(std::string(kServiceMaintenancePrefix) + cmd.service_id,
                                    "Service Maintenance Mode", std::move(notes), cmd.at, index);
  }
  std::string reason = cmd.enable ? "maintenance mode enabled" +
                                        (cmd.reason.empty() ? std::string() : ": " + cmd.reason)
                                  : "maintenance mode disabled";
  if (!node) {
    Text service_id = instances_.find(cmd.service_id)->ptr->service.id;
    ReplaceMaintenanceCheck(service_id, std::string(kServiceMaintenancePrefix) + cmd.service_id,
                            check ? &*check : nullptr, index, reason, &events);
    return events;
  }
  if (node_maintenance_ && check && node_maintenance_->definition == check->definition) {
    return events;  // already in maintenance for the same reason
  }
  if (!node_maintenance_ && !check) return events;
  node_maintenance_ = check;
  std::vector<Text> ids;
  ids.reserve(instances_.size());
  for (const IndexedInstance& e : instances_) ids.push_back(e.ptr->service.id);
  const Text check_id(kNodeMaintenanceCheckId);
  for (const Text& id : ids) {
    ReplaceMaintenanceCheck(id, check_id, check ? &*check : nullptr, index, reason, &events);
  }
  index_ = index;
  return events;
}

void Catalog::ReplaceMaintenanceCheck(const Text& service_id, const Text& check_id,
                                      const Check* check, Index index, const std::string& reason,
                                      std::vector<Event>* events) {
  const std::shared_ptr<const Instance> slot = instances_.find(service_id)->ptr;
  const Check* current = slot->FindCheck(check_id);
  if (current == nullptr && check == nullptr) return;
  if (current != nullptr && check != nullptr && current->definition == check->definition) return;
  auto inst = std::make_shared<Instance>(*slot);
  inst->modify_index = index;
  const Symbol& name = inst->service.name;
  HealthStatus before = slot->AggregateStatus();
  if (current != nullptr) {
    events->push_back({Event::Kind::kCheckRemoved, name, service_id, check_id, current->status,
                       current->status, reason, Event::Cause::kMaintenance});
    inst->checks.erase_if([&](const Check& c) { return c.id() == check_id; });
  }
  if (check != nullptr) {
    inst->checks.push_back(*check);
    events->push_back({Event::Kind::kCheckAdded, name, service_id, check_id,
                       HealthStatus::kCritical, HealthStatus::kCritical, reason,
                       Event::Cause::kMaintenance});
  }
  HealthStatus after = inst->AggregateStatus();
  if (before != after) {
    // The instance's own transition, for the log (no check of its changed status).
    events->push_back({Event::Kind::kCheckStatusChanged, name, service_id, check_id, before, after,
                       reason, Event::Cause::kMaintenance});
  }
  Store(services_.find(name)->second, slot.get(), inst);
  Touch(name, index);
}

void Catalog::Store(ServiceGroup& group, const Instance* old,
                    std::shared_ptr<const Instance> inst) {
  if (old != nullptr) --group.by_status[static_cast<std::size_t>(old->AggregateStatus())];
  ++group.by_status[static_cast<std::size_t>(inst->AggregateStatus())];
  group.instances.Insert(inst);
  if (auto [it, added] = instances_.insert({inst}); !added) it->ptr = std::move(inst);
}

Result<std::vector<Event>> Catalog::ApplyReap(const ReapService& cmd, Index index) {
  const Instance* inst = FindInstance(cmd.service_id);
  if (inst == nullptr) return std::vector<Event>{};
  std::optional<Time> due = ReapDeadline(*inst);
  if (!due || cmd.at < *due) return std::vector<Event>{};
  return ApplyDeregister(cmd.service_id, index,
                         "critical for longer than DeregisterCriticalServiceAfter",
                         Event::Cause::kReap);
}

std::optional<Time> Catalog::ReapDeadline(const Instance& instance) {
  std::optional<Time> earliest;
  for (const Check& c : instance.checks) {
    if (c.status != HealthStatus::kCritical ||
        c.definition.deregister_critical_after <= Duration::zero()) {
      continue;
    }
    // Saturating: a log written before durations were bounded may hold any.
    Duration grace = c.definition.deregister_critical_after;
    Time due = c.status_since > Time::max() - grace ? Time::max() : c.status_since + grace;
    if (!earliest || due < *earliest) earliest = due;
  }
  return earliest;
}

const Instance* Catalog::FindInstance(std::string_view service_id) const {
  auto it = instances_.find(service_id);
  return it == instances_.end() ? nullptr : it->ptr.get();
}

std::shared_ptr<const Instance> Catalog::FindInstancePtr(std::string_view service_id) const {
  auto it = instances_.find(service_id);
  return it == instances_.end() ? nullptr : it->ptr;
}

const ServiceGroup* Catalog::FindService(std::string_view name) const {
  auto it = services_.find(name);
  return it == services_.end() ? nullptr : &it->second;
}

const Text* Catalog::FindCheckOwner(std::string_view check_id) const {
  if (auto it = check_owner_.find(check_id); it != check_owner_.end()) return &it->second;
  // "service:<ID>", the default, is not in the map: its owner is in its name.
  if (!check_id.starts_with(kDefaultCheckPrefix)) return nullptr;
  auto it = instances_.find(check_id.substr(kDefaultCheckPrefix.size()));
  if (it == instances_.end() || it->ptr->FindCheck(check_id) == nullptr) return nullptr;
  return &it->ptr->service.id;
}

}  // namespace concierge::core
