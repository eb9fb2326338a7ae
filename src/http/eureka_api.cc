#include "http/eureka_api.h"

#include <algorithm>
#include <charconv>

#include "http/gzip.h"

namespace concierge::http {

namespace asio = boost::asio;

namespace {

std::string Upper(std::string_view s) { return AppOfService(s); }

// The app names are one name, case aside (without building either in upper case: a renewal
// compares them).
bool SameApp(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [&](char x, char y) { return lower(x) == lower(y); });
}

Response NotFound(std::string message) { return Response::Error(404, std::move(message)); }

const core::Check* FindLease(const core::Instance& inst) {
  return inst.FindCheck(LeaseCheckId(inst.service.id));
}

const core::Check* FindMaintenance(const core::Instance& inst) {
  for (const core::Check& c : inst.checks) {
    if (core::IsMaintenanceCheck(c.id())) return &c;
  }
  return nullptr;
}

// The apps of `apps` whose service the request may read (ACLs on), or all of them.
std::vector<EurekaApp> Readable(const std::vector<EurekaApp>& apps, const Request& req,
                                const AclApi& acl) {
  std::vector<EurekaApp> out;
  for (const EurekaApp& app : apps) {
    if (acl.CanRead(req, app.service, false)) out.push_back(app);
  }
  return out;
}

}  // namespace

// --- The view ---

std::shared_ptr<const std::string> EurekaView::Snapshot::Body(bool delta, EurekaFormat format,
                                                              bool gzip) const {
  const std::size_t slot =
      (delta ? 4 : 0) + (format == EurekaFormat::kXml ? 2 : 0) + (gzip ? 1 : 0);
  // The plain body first: a gzipped one is made from it.
  std::shared_ptr<const std::string> plain = gzip ? Body(delta, format, false) : nullptr;
  std::lock_guard lock(mu_);
  if (bodies_[slot] == nullptr) {
    bodies_[slot] = std::make_shared<const std::string>(
        gzip ? Gzip(*plain)
             : EncodeApplications(delta ? this->delta : apps, index, hashcode, format));
  }
  return bodies_[slot];
}

void EurekaView::Diff(const std::vector<InstancePtr>& before, const std::vector<InstancePtr>& after,
                      core::Time now) {
  // Both sorted by ID: one merge.
  auto b = before.begin();
  auto a = after.begin();
  while (b != before.end() || a != after.end()) {
    if (a == after.end() || (b != before.end() && (*b)->service.id < (*a)->service.id)) {
      changes_.push_back({now, *b++, ActionType::kDeleted});
    } else if (b == before.end() || (*a)->service.id < (*b)->service.id) {
      changes_.push_back({now, *a++, ActionType::kAdded});
    } else {
      if (*a != *b) changes_.push_back({now, *a, ActionType::kModified});
      ++a;
      ++b;
    }
  }
}

