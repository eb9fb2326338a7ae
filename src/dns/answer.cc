#include "dns/answer.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace concierge::dns {

namespace {

using Section = Writer::Section;

enum class Kind { kNone, kService, kNode, kAddr };

Kind KindOf(std::string_view label) {
  if (EqualsIgnoreCase(label, "service")) return Kind::kService;
  if (EqualsIgnoreCase(label, "node")) return Kind::kNode;
  if (EqualsIgnoreCase(label, "addr")) return Kind::kAddr;
  return Kind::kNone;
}

bool WantsA(std::uint16_t type) { return type == rrtype::kA || type == rrtype::kAny; }
bool WantsAaaa(std::uint16_t type) { return type == rrtype::kAaaa || type == rrtype::kAny; }

bool HasTag(const core::Instance& inst, std::string_view tag) {
  for (const core::Symbol& t : inst.service.tags) {
    if (EqualsIgnoreCase(t, tag)) return true;
  }
  return false;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool ParseHex(std::string_view text, std::uint8_t* out) {
  for (std::size_t i = 0; i < text.size(); i += 2) {
    int hi = HexDigit(text[i]);
    int lo = HexDigit(text[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i / 2] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

bool FirstTime(Scratch& scratch, bool v6, const std::uint8_t* ip) {
  Scratch::AddressKey key{};
  key[0] = v6 ? 6 : 4;
  std::memcpy(key.data() + 1, ip, v6 ? 16 : 4);
  return scratch.FirstTime(key);
}

// Dotted-quad IPv4 without inet_pton's overhead; false for anything else.
bool ParseIpv4(std::string_view text, std::uint8_t (&out)[4]) {
  std::size_t i = 0;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (i >= text.size() || text[i] != '.') return false;
      ++i;
    }
    unsigned value = 0;
    std::size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9' && digits < 3) {
      value = value * 10 + static_cast<unsigned>(text[i] - '0');
      ++i;
      ++digits;
    }
    // No leading zeros ("01"), as inet_pton.
    if (digits == 0 || value > 255 || (digits > 1 && text[i - digits] == '0')) return false;
    out[part] = static_cast<std::uint8_t>(value);
  }
  return i == text.size();
}

}  // namespace

void Scratch::ClearSeen(std::size_t expected) {
  std::size_t want = 16;
  while (want < 2 * expected) want *= 2;
  if (seen_.size() < want) {
    seen_.assign(want, AddressKey{});
    seen_generation_.assign(want, 0);
    generation_ = 0;
  }
  if (++generation_ == 0) {  // wrapped: forget every old stamp
    std::fill(seen_generation_.begin(), seen_generation_.end(), 0);
    generation_ = 1;
  }
}

bool Scratch::FirstTime(const AddressKey& key) {
  std::uint64_t lo, hi;
  std::memcpy(&lo, key.data(), 8);
  std::memcpy(&hi, key.data() + 8, 8);
  std::uint64_t h = (lo ^ (hi * 0x9E3779B97F4A7C15ull) ^ key[16]) * 0xBF58476D1CE4E5B9ull;
  h ^= h >> 31;
  std::size_t mask = seen_.size() - 1;
  for (std::size_t i = h & mask;; i = (i + 1) & mask) {
    if (seen_generation_[i] != generation_) {
      seen_generation_[i] = generation_;
      seen_[i] = key;
      return true;
    }
    if (seen_[i] == key) return false;
  }
}

std::uint64_t Scratch::Random() {
  // xorshift64*: fast and good enough to spread load.
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 0x2545F4914F6CDD1Dull;
}

Result<std::unique_ptr<Answerer>> Answerer::Create(AnswerOptions options) {
  // Names we write use the domain in lower case; queries match it in any case.
  std::transform(options.domain.begin(), options.domain.end(), options.domain.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
  });
  std::unique_ptr<Answerer> a(new Answerer(options));
  if (!a->domain_.SetText(options.domain) || a->domain_.labels() == 0) {
    return Status::InvalidArgument("-domain: expected a DNS name like \"consul.\", got \"" +
                                   options.domain + "\"");
  }
  Name dc;
  if (!dc.SetText(options.datacenter) || dc.labels() != 1) {
    return Status::InvalidArgument("datacenter \"" + options.datacenter +
                                   "\" cannot be a DNS label: use 1-63 characters without dots");
  }
  if (!a->node_name_.SetText(options.node_name) || a->node_name_.labels() == 0) {
    return Status::InvalidArgument("node name \"" + options.node_name +
                                   "\" is not a valid DNS name (labels of 1-63 characters)");
  }
  Name suffix;
  suffix.AppendLabel("node");
  suffix.Append(dc);
  a->addr_suffix_.AppendLabel("addr");
  a->addr_suffix_.Append(dc);
  if (!a->addr_suffix_.Append(a->domain_) || !suffix.Append(a->domain_) ||
      !a->node_target_.Append(a->node_name_) || !a->node_target_.Append(suffix)) {
    return Status::InvalidArgument(
        "node name, datacenter and domain together are too long "
        "for a DNS name (255 bytes)");
  }
  a->ns_.AppendLabel("ns");
  a->hostmaster_.AppendLabel("hostmaster");
  if (!a->ns_.Append(a->domain_) || !a->hostmaster_.Append(a->domain_)) {
    return Status::InvalidArgument("-domain: \"" + options.domain + "\" is too long");
  }
  a->node_address_ = ParseAddress(options.node_address);
  if (a->node_address_.kind != Address::Kind::kV4 && a->node_address_.kind != Address::Kind::kV6) {
    return Status::InvalidArgument("node address \"" + options.node_address +
                                   "\" is not an IP address");
  }
  a->options_.max_udp_size = std::max<std::uint16_t>(options.max_udp_size, kMaxUdpWithoutEdns);
  return a;
}

