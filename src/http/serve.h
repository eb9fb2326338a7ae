// The HTTP server's request loop, a template over the stream (plain TCP or TLS). Included by
// server.cc and server_tls.cc only: each instantiates it for its own stream, so the two
// instantiations (the slowest code of the project to compile) build in parallel.
#pragma once

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "http/beast_request.h"
#include "http/server.h"
#include "http/stream.h"
#include "server/log_limit.h"

namespace concierge::http {

namespace serve_detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

// Writes `r` (not a stream) in one gathered write: its head, then its body from where it is
// (a shared body is not copied).
template <class Stream>
asio::awaitable<void> WriteResponse(Stream& stream, const Response& r, unsigned version,
                                    bool keep_alive, boost::system::error_code& ec) {
  std::string_view body = r.Body();
  const std::string head = ResponseHead(r, body.size(), version, keep_alive);
  const std::array<asio::const_buffer, 2> buffers{asio::buffer(head),
                                                  asio::buffer(body.data(), body.size())};
  co_await asio::async_write(stream, buffers, asio::redirect_error(asio::use_awaitable, ec));
}
// "2.5", "100": a rate as a person writes it.
std::string Number(double x);
// Answers a connection before reading any request (refused by a limit, or plain HTTP on the
// HTTPS port) in plain text, then closes it.
asio::awaitable<void> AnswerAndClose(beast::tcp_stream& stream, int status, std::string_view reason,
                                     std::string_view message, std::chrono::seconds write_timeout,
                                     std::string_view extra_headers = {});

// While a blocking query is answered nothing reads its connection: watch it, and fire
// `hangup` when the client closes it (or resets it). Returns the flag that StopWatching
// clears; the socket must outlive the watch until then.
std::shared_ptr<bool> WatchHangup(asio::ip::tcp::socket& socket, std::shared_ptr<Hangup> hangup);
void StopWatching(asio::ip::tcp::socket& socket, const std::shared_ptr<bool>& active);

// Counts the connection while its session runs.
struct ConnectionGuard {
  std::atomic<std::size_t>& n;
  explicit ConnectionGuard(std::atomic<std::size_t>& count) : n(count) { n.fetch_add(1); }
  ~ConnectionGuard() { n.fetch_sub(1); }
  ConnectionGuard(const ConnectionGuard&) = delete;
  ConnectionGuard& operator=(const ConnectionGuard&) = delete;
};

// Holds one of the connections allowed from a client address (Server::EnterIp) and gives
// it back when the session ends.
struct IpSlot {
  Server& server;
  const std::string& ip;
  IpSlot(Server& s, const std::string& address) : server(s), ip(address) {}
  ~IpSlot() { server.LeaveIp(ip); }
  IpSlot(const IpSlot&) = delete;
  IpSlot& operator=(const IpSlot&) = delete;
};

// A token bucket: `rate` tokens a second, holding at most `burst`.
class TokenBucket {
 public:
  TokenBucket(double rate, double burst)
      : rate_(rate), burst_(burst > 0 ? burst : std::max(1.0, rate)), tokens_(burst_) {}
  // Takes a token; otherwise how long until one is there.
  std::optional<std::chrono::duration<double>> Take() {
    if (rate_ <= 0) return std::nullopt;
    auto now = std::chrono::steady_clock::now();
    std::chrono::duration<double> since = now - last_;
    last_ = now;
    tokens_ = std::min(burst_, tokens_ + since.count() * rate_);
    if (tokens_ >= 1) {
      tokens_ -= 1;
      return std::nullopt;
    }
    return std::chrono::duration<double>((1 - tokens_) / rate_);
  }

