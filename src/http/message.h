// HTTP requests and responses as handlers see them: plain values, independent of Beast, so
// that handlers and their tests do not instantiate Beast's parser (DEPENDENCY-NOTES.md).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace concierge::core {
class AclAuthorizer;
}

namespace concierge::http {

class ResponseStream;  // http/stream.h

// The client of a request going away: the server watches a blocking query's connection
// while it is answered, and fires this when the client closes it, so that the query stops
// waiting and frees its slot. Used on the request's I/O thread only.
class Hangup {
 public:
  // `wake` runs when the client goes away (at once if it has); replaces an earlier one.
  void OnHangup(std::function<void()> wake) {
    if (gone_) {
      wake();
    } else {
      wake_ = std::move(wake);
    }
  }
  void Clear() { wake_ = nullptr; }
  void Fire() {
    gone_ = true;
    if (auto wake = std::exchange(wake_, nullptr)) wake();
  }
  bool gone() const { return gone_; }

 private:
  bool gone_ = false;
  std::function<void()> wake_;
};

struct Request {
  std::string method;  // "GET", "PUT", ...
  std::string target;  // as received: path and query, still encoded
  std::string path;    // percent-decoded, without the query
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote_address;  // the client's IP, without port
  // HTTPS with -tls-verify-incoming: the client showed a certificate signed by the CA that
  // names its own address, as a server's certificate does.
  bool server_certificate = false;
  // Set by the server for a blocking query (?index=); null otherwise.
  std::shared_ptr<Hangup> hangup;
  // Set by the handler of a blocking query that a change woke: when the state thread woke it
  // (server::WatchHub::Notify). The server counts the time from then until the answer is
  // handed to the socket (the fan-out, ServerOptions::fanout).
  std::optional<std::chrono::steady_clock::time_point> woken_at;
  // What the request's ACL token may do (http/acl_api.h); set before routing.
  std::shared_ptr<const core::AclAuthorizer> acl;

  // The first value of a query parameter, or nullopt. "?passing" gives "".
  std::optional<std::string_view> Query(std::string_view name) const;
  std::vector<std::string_view> QueryAll(std::string_view name) const;
  bool Has(std::string_view name) const { return Query(name).has_value(); }
  // A non-negative integer parameter (?index=, ?cas=, ?flags=): 0 when absent, an error naming
  // the parameter when it is not one.
  Result<std::uint64_t> QueryUint(std::string_view name) const;
  // The first header of that name (case-insensitive), or nullopt.
  std::optional<std::string_view> Header(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Set: the body is this stream (chunked), not `body`, and the connection closes after it.
  std::shared_ptr<ResponseStream> stream = nullptr;
  // Set: the body is these bytes, not `body`; immutable and shared with other responses
  // (http/answer_cache.h), written as they are, never copied.
  std::shared_ptr<const std::string> shared_body = nullptr;

  // The body, wherever it is.
  std::string_view Body() const { return shared_body ? std::string_view(*shared_body) : body; }

  static Response Json(std::string body) { return {200, "application/json", std::move(body), {}}; }
  static Response SharedJson(std::shared_ptr<const std::string> body) {
    return {200, "application/json", {}, {}, nullptr, std::move(body)};
  }
  // A one-line error message in plain text, as Consul answers errors.
  static Response Error(int status, std::string message) {
    message += '\n';
    return {status, "text/plain; charset=utf-8", std::move(message), {}};
  }
};

// Decided from a request's line and headers, before its body is read: how large the body may
// be, or an answer that refuses the request at once (the connection is then closed).
struct Admission {
  std::size_t body_limit = 0;
  std::optional<Response> refuse;
};

// The HTTP status of a non-ok Status (400, 404, 409, 403, 503, 500), and the plain-text error
// that says it.
int HttpStatus(const Status& st);
Response FromStatus(const Status& st);
// Consul's header on a list that ACLs shortened, when `filtered`.
Response Filtered(Response r, bool filtered);

// Header names compare without case (and so do content codings).
bool SameHeaderName(std::string_view a, std::string_view b);

// The status line and headers of `r` with a body of `body_size` bytes, as HTTP/1.x puts them
// (a header a handler set twice is sent once, with its last value; the server's own framing
// headers win over a handler's). Written by hand, in one string: Beast's fields and
// serializer cost each answer several allocations, which thousands of watchers woken at once
// and every heartbeat pay (issue 22).
std::string ResponseHead(const Response& r, std::size_t body_size, unsigned version,
                         bool keep_alive);

// Well-formed UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. Everything the
// agent stores from a request is checked, so its JSON answers are valid UTF-8 too.
bool ValidUtf8(std::string_view text);

// Percent-decoding for paths and query strings ('+' is a space in queries only).
std::optional<std::string> PercentDecode(std::string_view in, bool plus_is_space);
// Splits "a=1&b&c=%20" into decoded pairs; nullopt on a malformed escape.
std::optional<std::vector<std::pair<std::string, std::string>>> ParseQuery(std::string_view q);

}  // namespace concierge::http
