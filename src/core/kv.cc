#include "core/kv.h"

#include <algorithm>
#include <array>
#include <charconv>

#include "core/codec.h"
#include "core/command.h"

namespace concierge::core {

namespace {

constexpr std::array<std::string_view, kKvVerbCount> kVerbNames = {
    "set",         "cas",         "lock",          "unlock",           "get",
    "get-tree",    "check-index", "check-session", "check-not-exists", "delete",
    "delete-tree", "delete-cas"};

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

bool Writes(KvOp::Verb v) {
  using V = KvOp::Verb;
  return v == V::kSet || v == V::kCas || v == V::kLock || v == V::kUnlock;
}

}  // namespace

std::string_view ToString(SessionBehavior behavior) {
  return behavior == SessionBehavior::kDelete ? "delete" : "release";
}

std::string_view ToString(KvOp::Verb verb) { return kVerbNames[static_cast<std::size_t>(verb)]; }

std::optional<KvOp::Verb> ParseKvVerb(std::string_view text) {
  for (std::size_t i = 0; i < kVerbNames.size(); ++i) {
    if (kVerbNames[i] == text) return static_cast<KvOp::Verb>(i);
  }
  return std::nullopt;
}

Status KvConflictStatus(const KvFailure& failure) {
  return Status::Conflict("op " + std::to_string(failure.op) + ": " + failure.what);
}

std::optional<KvFailure> ParseKvConflict(const Status& status) {
  if (status.code() != Status::Code::kConflict) return std::nullopt;
  std::string_view m = status.message();
  if (!m.starts_with("op ")) return std::nullopt;
  m.remove_prefix(3);
  KvFailure f;
  auto [p, ec] = std::from_chars(m.data(), m.data() + m.size(), f.op);
  if (ec != std::errc() || !std::string_view(p, m.data() + m.size()).starts_with(": ")) {
    return std::nullopt;
  }
  f.what = std::string(p + 2, m.data() + m.size());
  return f;
}

Index KvPrefixIndex(const KvEntries& entries, std::string_view prefix, Index last_delete,
                    Index floor) {
  Index index = std::max(last_delete, floor);
  for (auto it = entries.LowerBound(prefix); it != entries.end() && (*it)->key.starts_with(prefix);
       ++it) {
    index = std::max(index, (*it)->modify_index);
  }
  return index;
}

const KvEntry* KvState::Find(std::string_view key) const {
  const auto* e = entries_.Find(key);
  return e == nullptr ? nullptr : e->get();
}

const Session* KvState::FindSession(std::string_view id) const {
  const auto* s = sessions_.Find(id);
  return s == nullptr ? nullptr : s->get();
}

std::vector<std::string> KvState::SessionsOf(std::string_view check_id) const {
  std::vector<std::string> out;
  auto [begin, end] = by_check_.equal_range(check_id);
  for (auto it = begin; it != end; ++it) out.push_back(it->second);
  return out;
}

Status KvState::ValidateOps(const KvWrite& cmd) {
  if (cmd.ops.empty()) return Status::InvalidArgument("a KV write needs an operation");
  if (cmd.ops.size() > KvLimits::kMaxTxnOps) {
    return Status::InvalidArgument("a transaction may hold at most " +
                                   std::to_string(KvLimits::kMaxTxnOps) + " operations, got " +
                                   std::to_string(cmd.ops.size()));
  }
  for (std::size_t i = 0; i < cmd.ops.size(); ++i) {
    const KvOp& op = cmd.ops[i];
    const std::string where = cmd.ops.size() > 1 ? "op " + std::to_string(i) + ": " : "";
    using V = KvOp::Verb;
    if (static_cast<std::size_t>(op.verb) >= kKvVerbCount) {
      return Status::InvalidArgument(where + "unknown verb");
    }
    if (op.key.empty() && op.verb != V::kGetTree && op.verb != V::kDeleteTree) {
      return Status::InvalidArgument(where + "Missing key name");
    }
    if (op.key.size() > KvLimits::kMaxKeyBytes) {
      return Status::InvalidArgument(where + "key is " + std::to_string(op.key.size()) +
                                     " bytes, the limit is " +
                                     std::to_string(KvLimits::kMaxKeyBytes));
    }
    if (op.value.size() > KvLimits::kMaxValueBytes) {
      return Status::InvalidArgument(where + "value is " + std::to_string(op.value.size()) +
                                     " bytes, the limit is " +
                                     std::to_string(KvLimits::kMaxValueBytes));
    }
    if ((op.verb == V::kLock || op.verb == V::kUnlock) && op.session.empty()) {
      return Status::InvalidArgument(where + std::string(ToString(op.verb)) + " needs a session");
    }
  }
  return Status::Ok();
}

bool IsRead(KvOp::Verb verb) {
  using V = KvOp::Verb;
  return verb == V::kGet || verb == V::kGetTree || verb == V::kCheckIndex ||
         verb == V::kCheckSession || verb == V::kCheckNotExists;
}

std::string CheckRead(const KvOp& op, const KvEntry* current) {
  using V = KvOp::Verb;
  switch (op.verb) {
    case V::kGet:
      if (current == nullptr) return "key " + Quoted(op.key) + " doesn't exist";
      return "";
    case V::kCheckIndex:
      if (current == nullptr) return "key " + Quoted(op.key) + " doesn't exist";
      if (current->modify_index != op.index) {
        return "current modify index " + std::to_string(current->modify_index) +
               " != " + std::to_string(op.index);
      }
      return "";
    case V::kCheckSession:
      if (current == nullptr) return "key " + Quoted(op.key) + " doesn't exist";
      if (current->session != op.session) {
        return "current session " + Quoted(current->session) + " != " + Quoted(op.session);
      }
      return "";
    case V::kCheckNotExists:
      if (current != nullptr) return "key " + Quoted(op.key) + " exists";
      return "";
    default:  // get-tree, and writes (not reads: nothing to check here)
      return "";
  }
}

std::optional<KvFailure> CheckReads(const std::vector<KvOp>& ops, const KvEntries& entries) {
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const auto* found = entries.Find(ops[i].key);
    std::string what = CheckRead(ops[i], found == nullptr ? nullptr : found->get());
    if (!what.empty()) return KvFailure{i, std::move(what)};
  }
  return std::nullopt;
}

