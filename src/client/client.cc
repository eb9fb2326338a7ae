#include "concierge/client.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>

#include "client/http_client.h"
#include "client/wire.h"
#include "tls/context.h"

namespace concierge {
namespace {

class RealClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
};

std::string Refused(const client::Response& r) {
  std::string body = r.body.substr(0, 500);
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  return "registry answered " + std::to_string(r.status) + (body.empty() ? "" : ": " + body);
}

}  // namespace

const Clock* Clock::Real() {
  static const RealClock clock;
  return &clock;
}

std::string ServiceRegistration::InstanceId() const { return id.empty() ? name : id; }
std::string ServiceRegistration::CheckId() const { return "service:" + InstanceId(); }

const char* ToString(HealthStatus status) {
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

std::string Instance::Endpoint() const {
  if (address.find(':') != std::string::npos) {
    return "[" + address + "]:" + std::to_string(port);
  }
  return address + ":" + std::to_string(port);
}

bool operator==(const Instance& a, const Instance& b) {
  return a.id == b.id && a.service == b.service && a.node == b.node && a.address == b.address &&
         a.port == b.port && a.tags == b.tags && a.meta == b.meta &&
         a.weights.passing == b.weights.passing && a.weights.warning == b.weights.warning &&
         a.health == b.health;
}

struct Client::Impl {
  struct Server {
    std::string address;
    std::mutex mutex;
    std::vector<std::unique_ptr<client::HttpClient>> idle;
  };

  ClientOptions options;
  std::vector<std::unique_ptr<Server>> servers;
  std::atomic<std::size_t> preferred{0};
  std::mutex in_flight_mutex;
  std::set<client::HttpClient*> in_flight;
  bool shut_down = false;                                  // guarded by in_flight_mutex
  std::shared_ptr<boost::asio::ssl::context> tls_context;  // shared by every connection

  // A connection to server `i`, kept-alive if one is idle.
  Result<std::unique_ptr<client::HttpClient>> Take(Server& server) {
    {
      std::lock_guard lock(server.mutex);
      if (!server.idle.empty()) {
        auto c = std::move(server.idle.back());
        server.idle.pop_back();
        return c;
      }
    }
    client::HttpClientOptions http_options;
    http_options.connect_timeout = options.connect_timeout;
    http_options.read_timeout = options.request_timeout;
    http_options.tls = options.tls;
    http_options.tls_context = tls_context;
    http_options.token = options.token;
    Result<client::HttpClient> c = client::HttpClient::Open(server.address, http_options);
    if (!c.ok()) return c.status();
    return std::make_unique<client::HttpClient>(std::move(c).value());
  }

  // Sends to the preferred server, then to each other one, until one answers below 500.
  Result<client::Response> Call(std::string_view method, const std::string& target,
                                std::string_view body, Duration extra_timeout = {}) {
    std::string errors;
    std::size_t start = preferred.load();
    for (std::size_t k = 0; k < servers.size(); ++k) {
      std::size_t i = (start + k) % servers.size();
      Server& server = *servers[i];
      Result<std::unique_ptr<client::HttpClient>> taken = Take(server);
      if (!taken.ok()) return taken.status();
      std::unique_ptr<client::HttpClient> c = std::move(taken).value();
      {
        std::lock_guard lock(in_flight_mutex);
        if (shut_down) return Status::Unavailable("the client is shut down");
        in_flight.insert(c.get());
      }
      Result<client::Response> r =
          c->Send(method, target, body, options.request_timeout + extra_timeout);
      {
        std::lock_guard lock(in_flight_mutex);
        in_flight.erase(c.get());
        if (shut_down) return Status::Unavailable("the client is shut down");
      }
      if (r.ok() && r->status < 500) {
        {
          std::lock_guard lock(server.mutex);
          server.idle.push_back(std::move(c));
        }
        preferred.store(i);
        return r;
      }
      if (!errors.empty()) errors += "; ";
      errors += r.ok() ? server.address + ": " + Refused(*r) : r.status().message();
    }
    return Status::Unavailable(servers.size() > 1 ? "no registry answered: " + errors : errors);
  }
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Client::~Client() { Shutdown(); }

Result<std::unique_ptr<Client>> Client::Open(ClientOptions options) {
  if (options.addresses.empty()) {
    return Status::InvalidArgument("no registry address: give at least one host:port");
  }
  auto impl = std::make_unique<Impl>();
  for (const std::string& address : options.addresses) {
    Result<client::HostPort> parsed = client::ParseHostPort(address);
    if (!parsed.ok()) return parsed.status();
    auto server = std::make_unique<Impl::Server>();
    server->address = address;
    impl->servers.push_back(std::move(server));
  }
  if (options.tls.enabled) {
    auto ctx = tls::ClientContext(options.tls);
    if (!ctx.ok()) return ctx.status();
    impl->tls_context = std::move(ctx).value();
  }
  impl->options = std::move(options);
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Status Client::Register(const ServiceRegistration& registration) {
  if (registration.name.empty()) {
    return Status::InvalidArgument("ServiceRegistration.name is empty: name the service");
  }
  Result<client::Response> r =
      impl_->Call("PUT", "/v1/agent/service/register", client::EncodeRegistration(registration));
  if (!r.ok()) return r.status();
  if (r->status >= 300) {
    return Status::InvalidArgument("registering " + registration.InstanceId() + ": " + Refused(*r));
  }
  return Status::Ok();
}

Status Client::Deregister(std::string_view instance_id) {
  Result<client::Response> r = impl_->Call("PUT", client::DeregisterTarget(instance_id), {});
  if (!r.ok()) return r.status();
  if (r->status >= 300 && r->status != 404) {
    return Status::InvalidArgument("deregistering " + std::string(instance_id) + ": " +
                                   Refused(*r));
  }
  return Status::Ok();
}

Status Client::UpdateCheck(std::string_view check_id, HealthStatus status, std::string_view note) {
  Result<client::Response> r = impl_->Call("PUT", client::CheckTarget(check_id, status, note), {});
  if (!r.ok()) return r.status();
  if (r->status == 404)
    return Status::NotFound("check " + std::string(check_id) + ": " + Refused(*r));
  if (r->status >= 300) {
    return Status::InvalidArgument("check " + std::string(check_id) + ": " + Refused(*r));
  }
  return Status::Ok();
}

Result<HealthAnswer> Client::Health(std::string_view service, const HealthQuery& query) {
  if (service.empty()) return Status::InvalidArgument("Health: the service name is empty");
  // The registry may hold a blocking query for wait plus wait/16 of jitter.
  Duration extra = query.index > 0 ? query.wait + query.wait / 16 : Duration::zero();
  Result<client::Response> r = impl_->Call("GET", client::HealthTarget(service, query), {}, extra);
  if (!r.ok()) return r.status();
  if (r->status >= 300) {
    return Status::InvalidArgument("health of " + std::string(service) + ": " + Refused(*r));
  }
  std::optional<std::uint64_t> index = client::ParseIndex(r->Header("X-Consul-Index"));
  if (!index) {
    return Status::Internal("the answer of " + preferred_address() +
                            " has no numeric X-Consul-Index header; is it a Concierge or "
                            "Consul registry?");
  }
  Result<std::vector<Instance>> instances = client::DecodeHealth(r->body);
  if (!instances.ok()) return instances.status();
  return HealthAnswer{std::move(instances).value(), *index, preferred_address()};
}

Result<ServiceDelta> Client::Delta(std::string_view service, const DeltaQuery& query) {
  if (service.empty()) return Status::InvalidArgument("Delta: the service name is empty");
  Duration extra = query.index > 0 ? query.wait + query.wait / 16 : Duration::zero();
  Result<client::Response> r = impl_->Call("GET", client::DeltaTarget(service, query), {}, extra);
  if (!r.ok()) return r.status();
  if (r->status == 404 || r->status == 405) {
    return Status::NotFound(preferred_address() + " does not serve deltas: " + Refused(*r));
  }
  if (r->status == 403) {
    return Status::PermissionDenied("delta of " + std::string(service) + ": " + Refused(*r));
  }
  if (r->status >= 300) {
    return Status::InvalidArgument("delta of " + std::string(service) + ": " + Refused(*r));
  }
  Result<ServiceDelta> delta = client::DecodeDelta(r->body);
  if (!delta.ok()) return delta.status();
  delta->address = preferred_address();
  return delta;
}

void Client::Shutdown() {
  std::lock_guard lock(impl_->in_flight_mutex);
  impl_->shut_down = true;
  for (client::HttpClient* c : impl_->in_flight) c->Shutdown();
}

const ClientOptions& Client::options() const { return impl_->options; }

std::string Client::preferred_address() const {
  return impl_->servers[impl_->preferred.load()]->address;
}

}  // namespace concierge
