#include "http/consul_api.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <random>

#include "http/gzip.h"
#include "http/heartbeat_batch.h"
#include "http/maintenance_api.h"
#include "http/metrics_api.h"
#include "http/monitor_api.h"
#include "http/ui.h"
#include "server/metrics.h"

namespace concierge::http {

namespace asio = boost::asio;
using core::HealthStatus;

namespace {

// "?passing", "?passing=true", "?passing=1" filter; "?passing=false" or "=0" does not.
bool Truthy(std::optional<std::string_view> v) { return v && *v != "false" && *v != "0"; }

bool HasTags(const core::Instance& inst, const std::vector<std::string_view>& tags) {
  for (std::string_view want : tags) {
    bool found = false;
    for (const core::Symbol& t : inst.service.tags) found |= t == want;
    if (!found) return false;
  }
  return true;
}

bool AllPassing(const core::Instance& inst) {
  return inst.AggregateStatus() == HealthStatus::kPassing;
}

}  // namespace

ConsulApi::ConsulApi(server::Registry& registry, server::StateLoop& state, server::WatchHub& hub,
                     ApiOptions options)
    : registry_(registry),
      state_(state),
      hub_(hub),
      options_(std::move(options)),
      acl_(registry, state, options_.acl_enabled, options_.node),
      eureka_(registry, state, acl_, options_.max_instances) {}

server::ClusterInfo ConsulApi::Cluster() const {
  if (options_.cluster) return options_.cluster();
  return {true, options_.http_address, {options_.http_address}};
}

Response ConsulApi::WithIndex(Response r, core::Index index) const {
  r.headers.emplace_back("X-Consul-Index", std::to_string(std::max<core::Index>(1, index)));
  server::ClusterInfo cluster = Cluster();
  r.headers.emplace_back("X-Consul-KnownLeader", cluster.known_leader ? "true" : "false");
  r.headers.emplace_back("X-Consul-LastContact", std::to_string(cluster.last_contact_ms));
  return r;
}

asio::awaitable<Response> ConsulApi::Handle(Request& req) {
  const auto started = std::chrono::steady_clock::now();
  const RouteMatch match = MatchRoute(req.method, req.path);
  Response response = co_await Route(req, match);
  MaybeGzip(req, response);
  registry_.metrics().ObserveRequest(MetricsSlot(match.route), response.status,
                                     std::chrono::steady_clock::now() - started);
  co_return response;
}

Admission ConsulApi::Admit(const Request& head) const {
  const RouteMatch match = MatchRoute(head.method, head.path);
  if (match.route == nullptr || MethodBit(head.method) == kGet) return {kNoBodyLimit, {}};
  switch (match.route->body) {
    case BodyLimit::kNone:
      return {kNoBodyLimit, {}};
    case BodyLimit::kJson:
      return {options_.body_limit, {}};
    case BodyLimit::kBackup:
      break;
  }
  // A backup may be a gigabyte: read it only for a token that may restore one.
  auto authorizer = acl_.Resolve(head);
  Status allowed = authorizer.ok()
                       ? (*authorizer)->RequireAcl(core::AclAuthorizer::Permission::kWrite)
                       : authorizer.status();
  if (!allowed.ok()) return {0, FromStatus(allowed)};
  return {options_.backup_body_limit, {}};
}

asio::awaitable<Response> ConsulApi::Route(Request& req, const RouteMatch& match) {
  if (match.route == nullptr) co_return Unrouted(req, match);
  const http::Route& route = *match.route;
  if ((MethodBit(req.method) & route.legacy) && !options_.legacy_methods) {
    co_return Unrouted(req, {nullptr, {}, route.methods});
  }
  if (Status st = CheckBrowser(req, route); !st.ok()) co_return FromStatus(st);
  if (route.acl != AclScope::kNone) {
    // One authorizer per request, from its token; then the route's right (docs/acl.md).
    auto authorizer = acl_.Resolve(req);
    if (!authorizer.ok()) co_return FromStatus(authorizer.status());
    req.acl = std::move(*authorizer);
    if (Status st = co_await acl_.Authorize(req, match); !st.ok()) co_return FromStatus(st);
  }
  if (options_.forward) {
    std::optional<Response> answer = co_await options_.forward(req, match);
    if (answer) co_return std::move(*answer);
  }
  if (req.Has("filter") && !route.Writes(MethodBit(req.method))) {
    co_return Response::Error(501,
                              "the filter query parameter is not supported; use ?tag= and "
                              "?passing");
  }
  co_return co_await Dispatch(req, match);
}

Response ConsulApi::Unrouted(const Request& req, const RouteMatch& match) const {
  if (match.allowed == 0) return Response::Error(404, "no such endpoint: " + req.path);
  Response r = req.method == "OPTIONS"
                   ? Response{200, "text/plain; charset=utf-8", {}, {}}
                   : Response::Error(405, "method " + req.method + " not allowed");
  r.headers.emplace_back("Allow", AllowHeader(match.allowed));
  return r;
}

Status ConsulApi::CheckBrowser(const Request& req, const http::Route& route) const {
  const Methods method = MethodBit(req.method);
  if (!route.Writes(method)) return Status::Ok();
  // Browsers mark what they send (Sec-Fetch-Site, Origin); other clients send neither.
  std::optional<std::string_view> site = req.Header("Sec-Fetch-Site");
  std::optional<std::string_view> origin = req.Header("Origin");
  if (!site && !origin) return Status::Ok();
  if (method & route.legacy) {
    return Status::PermissionDenied(req.method + " " + req.path +
                                    " from a web page: a write "
                                    "takes PUT (GET is accepted only from older API clients)");
  }
  bool allowed = false;
  if (origin) {
    std::optional<std::string_view> host = req.Header("Host");
    for (std::string_view scheme : {"http://", "https://"}) {
      allowed |= host && origin->size() == scheme.size() + host->size() &&
                 origin->starts_with(scheme) && origin->ends_with(*host);
    }
    for (const std::string& o : options_.allowed_origins) allowed |= *origin == o;
  } else {
    allowed = *site == "same-origin" || *site == "none";
  }
  if (allowed) return Status::Ok();
  return Status::PermissionDenied("refused a write from another site's web page (Origin " +
                                  std::string(origin.value_or("unknown")) +
                                  "); to allow a UI hosted elsewhere, start the "
                                  "agent with -http-allowed-origins");
}

asio::awaitable<Response> ConsulApi::Dispatch(Request& req, const RouteMatch& match) {
  const std::string_view param = match.param();
  switch (match.route->endpoint) {
    case Endpoint::kCheckPass:
      co_return co_await CheckStatus(req, param, HealthStatus::kPassing);
    case Endpoint::kCheckWarn:
      co_return co_await CheckStatus(req, param, HealthStatus::kWarning);
    case Endpoint::kCheckFail:
      co_return co_await CheckStatus(req, param, HealthStatus::kCritical);
    case Endpoint::kCheckUpdate:
      co_return co_await CheckUpdate(req, param);
    case Endpoint::kHeartbeatBatch:
      co_return co_await HeartbeatBatch(req);
    case Endpoint::kRegister:
      co_return co_await Register(req);
    case Endpoint::kEurekaApps:
    case Endpoint::kEurekaDelta:
    case Endpoint::kEurekaApp:
    case Endpoint::kEurekaRegister:
    case Endpoint::kEurekaInstance:
    case Endpoint::kEurekaRenew:
    case Endpoint::kEurekaCancel:
    case Endpoint::kEurekaStatus:
    case Endpoint::kEurekaMetadata:
    case Endpoint::kEurekaInstanceById:
    case Endpoint::kEurekaVip:
    case Endpoint::kEurekaSecureVip:
      co_return co_await eureka_.Handle(req, match);
    case Endpoint::kDeregister:
      co_return co_await Deregister(param);
    case Endpoint::kServiceMaintenance:
    case Endpoint::kNodeMaintenance: {
      auto cmd = DecodeMaintenance(req, std::string(param));
      if (!cmd.ok()) co_return FromStatus(cmd.status());
      core::Command command = std::move(*cmd);
      co_return co_await Submit(std::move(command));
    }
    case Endpoint::kAgentService:
      co_return co_await BlockOnHash(req, [&] { return AgentService(param); });
    case Endpoint::kAgentServices:
      co_return co_await BlockOnHash(req, [&] { return AgentServices(req); });
    case Endpoint::kAgentChecks:
      co_return co_await BlockOnHash(req, [&] { return AgentChecks(req); });
    case Endpoint::kAgentSelf:
      co_return AgentSelf();
    case Endpoint::kAgentMetrics:
      co_return AgentMetrics(req, registry_, hub_);
    case Endpoint::kAgentMonitor:
      co_return co_await AgentMonitor(req, options_.monitor);
    case Endpoint::kHealthService:
      co_return co_await HealthService(req, param);
    case Endpoint::kServiceDelta:
      co_return co_await ServiceDelta(req, param);
    case Endpoint::kHealthChecks:
      co_return co_await HealthChecks(req, param);
    case Endpoint::kHealthState:
      co_return co_await HealthState(req, param);
    case Endpoint::kHealthNode:
      co_return co_await HealthNode(req, param);
    case Endpoint::kCatalogServices:
      co_return co_await CatalogServices(req);
    case Endpoint::kCatalogService:
      co_return co_await CatalogService(req, param);
    case Endpoint::kCatalogNodes:
      co_return co_await CatalogNodes(req);
    case Endpoint::kCatalogNode:
      co_return co_await CatalogNode(req, param);
    case Endpoint::kCatalogDatacenters:
      co_return WithIndex(Response::Json("[" + EncodeString(options_.node.datacenter) + "]"),
                          registry_.index());
    case Endpoint::kStatusLeader:
      // Consul answers "" while there is no leader.
      co_return WithIndex(Response::Json(EncodeString(Cluster().leader)), registry_.index());
    case Endpoint::kStatusPeers:
      co_return StatusPeers();
    case Endpoint::kSnapshotSave:
      co_return co_await SnapshotSave();
    case Endpoint::kSnapshotRestore:
      co_return co_await SnapshotRestore(req);
    case Endpoint::kAclBootstrap:
    case Endpoint::kAclTokenSelf:
    case Endpoint::kAclPolicies:
    case Endpoint::kAclTokens:
    case Endpoint::kAclPolicyCreate:
    case Endpoint::kAclTokenCreate:
    case Endpoint::kAclPolicyByName:
    case Endpoint::kAclPolicyRead:
    case Endpoint::kAclPolicyWrite:
    case Endpoint::kAclTokenRead:
    case Endpoint::kAclTokenWrite: {
      Response r = co_await acl_.Handle(req, match);
      if (r.status == 200) r = WithIndex(std::move(r), registry_.index());
      co_return r;
    }
    case Endpoint::kJoin:
    case Endpoint::kAgentMembers:
    case Endpoint::kRaftConfiguration:
    case Endpoint::kRaftRemovePeer:
    case Endpoint::kRaftTransferLeader:
      if (!options_.cluster_endpoint) {
        co_return Response::Error(501, "this agent is not clustered (-dev): " + req.path +
                                           " is for the servers of a cluster");
      }
      co_return co_await options_.cluster_endpoint(match.route->endpoint, req);
    case Endpoint::kKvRead:
      co_return co_await KvRead(req, param);
    case Endpoint::kKvWrite:
      co_return co_await KvWrite(req, param);
    case Endpoint::kTxn:
      co_return co_await Txn(req);
    case Endpoint::kSessionCreate:
      co_return co_await SessionCreate(req);
    case Endpoint::kSessionDestroy:
      co_return co_await SessionDestroy(param);
    case Endpoint::kSessionRenew:
      co_return SessionRenew(param);
    case Endpoint::kSessionInfo:
    case Endpoint::kSessionNode:
    case Endpoint::kSessionList:
      co_return co_await SessionRead(req, match.route->endpoint, param);
    case Endpoint::kUiRedirect:
      co_return RedirectToUi();
    case Endpoint::kUiFile:
      co_return ServeUiFile(req, param);
    case Endpoint::kUiHeartbeats:
      co_return UiHeartbeats(req, registry_);
    case Endpoint::kUiChanges:
    case Endpoint::kUiSummary:
      co_return co_await UiChanges(req, match.route->endpoint == Endpoint::kUiSummary);
    case Endpoint::kUnsupported:
      co_return Response::Error(
          501, std::string(match.route->message) + " (" + req.method + " " + req.path + ")");
  }
  co_return Response::Error(500, "no handler for " + req.path);
}

Response ConsulApi::StatusPeers() {
  std::string body = "[";
  for (const std::string& voter : Cluster().voters) {
    if (body.size() > 1) body += ',';
    body += EncodeString(voter);
  }
  return WithIndex(Response::Json(body + "]"), registry_.index());
}

asio::awaitable<Response> ConsulApi::Submit(core::Command command) {
  Result<core::Index> result = co_await state_.Submit(std::move(command));
  if (!result.ok()) co_return FromStatus(result.status());
  co_return WithIndex(Response::Json(""), *result);
}

// A backup file: a header line naming the format, then the catalog snapshot.
constexpr std::string_view kSnapshotMagic = "CONCIERGE-SNAPSHOT 1\n";

asio::awaitable<Response> ConsulApi::SnapshotSave() {
  // The image is taken on the state thread (pointer copies) and encoded here, so that a
  // backup of a large catalog does not hold up writes.
  auto image = std::make_shared<core::CatalogImage>();
  server::StateLoop::Operation take = [this, image](std::function<void(Status)> done) {
    *image = registry_.CatalogImage();
    done(Status::Ok());
  };
  co_await state_.Call(std::move(take));
  std::string bytes(kSnapshotMagic);
  bytes += image->Encode();
  image.reset();
  Response r{200, "application/octet-stream", std::move(bytes), {}};
  co_return WithIndex(std::move(r), registry_.index());
}

asio::awaitable<Response> ConsulApi::SnapshotRestore(Request& req) {
  std::string_view body = req.body;
  if (!body.starts_with(kSnapshotMagic)) {
    co_return Response::Error(400,
                              "not a Concierge snapshot (made by GET /v1/snapshot or "
                              "`concierge snapshot save`)");
  }
  std::string_view snapshot = body.substr(kSnapshotMagic.size());
  std::vector<core::Command> commands = core::RestoreCommands(snapshot);
  if (commands.size() == 1) co_return co_await Submit(std::move(commands.front()));
  // A libraft entry must fit its 8 MiB segment: a large snapshot goes through the log in
  // parts, checked whole first (the registry replaces the catalog when the last applies).
  if (auto decoded = core::Catalog::DecodeSnapshot(snapshot); !decoded.ok()) {
    co_return FromStatus(decoded.status());
  }
  std::vector<Result<core::Index>> applied = co_await state_.SubmitAll(std::move(commands));
  for (const Result<core::Index>& r : applied) {
    if (!r.ok()) co_return FromStatus(r.status());
  }
  co_return WithIndex(Response::Json(""), *applied.back());
}

asio::awaitable<Response> ConsulApi::Register(Request& req) {
  auto cmd = DecodeServiceRegistration(req.body);
  if (!cmd.ok()) co_return FromStatus(cmd.status());
  if (auto st = CheckAgentPolicy(*cmd, options_.enable_script_checks, options_.node.name);
      !st.ok()) {
    co_return FromStatus(st);
  }
  if (auto st = acl_.RequireServiceWrite(req, cmd->service.id, cmd->service.name); !st.ok()) {
    co_return FromStatus(st);
  }
  if (options_.max_instances > 0 && registry_.instance_count() >= options_.max_instances &&
      registry_.Instance(cmd->service.id) == nullptr) {
    co_return Response::Error(429, "the registry holds " +
                                       std::to_string(registry_.instance_count()) +
                                       " instances, its limit (-max-instances); deregister some "
                                       "or raise the limit");
  }
  // The HTTP API talks to servers, not per-host agents: an instance without an address is
  // at the address it registered from (DESIGN.md "Identity and indexes").
  if (cmd->service.address.empty()) cmd->service.address = req.remote_address;
  core::Command command = std::move(*cmd);
  co_return co_await Submit(std::move(command));
}

asio::awaitable<Response> ConsulApi::Deregister(std::string_view id) {
  core::Command command = core::DeregisterService{std::string(id), {}};
  co_return co_await Submit(std::move(command));
}

asio::awaitable<Response> ConsulApi::CheckStatus(Request& req, std::string_view id,
                                                 HealthStatus status) {
  // Any TTL update counts as a heartbeat, as in Consul.
  bool unheard = false;
  std::optional<HealthStatus> current = registry_.Heartbeat(id, &unheard);
  if (!current) {
    co_return Response::Error(404, "unknown check ID \"" + std::string(id) +
                                       "\": pass, warn and fail are for TTL checks (the agent "
                                       "runs the other kinds itself); register the service "
                                       "with a TTL check first");
  }
  std::string_view note = req.Query("note").value_or("");
  if (*current == status && note.empty()) {
    if (!unheard) co_return WithIndex(Response::Json(""), registry_.index());
    // The first heartbeat since an election: the next leader must know it (DESIGN.md 3).
    core::Command heard = core::ChecksHeard{{std::string(id)}, {}};
    co_return co_await Submit(std::move(heard));
  }
  core::Command command = core::UpdateCheck{
      std::string(id), status, std::string(note), {}, core::CheckCause::kHeartbeat};
  co_return co_await Submit(std::move(command));
}

asio::awaitable<Response> ConsulApi::CheckUpdate(Request& req, std::string_view id) {
  auto update = DecodeCheckUpdate(req.body);
  if (!update.ok()) co_return FromStatus(update.status());
  if (!registry_.Heartbeat(id)) {
    co_return Response::Error(404, "unknown check ID \"" + std::string(id) + "\"");
  }
  core::Command command =
      core::UpdateCheck{std::string(id), update->status, std::move(update->output), {}};
  co_return co_await Submit(std::move(command));
}

asio::awaitable<Response> ConsulApi::HeartbeatBatch(Request& req) {
  auto entries = DecodeHeartbeatBatch(req.body);
  if (!entries.ok()) co_return FromStatus(entries.status());
  HeartbeatResults results;
  results.codes.assign(entries->size(), 200);
  std::vector<Status> allowed = co_await acl_.AuthorizeHeartbeats(req, *entries);
  // As the single endpoints do: every entry is a heartbeat; those that change the status or
  // carry a note also go through the log, all of them in one hop to the state thread.
  // Checks heard for the first time since an election share one ChecksHeard (DESIGN.md 3).
  std::vector<core::Command> commands;
  std::vector<std::uint32_t> owners;
  core::ChecksHeard heard;
  std::vector<std::uint32_t> heard_owners;
  for (std::uint32_t i = 0; i < entries->size(); ++i) {
    const HeartbeatEntry& e = (*entries)[i];
    if (!allowed[i].ok()) {
      results.codes[i] = static_cast<std::uint16_t>(HttpStatus(allowed[i]));
      results.errors.emplace_back(i, allowed[i].message());
      continue;
    }
    bool unheard = false;
    std::optional<HealthStatus> current = registry_.Heartbeat(e.check_id, &unheard);
    if (!current) {
      results.codes[i] = 404;
      results.errors.emplace_back(i, "unknown check ID \"" + std::string(e.check_id) + "\"");
      continue;
    }
    if (*current == e.status && e.note.empty()) {
      if (unheard) {
        heard.check_ids.emplace_back(e.check_id);
        heard_owners.push_back(i);
      }
      continue;
    }
    commands.push_back(core::UpdateCheck{
        std::string(e.check_id), e.status, std::string(e.note), {}, core::CheckCause::kHeartbeat});
    owners.push_back(i);
  }
  results.index = registry_.index();
  if (!heard.check_ids.empty()) commands.push_back(std::move(heard));
  if (!commands.empty()) {
    std::vector<Result<core::Index>> applied = co_await state_.SubmitAll(std::move(commands));
    for (std::size_t k = 0; k < applied.size(); ++k) {
      if (applied[k].ok()) {
        results.index = std::max(results.index, *applied[k]);
        continue;
      }
      const Status& st = applied[k].status();
      auto fail = [&](std::uint32_t i) {
        results.codes[i] = static_cast<std::uint16_t>(HttpStatus(st));
        results.errors.emplace_back(i, st.message());
      };
      if (k < owners.size()) {
        fail(owners[k]);
      } else {
        for (std::uint32_t i : heard_owners) fail(i);  // the one ChecksHeard, last
      }
    }
    std::sort(results.errors.begin(), results.errors.end());
  }
  co_return WithIndex(Response::Json(EncodeHeartbeatResults(results)), results.index);
}

std::optional<Response> ConsulApi::WaitDeadline(
    const Request& req, std::chrono::steady_clock::time_point* deadline) const {
  if (options_.max_blocking_queries > 0 && hub_.parked() >= options_.max_blocking_queries) {
    Response busy =
        Response::Error(429, "too many blocking queries are waiting (the limit is " +
                                 std::to_string(options_.max_blocking_queries) +
                                 ", -max-blocking-queries); retry shortly, or ask without ?index");
    busy.headers.emplace_back("Retry-After", "1");
    return busy;
  }
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(options_.default_wait);
  if (auto wait_text = req.Query("wait")) {
    auto d = core::ParseDuration(*wait_text);
    if (!d.ok()) return Response::Error(400, "wait: " + d.status().message());
    if (*d < core::Duration::zero()) {
      return Response::Error(400,
                             "wait: must not be negative, got \"" + std::string(*wait_text) + "\"");
    }
    wait = std::min(std::chrono::duration_cast<std::chrono::milliseconds>(*d), options_.max_wait);
  }
  // Consul adds up to wait/16 of jitter so that many watchers do not return at once.
  thread_local std::minstd_rand rng{std::random_device{}()};
  auto jitter = std::chrono::milliseconds(
      wait.count() >= 16 ? std::uniform_int_distribution<std::int64_t>(0, wait.count() / 16)(rng)
                         : 0);
  *deadline = std::chrono::steady_clock::now() + wait + jitter;
  return std::nullopt;
}

asio::awaitable<std::optional<Response>> ConsulApi::Park(
    Request& req, std::string key, const std::function<bool()>& passed,
    std::chrono::steady_clock::time_point deadline) {
  // A client that goes away while parked ends the wait and frees its slot at once.
  std::function<void(std::function<void()>)> on_parked;
  if (req.hangup) {
    on_parked = [&req](std::function<void()> wake) { req.hangup->OnHangup(std::move(wake)); };
  }
  req.woken_at = co_await hub_.Wait(std::move(key), passed, deadline, on_parked);
  if (req.hangup) {
    req.hangup->Clear();
    if (req.hangup->gone()) {
      req.woken_at.reset();  // no answer to count
      co_return Response::Error(400, "the client closed the connection");
    }
  }
  co_return std::nullopt;
}

asio::awaitable<std::optional<Response>> ConsulApi::Block(
    Request& req, std::string key, const std::function<core::Index()>& current) {
  std::optional<std::string_view> index_text = req.Query("index");
  if (!index_text) co_return std::nullopt;
  // The token first: a watch of a service it may not read gets its (filtered) answer at
  // once rather than a slot.
  // (Keys that start with \x01 are the registry's own: every change, the KV store...)
  if (key != server::WatchHub::kCatalogKey && !key.starts_with('\x01') &&
      !acl_.CanRead(req, key, true)) {
    co_return std::nullopt;
  }
  auto parsed = req.QueryUint("index");
  if (!parsed.ok()) co_return FromStatus(parsed.status());
  const core::Index index = *parsed;
  std::chrono::steady_clock::time_point deadline;
  if (auto error = WaitDeadline(req, &deadline)) co_return error;
  // Wake when the index moves past the client's; a client index ahead of ours (it talked to
  // an agent before a restart or restore) answers at once so that the client resets, as
  // Prometheus and the Go client do on a smaller index. Compared as WithIndex reports it.
  std::function<bool()> passed = [&] { return std::max<core::Index>(1, current()) != index; };
  // A key may be woken by changes that leave this index where it was (the KV store's one
  // key wakes every key and prefix watch): wait again until it moves or the time is up.
  while (!passed() && std::chrono::steady_clock::now() < deadline) {
    if (auto gone = co_await Park(req, key, passed, deadline)) co_return gone;
  }
  // Woken by such a change as the time ran out: the answer is the wait's end, not a change's.
  if (!passed()) req.woken_at.reset();
  co_return std::nullopt;
}

namespace {

// What AnswerCache knows a /v1/health/service answer by: the service, the filters, and
// whether it is gzipped.
std::string AnswerKey(std::string_view service, bool passing,
                      const std::vector<std::string_view>& tags, bool gzip) {
  std::string key(service);
  key += '\0';
  key += passing ? 'p' : 'a';
  key += gzip ? 'z' : '-';
  for (std::string_view tag : tags) {
    key += '\0';
    key += tag;
  }
  return key;
}

// The content hash of an agent endpoint's answer (FNV-1a, 64 bits, in hex).
std::string ContentHash(std::string_view body) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : body) h = (h ^ c) * 1099511628211ull;
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

}  // namespace

