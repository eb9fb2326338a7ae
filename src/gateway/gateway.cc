#include "gateway/gateway.h"

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <thread>
#include <unordered_map>

#include "concierge/watcher.h"
#include "gateway/http1.h"
#include "server/log_limit.h"

namespace concierge::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
// Every socket, timer and coroutine names its io_context's executor type (not the
// type-erased any_io_executor, which costs a copy and a virtual call per operation).
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Acceptor = asio::basic_socket_acceptor<tcp, Executor>;
using Resolver = asio::ip::basic_resolver<tcp, Executor>;
using Timer = asio::basic_waitable_timer<SteadyClock, asio::wait_traits<SteadyClock>, Executor>;
template <class T>
using Task = asio::awaitable<T, Executor>;
using http1::Parse;

namespace {

constexpr asio::use_awaitable_t<Executor> kUse;
constexpr auto kIdleMax = std::chrono::seconds(20);  // a pooled connection older is closed
constexpr std::size_t kRequestHeadLimit = 8 * 1024;  // as Beast's parser had
constexpr std::size_t kResponseHeadLimit = 64 * 1024;
constexpr std::size_t kReadSize = 16 * 1024;     // room asked for before each read
constexpr std::size_t kKeptBuffer = 256 * 1024;  // a connection's buffer larger is freed

bool Idempotent(std::string_view method) {
  for (std::string_view m : {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"}) {
    if (method == m) return true;
  }
  return false;
}

// Headers that belong to one connection, not to the message (RFC 7230 6.1).
bool HopByHop(std::string_view name) {
  for (std::string_view h :
       {"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"}) {
    if (http1::IEquals(name, h)) return true;
  }
  return false;
}

const char* Reason(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 413:
      return "Payload Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Error";
  }
}

Result<tcp::endpoint> ParseEndpoint(const std::string& host_port) {
  std::size_t colon = host_port.rfind(':');
  std::string host = host_port.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec || colon == std::string::npos) {
    return Status::InvalidArgument("\"" + host_port + "\" is not an IP address and port");
  }
  return tcp::endpoint(address, static_cast<std::uint16_t>(std::stoi(host_port.substr(colon + 1))));
}

std::string Describe(const Target& t) {
  return "service \"" + t.service + "\"" + (t.tag.empty() ? "" : " with tag \"" + t.tag + "\"");
}

// Bytes read from one peer, [begin, end) of `data`, kept across requests so that a
// keep-alive connection reads into the same memory every time.
struct Buffer {
  std::vector<char> data;
  std::size_t begin = 0;
  std::size_t end = 0;

  std::string_view view() const { return {data.data() + begin, end - begin}; }
  std::size_t size() const { return end - begin; }
  // Room for `n` more bytes after what is held (moved to the front first).
  asio::mutable_buffer Prepare(std::size_t n) {
    if (begin > 0) {
      std::copy(data.begin() + static_cast<long>(begin), data.begin() + static_cast<long>(end),
                data.begin());
      end -= begin;
      begin = 0;
    }
    if (data.size() - end < n) data.resize(end + std::max(n, data.size()));
    return asio::buffer(data.data() + end, n);
  }
  void Consume(std::size_t n) {
    begin += n;
    if (begin == end) begin = end = 0;
  }
  // Between requests: a buffer grown by a large body does not stay large.
  void Trim() {
    if (begin == end && data.size() > kKeptBuffer) data = {};
  }
};

// One read into `buffer` (at least `want` bytes of room): `co_await`, then add what it
// returns to `buffer.end`. Not a coroutine of its own: no frame per read.
template <class Stream>
auto ReadSome(Stream& stream, Buffer& buffer, std::size_t want, boost::system::error_code& ec) {
  return stream.async_read_some(buffer.Prepare(std::max(want, kReadSize)),
                                asio::redirect_error(kUse, ec));
}

}  // namespace

// A connection's one deadline. Set() moves it (a store, no timer call unless it comes
// sooner than the timer is armed for); when it passes, the pending operations of the socket
// named last are cancelled and expired() is true until the next Set(). The timer re-arms
// itself lazily when it fires before the current deadline.
class Deadline : public std::enable_shared_from_this<Deadline> {
 public:
  explicit Deadline(asio::io_context& ctx) : timer_(ctx) {}

