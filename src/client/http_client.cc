#include "client/http_client.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <charconv>
#include <exception>
#include <limits>
#include <utility>

#include "tls/context.h"

namespace concierge::client {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
namespace ssl = net::ssl;

beast::string_view ToBeast(std::string_view text) { return {text.data(), text.size()}; }

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// "1.5s" style, short enough for error messages.
std::string Seconds(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

}  // namespace

std::string HostPort::ToString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<HostPort> ParseHostPort(std::string_view address) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("address \"" + std::string(address) + "\": " + std::string(why) +
                                   ", expected host:port like 127.0.0.1:8500");
  };
  if (address.find("://") != std::string_view::npos) return bad("has a scheme");
  std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return bad("has no port");
  std::string_view host = address.substr(0, colon);
  std::string_view port_text = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return bad("has an IPv6 host without brackets");
  }
  if (host.empty()) return bad("has no host");
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    return bad("has no valid port (1-65535)");
  }
  return HostPort{std::string(host), static_cast<std::uint16_t>(port)};
}

const std::string* Response::Header(std::string_view name) const {
  auto it = headers.find(Lower(name));
  return it == headers.end() ? nullptr : &it->second;
}

struct HttpClient::Impl {
  Impl(HostPort address, HttpClientOptions options)
      : address(std::move(address)), options(std::move(options)), stream(ioc) {}

  // The TCP stream under TLS, or the plain one.
  beast::tcp_stream& Lowest() { return tls ? beast::get_lowest_layer(*tls) : stream; }
  // Calls f with the stream requests go over.
  template <class F>
  void WithStream(F&& f) {
    if (tls) {
      f(*tls);
    } else {
      f(stream);
    }
  }

  // Runs the operations started on ioc until they complete (or Shutdown cancels them).
  void RunIo() {
    ioc.restart();
    ioc.run();
  }

  Status Cancelled() const {
    return Status::Unavailable("request to " + address.ToString() + " cancelled");
  }

  void Close() {
    beast::error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Lowest().close();
    tls.reset();
    buffer.clear();
    connected = false;
  }

