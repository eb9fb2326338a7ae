// libFuzzer target: raw bytes as one or more pipelined HTTP/1.1 requests, through what a
// connection does in the agent, without the socket: Beast's request parser with the
// server's limits (header first, then the body limit of the route), the conversion to the
// handlers' Request (http/beast_request.h), and ConsulApi::Handle against a fresh in-memory
// registry and state loop (no Raft). So every request-body decoder is reachable through the
// router: registration, check update, heartbeat batch, maintenance, snapshot restore; the
// join body (cluster members) is decoded as ClusterApi does it.
//
// Invariants: nothing crashes or leaks (ASan, UBSan), no answer is a 5xx other than the 501
// of an unsupported Consul feature, and every error carries a message.
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "cluster/members.h"
#include "http/beast_request.h"
#include "http/consul_api.h"
#include "server/clock.h"
#include "server/registry.h"
#include "server/state_loop.h"
#include "server/watch_hub.h"

namespace {

using namespace concierge;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

// As http::ServerOptions has it; the body limit is the route's (ConsulApi::Admit).
constexpr std::size_t kHeaderLimit = 16 << 10;

void Check(bool ok) {
  if (!ok) std::abort();
}

// Gives the parser input until `done()`; the input ends the connection (EOF), so needing
// more than there is is an error.
template <typename Done>
void Feed(bhttp::request_parser<bhttp::string_body>& parser, asio::const_buffer& input,
          beast::error_code& ec, Done done) {
  while (!ec && !done()) {
    std::size_t used = input.size() == 0 ? 0 : parser.put(input, ec);
    input += used;
    if (ec == bhttp::error::need_more) ec = {};
    if (!ec && used == 0) {
      parser.put_eof(ec);
      if (!ec && !done()) ec = bhttp::error::partial_message;
    }
  }
}

asio::awaitable<void> Handle(http::ConsulApi& api, http::Request& req, http::Response* out) {
  *out = co_await api.Handle(req);
}

// What ClusterApi::Join decodes, with its own parser.
void DecodeJoin(std::string_view body) { (void)cluster::DecodeJoinRequest(body); }

struct World {
  server::FakeClock clock;
  server::Metrics metrics;
  server::WatchHub hub;
  server::Registry registry{clock, server::RegistryOptions{}, &hub, metrics};
  server::StateLoop state{registry};
  http::ConsulApi api{registry, state, hub, Options()};

  World() { state.Start(); }
  ~World() { state.Stop(); }

  static http::ApiOptions Options() {
    http::ApiOptions options;
    options.node = {"fuzz-node-id", "fuzz-node", "10.0.0.1", "dc1"};
    options.version = "fuzz";
    // Blocking queries answer at once: the fuzzer must not wait.
    options.default_wait = std::chrono::milliseconds(0);
    options.max_wait = std::chrono::milliseconds(0);
    options.max_instances = 64;
    options.http_address = "10.0.0.1:8500";
    return options;
  }
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  World world;
  asio::io_context ctx;
  asio::const_buffer input(data, size);
  // One connection: requests until the input ends or one is malformed (then it would close).
  for (int n = 0; n < 64 && input.size() > 0; ++n) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    beast::error_code ec;
    // The header first, then the route's admission, then the body: as the server reads them.
    Feed(parser, input, ec, [&] { return parser.is_header_done(); });
    if (ec) break;  // the server answers 400/431 and closes
    std::optional<http::Response> early;
    http::Request req = http::ToRequest(parser.get(), "10.0.0.9", &early);
    if (early) break;  // answered, and the connection closed
    http::Admission admission = world.api.Admit(req);
    if (admission.refuse) break;
    parser.body_limit(admission.body_limit);
    if (parser.content_length().value_or(0) > admission.body_limit) break;  // 413, closed
    Feed(parser, input, ec, [&] { return parser.is_done(); });
    if (ec) break;  // the server answers 400/413 and closes
    req.body = std::move(parser.get().body());

    http::Response response;
    {
      if (req.path == "/v1/concierge/join") DecodeJoin(req.body);
      asio::co_spawn(ctx, Handle(world.api, req, &response), asio::detached);
      ctx.run();
      ctx.restart();
    }
    Check(response.status >= 100 && response.status < 600);
    Check(response.status < 500 || response.status == 501);
    if (response.status >= 400) Check(!response.body.empty());
    if (!parser.get().keep_alive()) break;
  }
  return 0;
}