  void Set(Duration d, Socket* socket) {
    at_ = SteadyClock::now() + d;
    socket_ = socket;
    expired_ = false;
    if (!waiting_) {
      Arm();
    } else if (at_ < timer_.expiry()) {
      timer_.cancel();  // Fire() re-arms at the sooner time
    }
  }
  // Watch nothing (the socket named last is about to go away).
  void Clear() { socket_ = nullptr; }
  bool expired() const { return expired_; }
  void Stop() {
    stopped_ = true;
    socket_ = nullptr;
    if (waiting_) timer_.cancel();
  }

 private:
  void Arm() {
    waiting_ = true;
    timer_.expires_at(at_);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code) { self->Fire(); });
  }
  void Fire() {
    waiting_ = false;
    if (stopped_ || socket_ == nullptr) return;
    if (SteadyClock::now() < at_) {
      Arm();
      return;
    }
    expired_ = true;
    boost::system::error_code ec;
    socket_->cancel(ec);
    socket_ = nullptr;
  }

  Timer timer_;
  SteadyClock::time_point at_{};
  Socket* socket_ = nullptr;
  bool waiting_ = false;
  bool expired_ = false;
  bool stopped_ = false;
};

// One routed service/tag: its Watcher and Balancer.
struct Upstream {
  Target target;
  std::unique_ptr<Watcher> watcher;
  std::unique_ptr<Balancer> balancer;
};

// An idle keep-alive connection to an instance.
struct IdleConnection {
  std::unique_ptr<Socket> socket;
  SteadyClock::time_point since;
};

// One thread: its io_context and its idle connections (touched only on that thread).
struct Worker {
  asio::io_context ctx{1};
  std::unordered_map<std::string, std::vector<IdleConnection>> idle;
};

// Both directions of one proxied TCP connection.
struct Pipe {
  Pipe(Socket a, Socket b, std::optional<Balancer::Lease> l)
      : client(std::move(a)), upstream(std::move(b)), lease(std::move(l)) {}
  Socket client;
  Socket upstream;
  std::optional<Balancer::Lease> lease;
};

// What the caller of one request is owed, and what it gets back.
struct Exchange {
  // The request as read: its head rewritten for the instance, its body as received.
  std::string upstream_head;
  std::string_view body;
  bool idempotent = true;
  bool head_request = false;
  // The caller's side of the answer.
  int minor = 1;
  bool keep_alive = true;
  // The answer: `reply` is its head (and the body of the gateway's own answers);
  // `reply_body` views the instance's body.
  std::string reply;
  std::string_view reply_body;
  std::string dechunked;  // for HTTP/1.0 callers of a chunked answer
};

// One caller's connection: its buffers and parsed heads, reused request after request.
struct HttpConnection {
  Buffer in;
  Buffer answer;
  http1::Head head;
  http1::Head answer_head;
  http1::ChunkedScanner chunks;
  Exchange x;
  std::string remote;
  std::shared_ptr<Deadline> deadline;
};

struct Gateway::Impl {
  Impl(std::unique_ptr<Client> c, RouteTable r, GatewayOptions o)
      : client(std::move(c)), routes(std::move(r)), options(std::move(o)) {}

  std::unique_ptr<Client> client;
  RouteTable routes;
  GatewayOptions options;
  // Declared before the workers: coroutine frames (holding Leases) die with the io_contexts.
  std::map<std::string, std::unique_ptr<Upstream>> upstreams;
  std::vector<Upstream*> upstream_of_route;  // by index into routes.routes()
  std::vector<std::unique_ptr<Worker>> workers;
  std::unique_ptr<Acceptor> http_acceptor;
  std::vector<std::unique_ptr<Acceptor>> tcp_acceptors;
  std::vector<const Route*> tcp_routes;
  std::vector<std::thread> threads;
  std::atomic<std::size_t> next_worker{0};

  Worker& NextWorker() { return *workers[next_worker.fetch_add(1) % workers.size()]; }
  Status Bind(const std::string& where, Acceptor& acceptor);

  Task<void> AcceptHttp();
  Task<void> AcceptTcp(std::size_t index);
  Task<void> HttpSession(Worker& worker, Socket socket);
  Task<void> HttpsSession(Worker& worker, Socket socket);
  template <class Stream>
  Task<void> ServeHttp(Worker& worker, Stream& stream, Socket& lowest, HttpConnection& c);
  // The caller's answer for the request in `c.x`, into `c.x.reply` (and `reply_body`).
  Task<void> Forward(Worker& worker, const Route* route, HttpConnection& c);
  // Reads one answer from an instance into `c.answer` and writes the caller's head into
  // `c.x.reply`. False with `*error` when the connection failed or the answer is not HTTP.
  Task<bool> ReadAnswer(Socket& socket, HttpConnection& c, bool* reusable, std::string* error);
  Task<boost::system::error_code> Connect(const std::string& endpoint, Socket& socket);
  Task<void> TcpSession(Worker& worker, Socket socket, std::size_t index);
  Task<void> CopyOneWay(std::shared_ptr<Pipe> pipe, bool to_upstream);
};

