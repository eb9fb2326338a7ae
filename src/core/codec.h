// Binary encoding of commands, for the Raft log. Every encoding starts with a format version
// byte, so a newer server can read what an older one wrote (DESIGN.md decision 5).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/command.h"
#include "core/status.h"

namespace concierge::core {

inline constexpr std::uint8_t kCommandFormatVersion = 1;

std::string EncodeCommand(const Command& command);
// Rejects unknown versions, unknown command types, truncated or trailing bytes.
Result<Command> DecodeCommand(std::string_view bytes);

// Little building blocks shared by the command and snapshot encodings.
class Encoder {
 public:
  void U8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void Varint(std::uint64_t v);
  void Signed(std::int64_t v) { Varint((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63)); }
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
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

}  // namespace concierge::core
