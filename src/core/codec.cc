#include "core/codec.h"

namespace concierge::core {

namespace {

enum class Type : std::uint8_t {
  kRegister = 1,
  kDeregister = 2,
  kUpdateCheck = 3,
  kReap = 4,
  kRestoreSnapshot = 5,
  kSetMaintenance = 6,
  kLeaderElected = 7,
  kChecksHeard = 8,
  kAclBootstrap = 9,
  kAclSetPolicy = 10,
  kAclDeletePolicy = 11,
  kAclSetToken = 12,
  kAclDeleteToken = 13,
  kRestoreSnapshotPart = 14,
  kKvWrite = 15,
  kSessionCreate = 16,
  kSessionDestroy = 17,
};

// At most this many check IDs in one ChecksHeard (a leader sends one per batch of heartbeats).
constexpr std::size_t kMaxChecksHeard = 1 << 20;

template <typename Int>
bool GetInt(Decoder& d, Int* out) {
  std::int64_t v = 0;
  if (!d.Signed(&v)) return false;
  *out = static_cast<Int>(v);
  return static_cast<std::int64_t>(*out) == v;
}

void PutRegister(Encoder& e, const RegisterService& c) {
  PutService(e, c.service);
  e.Varint(c.checks.size());
  for (const CheckDefinition& ch : c.checks) PutCheckDefinition(e, ch);
  PutTime(e, c.at);
}

bool GetRegister(Decoder& d, RegisterService* c, std::uint8_t version) {
  std::size_t n = 0;
  if (!GetService(d, &c->service) || !GetCount(d, Limits::kMaxChecksPerService, &n)) return false;
  c->checks.resize(n);
  for (CheckDefinition& ch : c->checks) {
    if (!GetCheckDefinition(d, &ch, version >= 2)) return false;
  }
  return GetTime(d, &c->at);
}

// One policy or token as commands carry them; snapshots add the indexes (PutAclPolicy).
void PutPolicy(Encoder& e, const AclPolicy& p) {
  e.Bytes(p.id);
  e.Bytes(p.name);
  e.Bytes(p.description);
  e.Varint(p.rules.rules.size());
  for (const AclRule& r : p.rules.rules) {
    e.U8(static_cast<std::uint8_t>(r.resource));
    e.U8(r.prefix ? 1 : 0);
    e.Bytes(r.name);
    e.U8(static_cast<std::uint8_t>(r.access));
  }
  for (const auto& a : {p.rules.operator_access, p.rules.acl_access}) {
    e.U8(a ? static_cast<std::uint8_t>(*a) + 1 : 0);
  }
}

bool GetOptionalAccess(Decoder& d, std::optional<AclAccess>* a) {
  std::uint8_t v = 0;
  if (!d.U8(&v) || v > 3) return false;
  if (v == 0) {
    a->reset();
  } else {
    *a = static_cast<AclAccess>(v - 1);
  }
  return true;
}

bool GetPolicy(Decoder& d, AclPolicy* p) {
  std::size_t n = 0;
  if (!d.Bytes(&p->id) || !d.Bytes(&p->name) || !d.Bytes(&p->description) ||
      !GetCount(d, AclLimits::kMaxRulesPerPolicy, &n)) {
    return false;
  }
  p->rules.rules.resize(n);
  for (AclRule& r : p->rules.rules) {
    std::uint8_t resource = 0;
    std::uint8_t prefix = 0;
    std::uint8_t access = 0;
    if (!d.U8(&resource) || resource >= kAclResourceCount || !d.U8(&prefix) || prefix > 1 ||
        !d.Bytes(&r.name) || !d.U8(&access) || access > 2) {
      return false;
    }
    r.resource = static_cast<AclResource>(resource);
    r.prefix = prefix == 1;
    r.access = static_cast<AclAccess>(access);
  }
  return GetOptionalAccess(d, &p->rules.operator_access) &&
         GetOptionalAccess(d, &p->rules.acl_access);
}

void PutToken(Encoder& e, const AclToken& t) {
  e.Bytes(t.accessor_id);
  e.Bytes(t.secret_hash);
  e.Bytes(t.description);
  e.Varint(t.policy_ids.size());
  for (const std::string& p : t.policy_ids) e.Bytes(p);
  PutTime(e, t.create_time);
}

bool GetToken(Decoder& d, AclToken* t) {
  std::size_t n = 0;
  if (!d.Bytes(&t->accessor_id) || !d.Bytes(&t->secret_hash) || !d.Bytes(&t->description) ||
      !GetCount(d, AclLimits::kMaxPoliciesPerToken, &n)) {
    return false;
  }
  if (!t->secret_hash.empty() && t->secret_hash.size() != kSecretHashBytes) return false;
  t->policy_ids.resize(n);
  for (std::string& p : t->policy_ids) {
    if (!d.Bytes(&p)) return false;
  }
  return GetTime(d, &t->create_time);
}

}  // namespace

void PutAclPolicy(Encoder& e, const AclPolicy& p) {
  PutPolicy(e, p);
  e.Varint(p.create_index);
  e.Varint(p.modify_index);
}

bool GetAclPolicy(Decoder& d, AclPolicy* p) {
  return GetPolicy(d, p) && d.Varint(&p->create_index) && d.Varint(&p->modify_index);
}

void PutAclToken(Encoder& e, const AclToken& t) {
  PutToken(e, t);
  e.Varint(t.create_index);
  e.Varint(t.modify_index);
}

bool GetAclToken(Decoder& d, AclToken* t) {
  return GetToken(d, t) && d.Varint(&t->create_index) && d.Varint(&t->modify_index);
}

void PutSession(Encoder& e, const Session& s) {
  e.Bytes(s.id);
  e.Bytes(s.name);
  e.Bytes(s.node);
  for (const auto* list : {&s.node_checks, &s.service_checks}) {
    e.Varint(list->size());
    for (const std::string& c : *list) e.Bytes(c);
  }
  e.U8(static_cast<std::uint8_t>(s.behavior));
  e.Signed(s.ttl.count());
  e.Signed(s.lock_delay.count());
  e.Varint(s.create_index);
  e.Varint(s.modify_index);
}

bool GetSession(Decoder& d, Session* s) {
  if (!d.Bytes(&s->id) || !d.Bytes(&s->name) || !d.Bytes(&s->node)) return false;
  for (auto* list : {&s->node_checks, &s->service_checks}) {
    std::size_t n = 0;
    if (!GetCount(d, KvLimits::kMaxSessionChecks, &n)) return false;
    list->resize(n);
    for (std::string& c : *list) {
      if (!d.Bytes(&c)) return false;
    }
  }
  std::uint8_t behavior = 0;
  std::int64_t ttl = 0;
  std::int64_t delay = 0;
  if (!d.U8(&behavior) || behavior > 1 || !d.Signed(&ttl) || !d.Signed(&delay) ||
      !d.Varint(&s->create_index) || !d.Varint(&s->modify_index)) {
    return false;
  }
  s->behavior = static_cast<SessionBehavior>(behavior);
  s->ttl = Duration(ttl);
  s->lock_delay = Duration(delay);
  return true;
}

bool IsAclCommand(const Command& command) {
  return std::holds_alternative<AclBootstrap>(command) ||
         std::holds_alternative<AclSetPolicy>(command) ||
         std::holds_alternative<AclDeletePolicy>(command) ||
         std::holds_alternative<AclSetToken>(command) ||
         std::holds_alternative<AclDeleteToken>(command);
}

std::vector<Command> RestoreCommands(std::string_view snapshot, std::size_t part_bytes) {
  std::vector<Command> out;
  if (snapshot.size() <= part_bytes) {
    out.push_back(RestoreSnapshot{std::string(snapshot), {}});
    return out;
  }
  const std::size_t parts = (snapshot.size() + part_bytes - 1) / part_bytes;
  out.reserve(parts);
  for (std::size_t i = 0; i < parts; ++i) {
    out.push_back(RestoreSnapshot{std::string(snapshot.substr(i * part_bytes, part_bytes)),
                                  {},
                                  static_cast<std::uint32_t>(i),
                                  static_cast<std::uint32_t>(parts)});
  }
  return out;
}

void PutService(Encoder& e, const ServiceDefinition& s) {
  e.Bytes(s.id);
  e.Bytes(s.name);
  e.Varint(s.tags.size());
  for (const auto& t : s.tags) e.Bytes(t);
  e.Bytes(s.address);
  e.Varint(s.port);
  e.Varint(s.meta.size());
  for (const auto& [k, v] : s.meta) {
    e.Bytes(k);
    e.Bytes(v);
  }
  e.Signed(s.weights.passing);
  e.Signed(s.weights.warning);
  e.U8(s.enable_tag_override ? 1 : 0);
}

bool GetService(Decoder& d, ServiceDefinition* s) {
  std::size_t n = 0;
  if (!d.Bytes(&s->id) || !d.Bytes(&s->name) || !GetCount(d, Limits::kMaxTags, &n)) return false;
  std::vector<Symbol> tags(n);
  for (auto& t : tags) {
    if (!d.Bytes(&t)) return false;
  }
  s->tags = tags;
  std::uint64_t port = 0;
  if (!d.Bytes(&s->address) || !d.Varint(&port) || port > 65535) return false;
  s->port = static_cast<std::uint16_t>(port);
  if (!GetCount(d, Limits::kMaxMetaPairs, &n)) return false;
  std::vector<std::pair<Symbol, Symbol>> meta(n);
  for (auto& [k, v] : meta) {
    if (!d.Bytes(&k) || !d.Bytes(&v)) return false;
  }
  s->meta = meta;
  std::uint8_t flag = 0;
  if (!GetInt(d, &s->weights.passing) || !GetInt(d, &s->weights.warning) || !d.U8(&flag) ||
      flag > 1) {
    return false;
  }
  s->enable_tag_override = flag == 1;
  return true;
}

void PutCheckDefinition(Encoder& e, const CheckDefinition& ch) {
  e.Bytes(ch.id);
  e.Bytes(ch.name);
  e.Bytes(ch.notes);
  e.Signed(ch.ttl.count());
  e.Signed(ch.deregister_critical_after.count());
  e.U8(static_cast<std::uint8_t>(ch.initial_status));
  e.Bytes(ch.initial_output);
  e.U8(static_cast<std::uint8_t>(ch.kind));
  if (ch.kind == CheckKind::kTtl) return;
  // Never null in a valid command; an invalid one still encodes (and fails validation).
  static const ActiveCheck kNone;
  const ActiveCheck& a = ch.active ? *ch.active : kNone;
  e.Bytes(a.target);
  e.Bytes(a.method);
  e.Varint(a.headers.size());
  for (const auto& [k, v] : a.headers) {
    e.Bytes(k);
    e.Bytes(v);
  }
  e.Bytes(a.body);
  e.Signed(a.interval.count());
  e.Signed(a.timeout.count());
  e.Signed(a.success_before_passing);
  e.Signed(a.failures_before_critical);
  // The kinds after TCP came later: their fields follow, so HTTP and TCP checks encode (and
  // old entries decode) exactly as before.
  if (ch.kind == CheckKind::kHttp || ch.kind == CheckKind::kTcp) return;
  e.Varint(a.args.size());
  for (const std::string& arg : a.args) e.Bytes(arg);
  e.Bytes(a.alias_node);
  e.U8(static_cast<std::uint8_t>((a.use_tls ? 1 : 0) | (a.tls_skip_verify ? 2 : 0)));
}

bool GetCheckDefinition(Decoder& d, CheckDefinition* ch, bool with_kind) {
  if (!(d.Bytes(&ch->id) && d.Bytes(&ch->name) && d.Bytes(&ch->notes) && GetDuration(d, &ch->ttl) &&
        GetDuration(d, &ch->deregister_critical_after) && GetStatus(d, &ch->initial_status) &&
        d.Bytes(&ch->initial_output))) {
    return false;
  }
  if (!with_kind) return true;
  std::uint8_t kind = 0;
  if (!d.U8(&kind) || kind > static_cast<std::uint8_t>(kLastCheckKind)) return false;
  ch->kind = static_cast<CheckKind>(kind);
  if (ch->kind == CheckKind::kTtl) return true;
  ActiveCheck a;
  std::size_t n = 0;
  if (!d.Bytes(&a.target) || !d.Bytes(&a.method) || !GetCount(d, Limits::kMaxCheckHeaders, &n)) {
    return false;
  }
  a.headers.resize(n);
  for (auto& [k, v] : a.headers) {
    if (!d.Bytes(&k) || !d.Bytes(&v)) return false;
  }
  if (!d.Bytes(&a.body) || !GetDuration(d, &a.interval) || !GetDuration(d, &a.timeout) ||
      !GetInt(d, &a.success_before_passing) || !GetInt(d, &a.failures_before_critical)) {
    return false;
  }
  if (ch->kind != CheckKind::kHttp && ch->kind != CheckKind::kTcp) {
    std::uint8_t flags = 0;
    if (!GetCount(d, Limits::kMaxScriptArgs, &n)) return false;
    a.args.resize(n);
    for (std::string& arg : a.args) {
      if (!d.Bytes(&arg)) return false;
    }
    if (!d.Bytes(&a.alias_node) || !d.U8(&flags) || flags > 3) return false;
    a.use_tls = (flags & 1) != 0;
    a.tls_skip_verify = (flags & 2) != 0;
  }
  ch->active = SharedConst<ActiveCheck>(std::move(a));
  return true;
}

void PutTime(Encoder& e, Time t) { e.Signed(t.time_since_epoch().count()); }
bool GetTime(Decoder& d, Time* t) {
  std::int64_t ns = 0;
  if (!d.Signed(&ns)) return false;
  *t = Time(Duration(ns));
  return true;
}
bool GetDuration(Decoder& d, Duration* out) {
  std::int64_t ns = 0;
  if (!d.Signed(&ns)) return false;
  *out = Duration(ns);
  return true;
}
bool GetStatus(Decoder& d, HealthStatus* s) {
  std::uint8_t v = 0;
  if (!d.U8(&v) || v > 2) return false;
  *s = static_cast<HealthStatus>(v);
  return true;
}
bool GetCount(Decoder& d, std::size_t limit, std::size_t* n) {
  std::uint64_t v = 0;
  if (!d.Varint(&v) || v > limit) return false;
  *n = static_cast<std::size_t>(v);
  return true;
}

void Encoder::Varint(std::uint64_t v) {
  while (v >= 0x80) {
    out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out_.push_back(static_cast<char>(v));
}

bool Decoder::U8(std::uint8_t* v) {
  if (in_.empty()) return false;
  *v = static_cast<std::uint8_t>(in_.front());
  in_.remove_prefix(1);
  return true;
}

bool Decoder::Varint(std::uint64_t* v) {
  std::uint64_t result = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in_.empty()) return false;
    auto byte = static_cast<std::uint8_t>(in_.front());
    in_.remove_prefix(1);
    if (shift == 63 && byte > 1) return false;
    result |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return false;
}

bool Decoder::Signed(std::int64_t* v) {
  std::uint64_t u = 0;
  if (!Varint(&u)) return false;
  *v = static_cast<std::int64_t>((u >> 1) ^ (~(u & 1) + 1));
  return true;
}

bool Decoder::Bytes(std::string* s) {
  std::string_view view;
  if (!View(&view)) return false;
  s->assign(view);
  return true;
}

bool Decoder::View(std::string_view* s) {
  std::uint64_t n = 0;
  if (!Varint(&n) || n > in_.size()) return false;
  *s = in_.substr(0, static_cast<std::size_t>(n));
  in_.remove_prefix(static_cast<std::size_t>(n));
  return true;
}

std::string EncodeCommand(const Command& command) {
  Encoder e;
  e.U8(kCommandFormatVersion);
  std::visit(
      [&e](const auto& c) {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, RegisterService>) {
          e.U8(static_cast<std::uint8_t>(Type::kRegister));
          PutRegister(e, c);
        } else if constexpr (std::is_same_v<T, DeregisterService>) {
          e.U8(static_cast<std::uint8_t>(Type::kDeregister));
          e.Bytes(c.service_id);
          PutTime(e, c.at);
        } else if constexpr (std::is_same_v<T, UpdateCheck>) {
          e.U8(static_cast<std::uint8_t>(Type::kUpdateCheck));
          e.Bytes(c.check_id);
          e.U8(static_cast<std::uint8_t>(c.status));
          e.Bytes(c.output);
          PutTime(e, c.at);
          e.U8(static_cast<std::uint8_t>(c.cause));
        } else if constexpr (std::is_same_v<T, ReapService>) {
          e.U8(static_cast<std::uint8_t>(Type::kReap));
          e.Bytes(c.service_id);
          PutTime(e, c.at);
        } else if constexpr (std::is_same_v<T, RestoreSnapshot>) {
          // A whole snapshot keeps the format older servers read.
          e.U8(static_cast<std::uint8_t>(c.parts == 1 ? Type::kRestoreSnapshot
                                                      : Type::kRestoreSnapshotPart));
          e.Bytes(c.snapshot);
          PutTime(e, c.at);
          if (c.parts != 1) {
            e.Varint(c.part);
            e.Varint(c.parts);
          }
        } else if constexpr (std::is_same_v<T, LeaderElected>) {
          e.U8(static_cast<std::uint8_t>(Type::kLeaderElected));
          PutTime(e, c.at);
        } else if constexpr (std::is_same_v<T, ChecksHeard>) {
          e.U8(static_cast<std::uint8_t>(Type::kChecksHeard));
          e.Varint(c.check_ids.size());
          for (const std::string& id : c.check_ids) e.Bytes(id);
          PutTime(e, c.at);
        } else if constexpr (std::is_same_v<T, SetMaintenance>) {
          e.U8(static_cast<std::uint8_t>(Type::kSetMaintenance));
          e.Bytes(c.service_id);
          e.U8(c.enable ? 1 : 0);
          e.Bytes(c.reason);
          PutTime(e, c.at);
        } else if constexpr (std::is_same_v<T, AclBootstrap>) {
          e.U8(static_cast<std::uint8_t>(Type::kAclBootstrap));
          PutToken(e, c.token);
          PutTime(e, c.at);
        } else if constexpr (std::is_same_v<T, AclSetPolicy>) {
          e.U8(static_cast<std::uint8_t>(Type::kAclSetPolicy));
          PutPolicy(e, c.policy);
          e.U8(c.create ? 1 : 0);
          PutTime(e, c.at);
        } else if constexpr (std::is_same_v<T, AclDeletePolicy>) {
          e.U8(static_cast<std::uint8_t>(Type::kAclDeletePolicy));
          e.Bytes(c.id);
          PutTime(e, c.at);
        } else if constexpr (std::is_same_v<T, AclSetToken>) {
          e.U8(static_cast<std::uint8_t>(Type::kAclSetToken));
          PutToken(e, c.token);
          e.U8(c.create ? 1 : 0);
          PutTime(e, c.at);
        } else if constexpr (std::is_same_v<T, KvWrite>) {
          e.U8(static_cast<std::uint8_t>(Type::kKvWrite));
          e.Varint(c.ops.size());
          for (const KvOp& op : c.ops) {
            e.U8(static_cast<std::uint8_t>(op.verb));
            e.Bytes(op.key);
            e.Bytes(op.value);
            e.Varint(op.flags);
            e.Varint(op.index);
            e.Bytes(op.session);
          }
          PutTime(e, c.at);
        } else if constexpr (std::is_same_v<T, SessionCreate>) {
          e.U8(static_cast<std::uint8_t>(Type::kSessionCreate));
          PutSession(e, c.session);
          PutTime(e, c.at);
        } else if constexpr (std::is_same_v<T, SessionDestroy>) {
          e.U8(static_cast<std::uint8_t>(Type::kSessionDestroy));
          e.Bytes(c.id);
          e.U8(c.expired ? 1 : 0);
          PutTime(e, c.at);
        } else {
          static_assert(std::is_same_v<T, AclDeleteToken>);
          e.U8(static_cast<std::uint8_t>(Type::kAclDeleteToken));
          e.Bytes(c.accessor_id);
          PutTime(e, c.at);
        }
      },
      command);
  return e.Take();
}

