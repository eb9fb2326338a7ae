#include "http/heartbeat_batch.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <array>
#include <charconv>
#include <cstddef>
#include <cstdio>

#include "core/json_string.h"
#include "http/message.h"

namespace concierge::http {

namespace {

using Allocator = rapidjson::MemoryPoolAllocator<rapidjson::CrtAllocator>;
using Document = rapidjson::GenericDocument<rapidjson::UTF8<>, Allocator>;
using Value = Document::ValueType;

// The parser's nodes go into a buffer each thread reuses, so that a batch of a few thousand
// entries allocates nothing here; a larger one spills into chunks freed with the document.
constexpr std::size_t kParseBufferBytes = 256 * 1024;

std::string_view View(const Value& v) { return {v.GetString(), v.GetStringLength()}; }

// Parses in place (the strings stay in `body`); iterative, so deep nesting cannot overflow
// the stack. Calls `use(doc)` while the document is alive.
template <typename Use>
auto WithDocument(std::string& body, Use&& use) -> decltype(use(std::declval<const Document&>())) {
  // Aligned: the allocator puts its chunk header (pointers) at the start.
  alignas(std::max_align_t) thread_local std::array<char, kParseBufferBytes> buffer;
  Allocator allocator(buffer.data(), buffer.size());
  Document doc(&allocator);
  doc.ParseInsitu<rapidjson::kParseIterativeFlag>(body.data());
  if (doc.HasParseError()) {
    return Status::InvalidArgument(std::string("request body is not valid JSON: ") +
                                   rapidjson::GetParseError_En(doc.GetParseError()) + " (at byte " +
                                   std::to_string(doc.GetErrorOffset()) + ")");
  }
  if (!doc.IsObject()) return Status::InvalidArgument("request body: expected a JSON object");
  return use(doc);
}

Status ReadStatus(const Value& v, std::string_view field, core::HealthStatus* out) {
  if (!v.IsString()) return Status::InvalidArgument(std::string(field) + ": expected a string");
  auto status = core::ParseHealthStatus(View(v));
  if (!status) {
    return Status::InvalidArgument(std::string(field) +
                                   ": expected \"passing\", \"warning\" or \"critical\", got \"" +
                                   std::string(View(v)) + "\"");
  }
  *out = *status;
  return Status::Ok();
}

// "Status", "Note", "ID" and "Token" of an object, case as Consul's clients vary it.
const Value* Member(const Value& object, std::string_view lower) {
  for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
    std::string_view key = View(it->name);
    if (key.size() != lower.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < key.size() && same; ++i) {
      same = (key[i] | 0x20) == lower[i];
    }
    if (same) return it->value.IsNull() ? nullptr : &it->value;
  }
  return nullptr;
}

void AppendNumber(std::string& out, std::uint64_t n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, end);
}

}  // namespace

Result<std::vector<HeartbeatEntry>> DecodeHeartbeatBatch(std::string& body) {
  return WithDocument(body, [](const Document& doc) -> Result<std::vector<HeartbeatEntry>> {
    HeartbeatEntry defaults;
    if (const Value* s = Member(doc, "status")) {
      if (Status st = ReadStatus(*s, "Status", &defaults.status); !st.ok()) return st;
    }
    if (const Value* n = Member(doc, "note")) {
      if (!n->IsString()) return Status::InvalidArgument("Note: expected a string");
      defaults.note = View(*n);
      if (!ValidUtf8(defaults.note)) return Status::InvalidArgument("Note: is not valid UTF-8");
    }
    const Value* checks = Member(doc, "checks");
    if (checks == nullptr || !checks->IsArray()) {
      return Status::InvalidArgument(
          "Checks: expected an array of check IDs, e.g. {\"Checks\": [\"service:web-1\"]}");
    }
    if (checks->Size() > kMaxHeartbeatBatch) {
      return Status::InvalidArgument("Checks: " + std::to_string(checks->Size()) +
                                     " entries; at most " + std::to_string(kMaxHeartbeatBatch) +
                                     " per request");
    }
    std::vector<HeartbeatEntry> entries;
    entries.reserve(checks->Size());
    for (const Value& c : checks->GetArray()) {
      auto field = [&] { return "Checks[" + std::to_string(entries.size()) + "]"; };
      HeartbeatEntry e = defaults;
      if (c.IsString()) {
        e.check_id = View(c);
      } else if (c.IsObject()) {
        const Value* id = Member(c, "id");
        if (id == nullptr || !id->IsString()) {
          return Status::InvalidArgument(field() + ".ID: expected the check ID as a string");
        }
        e.check_id = View(*id);
        if (const Value* s = Member(c, "status")) {
          if (Status st = ReadStatus(*s, field() + ".Status", &e.status); !st.ok()) return st;
        }
        if (const Value* n = Member(c, "note")) {
          if (!n->IsString()) return Status::InvalidArgument(field() + ".Note: expected a string");
          e.note = View(*n);
          if (!ValidUtf8(e.note))
            return Status::InvalidArgument(field() + ".Note: is not valid UTF-8");
        }
        if (const Value* t = Member(c, "token")) {
          if (!t->IsString()) return Status::InvalidArgument(field() + ".Token: expected a string");
          e.token = View(*t);
        }
      } else {
        return Status::InvalidArgument(field() + ": expected a check ID or an object with \"ID\"");
      }
      if (e.check_id.empty()) return Status::InvalidArgument(field() + ": the check ID is empty");
      entries.push_back(e);
    }
    return entries;
  });
}

