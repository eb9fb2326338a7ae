// ACLs over HTTP (docs/acl.md): which token a request carries, what it may do, and Consul's
// /v1/acl/ endpoints (bootstrap, policies, tokens). The rules themselves are core's
// (core/acl.h); this is where secrets are hashed (SHA-256, OpenSSL) and compared in constant
// time, and where each endpoint's required right is decided, in one table.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "core/acl.h"
#include "http/consul_json.h"
#include "http/heartbeat_batch.h"
#include "http/message.h"
#include "http/routes.h"
#include "server/registry.h"
#include "server/state_loop.h"

namespace concierge::http {

// The token a request carries: ?token=, else X-Consul-Token, else "Authorization: Bearer",
// in Consul's order. Empty if none.
std::string_view RequestToken(const Request& req);
// SHA-256 of a SecretID (32 raw bytes).
std::string HashSecret(std::string_view secret);
// A random (version 4) UUID, for IDs and secrets.
std::string NewUuid();

// Consul's rules in their JSON form (the policy's "Rules" string), to and from core's rules.
// HCL is refused with a message that says so.
Result<core::AclRules> DecodeRules(std::string_view text);
std::string EncodeRules(const core::AclRules& rules);

class AclApi {
 public:
  AclApi(server::Registry& registry, server::StateLoop& state, bool enabled, NodeInfo node);

  bool enabled() const { return enabled_; }

  // The authorizer of the request's token: allow-all when ACLs are off, the anonymous
  // token's without a token, 403 "ACL not found" for a secret no token has.
  Result<std::shared_ptr<const core::AclAuthorizer>> Resolve(const Request& req) const;
  Result<std::shared_ptr<const core::AclAuthorizer>> ResolveSecret(std::string_view secret) const;

  // PUT /v1/concierge/heartbeats: for each entry, ok or why its token (the entry's, else the
  // request's) may not heartbeat that check (service:write on its service). Unknown checks
  // are ok here (the handler answers them 404). One hop to the state thread per batch.
  boost::asio::awaitable<std::vector<Status>> AuthorizeHeartbeats(
      const Request& req, const std::vector<HeartbeatEntry>& entries);

  // The right the request's route needs (Route::acl, http/routes.h), checked against req.acl
  // (set by Resolve): ok, or 403 with the missing right. Lists (catalog, health, agent
  // services) are filtered by their handlers instead; registrations are checked once their
  // body is decoded (RequireServiceWrite).
  boost::asio::awaitable<Status> Authorize(const Request& req, const RouteMatch& match);

  // Registering `name` (and, when the ID exists under another name, that one too).
  Status RequireServiceWrite(const Request& req, std::string_view service_id,
                             std::string_view name) const;
  // The token may see entries of this service (and, with `node`, the node they live on).
  bool CanRead(const Request& req, std::string_view service, bool node) const;

  // The /v1/acl/... endpoints (Endpoint::kAcl*).
  boost::asio::awaitable<Response> Handle(Request& req, const RouteMatch& match);

 private:
  using Awaitable = boost::asio::awaitable<Response>;
  Awaitable Bootstrap();
  Awaitable PolicyWrite(Request& req, std::string id);
  Awaitable TokenWrite(Request& req, std::string accessor_id);
  Awaitable Delete(core::Command command);
  Response PolicyRead(const core::AclPolicy* policy) const;
  // With `secret` (creation only), the SecretID too.
  Response TokenRead(const core::AclToken* token, std::string_view secret = {}) const;
  Response Policies() const;
  Response Tokens() const;
  // The service a check belongs to, from its conventional ID ("service:<ID>") or the catalog.
  boost::asio::awaitable<std::optional<std::string>> ServiceOfCheck(std::string check_id);

  server::Registry& registry_;
  server::StateLoop& state_;
  bool enabled_;
  NodeInfo node_;
};

}  // namespace concierge::http