std::string KvState::ApplyOp(const KvOp& op, Time at, Index index, Work* w) const {
  using V = KvOp::Verb;
  const std::shared_ptr<const KvEntry>* found = w->entries.Find(op.key);
  const KvEntry* current = found == nullptr ? nullptr : found->get();
  auto put = [&](std::string session) {
    if (w->dry) return;
    auto e = std::make_shared<KvEntry>();
    e->key = op.key;
    e->value = op.value;
    e->flags = op.flags;
    e->modify_index = index;
    e->create_index = current ? current->create_index : index;
    e->lock_index = current ? current->lock_index : 0;
    if (op.verb == V::kLock && (current == nullptr || current->session != op.session)) {
      ++e->lock_index;
    }
    const std::string before = current ? current->session : std::string();
    if (before != session) w->held.push_back({op.key, before, session});
    e->session = std::move(session);
    w->bytes += static_cast<std::int64_t>(e->Footprint()) -
                static_cast<std::int64_t>(current ? current->Footprint() : 0);
    w->entries.Insert(std::move(e));
    w->changed = true;
  };
  auto erase = [&](const KvEntry& e) {
    if (w->dry) return;
    if (!e.session.empty()) w->held.push_back({e.key, e.session, ""});
    std::string key = e.key;  // e goes with the erase
    w->bytes -= static_cast<std::int64_t>(e.Footprint());
    w->entries.Erase(key);
    w->last_delete = index;
    w->changed = true;
  };
  switch (op.verb) {
    case V::kSet:
      put(current ? current->session : "");
      return "";
    case V::kCas:
      if (op.index == 0 ? current != nullptr
                        : current == nullptr || current->modify_index != op.index) {
        return "failed to set key " + Quoted(op.key) + ", index is stale";
      }
      put(current ? current->session : "");
      return "";
    case V::kLock: {
      if (FindSession(op.session) == nullptr) return "invalid session " + Quoted(op.session);
      if (current != nullptr && !current->session.empty() && current->session != op.session) {
        return "failed to lock key " + Quoted(op.key) + ", lock is already held";
      }
      if (current == nullptr || current->session != op.session) {
        auto delay = lock_delay_.find(op.key);
        if (delay != lock_delay_.end() && at < delay->second) {
          return "failed to lock key " + Quoted(op.key) + ", lock delay of the last holder (" +
                 FormatDuration(delay->second - at) + " left)";
        }
      }
      put(op.session);
      return "";
    }
    case V::kUnlock:
      if (current == nullptr || current->session != op.session) {
        return "failed to unlock key " + Quoted(op.key) +
               ", lock isn't held, or is held by another session";
      }
      put("");
      return "";
    case V::kGet:
    case V::kGetTree:
    case V::kCheckIndex:
    case V::kCheckSession:
    case V::kCheckNotExists:
      return CheckRead(op, current);
    case V::kDelete:
      if (current != nullptr) erase(*current);
      return "";
    case V::kDeleteCas:
      if (current == nullptr) return "";  // Consul: nothing to delete is a success
      if (current->modify_index != op.index) {
        return "failed to delete key " + Quoted(op.key) + ", index is stale";
      }
      erase(*current);
      return "";
    case V::kDeleteTree: {
      if (w->dry) return "";
      std::vector<std::shared_ptr<const KvEntry>> doomed;
      for (auto it = w->entries.LowerBound(op.key);
           it != w->entries.end() && (*it)->key.starts_with(op.key); ++it) {
        doomed.push_back(*it);
      }
      for (const auto& e : doomed) erase(*e);
      return "";
    }
  }
  return "unknown verb";
}

