// Binary encoding of commands, for the Raft log. Every encoding starts with a format version
// byte, so a newer server can read what an older one wrote (DESIGN.md decision 5).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/command.h"
#include "core/status.h"

namespace concierge::core {

// 2 adds active checks (HTTP, TCP) to check definitions and the cause of a check update;
// version 1 commands still decode. The KV and session commands are new types of version 2
// (a server that does not know them refuses them: upgrade every server before using them).
inline constexpr std::uint8_t kCommandFormatVersion = 2;

std::string EncodeCommand(const Command& command);
// Rejects unknown versions, unknown command types, truncated or trailing bytes.
Result<Command> DecodeCommand(std::string_view bytes);

// Little building blocks shared by the command and snapshot encodings.
class Encoder {
 public:
  void U8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void Varint(std::uint64_t v);
  void Signed(std::int64_t v) {
    Varint((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
  }
  void Bytes(std::string_view s) {
    Varint(s.size());
    out_.append(s);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}
  bool U8(std::uint8_t* v);
  bool Varint(std::uint64_t* v);
  bool Signed(std::int64_t* v);
  bool Bytes(std::string* s);
  // Into a Text or Symbol: no std::string in between.
  template <bool kInterned>
  bool Bytes(BasicText<kInterned>* t) {
    std::string_view view;
    if (!View(&view)) return false;
    *t = BasicText<kInterned>(view);
    return true;
  }
  // The next length-prefixed bytes, pointing into the input.
  bool View(std::string_view* s);
  bool done() const { return in_.empty(); }
  std::size_t remaining() const { return in_.size(); }

 private:
  std::string_view in_;
};

// Shared by the command and snapshot encodings. Every Get* returns false on malformed input.
void PutService(Encoder& e, const ServiceDefinition& s);
bool GetService(Decoder& d, ServiceDefinition* s);
// Writes the newest encoding; `with_kind` reads it (false: version 1, TTL checks only).
void PutCheckDefinition(Encoder& e, const CheckDefinition& c);
bool GetCheckDefinition(Decoder& d, CheckDefinition* c, bool with_kind);
void PutTime(Encoder& e, Time t);
bool GetTime(Decoder& d, Time* t);
bool GetDuration(Decoder& d, Duration* out);
bool GetStatus(Decoder& d, HealthStatus* s);
void PutAclPolicy(Encoder& e, const AclPolicy& p);
bool GetAclPolicy(Decoder& d, AclPolicy* p);
void PutAclToken(Encoder& e, const AclToken& t);
bool GetAclToken(Decoder& d, AclToken* t);
void PutSession(Encoder& e, const Session& s);
bool GetSession(Decoder& d, Session* s);
// A count read from the wire, bounded so that a corrupt length cannot ask for huge memory.
bool GetCount(Decoder& d, std::size_t limit, std::size_t* n);

}  // namespace concierge::core