std::shared_ptr<const EurekaView::Snapshot> EurekaView::Current(core::Time now) {
  std::lock_guard lock(mu_);
  const core::Index index = registry_.index();
  const core::Time horizon = now - kDeltaWindow;
  const bool aged = !changes_.empty() && changes_.front().at < horizon;
  if (current_ != nullptr && current_->index == index && !aged) return current_;

  if (current_ == nullptr || current_->index != index) {
    std::map<std::string, Service, std::less<>> next;
    for (auto& [name, tags] : registry_.ServiceNames()) {
      auto view = registry_.Service(name);
      if (view == nullptr) continue;
      auto old = services_.find(name);
      if (old != services_.end() && old->second.index == view->index) {
        next.emplace(name, std::move(old->second));
        services_.erase(old);
        continue;
      }
      Service s{view->index, {}};
      for (const auto& inst : view->instances) {
        if (!LeaseExpired(*inst)) s.visible.push_back(inst);
      }
      Diff(old == services_.end() ? std::vector<InstancePtr>{} : old->second.visible, s.visible,
           now);
      if (old != services_.end()) services_.erase(old);
      next.emplace(name, std::move(s));
    }
    // Services gone altogether.
    for (auto& [name, s] : services_) Diff(s.visible, {}, now);
    services_ = std::move(next);
  }
  while (!changes_.empty() && changes_.front().at < horizon) changes_.pop_front();

  auto snap = std::make_shared<Snapshot>();
  snap->index = index;
  std::array<std::uint32_t, 5> counts{};
  std::unordered_map<const core::Instance*, std::shared_ptr<const EncodedInstance>> encoded;
  encoded.reserve(encoded_.size());
  for (const auto& [name, s] : services_) {
    if (s.visible.empty()) continue;
    EurekaApp app{AppOfService(name), name, {}};
    app.instances.reserve(s.visible.size());
    for (const InstancePtr& inst : s.visible) {
      auto it = encoded_.find(inst.get());
      auto& e = encoded[inst.get()];
      e = it != encoded_.end() ? it->second : std::make_shared<const EncodedInstance>(inst);
      app.instances.push_back({inst, ActionType::kAdded, e});
      ++counts[static_cast<std::size_t>(StatusOf(*inst))];
    }
    snap->apps.push_back(std::move(app));
  }
  encoded_ = std::move(encoded);
  snap->hashcode = AppsHashcode(counts);
  std::map<std::string, EurekaApp, std::less<>> delta;
  for (const Change& c : changes_) {
    const std::string& service = c.instance->service.name.str();
    auto [it, added] = delta.try_emplace(service, EurekaApp{AppOfService(service), service, {}});
    it->second.instances.push_back({c.instance, c.action});
  }
  for (auto& [name, app] : delta) snap->delta.push_back(std::move(app));
  current_ = std::move(snap);
  return current_;
}

// --- The API ---

EurekaApi::EurekaApi(server::Registry& registry, server::StateLoop& state, AclApi& acl,
                     std::size_t max_instances)
    : registry_(registry),
      state_(state),
      acl_(acl),
      max_instances_(max_instances),
      view_(registry) {}

Response EurekaApi::Reply(const Request& req, std::string body, EurekaFormat format) {
  Response r{200, std::string(ContentType(format)), std::move(body), {}};
  if (TakesGzip(req)) {
    r.body = Gzip(r.body);
    r.headers.emplace_back("Content-Encoding", "gzip");
  }
  return r;
}

asio::awaitable<Response> EurekaApi::Handle(Request& req, const RouteMatch& match) {
  const std::string_view p0 = match.param(0);
  const std::string_view p1 = match.param(1);
  switch (match.route->endpoint) {
    case Endpoint::kEurekaApps:
      co_return Apps(req, false);
    case Endpoint::kEurekaDelta:
      co_return Apps(req, true);
    case Endpoint::kEurekaApp:
      // "/eureka/apps/" is the registry, as Eureka (Jersey) answers it: eureka-js-client
      // fetches that path.
      if (p0.empty()) co_return Apps(req, false);
      co_return App(req, p0);
    case Endpoint::kEurekaRegister:
      co_return co_await Register(req, p0);
    case Endpoint::kEurekaInstance:
      co_return Instance(req, p0, p1);
    case Endpoint::kEurekaInstanceById:
      co_return Instance(req, {}, p0);
    case Endpoint::kEurekaRenew:
      co_return co_await Renew(req, p0, p1);
    case Endpoint::kEurekaCancel:
      co_return co_await Cancel(p0, p1);
    case Endpoint::kEurekaStatus:
      co_return co_await Override(req, p0, p1, req.method == "DELETE");
    case Endpoint::kEurekaMetadata:
      co_return co_await Metadata(req, p0, p1);
    case Endpoint::kEurekaVip:
      co_return Vip(req, p0, false);
    case Endpoint::kEurekaSecureVip:
      co_return Vip(req, p0, true);
    default:
      break;
  }
  co_return Response::Error(500, "not a Eureka endpoint");
}

InstancePtr EurekaApi::Find(std::string_view app, std::string_view id) const {
  InstancePtr inst = registry_.Instance(id);
  if (inst == nullptr || LeaseExpired(*inst)) return nullptr;
  if (!app.empty() && !SameApp(inst->service.name, app)) return nullptr;
  return inst;
}

