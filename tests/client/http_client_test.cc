#include "client/http_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <functional>
#include <future>
#include <string>
#include <thread>

namespace concierge::client {
namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

// A blocking one-connection-at-a-time HTTP server on 127.0.0.1, port 0. Answers
// "<method> <target> <body>" with X-Consul-Index: 7.
class TestServer {
 public:
  enum class Mode {
    kKeepAlive,      // serves every request on a connection
    kCloseAfterOne,  // closes the connection after one answer, without saying so
    kSilent,         // reads the request and never answers
  };

  explicit TestServer(Mode mode) : mode_(mode) {
    thread_ = std::thread([this] { Run(); });
  }

  ~TestServer() {
    stopping_ = true;
    release_.set_value();
    // Wakes the blocking accept.
    tcp::socket wake(ioc_);
    boost::system::error_code ignored;
    wake.connect({net::ip::address_v4::loopback(), port()}, ignored);
    thread_.join();
  }

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port()); }
  int accepts() const { return accepts_; }
  // Becomes ready when a kSilent server has read a request.
  std::shared_future<void> request_read() { return request_read_; }

 private:
  void Run() {
    while (true) {
      tcp::socket socket(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stopping_) return;
      ++accepts_;
      Serve(socket);
    }
  }

  void Serve(tcp::socket& socket) {
    boost::beast::flat_buffer buffer;
    while (true) {
      http::request<http::string_body> request;
      boost::system::error_code ec;
      http::read(socket, buffer, request, ec);
      if (ec) return;
      if (mode_ == Mode::kSilent) {
        read_promise_.set_value();
        release_future_.wait();
        return;
      }
      http::response<http::string_body> response{http::status::ok, 11};
      response.set("X-Consul-Index", "7");
      response.body() = std::string(request.method_string()) + " " + std::string(request.target()) +
                        " " + request.body();
      response.keep_alive(true);
      response.prepare_payload();
      http::write(socket, response, ec);
      if (ec || mode_ == Mode::kCloseAfterOne) return;
    }
  }

  Mode mode_;
  net::io_context ioc_;
  tcp::acceptor acceptor_{ioc_, {net::ip::address_v4::loopback(), 0}};
  std::atomic<int> accepts_{0};
  std::atomic<bool> stopping_{false};
  std::promise<void> read_promise_;
  std::shared_future<void> request_read_ = read_promise_.get_future().share();
  std::promise<void> release_;
  std::shared_future<void> release_future_ = release_.get_future().share();
  std::thread thread_;
};

TEST(ParseHostPortTest, Accepts) {
  Result<HostPort> v4 = ParseHostPort("127.0.0.1:8500");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 8500);
  Result<HostPort> v6 = ParseHostPort("[::1]:80");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->ToString(), "[::1]:80");
  EXPECT_TRUE(ParseHostPort("consul.service:8500").ok());
}

TEST(ParseHostPortTest, RejectsWithReason) {
  auto message = [](std::string_view address) { return ParseHostPort(address).status().message(); };
  EXPECT_NE(message("http://127.0.0.1:8500").find("has a scheme"), std::string::npos);
  EXPECT_NE(message("127.0.0.1").find("has no port"), std::string::npos);
  EXPECT_NE(message(":8500").find("has no host"), std::string::npos);
  EXPECT_NE(message("h:0").find("no valid port"), std::string::npos);
  EXPECT_NE(message("h:65536").find("no valid port"), std::string::npos);
  EXPECT_NE(message("h:80x").find("no valid port"), std::string::npos);
  EXPECT_NE(message("::1:80").find("without brackets"), std::string::npos);
  EXPECT_FALSE(HttpClient::Open("nope").ok());
}

