// Reading and writing the agent's JSON in one way, for the client library and the command
// line. Internal: no public header includes it (RapidJSON stays private to the library).
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace concierge::client {

using Json = rapidjson::Value;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// Parses `text` with the iterative parser (no recursion on deep nesting). InvalidArgument
// says where it failed: "invalid JSON at offset 12: Missing a comma or ']' after an array
// element."; callers put what was read in front.
Result<rapidjson::Document> ParseJson(std::string_view text);

// ParseJson for an agent's answer to `what` ("GET /v1/agent/members"): Internal, "cannot read
// the agent's answer to <what>: invalid JSON at offset ...".
Result<rapidjson::Document> ParseAnswer(std::string_view body, std::string_view what);

// object[key], or a null value when `object` is not an object or has no such member.
const Json& GetMember(const Json& object, const char* key);

// object[key] as a string, number or bool; `otherwise` when it is missing or of another type.
std::string GetString(const Json& object, const char* key);
int GetInt(const Json& object, const char* key, int otherwise = 0);
std::uint64_t GetUint64(const Json& object, const char* key, std::uint64_t otherwise = 0);
bool GetBool(const Json& object, const char* key);

void WriteString(JsonWriter& w, std::string_view text);
// "key": "value"
void WriteField(JsonWriter& w, const char* key, std::string_view value);

// `text` as a JSON string, quotes included.
std::string Quote(std::string_view text);

}  // namespace concierge::client