namespace {

// The gateway's own answer (404, 503, ...) in plain text.
void TextReply(Exchange& x, int status, std::string_view text) {
  x.reply.clear();
  x.reply_body = {};
  x.reply.append(x.minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ");
  x.reply.append(std::to_string(status)).append(" ").append(Reason(status));
  x.reply.append("\r\nServer: concierge-gateway\r\nContent-Type: text/plain; charset=utf-8\r\n");
  x.reply.append("Content-Length: ").append(std::to_string(text.size() + 1)).append("\r\n");
  if (x.minor == 0 && x.keep_alive) x.reply.append("Connection: keep-alive\r\n");
  if (x.minor == 1 && !x.keep_alive) x.reply.append("Connection: close\r\n");
  x.reply.append("\r\n");
  if (!x.head_request) x.reply.append(text).append("\n");
}

// The request head as sent on to an instance: HTTP/1.1, without the caller's connection
// headers, with the caller's address added to X-Forwarded-For.
void UpstreamHead(const http1::Head& head, std::string_view remote, std::string& out) {
  out.clear();
  out.append(head.method).append(" ").append(head.target).append(" HTTP/1.1\r\n");
  std::string_view forwarded;
  std::string joined;
  for (const http1::Header& h : head.headers) {
    if (HopByHop(h.name)) continue;
    if (http1::IEquals(h.name, "x-forwarded-for")) {
      if (forwarded.empty()) {
        forwarded = h.value;
      } else {
        joined = (joined.empty() ? std::string(forwarded) : joined) + ", " + std::string(h.value);
      }
      continue;
    }
    // We read the whole body before choosing an instance, so the go-ahead was ours to give.
    if (http1::IEquals(h.name, "expect") && http1::IEquals(h.value, "100-continue")) continue;
    out.append(h.name).append(": ").append(h.value).append("\r\n");
  }
  if (!joined.empty()) forwarded = joined;
  out.append("X-Forwarded-For: ");
  if (!forwarded.empty()) out.append(forwarded).append(", ");
  out.append(remote).append("\r\n\r\n");
}

bool KeepAlive(const http1::Head& head) {
  bool close = false, keep = false;
  for (const http1::Header& h : head.headers) {
    if (!http1::IEquals(h.name, "connection")) continue;
    close = close || http1::HasToken(h.value, "close");
    keep = keep || http1::HasToken(h.value, "keep-alive");
  }
  return head.minor == 1 ? !close : keep;
}

}  // namespace

Gateway::Gateway(std::unique_ptr<Client> client, RouteTable routes, GatewayOptions options)
    : impl_(std::make_unique<Impl>(std::move(client), std::move(routes), std::move(options))) {}

Gateway::~Gateway() { Stop(); }

Status Gateway::Impl::Bind(const std::string& where, Acceptor& acceptor) {
  Result<tcp::endpoint> endpoint = ParseEndpoint(where);
  if (!endpoint.ok()) return endpoint.status();
  boost::system::error_code ec;
  if (acceptor.open(endpoint->protocol(), ec); ec) {
    return Status::Unavailable("cannot open " + where + ": " + ec.message());
  }
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (acceptor.bind(*endpoint, ec); ec) {
    return Status::Unavailable("cannot listen on " + where + ": " + ec.message());
  }
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) {
    return Status::Unavailable("cannot listen on " + where + ": " + ec.message());
  }
  return Status::Ok();
}

