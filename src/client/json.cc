#include "client/json.h"

#include <rapidjson/error/en.h>

namespace concierge::client {

Result<rapidjson::Document> ParseJson(std::string_view text) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
  if (doc.HasParseError()) {
    return Status::InvalidArgument("invalid JSON at offset " +
                                   std::to_string(doc.GetErrorOffset()) + ": " +
                                   rapidjson::GetParseError_En(doc.GetParseError()));
  }
  return doc;
}

Result<rapidjson::Document> ParseAnswer(std::string_view body, std::string_view what) {
  Result<rapidjson::Document> doc = ParseJson(body);
  if (!doc.ok()) {
    return Status::Internal("cannot read the agent's answer to " + std::string(what) + ": " +
                            doc.status().message());
  }
  return doc;
}

const Json& GetMember(const Json& object, const char* key) {
  static const Json kNull;
  if (!object.IsObject()) return kNull;
  auto it = object.FindMember(key);
  return it == object.MemberEnd() ? kNull : it->value;
}

std::string GetString(const Json& object, const char* key) {
  const Json& v = GetMember(object, key);
  return v.IsString() ? std::string(v.GetString(), v.GetStringLength()) : std::string();
}

int GetInt(const Json& object, const char* key, int otherwise) {
  const Json& v = GetMember(object, key);
  return v.IsInt() ? v.GetInt() : otherwise;
}

std::uint64_t GetUint64(const Json& object, const char* key, std::uint64_t otherwise) {
  const Json& v = GetMember(object, key);
  return v.IsUint64() ? v.GetUint64() : otherwise;
}

bool GetBool(const Json& object, const char* key) {
  const Json& v = GetMember(object, key);
  return v.IsBool() && v.GetBool();
}

void WriteString(JsonWriter& w, std::string_view text) {
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

void WriteField(JsonWriter& w, const char* key, std::string_view value) {
  w.Key(key);
  WriteString(w, value);
}

std::string Quote(std::string_view text) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  WriteString(w, text);
  return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace concierge::client
