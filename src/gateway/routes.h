// Copyright: the Concierge authors.
//
// The gateway's route table: which service (and optionally which tag) a request or a TCP
// connection goes to. Routes are given on the command line as PREFIX=SERVICE[:TAG]:
//
//   -route /api/=web                 path prefix /api/ -> healthy instances of "web"
//   -route /v2/=web:canary           ... of "web" tagged "canary"
//   -route-host shop.example=shop    Host header shop.example -> "shop"
//   -route-tcp 127.0.0.1:9000=db     a TCP listener on 127.0.0.1:9000 -> "db"
//
// Matching: a Host route wins over path routes (host compared without its port, case
// folded); among path routes the longest matching prefix wins.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "concierge/status.h"

namespace concierge::gateway {

// Where a route sends traffic: a service, optionally only its instances with one tag.
struct Target {
  std::string service{};
  std::string tag{};  // empty: any instance
  // "service" or "service:tag"; one Watcher per distinct key.
  std::string Key() const;
  friend bool operator==(const Target&, const Target&) = default;
};

enum class RouteKind { kPath, kHost, kTcp };

struct Route {
  RouteKind kind = RouteKind::kPath;
  // kPath: a prefix starting with '/'; kHost: a lower-case host name without port;
  // kTcp: the "host:port" to listen on.
  std::string match{};
  Target target{};
};

// Parses "PREFIX=SERVICE[:TAG]" for one kind. Errors name the flag and the expected shape.
Result<Route> ParseRoute(RouteKind kind, std::string_view spec);

// The name of the flag a kind comes from ("-route", "-route-host", "-route-tcp").
const char* FlagName(RouteKind kind);

class RouteTable {
 public:
  // Adds a route; two routes with the same kind and match are an error.
  Status Add(Route route);

  // The route for an HTTP request, or nullptr. `host` is the Host header as sent (a port
  // and upper case are allowed); `path` the request target (a query is allowed).
  const Route* Match(std::string_view host, std::string_view path) const;

  // Every route, in the order added.
  const std::vector<Route>& routes() const { return routes_; }
  // The distinct targets of every route, in the order first seen.
  std::vector<Target> Targets() const;

 private:
  std::vector<Route> routes_;
};

}  // namespace concierge::gateway
