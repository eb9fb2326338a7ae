// Writes the valid seeds of corpus/command and corpus/snapshot (the near-valid ones are
// truncations and flipped bytes of these). Not part of the build; run from tests/fuzz:
//   c++ -std=c++20 -I../../src -I../../include make_seeds.cc ../../src/core/{catalog,codec,model,snapshot,time}.cc -o /tmp/make_seeds && /tmp/make_seeds
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
  api.service.tags.clear();
  catalog.Apply(api, 3);
  catalog.Apply(UpdateCheck{"service:web-2:1", HealthStatus::kCritical, "down", at}, 4);

  Write("corpus/command/register", EncodeCommand(Web("web-1", 1)));
  Write("corpus/command/register_two_checks", EncodeCommand(Web("web-3", 2)));
  Write("corpus/command/register_bare", EncodeCommand(RegisterService{{"db", "db"}, {}, at}));
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
  return 0;
}
