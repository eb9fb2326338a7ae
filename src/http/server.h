// The HTTP/1.1 server: Boost.Beast over Asio with C++20 coroutines, in the shape of Beast's
// awaitable example (STYLE.md): one coroutine per connection, a deadline on every read, size
// limits on the parser. One io_context per worker thread; connections are spread over them.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "http/message.h"
#include "server/metrics.h"

namespace concierge::http {

namespace serve_detail {
struct IpSlot;
}

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8500;  // 0 picks a free port
  int workers = 0;            // 0 = one per core
  // The body limit of every request when no Admission decides it.
  std::size_t body_limit = 1 << 20;
  std::size_t header_limit = 16 << 10;
  // Time allowed to receive one whole request, including the idle time before it on a
  // keep-alive connection. Slow clients cannot hold a connection longer than this.
  std::chrono::seconds read_timeout{60};
  std::chrono::seconds write_timeout{30};
  std::size_t max_connections = 16384;
  // Open connections from one client IP address; 0 = no limit. More are answered 429 and
  // closed at once.
  std::size_t max_connections_per_ip = 0;
  // Requests per second on one connection (a token bucket holding `request_burst`); 0 = no
  // limit. A request over the rate is answered 429 with Retry-After; the connection stays.
  double request_rate = 0;
  double request_burst = 0;  // 0: one second's worth, at least 1
  // HTTPS only when set (tls/context.h): a plain HTTP request on the port is answered 400
  // in plain text ("this port speaks HTTPS") and the connection closed.
  std::shared_ptr<boost::asio::ssl::context> tls;
  // Set: each answer to a blocking query that a change woke (Request::woken_at) is observed
  // here, from the wake-up until it is handed to the socket, once written
  // (server::Metrics::watch_fanout).
  server::Histogram* fanout = nullptr;
};

using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;
// `head` is the request without its body (message.h's Admission).
using Admit = std::function<Admission(const Request& head)>;

class Server {
 public:
  // Without `admit`, every request may carry up to options.body_limit bytes.
  Server(ServerOptions options, Handler handler, Admit admit = nullptr);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listening socket; the error says which address and why.
  Status Listen();
  std::uint16_t port() const { return port_; }
  // Starts the worker threads and begins accepting.
  void Start();
  // Stops accepting, closes connections and joins the threads.
  void Stop();
  std::size_t connections() const { return connections_.load(); }
  // With HTTPS on (ServerOptions::tls): connections accepted from now on use `tls` (a renewed
  // certificate); open ones keep the context they started with. Ignored without HTTPS.
  void SetTls(std::shared_ptr<boost::asio::ssl::context> tls);

 private:
  friend struct serve_detail::IpSlot;

  boost::asio::awaitable<void> Accept();
  boost::asio::awaitable<void> Session(boost::asio::ip::tcp::socket socket, std::string remote);
  boost::asio::awaitable<void> SessionTls(boost::asio::ip::tcp::socket socket, std::string remote,
                                          std::shared_ptr<boost::asio::ssl::context> tls);
  // The request loop, over a TCP or a TLS stream; `server_certificate`: Request's.
  template <class Stream>
  boost::asio::awaitable<void> Serve(Stream& stream, boost::beast::flat_buffer& buffer,
                                     const std::string& remote, bool server_certificate = false);
  // Counts a new connection from `ip`; false if that address has too many open already.
  bool EnterIp(const std::string& ip);
  void LeaveIp(const std::string& ip);

  ServerOptions options_;
  Handler handler_;
  Admit admit_;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  // Keeps each worker's run() going while it has no connection yet.
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
  std::atomic<std::size_t> connections_{0};
  std::mutex tls_mu_;  // guards options_.tls, which SetTls replaces
  std::mutex per_ip_mu_;
  std::unordered_map<std::string, std::size_t> per_ip_;
};

}  // namespace concierge::http
