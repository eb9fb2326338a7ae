#include "http/server.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/version.hpp>
#include <spdlog/spdlog.h>

namespace concierge::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {

Request ToRequest(bhttp::request<bhttp::string_body>& msg, const std::string& remote,
                  std::optional<Response>* error) {
  Request req;
  req.method = std::string(msg.method_string());
  std::string_view target(msg.target().data(), msg.target().size());
  std::size_t q = target.find('?');
  auto path = PercentDecode(target.substr(0, q), false);
  auto query = ParseQuery(q == std::string_view::npos ? "" : target.substr(q + 1));
  if (!path || !query) {
    *error = Response::Error(400, "malformed percent-encoding in the request URL");
    return req;
  }
  req.target = std::string(target);
  req.path = std::move(*path);
  req.query = std::move(*query);
  for (const auto& field : msg) {
    req.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  req.body = std::move(msg.body());
  req.remote_address = remote;
  return req;
}

bhttp::response<bhttp::string_body> ToBeast(Response& r, unsigned version, bool keep_alive) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), version};
  res.set(bhttp::field::server, "concierge");
  res.set(bhttp::field::content_type, r.content_type);
  for (auto& [k, v] : r.headers) res.set(k, v);
  res.body() = std::move(r.body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

}  // namespace

Server::Server(ServerOptions options, Handler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {
  int workers = options_.workers > 0 ? options_.workers
                                     : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < workers; ++i) contexts_.push_back(std::make_unique<asio::io_context>(1));
}

Server::~Server() { Stop(); }

Status Server::Listen() {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(options_.host, ec);
  if (ec) return Status::InvalidArgument("HTTP address \"" + options_.host + "\" is not an IP address");
  tcp::endpoint endpoint(address, options_.port);
  acceptor_ = std::make_unique<tcp::acceptor>(*contexts_[0]);
  std::string where = options_.host + ":" + std::to_string(options_.port);
  if (acceptor_->open(endpoint.protocol(), ec); ec) {
    return Status::Unavailable("cannot open " + where + ": " + ec.message());
  }
  acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (acceptor_->bind(endpoint, ec); ec) {
    return Status::Unavailable("cannot listen on " + where + ": " + ec.message());
  }
  if (acceptor_->listen(asio::socket_base::max_listen_connections, ec); ec) {
    return Status::Unavailable("cannot listen on " + where + ": " + ec.message());
  }
  port_ = acceptor_->local_endpoint().port();
  return Status::Ok();
}

void Server::Start() {
  asio::co_spawn(*contexts_[0], Accept(), asio::detached);
  for (auto& ctx : contexts_) {
    work_.push_back(boost::asio::make_work_guard(*ctx));
    threads_.emplace_back([c = ctx.get()] { c->run(); });
  }
}

void Server::Stop() {
  if (threads_.empty()) return;
  work_.clear();
  for (auto& ctx : contexts_) ctx->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

asio::awaitable<void> Server::Accept() {
  std::size_t next = 0;
  for (;;) {
    asio::io_context& ctx = *contexts_[next++ % contexts_.size()];
    boost::system::error_code ec;
    tcp::socket socket = co_await acceptor_->async_accept(
        ctx, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      spdlog::warn("http: accept failed: {}", ec.message());
      continue;
    }
    if (connections_.load() >= options_.max_connections) {
      spdlog::warn("http: refusing a connection: {} connections open (the limit)",
                   connections_.load());
      continue;  // the socket closes as it goes out of scope
    }
    asio::co_spawn(ctx, Session(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> Server::Session(tcp::socket socket) {
  connections_.fetch_add(1);
  struct Leave {
    std::atomic<std::size_t>& n;
    ~Leave() { n.fetch_sub(1); }
  } leave{connections_};

  boost::system::error_code ec;
  auto peer = socket.remote_endpoint(ec);
  std::string remote = ec ? "" : peer.address().to_string();
  socket.set_option(tcp::no_delay(true), ec);
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options_.header_limit));
    stream.expires_after(options_.read_timeout);
    // The header first: the body limit depends on the route, and a client that sent
    // "Expect: 100-continue" waits for our go-ahead before sending the body.
    co_await bhttp::async_read_header(stream, buffer, parser,
                                      asio::redirect_error(asio::use_awaitable, ec));
    std::size_t body_limit = options_.body_limit;
    if (!ec) {
      std::string_view target(parser.get().target().data(), parser.get().target().size());
      if (target.starts_with("/v1/snapshot")) body_limit = options_.snapshot_body_limit;
      parser.body_limit(body_limit);
      if (beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
        bhttp::response<bhttp::empty_body> go_ahead{bhttp::status::continue_, 11};
        co_await bhttp::async_write(stream, go_ahead,
                                    asio::redirect_error(asio::use_awaitable, ec));
      }
    }
    if (!ec) {
      co_await bhttp::async_read(stream, buffer, parser,
                                 asio::redirect_error(asio::use_awaitable, ec));
    }
    std::optional<Response> early;
    if (ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout || ec == asio::error::connection_reset ||
        ec == asio::error::eof) {
      break;
    } else if (ec == bhttp::error::body_limit) {
      early = Response::Error(413, "request body is larger than the limit of " +
                                       std::to_string(body_limit) + " bytes");
    } else if (ec == bhttp::error::header_limit) {
      early = Response::Error(431, "request headers are larger than the limit of " +
                                       std::to_string(options_.header_limit) + " bytes");
    } else if (ec) {
      early = Response::Error(400, "malformed HTTP request: " + ec.message());
    }
    if (early) {
      // The stream is in an unknown state: answer once and close.
      auto res = ToBeast(*early, 11, false);
      stream.expires_after(options_.write_timeout);
      co_await bhttp::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
      break;
    }
    auto& msg = parser.get();
    bool keep_alive = msg.keep_alive();
    unsigned version = msg.version();
    Request req = ToRequest(msg, remote, &early);
    Response response;
    if (early) {
      response = std::move(*early);
    } else {
      try {
        response = co_await handler_(req);
      } catch (const std::exception& e) {
        spdlog::error("http: {} {} failed: {}", req.method, req.path, e.what());
        response = Response::Error(500, std::string("internal error: ") + e.what());
      }
    }
    auto res = ToBeast(response, version, keep_alive);
    stream.expires_after(options_.write_timeout);
    co_await bhttp::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !keep_alive) break;
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

}  // namespace concierge::http