Status Gateway::Start() {
  Impl& d = *impl_;
  int n = std::max(1, d.options.workers);
  for (int i = 0; i < n; ++i) d.workers.push_back(std::make_unique<Worker>());

  bool has_http = false;
  for (const Route& r : d.routes.routes()) {
    if (r.kind == RouteKind::kTcp) {
      d.tcp_routes.push_back(&r);
    } else {
      has_http = true;
    }
  }
  if (has_http) {
    d.http_acceptor = std::make_unique<Acceptor>(d.workers[0]->ctx);
    Status s = d.Bind(d.options.listen, *d.http_acceptor);
    if (!s.ok()) return Status::Unavailable("-listen: " + s.message());
  }
  for (const Route* r : d.tcp_routes) {
    d.tcp_acceptors.push_back(std::make_unique<Acceptor>(d.workers[0]->ctx));
    Status s = d.Bind(r->match, *d.tcp_acceptors.back());
    if (!s.ok()) return Status::Unavailable("-route-tcp: " + s.message());
  }

  for (const Target& t : d.routes.Targets()) {
    auto up = std::make_unique<Upstream>();
    up->target = t;
    WatcherOptions wo;
    if (!t.tag.empty()) wo.tags = {t.tag};
    std::string name = t.Key();
    wo.on_change = [name](const ServiceSnapshot& s) {
      std::string ids;
      for (const Instance& i : s.instances) ids += (ids.empty() ? "" : ", ") + i.id;
      if (s.stale) {
        spdlog::warn("gateway: {}: registry unreachable ({}), keeping {} instance(s)", name,
                     s.error.message(), s.instances.size());
      } else {
        spdlog::info("gateway: {}: {} healthy instance(s) [{}]", name, s.instances.size(), ids);
      }
    };
    up->watcher = std::make_unique<Watcher>(*d.client, t.service, std::move(wo));
    Status first = up->watcher->Start();
    if (!first.ok()) {
      spdlog::warn("gateway: {}: first query failed ({}); retrying", name, first.message());
    }
    up->balancer = std::make_unique<Balancer>(up->watcher.get(),
                                              BalancerOptions{.policy = d.options.policy,
                                                              .consecutive_failures = 1,
                                                              .base_ejection = d.options.ejection});
    d.upstreams.emplace(name, std::move(up));
  }
  for (const Route& r : d.routes.routes()) {
    d.upstream_of_route.push_back(d.upstreams.at(r.target.Key()).get());
  }

  if (d.http_acceptor) asio::co_spawn(d.workers[0]->ctx, d.AcceptHttp(), asio::detached);
  for (std::size_t i = 0; i < d.tcp_acceptors.size(); ++i) {
    asio::co_spawn(d.workers[0]->ctx, d.AcceptTcp(i), asio::detached);
  }
  for (auto& w : d.workers) {
    asio::io_context* ctx = &w->ctx;
    d.threads.emplace_back([ctx] {
      auto guard = asio::make_work_guard(*ctx);
      ctx->run();
    });
  }
  return Status::Ok();
}

void Gateway::Stop() {
  Impl& d = *impl_;
  for (auto& w : d.workers) w->ctx.stop();
  for (auto& t : d.threads) t.join();
  d.threads.clear();
  for (auto& [name, up] : d.upstreams) up->watcher->Stop();
}

std::uint16_t Gateway::http_port() const {
  boost::system::error_code ec;
  return impl_->http_acceptor ? impl_->http_acceptor->local_endpoint(ec).port() : 0;
}

std::vector<std::string> Gateway::tcp_listeners() const {
  std::vector<std::string> out;
  for (const auto& a : impl_->tcp_acceptors) {
    boost::system::error_code ec;
    tcp::endpoint e = a->local_endpoint(ec);
    out.push_back(e.address().to_string() + ":" + std::to_string(e.port()));
  }
  return out;
}

Task<void> Gateway::Impl::AcceptHttp() {
  for (;;) {
    Worker& worker = NextWorker();
    boost::system::error_code ec;
    Socket socket =
        co_await http_acceptor->async_accept(worker.ctx, asio::redirect_error(kUse, ec));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      server::RateLimitedWarn("gateway: accept failed: {}", ec.message());
      continue;
    }
    if (options.tls) {
      asio::co_spawn(worker.ctx, HttpsSession(worker, std::move(socket)), asio::detached);
    } else {
      asio::co_spawn(worker.ctx, HttpSession(worker, std::move(socket)), asio::detached);
    }
  }
}

Task<void> Gateway::Impl::HttpSession(Worker& worker, Socket socket) {
  boost::system::error_code ec;
  HttpConnection c;
  tcp::endpoint peer = socket.remote_endpoint(ec);
  c.remote = ec ? "" : peer.address().to_string();
  socket.set_option(tcp::no_delay(true), ec);
  c.deadline = std::make_shared<Deadline>(worker.ctx);
  co_await ServeHttp(worker, socket, socket, c);
  c.deadline->Stop();
  socket.shutdown(Socket::shutdown_send, ec);
}

