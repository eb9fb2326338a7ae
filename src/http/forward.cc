#include "http/forward.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <memory>
#include <unordered_map>
#include <vector>

#include "tls/context.h"

namespace concierge::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {

// One connection to a peer, plain or TLS.
struct PeerConnection {
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<asio::ssl::stream<beast::tcp_stream>> tls;
  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
};

template <class Stream>
asio::awaitable<void> WriteRead(Stream& stream, bhttp::request<bhttp::string_body>& out,
                                beast::flat_buffer& buffer,
                                bhttp::response_parser<bhttp::string_body>& parser,
                                boost::system::error_code& ec, bool& wrote) {
  wrote = false;
  co_await bhttp::async_write(stream, out, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return;
  wrote = true;
  co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace

asio::awaitable<Response> Forward(const Request& req, std::string host_port,
                                  std::chrono::seconds timeout,
                                  std::vector<std::pair<std::string, std::string>> extra_headers,
                                  const PeerTls& peer_tls, std::uint64_t answer_limit) {
  auto unreachable = [&](const std::string& why) {
    return Response::Error(503, "cannot forward to the leader at " + host_port + ": " + why);
  };
  // The address comes from the directory of members: checked where it entered, and checked
  // again here without throwing (this runs in detached coroutines).
  std::size_t colon = host_port.rfind(':');
  boost::system::error_code ec;
  std::string host = colon == std::string::npos ? host_port : host_port.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  auto address = asio::ip::make_address(host, ec);
  unsigned port = 0;
  if (colon != std::string::npos) {
    const char* first = host_port.data() + colon + 1;
    const char* last = host_port.data() + host_port.size();
    auto [end, perr] = std::from_chars(first, last, port);
    if (perr != std::errc() || end != last) port = 0;
  }
  if (colon == std::string::npos || ec || port == 0 || port > 65535) {
    co_return unreachable("not an IP address and port");
  }

  // Keep-alive connections to each peer, per I/O thread (each thread runs its own
  // io_context, so a connection never crosses threads). Followers forward every heartbeat
  // they receive: a new connection per request would cost more than the request.
  thread_local std::unordered_map<std::string, std::vector<PeerConnection>> idle;
  constexpr std::size_t kMaxIdlePerPeer = 32;

  bhttp::request<bhttp::string_body> out;
  out.method_string(req.method);
  out.target(req.target);
  out.version(11);
  for (const auto& [k, v] : req.headers) {
    if (beast::iequals(k, "host") || beast::iequals(k, "connection") ||
        beast::iequals(k, "content-length") || beast::iequals(k, "transfer-encoding")) {
      continue;
    }
    out.set(k, v);
  }
  for (const auto& [k, v] : extra_headers) out.set(k, v);
  out.set(bhttp::field::host, host_port);
  out.keep_alive(true);
  out.body() = req.body;
  out.prepare_payload();

  // A pooled connection may have been closed by the peer meanwhile: then one more try on a
  // fresh one. A fresh connection gets no second try.
  for (int attempt = 0; attempt < 2; ++attempt) {
    PeerConnection conn;
    auto& pool = idle[host_port];
    if (attempt == 0 && !pool.empty()) {
      conn = std::move(pool.back());
      pool.pop_back();
    }
    // A pooled connection made before TLS settings changed is never reused (they do not).
    bool reused = conn.plain || conn.tls;
    if (!reused) {
      auto executor = co_await asio::this_coro::executor;
      if (peer_tls.context) {
        conn.tls = std::make_unique<asio::ssl::stream<beast::tcp_stream>>(
            beast::tcp_stream(executor), *peer_tls.context);
      } else {
        conn.plain = std::make_unique<beast::tcp_stream>(executor);
      }
      conn.lowest().expires_after(std::chrono::seconds(5));
      co_await conn.lowest().async_connect(
          tcp::endpoint(address, static_cast<unsigned short>(port)),
          asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return unreachable(ec.message());
      if (conn.tls) {
        if (!tls::PrepareClient(*conn.tls, peer_tls.options, host)) {
          co_return unreachable("cannot set up TLS");
        }
        co_await conn.tls->async_handshake(asio::ssl::stream_base::client,
                                           asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return unreachable(tls::DescribeError(ec, conn.tls->native_handle()));
      }
    }
    conn.lowest().expires_after(timeout);
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(answer_limit);
    bool wrote = false;
    if (conn.tls) {
      co_await WriteRead(*conn.tls, out, buffer, parser, ec, wrote);
    } else {
      co_await WriteRead(*conn.plain, out, buffer, parser, ec, wrote);
    }
    if (ec && reused && (!wrote || !parser.got_some())) continue;
    if (ec) co_return unreachable(ec.message());
    auto& msg = parser.get();
    Response r;
    r.status = static_cast<int>(msg.result_int());
    r.content_type = std::string(msg[bhttp::field::content_type]);
    for (const auto& field : msg) {
      std::string name(field.name_string());
      if (beast::iequals(name, "content-type") || beast::iequals(name, "content-length") ||
          beast::iequals(name, "connection") || beast::iequals(name, "server")) {
        continue;
      }
      r.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    r.body = std::move(msg.body());
    if (msg.keep_alive() && buffer.size() == 0 && pool.size() < kMaxIdlePerPeer) {
      conn.lowest().expires_never();
      pool.push_back(std::move(conn));
    }
    co_return r;
  }
  co_return unreachable("the connection closed twice");
}

}  // namespace concierge::http
