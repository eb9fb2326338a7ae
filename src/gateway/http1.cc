#include "gateway/http1.h"

#include <algorithm>
#include <charconv>

namespace concierge::gateway::http1 {

namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr std::size_t kChunkLineMax = 4096;  // a chunk-size line with its extensions

bool IsTokenChar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool IsToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return IsTokenChar(static_cast<unsigned char>(c));
  });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "HTTP/1.0" or "HTTP/1.1": the minor version, or -1.
int Version(std::string_view v) {
  if (v.size() != 8 || v.substr(0, 7) != "HTTP/1.") return -1;
  return v[7] == '0' ? 0 : v[7] == '1' ? 1 : -1;
}

// The head's end (one past its blank line), after `skip` bytes of leading blank lines.
Parse FindEnd(std::string_view data, std::size_t limit, std::size_t* end, std::string* error,
              bool* too_large) {
  std::size_t at = data.find("\r\n\r\n");
  if (at == std::string_view::npos ? data.size() > limit : at + 4 > limit) {
    if (too_large != nullptr) *too_large = true;
    *error = "the header is larger than the gateway's limit of " + std::to_string(limit) + " bytes";
    return Parse::kError;
  }
  if (at == std::string_view::npos) return Parse::kIncomplete;
  *end = at + 4;
  return Parse::kDone;
}

// The header lines between the start line and the blank line.
Parse ParseFields(std::string_view lines, Head& head, std::string* error) {
  while (!lines.empty()) {
    std::size_t eol = lines.find(kCrlf);
    std::string_view line = lines.substr(0, eol);
    lines.remove_prefix(eol + 2);
    if (line.front() == ' ' || line.front() == '\t') {
      *error = "a header line starts with a blank (obsolete line folding is not accepted)";
      return Parse::kError;
    }
    std::size_t colon = line.find(':');
    std::string_view name = line.substr(0, colon);
    if (colon == std::string_view::npos || !IsToken(name)) {
      *error = "a header line is not NAME: VALUE";
      return Parse::kError;
    }
    std::string_view value = Trim(line.substr(colon + 1));
    for (char c : value) {
      auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f) {
        *error = "header " + std::string(name) + " holds a control character";
        return Parse::kError;
      }
    }
    head.headers.push_back({name, value});
  }
  return Parse::kDone;
}

// Content-Length's value (repeated copies must agree), or false.
bool ContentLength(const Head& head, bool* present, std::uint64_t* length) {
  *present = false;
  for (const Header& h : head.headers) {
    if (!IEquals(h.name, "content-length")) continue;
    std::uint64_t n = 0;
    const char* end = h.value.data() + h.value.size();
    auto [ptr, ec] = std::from_chars(h.value.data(), end, n);
    if (h.value.empty() || ec != std::errc() || ptr != end || h.value.front() == '+') return false;
    if (*present && n != *length) return false;
    *present = true;
    *length = n;
  }
  return true;
}