std::optional<KvFailure> KvState::Run(const KvWrite& cmd, Index index, Work* w,
                                      bool check_only) const {
  for (std::size_t i = 0; i < cmd.ops.size(); ++i) {
    w->dry = check_only && i + 1 == cmd.ops.size();
    std::string what = ApplyOp(cmd.ops[i], cmd.at, index, w);
    if (!what.empty()) return KvFailure{i, std::move(what)};
  }
  return std::nullopt;
}

std::optional<KvFailure> KvState::Conflict(const KvWrite& cmd, Index index) const {
  // A dry run: a single write (the usual PUT) checks its condition without copying a path
  // of the tree.
  Work w{entries_, last_delete_, false, 0, false, {}};
  return Run(cmd, index, &w, true);
}

std::optional<KvFailure> KvState::Apply(const KvWrite& cmd, Index index) {
  Work w{entries_, last_delete_, false, 0, false, {}};
  if (auto failure = Run(cmd, index, &w)) return failure;
  if (!w.changed) return std::nullopt;
  entries_ = std::move(w.entries);
  bytes_ = static_cast<std::size_t>(static_cast<std::int64_t>(bytes_) + w.bytes);
  last_delete_ = w.last_delete;
  index_ = index;
  for (const Work::Held& h : w.held) {
    if (!h.from.empty()) {
      auto it = held_.find(h.from);
      if (it != held_.end()) {
        it->second.erase(h.key);
        if (it->second.empty()) held_.erase(it);
      }
    }
    if (!h.to.empty()) held_[h.to].insert(h.key);
  }
  // Written (not merely read) keys: a lock delay that has run out is forgotten.
  for (const KvOp& op : cmd.ops) {
    if (!Writes(op.verb)) continue;
    auto delay = lock_delay_.find(op.key);
    if (delay != lock_delay_.end() && cmd.at >= delay->second) lock_delay_.erase(delay);
  }
  return std::nullopt;
}

Status KvState::Validate(const SessionCreate& cmd) const {
  const Session& s = cmd.session;
  if (s.id.empty()) return Status::InvalidArgument("session ID is required");
  if (sessions_.Find(s.id) != nullptr) {
    return Status::Conflict("session " + Quoted(s.id) + " already exists");
  }
  if (s.name.size() > KvLimits::kMaxSessionNameBytes) {
    return Status::InvalidArgument("Name: is " + std::to_string(s.name.size()) +
                                   " bytes, the limit is " +
                                   std::to_string(KvLimits::kMaxSessionNameBytes));
  }
  if (s.node.empty()) return Status::InvalidArgument("Node: is required");
  if (s.ttl != Duration::zero() &&
      (s.ttl < KvLimits::kMinSessionTtl || s.ttl > KvLimits::kMaxSessionTtl)) {
    return Status::InvalidArgument("Invalid Session TTL '" + FormatDuration(s.ttl) +
                                   "', must be between [10s=24h0m0s]");
  }
  if (s.lock_delay < Duration::zero() || s.lock_delay > KvLimits::kMaxLockDelay) {
    return Status::InvalidArgument("LockDelay: must be between 0s and 60s, got " +
                                   FormatDuration(s.lock_delay));
  }
  if (s.node_checks.size() + s.service_checks.size() > KvLimits::kMaxSessionChecks) {
    return Status::InvalidArgument("a session may name at most " +
                                   std::to_string(KvLimits::kMaxSessionChecks) + " checks");
  }
  if (static_cast<std::uint8_t>(s.behavior) > 1) {
    return Status::InvalidArgument("Behavior: expected \"release\" or \"delete\"");
  }
  return Status::Ok();
}