Task<void> Gateway::Impl::HttpsSession(Worker& worker, Socket socket) {
  boost::system::error_code ec;
  HttpConnection c;
  tcp::endpoint peer = socket.remote_endpoint(ec);
  c.remote = ec ? "" : peer.address().to_string();
  socket.set_option(tcp::no_delay(true), ec);
  c.deadline = std::make_shared<Deadline>(worker.ctx);
  asio::ssl::stream<Socket> stream(std::move(socket), *options.tls);
  Socket& lowest = stream.next_layer();
  beast::flat_buffer buffer;
  c.deadline->Set(options.client_timeout, &lowest);
  bool is_tls = co_await beast::async_detect_ssl(lowest, buffer, asio::redirect_error(kUse, ec));
  if (!ec && !is_tls) {
    c.x.keep_alive = false;
    TextReply(c.x, 400, "this gateway speaks HTTPS only: use https://");
    co_await asio::async_write(lowest, asio::buffer(c.x.reply), asio::redirect_error(kUse, ec));
  } else if (!ec) {
    co_await stream.async_handshake(asio::ssl::stream_base::server, buffer.data(),
                                    asio::redirect_error(kUse, ec));
    if (!ec) {
      co_await ServeHttp(worker, stream, lowest, c);
      c.deadline->Set(std::chrono::seconds(1), &lowest);
      co_await stream.async_shutdown(asio::redirect_error(kUse, ec));
    }
  }
  c.deadline->Stop();
}

template <class Stream>
Task<void> Gateway::Impl::ServeHttp(Worker& worker, Stream& stream, Socket& lowest,
                                    HttpConnection& c) {
  Deadline& deadline = *c.deadline;
  Exchange& x = c.x;
  boost::system::error_code ec;
  std::string error;
  for (;;) {
    // The head, then the whole body: the request is read before an instance is chosen (a
    // retry sends it again), within one client timeout.
    c.in.Trim();
    deadline.Set(options.client_timeout, &lowest);
    Parse parsed;
    bool too_large = false;
    while ((parsed = http1::ParseRequest(c.in.view(), kRequestHeadLimit, c.head, &error,
                                         &too_large)) == Parse::kIncomplete) {
      c.in.end += co_await ReadSome(stream, c.in, 0, ec);
      if (ec) co_return;  // closed, reset or timed out: nothing to answer
    }
    x.minor = parsed == Parse::kDone ? c.head.minor : 1;
    x.keep_alive = false;
    x.head_request = false;
    http1::Body body;
    bool refused = true;
    if (parsed == Parse::kError) {
      TextReply(x, too_large ? 431 : 400, "malformed HTTP request: " + error);
    } else if (!http1::RequestBody(c.head, &body, &error)) {
      TextReply(x, 400, "malformed HTTP request: " + error);
    } else if (body.framing == http1::Framing::kLength && body.length > options.body_limit) {
      TextReply(x, 413,
                "request body is larger than the gateway's limit of " +
                    std::to_string(options.body_limit) + " bytes");
    } else {
      refused = false;
    }
    if (refused) {
      co_await asio::async_write(stream, asio::buffer(x.reply), asio::redirect_error(kUse, ec));
      co_return;
    }
    x.keep_alive = KeepAlive(c.head);
    x.head_request = c.head.method == "HEAD";
    x.idempotent = Idempotent(c.head.method);
    const Route* route = routes.Match(c.head.Get("host"), c.head.target);
    if (route == nullptr) {
      TextReply(x, 404,
                "no gateway route for host \"" + std::string(c.head.Get("host")) +
                    "\" and path \"" + std::string(c.head.target) + "\"");
    }
    bool go_ahead = c.head.minor == 1 && http1::IEquals(c.head.Get("expect"), "100-continue");
    // Built now: the head's views into `in` do not survive its growing for the body.
    UpstreamHead(c.head, c.remote, x.upstream_head);
    std::size_t head_size = c.head.size;

    std::size_t body_size = 0;
    if (body.framing != http1::Framing::kNone && go_ahead) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      co_await asio::async_write(stream, asio::buffer(kContinue), asio::redirect_error(kUse, ec));
      if (ec) co_return;
    }
    if (body.framing == http1::Framing::kLength) {
      body_size = static_cast<std::size_t>(body.length);
      while (c.in.size() < head_size + body_size) {
        c.in.end += co_await ReadSome(stream, c.in, head_size + body_size - c.in.size(), ec);
        if (ec) co_return;
      }
    } else if (body.framing == http1::Framing::kChunked) {
      c.chunks.Reset();
      while ((parsed = c.chunks.Scan(c.in.view().substr(head_size), options.body_limit, &error)) ==
             Parse::kIncomplete) {
        c.in.end += co_await ReadSome(stream, c.in, 0, ec);
        if (ec) co_return;
      }
      if (parsed == Parse::kError) {
        x.keep_alive = false;
        TextReply(
            x, error.find("limit") != std::string::npos ? 413 : 400,
            (error.find("limit") != std::string::npos ? "request " : "malformed chunked body: ") +
                error);
        co_await asio::async_write(stream, asio::buffer(x.reply), asio::redirect_error(kUse, ec));
        co_return;
      }
      body_size = c.chunks.end();
    }
    x.body = c.in.view().substr(head_size, body_size);

    if (route != nullptr) co_await Forward(worker, route, c);
    deadline.Set(options.client_timeout, &lowest);
    std::array<asio::const_buffer, 2> out{asio::buffer(x.reply), asio::buffer(x.reply_body)};
    co_await asio::async_write(stream, out, asio::redirect_error(kUse, ec));
    c.in.Consume(head_size + body_size);
    c.answer.Consume(c.answer.size());
    c.answer.Trim();
    if (!x.dechunked.empty()) x.dechunked = {};
    if (ec || !x.keep_alive) co_return;
  }
}

