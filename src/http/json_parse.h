// Parsing a JSON text from a client: RapidJSON's iterative parser (a body of nested brackets
// cannot overflow the stack; issue 18) and an error that says what and where.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

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

}  // namespace concierge::http
