// A JSON string literal for hand-written JSON (metrics, the heartbeat batch, the UI's data):
// quotes and backslashes escaped, control characters as \u00XX. The text is UTF-8 already
// (everything the agent stores was checked), so nothing else needs escaping.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace concierge::core {

inline void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
}

}  // namespace concierge::core
