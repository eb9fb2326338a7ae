#include "dns/server.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <cerrno>
#include <ctime>
#include <optional>
#include <random>

#include "dns/catalog.h"
#include "server/log_limit.h"

namespace concierge::dns {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;

// Everything one worker thread owns. UDP buffers are sized once: kBatch datagrams in and out.
struct Server::Worker {
  static constexpr std::size_t kBatch = 32;
  static constexpr std::size_t kMaxQuery = 4096;  // larger datagrams are not queries we answer

  Worker(const server::Registry& registry, const ServerOptions& options, std::uint64_t seed,
         std::size_t max_reply)
      : catalog(options.acl ? RegistryCatalog(registry, options.acl_node)
                            : RegistryCatalog(registry)),
        scratch(seed),
        reply_size(max_reply) {
    in.resize(kBatch * kMaxQuery);
    out.resize(kBatch * reply_size);
    for (std::size_t i = 0; i < kBatch; ++i) {
      in_iov[i] = {in.data() + i * kMaxQuery, kMaxQuery};
      in_msg[i].msg_hdr.msg_iov = &in_iov[i];
      in_msg[i].msg_hdr.msg_iovlen = 1;
    }
  }

  asio::io_context io{1};
  std::optional<udp::socket> udp_socket;
  RegistryCatalog catalog;
  Scratch scratch;
  std::size_t reply_size;
  std::vector<std::uint8_t> in;
  std::vector<std::uint8_t> out;
  std::array<sockaddr_storage, kBatch> peers{};
  std::array<iovec, kBatch> in_iov{};
  std::array<iovec, kBatch> out_iov{};
  std::array<mmsghdr, kBatch> in_msg{};
  std::array<mmsghdr, kBatch> out_msg{};
};

Server::Server(ServerOptions options, std::unique_ptr<const Answerer> answerer,
               const server::Registry& registry)
    : options_(std::move(options)), answerer_(std::move(answerer)) {
  int n = options_.workers > 0
              ? options_.workers
              : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::random_device seed;
  for (int i = 0; i < n; ++i) {
    std::uint64_t s = std::uint64_t{seed()} << 32 | seed();
    workers_.push_back(
        std::make_unique<Worker>(registry, options_, s, answerer_->options().max_udp_size));
  }
}

Server::~Server() { Stop(); }

Status Server::Listen() {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(options_.host, ec);
  if (ec)
    return Status::InvalidArgument("DNS address \"" + options_.host + "\" is not an IP address");
  // With port 0, UDP picks the port and TCP must get the same one; try a few times.
  int attempts = options_.port == 0 ? 20 : 1;
  std::string error;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    Worker& first = *workers_[0];
    first.udp_socket.emplace(first.io);
    udp::endpoint udp_endpoint(address, options_.port);
    std::string where = options_.host + ":" + std::to_string(options_.port);
    if (first.udp_socket->open(udp_endpoint.protocol(), ec); ec) {
      return Status::Unavailable("cannot open UDP " + where + ": " + ec.message());
    }
    if (first.udp_socket->bind(udp_endpoint, ec); ec) {
      return Status::Unavailable("cannot listen on UDP " + where + ": " + ec.message());
    }
    std::uint16_t port = first.udp_socket->local_endpoint().port();
    tcp::endpoint tcp_endpoint(address, port);
    acceptor_ = std::make_unique<tcp::acceptor>(first.io);
    acceptor_->open(tcp_endpoint.protocol(), ec);
    if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_->bind(tcp_endpoint, ec);
    if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      error = "cannot listen on TCP " + options_.host + ":" + std::to_string(port) + ": " +
              ec.message();
      acceptor_.reset();
      first.udp_socket.reset();
      continue;
    }
    port_ = port;
    // The other workers read the same socket through their own descriptor (no SO_REUSEPORT:
    // it would let a second agent on the same port silently take half the queries).
    first.udp_socket->non_blocking(true, ec);
    for (std::size_t i = 1; i < workers_.size(); ++i) {
      int fd = ::dup(first.udp_socket->native_handle());
      if (fd < 0) return Status::Unavailable("cannot share the UDP socket: dup failed");
      workers_[i]->udp_socket.emplace(workers_[i]->io, udp_endpoint.protocol(), fd);
      workers_[i]->udp_socket->non_blocking(true, ec);
    }
    return Status::Ok();
  }
  return Status::Unavailable(error);
}

void Server::Start() {
  if (!acceptor_) return;
  asio::co_spawn(workers_[0]->io, Accept(), asio::detached);
  for (auto& w : workers_) {
    Worker& worker = *w;
    asio::co_spawn(worker.io, ReceiveLoop(worker), asio::detached);
    work_.push_back(asio::make_work_guard(worker.io));
    threads_.emplace_back([&worker] { worker.io.run(); });
  }
}

