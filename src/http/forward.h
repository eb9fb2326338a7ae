// Sends a request on to another agent's HTTP API (a follower forwarding to the leader).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "concierge/tls.h"
#include "http/message.h"

namespace concierge::http {

// HTTPS to other servers when `context` is set (the agent runs with TLS): the server's own
// certificate is the client certificate, its -tls-ca-file checks the peer's.
struct PeerTls {
  std::shared_ptr<boost::asio::ssl::context> context;
  TlsOptions options;
};

// The most a forwarded answer may hold: a backup (GET /v1/snapshot) may be large, any other
// answer is small. The caller picks by the request's route.
inline constexpr std::uint64_t kAnswerLimit = 64 << 20;
inline constexpr std::uint64_t kBackupAnswerLimit = std::uint64_t{1} << 30;

// Forwards `req` (method, target, body, the headers that matter) to `host_port` and returns
// the answer, of at most `answer_limit` bytes. `extra_headers` are added. A peer that cannot
// be reached gives a 503 that says so. `timeout` bounds the whole exchange (blocking queries
// need minutes).
boost::asio::awaitable<Response> Forward(
    const Request& req, std::string host_port, std::chrono::seconds timeout,
    std::vector<std::pair<std::string, std::string>> extra_headers, const PeerTls& tls,
    std::uint64_t answer_limit = kAnswerLimit);

}  // namespace concierge::http
