// DNS wire format (RFC 1035, 2782, 3596, 6891): the parts a query-answering server needs.
// Parsing checks every bound and never reads outside the packet; writing compresses names and
// never writes past a limit. No I/O and no allocation here, so the fuzzer and the unit tests
// link only this.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace concierge::dns {

inline constexpr std::size_t kHeaderSize = 12;
inline constexpr std::size_t kMaxNameWire = 255;  // with the root's zero byte
inline constexpr std::size_t kMaxLabel = 63;
inline constexpr std::size_t kMaxLabels = 127;
inline constexpr std::size_t kMaxUdpWithoutEdns = 512;
inline constexpr std::size_t kMaxMessage = 65535;

namespace rrtype {
inline constexpr std::uint16_t kA = 1;
inline constexpr std::uint16_t kNs = 2;
inline constexpr std::uint16_t kCname = 5;
inline constexpr std::uint16_t kSoa = 6;
inline constexpr std::uint16_t kAaaa = 28;
inline constexpr std::uint16_t kSrv = 33;
inline constexpr std::uint16_t kOpt = 41;
inline constexpr std::uint16_t kAny = 255;
}  // namespace rrtype

namespace rrclass {
inline constexpr std::uint16_t kIn = 1;
inline constexpr std::uint16_t kAny = 255;
}  // namespace rrclass

// Response codes; values above 15 need EDNS (the high bits travel in the OPT record).
enum class Rcode : std::uint16_t {
  kNoError = 0,
  kFormErr = 1,
  kServFail = 2,
  kNxDomain = 3,
  kNotImp = 4,
  kRefused = 5,
  kBadVers = 16,
};

// Header flag bits (the 16-bit word after the ID).
namespace flag {
inline constexpr std::uint16_t kQr = 0x8000;
inline constexpr std::uint16_t kAa = 0x0400;
inline constexpr std::uint16_t kTc = 0x0200;
inline constexpr std::uint16_t kRd = 0x0100;
inline constexpr std::uint16_t kRa = 0x0080;
inline constexpr std::uint16_t kCd = 0x0010;
}  // namespace flag

// A domain name as uncompressed wire labels, without the root's final zero byte. Keeps the
// case it was given; comparisons ignore ASCII case, as DNS does.
class Name {
 public:
  Name() = default;
  // Parses "web.service.consul" or "web.service.consul." (no escapes). False if a label is
  // empty or longer than 63 bytes, or the name is longer than 255 bytes.
  bool SetText(std::string_view dotted);
  // False (and no change) if the label is empty or too long, or the name would be.
  bool AppendLabel(std::string_view label);
  bool Append(const Name& suffix);
  void Clear() { size_ = 0, labels_ = 0; }

  std::size_t labels() const { return labels_; }
  std::string_view label(std::size_t i) const {
    const std::uint8_t* p = wire_.data() + label_at_[i];
    return {reinterpret_cast<const char*>(p + 1), *p};
  }
  // The labels from `i` to the end, as wire bytes (without the root's zero).
  std::span<const std::uint8_t> suffix_wire(std::size_t i) const {
    std::size_t at = i < labels_ ? label_at_[i] : size_;
    return {wire_.data() + at, size_ - at};
  }
  std::size_t wire_size() const { return size_ + 1u; }  // with the root's zero
  // True if the last labels of this name equal `suffix` (ignoring case).
  bool EndsWith(const Name& suffix) const;
  bool operator==(const Name& other) const;  // ignoring case

 private:
  std::array<std::uint8_t, kMaxNameWire - 1> wire_{};
  std::array<std::uint8_t, kMaxLabels> label_at_{};
  std::uint8_t size_ = 0;
  std::uint8_t labels_ = 0;
};

bool EqualsIgnoreCase(std::string_view a, std::string_view b);

struct Edns {
  bool present = false;
  std::uint16_t udp_size = kMaxUdpWithoutEdns;
  std::uint8_t version = 0;
  bool dnssec_ok = false;
};

struct Query {
  std::uint16_t id = 0;
  std::uint16_t flags = 0;
  Name name;
  std::uint16_t type = 0;
  std::uint16_t qclass = 0;
  Edns edns;

  std::uint8_t opcode() const { return (flags >> 11) & 0xF; }
};