asio::awaitable<Response> ConsulApi::BlockOnHash(Request& req,
                                                 const std::function<Response()>& render) {
  Response r = render();
  std::optional<std::string_view> want = req.Query("hash");
  if (want && r.status == 200 && ContentHash(r.body) == *want) {
    std::chrono::steady_clock::time_point deadline;
    if (auto error = WaitDeadline(req, &deadline)) co_return std::move(*error);
    // Any change may change the answer: wait for one, render again, until the hash moves.
    bool same = true;
    while (same && std::chrono::steady_clock::now() < deadline) {
      const core::Index seen = registry_.index();
      std::function<bool()> changed = [&] { return registry_.index() != seen; };
      std::string key(server::WatchHub::kAnyKey);
      if (auto gone = co_await Park(req, std::move(key), changed, deadline)) co_return *gone;
      r = render();
      same = r.status == 200 && ContentHash(r.body) == *want;
    }
    // The same answer when the time ran out: the wait's end, not a change's.
    if (same) req.woken_at.reset();
  }
  if (r.status == 200) r.headers.emplace_back("X-Consul-ContentHash", ContentHash(r.body));
  co_return r;
}

asio::awaitable<Response> ConsulApi::HealthService(Request& req, std::string_view name) {
  std::string key(name);
  std::function<core::Index()> current = [&] { return registry_.ServiceIndex(key); };
  if (auto error = co_await Block(req, key, current)) co_return std::move(*error);
  core::Index index = current();
  auto view = registry_.Service(key);
  if (view && !acl_.CanRead(req, key, true)) {
    co_return Filtered(WithIndex(Response::Json(EncodeHealthService({}, options_.node)), index),
                       true);
  }
  bool passing = Truthy(req.Query("passing"));
  std::vector<std::string_view> tags = req.QueryAll("tag");
  std::shared_ptr<const std::string> body = RenderHealthService(view, passing, tags);
  if (view && body->size() >= kGzipMinBytes && TakesGzip(req)) {
    // Gzipped once per view and question too, from the plain bytes, and shared the same way.
    Response r = WithIndex(
        Response::SharedJson(answers_.Get(AnswerKey(view->name, passing, tags, true), view,
                                          view->index, [&] { return Gzip(*body); })),
        index);
    SayGzipped(r);
    co_return r;
  }
  co_return WithIndex(Response::SharedJson(std::move(body)), index);
}

