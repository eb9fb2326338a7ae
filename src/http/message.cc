#include "http/message.h"

#include <algorithm>
#include <boost/beast/http/status.hpp>
#include <cctype>
#include <charconv>
#include <cstdint>

#include "core/utf8.h"

namespace concierge::http {

std::optional<std::string_view> Request::Query(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return std::string_view(v);
  }
  return std::nullopt;
}

bool SameHeaderName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::optional<std::string_view> Request::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (SameHeaderName(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

Result<std::uint64_t> Request::QueryUint(std::string_view name) const {
  std::string_view text = Query(name).value_or("0");
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || text.empty()) {
    return Status::InvalidArgument("Invalid " + std::string(name) +
                                   " value: expected a non-negative integer, got \"" +
                                   std::string(text) + "\"");
  }
  return v;
}

std::vector<std::string_view> Request::QueryAll(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& [k, v] : query) {
    if (k == name) out.emplace_back(v);
  }
  return out;
}

bool ValidUtf8(std::string_view text) {
  while (!text.empty()) {
    std::size_t n = core::Utf8SequenceLength(text);
    if (n == 0) return false;
    text.remove_prefix(n);
  }
  return true;
}

std::optional<std::string> PercentDecode(std::string_view in, bool plus_is_space) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      int hi = hex(in[i + 1]);
      int lo = hex(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>> ParseQuery(std::string_view q) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!q.empty()) {
    std::size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (part.empty()) continue;
    std::size_t eq = part.find('=');
    auto key = PercentDecode(part.substr(0, eq), true);
    auto value = PercentDecode(eq == std::string_view::npos ? "" : part.substr(eq + 1), true);
    if (!key || !value) return std::nullopt;
    out.emplace_back(std::move(*key), std::move(*value));
  }
  return out;
}

int HttpStatus(const Status& st) {
  switch (st.code()) {
    case Status::Code::kOk:
      return 200;
    case Status::Code::kInvalidArgument:
      return 400;
    case Status::Code::kNotFound:
      return 404;
    case Status::Code::kConflict:
      return 409;
    case Status::Code::kUnavailable:
      return 503;
    case Status::Code::kInternal:
      return 500;
    case Status::Code::kPermissionDenied:
      return 403;
  }
  return 500;
}

Response FromStatus(const Status& st) { return Response::Error(HttpStatus(st), st.message()); }

Response Filtered(Response r, bool filtered) {
  if (filtered) r.headers.emplace_back("X-Consul-Results-Filtered-By-ACLs", "true");
  return r;
}

namespace {

// Headers the server writes itself, whatever a handler set; and any header whose name or
// value would break the head's lines (none should: the values are ours or a leader's parsed
// answer, but a CR or LF here would let a value write headers of its own).
bool Dropped(std::string_view name, std::string_view value) {
  return SameHeaderName(name, "Content-Length") || SameHeaderName(name, "Connection") ||
         SameHeaderName(name, "Transfer-Encoding") || SameHeaderName(name, "Server") ||
         name.find_first_of("\r\n:") != std::string_view::npos ||
         value.find_first_of("\r\n") != std::string_view::npos;
}

}  // namespace

std::string ResponseHead(const Response& r, std::size_t body_size, unsigned version,
                         bool keep_alive) {
  std::string head;
  head.reserve(160 + r.content_type.size() + 48 * r.headers.size());
  head += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  head += std::to_string(r.status);
  head += ' ';
  boost::beast::string_view reason =
      boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(r.status));
  head.append(reason.data(), reason.size());
  head += "\r\nServer: concierge\r\n";
  auto later = [&](std::size_t i) {  // a header set again later: the last value is sent
    for (std::size_t j = i + 1; j < r.headers.size(); ++j) {
      const auto& [name, value] = r.headers[j];
      if (SameHeaderName(name, r.headers[i].first) && !Dropped(name, value)) return true;
    }
    return false;
  };
  bool typed = false;
  for (std::size_t i = 0; i < r.headers.size(); ++i) {
    const auto& [name, value] = r.headers[i];
    if (Dropped(name, value) || later(i)) continue;
    typed = typed || SameHeaderName(name, "Content-Type");
    head.append(name).append(": ").append(value).append("\r\n");
  }
  if (!typed) head.append("Content-Type: ").append(r.content_type).append("\r\n");
  // 1xx, 204 and 304 have no body and say no length (RFC 9110 8.6).
  if (r.status >= 200 && r.status != 204 && r.status != 304) {
    head.append("Content-Length: ").append(std::to_string(body_size)).append("\r\n");
  }
  if (version == 10 && keep_alive) head += "Connection: keep-alive\r\n";
  if (version != 10 && !keep_alive) head += "Connection: close\r\n";
  head += "\r\n";
  return head;
}

}  // namespace concierge::http
