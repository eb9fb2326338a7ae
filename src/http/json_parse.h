// Parsing a JSON text from a client: RapidJSON's iterative parser (a body of nested brackets
// cannot overflow the stack; issue 18) and an error that says what and where.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <cctype>
#include <string>
#include <string_view>

#include "core/status.h"

namespace concierge::http {

// `what` names the text in the error: "request body is not valid JSON: ... (at byte N)".
inline Result<rapidjson::Document> ParseJson(std::string_view text, std::string_view what) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
  if (doc.HasParseError()) {
    return Status::InvalidArgument(std::string(what) + " is not valid JSON: " +
                                   rapidjson::GetParseError_En(doc.GetParseError()) + " (at byte " +
                                   std::to_string(doc.GetErrorOffset()) + ")");
  }
  return doc;
}

inline std::string_view Str(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

// A member of an object by name, case-insensitively (Consul's decoder is), or null (also for
// a JSON null).
inline const rapidjson::Value* Member(const rapidjson::Value& obj, std::string_view name) {
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
    std::string_view key = Str(it->name);
    if (key.size() == name.size() &&
        std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return it->value.IsNull() ? nullptr : &it->value;
    }
  }
  return nullptr;
}

}  // namespace concierge::http