Result<Command> DecodeCommand(std::string_view bytes) {
  Decoder d(bytes);
  std::uint8_t version = 0;
  std::uint8_t type = 0;
  if (!d.U8(&version)) return Status::InvalidArgument("command: empty");
  if (version != kCommandFormatVersion && version != 1) {
    return Status::InvalidArgument("command: unknown format version " + std::to_string(version));
  }
  if (!d.U8(&type)) return Status::InvalidArgument("command: truncated");
  Command out;
  bool ok = false;
  switch (static_cast<Type>(type)) {
    case Type::kRegister: {
      RegisterService c;
      ok = GetRegister(d, &c, version);
      out = std::move(c);
      break;
    }
    case Type::kDeregister: {
      DeregisterService c;
      ok = d.Bytes(&c.service_id) && GetTime(d, &c.at);
      out = std::move(c);
      break;
    }
    case Type::kUpdateCheck: {
      UpdateCheck c;
      ok = d.Bytes(&c.check_id) && GetStatus(d, &c.status) && d.Bytes(&c.output) &&
           GetTime(d, &c.at);
      if (ok && version >= 2) {
        std::uint8_t cause = 0;
        ok = d.U8(&cause) && cause <= static_cast<std::uint8_t>(CheckCause::kActiveCheck);
        c.cause = static_cast<CheckCause>(cause);
      }
      out = std::move(c);
      break;
    }
    case Type::kReap: {
      ReapService c;
      ok = d.Bytes(&c.service_id) && GetTime(d, &c.at);
      out = std::move(c);
      break;
    }
    case Type::kRestoreSnapshot: {
      RestoreSnapshot c;
      ok = d.Bytes(&c.snapshot) && GetTime(d, &c.at);
      out = std::move(c);
      break;
    }
    case Type::kRestoreSnapshotPart: {
      RestoreSnapshot c;
      std::uint64_t part = 0;
      std::uint64_t parts = 0;
      ok = d.Bytes(&c.snapshot) && GetTime(d, &c.at) && d.Varint(&part) && d.Varint(&parts) &&
           parts > 1 && parts <= UINT32_MAX && part < parts;
      c.part = static_cast<std::uint32_t>(part);
      c.parts = static_cast<std::uint32_t>(parts);
      out = std::move(c);
      break;
    }
    case Type::kSetMaintenance: {
      SetMaintenance c;
      std::uint8_t enable = 0;
      ok = d.Bytes(&c.service_id) && d.U8(&enable) && enable <= 1 && d.Bytes(&c.reason) &&
           GetTime(d, &c.at);
      c.enable = enable == 1;
      out = std::move(c);
      break;
    }
    case Type::kLeaderElected: {
      LeaderElected c;
      ok = GetTime(d, &c.at);
      out = std::move(c);
      break;
    }
    case Type::kChecksHeard: {
      ChecksHeard c;
      std::size_t n = 0;
      // Each ID takes at least a byte: a count larger than the input is malformed.
      ok = GetCount(d, kMaxChecksHeard, &n) && n <= d.remaining();
      if (ok) c.check_ids.resize(n);
      for (std::size_t i = 0; ok && i < n; ++i) ok = d.Bytes(&c.check_ids[i]);
      ok = ok && GetTime(d, &c.at);
      out = std::move(c);
      break;
    }
    case Type::kAclBootstrap: {
      AclBootstrap c;
      ok = GetToken(d, &c.token) && GetTime(d, &c.at);
      out = std::move(c);
      break;
    }
    case Type::kAclSetPolicy: {
      AclSetPolicy c;
      std::uint8_t create = 0;
      ok = GetPolicy(d, &c.policy) && d.U8(&create) && create <= 1 && GetTime(d, &c.at);
      c.create = create == 1;
      out = std::move(c);
      break;
    }
    case Type::kAclDeletePolicy: {
      AclDeletePolicy c;
      ok = d.Bytes(&c.id) && GetTime(d, &c.at);
      out = std::move(c);
      break;
    }
    case Type::kAclSetToken: {
      AclSetToken c;
      std::uint8_t create = 0;
      ok = GetToken(d, &c.token) && d.U8(&create) && create <= 1 && GetTime(d, &c.at);
      c.create = create == 1;
      out = std::move(c);
      break;
    }
    case Type::kAclDeleteToken: {
      AclDeleteToken c;
      ok = d.Bytes(&c.accessor_id) && GetTime(d, &c.at);
      out = std::move(c);
      break;
    }
    case Type::kKvWrite: {
      KvWrite c;
      std::size_t n = 0;
      ok = GetCount(d, KvLimits::kMaxTxnOps, &n);
      if (ok) c.ops.resize(n);
      for (std::size_t i = 0; ok && i < n; ++i) {
        KvOp& op = c.ops[i];
        std::uint8_t verb = 0;
        ok = d.U8(&verb) && verb < kKvVerbCount && d.Bytes(&op.key) && d.Bytes(&op.value) &&
             d.Varint(&op.flags) && d.Varint(&op.index) && d.Bytes(&op.session);
        op.verb = static_cast<KvOp::Verb>(verb);
      }
      ok = ok && GetTime(d, &c.at);
      out = std::move(c);
      break;
    }
    case Type::kSessionCreate: {
      SessionCreate c;
      ok = GetSession(d, &c.session) && GetTime(d, &c.at);
      out = std::move(c);
      break;
    }
    case Type::kSessionDestroy: {
      SessionDestroy c;
      std::uint8_t expired = 0;
      ok = d.Bytes(&c.id) && d.U8(&expired) && expired <= 1 && GetTime(d, &c.at);
      c.expired = expired == 1;
      out = std::move(c);
      break;
    }
    default:
      return Status::InvalidArgument("command: unknown type " + std::to_string(type));
  }
  if (!ok) return Status::InvalidArgument("command: truncated or malformed");
  if (!d.done()) return Status::InvalidArgument("command: trailing bytes");
  return out;
}

}  // namespace concierge::core
