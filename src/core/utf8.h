// UTF-8 for the strings the registry stores from outside (check output from an HTTP check's
// target, notes): JSON answers must be valid UTF-8, or strict decoders (Python's) fail on a
// whole list because of one check.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace concierge::core {

// The length of the valid UTF-8 sequence at the start of `text` (1 to 4), or 0 if it does not
// start with one (overlong forms, surrogates and code points above U+10FFFF are invalid).
std::size_t Utf8SequenceLength(std::string_view text);

// `text` with every byte that does not belong to a valid sequence replaced by U+FFFD.
std::string ToValidUtf8(std::string_view text);

// `text` (valid UTF-8) cut to at most `max_bytes`, never inside a character.
std::string_view TruncateUtf8(std::string_view text, std::size_t max_bytes);

}  // namespace concierge::core
