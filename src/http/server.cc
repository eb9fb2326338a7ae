#include "http/server.h"

#include <poll.h>
#include <sys/resource.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>

#include "http/serve.h"

namespace concierge::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using namespace serve_detail;

namespace {
// How long the server stops accepting when out of file descriptors.
constexpr std::chrono::milliseconds kAcceptPause(100);
}  // namespace

namespace serve_detail {

std::string Number(double x) {
  std::string s = std::to_string(x);
  s.erase(s.find_last_not_of('0') + 1);
  if (s.back() == '.') s.pop_back();
  return s;
}

asio::awaitable<void> AnswerAndClose(beast::tcp_stream& stream, int status, std::string_view reason,
                                     std::string_view message, std::chrono::seconds write_timeout,
                                     std::string_view extra_headers) {
  std::string body = std::string(message) + "\n";
  std::string answer = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
                       "\r\nServer: concierge\r\nContent-Type: text/plain; charset=utf-8\r\n" +
                       std::string(extra_headers) +
                       "Content-Length: " + std::to_string(body.size()) +
                       "\r\nConnection: close\r\n\r\n" + body;
  boost::system::error_code ec;
  stream.expires_after(write_timeout);
  co_await asio::async_write(stream, asio::buffer(answer),
                             asio::redirect_error(asio::use_awaitable, ec));
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

std::shared_ptr<bool> WatchHangup(tcp::socket& socket, std::shared_ptr<Hangup> hangup) {
  auto active = std::make_shared<bool>(true);
  socket.async_wait(tcp::socket::wait_read, [active, hangup = std::move(hangup),
                                             &socket](const boost::system::error_code& ec) {
    if (!*active || ec) return;  // answered meanwhile: the socket may be gone
    // Readable: the client closed (or reset) the connection, or sent more bytes (a pipelined
    // request, TLS data). Only the first means it went away; POLLRDHUP tells even with bytes
    // still unread (a TLS close_notify before the FIN).
    pollfd p{socket.native_handle(), POLLRDHUP, 0};
    if (::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) {
      hangup->Fire();
    }
  });
  return active;
}

void StopWatching(tcp::socket& socket, const std::shared_ptr<bool>& active) {
  *active = false;
  boost::system::error_code ec;
  socket.cancel(ec);  // nothing else waits on it between a request and its answer
}

}  // namespace serve_detail

Server::Server(ServerOptions options, Handler handler, Admit admit)
    : options_(std::move(options)), handler_(std::move(handler)), admit_(std::move(admit)) {
  int workers = options_.workers > 0
                    ? options_.workers
                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < workers; ++i) contexts_.push_back(std::make_unique<asio::io_context>(1));
}

Server::~Server() { Stop(); }

Status Server::Listen() {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(options_.host, ec);
  if (ec)
    return Status::InvalidArgument("HTTP address \"" + options_.host + "\" is not an IP address");
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
    tcp::socket socket =
        co_await acceptor_->async_accept(ctx, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      if (ec.value() == EMFILE || ec.value() == ENFILE) {
        // The connection stays in the backlog, so accepting again at once would spin: pause
        // until some descriptors are freed.
        server::RateLimitedWarn(
            "http: out of file descriptors ({}) with {} connections open: "
            "pausing new connections; raise the open files limit",
            ec.message(), connections_.load());
        asio::steady_timer pause(acceptor_->get_executor(), kAcceptPause);
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      server::RateLimitedWarn("http: accept failed: {}", ec.message());
      continue;
    }
    if (connections_.load() >= options_.max_connections) {
      server::RateLimitedWarn("http: refusing a connection: {} connections open (the limit)",
                              connections_.load());
      continue;  // the socket closes as it goes out of scope
    }
    auto peer = socket.remote_endpoint(ec);
    std::string remote = ec ? "" : peer.address().to_string();
    std::shared_ptr<boost::asio::ssl::context> tls;
    {
      std::lock_guard lock(tls_mu_);
      tls = options_.tls;
    }
    if (tls) {
      asio::co_spawn(ctx, SessionTls(std::move(socket), std::move(remote), std::move(tls)),
                     asio::detached);
    } else {
      asio::co_spawn(ctx, Session(std::move(socket), std::move(remote)), asio::detached);
    }
  }
}

void Server::SetTls(std::shared_ptr<boost::asio::ssl::context> tls) {
  std::lock_guard lock(tls_mu_);
  if (options_.tls && tls) options_.tls = std::move(tls);
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

asio::awaitable<void> Server::Session(tcp::socket socket, std::string remote) {
  ConnectionGuard counted(connections_);
  boost::system::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  beast::tcp_stream stream(std::move(socket));
  if (!EnterIp(remote)) {
    // A named local, not a temporary in the co_await (GCC PR 100611).
    const std::string message =
        "too many connections from " + remote + " (the limit is " +
        std::to_string(options_.max_connections_per_ip) +
        " per client address, -http-max-conns-per-client); close some and retry";
    co_await AnswerAndClose(stream, 429, "Too Many Requests", message, options_.write_timeout,
                            "Retry-After: 1\r\n");
    co_return;
  }
  IpSlot slot(*this, remote);
  beast::flat_buffer buffer;
  co_await Serve(stream, buffer, remote);
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

}  // namespace concierge::http
