#include "core/model.h"

#include <algorithm>
#include <cctype>

namespace concierge::core {

std::string_view ToString(HealthStatus status) {
  switch (status) {
    case HealthStatus::kPassing:
      return "passing";
    case HealthStatus::kWarning:
      return "warning";
    case HealthStatus::kCritical:
      return "critical";
  }
  return "critical";
}

std::optional<HealthStatus> ParseHealthStatus(std::string_view text) {
  if (text == "passing") return HealthStatus::kPassing;
  if (text == "warning") return HealthStatus::kWarning;
  if (text == "critical") return HealthStatus::kCritical;
  return std::nullopt;
}

std::string_view ToString(CheckKind kind) {
  switch (kind) {
    case CheckKind::kTtl:
      return "ttl";
    case CheckKind::kHttp:
      return "http";
    case CheckKind::kTcp:
      return "tcp";
    case CheckKind::kUdp:
      return "udp";
    case CheckKind::kScript:
      return "script";
    case CheckKind::kAlias:
      return "alias";
    case CheckKind::kGrpc:
      return "grpc";
    case CheckKind::kH2Ping:
      return "h2ping";
    case CheckKind::kOsService:
      return "os_service";
  }
  return "ttl";
}

namespace {

// "host:port", "[v6]:port" or, when `default_port` is set, "host" alone.
Result<HostPort> SplitHostPort(std::string_view text, std::optional<std::uint16_t> default_port,
                               std::string_view what) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(std::string(what) + ": " + std::string(why) + ", got \"" +
                                   std::string(text) + "\"");
  };
  HostPort out;
  std::string_view port_text;
  if (text.starts_with('[')) {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos) return bad("unclosed '[' in the host");
    out.host = std::string(text.substr(1, close - 1));
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("expected ':port' after ']'");
      port_text = rest.substr(1);
      if (port_text.empty()) return bad("empty port");
    }
  } else {
    std::size_t colon = text.rfind(':');
    if (colon != std::string_view::npos) {
      if (text.find(':') != colon) return bad("an IPv6 address must be in brackets");
      out.host = std::string(text.substr(0, colon));
      port_text = text.substr(colon + 1);
      if (port_text.empty()) return bad("empty port");
    } else {
      out.host = std::string(text);
    }
  }
  if (out.host.empty()) return bad("the host is empty");
  for (unsigned char c : out.host) {
    if (c <= 0x20 || c == 0x7f || c == '/' || c == '@' || c == '?' || c == '#') {
      return bad("the host has a character that is not allowed in a host name");
    }
  }
  if (port_text.empty()) {
    if (!default_port) return bad("expected host:port");
    out.port = *default_port;
    return out;
  }
  unsigned port = 0;
  for (char c : port_text) {
    if (c < '0' || c > '9' || port > 65535) return bad("the port must be a number 1..65535");
    port = port * 10 + static_cast<unsigned>(c - '0');
  }
  if (port == 0 || port > 65535) return bad("the port must be a number 1..65535");
  out.port = static_cast<std::uint16_t>(port);
  return out;
}

}  // namespace

Result<HttpUrl> ParseHttpUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.size() >= 8 && (url.substr(0, 8) == "https://" || url.substr(0, 8) == "HTTPS://")) {
    return Status::InvalidArgument(
        "HTTP: https:// checks are not supported (no TLS yet); use "
        "http:// or a TCP check");
  }
  if (url.size() < kScheme.size() ||
      !std::equal(kScheme.begin(), kScheme.end(), url.begin(), [](char a, char b) {
        return a == std::tolower(static_cast<unsigned char>(b));
      })) {
    return Status::InvalidArgument(
        "HTTP: expected a URL like \"http://127.0.0.1:8080/health\", "
        "got \"" +
        std::string(url) + "\"");
  }
  for (unsigned char c : url) {
    if (c <= 0x20 || c == 0x7f) {
      return Status::InvalidArgument("HTTP: the URL must not contain spaces or control characters");
    }
  }
  std::string_view rest = url.substr(kScheme.size());
  std::size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  if (authority.find('@') != std::string_view::npos) {
    return Status::InvalidArgument(
        "HTTP: credentials in the URL are not supported; send an "
        "Authorization header");
  }
  auto host = SplitHostPort(authority, 80, "HTTP");
  if (!host.ok()) return host.status();
  HttpUrl out{std::move(host->host), host->port, "/"};
  if (end != std::string_view::npos) {
    std::string_view target = rest.substr(end);
    target = target.substr(0, target.find('#'));  // the fragment is not sent
    if (!target.empty())
      out.target = target.front() == '/' ? std::string(target) : "/" + std::string(target);
  }
  return out;
}

Result<HostPort> ParseHostPort(std::string_view address, std::string_view what) {
  return SplitHostPort(address, std::nullopt, what);
}

Result<GrpcTarget> ParseGrpcTarget(std::string_view target) {
  std::size_t slash = target.find('/');
  auto address = SplitHostPort(target.substr(0, slash), std::nullopt, "GRPC");
  if (!address.ok()) return address.status();
  GrpcTarget out{std::move(*address), ""};
  if (slash != std::string_view::npos) out.service = std::string(target.substr(slash + 1));
  for (unsigned char c : out.service) {
    if (c <= 0x20 || c == 0x7f) {
      return Status::InvalidArgument(
          "GRPC: the service name must not contain spaces or "
          "control characters, got \"" +
          std::string(target) + "\"");
    }
  }
  return out;
}

bool CheckDefinition::operator==(const CheckDefinition& o) const {
  const bool same_active = active == o.active || (active && o.active && *active == *o.active);
  return id == o.id && name == o.name && notes == o.notes && kind == o.kind && ttl == o.ttl &&
         same_active && deregister_critical_after == o.deregister_critical_after &&
         initial_status == o.initial_status && initial_output == o.initial_output;
}

bool IsMaintenanceCheck(std::string_view check_id) {
  return check_id.starts_with(kServiceMaintenancePrefix) || check_id == kNodeMaintenanceCheckId;
}

HealthStatus Instance::AggregateStatus() const {
  HealthStatus worst = HealthStatus::kPassing;
  for (const Check& c : checks) worst = std::max(worst, c.status);
  return worst;
}

const Check* Instance::FindCheck(std::string_view check_id) const {
  for (const Check& c : checks) {
    if (c.id() == check_id) return &c;
  }
  return nullptr;
}

}  // namespace concierge::core