std::shared_ptr<const std::string> ConsulApi::RenderHealthService(
    const std::shared_ptr<const server::ServiceView>& view, bool passing,
    const std::vector<std::string_view>& tags) {
  if (!view) return std::make_shared<const std::string>(EncodeHealthService({}, options_.node));
  // The watchers of a service wake together and ask the same few questions: each is encoded
  // once per view, by the first to ask, and its bytes shared by all (1,000 watchers of a
  // 100,000-instance service: one 80 MB answer instead of 1,000).
  return answers_.Get(AnswerKey(view->name, passing, tags, false), view, view->index, [&] {
    std::vector<InstancePtr> out;
    for (const auto& inst : view->instances) {
      if (passing && !AllPassing(*inst)) continue;
      if (!HasTags(*inst, tags)) continue;
      out.push_back(inst);
    }
    return EncodeHealthService(out, options_.node);
  });
}

asio::awaitable<Response> ConsulApi::ServiceDelta(Request& req, std::string_view name) {
  std::string key(name);
  std::function<core::Index()> current = [&] { return registry_.ServiceIndex(key); };
  // The history keeps changes from before the wait on: the first delta asked of a service
  // must see the change that wakes it.
  if (auto before = registry_.Service(key)) before->history->Want();
  if (auto error = co_await Block(req, key, current)) co_return std::move(*error);
  // service:read was checked with the route; a delta also needs node:read, as the entries
  // of /v1/health/service do (there they are left out, here the answer would be wrong).
  if (!acl_.CanRead(req, key, true)) {
    co_return Response::Error(403, "Permission denied: the token may not read service \"" + key +
                                       "\" on node " + options_.node.name);
  }
  core::Index after = 0;
  if (auto text = req.Query("index")) {
    std::from_chars(text->data(), text->data() + text->size(), after);  // checked by Block
  }
  auto view = registry_.Service(key);
  const core::Index index = view ? view->index : current();
  std::vector<InstancePtr> changed;
  std::vector<core::Text> removed;
  // A service without instances has no history: what the client held is unknown (and the
  // whole answer is short). So is an index from before what the history keeps, or one ahead
  // of ours (the agent restarted or was restored).
  std::optional<std::vector<core::Text>> ids;
  if (view && after > 0 && after <= index) ids = view->history->Since(after, index);
  if (ids) {
    for (const core::Text& id : *ids) {
      if (const InstancePtr* inst = view->instances.Find(id)) {
        changed.push_back(*inst);
      } else {
        removed.push_back(id);
      }
    }
  }
  co_return WithIndex(Response::Json(EncodeServiceDelta(std::max<core::Index>(1, index), !ids,
                                                        changed, removed, options_.node)),
                      index);
}