enum class ParseStatus {
  kOk,
  kDrop,     // no reply: shorter than a header, or a response (QR set)
  kFormErr,  // malformed after a valid header: reply FORMERR with the header's ID
  kNotImp,   // an opcode other than QUERY: reply NOTIMP
};

// Parses one query (exactly one question; other sections are skipped, one OPT is read).
ParseStatus ParseQuery(std::span<const std::uint8_t> packet, Query* query);

// Builds a message into a caller's buffer: the question, then answer, authority and
// additional records in that order. A record that does not fit within the limit is not
// written (the message stays valid) and its Add returns false.
class Writer {
 public:
  enum class Section { kAnswer = 0, kAuthority = 1, kAdditional = 2 };

  // `limit` is clamped to out.size() and kMaxMessage.
  Writer(std::span<std::uint8_t> out, std::size_t limit);

  // Keeps `bytes` of the limit free for a later AddOpt.
  void Reserve(std::size_t bytes) { reserved_ = bytes; }
  // The question section (at most one question, before any record); optional. `name` must
  // outlive the writer.
  bool Question(const Name& name, std::uint16_t type, std::uint16_t qclass);

  bool AddA(Section s, const Name& owner, std::uint32_t ttl, const std::uint8_t (&ip)[4]);
  bool AddAaaa(Section s, const Name& owner, std::uint32_t ttl, const std::uint8_t (&ip)[16]);
  // CNAME and NS: rdata is one name.
  bool AddNameRecord(Section s, const Name& owner, std::uint16_t type, std::uint32_t ttl,
                     const Name& target);
  bool AddSrv(Section s, const Name& owner, std::uint32_t ttl, std::uint16_t priority,
              std::uint16_t weight, std::uint16_t port, const Name& target);
  bool AddSoa(Section s, const Name& owner, std::uint32_t ttl, const Name& mname, const Name& rname,
              std::uint32_t serial, std::uint32_t refresh, std::uint32_t retry,
              std::uint32_t expire, std::uint32_t minimum);
  // The OPT pseudo-record (additional section): our UDP size, extended rcode bits, version 0.
  bool AddOpt(std::uint16_t udp_size, Rcode rcode, bool dnssec_ok);
  static constexpr std::size_t kOptSize = 11;

  // Writes the header and returns the message size.
  std::size_t Finish(std::uint16_t id, std::uint16_t flags, Rcode rcode);
  std::size_t size() const { return pos_; }

 private:
  static constexpr std::size_t kMaxCompression = 96;
  struct Mark {
    std::size_t pos;
    std::size_t compression;
  };
  Mark Save() const { return {pos_, compression_size_}; }
  void Restore(Mark m) { pos_ = m.pos, compression_size_ = m.compression; }
  bool Room(std::size_t n) const { return pos_ + n + reserved_ <= limit_; }
  bool Put8(std::uint8_t v);
  bool Put16(std::uint16_t v);
  bool Put32(std::uint32_t v);
  bool PutBytes(const std::uint8_t* p, std::size_t n);
  bool PutName(const Name& name, bool compress = true);
  // Owner, type, class IN, TTL and a placeholder RDLENGTH; returns where RDATA starts.
  bool BeginRecord(Section s, const Name& owner, std::uint16_t type, std::uint16_t rclass,
                   std::uint32_t ttl, std::size_t* rdata_at);
  bool EndRecord(Section s, std::size_t rdata_at);
  // Whether the name at `offset` in the message (following pointers) equals `suffix`.
  bool NameAtEquals(std::size_t offset, std::span<const std::uint8_t> suffix) const;

  std::span<std::uint8_t> out_;
  std::size_t limit_;
  std::size_t reserved_ = 0;
  std::size_t pos_ = kHeaderSize;
  std::uint16_t qdcount_ = 0;
  std::uint16_t counts_[3] = {0, 0, 0};
  Section section_ = Section::kAnswer;
  // Offsets of labels written in full, each the start of a name suffix later names may
  // point to, with the number of labels from there to the root.
  struct Entry {
    std::uint16_t offset;
    std::uint8_t labels;
  };
  std::array<Entry, kMaxCompression> compression_{};
  std::size_t compression_size_ = 0;
  // The question's name object: owners passed as this same object point at offset 12 at once.
  const Name* question_ = nullptr;
};

}  // namespace concierge::dns