TEST(HttpClientTest, StreamHandsOverTheBodyAndStopsWhenAsked) {
  TestServer server(TestServer::Mode::kKeepAlive);
  Result<HttpClient> client = HttpClient::Open(server.address());
  ASSERT_TRUE(client.ok());
  std::string got;
  std::function<bool(std::string_view)> collect = [&](std::string_view piece) {
    got.append(piece);
    return true;
  };
  Result<Response> response = client->Stream("/v1/agent/monitor", collect);
  ASSERT_TRUE(response.ok()) << response.status().message();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "") << "a 200 body goes to on_data only";
  EXPECT_EQ(got, "GET /v1/agent/monitor ");
  ASSERT_NE(response->Header("x-consul-index"), nullptr);

  // A callback that says stop ends the stream; the client still works afterwards.
  int calls = 0;
  std::function<bool(std::string_view)> stop = [&](std::string_view) { return ++calls > 1; };
  ASSERT_TRUE(client->Stream("/again", stop).ok());
  EXPECT_EQ(calls, 1);
  Result<Response> after = client->Get("/after");
  ASSERT_TRUE(after.ok()) << after.status().message();
  EXPECT_EQ(after->body, "GET /after ");
}

TEST(HttpClientTest, ReusesOneConnection) {
  TestServer server(TestServer::Mode::kKeepAlive);
  Result<HttpClient> client = HttpClient::Open(server.address());
  ASSERT_TRUE(client.ok());
  for (int i = 0; i < 3; ++i) {
    Result<Response> response = client->Put("/v1/x?a=" + std::to_string(i), "body");
    ASSERT_TRUE(response.ok()) << response.status().message();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "PUT /v1/x?a=" + std::to_string(i) + " body");
    ASSERT_NE(response->Header("X-CONSUL-INDEX"), nullptr);
    EXPECT_EQ(*response->Header("x-consul-index"), "7");
    EXPECT_EQ(response->Header("x-missing"), nullptr);
  }
  EXPECT_EQ(server.accepts(), 1);
}

TEST(HttpClientTest, ReconnectsWhenTheServerClosedAKeptAliveConnection) {
  TestServer server(TestServer::Mode::kCloseAfterOne);
  Result<HttpClient> client = HttpClient::Open(server.address());
  ASSERT_TRUE(client.ok());
  for (int i = 0; i < 2; ++i) {
    Result<Response> response = client->Get("/v1/y");
    ASSERT_TRUE(response.ok()) << response.status().message();
    EXPECT_EQ(response->body, "GET /v1/y ");
  }
  EXPECT_EQ(server.accepts(), 2);
}

TEST(HttpClientTest, ConnectionRefusedNamesTheAddress) {
  std::uint16_t port;
  {
    net::io_context ioc;
    tcp::acceptor closed(ioc, {net::ip::address_v4::loopback(), 0});
    port = closed.local_endpoint().port();
  }
  std::string address = "127.0.0.1:" + std::to_string(port);
  Result<HttpClient> client = HttpClient::Open(address);
  ASSERT_TRUE(client.ok());
  Result<Response> response = client->Get("/");
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(response.status().message(), "cannot connect to " + address + ": Connection refused");
}

TEST(HttpClientTest, ReadTimeout) {
  TestServer server(TestServer::Mode::kSilent);
  HttpClientOptions options;
  options.read_timeout = 50ms;
  Result<HttpClient> client = HttpClient::Open(server.address(), options);
  ASSERT_TRUE(client.ok());
  Result<Response> response = client->Get("/");
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().message(), "no answer from " + server.address() + " within 50ms");
}

TEST(HttpClientTest, ShutdownAbortsARequestInProgress) {
  TestServer server(TestServer::Mode::kSilent);
  Result<HttpClient> client = HttpClient::Open(server.address());
  ASSERT_TRUE(client.ok());
  std::thread stopper([&] {
    server.request_read().wait();
    client->Shutdown();
  });
  Result<Response> response = client->Get("/", std::chrono::minutes(5));
  stopper.join();
  ASSERT_FALSE(response.ok());
  EXPECT_NE(response.status().message().find("cancelled"), std::string::npos);
  EXPECT_FALSE(client->Get("/").ok()) << "stays shut down";
}

TEST(HttpClientTest, UnknownMethod) {
  Result<HttpClient> client = HttpClient::Open("127.0.0.1:1");
  ASSERT_TRUE(client.ok());
  EXPECT_EQ(client->Send("FETCH", "/").status().code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace concierge::client