// Whether Transfer-Encoding is present, and whether its last coding is chunked.
void TransferEncoding(const Head& head, bool* present, bool* chunked) {
  *present = false;
  *chunked = false;
  for (const Header& h : head.headers) {
    if (!IEquals(h.name, "transfer-encoding")) continue;
    *present = true;
    std::string_view v = h.value;
    std::size_t comma = v.rfind(',');
    std::string_view last = Trim(comma == std::string_view::npos ? v : v.substr(comma + 1));
    *chunked = IEquals(last, "chunked");
  }
}

}  // namespace

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool HasToken(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    if (IEquals(Trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

std::string_view Head::Get(std::string_view name) const {
  for (const Header& h : headers) {
    if (IEquals(h.name, name)) return h.value;
  }
  return {};
}

Parse ParseRequest(std::string_view data, std::size_t limit, Head& head, std::string* error,
                   bool* too_large) {
  // Blank lines before a request line are ignored (RFC 9112 2.2).
  std::size_t skip = 0;
  while (data.substr(skip, 2) == kCrlf) skip += 2;
  std::size_t end = 0;
  Parse found = FindEnd(data.substr(skip), limit, &end, error, too_large);
  if (found != Parse::kDone) return found;
  std::vector<Header> reuse = std::move(head.headers);
  head = Head{};
  head.headers = std::move(reuse);
  head.headers.clear();
  head.size = skip + end;
  std::string_view text = data.substr(skip, end - 2);  // ends with the last line's CRLF
  std::size_t eol = text.find(kCrlf);
  std::string_view line = text.substr(0, eol);
  std::size_t sp1 = line.find(' ');
  std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) {
    *error = "the request line is not METHOD TARGET HTTP/1.x";
    return Parse::kError;
  }
  head.method = line.substr(0, sp1);
  head.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  head.minor = Version(line.substr(sp2 + 1));
  if (!IsToken(head.method) || head.target.empty() || head.minor < 0 ||
      std::any_of(head.target.begin(), head.target.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7f;
      })) {
    *error = "the request line is not METHOD TARGET HTTP/1.x";
    return Parse::kError;
  }
  return ParseFields(text.substr(eol + 2), head, error);
}

Parse ParseResponse(std::string_view data, std::size_t limit, Head& head, std::string* error) {
  std::size_t end = 0;
  Parse found = FindEnd(data, limit, &end, error, nullptr);
  if (found != Parse::kDone) return found;
  std::vector<Header> reuse = std::move(head.headers);
  head = Head{};
  head.headers = std::move(reuse);
  head.headers.clear();
  head.size = end;
  std::string_view text = data.substr(0, end - 2);
  std::size_t eol = text.find(kCrlf);
  std::string_view line = text.substr(0, eol);
  head.minor = Version(line.substr(0, 8));
  std::string_view code = line.size() >= 12 ? line.substr(9, 3) : std::string_view();
  if (head.minor < 0 || code.size() != 3 || line[8] != ' ' ||
      !std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      (line.size() > 12 && line[12] != ' ')) {
    *error = "the status line is not HTTP/1.x NNN REASON";
    return Parse::kError;
  }
  head.status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
  head.reason = line.size() > 13 ? line.substr(13) : std::string_view();
  return ParseFields(text.substr(eol + 2), head, error);
}

bool RequestBody(const Head& head, Body* body, std::string* error) {
  bool has_length = false, has_te = false, chunked = false;
  std::uint64_t length = 0;
  if (!ContentLength(head, &has_length, &length)) {
    *error = "Content-Length is not one number";
    return false;
  }
  TransferEncoding(head, &has_te, &chunked);
  if (has_te && (!chunked || has_length)) {
    *error = has_length ? "a request may not have both Transfer-Encoding and Content-Length"
                        : "Transfer-Encoding must end with chunked";
    return false;
  }
  *body = chunked      ? Body{Framing::kChunked, 0}
          : has_length ? Body{length > 0 ? Framing::kLength : Framing::kNone, length}
                       : Body{};
  return true;
}

bool ResponseBody(const Head& head, bool head_request, Body* body, std::string* error) {
  if (head_request || head.status < 200 || head.status == 204 || head.status == 304) {
    *body = Body{};
    return true;
  }
  bool has_length = false, has_te = false, chunked = false;
  std::uint64_t length = 0;
  TransferEncoding(head, &has_te, &chunked);
  if (has_te) {
    *body = chunked ? Body{Framing::kChunked, 0} : Body{Framing::kUntilClose, 0};
    return true;
  }
  if (!ContentLength(head, &has_length, &length)) {
    *error = "Content-Length is not one number";
    return false;
  }
  *body = has_length ? Body{length > 0 ? Framing::kLength : Framing::kNone, length}
                     : Body{Framing::kUntilClose, 0};
  return true;
}

Parse ChunkedScanner::Scan(std::string_view body, std::uint64_t limit, std::string* error) {
  for (;;) {
    std::size_t eol = body.find(kCrlf, pos_);
    if (eol == std::string_view::npos) {
      if (body.size() - pos_ > kChunkLineMax) {
        *error = "a chunk-size line is too long";
        return Parse::kError;
      }
      return Parse::kIncomplete;
    }
    std::string_view line = body.substr(pos_, eol - pos_);
    std::string_view hex = line.substr(0, std::min(line.find(';'), line.size()));
    while (!hex.empty() && (hex.back() == ' ' || hex.back() == '\t')) hex.remove_suffix(1);
    std::uint64_t size = 0;
    auto [ptr, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), size, 16);
    if (hex.empty() || ec != std::errc() || ptr != hex.data() + hex.size()) {
      *error = "a chunk size is not a hexadecimal number";
      return Parse::kError;
    }
    std::size_t data = eol + 2;
    if (size == 0) {
      // Trailers, then a blank line.
      if (body.substr(data, 2) == kCrlf) {
        end_ = data + 2;
        return Parse::kDone;
      }
      std::size_t blank = body.find("\r\n\r\n", data);
      if (blank == std::string_view::npos) {
        if (body.size() - data > kChunkLineMax * 4) {
          *error = "the chunked body's trailers are too long";
          return Parse::kError;
        }
        return Parse::kIncomplete;
      }
      end_ = blank + 4;
      return Parse::kDone;
    }
    if (size > limit || decoded_ + size > limit) {
      *error = "the body is larger than the gateway's limit of " + std::to_string(limit) + " bytes";
      return Parse::kError;
    }
    if (body.size() < data + size + 2) return Parse::kIncomplete;
    if (body.substr(data + size, 2) != kCrlf) {
      *error = "a chunk does not end with CRLF";
      return Parse::kError;
    }
    decoded_ += size;
    pos_ = data + size + 2;
  }
}

std::string Dechunk(std::string_view body) {
  std::string out;
  std::size_t pos = 0;
  for (;;) {
    std::size_t eol = body.find(kCrlf, pos);
    if (eol == std::string_view::npos) return out;
    std::uint64_t size = 0;
    std::from_chars(body.data() + pos, body.data() + eol, size, 16);
    if (size == 0 || eol + 2 + size > body.size()) return out;
    out.append(body.substr(eol + 2, size));
    pos = eol + 2 + size + 2;
  }
}

}  // namespace concierge::gateway::http1