void KvState::Apply(const SessionCreate& cmd, Index index) {
  Session s = cmd.session;
  s.create_index = s.modify_index = index;
  Bind(s);
  sessions_.Insert(std::make_shared<const Session>(std::move(s)));
  sessions_index_ = index;
}

void KvState::Bind(const Session& s) {
  for (const auto* list : {&s.node_checks, &s.service_checks}) {
    for (const std::string& check : *list) {
      if (check != kSerfHealthCheck) by_check_.emplace(check, s.id);
    }
  }
}

bool KvState::EndSession(std::string_view id, Time at, Index index) {
  const auto* found = sessions_.Find(id);
  if (found == nullptr) return false;
  const std::shared_ptr<const Session> ended = *found;
  const Session& s = *ended;
  sessions_.Erase(s.id);
  sessions_index_ = index;
  for (const auto* list : {&s.node_checks, &s.service_checks}) {
    for (const std::string& check : *list) {
      auto [b, e] = by_check_.equal_range(check);
      for (auto c = b; c != e; ++c) {
        if (c->second == s.id) {
          by_check_.erase(c);
          break;
        }
      }
    }
  }
  auto held = held_.find(s.id);
  if (held == held_.end()) return true;
  for (const std::string& key : held->second) {
    const KvEntry* e = Find(key);
    if (e == nullptr) continue;
    if (s.lock_delay > Duration::zero()) lock_delay_[key] = at + s.lock_delay;
    bytes_ -= e->Footprint();
    if (s.behavior == SessionBehavior::kDelete) {
      entries_.Erase(key);
      last_delete_ = index;
    } else {
      auto copy = std::make_shared<KvEntry>(*e);
      copy->session.clear();
      bytes_ += copy->Footprint();
      copy->modify_index = index;
      entries_.Insert(std::move(copy));
    }
  }
  held_.erase(held);
  index_ = index;
  return true;
}

void KvState::Encode(Encoder& e) const {
  e.Varint(index_);
  e.Varint(last_delete_);
  e.Varint(entries_.size());
  for (const auto& entry : entries_) {
    e.Bytes(entry->key);
    e.Bytes(entry->value);
    e.Varint(entry->flags);
    e.Varint(entry->create_index);
    e.Varint(entry->modify_index);
    e.Varint(entry->lock_index);
    e.Bytes(entry->session);
  }
  e.Varint(sessions_index_);
  e.Varint(sessions_.size());
  for (const auto& s : sessions_) PutSession(e, *s);
}

bool KvState::Decode(Decoder& d, KvState* out) {
  KvState kv;
  std::size_t n = 0;
  if (!d.Varint(&kv.index_) || !d.Varint(&kv.last_delete_) || !GetCount(d, d.remaining(), &n)) {
    return false;
  }
  std::string previous;
  for (std::size_t i = 0; i < n; ++i) {
    auto e = std::make_shared<KvEntry>();
    if (!d.Bytes(&e->key) || !d.Bytes(&e->value) || !d.Varint(&e->flags) ||
        !d.Varint(&e->create_index) || !d.Varint(&e->modify_index) || !d.Varint(&e->lock_index) ||
        !d.Bytes(&e->session)) {
      return false;
    }
    if (i > 0 && e->key <= previous) return false;  // sorted, unique
    previous = e->key;
    if (!e->session.empty()) kv.held_[e->session].insert(e->key);
    kv.bytes_ += e->Footprint();
    kv.entries_.Insert(std::move(e));
  }
  if (!d.Varint(&kv.sessions_index_) || !GetCount(d, d.remaining(), &n)) return false;
  for (std::size_t i = 0; i < n; ++i) {
    Session s;
    if (!GetSession(d, &s)) return false;
    if (kv.sessions_.Find(s.id) != nullptr) return false;
    kv.Bind(s);
    kv.sessions_.Insert(std::make_shared<const Session>(std::move(s)));
  }
  // Every lock holder must be a session.
  for (const auto& [session, keys] : kv.held_) {
    if (kv.sessions_.Find(session) == nullptr) return false;
  }
  // Prefix indexes never go back: after a restore, none is below the store's index.
  kv.floor_ = kv.index_;
  *out = std::move(kv);
  return true;
}

}  // namespace concierge::core
