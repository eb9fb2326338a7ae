#include "gateway/gateway.h"

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <thread>
#include <unordered_map>

#include "concierge/watcher.h"
#include "server/log_limit.h"

namespace concierge::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using Request = bhttp::request<bhttp::string_body>;
using Response = bhttp::response<bhttp::string_body>;

namespace {

constexpr auto kUse = asio::use_awaitable;
constexpr auto kIdleMax = std::chrono::seconds(20);  // a pooled connection older is closed

Response TextResponse(bhttp::status status, std::string body) {
  Response res{status, 11};
  res.set(bhttp::field::server, "concierge-gateway");
  res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
  res.body() = std::move(body) + "\n";
  res.prepare_payload();
  return res;
}

bool Idempotent(bhttp::verb method) {
  switch (method) {
    case bhttp::verb::get:
    case bhttp::verb::head:
    case bhttp::verb::put:
    case bhttp::verb::delete_:
    case bhttp::verb::options:
    case bhttp::verb::trace:
      return true;
    default:
      return false;
  }
}

// Headers that belong to one connection, not to the message (RFC 7230 6.1).
void EraseHopByHop(bhttp::fields& fields) {
  for (bhttp::field f : {bhttp::field::connection, bhttp::field::keep_alive,
                         bhttp::field::proxy_connection, bhttp::field::te, bhttp::field::trailer,
                         bhttp::field::upgrade}) {
    fields.erase(f);
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
  return tcp::endpoint(address,
                       static_cast<std::uint16_t>(std::stoi(host_port.substr(colon + 1))));
}

std::string Describe(const Target& t) {
  return "service \"" + t.service + "\"" + (t.tag.empty() ? "" : " with tag \"" + t.tag + "\"");
}

}  // namespace

// One routed service/tag: its Watcher and Balancer.
struct Upstream {
  Target target;
  std::unique_ptr<Watcher> watcher;
  std::unique_ptr<Balancer> balancer;
};

// An idle keep-alive connection to an instance.
struct IdleConnection {
  std::unique_ptr<beast::tcp_stream> stream;
  SteadyClock::time_point since;
};

// One thread: its io_context and its idle connections (touched only on that thread).
struct Worker {
  asio::io_context ctx{1};
  std::unordered_map<std::string, std::vector<IdleConnection>> idle;
};

// Both directions of one proxied TCP connection.
struct Pipe {
  Pipe(tcp::socket a, tcp::socket b, std::optional<Balancer::Lease> l)
      : client(std::move(a)), upstream(std::move(b)), lease(std::move(l)) {}
  tcp::socket client;
  tcp::socket upstream;
  std::optional<Balancer::Lease> lease;
};

struct Gateway::Impl {
  Impl(std::unique_ptr<Client> c, RouteTable r, GatewayOptions o)
      : client(std::move(c)), routes(std::move(r)), options(std::move(o)) {}

  std::unique_ptr<Client> client;
  RouteTable routes;
  GatewayOptions options;
  // Declared before the workers: coroutine frames (holding Leases) die with the io_contexts.
  std::map<std::string, std::unique_ptr<Upstream>> upstreams;
  std::vector<std::unique_ptr<Worker>> workers;
  std::unique_ptr<tcp::acceptor> http_acceptor;
  std::vector<std::unique_ptr<tcp::acceptor>> tcp_acceptors;
  std::vector<const Route*> tcp_routes;
  std::vector<std::thread> threads;
  std::atomic<std::size_t> next_worker{0};

  Worker& NextWorker() { return *workers[next_worker.fetch_add(1) % workers.size()]; }
  Status Bind(const std::string& where, tcp::acceptor& acceptor);

