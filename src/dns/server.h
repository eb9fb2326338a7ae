// The DNS server: UDP and TCP on one port, over Asio. One io_context per worker thread; each
// worker drains the UDP socket in batches (recvmmsg/sendmmsg) into buffers it reuses, so a
// UDP query costs no allocation. TCP uses RFC 1035's two-byte length framing with a deadline
// on every read.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "dns/answer.h"
#include "server/registry.h"

namespace concierge::dns {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8600;  // 0 picks a free port, the same for UDP and TCP
  int workers = 0;            // 0 = one per core
  // Time allowed for the next query on a TCP connection (RFC 7766 suggests seconds).
  std::chrono::seconds tcp_idle_timeout{10};
  std::size_t max_tcp_connections = 1024;
  // ACLs on: answer what the anonymous token may read on node `acl_node` (docs/acl.md).
  bool acl = false;
  std::string acl_node;
};

class Server {
 public:
  Server(ServerOptions options, std::unique_ptr<const Answerer> answerer,
         const server::Registry& registry);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds UDP and TCP; the error says which address and why.
  Status Listen();
  std::uint16_t port() const { return port_; }
  // Starts the worker threads.
  void Start();
  // Stops serving and joins the threads.
  void Stop();

 private:
  struct Worker;
  boost::asio::awaitable<void> ReceiveLoop(Worker& w);
  boost::asio::awaitable<void> Accept();
  boost::asio::awaitable<void> Session(boost::asio::ip::tcp::socket socket, Worker& w);

  ServerOptions options_;
  std::unique_ptr<const Answerer> answerer_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
  std::atomic<std::size_t> connections_{0};
};

}  // namespace concierge::dns