Task<boost::system::error_code> Gateway::Impl::Connect(const std::string& endpoint,
                                                       Socket& socket) {
  boost::system::error_code ec;
  Result<tcp::endpoint> parsed = ParseEndpoint(endpoint);
  if (parsed.ok()) {
    co_await socket.async_connect(*parsed, asio::redirect_error(kUse, ec));
  } else {
    // A host name: resolve it on each new connection (pooled ones are reused).
    std::size_t colon = endpoint.rfind(':');
    std::string host = endpoint.substr(0, colon);
    std::string port = endpoint.substr(colon + 1);
    Resolver resolver(socket.get_executor());
    auto results = co_await resolver.async_resolve(host, port, asio::redirect_error(kUse, ec));
    if (!ec) co_await asio::async_connect(socket, results, asio::redirect_error(kUse, ec));
  }
  if (!ec) socket.set_option(tcp::no_delay(true), ec);
  co_return ec;
}

Task<bool> Gateway::Impl::ReadAnswer(Socket& socket, HttpConnection& c, bool* reusable,
                                     std::string* error) {
  Exchange& x = c.x;
  Buffer& in = c.answer;
  boost::system::error_code ec;
  Parse parsed;
  // Interim answers (1xx but 101) are skipped: the caller gets the final one.
  for (;;) {
    while ((parsed = http1::ParseResponse(in.view(), kResponseHeadLimit, c.answer_head, error)) ==
           Parse::kIncomplete) {
      in.end += co_await ReadSome(socket, in, 0, ec);
      if (ec) {
        *error = ec.message();
        co_return false;
      }
    }
    if (parsed == Parse::kError) co_return false;
    if (c.answer_head.status >= 200 || c.answer_head.status == 101) break;
    in.Consume(c.answer_head.size);
  }
  const http1::Head& head = c.answer_head;
  if (head.status == 101) {
    *error = "the instance switched protocols, which the gateway does not proxy";
    co_return false;
  }
  http1::Body body;
  if (!http1::ResponseBody(head, x.head_request, &body, error)) co_return false;
  // The caller's head, built now: the views into `in` do not survive its growing.
  bool dechunk = body.framing == http1::Framing::kChunked && x.minor == 0;
  bool set_length = dechunk || body.framing == http1::Framing::kUntilClose;
  x.reply.clear();
  x.reply.append(x.minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ");
  x.reply.append(std::to_string(head.status)).append(" ").append(head.reason).append("\r\n");
  for (const http1::Header& h : head.headers) {
    if (HopByHop(h.name)) continue;
    if (set_length &&
        (http1::IEquals(h.name, "content-length") || http1::IEquals(h.name, "transfer-encoding"))) {
      continue;
    }
    if (body.framing == http1::Framing::kChunked && http1::IEquals(h.name, "content-length")) {
      continue;
    }
    x.reply.append(h.name).append(": ").append(h.value).append("\r\n");
  }
  bool instance_keeps = KeepAlive(head);
  std::size_t head_size = head.size;

  std::size_t body_size = 0;
  if (body.framing == http1::Framing::kLength) {
    if (body.length > options.body_limit) {
      *error = "the answer's body is larger than the gateway's limit of " +
               std::to_string(options.body_limit) + " bytes";
      co_return false;
    }
    body_size = static_cast<std::size_t>(body.length);
    while (in.size() < head_size + body_size) {
      in.end += co_await ReadSome(socket, in, head_size + body_size - in.size(), ec);
      if (ec) {
        *error = ec.message();
        co_return false;
      }
    }
  } else if (body.framing == http1::Framing::kChunked) {
    c.chunks.Reset();
    while ((parsed = c.chunks.Scan(in.view().substr(head_size), options.body_limit, error)) ==
           Parse::kIncomplete) {
      in.end += co_await ReadSome(socket, in, 0, ec);
      if (ec) {
        *error = ec.message();
        co_return false;
      }
    }
    if (parsed == Parse::kError) co_return false;
    body_size = c.chunks.end();
  } else if (body.framing == http1::Framing::kUntilClose) {
    for (;;) {
      in.end += co_await ReadSome(socket, in, 0, ec);
      if (ec == asio::error::eof) break;
      if (ec) {
        *error = ec.message();
        co_return false;
      }
      if (in.size() - head_size > options.body_limit) {
        *error = "the answer's body is larger than the gateway's limit of " +
                 std::to_string(options.body_limit) + " bytes";
        co_return false;
      }
    }
    body_size = in.size() - head_size;
  }
  x.reply_body = in.view().substr(head_size, body_size);
  if (dechunk) {
    x.dechunked = http1::Dechunk(x.reply_body);
    x.reply_body = x.dechunked;
  }
  if (set_length) {
    x.reply.append("Content-Length: ").append(std::to_string(x.reply_body.size())).append("\r\n");
  }
  if (x.minor == 0 && x.keep_alive) x.reply.append("Connection: keep-alive\r\n");
  if (x.minor == 1 && !x.keep_alive) x.reply.append("Connection: close\r\n");
  x.reply.append("\r\n");
  *reusable = instance_keeps && body.framing != http1::Framing::kUntilClose &&
              in.size() == head_size + body_size;
  co_return true;
}

Task<void> Gateway::Impl::Forward(Worker& worker, const Route* route, HttpConnection& c) {
  Exchange& x = c.x;
  Deadline& deadline = *c.deadline;
  Upstream& up = *upstream_of_route[static_cast<std::size_t>(route - routes.routes().data())];
  std::string last_error;
  std::string last_id;
  for (int attempt = 0; attempt < std::max(1, options.attempts); ++attempt) {
    std::optional<Balancer::Lease> lease = up.balancer->Pick();
    // A retry goes to another instance when there is one.
    if (lease && lease->instance().id == last_id) lease = up.balancer->Pick();
    if (!lease) {
      if (attempt == 0) {
        TextReply(x, 503,
                  "no healthy instance of " + Describe(up.target) + " in the registry (route " +
                      std::string(FlagName(route->kind)) + " " + route->match + ")");
        co_return;
      }
      break;
    }
    last_id = lease->instance().id;
    std::string endpoint = lease->instance().Endpoint();

    // A pooled connection may have been closed by the instance meanwhile: then the request
    // goes again on a new connection to the same instance, without counting a failure.
    for (bool fresh = false; !fresh;) {
      std::unique_ptr<Socket> socket;
      std::vector<IdleConnection>& idle = worker.idle[endpoint];
      SteadyClock::time_point now = SteadyClock::now();
      while (!idle.empty() && !socket) {
        if (now - idle.back().since < kIdleMax) socket = std::move(idle.back().socket);
        idle.pop_back();
      }
      if (!socket) {
        fresh = true;
        socket = std::make_unique<Socket>(worker.ctx);
        deadline.Set(options.connect_timeout, socket.get());
        boost::system::error_code ec = co_await Connect(endpoint, *socket);
        deadline.Clear();
        if (ec) {
          // Nothing was sent: safe to retry whatever the method.
          lease->Failure();
          last_error = "connecting to " + last_id + " at " + endpoint + ": " +
                       (deadline.expired() ? "timed out" : ec.message());
          server::RateLimitedWarn("gateway: {}; ejecting it for a while", last_error);
          break;
        }
      }
      boost::system::error_code ec;
      deadline.Set(options.upstream_timeout, socket.get());
      std::array<asio::const_buffer, 2> request{asio::buffer(x.upstream_head),
                                                asio::buffer(x.body)};
      co_await asio::async_write(*socket, request, asio::redirect_error(kUse, ec));
      c.answer.Consume(c.answer.size());
      std::string error;
      bool reusable = false;
      bool ok = !ec && co_await ReadAnswer(*socket, c, &reusable, &error);
      bool timed_out = deadline.expired();
      deadline.Clear();
      if (ok) {
        lease->Success();
        // (`idle` stays valid across the awaits: the map is only ever added to.)
        if (reusable && idle.size() < options.idle_per_instance) {
          idle.push_back({std::move(socket), SteadyClock::now()});
        }
        co_return;
      }
      if (ec) error = ec.message();
      bool nothing_back = c.answer.size() == 0;
      if (!fresh && nothing_back && !timed_out) continue;
      lease->Failure();
      if (timed_out) {
        TextReply(x, 504,
                  "instance " + last_id + " at " + endpoint + " of " + Describe(up.target) +
                      " did not answer within " + std::to_string(options.upstream_timeout.count()) +
                      " ms");
        co_return;
      }
      last_error = "request to " + last_id + " at " + endpoint + " failed: " + error;
      server::RateLimitedWarn("gateway: {}", last_error);
      if (!x.idempotent) {
        TextReply(x, 502,
                  last_error + " (not retried: " +
                      std::string(
                          std::string_view(x.upstream_head).substr(0, x.upstream_head.find(' '))) +
                      " is not idempotent)");
        co_return;
      }
      break;
    }
  }
  TextReply(x, 502,
            "every attempt to reach " + Describe(up.target) + " failed; last: " + last_error);
}

Task<void> Gateway::Impl::AcceptTcp(std::size_t index) {
  Acceptor& acceptor = *tcp_acceptors[index];
  for (;;) {
    Worker& worker = NextWorker();
    boost::system::error_code ec;
    Socket socket = co_await acceptor.async_accept(worker.ctx, asio::redirect_error(kUse, ec));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      server::RateLimitedWarn("gateway: accept on {} failed: {}", tcp_routes[index]->match,
                              ec.message());
      continue;
    }
    asio::co_spawn(worker.ctx, TcpSession(worker, std::move(socket), index), asio::detached);
  }
}

