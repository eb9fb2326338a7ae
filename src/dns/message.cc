#include "dns/message.h"

#include <algorithm>
#include <cassert>

namespace concierge::dns {

namespace {

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; }
std::uint8_t Lower(std::uint8_t c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }

std::uint16_t Get16(std::span<const std::uint8_t> p, std::size_t at) {
  return static_cast<std::uint16_t>(p[at] << 8 | p[at + 1]);
}
std::uint32_t Get32(std::span<const std::uint8_t> p, std::size_t at) {
  return std::uint32_t{p[at]} << 24 | std::uint32_t{p[at + 1]} << 16 |
         std::uint32_t{p[at + 2]} << 8 | p[at + 3];
}

// Reads a possibly compressed name at *pos and moves *pos past it. Every compression pointer
// must point before the previous one's target (or before the name, for the first), so a
// chain of pointers always ends; every read is bounds-checked.
bool ReadName(std::span<const std::uint8_t> packet, std::size_t* pos, Name* name) {
  name->Clear();
  std::size_t p = *pos;
  std::size_t limit = *pos;
  std::size_t end = 0;
  bool jumped = false;
  for (;;) {
    if (p >= packet.size()) return false;
    std::uint8_t len = packet[p];
    if ((len & 0xC0) == 0xC0) {
      if (p + 1 >= packet.size()) return false;
      std::size_t target = static_cast<std::size_t>(len & 0x3F) << 8 | packet[p + 1];
      if (!jumped) end = p + 2;
      jumped = true;
      if (target >= limit) return false;
      limit = target;
      p = target;
      continue;
    }
    // 0x40 and 0x80: extended and reserved label types (RFC 6891 deprecates them).
    if ((len & 0xC0) != 0) return false;
    if (len == 0) {
      if (!jumped) end = p + 1;
      break;
    }
    if (p + 1 + len > packet.size()) return false;
    if (!name->AppendLabel({reinterpret_cast<const char*>(packet.data() + p + 1), len})) {
      return false;
    }
    p += 1 + len;
  }
  *pos = end;
  return true;
}

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

bool Name::AppendLabel(std::string_view label) {
  if (label.empty() || label.size() > kMaxLabel) return false;
  // The wire form with the root's zero byte may not exceed 255 bytes.
  if (size_ + 1 + label.size() + 1 > kMaxNameWire || labels_ >= kMaxLabels) return false;
  label_at_[labels_++] = size_;
  wire_[size_] = static_cast<std::uint8_t>(label.size());
  std::copy(label.begin(), label.end(), wire_.begin() + size_ + 1);
  size_ = static_cast<std::uint8_t>(size_ + 1 + label.size());
  return true;
}

bool Name::Append(const Name& suffix) {
  if (size_ + suffix.size_ + 1u > kMaxNameWire || labels_ + suffix.labels_ > kMaxLabels) {
    return false;
  }
  for (std::size_t i = 0; i < suffix.labels_; ++i) AppendLabel(suffix.label(i));
  return true;
}

bool Name::SetText(std::string_view dotted) {
  Clear();
  if (dotted == ".") return true;
  if (!dotted.empty() && dotted.back() == '.') dotted.remove_suffix(1);
  if (dotted.empty()) return false;
  for (;;) {
    std::size_t dot = dotted.find('.');
    if (!AppendLabel(dotted.substr(0, dot))) {
      Clear();
      return false;
    }
    if (dot == std::string_view::npos) return true;
    dotted.remove_prefix(dot + 1);
  }
}

bool Name::EndsWith(const Name& suffix) const {
  if (suffix.labels_ > labels_) return false;
  std::size_t offset = labels_ - suffix.labels_;
  for (std::size_t i = 0; i < suffix.labels_; ++i) {
    if (!EqualsIgnoreCase(label(offset + i), suffix.label(i))) return false;
  }
  return true;
}

bool Name::operator==(const Name& other) const {
  return labels_ == other.labels_ && EndsWith(other);
}

ParseStatus ParseQuery(std::span<const std::uint8_t> packet, Query* query) {
  if (packet.size() < kHeaderSize) return ParseStatus::kDrop;
  query->id = Get16(packet, 0);
  query->flags = Get16(packet, 2);
  if (query->flags & flag::kQr) return ParseStatus::kDrop;
  if (query->opcode() != 0) return ParseStatus::kNotImp;
  std::uint16_t qdcount = Get16(packet, 4);
  std::uint16_t ancount = Get16(packet, 6);
  std::uint16_t nscount = Get16(packet, 8);
  std::uint16_t arcount = Get16(packet, 10);
  if (qdcount != 1) return ParseStatus::kFormErr;

  std::size_t pos = kHeaderSize;
  if (!ReadName(packet, &pos, &query->name) || pos + 4 > packet.size()) {
    return ParseStatus::kFormErr;
  }
  query->type = Get16(packet, pos);
  query->qclass = Get16(packet, pos + 2);
  pos += 4;

  // Records in the other sections: a query should have none but OPT; skip them with the
  // same care. Each takes at least 11 bytes, so lying counts end at the packet's end.
  query->edns = Edns{};
  Name owner;
  std::size_t records = std::size_t{ancount} + nscount + arcount;
  for (std::size_t i = 0; i < records; ++i) {
    if (!ReadName(packet, &pos, &owner) || pos + 10 > packet.size()) {
      return ParseStatus::kFormErr;
    }
    std::uint16_t type = Get16(packet, pos);
    std::uint16_t rclass = Get16(packet, pos + 2);
    std::uint32_t ttl = Get32(packet, pos + 4);
    std::uint16_t rdlength = Get16(packet, pos + 8);
    pos += 10;
    if (pos + rdlength > packet.size()) return ParseStatus::kFormErr;
    bool additional = i >= std::size_t{ancount} + nscount;
    if (type == rrtype::kOpt) {
      // RFC 6891 6.1.1: one OPT, in the additional section, owned by the root.
      if (!additional || owner.labels() != 0 || query->edns.present) {
        return ParseStatus::kFormErr;
      }
      query->edns.present = true;
      query->edns.udp_size = std::max<std::uint16_t>(rclass, kMaxUdpWithoutEdns);
      query->edns.version = static_cast<std::uint8_t>(ttl >> 16);
      query->edns.dnssec_ok = (ttl & 0x8000) != 0;
    }
    pos += rdlength;
  }
  return ParseStatus::kOk;
}

Writer::Writer(std::span<std::uint8_t> out, std::size_t limit)
    : out_(out), limit_(std::min({limit, out.size(), kMaxMessage})) {
  assert(limit_ >= kHeaderSize);
}

bool Writer::Put8(std::uint8_t v) {
  if (!Room(1)) return false;
  out_[pos_++] = v;
  return true;
}

bool Writer::Put16(std::uint16_t v) {
  if (!Room(2)) return false;
  out_[pos_++] = static_cast<std::uint8_t>(v >> 8);
  out_[pos_++] = static_cast<std::uint8_t>(v);
  return true;
}

bool Writer::Put32(std::uint32_t v) {
  if (!Room(4)) return false;
  for (int shift = 24; shift >= 0; shift -= 8) out_[pos_++] = static_cast<std::uint8_t>(v >> shift);
  return true;
}

bool Writer::PutBytes(const std::uint8_t* p, std::size_t n) {
  if (!Room(n)) return false;
  std::copy(p, p + n, out_.begin() + static_cast<std::ptrdiff_t>(pos_));
  pos_ += n;
  return true;
}

bool Writer::NameAtEquals(std::size_t offset, std::span<const std::uint8_t> suffix) const {
  std::size_t s = 0;
  // Our own message: pointers go backwards, so this ends; the guard is for safety only.
  for (int steps = 0; steps < 256; ++steps) {
    std::uint8_t len = out_[offset];
    if ((len & 0xC0) == 0xC0) {
      offset = static_cast<std::size_t>(len & 0x3F) << 8 | out_[offset + 1];
      continue;
    }
    if (len == 0) return s == suffix.size();
    if (s >= suffix.size() || suffix[s] != len) return false;
    for (std::size_t i = 1; i <= len; ++i) {
      if (Lower(out_[offset + i]) != Lower(suffix[s + i])) return false;
    }
    s += 1 + len;
    offset += 1 + len;
  }
  return false;
}

bool Writer::PutName(const Name& name, bool compress) {
  if (compress && &name == question_ && name.labels() > 0) {
    return Put16(static_cast<std::uint16_t>(0xC000 | kHeaderSize));
  }
  std::size_t n = name.labels();
  // The longest suffix already in the message, if any.
  std::size_t match_at = n;
  std::size_t match_offset = 0;
  for (std::size_t i = 0; compress && i < n && match_at == n; ++i) {
    std::span<const std::uint8_t> suffix = name.suffix_wire(i);
    for (std::size_t e = 0; e < compression_size_; ++e) {
      if (compression_[e].labels == n - i && NameAtEquals(compression_[e].offset, suffix)) {
        match_at = i;
        match_offset = compression_[e].offset;
        break;
      }
    }
  }
  for (std::size_t i = 0; i < match_at; ++i) {
    if (pos_ < 0x4000 && compression_size_ < kMaxCompression) {
      compression_[compression_size_++] = {static_cast<std::uint16_t>(pos_),
                                           static_cast<std::uint8_t>(n - i)};
    }
    std::string_view label = name.label(i);
    if (!Put8(static_cast<std::uint8_t>(label.size())) ||
        !PutBytes(reinterpret_cast<const std::uint8_t*>(label.data()), label.size())) {
      return false;
    }
  }
  if (match_at < n) return Put16(static_cast<std::uint16_t>(0xC000 | match_offset));
  return Put8(0);
}

bool Writer::Question(const Name& name, std::uint16_t type, std::uint16_t qclass) {
  assert(qdcount_ == 0 && pos_ == kHeaderSize);
  Mark m = Save();
  if (!PutName(name) || !Put16(type) || !Put16(qclass)) {
    Restore(m);
    return false;
  }
  qdcount_ = 1;
  question_ = &name;
  return true;
}

bool Writer::BeginRecord(Section s, const Name& owner, std::uint16_t type, std::uint16_t rclass,
                         std::uint32_t ttl, std::size_t* rdata_at) {
  assert(s >= section_);
  section_ = s;
  if (!PutName(owner) || !Put16(type) || !Put16(rclass) || !Put32(ttl) || !Put16(0)) return false;
  *rdata_at = pos_;
  return true;
}

bool Writer::EndRecord(Section s, std::size_t rdata_at) {
  std::size_t rdlength = pos_ - rdata_at;
  out_[rdata_at - 2] = static_cast<std::uint8_t>(rdlength >> 8);
  out_[rdata_at - 1] = static_cast<std::uint8_t>(rdlength);
  ++counts_[static_cast<int>(s)];
  return true;
}

bool Writer::AddA(Section s, const Name& owner, std::uint32_t ttl, const std::uint8_t (&ip)[4]) {
  Mark m = Save();
  std::size_t at = 0;
  if (!BeginRecord(s, owner, rrtype::kA, rrclass::kIn, ttl, &at) || !PutBytes(ip, 4)) {
    Restore(m);
    return false;
  }
  return EndRecord(s, at);
}

bool Writer::AddAaaa(Section s, const Name& owner, std::uint32_t ttl,
                     const std::uint8_t (&ip)[16]) {
  Mark m = Save();
  std::size_t at = 0;
  if (!BeginRecord(s, owner, rrtype::kAaaa, rrclass::kIn, ttl, &at) || !PutBytes(ip, 16)) {
    Restore(m);
    return false;
  }
  return EndRecord(s, at);
}

bool Writer::AddNameRecord(Section s, const Name& owner, std::uint16_t type, std::uint32_t ttl,
                           const Name& target) {
  Mark m = Save();
  std::size_t at = 0;
  if (!BeginRecord(s, owner, type, rrclass::kIn, ttl, &at) || !PutName(target)) {
    Restore(m);
    return false;
  }
  return EndRecord(s, at);
}

bool Writer::AddSrv(Section s, const Name& owner, std::uint32_t ttl, std::uint16_t priority,
                    std::uint16_t weight, std::uint16_t port, const Name& target) {
  Mark m = Save();
  std::size_t at = 0;
  // RFC 2782: the target is not compressed (later names may still point to it).
  if (!BeginRecord(s, owner, rrtype::kSrv, rrclass::kIn, ttl, &at) || !Put16(priority) ||
      !Put16(weight) || !Put16(port) || !PutName(target, false)) {
    Restore(m);
    return false;
  }
  return EndRecord(s, at);
}

bool Writer::AddSoa(Section s, const Name& owner, std::uint32_t ttl, const Name& mname,
                    const Name& rname, std::uint32_t serial, std::uint32_t refresh,
                    std::uint32_t retry, std::uint32_t expire, std::uint32_t minimum) {
  Mark m = Save();
  std::size_t at = 0;
  if (!BeginRecord(s, owner, rrtype::kSoa, rrclass::kIn, ttl, &at) || !PutName(mname) ||
      !PutName(rname) || !Put32(serial) || !Put32(refresh) || !Put32(retry) || !Put32(expire) ||
      !Put32(minimum)) {
    Restore(m);
    return false;
  }
  return EndRecord(s, at);
}

bool Writer::AddOpt(std::uint16_t udp_size, Rcode rcode, bool dnssec_ok) {
  reserved_ = 0;
  Mark m = Save();
  std::size_t at = 0;
  std::uint32_t ttl = (static_cast<std::uint32_t>(rcode) >> 4) << 24 | (dnssec_ok ? 0x8000u : 0u);
  if (!BeginRecord(Section::kAdditional, Name(), rrtype::kOpt, udp_size, ttl, &at)) {
    Restore(m);
    return false;
  }
  return EndRecord(Section::kAdditional, at);
}

std::size_t Writer::Finish(std::uint16_t id, std::uint16_t flags, Rcode rcode) {
  flags = static_cast<std::uint16_t>((flags & ~0xFu) | (static_cast<unsigned>(rcode) & 0xFu));
  std::uint16_t words[6] = {id, flags, qdcount_, counts_[0], counts_[1], counts_[2]};
  for (int i = 0; i < 6; ++i) {
    out_[2 * i] = static_cast<std::uint8_t>(words[i] >> 8);
    out_[2 * i + 1] = static_cast<std::uint8_t>(words[i]);
  }
  return pos_;
}

}  // namespace concierge::dns