  Status Connect() {
    tcp::resolver resolver(ioc);
    beast::error_code ec;
    auto endpoints = resolver.resolve(address.host, std::to_string(address.port), ec);
    if (ec) {
      return Status::Unavailable("cannot resolve \"" + address.host + "\": " + ec.message());
    }
    if (shut_down.load()) return Cancelled();
    // A TLS session cannot be reused after a close: a new one per connection.
    if (options.tls_context) tls.emplace(ioc, *options.tls_context);
    Lowest().expires_after(options.connect_timeout);
    Lowest().async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
    RunIo();
    if (shut_down.load()) return Cancelled();
    if (ec == beast::error::timeout) {
      return Status::Unavailable("cannot connect to " + address.ToString() + ": no answer within " +
                                 Seconds(options.connect_timeout));
    }
    if (ec) {
      return Status::Unavailable("cannot connect to " + address.ToString() + ": " + ec.message());
    }
    if (tls) {
      if (!tls::PrepareClient(*tls, options.tls, address.host)) {
        return Status::Internal("cannot set up TLS for " + address.ToString());
      }
      Lowest().expires_after(options.connect_timeout);
      tls->async_handshake(ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
      RunIo();
      if (shut_down.load()) return Cancelled();
      if (ec) {
        std::string why = ec == beast::error::timeout
                              ? "no TLS handshake within " + Seconds(options.connect_timeout)
                              : tls::DescribeError(ec, tls->native_handle());
        Close();
        return Status::Unavailable("cannot connect to " + address.ToString() + ": " + why);
      }
    }
    connected = true;
    return Status::Ok();
  }

  // One request/answer on the open connection. `stale` is set when the failure looks like a
  // kept-alive connection the server had already closed, so sending again is safe.
  Result<Response> RoundTrip(const http::request<http::string_body>& request,
                             std::chrono::milliseconds timeout, bool& stale) {
    stale = false;
    beast::error_code ec;
    Lowest().expires_after(timeout);
    WithStream([&](auto& s) {
      http::async_write(s, request, [&](beast::error_code e, std::size_t) { ec = e; });
    });
    RunIo();
    if (shut_down.load()) return Cancelled();
    if (ec) {
      stale = ec != beast::error::timeout;
      return Status::Unavailable("cannot send request to " + address.ToString() + ": " +
                                 ec.message());
    }

    http::response_parser<http::string_body> parser;
    parser.body_limit(options.max_body_bytes);
    WithStream([&](auto& s) {
      http::async_read(s, buffer, parser, [&](beast::error_code e, std::size_t) { ec = e; });
    });
    RunIo();
    if (shut_down.load()) return Cancelled();
    if (ec == beast::error::timeout) {
      return Status::Unavailable("no answer from " + address.ToString() + " within " +
                                 Seconds(timeout));
    }
    if (ec) {
      stale = ec == http::error::end_of_stream || ec == net::error::connection_reset ||
              ec == ssl::error::stream_truncated;
      return Status::Unavailable("cannot read answer from " + address.ToString() + ": " +
                                 tls::DescribeError(ec, nullptr));
    }

    http::response<http::string_body> message = parser.release();
    Response response;
    response.status = static_cast<int>(message.result_int());
    for (const auto& field : message) {
      beast::string_view name = field.name_string();
      beast::string_view value = field.value();
      response.headers[Lower({name.data(), name.size()})] = std::string(value.data(), value.size());
    }
    response.body = std::move(message.body());
    if (!message.keep_alive()) Close();
    return response;
  }

  Result<Response> Send(std::string_view method, std::string_view target, std::string_view body,
                        std::optional<std::chrono::milliseconds> timeout, const Headers& headers) {
    http::verb verb = http::string_to_verb(ToBeast(method));
    if (verb == http::verb::unknown) {
      return Status::InvalidArgument("unknown HTTP method \"" + std::string(method) + "\"");
    }
    if (shut_down.load()) return Cancelled();

    http::request<http::string_body> request{verb, ToBeast(target), 11};
    request.set(http::field::host, address.ToString());
    request.set(http::field::user_agent, "concierge-client");
    for (const auto& [name, value] : headers) request.set(ToBeast(name), ToBeast(value));
    if (!options.token.empty()) request.set("X-Consul-Token", options.token);
    request.keep_alive(true);
    request.body() = std::string(body);
    request.prepare_payload();

    // A second attempt only on a reused connection that turned out to be closed.
    for (int attempt = 0;; ++attempt) {
      bool reused = connected;
      if (!connected) {
        Status status = Connect();
        if (!status.ok()) return status;
      }
      bool stale = false;
      Result<Response> result = RoundTrip(request, timeout.value_or(options.read_timeout), stale);
      if (result.ok()) return result;
      Close();
      if (!(stale && reused && attempt == 0)) return result;
    }
  }

  Result<Response> Stream(std::string_view target,
                          const std::function<bool(std::string_view)>& on_data) {
    if (shut_down.load()) return Cancelled();
    http::request<http::string_body> request{http::verb::get, ToBeast(target), 11};
    request.set(http::field::host, address.ToString());
    request.set(http::field::user_agent, "concierge-client");
    request.keep_alive(false);
    // Its own connection: the stream ends with it.
    Close();
    if (Status status = Connect(); !status.ok()) return status;
    beast::error_code ec;
    stream.expires_after(options.read_timeout);
    http::async_write(stream, request, [&](beast::error_code e, std::size_t) { ec = e; });
    RunIo();
    if (shut_down.load()) return Cancelled();
    if (ec) {
      Close();
      return Status::Unavailable("cannot send request to " + address.ToString() + ": " +
                                 ec.message());
    }
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    http::async_read_header(stream, buffer, parser,
                            [&](beast::error_code e, std::size_t) { ec = e; });
    RunIo();
    if (shut_down.load()) return Cancelled();
    if (ec) {
      Close();
      return Status::Unavailable("cannot read answer from " + address.ToString() + ": " +
                                 ec.message());
    }
    Response response;
    response.status = static_cast<int>(parser.get().result_int());
    for (const auto& field : parser.get()) {
      beast::string_view name = field.name_string();
      beast::string_view value = field.value();
      response.headers[Lower({name.data(), name.size()})] = std::string(value.data(), value.size());
    }
    // The body may take forever: no deadline from here on (Shutdown ends it).
    stream.expires_never();
    char piece[16 * 1024];
    while (!parser.is_done()) {
      parser.get().body().data = piece;
      parser.get().body().size = sizeof piece;
      http::async_read_some(stream, buffer, parser,
                            [&](beast::error_code e, std::size_t) { ec = e; });
      RunIo();
      if (shut_down.load()) {
        Close();
        return Cancelled();
      }
      if (ec == http::error::need_buffer) ec = {};
      if (ec) {
        Close();
        return Status::Unavailable("stream from " + address.ToString() + " broke: " + ec.message());
      }
      std::string_view got(piece, sizeof piece - parser.get().body().size);
      if (response.status != 200) {
        if (response.body.size() < options.max_body_bytes) response.body.append(got);
      } else if (!got.empty() && !on_data(got)) {
        break;
      }
    }
    Close();
    return response;
  }

  HostPort address;
  HttpClientOptions options;
  net::io_context ioc;
  beast::tcp_stream stream;
  std::optional<ssl::stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  bool connected = false;
  std::atomic<bool> shut_down{false};
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;
HttpClient::~HttpClient() = default;

Result<HttpClient> HttpClient::Open(std::string_view address, HttpClientOptions options) {
  Result<HostPort> parsed = ParseHostPort(address);
  if (!parsed.ok()) return parsed.status();
  if (options.tls.enabled && !options.tls_context) {
    auto ctx = tls::ClientContext(options.tls);
    if (!ctx.ok()) return ctx.status();
    options.tls_context = std::move(ctx).value();
  }
  if (!options.tls.enabled) options.tls_context.reset();
  try {
    return HttpClient(std::make_unique<Impl>(std::move(parsed).value(), options));
  } catch (const std::exception& e) {
    return Status::Internal(std::string("cannot create HTTP client: ") + e.what());
  }
}

Result<Response> HttpClient::Send(std::string_view method, std::string_view target,
                                  std::string_view body,
                                  std::optional<std::chrono::milliseconds> timeout,
                                  const Headers& headers) {
  try {
    return impl_->Send(method, target, body, timeout, headers);
  } catch (const std::exception& e) {
    impl_->Close();
    return Status::Internal("request to " + impl_->address.ToString() + " failed: " + e.what());
  }
}

Result<Response> HttpClient::Stream(std::string_view target,
                                    const std::function<bool(std::string_view)>& on_data) {
  try {
    return impl_->Stream(target, on_data);
  } catch (const std::exception& e) {
    impl_->Close();
    return Status::Internal("request to " + impl_->address.ToString() + " failed: " + e.what());
  }
}

void HttpClient::Shutdown() {
  impl_->shut_down.store(true);
  // Runs inside the requesting thread's ioc.run(), so it never races with the stream.
  net::post(impl_->ioc, [impl = impl_.get()] { impl->Lowest().cancel(); });
}

const HostPort& HttpClient::address() const { return impl_->address; }

}  // namespace concierge::client