asio::awaitable<Status> EurekaApi::Apply(std::vector<core::Command> commands) {
  if (commands.empty()) co_return Status::Ok();
  std::vector<Result<core::Index>> applied = co_await state_.SubmitAll(std::move(commands));
  for (const Result<core::Index>& r : applied) {
    if (!r.ok()) co_return r.status();
  }
  co_return Status::Ok();
}

asio::awaitable<Response> EurekaApi::Register(Request& req, std::string_view app) {
  auto reg = DecodeEurekaRegistration(req.body, app);
  if (!reg.ok()) co_return Response::Error(400, reg.status().message());
  const core::ServiceDefinition& def = reg->command.service;
  InstancePtr prev = registry_.Instance(def.id);
  if (prev != nullptr && prev->service.name != def.name) {
    co_return Response::Error(409, "instance ID \"" + def.id.str() + "\" belongs to service \"" +
                                       prev->service.name.str() + "\" (app " +
                                       Upper(prev->service.name) +
                                       "); instance IDs are unique across apps here");
  }
  if (max_instances_ > 0 && prev == nullptr && registry_.instance_count() >= max_instances_) {
    co_return Response::Error(429, "the registry holds " +
                                       std::to_string(registry_.instance_count()) +
                                       " instances, its limit (-max-instances)");
  }
  // What follows the registration: the lease's status when the registration alone would not
  // set it (an expired lease, an override to keep, a status changed through Consul's API),
  // and maintenance mode for OUT_OF_SERVICE.
  std::vector<core::Command> after;
  const std::string lease_id = LeaseCheckId(def.id);
  const core::HealthStatus want = HealthOf(reg->status);
  if (const core::Check* lease = prev ? FindLease(*prev) : nullptr) {
    if (LeaseExpired(*prev)) {
      after.push_back(core::UpdateCheck{lease_id, want, "", {}, core::CheckCause::kUpdate});
    } else if (lease->output.starts_with(kOverridePrefix)) {
      after.push_back(core::UpdateCheck{
          lease_id, lease->status, lease->output.str(), {}, core::CheckCause::kUpdate});
    } else if (lease->status != want) {
      after.push_back(core::UpdateCheck{lease_id, want, "", {}, core::CheckCause::kUpdate});
    }
  }
  const core::Check* maintenance = prev ? FindMaintenance(*prev) : nullptr;
  if (reg->status == EurekaStatus::kOutOfService && maintenance == nullptr) {
    after.push_back(
        core::SetMaintenance{def.id.str(), true, std::string(kRegisteredOutOfService), {}});
  } else if (reg->status != EurekaStatus::kOutOfService && maintenance != nullptr &&
             maintenance->definition.notes == kRegisteredOutOfService) {
    after.push_back(core::SetMaintenance{def.id.str(), false, {}, {}});
  }
  core::Command command = std::move(reg->command);
  // The registration alone first: if it is refused, nothing has changed.
  Result<core::Index> registered = co_await state_.Submit(std::move(command));
  if (!registered.ok()) {
    co_return Response::Error(HttpStatus(registered.status()), registered.status().message());
  }
  // A registration is a sign of life: the lease starts over (an expired one would expire
  // again at once, from its last heartbeat).
  registry_.Heartbeat(lease_id);
  if (Status st = co_await Apply(std::move(after)); !st.ok()) {
    co_return Response::Error(HttpStatus(st), st.message());
  }
  co_return Response{204, "text/plain; charset=utf-8", {}, {}};
}