asio::awaitable<Response> ConsulApi::HealthChecks(Request& req, std::string_view name) {
  std::string key(name);
  std::function<core::Index()> current = [&] { return registry_.ServiceIndex(key); };
  if (auto error = co_await Block(req, key, current)) co_return std::move(*error);
  core::Index index = current();
  auto view = registry_.Service(key);
  std::vector<const core::Check*> checks;
  std::vector<const core::Instance*> owners;
  const bool filtered = view && !acl_.CanRead(req, key, true);
  if (view && !filtered) {
    for (const auto& inst : view->instances) {
      for (const core::Check& c : inst->checks) {
        checks.push_back(&c);
        owners.push_back(inst.get());
      }
    }
  }
  co_return Filtered(
      WithIndex(Response::Json(EncodeHealthChecks(checks, owners, options_.node)), index),
      filtered);
}

asio::awaitable<Response> ConsulApi::HealthState(Request& req, std::string_view state) {
  std::optional<HealthStatus> want;
  if (state != "any") {
    want = core::ParseHealthStatus(state);
    if (!want) {
      co_return Response::Error(400,
                                "state: expected \"any\", \"passing\", \"warning\" or "
                                "\"critical\", got \"" +
                                    std::string(state) + "\"");
    }
  }
  std::function<core::Index()> current = [&] { return registry_.index(); };
  std::string key(server::WatchHub::kAnyKey);
  if (auto error = co_await Block(req, key, current)) co_return std::move(*error);
  core::Index index = current();
  auto instances = registry_.Instances();
  std::vector<const core::Check*> checks;
  std::vector<const core::Instance*> owners;
  bool node_check_seen = false;
  bool filtered = false;
  for (const auto& inst : instances) {
    if (!acl_.CanRead(req, inst->service.name, true)) {
      filtered = true;
      continue;
    }
    for (const core::Check& c : inst->checks) {
      if (want && c.status != *want) continue;
      if (c.id() == core::kNodeMaintenanceCheckId && std::exchange(node_check_seen, true)) continue;
      checks.push_back(&c);
      owners.push_back(inst.get());
    }
  }
  co_return Filtered(
      WithIndex(Response::Json(EncodeHealthChecks(checks, owners, options_.node)), index),
      filtered);
}