 private:
  double rate_;
  double burst_;
  double tokens_;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

// Writes a response whose body is a ResponseStream, chunk by chunk, until it ends or the
// client goes away.
template <class Stream>
asio::awaitable<void> WriteStream(Stream& stream, Response& response, unsigned version,
                                  std::chrono::seconds write_timeout) {
  auto& lowest = beast::get_lowest_layer(stream);
  std::shared_ptr<ResponseStream> body = response.stream;
  bhttp::response<bhttp::empty_body> head{static_cast<bhttp::status>(response.status), version};
  head.set(bhttp::field::server, "concierge");
  head.set(bhttp::field::content_type, response.content_type);
  for (auto& [k, v] : response.headers) head.set(k, v);
  head.keep_alive(false);
  head.chunked(true);
  bhttp::response_serializer<bhttp::empty_body> serializer{head};
  boost::system::error_code ec;
  lowest.expires_after(write_timeout);
  co_await bhttp::async_write_header(stream, serializer,
                                     asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    body->ClientGone();
    co_return;
  }
  // The client sends nothing more; a read that completes means it closed the connection (or
  // broke the protocol). Read on the socket itself, under TLS too, so that the stream's write
  // deadline does not apply to this read, which may wait for hours; what it reads is dropped.
  auto byte = std::make_shared<char>();
  lowest.socket().async_read_some(
      asio::buffer(byte.get(), 1),
      [body, byte](const boost::system::error_code&, std::size_t) { body->ClientGone(); });
  for (;;) {
    std::optional<std::string> piece = co_await body->Next();
    if (!piece) break;
    // A reader that does not read is cut off after the write timeout.
    lowest.expires_after(write_timeout);
    co_await asio::async_write(stream, bhttp::make_chunk(asio::buffer(*piece)),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
  }
  body->ClientGone();
  if (!ec) {
    lowest.expires_after(write_timeout);
    co_await asio::async_write(stream, bhttp::make_chunk_last(),
                               asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace serve_detail

template <class Stream>
boost::asio::awaitable<void> Server::Serve(Stream& stream, boost::beast::flat_buffer& buffer,
                                           const std::string& remote, bool server_certificate) {
  using namespace serve_detail;
  auto& lowest = beast::get_lowest_layer(stream);
  TokenBucket bucket(options_.request_rate, options_.request_burst);
  boost::system::error_code ec;
  for (;;) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options_.header_limit));
    // Beast compares a Content-Length with the body limit as the header ends: no limit until
    // the route's is known.
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    lowest.expires_after(options_.read_timeout);
    // The header first: the body limit depends on the route (and, for a backup, on the
    // token), and a client that sent "Expect: 100-continue" waits for our go-ahead before
    // sending the body.
    co_await bhttp::async_read_header(stream, buffer, parser,
                                      asio::redirect_error(asio::use_awaitable, ec));
    std::size_t body_limit = options_.body_limit;
    std::optional<Response> early;
    Request req;
    if (!ec) {
      req = ToRequest(parser.get(), remote, &early);
      req.server_certificate = server_certificate;
      if (!early && admit_) {
        Admission admission = admit_(req);
        body_limit = admission.body_limit;
        early = std::move(admission.refuse);
      }
      parser.body_limit(body_limit);
      if (!early && parser.content_length().value_or(0) > body_limit) {
        ec = bhttp::error::body_limit;
      }
    }
    if (!ec && !early && beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
      bhttp::response<bhttp::empty_body> go_ahead{bhttp::status::continue_, 11};
      co_await bhttp::async_write(stream, go_ahead, asio::redirect_error(asio::use_awaitable, ec));
    }
    if (!ec && !early) {
      co_await bhttp::async_read(stream, buffer, parser,
                                 asio::redirect_error(asio::use_awaitable, ec));
    }
    if (ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout || ec == asio::error::connection_reset ||
        ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
      break;
    } else if (ec == bhttp::error::body_limit) {
      early = Response::Error(413, "request body is larger than the limit of " +
                                       std::to_string(body_limit) + " bytes for " + req.method +
                                       " " + req.path);
    } else if (ec == bhttp::error::header_limit) {
      early = Response::Error(431, "request headers are larger than the limit of " +
                                       std::to_string(options_.header_limit) + " bytes");
    } else if (ec) {
      early = Response::Error(400, "malformed HTTP request: " + ec.message());
    }
    if (early) {
      // The stream is in an unknown state (or the body was not read): answer once and close.
      lowest.expires_after(options_.write_timeout);
      co_await WriteResponse(stream, *early, 11, false, ec);
      break;
    }
    auto& msg = parser.get();
    bool keep_alive = msg.keep_alive();
    unsigned version = msg.version();
    Response response;
    if (auto wait = bucket.Take()) {
      auto seconds = static_cast<long long>(std::ceil(wait->count()));
      response = Response::Error(429, "too many requests on this connection: the limit is " +
                                          Number(options_.request_rate) +
                                          " per second (-http-request-rate); retry in " +
                                          std::to_string(seconds) + "s");
      response.headers.emplace_back("Retry-After", std::to_string(seconds));
    } else {
      req.body = std::move(msg.body());
      // A blocking query may wait minutes: a client that goes away meanwhile frees its slot
      // at once.
      std::shared_ptr<bool> watching;
      if (req.Has("index") || req.Has("hash")) {
        req.hangup = std::make_shared<Hangup>();
        watching = WatchHangup(lowest.socket(), req.hangup);
      }
      try {
        response = co_await handler_(req);
      } catch (const std::exception& e) {
        server::RateLimitedError("http: {} {} failed: {}", req.method, req.path, e.what());
        response = Response::Error(500, std::string("internal error: ") + e.what());
      }
      if (watching) StopWatching(lowest.socket(), watching);
    }
    if (response.stream) {
      co_await WriteStream(stream, response, version, options_.write_timeout);
      break;
    }
    lowest.expires_after(options_.write_timeout);
    // A woken query's fan-out ends as its answer is handed to the socket, which takes what
    // its send buffer holds within the write's first step. Not when the write's completion
    // runs: Asio queues that behind every handler already waiting on this thread (when a
    // change wakes 10,000 queries, the other wake-ups), long after the bytes left.
    std::optional<std::chrono::steady_clock::time_point> handed;
    if (req.woken_at && options_.fanout != nullptr) handed = std::chrono::steady_clock::now();
    co_await WriteResponse(stream, response, version, keep_alive, ec);
    if (!ec && handed) options_.fanout->Observe(*handed - *req.woken_at);
    if (ec || !keep_alive) break;
  }
}

}  // namespace concierge::http