Answerer::Address Answerer::ParseAddress(std::string_view text) {
  Address a;
  if (text.empty()) return a;
  if (ParseIpv4(text, a.v4)) {
    a.kind = Address::Kind::kV4;
    return a;
  }
  char buf[64];
  if (text.size() < sizeof buf) {
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    if (inet_pton(AF_INET, buf, a.v4) == 1) {
      a.kind = Address::Kind::kV4;
      return a;
    }
    if (inet_pton(AF_INET6, buf, a.v6) == 1) {
      a.kind = Address::Kind::kV6;
      return a;
    }
  }
  a.kind = Address::Kind::kName;
  return a;
}

Answerer::Address Answerer::InstanceAddress(const core::Instance& inst) const {
  return inst.service.address.empty() ? node_address_ : ParseAddress(inst.service.address);
}

bool Answerer::Target(const Address& address, std::string_view text, Name* target) const {
  target->Clear();
  switch (address.kind) {
    case Address::Kind::kNone:
      return false;
    case Address::Kind::kName:
      return target->SetText(text);
    case Address::Kind::kV4:
    case Address::Kind::kV6:
      break;
  }
  bool v6 = address.kind == Address::Kind::kV6;
  const std::uint8_t* ip = v6 ? address.v6 : address.v4;
  if (address.kind == node_address_.kind &&
      std::memcmp(ip, v6 ? node_address_.v6 : node_address_.v4, v6 ? 16 : 4) == 0) {
    *target = node_target_;
    return true;
  }
  // Consul's address-derived name: the address in hex, e.g. 0a000001.addr.dc1.consul.
  static constexpr char kHex[] = "0123456789abcdef";
  char hex[32];
  std::size_t n = v6 ? 16 : 4;
  for (std::size_t i = 0; i < n; ++i) {
    hex[2 * i] = kHex[ip[i] >> 4];
    hex[2 * i + 1] = kHex[ip[i] & 0xF];
  }
  target->AppendLabel({hex, 2 * n});
  return target->Append(addr_suffix_);
}