void Server::Stop() {
  if (threads_.empty()) return;
  work_.clear();
  for (auto& w : workers_) w->io.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

asio::awaitable<void> Server::ReceiveLoop(Worker& w) {
  const int fd = w.udp_socket->native_handle();
  const auto executor = co_await asio::this_coro::executor;
  boost::system::error_code ec;
  for (;;) {
    co_await w.udp_socket->async_wait(udp::socket::wait_read,
                                      asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted) co_return;
    // Drain until the socket is empty (the reactor is edge-triggered), yielding now and then
    // so that TCP sessions on this thread are served too.
    for (int batches = 1;; ++batches) {
      for (std::size_t i = 0; i < Worker::kBatch; ++i) {
        w.in_msg[i].msg_hdr.msg_name = &w.peers[i];
        w.in_msg[i].msg_hdr.msg_namelen = sizeof w.peers[i];
        w.in_msg[i].msg_hdr.msg_flags = 0;
      }
      int got = ::recvmmsg(fd, w.in_msg.data(), Worker::kBatch, MSG_DONTWAIT, nullptr);
      if (got <= 0) break;
      w.scratch.serial = static_cast<std::uint32_t>(std::time(nullptr));
      unsigned replies = 0;
      for (int i = 0; i < got; ++i) {
        const msghdr& h = w.in_msg[i].msg_hdr;
        if (h.msg_flags & MSG_TRUNC) continue;  // larger than any query we answer
        std::span<const std::uint8_t> packet(w.in.data() + i * Worker::kMaxQuery,
                                             w.in_msg[i].msg_len);
        std::span<std::uint8_t> reply(w.out.data() + replies * w.reply_size, w.reply_size);
        std::size_t size = answerer_->Answer(packet, Transport::kUdp, w.catalog, w.scratch, reply);
        if (size == 0) continue;
        w.out_iov[replies] = {reply.data(), size};
        msghdr& o = w.out_msg[replies].msg_hdr;
        o = msghdr{};
        o.msg_name = &w.peers[i];
        o.msg_namelen = h.msg_namelen;
        o.msg_iov = &w.out_iov[replies];
        o.msg_iovlen = 1;
        ++replies;
      }
      unsigned sent = 0;
      while (sent < replies) {
        int n = ::sendmmsg(fd, w.out_msg.data() + sent, replies - sent, MSG_DONTWAIT);
        if (n > 0) {
          sent += static_cast<unsigned>(n);
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          co_await w.udp_socket->async_wait(udp::socket::wait_write,
                                            asio::redirect_error(asio::use_awaitable, ec));
          if (ec == asio::error::operation_aborted) co_return;
        } else {
          // The peer is unreachable or gone (e.g. ECONNREFUSED from an earlier reply): skip
          // this reply; UDP clients retry.
          ++sent;
        }
      }
      if (batches % 16 == 0) co_await asio::post(executor, asio::use_awaitable);
    }
  }
}

asio::awaitable<void> Server::Accept() {
  std::size_t next = 0;
  for (;;) {
    Worker& w = *workers_[next++ % workers_.size()];
    boost::system::error_code ec;
    tcp::socket socket =
        co_await acceptor_->async_accept(w.io, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      server::RateLimitedWarn("dns: accept failed: {}", ec.message());
      if (ec.value() == EMFILE || ec.value() == ENFILE) {
        // The connection stays in the backlog: accepting again at once would spin.
        asio::steady_timer pause(acceptor_->get_executor(), std::chrono::milliseconds(100));
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      }
      continue;
    }
    if (connections_.load() >= options_.max_tcp_connections) {
      server::RateLimitedWarn("dns: refusing a TCP connection: {} open (the limit)",
                              connections_.load());
      continue;
    }
    asio::co_spawn(w.io, Session(std::move(socket), w), asio::detached);
  }
}

asio::awaitable<void> Server::Session(tcp::socket socket, Worker& w) {
  connections_.fetch_add(1);
  struct Leave {
    std::atomic<std::size_t>& n;
    ~Leave() { n.fetch_sub(1); }
  } leave{connections_};

  beast::tcp_stream stream(std::move(socket));
  std::vector<std::uint8_t> query;
  std::vector<std::uint8_t> reply(2 + kMaxMessage);
  boost::system::error_code ec;
  for (;;) {
    std::uint8_t length[2];
    stream.expires_after(options_.tcp_idle_timeout);
    co_await asio::async_read(stream, asio::buffer(length),
                              asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    query.resize(std::size_t{length[0]} << 8 | length[1]);
    co_await asio::async_read(stream, asio::buffer(query),
                              asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    w.scratch.serial = static_cast<std::uint32_t>(std::time(nullptr));
    std::span<std::uint8_t> body(reply.data() + 2, kMaxMessage);
    std::size_t size = answerer_->Answer(query, Transport::kTcp, w.catalog, w.scratch, body);
    if (size == 0) break;  // not a query: nothing sensible to say on this stream
    reply[0] = static_cast<std::uint8_t>(size >> 8);
    reply[1] = static_cast<std::uint8_t>(size);
    co_await asio::async_write(stream, asio::buffer(reply.data(), size + 2),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

}  // namespace concierge::dns