asio::awaitable<Response> EurekaApi::Renew(Request& req, std::string_view app,
                                           std::string_view id) {
  InstancePtr inst = Find(app, id);
  if (inst == nullptr) {
    co_return NotFound("no instance \"" + std::string(id) + "\" of app " + Upper(app) +
                       " (register it)");
  }
  // A client whose instance changed since it registered (a newer lastDirtyTimestamp)
  // registers again, as Eureka asks it to with a 404.
  if (auto dirty = req.Query("lastDirtyTimestamp")) {
    std::int64_t theirs = 0;
    std::int64_t ours = 0;
    std::from_chars(dirty->data(), dirty->data() + dirty->size(), theirs);
    for (const auto& [k, v] : inst->service.meta) {
      if (k == "eureka-dirty-timestamp") std::from_chars(v.data(), v.data() + v.size(), ours);
    }
    if (ours != 0 && theirs > ours) co_return NotFound("the instance changed: register it again");
  }
  // The heartbeat path: no write unless the check is marked unheard since an election.
  bool unheard = false;
  const std::string lease_id = LeaseCheckId(id);
  if (!registry_.Heartbeat(lease_id, &unheard)) {
    co_return NotFound("instance \"" + std::string(id) + "\" has no lease (TTL check " + lease_id +
                       "); register it through Eureka");
  }
  if (unheard) {
    core::Command heard = core::ChecksHeard{{lease_id}, {}};
    Result<core::Index> r = co_await state_.Submit(std::move(heard));
    if (!r.ok()) co_return Response::Error(HttpStatus(r.status()), r.status().message());
  }
  co_return Response{200, "text/plain; charset=utf-8", {}, {}};
}

asio::awaitable<Response> EurekaApi::Cancel(std::string_view app, std::string_view id) {
  if (Find(app, id) == nullptr) {
    co_return NotFound("no instance \"" + std::string(id) + "\" of app " + Upper(app));
  }
  core::Command command = core::DeregisterService{std::string(id), {}};
  Result<core::Index> r = co_await state_.Submit(std::move(command));
  if (!r.ok()) co_return Response::Error(HttpStatus(r.status()), r.status().message());
  co_return Response{200, "text/plain; charset=utf-8", {}, {}};
}

asio::awaitable<Response> EurekaApi::Override(Request& req, std::string_view app,
                                              std::string_view id, bool remove) {
  std::optional<EurekaStatus> value;
  if (auto text = req.Query("value"); text && !(remove && text->empty())) {
    value = ParseEurekaStatus(*text);
    if (!value) {
      co_return Response::Error(400,
                                "value: expected UP, DOWN, STARTING, OUT_OF_SERVICE or "
                                "UNKNOWN, got \"" +
                                    std::string(*text) + "\"");
    }
  } else if (!remove) {
    co_return Response::Error(400,
                              "value: the status to set is required "
                              "(?value=OUT_OF_SERVICE)");
  }
  InstancePtr inst = Find(app, id);
  if (inst == nullptr) {
    co_return NotFound("no instance \"" + std::string(id) + "\" of app " + Upper(app));
  }
  const core::Check* lease = FindLease(*inst);
  const core::Check* maintenance = FindMaintenance(*inst);
  std::vector<core::Command> commands;
  const std::string sid(id);
  if (!remove && *value == EurekaStatus::kOutOfService) {
    commands.push_back(
        core::SetMaintenance{sid, true, std::string(kOverridePrefix) + "OUT_OF_SERVICE", {}});
  } else {
    if (maintenance != nullptr) commands.push_back(core::SetMaintenance{sid, false, {}, {}});
    if (lease == nullptr && (value || !remove)) {
      co_return Response::Error(409, "instance \"" + sid + "\" has no lease (TTL check " +
                                         LeaseCheckId(id) + ") whose status to set");
    }
    if (lease != nullptr) {
      core::HealthStatus status = value ? HealthOf(*value) : lease->definition.initial_status;
      std::string output =
          remove ? "" : std::string(kOverridePrefix) + std::string(ToString(*value));
      commands.push_back(core::UpdateCheck{
          lease->id().str(), status, std::move(output), {}, core::CheckCause::kUpdate});
    }
  }
  if (Status st = co_await Apply(std::move(commands)); !st.ok()) {
    co_return Response::Error(HttpStatus(st), st.message());
  }
  co_return Response{200, "text/plain; charset=utf-8", {}, {}};
}