std::size_t Answerer::Answer(std::span<const std::uint8_t> packet, Transport transport,
                             CatalogView& catalog, Scratch& scratch,
                             std::span<std::uint8_t> out) const {
  Query q;
  ParseStatus status = ParseQuery(packet, &q);
  if (status == ParseStatus::kDrop) return 0;
  // Opcode, RD and CD are echoed; RA stays clear: there is no recursion here.
  std::uint16_t flags = flag::kQr | (q.flags & (0x7800 | flag::kRd | flag::kCd));
  if (status != ParseStatus::kOk) {
    Writer w(out, kMaxUdpWithoutEdns);
    return w.Finish(q.id, flags,
                    status == ParseStatus::kFormErr ? Rcode::kFormErr : Rcode::kNotImp);
  }
  std::size_t limit = kMaxMessage;
  if (transport == Transport::kUdp) {
    limit = q.edns.present ? std::clamp<std::size_t>(q.edns.udp_size, kMaxUdpWithoutEdns,
                                                     options_.max_udp_size)
                           : kMaxUdpWithoutEdns;
  }
  Writer w(out, limit);
  if (q.edns.present) w.Reserve(Writer::kOptSize);
  w.Question(q.name, q.type, q.qclass);
  Rcode rcode = Resolve(q, w, catalog, scratch, &flags);
  if (q.edns.present) w.AddOpt(options_.max_udp_size, rcode, q.edns.dnssec_ok);
  return w.Finish(q.id, flags, rcode);
}

Rcode Answerer::Resolve(const Query& q, Writer& w, CatalogView& catalog, Scratch& scratch,
                        std::uint16_t* flags) const {
  if (q.edns.present && q.edns.version != 0) return Rcode::kBadVers;
  if (q.qclass != rrclass::kIn && q.qclass != rrclass::kAny) return Rcode::kRefused;
  if (!q.name.EndsWith(domain_))
    return options_.refuse_outside ? Rcode::kRefused : Rcode::kServFail;
  *flags |= flag::kAa;
  std::size_t n = q.name.labels() - domain_.labels();
  if (n == 0) return Apex(q, w, scratch);

  // From the right: [<dc>.]<kind>.<domain>, where <kind> is service, node or addr.
  std::size_t kind_at = n - 1;
  Kind kind = KindOf(q.name.label(kind_at));
  if (kind == Kind::kNone && n >= 2 && KindOf(q.name.label(n - 2)) != Kind::kNone) {
    if (!EqualsIgnoreCase(q.name.label(n - 1), options_.datacenter)) {
      return Negative(w, Rcode::kNxDomain, scratch);
    }
    kind_at = n - 2;
    kind = KindOf(q.name.label(kind_at));
  }
  switch (kind) {
    case Kind::kNone:
      if (n == 1 && EqualsIgnoreCase(q.name.label(0), "ns")) {
        return AddressRecords(q, w, node_address_, scratch);
      }
      // <dc>.<domain> has names below it: it exists, with no records of its own.
      if (n == 1 && EqualsIgnoreCase(q.name.label(0), options_.datacenter)) {
        return Negative(w, Rcode::kNoError, scratch);
      }
      return Negative(w, Rcode::kNxDomain, scratch);
    case Kind::kService:
      return ServiceLookup(q, kind_at, w, catalog, scratch, flags);
    case Kind::kNode: {
      if (kind_at == 0) return Negative(w, Rcode::kNoError, scratch);
      Name node;
      for (std::size_t i = 0; i < kind_at; ++i) node.AppendLabel(q.name.label(i));
      if (!(node == node_name_)) return Negative(w, Rcode::kNxDomain, scratch);
      return AddressRecords(q, w, node_address_, scratch);
    }
    case Kind::kAddr: {
      if (kind_at == 0) return Negative(w, Rcode::kNoError, scratch);
      Address a;
      std::string_view hex = kind_at == 1 ? q.name.label(0) : std::string_view();
      if (hex.size() == 8 && ParseHex(hex, a.v4)) {
        a.kind = Address::Kind::kV4;
      } else if (hex.size() == 32 && ParseHex(hex, a.v6)) {
        a.kind = Address::Kind::kV6;
      } else {
        return Negative(w, Rcode::kNxDomain, scratch);
      }
      return AddressRecords(q, w, a, scratch);
    }
  }
  return Negative(w, Rcode::kNxDomain, scratch);
}

