// Consul's KV store, transactions and sessions over the registry (issue 19, docs/kv.md):
// reads from the published KvView, writes as core::KvWrite / SessionCreate / SessionDestroy
// commands through the log, session renewals as heartbeats.
#include <algorithm>

#include "core/acl.h"
#include "http/acl_api.h"
#include "http/consul_api.h"
#include "http/kv_json.h"

namespace concierge::http {

namespace asio = boost::asio;
using core::AclResource;
using core::KvOp;
using P = core::AclAuthorizer::Permission;

namespace {

bool Allowed(const Request& req, AclResource resource, std::string_view name, P p) {
  return req.acl == nullptr || !req.acl->enforcing() || req.acl->Allowed(resource, name, p);
}

// "?flags=", "?cas=": an unsigned integer, or why not.
// Consul answers a missing key with an empty 404 (its clients read the status only); the
// body says what was missing, for people.
Response NoKey(std::string_view key, bool prefix) {
  return Response::Error(404, prefix ? "no key under \"" + std::string(key) + "\""
                                     : "no key \"" + std::string(key) + "\"");
}

// The entries under `prefix` in key order (all of them for "").
template <typename F>
void ForEachUnder(const core::KvEntries& entries, std::string_view prefix, F&& f) {
  for (auto it = entries.LowerBound(prefix); it != entries.end() && (*it)->key.starts_with(prefix);
       ++it) {
    f(**it);
  }
}

}  // namespace

asio::awaitable<Response> ConsulApi::KvRead(Request& req, std::string_view key_param) {
  const std::string key(key_param);
  const bool keys = req.Has("keys");
  const bool recurse = req.Has("recurse") || keys;
  if (key.empty() && !recurse) co_return Response::Error(400, "Missing key name");
  // A key's index is its own ModifyIndex (or the last delete); a prefix's the largest under
  // it. Every KV change wakes the watchers, and each compares its own.
  std::function<core::Index()> current = [&] {
    auto view = registry_.Kv();
    if (recurse) return view->PrefixIndex(key);
    // A key that is there: its own ModifyIndex, as Consul (a delete elsewhere does not make
    // its watchers read it again); a missing one: the last delete, which may have been it.
    const auto* e = view->entries.Find(key);
    core::Index own = e == nullptr ? view->last_delete : (*e)->modify_index;
    return std::max<core::Index>({1, own, view->floor});
  };
  std::string watch(server::WatchHub::kKvKey);
  if (auto error = co_await Block(req, std::move(watch), current)) co_return std::move(*error);
  auto view = registry_.Kv();
  const core::Index index = current();
  bool filtered = false;
  if (keys) {
    // Keys under the prefix, each cut after the first separator past the prefix (a
    // "directory"), listed once.
    std::string_view separator = req.Query("separator").value_or("");
    std::vector<std::string> out;
    ForEachUnder(view->entries, key, [&](const core::KvEntry& e) {
      if (!Allowed(req, AclResource::kKey, e.key, P::kRead)) {
        filtered = true;
        return;
      }
      std::string_view k = e.key;
      if (!separator.empty()) {
        std::size_t at = k.find(separator, key.size());
        if (at != std::string_view::npos) k = k.substr(0, at + separator.size());
      }
      if (out.empty() || out.back() != k) out.emplace_back(k);
    });
    if (out.empty()) co_return Filtered(WithIndex(NoKey(key, true), index), filtered);
    co_return Filtered(WithIndex(Response::Json(EncodeKeys(out)), index), filtered);
  }
  std::vector<const core::KvEntry*> found;
  if (recurse) {
    ForEachUnder(view->entries, key, [&](const core::KvEntry& e) {
      if (Allowed(req, AclResource::kKey, e.key, P::kRead)) {
        found.push_back(&e);
      } else {
        filtered = true;
      }
    });
  } else if (const auto* e = view->entries.Find(key)) {
    found.push_back(e->get());
  }
  if (found.empty()) co_return Filtered(WithIndex(NoKey(key, recurse), index), filtered);
  if (req.Has("raw")) {
    co_return WithIndex(Response{200, "application/octet-stream", found.front()->value, {}}, index);
  }
  co_return Filtered(WithIndex(Response::Json(EncodeKvEntries(found)), index), filtered);
}

asio::awaitable<Response> ConsulApi::KvWrite(Request& req, std::string_view key) {
  KvOp op;
  op.key = std::string(key);
  if (req.method == "DELETE") {
    if (req.Has("recurse")) {
      op.verb = KvOp::Verb::kDeleteTree;
    } else if (req.Has("cas")) {
      auto cas = req.QueryUint("cas");
      if (!cas.ok()) co_return FromStatus(cas.status());
      op.verb = KvOp::Verb::kDeleteCas;
      op.index = *cas;
    } else {
      op.verb = KvOp::Verb::kDelete;
    }
  } else {
    if (req.body.size() > core::KvLimits::kMaxValueBytes) {
      co_return Response::Error(
          413, "Request body(" + std::to_string(req.body.size()) + " bytes) too large, max size: " +
                   std::to_string(core::KvLimits::kMaxValueBytes) +
                   " bytes. See "
                   "https://developer.hashicorp.com/consul/docs/agent/config/config-files"
                   "#kv_max_value_size.");
    }
    auto flags = req.QueryUint("flags");
    if (!flags.ok()) co_return FromStatus(flags.status());
    op.flags = *flags;
    op.value = std::move(req.body);
    // As Consul reads them: release over acquire over cas.
    if (auto release = req.Query("release")) {
      op.verb = KvOp::Verb::kUnlock;
      op.session = std::string(*release);
    } else if (auto acquire = req.Query("acquire")) {
      op.verb = KvOp::Verb::kLock;
      op.session = std::string(*acquire);
    } else if (req.Has("cas")) {
      auto cas = req.QueryUint("cas");
      if (!cas.ok()) co_return FromStatus(cas.status());
      op.verb = KvOp::Verb::kCas;
      op.index = *cas;
    }
  }
  if (op.key.empty() && op.verb != KvOp::Verb::kDeleteTree) {
    co_return Response::Error(400, "Missing key name");
  }
  std::vector<KvOp> ops;
  ops.push_back(std::move(op));
  if (auto refused = KvOverQuota(ops)) co_return std::move(*refused);
  core::Command command = core::KvWrite{std::move(ops), {}};
  Result<core::Index> result = co_await state_.Submit(std::move(command));
  // A stale CAS, a lock held by another session: false, as Consul answers.
  if (!result.ok() && !core::ParseKvConflict(result.status())) {
    co_return FromStatus(result.status());
  }
  co_return WithIndex(Response::Json(result.ok() ? "true" : "false"),
                      result.ok() ? *result : registry_.index());
}

std::optional<Response> ConsulApi::KvOverQuota(const std::vector<KvOp>& ops) const {
  if (options_.max_kv_bytes == 0) return std::nullopt;
  auto view = registry_.Kv();
  std::int64_t growth = 0;
  for (const KvOp& op : ops) {
    using V = KvOp::Verb;
    if (op.verb != V::kSet && op.verb != V::kCas && op.verb != V::kLock) continue;
    const auto* current = view->entries.Find(op.key);
    growth += static_cast<std::int64_t>(
                  core::KvEntry::Footprint(op.key.size(), op.value.size(), op.session.size())) -
              static_cast<std::int64_t>(current ? (*current)->Footprint() : 0);
  }
  if (growth <= 0 || view->bytes + static_cast<std::size_t>(growth) <= options_.max_kv_bytes) {
    return std::nullopt;
  }
  return Response::Error(429, "the KV store holds " + std::to_string(view->bytes) +
                                  " bytes, and this write would take it past its limit of " +
                                  std::to_string(options_.max_kv_bytes) +
                                  " (-max-kv-bytes); delete some keys or raise the limit");
}

asio::awaitable<Response> ConsulApi::Txn(Request& req) {
  auto ops = DecodeTxn(req.body);
  if (!ops.ok()) co_return FromStatus(ops.status());
  if (ops->size() > core::KvLimits::kMaxTxnOps) {
    co_return Response::Error(413, "Transaction contains too many operations (" +
                                       std::to_string(ops->size()) + " > " +
                                       std::to_string(core::KvLimits::kMaxTxnOps) + ")");
  }
  std::vector<core::KvFailure> denied;
  for (std::size_t i = 0; i < ops->size(); ++i) {
    const KvOp& op = (*ops)[i];
    if (!Allowed(req, AclResource::kKey, op.key, core::IsRead(op.verb) ? P::kRead : P::kWrite)) {
      denied.push_back({i, "Permission denied"});
    }
  }
  if (!denied.empty()) {
    Response r = Response::Json(EncodeTxnErrors(denied));
    r.status = 403;
    co_return r;
  }
  auto conflict = [&](const core::KvFailure& failure, core::Index index) {
    Response r = Response::Json(EncodeTxnErrors({failure}));
    r.status = 409;
    return WithIndex(std::move(r), index);
  };
  std::shared_ptr<const server::KvView> view;
  core::Index index = 0;
  if (std::all_of(ops->begin(), ops->end(), [](const KvOp& op) { return core::IsRead(op.verb); })) {
    // Reads only: answered from one view of the store, without a log entry, as Consul does.
    view = registry_.Kv();
    index = std::max<core::Index>(1, view->index);
    if (auto failure = core::CheckReads(*ops, view->entries)) co_return conflict(*failure, index);
  } else {
    if (auto refused = KvOverQuota(*ops)) co_return std::move(*refused);
    core::Command command = core::KvWrite{*ops, {}};
    Result<core::Index> result = co_await state_.Submit(std::move(command));
    if (!result.ok()) {
      auto failure = core::ParseKvConflict(result.status());
      if (!failure) co_return FromStatus(result.status());
      co_return conflict(*failure, registry_.index());
    }
    // The results as the store stands once the transaction applied.
    view = registry_.Kv();
    index = *result;
  }
  const std::vector<KvOp>& kept = *ops;
  std::vector<std::vector<const core::KvEntry*>> results(kept.size());
  for (std::size_t i = 0; i < kept.size(); ++i) {
    const KvOp& op = kept[i];
    using V = KvOp::Verb;
    if (op.verb == V::kGetTree) {
      ForEachUnder(view->entries, op.key, [&](const core::KvEntry& e) {
        if (Allowed(req, AclResource::kKey, e.key, P::kRead)) results[i].push_back(&e);
      });
    } else if (op.verb != V::kDelete && op.verb != V::kDeleteTree && op.verb != V::kDeleteCas &&
               op.verb != V::kCheckNotExists) {
      if (const auto* e = view->entries.Find(op.key)) results[i].push_back(e->get());
    }
  }
  co_return WithIndex(Response::Json(EncodeTxnResults(kept, results)), index);
}

asio::awaitable<Response> ConsulApi::SessionCreate(Request& req) {
  auto session = DecodeSessionCreate(req.body, options_.node.name);
  if (!session.ok()) co_return FromStatus(session.status());
  if (const std::size_t open = registry_.Kv()->sessions.size();
      options_.max_sessions > 0 && open >= options_.max_sessions) {
    co_return Response::Error(429, "the registry holds " + std::to_string(open) +
                                       " sessions, its limit (-max-sessions); destroy some or "
                                       "raise the limit");
  }
  session->id = NewUuid();
  std::string id = session->id;
  core::Command command = core::SessionCreate{std::move(*session), {}};
  Result<core::Index> result = co_await state_.Submit(std::move(command));
  if (!result.ok()) co_return FromStatus(result.status());
  co_return WithIndex(Response::Json("{\"ID\":" + EncodeString(id) + "}"), *result);
}

asio::awaitable<Response> ConsulApi::SessionDestroy(std::string_view id) {
  core::Command command = core::SessionDestroy{std::string(id), false, {}};
  Result<core::Index> result = co_await state_.Submit(std::move(command));
  if (!result.ok()) co_return FromStatus(result.status());
  co_return WithIndex(Response::Json("true"), *result);
}

Response ConsulApi::SessionRenew(std::string_view id) {
  auto view = registry_.Kv();
  const auto* found = view->sessions.Find(id);
  if (found == nullptr) {
    return Response::Error(404, "Session id '" + std::string(id) + "' not found");
  }
  const core::Session& session = **found;
  // A session without a TTL has nothing to renew; with one, this is its heartbeat.
  if (session.ttl > core::Duration::zero()) registry_.RenewSession(id);
  return WithIndex(Response::Json(EncodeSessions({&session})), view->sessions_index);
}

asio::awaitable<Response> ConsulApi::SessionRead(Request& req, Endpoint which,
                                                 std::string_view param) {
  std::function<core::Index()> current = [&] {
    return std::max<core::Index>(1, registry_.Kv()->sessions_index);
  };
  std::string watch(server::WatchHub::kSessionsKey);
  if (auto error = co_await Block(req, std::move(watch), current)) co_return std::move(*error);
  auto view = registry_.Kv();
  std::vector<const core::Session*> out;
  bool filtered = false;
  auto add = [&](const core::Session& s) {
    if (Allowed(req, AclResource::kSession, s.node, P::kRead)) {
      out.push_back(&s);
    } else {
      filtered = true;
    }
  };
  if (which == Endpoint::kSessionInfo) {
    if (const auto* found = view->sessions.Find(param)) add(**found);
  } else {
    for (const auto& s : view->sessions) {
      if (which == Endpoint::kSessionList || s->node == param) add(*s);
    }
  }
  co_return Filtered(WithIndex(Response::Json(EncodeSessions(out)), current()), filtered);
}

}  // namespace concierge::http