asio::awaitable<Response> EurekaApi::Metadata(Request& req, std::string_view app,
                                              std::string_view id) {
  InstancePtr inst = Find(app, id);
  if (inst == nullptr) {
    co_return NotFound("no instance \"" + std::string(id) + "\" of app " + Upper(app));
  }
  std::map<std::string, std::string> meta;
  for (const auto& [k, v] : inst->service.meta) meta[k.str()] = v.str();
  for (const auto& [k, v] : req.query) {
    if (k.starts_with("eureka-") || k.empty()) {
      co_return Response::Error(400, "metadata key \"" + k +
                                         "\": empty keys and keys starting "
                                         "with \"eureka-\" (Eureka's own fields) are not metadata");
    }
    if (!ValidUtf8(k) || !ValidUtf8(v)) co_return Response::Error(400, "metadata: not valid UTF-8");
    meta[k] = v;
  }
  core::RegisterService command;
  command.service = inst->service;
  std::vector<std::pair<core::Symbol, core::Symbol>> pairs(meta.begin(), meta.end());
  command.service.meta = pairs;
  // The same checks: their statuses stay (maintenance mode outlives a registration).
  for (const core::Check& c : inst->checks) {
    if (!core::IsMaintenanceCheck(c.id())) command.checks.push_back(c.definition);
  }
  core::Command cmd = std::move(command);
  Result<core::Index> r = co_await state_.Submit(std::move(cmd));
  if (!r.ok()) co_return Response::Error(HttpStatus(r.status()), r.status().message());
  co_return Response{200, "text/plain; charset=utf-8", {}, {}};
}

Response EurekaApi::Apps(const Request& req, bool delta) {
  const EurekaFormat format = FormatOf(req.Header("Accept"));
  auto snap = view_.Current(registry_.clock().Steady());
  if (acl_.enabled()) {
    // What a token may read differs: encoded for this request.
    std::string body = EncodeApplications(Readable(delta ? snap->delta : snap->apps, req, acl_),
                                          snap->index, snap->hashcode, format);
    return Reply(req, std::move(body), format);
  }
  const bool gzip = TakesGzip(req);
  Response r{200, std::string(ContentType(format)), *snap->Body(delta, format, gzip), {}};
  if (gzip) r.headers.emplace_back("Content-Encoding", "gzip");
  return r;
}

Response EurekaApi::App(const Request& req, std::string_view app) {
  const EurekaFormat format = FormatOf(req.Header("Accept"));
  auto snap = view_.Current(registry_.clock().Steady());
  const std::string name = Upper(app);
  for (const EurekaApp& a : snap->apps) {
    if (a.name != name || !acl_.CanRead(req, a.service, false)) continue;
    return Reply(req, EncodeApplication(a, format), format);
  }
  return NotFound("no app " + name);
}

Response EurekaApi::Instance(const Request& req, std::string_view app, std::string_view id) {
  InstancePtr inst = Find(app, id);
  if (inst == nullptr || !acl_.CanRead(req, inst->service.name, false)) {
    return NotFound("no instance \"" + std::string(id) + "\"");
  }
  const EurekaFormat format = FormatOf(req.Header("Accept"));
  return Reply(req, EncodeInstance(*inst, format), format);
}

Response EurekaApi::Vip(const Request& req, std::string_view vip, bool secure) {
  const EurekaFormat format = FormatOf(req.Header("Accept"));
  auto snap = view_.Current(registry_.clock().Steady());
  std::vector<EurekaApp> apps;
  for (const EurekaApp& a : snap->apps) {
    if (!acl_.CanRead(req, a.service, false)) continue;
    EurekaApp matching{a.name, a.service, {}};
    for (const EurekaEntry& e : a.instances) {
      if (HasVip(secure ? SecureVipAddressOf(*e.instance) : VipAddressOf(*e.instance), vip)) {
        matching.instances.push_back(e);
      }
    }
    if (!matching.instances.empty()) apps.push_back(std::move(matching));
  }
  return Reply(req, EncodeApplications(apps, snap->index, snap->hashcode, format), format);
}

}  // namespace concierge::http