Rcode Answerer::Negative(Writer& w, Rcode rcode, const Scratch& scratch) const {
  // RFC 2308: the SOA in the authority section says how long the answer may be cached.
  w.AddSoa(Section::kAuthority, domain_, options_.ttl, ns_, hostmaster_, scratch.serial, 3600, 600,
           86400, options_.ttl);
  return rcode;
}

Rcode Answerer::Apex(const Query& q, Writer& w, const Scratch& scratch) const {
  bool soa = q.type == rrtype::kSoa || q.type == rrtype::kAny;
  bool ns = q.type == rrtype::kNs || q.type == rrtype::kAny;
  if (!soa && !ns) return Negative(w, Rcode::kNoError, scratch);
  if (soa) {
    w.AddSoa(Section::kAnswer, q.name, options_.ttl, ns_, hostmaster_, scratch.serial, 3600, 600,
             86400, options_.ttl);
  }
  if (ns) {
    w.AddNameRecord(Section::kAnswer, q.name, rrtype::kNs, options_.ttl, ns_);
    if (node_address_.kind == Address::Kind::kV4) {
      w.AddA(Section::kAdditional, ns_, options_.ttl, node_address_.v4);
    } else {
      w.AddAaaa(Section::kAdditional, ns_, options_.ttl, node_address_.v6);
    }
  }
  return Rcode::kNoError;
}

Rcode Answerer::AddressRecords(const Query& q, Writer& w, const Address& address,
                               const Scratch& scratch) const {
  if (address.kind == Address::Kind::kV4 && WantsA(q.type)) {
    w.AddA(Section::kAnswer, q.name, options_.ttl, address.v4);
  } else if (address.kind == Address::Kind::kV6 && WantsAaaa(q.type)) {
    w.AddAaaa(Section::kAnswer, q.name, options_.ttl, address.v6);
  } else {
    return Negative(w, Rcode::kNoError, scratch);
  }
  return Rcode::kNoError;
}

