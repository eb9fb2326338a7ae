// Eureka's REST API (/eureka/ and /eureka/v2/, docs/eureka.md) over the registry: the same
// instances Consul's API shows, as Eureka 1.x clients expect them. Mapping and encoding are
// http/eureka.h's; this is the handlers and the shared view that GET /apps and /apps/delta
// answer from.
#pragma once

#include <array>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "http/acl_api.h"
#include "http/eureka.h"
#include "http/message.h"
#include "http/routes.h"
#include "server/registry.h"
#include "server/state_loop.h"

namespace concierge::http {

// The registry as Eureka clients see it, rebuilt when the registry's index moves (renewals
// do not move it), and the changes of the last kDeltaWindow for GET /apps/delta. Encoded once
// per change and format and shared by every request. Any thread.
class EurekaView {
 public:
  static constexpr std::chrono::minutes kDeltaWindow{3};

  struct Snapshot {
    core::Index index = 0;
    std::vector<EurekaApp> apps;   // by app name; instances by ID; the lease not expired
    std::vector<EurekaApp> delta;  // what changed within the window, in order, by app
    std::string hashcode;          // apps__hashcode of `apps`
    // The bodies of GET /apps and /apps/delta, made at the first request that wants them.
    std::shared_ptr<const std::string> Body(bool delta, EurekaFormat format, bool gzip) const;

   private:
    mutable std::mutex mu_;
    mutable std::array<std::shared_ptr<const std::string>, 8> bodies_;
  };

  explicit EurekaView(const server::Registry& registry) : registry_(registry) {}
  // The view as of `now` (the registry's steady time: the delta window).
  std::shared_ptr<const Snapshot> Current(core::Time now);

 private:
  struct Service {
    core::Index index = 0;
    std::vector<InstancePtr> visible;  // by ID
  };
  struct Change {
    core::Time at;
    InstancePtr instance;
    ActionType action;
  };
  void Diff(const std::vector<InstancePtr>& before, const std::vector<InstancePtr>& after,
            core::Time now);

  const server::Registry& registry_;
  std::mutex mu_;
  std::map<std::string, Service, std::less<>> services_;
  std::deque<Change> changes_;
  // The encodings of the records in the current registry, by record.
  std::unordered_map<const core::Instance*, std::shared_ptr<const EncodedInstance>> encoded_;
  std::shared_ptr<const Snapshot> current_;
};

class EurekaApi {
 public:
  EurekaApi(server::Registry& registry, server::StateLoop& state, AclApi& acl,
            std::size_t max_instances);

  // The request's route is one of the Eureka endpoints (Endpoint::kEureka*).
  boost::asio::awaitable<Response> Handle(Request& req, const RouteMatch& match);

 private:
  using Awaitable = boost::asio::awaitable<Response>;
  Awaitable Register(Request& req, std::string_view app);
  Awaitable Renew(Request& req, std::string_view app, std::string_view id);
  Awaitable Cancel(std::string_view app, std::string_view id);
  Awaitable Override(Request& req, std::string_view app, std::string_view id, bool remove);
  Awaitable Metadata(Request& req, std::string_view app, std::string_view id);
  Response Apps(const Request& req, bool delta);
  Response App(const Request& req, std::string_view app);
  // `app` empty: /instances/{id}, any app.
  Response Instance(const Request& req, std::string_view app, std::string_view id);
  Response Vip(const Request& req, std::string_view vip, bool secure);
  // Instance `id` of `app` (any app when empty) whose lease has not expired, or null.
  InstancePtr Find(std::string_view app, std::string_view id) const;
  // Applies `commands` in order; the first error, if any.
  boost::asio::awaitable<Status> Apply(std::vector<core::Command> commands);
  // 200 with `body` in the request's format, gzipped when the client takes it.
  static Response Reply(const Request& req, std::string body, EurekaFormat format);

  server::Registry& registry_;
  server::StateLoop& state_;
  AclApi& acl_;
  std::size_t max_instances_;
  EurekaView view_;
};

}  // namespace concierge::http
