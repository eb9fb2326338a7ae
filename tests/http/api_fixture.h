// ConsulApi over a real Registry (on a fake clock) and its StateLoop, without sockets: the
// fixture the API tests share. A request runs to its answer on an I/O context of the test's.
#pragma once

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <string>
#include <utility>
#include <vector>

#include "http/consul_api.h"
#include "server/clock.h"

namespace concierge::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

class ApiFixture : public ::testing::Test {
 protected:
  explicit ApiFixture(ApiOptions options = TestOptions()) : api_{registry_, state_, hub_, options} {
    spdlog::set_level(spdlog::level::off);
    state_.Start();
  }
  ~ApiFixture() override { state_.Stop(); }

  static ApiOptions TestOptions() {
    ApiOptions options;
    options.node = {"1", "node-1", "127.0.0.1", "dc1"};
    options.version = "test";
    options.http_address = "127.0.0.1:8500";
    return options;
  }

  // A request from 127.0.0.1 as the HTTP server hands it over (path and query split).
  static Request MakeRequest(std::string method, std::string target, std::string body = "",
                             Headers headers = {}) {
    Request req;
    req.method = std::move(method);
    std::size_t q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) req.query = *ParseQuery(target.substr(q + 1));
    req.target = std::move(target);
    req.body = std::move(body);
    req.headers = std::move(headers);
    req.remote_address = "127.0.0.1";
    return req;
  }

  // Runs `req` through `api` on `ctx` until it is answered.
  static Response Run(ConsulApi& api, Request& req, boost::asio::io_context& ctx) {
    auto future = boost::asio::co_spawn(
        ctx, [&]() -> boost::asio::awaitable<Response> { co_return co_await api.Handle(req); },
        boost::asio::use_future);
    ctx.restart();
    ctx.run();
    return future.get();
  }

  server::FakeClock clock_;
  server::Metrics metrics_;
  server::WatchHub hub_;
  server::Registry registry_{clock_, server::RegistryOptions{}, &hub_, metrics_};
  server::StateLoop state_{registry_};
  ConsulApi api_;
};

}  // namespace concierge::http