Rcode Answerer::ServiceLookup(const Query& q, std::size_t parts, Writer& w, CatalogView& catalog,
                              Scratch& scratch, std::uint16_t* flags) const {
  // <service>, <tag>.<service>, or RFC 2782's _<service>._<tag> where _tcp means any tag.
  std::string_view service;
  std::string_view tag;
  if (parts == 0) return Negative(w, Rcode::kNoError, scratch);
  if (parts == 1) {
    service = q.name.label(0);
  } else if (parts == 2) {
    std::string_view first = q.name.label(0);
    std::string_view second = q.name.label(1);
    if (first.size() > 1 && second.size() > 1 && first[0] == '_' && second[0] == '_') {
      service = first.substr(1);
      tag = second.substr(1);
      if (EqualsIgnoreCase(tag, "tcp")) tag = {};
    } else {
      tag = first;
      service = second;
    }
  } else {
    return Negative(w, Rcode::kNxDomain, scratch);
  }
  char lower[kMaxLabel];
  for (std::size_t i = 0; i < service.size(); ++i) {
    char c = service[i];
    lower[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
  }
  auto instances = catalog.Service({lower, service.size()});
  scratch.picked.clear();
  for (const auto& inst : instances) {
    if (inst->AggregateStatus() != core::HealthStatus::kPassing) continue;
    if (!tag.empty() && !HasTag(*inst, tag)) continue;
    scratch.picked.push_back(inst.get());
  }
  // A service with no healthy instance has no records at all, as in Consul.
  if (scratch.picked.empty()) return Negative(w, Rcode::kNxDomain, scratch);

  auto& picked = scratch.picked;
  // Shuffled per query, lazily: only as many as are written.
  auto next = [&](std::size_t i) {
    // Lemire's multiply-shift instead of a division: uniform enough for spreading load.
    auto range = static_cast<std::uint64_t>(picked.size() - i);
    std::size_t j = i + static_cast<std::size_t>(((scratch.Random() >> 32) * range) >> 32);
    std::swap(picked[i], picked[j]);
    return picked[i];
  };
  scratch.ClearSeen(picked.size());
  std::uint32_t ttl = options_.ttl;
  if (q.type == rrtype::kSrv) {
    std::size_t written = 0;
    Name target;
    for (; written < picked.size(); ++written) {
      const core::Instance& inst = *next(written);
      if (!Target(InstanceAddress(inst), inst.service.address, &target)) continue;
      auto weight = static_cast<std::uint16_t>(std::clamp(inst.service.weights.passing, 1, 65535));
      if (!w.AddSrv(Section::kAnswer, q.name, ttl, 1, weight, inst.service.port, target)) {
        *flags |= flag::kTc;
        break;
      }
    }
    // The targets' addresses, as Consul sends them; these may be left out when space is short.
    for (std::size_t i = 0; i < written; ++i) {
      const core::Instance& inst = *picked[i];
      Address a = InstanceAddress(inst);
      if (a.kind != Address::Kind::kV4 && a.kind != Address::Kind::kV6) continue;
      bool v6 = a.kind == Address::Kind::kV6;
      if (!FirstTime(scratch, v6, v6 ? a.v6 : a.v4) || !Target(a, inst.service.address, &target)) {
        continue;
      }
      bool ok = v6 ? w.AddAaaa(Section::kAdditional, target, ttl, a.v6)
                   : w.AddA(Section::kAdditional, target, ttl, a.v4);
      if (!ok) break;
    }
    return Rcode::kNoError;
  }
  if (!WantsA(q.type) && !WantsAaaa(q.type)) return Negative(w, Rcode::kNoError, scratch);

  std::size_t answers = 0;
  const core::Instance* by_name = nullptr;
  for (std::size_t i = 0; i < picked.size(); ++i) {
    const core::Instance& inst = *next(i);
    Address a = InstanceAddress(inst);
    bool ok = true;
    if (a.kind == Address::Kind::kV4 && WantsA(q.type)) {
      if (!FirstTime(scratch, false, a.v4)) continue;
      ok = w.AddA(Section::kAnswer, q.name, ttl, a.v4);
    } else if (a.kind == Address::Kind::kV6 && WantsAaaa(q.type)) {
      if (!FirstTime(scratch, true, a.v6)) continue;
      ok = w.AddAaaa(Section::kAnswer, q.name, ttl, a.v6);
    } else {
      if (a.kind == Address::Kind::kName && by_name == nullptr) by_name = &inst;
      continue;
    }
    if (!ok) {
      *flags |= flag::kTc;
      return Rcode::kNoError;
    }
    ++answers;
  }
  // Instances known only by host name: a CNAME, when no address record could be given (a
  // CNAME may not share its owner name with other records).
  if (answers == 0 && by_name != nullptr) {
    Name target;
    if (target.SetText(by_name->service.address)) {
      w.AddNameRecord(Section::kAnswer, q.name, rrtype::kCname, ttl, target);
      return Rcode::kNoError;
    }
  }
  if (answers == 0) return Negative(w, Rcode::kNoError, scratch);
  return Rcode::kNoError;
}

}  // namespace concierge::dns
