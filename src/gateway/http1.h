// Copyright: the Concierge authors.
//
// The gateway's HTTP/1.x wire format: a message head parsed in place (views into the
// caller's buffer, no copy), how its body is framed, and a chunked-body scanner that
// resumes where it stopped. Pure functions over bytes: the proxy reads into one buffer per
// connection, parses here, and forwards the bytes it already holds.
//
//   Head head;
//   std::string error;
//   switch (ParseRequest(buffered, head, &error)) {
//     case Parse::kIncomplete: /* read more */
//     case Parse::kError:      /* 400 with `error` */
//     case Parse::kDone:       /* head.size bytes are the head */
//   }
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace concierge::gateway::http1 {

struct Header {
  std::string_view name;
  std::string_view value;  // without surrounding blanks
};

struct Head {
  std::string_view method;  // requests
  std::string_view target;  // requests
  int status = 0;           // responses
  std::string_view reason;  // responses
  int minor = 1;            // HTTP/1.<minor>
  std::vector<Header> headers;
  std::size_t size = 0;  // bytes of the head through its blank line

  // The first header named `name` (case-insensitive), or an empty view.
  std::string_view Get(std::string_view name) const;
};

enum class Parse { kIncomplete, kDone, kError };

// Parses the request head at the start of `data` into `head` (views into `data`). kError
// sets `*error` to what was wrong. `limit`: the largest head accepted; a longer one is
// kError with `*too_large` set.
Parse ParseRequest(std::string_view data, std::size_t limit, Head& head, std::string* error,
                   bool* too_large);
// The same for a response head (status line "HTTP/1.x NNN reason").
Parse ParseResponse(std::string_view data, std::size_t limit, Head& head, std::string* error);

enum class Framing { kNone, kLength, kChunked, kUntilClose };
struct Body {
  Framing framing = Framing::kNone;
  std::uint64_t length = 0;  // kLength
};

// How a request's body is framed; false with `*error` for what must be refused
// (Transfer-Encoding not ending in chunked, with Content-Length too, a bad Content-Length).
bool RequestBody(const Head& head, Body* body, std::string* error);
// How a response's body is framed (RFC 9112 6.3): none for HEAD, 1xx, 204 and 304.
bool ResponseBody(const Head& head, bool head_request, Body* body, std::string* error);

// Finds the end of a chunked body over bytes that arrive in pieces; each Scan is given the
// whole body received so far and resumes after the last complete chunk.
class ChunkedScanner {
 public:
  // kDone once the last chunk and trailers are in: end() is then the body's size on the wire.
  // kError (`*error`) on a malformed chunk or when the decoded size passes `limit`.
  Parse Scan(std::string_view body, std::uint64_t limit, std::string* error);
  std::size_t end() const { return end_; }
  void Reset() { *this = ChunkedScanner(); }

 private:
  std::size_t pos_ = 0;  // start of the next chunk-size line
  std::uint64_t decoded_ = 0;
  std::size_t end_ = 0;
};

// The data of a complete chunked body (as ChunkedScanner accepted it), without its framing.
std::string Dechunk(std::string_view body);

// Whether a comma-separated header value holds `token` (case-insensitive), as Connection does.
bool HasToken(std::string_view list, std::string_view token);
bool IEquals(std::string_view a, std::string_view b);

}  // namespace concierge::gateway::http1
