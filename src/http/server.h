// The HTTP/1.1 server: Boost.Beast over Asio with C++20 coroutines, in the shape of Beast's
// awaitable example (STYLE.md): one coroutine per connection, a deadline on every read, size
// limits on the parser. One io_context per worker thread; connections are spread over them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "core/status.h"
#include "http/message.h"

namespace concierge::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8500;  // 0 picks a free port
  int workers = 0;            // 0 = one per core
  std::size_t body_limit = 1 << 20;
  std::size_t snapshot_body_limit = std::size_t{1} << 30;  // PUT /v1/snapshot (a backup)
  std::size_t header_limit = 16 << 10;
  // Time allowed to receive one whole request, including the idle time before it on a
  // keep-alive connection. Slow clients cannot hold a connection longer than this.
  std::chrono::seconds read_timeout{60};
  std::chrono::seconds write_timeout{30};
  std::size_t max_connections = 16384;
};

using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;

class Server {
 public:
  Server(ServerOptions options, Handler handler);
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

 private:
  boost::asio::awaitable<void> Accept();
  boost::asio::awaitable<void> Session(boost::asio::ip::tcp::socket socket);

  ServerOptions options_;
  Handler handler_;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  // Keeps each worker's run() going while it has no connection yet.
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
  std::atomic<std::size_t> connections_{0};
};

}  // namespace concierge::http