asio::awaitable<Response> ConsulApi::HealthNode(Request& req, std::string_view node) {
  // One node holds every instance: its checks are every check; another node has none.
  if (node == options_.node.name) {
    std::string_view any = "any";  // a named value: g++ 12 and temporaries passed to coroutines
    co_return co_await HealthState(req, any);
  }
  std::function<core::Index()> current = [&] { return registry_.index(); };
  std::string key(server::WatchHub::kAnyKey);
  if (auto error = co_await Block(req, key, current)) co_return std::move(*error);
  co_return WithIndex(Response::Json("[]"), current());
}

asio::awaitable<Response> ConsulApi::CatalogNodes(Request& req) {
  std::function<core::Index()> current = [&] { return registry_.index(); };
  std::string key(server::WatchHub::kAnyKey);
  if (auto error = co_await Block(req, key, current)) co_return std::move(*error);
  if (!req.acl->Allowed(core::AclResource::kNode, options_.node.name,
                        core::AclAuthorizer::Permission::kRead)) {
    co_return Filtered(WithIndex(Response::Json("[]"), current()), true);
  }
  co_return WithIndex(Response::Json(EncodeCatalogNodes(options_.node)), current());
}

asio::awaitable<Response> ConsulApi::CatalogNode(Request& req, std::string_view node) {
  std::function<core::Index()> current = [&] { return registry_.index(); };
  std::string key(server::WatchHub::kAnyKey);
  if (auto error = co_await Block(req, key, current)) co_return std::move(*error);
  // Consul answers null for a node it does not know.
  if (node != options_.node.name || !req.acl->Allowed(core::AclResource::kNode, options_.node.name,
                                                      core::AclAuthorizer::Permission::kRead)) {
    co_return WithIndex(Response::Json("null"), current());
  }
  bool filtered = false;
  auto instances = ReadableInstances(req, &filtered);
  co_return Filtered(
      WithIndex(Response::Json(EncodeCatalogNode(instances, options_.node)), current()), filtered);
}

