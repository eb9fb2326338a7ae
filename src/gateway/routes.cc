#include "gateway/routes.h"

#include <algorithm>
#include <cctype>

namespace concierge::gateway {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool ValidName(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

// "host:port" with a numeric port 0..65535 (0: any free port); an IPv6 host in brackets.
bool ValidListenAddress(std::string_view s) {
  std::size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == s.size()) return false;
  std::string_view port = s.substr(colon + 1);
  if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      })) {
    return false;
  }
  int n = std::stoi(std::string(port));
  return n <= 65535;
}

std::string_view StripPort(std::string_view host) {
  if (host.starts_with('[')) {
    std::size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  std::size_t colon = host.find(':');
  return colon == std::string_view::npos ? host : host.substr(0, colon);
}

}  // namespace

std::string Target::Key() const { return tag.empty() ? service : service + ":" + tag; }

const char* FlagName(RouteKind kind) {
  switch (kind) {
    case RouteKind::kPath:
      return "-route";
    case RouteKind::kHost:
      return "-route-host";
    case RouteKind::kTcp:
      return "-route-tcp";
  }
  return "-route";
}

Result<Route> ParseRoute(RouteKind kind, std::string_view spec) {
  static constexpr const char* kExamples[] = {"/api/=web or /v2/=web:canary", "shop.example=shop",
                                              "127.0.0.1:9000=db"};
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument(std::string(FlagName(kind)) + " \"" + std::string(spec) +
                                   "\": " + why + "; expected PREFIX=SERVICE[:TAG], e.g. " +
                                   kExamples[static_cast<int>(kind)]);
  };
  std::size_t eq = spec.rfind('=');
  if (eq == std::string_view::npos) return bad("no '='");
  Route route;
  route.kind = kind;
  std::string_view match = spec.substr(0, eq);
  std::string_view target = spec.substr(eq + 1);
  std::size_t colon = target.find(':');
  route.target.service = std::string(target.substr(0, colon));
  if (colon != std::string_view::npos) route.target.tag = std::string(target.substr(colon + 1));
  if (!ValidName(route.target.service)) {
    return bad("the service name \"" + route.target.service +
               "\" is empty or has characters other than letters, digits, '-', '_', '.'");
  }
  if (colon != std::string_view::npos && !ValidName(route.target.tag)) {
    return bad("the tag \"" + route.target.tag + "\" after ':' is empty or not a plain name");
  }
  switch (kind) {
    case RouteKind::kPath:
      if (!match.starts_with('/')) return bad("the path prefix must start with '/'");
      if (match.find_first_of("?# ") != std::string_view::npos) {
        return bad("the path prefix must not contain '?', '#' or spaces");
      }
      route.match = std::string(match);
      break;
    case RouteKind::kHost:
      if (match.find(':') != std::string_view::npos) {
        return bad("the host must not have a port (it matches any port)");
      }
      if (!ValidName(match))
        return bad("the host \"" + std::string(match) + "\" is not a host name");
      route.match = Lower(match);
      break;
    case RouteKind::kTcp:
      if (!ValidListenAddress(match)) {
        return bad("the listen address must be host:port with a port from 0 to 65535");
      }
      route.match = std::string(match);
      break;
  }
  return route;
}

Status RouteTable::Add(Route route) {
  for (const Route& r : routes_) {
    if (r.kind == route.kind && r.match == route.match) {
      return Status::InvalidArgument(std::string(FlagName(route.kind)) + " \"" + route.match +
                                     "\" is given twice (to " + r.target.Key() + " and to " +
                                     route.target.Key() + "); keep one");
    }
  }
  routes_.push_back(std::move(route));
  return Status::Ok();
}

const Route* RouteTable::Match(std::string_view host, std::string_view path) const {
  std::string wanted_host = Lower(StripPort(host));
  const Route* best = nullptr;
  for (const Route& r : routes_) {
    if (r.kind == RouteKind::kHost && !wanted_host.empty() && r.match == wanted_host) return &r;
    if (r.kind == RouteKind::kPath && path.starts_with(r.match) &&
        (best == nullptr || r.match.size() > best->match.size())) {
      best = &r;
    }
  }
  return best;
}

std::vector<Target> RouteTable::Targets() const {
  std::vector<Target> out;
  for (const Route& r : routes_) {
    if (std::find(out.begin(), out.end(), r.target) == out.end()) out.push_back(r.target);
  }
  return out;
}

}  // namespace concierge::gateway
