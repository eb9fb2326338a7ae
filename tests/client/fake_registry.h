// A fake registry for client tests: a blocking HTTP/1.1 server on 127.0.0.1 (port 0, or a
// given port so a test can "restart" the registry), one thread per connection, that answers
// each request with a handler's reply and records what it received.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace concierge::testing {

struct FakeReply {
  int status = 200;
  std::string body;
  std::uint64_t index = 1;  // X-Consul-Index; 0 leaves it out
};

class FakeRegistry {
 public:
  using Handler = std::function<FakeReply(const std::string& method, const std::string& target)>;

  explicit FakeRegistry(Handler handler, std::uint16_t port = 0) : handler_(std::move(handler)) {
    namespace net = boost::asio;
    acceptor_.open(net::ip::tcp::v4());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind({net::ip::address_v4::loopback(), port});
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { Accept(); });
  }

  ~FakeRegistry() {
    stopping_ = true;
    boost::system::error_code ignored;
    // Wakes the blocking accept (closing the acceptor does not, on Linux).
    boost::asio::ip::tcp::socket wake(ioc_);
    wake.connect({boost::asio::ip::address_v4::loopback(), port_}, ignored);
    accept_thread_.join();
    acceptor_.close(ignored);
    {
      std::lock_guard lock(mutex_);
      for (auto& s : sockets_) {
        s->shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
        s->close(ignored);
      }
    }
    for (std::thread& t : connection_threads_) t.join();
  }

  std::uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // "METHOD target" of every request received, in order.
  std::vector<std::string> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void Accept() {
    while (!stopping_) {
      auto socket = std::make_shared<boost::asio::ip::tcp::socket>(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(*socket, ec);
      if (ec || stopping_) return;
      std::lock_guard lock(mutex_);
      sockets_.push_back(socket);
      connection_threads_.emplace_back([this, socket] { Serve(*socket); });
    }
  }

  void Serve(boost::asio::ip::tcp::socket& socket) {
    namespace http = boost::beast::http;
    boost::beast::flat_buffer buffer;
    while (!stopping_) {
      http::request<http::string_body> request;
      boost::system::error_code ec;
      http::read(socket, buffer, request, ec);
      if (ec) return;
      std::string method(request.method_string());
      std::string target(request.target());
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(method + " " + target);
      }
      FakeReply reply = handler_(method, target);
      http::response<http::string_body> response{static_cast<http::status>(reply.status), 11};
      if (reply.index != 0) response.set("X-Consul-Index", std::to_string(reply.index));
      response.body() = reply.body;
      response.keep_alive(true);
      response.prepare_payload();
      http::write(socket, response, ec);
      if (ec) return;
    }
  }

  Handler handler_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_{ioc_};
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::vector<std::string> requests_;
  std::list<std::shared_ptr<boost::asio::ip::tcp::socket>> sockets_;
  std::vector<std::thread> connection_threads_;
  std::thread accept_thread_;
};

// A /v1/health/service answer with one passing instance per ID, at 10.0.0.<n>:8080.
inline std::string HealthBody(const std::vector<std::string>& ids) {
  std::string body = "[";
  for (std::size_t n = 0; n < ids.size(); ++n) {
    if (n > 0) body += ",";
    body += R"({"Node":{"Node":"n1","Address":"10.0.0.9"},"Service":{"ID":")" + ids[n] +
            R"(","Service":"web","Address":"10.0.0.)" + std::to_string(n + 1) +
            R"(","Port":8080,"Tags":["v1"],"Weights":{"Passing":3,"Warning":1}},)" +
            R"("Checks":[{"Status":"passing"}]})";
  }
  return body + "]";
}

}  // namespace concierge::testing