asio::awaitable<Response> ConsulApi::UiChanges(Request& req, bool summary) {
  std::function<core::Index()> current = [&] { return registry_.index(); };
  std::string key(server::WatchHub::kAnyKey);
  if (auto error = co_await Block(req, key, current)) co_return std::move(*error);
  auto since = req.QueryUint("index");  // Block has checked it
  Response r = WithIndex(Response::Json(summary ? UiSummary(registry_, *since)
                                                : "{\"Index\":" + std::to_string(current()) + "}"),
                         current());
  r.headers.emplace_back("Cache-Control", "no-store");
  co_return r;
}

asio::awaitable<Response> ConsulApi::CatalogService(Request& req, std::string_view name) {
  std::string key(name);
  std::function<core::Index()> current = [&] { return registry_.ServiceIndex(key); };
  if (auto error = co_await Block(req, key, current)) co_return std::move(*error);
  core::Index index = current();
  auto view = registry_.Service(key);
  std::vector<InstancePtr> out;
  const bool filtered = view && !acl_.CanRead(req, key, true);
  if (view && !filtered) {
    std::vector<std::string_view> tags = req.QueryAll("tag");
    for (const auto& inst : view->instances) {
      if (HasTags(*inst, tags)) out.push_back(inst);
    }
  }
  co_return Filtered(WithIndex(Response::Json(EncodeCatalogService(out, options_.node)), index),
                     filtered);
}

