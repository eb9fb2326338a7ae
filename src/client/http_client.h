// A small synchronous HTTP/1.1 client for talking to a Concierge (or Consul) agent.
//
// One HttpClient holds at most one keep-alive connection to one "host:port" and sends one
// request at a time. It never throws: every failure comes back as a non-ok Status whose
// message names the address and the cause, e.g.
//   cannot connect to 127.0.0.1:8500: Connection refused
//
// Thread safety: a client is used by one thread at a time, except Shutdown(), which any
// thread may call while another thread is inside a request.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "concierge/tls.h"
#include "core/status.h"

namespace boost::asio::ssl {
class context;
}

namespace concierge::client {

// "host:port", as given to -http-addr. The host may be a name, an IPv4 address or a
// bracketed IPv6 address ("[::1]:8500"). No scheme.
struct HostPort {
  std::string host;
  std::uint16_t port = 0;

  // "host:port" again, with IPv6 hosts in brackets.
  std::string ToString() const;
};

// Parses "host:port". Fails with InvalidArgument on a scheme ("http://..."), a missing or
// out-of-range port, or an empty host.
Result<HostPort> ParseHostPort(std::string_view address);

struct Response {
  int status = 0;
  std::string body;
  // Header names are lower-cased ("x-consul-index"); a repeated header keeps its last value.
  std::map<std::string, std::string> headers;

  // The value of a header (any case), or nullptr if the answer did not carry it.
  const std::string* Header(std::string_view name) const;
};

struct HttpClientOptions {
  // Bounds resolving plus opening the TCP connection.
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
  // Bounds sending a request and reading its whole answer, unless a request asks for more.
  std::chrono::milliseconds read_timeout{std::chrono::seconds(30)};
  // Larger answers fail instead of being read into memory.
  std::uint64_t max_body_bytes = 64 << 20;
  // HTTPS when tls.enabled. The OpenSSL context is made from `tls` by Open unless one is
  // given here (so that many clients share one).
  TlsOptions tls;
  std::shared_ptr<boost::asio::ssl::context> tls_context;
  // An ACL token sent as X-Consul-Token with every request; empty: none (anonymous).
  std::string token;
};

class HttpClient {
 public:
  // Checks the address; connects lazily, on the first request.
  static Result<HttpClient> Open(std::string_view address, HttpClientOptions options = {});

  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;
  ~HttpClient();

  // Sends `method` (e.g. "GET", "PUT") for `target` (path and query, already URL-encoded,
  // e.g. "/v1/health/service/web?index=7") with `body`, and reads the whole answer.
  // Any HTTP status is a successful Result; only transport failures are errors
  // (Unavailable), plus InvalidArgument for an unknown method.
  // `timeout` replaces options.read_timeout for this request (blocking queries need more).
  // A kept-alive connection that the server has closed is reopened and the request sent
  // again, once.
  // `headers` are added to the request.
  using Headers = std::vector<std::pair<std::string, std::string>>;
  Result<Response> Send(std::string_view method, std::string_view target,
                        std::string_view body = {},
                        std::optional<std::chrono::milliseconds> timeout = {},
                        const Headers& headers = {});

  Result<Response> Get(std::string_view target,
                       std::optional<std::chrono::milliseconds> timeout = {}) {
    return Send("GET", target, {}, timeout);
  }
  Result<Response> Put(std::string_view target, std::string_view body = {}) {
    return Send("PUT", target, body);
  }

  // GET `target` and hand each piece of a 200 answer's body to `on_data` as it arrives, with
  // no deadline on the body, until the server ends it or `on_data` returns false (for
  // streams such as /v1/agent/monitor). Another status comes back with its whole body and
  // `on_data` is not called. Uses a connection of its own, closed at the end.
  Result<Response> Stream(std::string_view target,
                          const std::function<bool(std::string_view)>& on_data);

  // Aborts the request in progress, if any, and makes every later request fail at once
  // with Unavailable. Safe to call from any thread; permanent.
  void Shutdown();

  // The address requests go to.
  const HostPort& address() const;

 private:
  struct Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace concierge::client
