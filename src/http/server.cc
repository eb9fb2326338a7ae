#include "http/server.h"

#include <cmath>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/version.hpp>
#include <spdlog/spdlog.h>

#include "http/beast_request.h"
#include "http/stream.h"

namespace concierge::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

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

// "2.5", "100": a rate as a person writes it.
std::string Number(double x) {
  std::string s = std::to_string(x);
  s.erase(s.find_last_not_of('0') + 1);
  if (s.back() == '.') s.pop_back();
  return s;
}

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
  lowest.socket().async_read_some(asio::buffer(byte.get(), 1),
                                  [body, byte](const boost::system::error_code&, std::size_t) {
                                    body->ClientGone();
                                  });
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
    auto peer = socket.remote_endpoint(ec);
    std::string remote = ec ? "" : peer.address().to_string();
    if (options_.tls) {
      asio::co_spawn(ctx, SessionTls(std::move(socket), std::move(remote)), asio::detached);
    } else {
      asio::co_spawn(ctx, Session(std::move(socket), std::move(remote)), asio::detached);
    }
  }
}

bool Server::EnterIp(const std::string& ip) {
  if (options_.max_connections_per_ip == 0) return true;
  std::lock_guard lock(per_ip_mu_);
  std::size_t& n = per_ip_[ip];
  if (n >= options_.max_connections_per_ip) return false;
  ++n;
  return true;
}

void Server::LeaveIp(const std::string& ip) {
  if (options_.max_connections_per_ip == 0) return;
  std::lock_guard lock(per_ip_mu_);
  auto it = per_ip_.find(ip);
  if (it != per_ip_.end() && --it->second == 0) per_ip_.erase(it);
}

namespace {

// Counts the connection while its session runs.
struct ConnectionGuard {
  std::atomic<std::size_t>& n;
  explicit ConnectionGuard(std::atomic<std::size_t>& count) : n(count) { n.fetch_add(1); }
  ~ConnectionGuard() { n.fetch_sub(1); }
  ConnectionGuard(const ConnectionGuard&) = delete;
  ConnectionGuard& operator=(const ConnectionGuard&) = delete;
};

// Answers written before any request is read (the connection is closed after them).
std::string RawAnswer(int status, std::string_view reason, std::string_view message,
                      std::string_view extra_headers = {}) {
  std::string body = std::string(message) + "\n";
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
         "\r\nServer: concierge\r\nContent-Type: text/plain; charset=utf-8\r\n" +
         std::string(extra_headers) + "Content-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

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

}  // namespace

asio::awaitable<void> Server::Session(tcp::socket socket, std::string remote) {
  ConnectionGuard counted(connections_);
  boost::system::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  beast::tcp_stream stream(std::move(socket));
  if (!EnterIp(remote)) {
    std::string answer = RawAnswer(
        429, "Too Many Requests",
        "too many connections from " + remote + " (the limit is " +
            std::to_string(options_.max_connections_per_ip) +
            " per client address, -http-max-conns-per-client); close some and retry",
        "Retry-After: 1\r\n");
    stream.expires_after(options_.write_timeout);
    co_await asio::async_write(stream, asio::buffer(answer),
                               asio::redirect_error(asio::use_awaitable, ec));
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    co_return;
  }
  struct Leave {
    Server* server;
    const std::string& ip;
    ~Leave() { server->LeaveIp(ip); }
  } leave{this, remote};
  beast::flat_buffer buffer;
  co_await Serve(stream, buffer, remote);
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

asio::awaitable<void> Server::SessionTls(tcp::socket socket, std::string remote) {
  ConnectionGuard counted(connections_);
  boost::system::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  ssl::stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *options_.tls);
  auto& lowest = beast::get_lowest_layer(stream);
  if (!EnterIp(remote)) co_return;  // a plain-text answer would not be understood
  struct Leave {
    Server* server;
    const std::string& ip;
    ~Leave() { server->LeaveIp(ip); }
  } leave{this, remote};
  // The first bytes tell a TLS client from a plain HTTP one, which gets an answer it can read.
  beast::flat_buffer buffer;
  lowest.expires_after(options_.read_timeout);
  bool is_tls = co_await beast::async_detect_ssl(lowest, buffer,
                                                 asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return;
  if (!is_tls) {
    std::string answer = RawAnswer(400, "Bad Request",
                                   "this port speaks HTTPS only (the agent runs with TLS): use "
                                   "https:// and the CA that signed its certificate");
    lowest.expires_after(options_.write_timeout);
    co_await asio::async_write(lowest, asio::buffer(answer),
                               asio::redirect_error(asio::use_awaitable, ec));
    lowest.socket().shutdown(tcp::socket::shutdown_send, ec);
    co_return;
  }
  std::size_t used = co_await stream.async_handshake(
      ssl::stream_base::server, buffer.data(), asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    spdlog::debug("http: TLS handshake with {} failed: {}", remote, ec.message());
    co_return;
  }
  buffer.consume(used);
  co_await Serve(stream, buffer, remote);
  // close_notify, bounded: a client that has gone does not answer it.
  lowest.expires_after(std::chrono::seconds(1));
  co_await stream.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
}

template <class Stream>
asio::awaitable<void> Server::Serve(Stream& stream, beast::flat_buffer& buffer,
                                    const std::string& remote) {
  auto& lowest = beast::get_lowest_layer(stream);
  TokenBucket bucket(options_.request_rate, options_.request_burst);
  boost::system::error_code ec;
  for (;;) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options_.header_limit));
    lowest.expires_after(options_.read_timeout);
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
        ec == asio::error::eof || ec == ssl::error::stream_truncated) {
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
      lowest.expires_after(options_.write_timeout);
      co_await bhttp::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
      break;
    }
    auto& msg = parser.get();
    bool keep_alive = msg.keep_alive();
    unsigned version = msg.version();
    Response response;
    if (auto wait = bucket.Take()) {
      auto seconds = static_cast<long long>(std::ceil(wait->count()));
      response = Response::Error(
          429, "too many requests on this connection: the limit is " +
                   Number(options_.request_rate) + " per second (-http-request-rate); retry in " +
                   std::to_string(seconds) + "s");
      response.headers.emplace_back("Retry-After", std::to_string(seconds));
    } else {
      Request req = ToRequest(msg, remote, &early);
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
    }
    if (response.stream) {
      co_await WriteStream(stream, response, version, options_.write_timeout);
      break;
    }
    auto res = ToBeast(response, version, keep_alive);
    lowest.expires_after(options_.write_timeout);
    co_await bhttp::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !keep_alive) break;
  }
}

}  // namespace concierge::http