asio::awaitable<Response> ConsulApi::CatalogServices(Request& req) {
  std::function<core::Index()> current = [&] { return registry_.services_index(); };
  std::string key(server::WatchHub::kCatalogKey);
  if (auto error = co_await Block(req, key, current)) co_return std::move(*error);
  core::Index index = current();
  auto names = registry_.ServiceNames();
  const std::size_t all = names.size();
  std::erase_if(names, [&](const auto& entry) { return !acl_.CanRead(req, entry.first, false); });
  co_return Filtered(WithIndex(Response::Json(EncodeCatalogServices(names)), index),
                     names.size() != all);
}

std::vector<InstancePtr> ConsulApi::ReadableInstances(const Request& req, bool* filtered) const {
  auto instances = registry_.Instances();
  const std::size_t all = instances.size();
  std::erase_if(instances, [&](const InstancePtr& inst) {
    return !acl_.CanRead(req, inst->service.name, false);
  });
  *filtered = instances.size() != all;
  return instances;
}

Response ConsulApi::AgentServices(const Request& req) {
  core::Index index = registry_.index();
  bool filtered = false;
  auto instances = ReadableInstances(req, &filtered);
  return Filtered(WithIndex(Response::Json(EncodeAgentServices(instances, options_.node)), index),
                  filtered);
}

