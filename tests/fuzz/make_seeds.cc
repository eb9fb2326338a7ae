// Writes the valid seeds of corpus/command and corpus/snapshot (the near-valid ones are
// truncations and flipped bytes of these). Not part of the build; run from tests/fuzz:
//   c++ -std=c++20 -I../../src -I../../include make_seeds.cc
//   ../../src/core/{acl,catalog,codec,kv,model,snapshot,text,time,utf8}.cc -lfmt -lcrypto -o
//   /tmp/make_seeds && /tmp/make_seeds
#include <fstream>
#include <string>

#include "core/catalog.h"
#include "core/codec.h"

using namespace concierge::core;

namespace {

void Write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

RegisterService Web(const std::string& id, int checks) {
  RegisterService r;
  r.service.id = id;
  r.service.name = "web";
  r.service.tags = {"primary", "v1"};
  r.service.address = "10.0.0.1";
  r.service.port = 8080;
  r.service.meta = {{"env", "prod"}, {"version", "1.2"}};
  r.service.weights = {10, 1};
  for (int i = 0; i < checks; ++i) {
    CheckDefinition c;
    c.id = "service:" + id + (checks > 1 ? ":" + std::to_string(i + 1) : "");
    c.name = "ttl";
    c.notes = "heartbeat";
    c.ttl = std::chrono::seconds(10);
    c.deregister_critical_after = std::chrono::minutes(1);
    c.initial_status = HealthStatus::kPassing;
    c.initial_output = "ok";
    r.checks.push_back(c);
  }
  r.at = Time(std::chrono::seconds(1'700'000'000));
  return r;
}

}  // namespace

int main() {
  Time at(std::chrono::seconds(1'700'000'001));
  Catalog catalog;
  catalog.Apply(Web("web-1", 1), 1);
  catalog.Apply(Web("web-2", 2), 2);
  RegisterService api = Web("api", 1);
  api.service.name = "api";
  api.service.tags = {};
  catalog.Apply(api, 3);
  catalog.Apply(UpdateCheck{"service:web-2:1", HealthStatus::kCritical, "down", at}, 4);

  Write("corpus/command/register", EncodeCommand(Web("web-1", 1)));
  Write("corpus/command/register_two_checks", EncodeCommand(Web("web-3", 2)));
  RegisterService bare;
  bare.service.id = "db";
  bare.service.name = "db";
  bare.at = at;
  Write("corpus/command/register_bare", EncodeCommand(bare));
  Write("corpus/command/deregister", EncodeCommand(DeregisterService{"web-1", at}));
  Write("corpus/command/update_check",
        EncodeCommand(UpdateCheck{"service:web-1", HealthStatus::kWarning, "slow", at}));
  Write("corpus/command/reap", EncodeCommand(ReapService{"web-2", at}));
  Write("corpus/command/restore", EncodeCommand(RestoreSnapshot{catalog.EncodeSnapshot(), at}));
  std::string truncated = EncodeCommand(Web("web-1", 1));
  Write("corpus/command/register_truncated", truncated.substr(0, truncated.size() - 3));

  Write("corpus/snapshot/empty", Catalog().EncodeSnapshot());
  Write("corpus/snapshot/three_instances", catalog.EncodeSnapshot());
  Catalog one;
  one.Apply(Web("web-1", 1), 7);
  Write("corpus/snapshot/one_instance", one.EncodeSnapshot());
  std::string snap = catalog.EncodeSnapshot();
  Write("corpus/snapshot/truncated", snap.substr(0, snap.size() / 2));

  // ACL commands, and a snapshot that carries ACL state (format 3).
  AclToken root;
  root.accessor_id = "root";
  root.secret_hash = std::string(kSecretHashBytes, 'r');
  AclPolicy web;
  web.id = "p-web";
  web.name = "web-writer";
  web.rules.rules = {{AclResource::kService, false, "web", AclAccess::kWrite},
                     {AclResource::kNode, true, "", AclAccess::kRead}};
  web.rules.operator_access = AclAccess::kRead;
  AclToken token = root;
  token.accessor_id = "t-web";
  token.secret_hash = std::string(kSecretHashBytes, 'w');
  token.policy_ids = {"p-web"};
  Write("corpus/command/acl_bootstrap", EncodeCommand(AclBootstrap{root, at}));
  Write("corpus/command/acl_set_policy", EncodeCommand(AclSetPolicy{web, true, at}));
  Write("corpus/command/acl_delete_policy", EncodeCommand(AclDeletePolicy{"p-web", at}));
  Write("corpus/command/acl_set_token", EncodeCommand(AclSetToken{token, true, at}));
  Write("corpus/command/acl_delete_token", EncodeCommand(AclDeleteToken{"t-web", at}));
  catalog.Apply(AclBootstrap{root, at}, 5);
  catalog.Apply(AclSetPolicy{web, true, at}, 6);
  catalog.Apply(AclSetToken{token, true, at}, 7);
  Write("corpus/snapshot/acl", catalog.EncodeSnapshot());

  // The KV store and sessions (format 6): a session, a lock it holds, a transaction.
  Session session;
  session.id = "s-1";
  session.node = "node-1";
  session.node_checks = {"serfHealth"};
  session.ttl = std::chrono::seconds(15);
  auto op = [](KvOp::Verb verb, std::string key, std::string session_id = "") {
    KvOp o;
    o.verb = verb;
    o.key = std::move(key);
    o.value = "v";
    o.session = std::move(session_id);
    return o;
  };
  KvWrite lock{{op(KvOp::Verb::kLock, "service/leader", "s-1")}, at};
  KvWrite txn{{op(KvOp::Verb::kSet, "a"), op(KvOp::Verb::kCas, "b"),
               op(KvOp::Verb::kCheckIndex, "a"), op(KvOp::Verb::kDeleteTree, "c/")},
              at};
  Write("corpus/command/session_create", EncodeCommand(SessionCreate{session, at}));
  Write("corpus/command/session_destroy", EncodeCommand(SessionDestroy{"s-1", true, at}));
  Write("corpus/command/kv_lock", EncodeCommand(lock));
  Write("corpus/command/kv_txn", EncodeCommand(txn));
  catalog.Apply(SessionCreate{session, at}, 8);
  catalog.Apply(lock, 9);
  catalog.Apply(txn, 10);
  Write("corpus/snapshot/kv", catalog.EncodeSnapshot());
  return 0;
}
