#include "http/forward.h"

#include <memory>
#include <unordered_map>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace concierge::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

asio::awaitable<Response> Forward(const Request& req, std::string host_port,
                                  std::chrono::seconds timeout,
                                  std::vector<std::pair<std::string, std::string>> extra_headers) {
  auto unreachable = [&](const std::string& why) {
    return Response::Error(503, "cannot forward to the leader at " + host_port + ": " + why);
  };
  std::size_t colon = host_port.rfind(':');
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host_port.substr(0, colon), ec);
  if (colon == std::string::npos || ec) co_return unreachable("not an IP address and port");
  auto port = static_cast<unsigned short>(std::stoi(host_port.substr(colon + 1)));

  // Keep-alive connections to each peer, per I/O thread (each thread runs its own
  // io_context, so a connection never crosses threads). Followers forward every heartbeat
  // they receive: a new connection per request would cost more than the request.
  thread_local std::unordered_map<std::string, std::vector<std::unique_ptr<beast::tcp_stream>>>
      idle;
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
    std::unique_ptr<beast::tcp_stream> stream;
    auto& pool = idle[host_port];
    if (attempt == 0 && !pool.empty()) {
      stream = std::move(pool.back());
      pool.pop_back();
    }
    bool reused = stream != nullptr;
    if (!reused) {
      stream = std::make_unique<beast::tcp_stream>(co_await asio::this_coro::executor);
      stream->expires_after(std::chrono::seconds(5));
      co_await stream->async_connect(tcp::endpoint(address, port),
                                     asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return unreachable(ec.message());
    }
    stream->expires_after(timeout);
    co_await bhttp::async_write(*stream, out, asio::redirect_error(asio::use_awaitable, ec));
    if (ec && reused) continue;
    if (ec) co_return unreachable(ec.message());

    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 << 20);
    co_await bhttp::async_read(*stream, buffer, parser,
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec && reused && parser.got_some() == false) continue;
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
      stream->expires_never();
      pool.push_back(std::move(stream));
    }
    co_return r;
  }
  co_return unreachable("the connection closed twice");
}

}  // namespace concierge::http