Response ConsulApi::AgentService(std::string_view id) {
  auto inst = registry_.Instance(id);
  if (!inst) {
    return WithIndex(Response::Error(404, "unknown service ID \"" + std::string(id) + "\""),
                     registry_.index());
  }
  return WithIndex(Response::Json(EncodeAgentService(*inst, options_.node)), inst->modify_index);
}

Response ConsulApi::AgentChecks(const Request& req) {
  core::Index index = registry_.index();
  bool filtered = false;
  auto instances = ReadableInstances(req, &filtered);
  return Filtered(WithIndex(Response::Json(EncodeAgentChecks(instances, options_.node)), index),
                  filtered);
}

Response ConsulApi::AgentSelf() {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto field = [&](const char* k, const std::string& v) {
    w.Key(k);
    w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
  };
  w.StartObject();
  w.Key("Config");
  w.StartObject();
  field("Datacenter", options_.node.datacenter);
  field("NodeName", options_.node.name);
  field("NodeID", options_.node.id);
  w.Key("Server");
  w.Bool(true);
  field("Version", options_.version);
  w.EndObject();
  w.Key("Member");
  w.StartObject();
  field("Name", options_.node.name);
  field("Addr", options_.node.address);
  w.Key("Status");
  w.Int(1);
  w.EndObject();
  w.Key("Stats");
  w.StartObject();
  w.Key("registry");
  w.StartObject();
  field("instances", std::to_string(registry_.instance_count()));
  field("ttl_checks", std::to_string(registry_.tracked_checks()));
  field("blocking_queries", std::to_string(hub_.parked()));
  field("index", std::to_string(registry_.index()));
  field("self_preservation", registry_.self_preservation() ? "true" : "false");
  field("expiries_held", std::to_string(registry_.expiries_held()));
  w.EndObject();
  w.EndObject();
  w.EndObject();
  return WithIndex(Response::Json({buf.GetString(), buf.GetSize()}), registry_.index());
}

}  // namespace concierge::http
