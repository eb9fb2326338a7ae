// Copyright: the Concierge authors.
//
// Server-side discovery: a reverse proxy that callers reach at one address and that
// forwards each HTTP request (L7) or TCP connection (L4) to a healthy instance of the
// routed service, as the registry reports it now.
//
//   RouteTable routes;  routes.Add(*ParseRoute(RouteKind::kPath, "/api/=web"));
//   Gateway gateway(std::move(client), std::move(routes), {.listen = "127.0.0.1:8080"});
//   Status s = gateway.Start();    // watchers answered once, listeners bound, threads run
//   ...
//   gateway.Stop();
//
// Instances: one Watcher (blocking queries, so changes arrive within milliseconds) and one
// Balancer per routed service/tag. A request holds a copy of the instance it was sent to,
// so a registry change never cuts a request in flight. An instance that refuses a
// connection, or fails one mid-request, is ejected locally (Balancer outlier detection)
// before the registry notices.
//
// HTTP: keep-alive from callers and to instances (an idle pool per instance and worker
// thread); X-Forwarded-For; idempotent requests are retried on another instance when a
// connection fails; 404 without a route, 503 without a healthy instance, 502 when every
// attempt failed, 504 on an upstream timeout, each with a body that says why; 400 for a
// malformed request, 431 for a head over 8 KiB, 413 for a body over body_limit.
//
// Hot path: each caller connection reads into one buffer it keeps, parses the head in place
// (http1.h), writes the instance's request head once and sends head and body in one write;
// the answer is read into a second kept buffer and sent back the same way. One deadline per
// connection (a time stored per phase, one lazily re-armed timer) replaces a timer per read
// and write: client_timeout for reading a request and writing its answer, connect_timeout,
// upstream_timeout for the instance's answer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "concierge/balancer.h"
#include "concierge/client.h"
#include "concierge/status.h"
#include "gateway/routes.h"

namespace boost::asio::ssl {
class context;
}

namespace concierge::gateway {

struct GatewayOptions {
  std::string listen = "127.0.0.1:8080";  // HTTP listener (only when there are HTTP routes)
  int workers = 1;                        // threads, one io_context each
  Policy policy = Policy::kRoundRobin;
  Duration connect_timeout = std::chrono::seconds(2);
  Duration upstream_timeout = std::chrono::seconds(30);  // sending a request, reading its answer
  Duration client_timeout = std::chrono::seconds(60);    // reading a request; idle keep-alive
  int attempts = 3;  // instances tried per idempotent request (and per TCP connection)
  Duration ejection = std::chrono::seconds(10);  // first local ejection after a failure
  std::size_t body_limit = 64 * 1024 * 1024;     // request and response bodies
  std::size_t idle_per_instance = 256;           // idle upstream connections kept per thread
  // HTTPS on the HTTP listener when set (tls/context.h ServerContext); plain HTTP there is
  // answered 400 and closed.
  std::shared_ptr<boost::asio::ssl::context> tls;
};

class Gateway {
 public:
  Gateway(std::unique_ptr<Client> client, RouteTable routes, GatewayOptions options);
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;
  ~Gateway();  // Stop()

  // Starts a Watcher per target (their first answers may fail: they keep retrying), binds
  // the HTTP listener and every TCP route's listener, then runs the worker threads. An
  // error names the address that could not be bound.
  Status Start();
  // Closes the listeners, ends every connection and joins the threads. Idempotent.
  void Stop();

  // The bound HTTP port (0 without HTTP routes); the TCP routes' bound "host:port" in order.
  std::uint16_t http_port() const;
  std::vector<std::string> tcp_listeners() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace concierge::gateway