  asio::awaitable<void> AcceptHttp();
  asio::awaitable<void> AcceptTcp(std::size_t index);
  asio::awaitable<void> HttpSession(Worker& worker, tcp::socket socket);
  asio::awaitable<void> HttpsSession(Worker& worker, tcp::socket socket);
  template <class Stream>
  asio::awaitable<void> ServeHttp(Worker& worker, Stream& stream, beast::flat_buffer& buffer,
                                  const std::string& remote);
  asio::awaitable<void> Forward(Worker& worker, Request& req, Response& out);
  asio::awaitable<boost::system::error_code> Connect(const std::string& endpoint,
                                                     beast::tcp_stream& stream);
  asio::awaitable<void> TcpSession(Worker& worker, tcp::socket socket, std::size_t index);
  asio::awaitable<void> CopyOneWay(std::shared_ptr<Pipe> pipe, bool to_upstream);
};

Gateway::Gateway(std::unique_ptr<Client> client, RouteTable routes, GatewayOptions options)
    : impl_(std::make_unique<Impl>(std::move(client), std::move(routes), std::move(options))) {}

Gateway::~Gateway() { Stop(); }

Status Gateway::Impl::Bind(const std::string& where, tcp::acceptor& acceptor) {
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
    d.http_acceptor = std::make_unique<tcp::acceptor>(d.workers[0]->ctx);
    Status s = d.Bind(d.options.listen, *d.http_acceptor);
    if (!s.ok()) return Status::Unavailable("-listen: " + s.message());
  }
  for (const Route* r : d.tcp_routes) {
    d.tcp_acceptors.push_back(std::make_unique<tcp::acceptor>(d.workers[0]->ctx));
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
    up->balancer = std::make_unique<Balancer>(
        up->watcher.get(), BalancerOptions{.policy = d.options.policy,
                                           .consecutive_failures = 1,
                                           .base_ejection = d.options.ejection});
    d.upstreams.emplace(name, std::move(up));
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

asio::awaitable<void> Gateway::Impl::AcceptHttp() {
  for (;;) {
    Worker& worker = NextWorker();
    boost::system::error_code ec;
    tcp::socket socket =
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

asio::awaitable<void> Gateway::Impl::HttpSession(Worker& worker, tcp::socket socket) {
  boost::system::error_code ec;
  tcp::endpoint peer = socket.remote_endpoint(ec);
  std::string remote = ec ? "" : peer.address().to_string();
  socket.set_option(tcp::no_delay(true), ec);
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  co_await ServeHttp(worker, stream, buffer, remote);
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

asio::awaitable<void> Gateway::Impl::HttpsSession(Worker& worker, tcp::socket socket) {
  boost::system::error_code ec;
  tcp::endpoint peer = socket.remote_endpoint(ec);
  std::string remote = ec ? "" : peer.address().to_string();
  socket.set_option(tcp::no_delay(true), ec);
  asio::ssl::stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *options.tls);
  auto& lowest = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer;
  lowest.expires_after(options.client_timeout);
  bool is_tls = co_await beast::async_detect_ssl(lowest, buffer, asio::redirect_error(kUse, ec));
  if (ec) co_return;
  if (!is_tls) {
    Response res = TextResponse(bhttp::status::bad_request,
                                "this gateway speaks HTTPS only: use https://");
    res.keep_alive(false);
    co_await bhttp::async_write(lowest, res, asio::redirect_error(kUse, ec));
    co_return;
  }
  std::size_t used = co_await stream.async_handshake(asio::ssl::stream_base::server,
                                                     buffer.data(), asio::redirect_error(kUse, ec));
  if (ec) co_return;
  buffer.consume(used);
  co_await ServeHttp(worker, stream, buffer, remote);
  lowest.expires_after(std::chrono::seconds(1));
  co_await stream.async_shutdown(asio::redirect_error(kUse, ec));
}

template <class Stream>
asio::awaitable<void> Gateway::Impl::ServeHttp(Worker& worker, Stream& stream,
                                               beast::flat_buffer& buffer,
                                               const std::string& remote) {
  auto& lowest = beast::get_lowest_layer(stream);
  boost::system::error_code ec;
  for (;;) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(options.body_limit);
    lowest.expires_after(options.client_timeout);
    co_await bhttp::async_read_header(stream, buffer, parser, asio::redirect_error(kUse, ec));
    if (!ec && beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
      // We read the whole body before choosing an instance, so the go-ahead is ours to give.
      parser.get().erase(bhttp::field::expect);
      bhttp::response<bhttp::empty_body> go_ahead{bhttp::status::continue_, 11};
      co_await bhttp::async_write(stream, go_ahead, asio::redirect_error(kUse, ec));
    }
    if (!ec) co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(kUse, ec));
    if (ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout || ec == asio::error::connection_reset ||
        ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
      break;
    }
    if (ec) {
      Response res = ec == bhttp::error::body_limit
                         ? TextResponse(bhttp::status::payload_too_large,
                                        "request body is larger than the gateway's limit of " +
                                            std::to_string(options.body_limit) + " bytes")
                         : TextResponse(bhttp::status::bad_request,
                                        "malformed HTTP request: " + ec.message());
      res.keep_alive(false);
      co_await bhttp::async_write(stream, res, asio::redirect_error(kUse, ec));
      break;
    }
    Request& req = parser.get();
    bool keep_alive = req.keep_alive();
    unsigned version = req.version();
    EraseHopByHop(req);
    std::string forwarded(req["X-Forwarded-For"]);
    req.set("X-Forwarded-For", forwarded.empty() ? remote : forwarded + ", " + remote);
    req.version(11);
    req.keep_alive(true);

    Response res;
    co_await Forward(worker, req, res);
    EraseHopByHop(res);
    if (version < 11 && res.chunked()) {
      // An HTTP/1.0 caller cannot read chunks: send the length of the (whole) body instead.
      res.chunked(false);
      res.prepare_payload();
    }
    res.version(version);
    res.keep_alive(keep_alive);
    lowest.expires_after(options.client_timeout);
    co_await bhttp::async_write(stream, res, asio::redirect_error(kUse, ec));
    if (ec || !keep_alive) break;
  }
}

asio::awaitable<boost::system::error_code> Gateway::Impl::Connect(const std::string& endpoint,
                                                                  beast::tcp_stream& stream) {
  boost::system::error_code ec;
  Result<tcp::endpoint> parsed = ParseEndpoint(endpoint);
  if (parsed.ok()) {
    stream.expires_after(options.connect_timeout);
    co_await stream.async_connect(*parsed, asio::redirect_error(kUse, ec));
  } else {
    // A host name: resolve it on each new connection (pooled ones are reused).
    std::size_t colon = endpoint.rfind(':');
    std::string host = endpoint.substr(0, colon);
    std::string port = endpoint.substr(colon + 1);
    tcp::resolver resolver(stream.get_executor());
    auto results =
        co_await resolver.async_resolve(host, port, asio::redirect_error(kUse, ec));
    if (!ec) {
      stream.expires_after(options.connect_timeout);
      co_await stream.async_connect(results, asio::redirect_error(kUse, ec));
    }
  }
  if (!ec) stream.socket().set_option(tcp::no_delay(true), ec);
  co_return ec;
}

asio::awaitable<void> Gateway::Impl::Forward(Worker& worker, Request& req, Response& out) {
  beast::string_view host_field = req[bhttp::field::host];
  std::string_view host(host_field.data(), host_field.size());
  std::string_view target(req.target().data(), req.target().size());
  const Route* route = routes.Match(host, target);
  if (route == nullptr) {
    out = TextResponse(bhttp::status::not_found, "no gateway route for host \"" +
                                                     std::string(host) + "\" and path \"" +
                                                     std::string(target) + "\"");
    co_return;
  }
  Upstream& up = *upstreams.at(route->target.Key());
  bool idempotent = Idempotent(req.method());
  std::string last_error;
  std::string last_id;
  for (int attempt = 0; attempt < std::max(1, options.attempts); ++attempt) {
    std::optional<Balancer::Lease> lease = up.balancer->Pick();
    // A retry goes to another instance when there is one.
    if (lease && lease->instance().id == last_id) lease = up.balancer->Pick();
    if (!lease) {
      if (attempt == 0) {
        out = TextResponse(bhttp::status::service_unavailable,
                           "no healthy instance of " + Describe(up.target) +
                               " in the registry (route " + std::string(FlagName(route->kind)) +
                               " " + route->match + ")");
        co_return;
      }
      break;
    }
    last_id = lease->instance().id;
    std::string endpoint = lease->instance().Endpoint();

    // A pooled connection may have been closed by the instance meanwhile: then the request
    // goes again on a new connection to the same instance, without counting a failure.
    for (bool fresh = false; !fresh;) {
      std::unique_ptr<beast::tcp_stream> stream;
      std::vector<IdleConnection>& idle = worker.idle[endpoint];
      SteadyClock::time_point now = SteadyClock::now();
      while (!idle.empty() && !stream) {
        if (now - idle.back().since < kIdleMax) stream = std::move(idle.back().stream);
        idle.pop_back();
      }
      if (!stream) {
        fresh = true;
        stream = std::make_unique<beast::tcp_stream>(worker.ctx);
        boost::system::error_code ec = co_await Connect(endpoint, *stream);
        if (ec) {
          // Nothing was sent: safe to retry whatever the method.
          lease->Failure();
          last_error = "connecting to " + last_id + " at " + endpoint + ": " + ec.message();
          server::RateLimitedWarn("gateway: {}; ejecting it for a while", last_error);
          break;
        }
      }
      boost::system::error_code ec;
      stream->expires_after(options.upstream_timeout);
      co_await bhttp::async_write(*stream, req, asio::redirect_error(kUse, ec));
      beast::flat_buffer buffer;
      bhttp::response_parser<bhttp::string_body> parser;
      parser.body_limit(options.body_limit);
      parser.skip(req.method() == bhttp::verb::head);
      if (!ec) co_await bhttp::async_read(*stream, buffer, parser, asio::redirect_error(kUse, ec));
      if (!ec) {
        lease->Success();
        out = parser.release();
        // (`idle` stays valid across the awaits: the map is only ever added to.)
        if (out.keep_alive() && buffer.size() == 0 && idle.size() < options.idle_per_instance) {
          idle.push_back({std::move(stream), SteadyClock::now()});
        }
        co_return;
      }
      bool nothing_back = !parser.got_some();
      if (!fresh && nothing_back && ec != beast::error::timeout) continue;
      if (ec == beast::error::timeout) {
        lease->Failure();
        out = TextResponse(bhttp::status::gateway_timeout,
                           "instance " + last_id + " at " + endpoint + " of " +
                               Describe(up.target) + " did not answer within " +
                               std::to_string(options.upstream_timeout.count()) + " ms");
        co_return;
      }
      lease->Failure();
      last_error = "request to " + last_id + " at " + endpoint + " failed: " + ec.message();
      server::RateLimitedWarn("gateway: {}", last_error);
      if (!idempotent) {
        out = TextResponse(bhttp::status::bad_gateway,
                           last_error + " (not retried: " + std::string(req.method_string()) +
                               " is not idempotent)");
        co_return;
      }
      break;
    }
  }
  out = TextResponse(bhttp::status::bad_gateway,
                     "every attempt to reach " + Describe(up.target) + " failed; last: " +
                         last_error);
}

asio::awaitable<void> Gateway::Impl::AcceptTcp(std::size_t index) {
  tcp::acceptor& acceptor = *tcp_acceptors[index];
  for (;;) {
    Worker& worker = NextWorker();
    boost::system::error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(worker.ctx, asio::redirect_error(kUse, ec));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      server::RateLimitedWarn("gateway: accept on {} failed: {}", tcp_routes[index]->match,
                              ec.message());
      continue;
    }
    asio::co_spawn(worker.ctx, TcpSession(worker, std::move(socket), index), asio::detached);
  }
}

asio::awaitable<void> Gateway::Impl::TcpSession(Worker& worker, tcp::socket socket,
                                                std::size_t index) {
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
    beast::tcp_stream stream(worker.ctx);
    boost::system::error_code ec = co_await Connect(endpoint, stream);
    if (ec) {
      lease->Failure();
      server::RateLimitedWarn("gateway: {}: connecting to {} at {}: {}; ejecting it for a while",
                              route.match, lease->instance().id, endpoint, ec.message());
      continue;
    }
    stream.expires_never();
    lease->Success();
    auto pipe = std::make_shared<Pipe>(std::move(socket), stream.release_socket(),
                                       std::move(lease));
    asio::co_spawn(worker.ctx, CopyOneWay(pipe, false), asio::detached);
    co_await CopyOneWay(pipe, true);
    co_return;
  }
  server::RateLimitedWarn(
      "gateway: {}: every attempt to connect to {} failed; closing the connection", route.match,
      Describe(up.target));
}

asio::awaitable<void> Gateway::Impl::CopyOneWay(std::shared_ptr<Pipe> pipe, bool to_upstream) {
  tcp::socket& from = to_upstream ? pipe->client : pipe->upstream;
  tcp::socket& to = to_upstream ? pipe->upstream : pipe->client;
  std::array<char, 16384> data;
  boost::system::error_code ec;
  for (;;) {
    std::size_t n = co_await from.async_read_some(asio::buffer(data), asio::redirect_error(kUse, ec));
    if (ec) break;
    co_await asio::async_write(to, asio::buffer(data.data(), n), asio::redirect_error(kUse, ec));
    if (ec) break;
  }
  if (ec == asio::error::eof) {
    // A half close is passed on: the other direction may still have bytes to deliver.
    to.shutdown(tcp::socket::shutdown_send, ec);
  } else {
    from.close(ec);
    to.close(ec);
  }
}

}  // namespace concierge::gateway