Task<void> Gateway::Impl::TcpSession(Worker& worker, Socket socket, std::size_t index) {
  const Route& route = *tcp_routes[index];
  Upstream& up = *upstreams.at(route.target.Key());
  for (int attempt = 0; attempt < std::max(1, options.attempts); ++attempt) {
    std::optional<Balancer::Lease> lease = up.balancer->Pick();
    if (!lease) {
      server::RateLimitedWarn("gateway: {}: no healthy instance of {}; closing the connection",
                              route.match, Describe(up.target));
      co_return;
    }
    std::string endpoint = lease->instance().Endpoint();
    Socket stream(worker.ctx);
    auto deadline = std::make_shared<Deadline>(worker.ctx);
    deadline->Set(options.connect_timeout, &stream);
    boost::system::error_code ec = co_await Connect(endpoint, stream);
    deadline->Stop();
    if (ec) {
      lease->Failure();
      server::RateLimitedWarn("gateway: {}: connecting to {} at {}: {}; ejecting it for a while",
                              route.match, lease->instance().id, endpoint, ec.message());
      continue;
    }
    lease->Success();
    auto pipe = std::make_shared<Pipe>(std::move(socket), std::move(stream), std::move(lease));
    asio::co_spawn(worker.ctx, CopyOneWay(pipe, false), asio::detached);
    co_await CopyOneWay(pipe, true);
    co_return;
  }
  server::RateLimitedWarn(
      "gateway: {}: every attempt to connect to {} failed; closing the connection", route.match,
      Describe(up.target));
}

Task<void> Gateway::Impl::CopyOneWay(std::shared_ptr<Pipe> pipe, bool to_upstream) {
  Socket& from = to_upstream ? pipe->client : pipe->upstream;
  Socket& to = to_upstream ? pipe->upstream : pipe->client;
  std::array<char, 16384> data;
  boost::system::error_code ec;
  for (;;) {
    std::size_t n =
        co_await from.async_read_some(asio::buffer(data), asio::redirect_error(kUse, ec));
    if (ec) break;
    co_await asio::async_write(to, asio::buffer(data.data(), n), asio::redirect_error(kUse, ec));
    if (ec) break;
  }
  if (ec == asio::error::eof) {
    // A half close is passed on: the other direction may still have bytes to deliver.
    to.shutdown(Socket::shutdown_send, ec);
  } else {
    from.close(ec);
    to.close(ec);
  }
}

}  // namespace concierge::gateway