std::string EncodeHeartbeatBatch(const std::vector<HeartbeatEntry>& entries) {
  std::string out;
  out.reserve(16 + entries.size() * 32);
  out += "{\"Checks\":[";
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const HeartbeatEntry& e = entries[i];
    if (i > 0) out += ',';
    if (e.status == core::HealthStatus::kPassing && e.note.empty() && e.token.empty()) {
      core::AppendJsonString(out, e.check_id);
      continue;
    }
    out += "{\"ID\":";
    core::AppendJsonString(out, e.check_id);
    out += ",\"Status\":";
    core::AppendJsonString(out, core::ToString(e.status));
    if (!e.note.empty()) {
      out += ",\"Note\":";
      core::AppendJsonString(out, e.note);
    }
    if (!e.token.empty()) {
      out += ",\"Token\":";
      core::AppendJsonString(out, e.token);
    }
    out += '}';
  }
  out += "]}";
  return out;
}

std::string EncodeHeartbeatResults(const HeartbeatResults& results) {
  std::string out;
  out.reserve(32 + results.codes.size() * 4);
  out += "{\"Index\":";
  AppendNumber(out, results.index);
  out += ",\"Results\":[";
  for (std::size_t i = 0; i < results.codes.size(); ++i) {
    if (i > 0) out += ',';
    AppendNumber(out, results.codes[i]);
  }
  out += "],\"Errors\":[";
  for (std::size_t i = 0; i < results.errors.size(); ++i) {
    if (i > 0) out += ',';
    out += "{\"Position\":";
    AppendNumber(out, results.errors[i].first);
    out += ",\"Error\":";
    core::AppendJsonString(out, results.errors[i].second);
    out += '}';
  }
  out += "]}";
  return out;
}

Result<HeartbeatResults> DecodeHeartbeatResults(std::string& body, std::size_t expected) {
  return WithDocument(body, [expected](const Document& doc) -> Result<HeartbeatResults> {
    HeartbeatResults r;
    const Value* index = Member(doc, "index");
    const Value* codes = Member(doc, "results");
    if (index == nullptr || !index->IsUint64() || codes == nullptr || !codes->IsArray() ||
        codes->Size() != expected) {
      return Status::InvalidArgument("heartbeat results: expected {\"Index\": n, \"Results\": [" +
                                     std::to_string(expected) + " codes]}");
    }
    r.index = index->GetUint64();
    r.codes.reserve(expected);
    for (const Value& c : codes->GetArray()) {
      if (!c.IsUint() || c.GetUint() < 100 || c.GetUint() > 599) {
        return Status::InvalidArgument("heartbeat results: a code is not an HTTP status");
      }
      r.codes.push_back(static_cast<std::uint16_t>(c.GetUint()));
    }
    if (const Value* errors = Member(doc, "errors"); errors != nullptr && errors->IsArray()) {
      for (const Value& e : errors->GetArray()) {
        const Value* pos = e.IsObject() ? Member(e, "position") : nullptr;
        const Value* msg = e.IsObject() ? Member(e, "error") : nullptr;
        if (pos == nullptr || !pos->IsUint() || pos->GetUint() >= expected || msg == nullptr ||
            !msg->IsString()) {
          return Status::InvalidArgument("heartbeat results: malformed Errors entry");
        }
        r.errors.emplace_back(pos->GetUint(), std::string(View(*msg)));
      }
    }
    return r;
  });
}

}  // namespace concierge::http
