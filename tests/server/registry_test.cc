#include "server/registry.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "server/clock.h"
#include "server/watch_hub.h"

namespace concierge::server {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using core::CheckDefinition;
using core::Command;
using core::Duration;
using core::HealthStatus;
using core::Index;
using core::RegisterService;

const std::string kCheck = "service:web-1";

CheckDefinition Ttl(std::string id, Duration ttl, HealthStatus initial,
                    Duration deregister_after = Duration::zero()) {
  CheckDefinition c;
  c.id = std::move(id);
  c.ttl = ttl;
  c.initial_status = initial;
  c.deregister_critical_after = deregister_after;
  return c;
}

RegisterService Reg(std::string id, std::string name, std::vector<CheckDefinition> checks = {},
                    std::vector<std::string> tags = {}) {
  RegisterService r;
  r.service.id = std::move(id);
  r.service.name = std::move(name);
  r.service.tags = core::TagList(tags.begin(), tags.end());
  r.checks = std::move(checks);
  return r;
}

core::UpdateCheck Update(std::string check_id, HealthStatus status, std::string output = "") {
  return core::UpdateCheck{std::move(check_id), status, std::move(output), {}};
}

class RegistryTest : public ::testing::Test {
 protected:
  RegistryTest() { spdlog::set_level(spdlog::level::warn); }

  void Use(RegistryOptions options) {
    registry_ = std::make_unique<Registry>(clock_, options, &hub_, metrics_);
  }
  Registry& registry() { return *registry_; }

  // Applies `command` as the agent would: prepared (time, defaults), then applied.
  Result<Index> Apply(Command command) {
    return registry_->Apply(registry_->Prepare(std::move(command)));
  }
  void MustApply(Command command) {
    auto r = Apply(std::move(command));
    ASSERT_TRUE(r.ok()) << r.status().message();
  }
  void Advance(Duration d) {
    clock_.Advance(d);
    registry_->RunTimers();
  }
  // The status of a check as readers see it, or nullopt if its instance is gone.
  std::optional<HealthStatus> Status(const std::string& service_id,
                                     const std::string& check_id = kCheck) {
    auto inst = registry_->Instance(service_id);
    if (!inst) return std::nullopt;
    const core::Check* c = inst->FindCheck(check_id);
    EXPECT_NE(c, nullptr);
    return c ? std::optional(c->status) : std::nullopt;
  }
  // Registers web-1 with one TTL check.
  void RegisterWeb(Duration ttl = 10s, HealthStatus initial = HealthStatus::kPassing,
                   Duration deregister_after = Duration::zero()) {
    MustApply(Reg("web-1", "web", {Ttl(kCheck, ttl, initial, deregister_after)}));
  }

  FakeClock clock_;
  Metrics metrics_;
  // Before the hub: a waiter left parked by a failed test is destroyed with its context.
  asio::io_context ctx_;
  WatchHub hub_;
  std::unique_ptr<Registry> registry_ =
      std::make_unique<Registry>(clock_, RegistryOptions{}, &hub_, metrics_);
};

TEST_F(RegistryTest, HeartbeatsKeepATtlCheckPassing) {
  RegisterWeb();
  EXPECT_EQ(registry().tracked_checks(), 1u);
  EXPECT_EQ(Status("web-1"), HealthStatus::kPassing);
  for (int i = 0; i < 20; ++i) {
    clock_.Advance(9s);
    EXPECT_EQ(registry().Heartbeat(kCheck), HealthStatus::kPassing);
    registry().RunTimers();
    EXPECT_EQ(Status("web-1"), HealthStatus::kPassing) << "after " << i + 1 << " heartbeats";
  }
}

TEST_F(RegistryTest, NoHeartbeatExpiresExactlyAtTheTtl) {
  RegisterWeb();
  Index before = registry().ServiceIndex("web");
  Advance(10s - 1ns);
  EXPECT_EQ(Status("web-1"), HealthStatus::kPassing);
  EXPECT_EQ(registry().ServiceIndex("web"), before);
  Advance(1ns);
  EXPECT_EQ(Status("web-1"), HealthStatus::kCritical);
  auto inst = registry().Instance("web-1");
  EXPECT_EQ(inst->checks[0].output, "TTL expired: no heartbeat for 10s");
  EXPECT_EQ(inst->checks[0].status_since, clock_.Now());
  EXPECT_GT(registry().ServiceIndex("web"), before);
  EXPECT_EQ(*registry().Service("web")->instances.begin(), inst);
  // A critical check is not timed again until it passes.
  EXPECT_EQ(registry().NextTimer(), std::nullopt);
}

TEST_F(RegistryTest, HeartbeatExactlyAtTheDeadlineKeepsItAlive) {
  RegisterWeb();
  clock_.Advance(10s);
  EXPECT_EQ(registry().Heartbeat(kCheck), HealthStatus::kPassing);
  registry().RunTimers();
  EXPECT_EQ(Status("web-1"), HealthStatus::kPassing);
  EXPECT_EQ(registry().NextTimer(), 10s);
  Advance(10s - 1ns);
  EXPECT_EQ(Status("web-1"), HealthStatus::kPassing);
  Advance(1ns);
  EXPECT_EQ(Status("web-1"), HealthStatus::kCritical);
}

TEST_F(RegistryTest, HeartbeatOnCriticalCheckReportsItAndTheTransitionReArmsExpiry) {
  RegisterWeb();
  Advance(10s);
  ASSERT_EQ(Status("web-1"), HealthStatus::kCritical);

  clock_.Advance(5s);
  EXPECT_EQ(registry().Heartbeat(kCheck), HealthStatus::kCritical);
  // The caller submits the transition, as the HTTP handler does.
  MustApply(Update(kCheck, HealthStatus::kPassing, "heartbeat received"));
  EXPECT_EQ(Status("web-1"), HealthStatus::kPassing);
  EXPECT_EQ(registry().Heartbeat(kCheck), HealthStatus::kPassing);
  EXPECT_EQ(registry().NextTimer(), 10s);

  Advance(10s - 1ns);
  EXPECT_EQ(Status("web-1"), HealthStatus::kPassing);
  Advance(1ns);
  EXPECT_EQ(Status("web-1"), HealthStatus::kCritical);
}

TEST_F(RegistryTest, CheckRegisteredCriticalIsNotTimedUntilItPasses) {
  RegisterWeb(10s, HealthStatus::kCritical);
  EXPECT_EQ(registry().NextTimer(), std::nullopt);
  Advance(1h);
  EXPECT_EQ(Status("web-1"), HealthStatus::kCritical);
  EXPECT_EQ(registry().Heartbeat(kCheck), HealthStatus::kCritical);
  MustApply(Update(kCheck, HealthStatus::kPassing));
  EXPECT_EQ(registry().NextTimer(), 10s);
  Advance(10s);
  EXPECT_EQ(Status("web-1"), HealthStatus::kCritical);
}

TEST_F(RegistryTest, WarningCheckExpiresLikeAPassingOne) {
  RegisterWeb(10s, HealthStatus::kWarning);
  EXPECT_EQ(registry().Heartbeat(kCheck), HealthStatus::kWarning);
  Advance(10s);
  EXPECT_EQ(Status("web-1"), HealthStatus::kCritical);
}

TEST_F(RegistryTest, FailThenHeartbeatKeepsTheOriginalTimer) {
  RegisterWeb();
  clock_.Advance(2s);
  MustApply(Update(kCheck, HealthStatus::kCritical, "failed by operator"));
  clock_.Advance(1s);
  EXPECT_EQ(registry().Heartbeat(kCheck), HealthStatus::kCritical);
  MustApply(Update(kCheck, HealthStatus::kPassing));
  // The heartbeat at 3s moves the deadline to 13s; the entry armed for 10s re-arms lazily.
  Advance(7s);
  EXPECT_EQ(Status("web-1"), HealthStatus::kPassing);
  EXPECT_EQ(registry().NextTimer(), 3s);
  Advance(3s - 1ns);
  EXPECT_EQ(Status("web-1"), HealthStatus::kPassing);
  Advance(1ns);
  EXPECT_EQ(Status("web-1"), HealthStatus::kCritical);
}

TEST_F(RegistryTest, UnknownCheckHeartbeatIsNullopt) {
  EXPECT_EQ(registry().Heartbeat("nope"), std::nullopt);
  RegisterWeb();
  MustApply(core::DeregisterService{"web-1", {}});
  EXPECT_EQ(registry().Heartbeat(kCheck), std::nullopt);
  EXPECT_EQ(registry().tracked_checks(), 0u);
}

TEST_F(RegistryTest, PerCheckGraceReapsAtTheRightTimeAndNotBefore) {
  RegisterWeb(10s, HealthStatus::kPassing, 1min);
  Advance(10s);
  ASSERT_EQ(Status("web-1"), HealthStatus::kCritical);
  EXPECT_EQ(registry().NextTimer(), 1min);
  Advance(1min - 1ns);
  EXPECT_EQ(Status("web-1"), HealthStatus::kCritical);
  EXPECT_EQ(registry().NextTimer(), 1ns);
  Advance(1ns);
  EXPECT_EQ(Status("web-1"), std::nullopt);
  EXPECT_EQ(registry().Service("web"), nullptr);
  EXPECT_EQ(registry().instance_count(), 0u);
  EXPECT_EQ(registry().tracked_checks(), 0u);
  EXPECT_TRUE(registry().ServiceNames().empty());
  EXPECT_EQ(registry().NextTimer(), std::nullopt);
  EXPECT_EQ(registry().Heartbeat(kCheck), std::nullopt);
}

TEST_F(RegistryTest, CheckRegisteredCriticalIsReapedAfterItsGrace) {
  RegisterWeb(10s, HealthStatus::kCritical, 30s);
  EXPECT_EQ(registry().NextTimer(), 30s);
  Advance(30s - 1ns);
  EXPECT_EQ(Status("web-1"), HealthStatus::kCritical);
  Advance(1ns);
  EXPECT_EQ(Status("web-1"), std::nullopt);
}

TEST_F(RegistryTest, AgentDefaultGraceAppliesToChecksWithoutOne) {
  Use(RegistryOptions{30s});
  RegisterWeb();
  MustApply(Reg("api-1", "api", {Ttl("service:api-1", 10s, HealthStatus::kPassing, 5min)}));
  EXPECT_EQ(registry().Instance("web-1")->checks[0].definition.deregister_critical_after, 30s);
  EXPECT_EQ(registry().Instance("api-1")->checks[0].definition.deregister_critical_after, 5min);

  Advance(10s);
  ASSERT_EQ(Status("web-1"), HealthStatus::kCritical);
  ASSERT_EQ(Status("api-1", "service:api-1"), HealthStatus::kCritical);
  Advance(30s - 1ns);
  EXPECT_EQ(Status("web-1"), HealthStatus::kCritical);
  Advance(1ns);
  EXPECT_EQ(Status("web-1"), std::nullopt);
  EXPECT_EQ(Status("api-1", "service:api-1"), HealthStatus::kCritical);
  Advance(5min - 30s);
  EXPECT_EQ(Status("api-1", "service:api-1"), std::nullopt);
}

TEST_F(RegistryTest, WithoutGraceACriticalInstanceStays) {
  RegisterWeb();
  Advance(10s);
  Advance(24h);
  EXPECT_EQ(Status("web-1"), HealthStatus::kCritical);
}

TEST_F(RegistryTest, RecoveredInstanceIsNotReaped) {
  RegisterWeb(10s, HealthStatus::kPassing, 1min);
  Advance(10s);
  ASSERT_EQ(Status("web-1"), HealthStatus::kCritical);
  Advance(20s);
  ASSERT_EQ(registry().Heartbeat(kCheck), HealthStatus::kCritical);
  MustApply(Update(kCheck, HealthStatus::kPassing));
  // Keep it alive well past the reap deadline the first failure scheduled (70s).
  for (int i = 0; i < 20; ++i) {
    clock_.Advance(5s);
    EXPECT_EQ(registry().Heartbeat(kCheck), HealthStatus::kPassing);
    registry().RunTimers();
  }
  EXPECT_EQ(Status("web-1"), HealthStatus::kPassing);

  // A second failure gets a grace of its own, counted from when it happened.
  Advance(10s);
  ASSERT_EQ(Status("web-1"), HealthStatus::kCritical);
  Advance(1min - 1ns);
  EXPECT_EQ(Status("web-1"), HealthStatus::kCritical);
  Advance(1ns);
  EXPECT_EQ(Status("web-1"), std::nullopt);
}

// Issue 18: every transition to critical scheduled a reap that stayed until its time, then
// proposed a reap that did nothing: a flapping check grew the heap and the Raft log.
TEST_F(RegistryTest, AFlappingCheckKeepsOneReapEntryAndProposesNoReap) {
  RegisterWeb(10s, HealthStatus::kPassing, 1min);
  std::vector<Command> proposed;
  std::size_t reaps = 0;
  registry().set_proposer([&](Command c) { proposed.push_back(std::move(c)); });
  auto apply_proposed = [&] {
    for (Command& c : std::exchange(proposed, {})) {
      if (std::holds_alternative<core::ReapService>(c)) ++reaps;
      ASSERT_TRUE(Apply(std::move(c)).ok());
    }
  };
  for (int i = 0; i < 500; ++i) {
    Advance(10s);
    apply_proposed();
    ASSERT_EQ(Status("web-1"), HealthStatus::kCritical);
    MustApply(Update(kCheck, HealthStatus::kPassing));
  }
  EXPECT_LE(registry().scheduled_reaps(), 2u + 64u);
  // Kept alive past every deadline those failures scheduled: nothing to reap, nothing proposed.
  for (int i = 0; i < 30; ++i) {
    clock_.Advance(5s);
    registry().Heartbeat(kCheck);
    registry().RunTimers();
    apply_proposed();
  }
  EXPECT_EQ(reaps, 0u);
  EXPECT_EQ(Status("web-1"), HealthStatus::kPassing);
  // The last failure still gets its grace.
  Advance(10s);
  apply_proposed();
  ASSERT_EQ(Status("web-1"), HealthStatus::kCritical);
  Advance(1min);
  apply_proposed();
  EXPECT_EQ(reaps, 1u);
  EXPECT_EQ(Status("web-1"), std::nullopt);
}

// Issue 18, Consul's check_update_interval: an update that changes nothing is no write, and
// output alone is written at most once per interval, the latest when the interval is up.
TEST_F(RegistryTest, OutputOnlyUpdatesAreWrittenOncePerInterval) {
  Use(RegistryOptions{.check_update_interval = 5min});
  RegisterWeb(1h);
  std::vector<Command> proposed;
  registry().set_proposer([&](Command c) { proposed.push_back(std::move(c)); });
  auto output = [&] { return registry().Instance("web-1")->checks[0].output.str(); };
  EXPECT_TRUE(registry().AbsorbUpdate(Update(kCheck, HealthStatus::kPassing)));
  // The first output change goes through, the next ones within 5 minutes wait.
  EXPECT_FALSE(registry().AbsorbUpdate(Update(kCheck, HealthStatus::kPassing, "load 1")));
  MustApply(Update(kCheck, HealthStatus::kPassing, "load 1"));
  EXPECT_TRUE(registry().AbsorbUpdate(Update(kCheck, HealthStatus::kPassing, "load 1")));
  clock_.Advance(1min);
  EXPECT_TRUE(registry().AbsorbUpdate(Update(kCheck, HealthStatus::kPassing, "load 2")));
  EXPECT_TRUE(registry().AbsorbUpdate(Update(kCheck, HealthStatus::kPassing, "load 3")));
  EXPECT_EQ(output(), "load 1");
  EXPECT_EQ(registry().NextTimer(), 4min);
  Advance(4min - 1ns);
  EXPECT_TRUE(proposed.empty());
  Advance(1ns);
  ASSERT_EQ(proposed.size(), 1u);
  EXPECT_EQ(std::get<core::UpdateCheck>(proposed[0]).output, "load 3");
  MustApply(proposed[0]);
  EXPECT_EQ(output(), "load 3");
  // A status change always goes through, with its output, and drops what was waiting.
  clock_.Advance(1s);
  EXPECT_TRUE(registry().AbsorbUpdate(Update(kCheck, HealthStatus::kPassing, "load 4")));
  EXPECT_FALSE(registry().AbsorbUpdate(Update(kCheck, HealthStatus::kWarning, "disk 91%")));
  MustApply(Update(kCheck, HealthStatus::kWarning, "disk 91%"));
  proposed.clear();
  Advance(10min);
  EXPECT_TRUE(proposed.empty());
  EXPECT_EQ(output(), "disk 91%");
}

TEST_F(RegistryTest, StaleExpiryOfAReusedSlotIsIgnored) {
  RegisterWeb();
  clock_.Advance(5s);
  MustApply(core::DeregisterService{"web-1", {}});
  registry().Collect();  // frees the slot, so that the next check takes it
  RegisterWeb();
  // The first registration's entry comes due at 10s; the new check lives until 15s.
  Advance(5s);
  EXPECT_EQ(Status("web-1"), HealthStatus::kPassing);
  Advance(5s - 1ns);
  EXPECT_EQ(Status("web-1"), HealthStatus::kPassing);
  Advance(1ns);
  EXPECT_EQ(Status("web-1"), HealthStatus::kCritical);
}

TEST_F(RegistryTest, RedefinedTtlTakesEffectFromTheReRegistration) {
  RegisterWeb(10s);
  Advance(10s);
  ASSERT_EQ(Status("web-1"), HealthStatus::kCritical);
  Advance(1min);
  RegisterWeb(30s);
  EXPECT_EQ(Status("web-1"), HealthStatus::kPassing);
  EXPECT_EQ(registry().tracked_checks(), 1u);
  EXPECT_EQ(registry().NextTimer(), 30s);
  Advance(30s - 1ns);
  EXPECT_EQ(Status("web-1"), HealthStatus::kPassing);
  Advance(1ns);
  EXPECT_EQ(Status("web-1"), HealthStatus::kCritical);
}

TEST_F(RegistryTest, SameStatusRedefinitionRestartsTheTtl) {
  RegisterWeb(10s);
  clock_.Advance(8s);
  RegisterWeb(5s);
  Advance(5s - 1ns);
  EXPECT_EQ(Status("web-1"), HealthStatus::kPassing);
  Advance(1ns);
  EXPECT_EQ(Status("web-1"), HealthStatus::kCritical);
}

TEST_F(RegistryTest, IdenticalReRegistrationKeepsTheHeartbeatState) {
  RegisterWeb();
  Index index = registry().index();
  clock_.Advance(8s);
  RegisterWeb();
  EXPECT_EQ(registry().index(), index);
  Advance(2s);
  EXPECT_EQ(Status("web-1"), HealthStatus::kCritical);
}

TEST_F(RegistryTest, NextTimerReportsTheEarliestWork) {
  EXPECT_EQ(registry().NextTimer(), std::nullopt);
  RegisterWeb(10s, HealthStatus::kPassing, 1min);
  EXPECT_EQ(registry().NextTimer(), 10s);
  clock_.Advance(3s);
  EXPECT_EQ(registry().NextTimer(), 7s);
  MustApply(Reg("api-1", "api", {Ttl("service:api-1", 5s, HealthStatus::kCritical, 2s)}));
  EXPECT_EQ(registry().NextTimer(), 2s);
  clock_.Advance(1h);
  EXPECT_EQ(registry().NextTimer(), Duration::zero());
}

TEST_F(RegistryTest, PrepareStampsTimeAndDefaultGrace) {
  Use(RegistryOptions{45s});
  auto reg =
      Reg("web-1", "web",
          {Ttl("a", 10s, HealthStatus::kPassing), Ttl("b", 10s, HealthStatus::kPassing, 5s)});
  Command prepared = registry().Prepare(reg);
  const auto& r = std::get<RegisterService>(prepared);
  EXPECT_EQ(r.at, clock_.Now());
  EXPECT_EQ(r.checks[0].deregister_critical_after, 45s);
  EXPECT_EQ(r.checks[1].deregister_critical_after, 5s);
  clock_.Advance(1s);
  for (Command c :
       std::vector<Command>{core::DeregisterService{"x", {}}, Update("c", HealthStatus::kPassing),
                            core::ReapService{"x", {}}}) {
    Command p = registry().Prepare(c);
    std::visit([&](const auto& cmd) { EXPECT_EQ(cmd.at, clock_.Now()); }, p);
  }
}

TEST_F(RegistryTest, RefusedCommandChangesNothing) {
  RegisterWeb();
  Index index = registry().index();
  auto r = Apply(core::DeregisterService{"nope", {}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), concierge::Status::Code::kNotFound);
  r = Apply(Reg("web-2", "web", {Ttl(kCheck, 10s, HealthStatus::kPassing)}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), concierge::Status::Code::kConflict);
  EXPECT_EQ(registry().index(), index);
  EXPECT_EQ(registry().instance_count(), 1u);
  // The next accepted command still gets the next index.
  auto ok = Apply(Reg("api-1", "api"));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value(), index + 1);
}

TEST_F(RegistryTest, EmptyRegistryAnswersIndexOne) {
  EXPECT_EQ(registry().index(), 1u);
  EXPECT_EQ(registry().services_index(), 1u);
  EXPECT_EQ(registry().ServiceIndex("web"), 1u);
  EXPECT_EQ(registry().Service("web"), nullptr);
  EXPECT_EQ(registry().Instance("web-1"), nullptr);
  EXPECT_TRUE(registry().ServiceNames().empty());
  EXPECT_TRUE(registry().Instances().empty());
}

TEST_F(RegistryTest, FirstChangeIsNewerThanTheEmptyRegistry) {
  // A blocking query that started from the empty registry (index 1) must see the first change.
  auto r = Apply(Reg("web-1", "web"));
  ASSERT_TRUE(r.ok());
  EXPECT_GT(r.value(), 1u);
  EXPECT_GT(registry().index(), 1u);
  EXPECT_GT(registry().services_index(), 1u);
  EXPECT_GT(registry().ServiceIndex("web"), 1u);
}

TEST_F(RegistryTest, ViewsReflectApplies) {
  MustApply(Reg("web-2", "web", {}, {"b", "a"}));
  MustApply(Reg("web-1", "web", {}, {"a"}));
  MustApply(Reg("api-1", "api"));
  Index index = registry().index();
  EXPECT_EQ(registry().instance_count(), 3u);

  auto web = registry().Service("web");
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->name, "web");
  ASSERT_EQ(web->instances.size(), 2u);
  EXPECT_EQ((*web->instances.begin())->service.id, "web-1");
  EXPECT_EQ((*std::next(web->instances.begin()))->service.id, "web-2");
  EXPECT_EQ(registry().ServiceIndex("web"), web->index);
  EXPECT_EQ(registry().ServiceIndex("api"), index);
  EXPECT_LT(web->index, index);
  EXPECT_EQ(registry().Instance("web-2")->service.tags, (std::vector<core::Symbol>{"b", "a"}));

  using Names = std::vector<std::pair<std::string, std::vector<std::string>>>;
  EXPECT_EQ(registry().ServiceNames(), (Names{{"api", {}}, {"web", {"a", "b"}}}));
  std::vector<std::string> ids;
  for (const auto& inst : registry().Instances()) ids.push_back(inst->service.id.str());
  EXPECT_EQ(ids, (std::vector<std::string>{"api-1", "web-1", "web-2"}));

  // A held view is immutable; a new one is published on change.
  MustApply(core::DeregisterService{"web-2", {}});
  EXPECT_EQ(web->instances.size(), 2u);
  EXPECT_EQ(registry().Service("web")->instances.size(), 1u);
  EXPECT_EQ(registry().ServiceNames(), (Names{{"api", {}}, {"web", {"a"}}}));

  MustApply(core::DeregisterService{"api-1", {}});
  EXPECT_EQ(registry().Service("api"), nullptr);
  EXPECT_EQ(registry().Instance("api-1"), nullptr);
  // A name that does not exist answers with the index of the last change to the names.
  EXPECT_EQ(registry().ServiceIndex("api"), registry().services_index());
  EXPECT_EQ(registry().ServiceIndex("never"), registry().services_index());
  EXPECT_EQ(registry().services_index(), registry().index());
}

TEST_F(RegistryTest, RenamedInstanceMovesBetweenViews) {
  MustApply(Reg("x-1", "old", {Ttl("cx", 10s, HealthStatus::kPassing)}));
  MustApply(Reg("x-1", "new", {Ttl("cx", 10s, HealthStatus::kPassing)}));
  EXPECT_EQ(registry().Service("old"), nullptr);
  ASSERT_NE(registry().Service("new"), nullptr);
  EXPECT_EQ(registry().Instance("x-1")->service.name, "new");
  EXPECT_EQ(registry().tracked_checks(), 1u);
  EXPECT_EQ(registry().Heartbeat("cx"), HealthStatus::kPassing);
}

TEST_F(RegistryTest, OutputOnlyUpdateIsPublished) {
  RegisterWeb();
  MustApply(Update(kCheck, HealthStatus::kPassing, "v1"));
  Index before = registry().ServiceIndex("web");
  MustApply(Update(kCheck, HealthStatus::kPassing, "v2"));
  EXPECT_EQ(registry().Instance("web-1")->checks[0].output, "v2");
  EXPECT_EQ((*registry().Service("web")->instances.begin())->checks[0].output, "v2");
  EXPECT_GT(registry().ServiceIndex("web"), before);
  EXPECT_EQ(registry().ServiceIndex("web"), registry().index());
}

// Parks on `hub` until `key` is notified (the deadline is far away), then sets `*woke`.
asio::awaitable<void> WaitFor(WatchHub& hub, std::string key, std::function<bool()> passed,
                              bool* woke) {
  co_await hub.Wait(std::move(key), passed, std::chrono::steady_clock::now() + 1h);
  *woke = true;
}

TEST_F(RegistryTest, WatcherOfOneServiceIsNotWokenByAnother) {
  MustApply(Reg("a-1", "a", {Ttl("ca", 10s, HealthStatus::kPassing)}));
  MustApply(Reg("b-1", "b", {Ttl("cb", 10s, HealthStatus::kPassing)}));
  const Index a_index = registry().ServiceIndex("a");
  bool woke = false;
  asio::co_spawn(ctx_,
                 WaitFor(
                     hub_, "a", [&] { return registry().ServiceIndex("a") > a_index; }, &woke),
                 asio::detached);
  ctx_.poll();
  EXPECT_EQ(hub_.parked(), 1u);

  MustApply(Update("cb", HealthStatus::kCritical, "b fails"));
  MustApply(Reg("b-2", "b"));
  ctx_.poll();
  EXPECT_FALSE(woke);
  EXPECT_EQ(hub_.parked(), 1u);

  MustApply(Update("ca", HealthStatus::kWarning, "a is slow"));
  ctx_.poll();
  EXPECT_TRUE(woke);
  EXPECT_EQ(hub_.parked(), 0u);
}

TEST_F(RegistryTest, ExpiryWakesTheServiceWatcher) {
  RegisterWeb();
  const Index index = registry().ServiceIndex("web");
  bool woke = false;
  asio::co_spawn(ctx_,
                 WaitFor(
                     hub_, "web", [&] { return registry().ServiceIndex("web") > index; }, &woke),
                 asio::detached);
  ctx_.poll();
  ASSERT_EQ(hub_.parked(), 1u);
  Advance(10s - 1ns);
  ctx_.poll();
  EXPECT_FALSE(woke);
  Advance(1ns);
  ctx_.poll();
  EXPECT_TRUE(woke);
}

TEST_F(RegistryTest, CatalogWatcherWakesOnlyWhenNamesOrTagsChange) {
  Index index = registry().services_index();
  bool woke = false;
  auto spawn = [&] {
    woke = false;
    asio::co_spawn(ctx_,
                   WaitFor(
                       hub_, std::string(WatchHub::kCatalogKey),
                       [&] { return registry().services_index() > index; }, &woke),
                   asio::detached);
    ctx_.restart();  // the context stopped when the previous waiter finished
    ctx_.poll();
  };
  spawn();
  ASSERT_EQ(hub_.parked(), 1u);
  // The very first registration, from the empty registry.
  MustApply(Reg("web-1", "web", {Ttl(kCheck, 10s, HealthStatus::kPassing)}, {"a"}));
  ctx_.poll();
  EXPECT_TRUE(woke);

  index = registry().services_index();
  spawn();
  ASSERT_EQ(hub_.parked(), 1u);
  MustApply(Update(kCheck, HealthStatus::kCritical));
  MustApply(Reg("web-2", "web", {}, {"a"}));
  ctx_.poll();
  EXPECT_FALSE(woke);
  MustApply(Reg("web-2", "web", {}, {"a", "b"}));
  ctx_.poll();
  EXPECT_TRUE(woke);
  EXPECT_EQ(hub_.parked(), 0u);
}

TEST_F(RegistryTest, SinceHeartbeatCountsFromTheLastHeartbeatOrTheRegistration) {
  EXPECT_EQ(registry().SinceHeartbeat(kCheck), std::nullopt);
  RegisterWeb();
  EXPECT_EQ(registry().SinceHeartbeat(kCheck), Duration::zero());
  clock_.Advance(3s);
  EXPECT_EQ(registry().SinceHeartbeat(kCheck), Duration(3s));
  registry().Heartbeat(kCheck);
  clock_.Advance(250ms);
  EXPECT_EQ(registry().SinceHeartbeat(kCheck), Duration(250ms));
  MustApply(core::DeregisterService{"web-1", {}});
  EXPECT_EQ(registry().SinceHeartbeat(kCheck), std::nullopt);
}

TEST_F(RegistryTest, AnyKeyWatcherWakesOnEveryChangeButNotOnHeartbeats) {
  MustApply(Reg("a-1", "a", {Ttl("ca", 10s, HealthStatus::kPassing)}));
  Index index = registry().index();
  bool woke = false;
  asio::co_spawn(
      ctx_,
      WaitFor(
          hub_, std::string(WatchHub::kAnyKey), [&] { return registry().index() != index; }, &woke),
      asio::detached);
  ctx_.poll();
  ASSERT_EQ(hub_.parked(), 1u);
  registry().Heartbeat("ca");
  ctx_.poll();
  EXPECT_FALSE(woke);
  MustApply(Update("ca", HealthStatus::kWarning, "slow"));
  ctx_.poll();
  EXPECT_TRUE(woke);
  EXPECT_EQ(hub_.parked(), 0u);
}

// A new leader takes office on the same registry: what RaftLog does on an election (it
// proposes core::LeaderElected, applied here at once: no proposer).
class ElectionTest : public RegistryTest {
 protected:
  void Elect() {
    registry().SetLeader(false);
    registry().SetLeader(true);
  }
  // A heartbeat as the HTTP API sends it: a marked check has its mark cleared first.
  void Beat() {
    bool unheard = false;
    ASSERT_TRUE(registry().Heartbeat(kCheck, &unheard));
    if (unheard) MustApply(core::ChecksHeard{{kCheck}, {}});
  }
};

TEST_F(ElectionTest, RepeatedElectionsDoNotKeepADeadCheckAlive) {
  RegisterWeb(10s);  // then silent
  // A new leader every 3 s, faster than the TTL: each one alone would restart it.
  Duration elapsed{0};
  while (Status("web-1") == HealthStatus::kPassing && elapsed < 60s) {
    Advance(3s);
    elapsed += 3s;
    Elect();
  }
  // Marked at the first election (3 s); the leaders after it give it what is left of its TTL
  // since the mark: critical at 13 s, seen at the next step (15 s). The documented bound is
  // last heartbeat + 2 x TTL + grace (2 s) = 22 s.
  EXPECT_EQ(Status("web-1"), HealthStatus::kCritical);
  EXPECT_EQ(elapsed, 15s);
}

TEST_F(ElectionTest, AFirstElectionStillGivesTheWholeTtl) {
  RegisterWeb(10s);
  Advance(8s);
  Elect();  // the check is marked now: its TTL runs from here, as before
  Advance(9s);
  EXPECT_EQ(Status("web-1"), HealthStatus::kPassing);
  Advance(1s);
  EXPECT_EQ(Status("web-1"), HealthStatus::kCritical);
}

TEST_F(ElectionTest, ANewLeaderGivesAMarkedCheckAGraceToReachIt) {
  RegisterWeb(10s);
  Advance(1s);
  Elect();  // marked at 1 s
  Advance(9s);
  Elect();  // at 10 s: 1 s left since the mark, so the grace (2 s) decides: 12 s
  Advance(1900ms);
  EXPECT_EQ(Status("web-1"), HealthStatus::kPassing);
  Advance(100ms);
  EXPECT_EQ(Status("web-1"), HealthStatus::kCritical);
}

TEST_F(ElectionTest, AMarkedCheckIsNeverGivenMoreThanTtlPlusGraceAfterItsMark) {
  RegisterWeb(10s);
  Advance(1s);
  Elect();  // marked at 1 s
  registry().SetLeader(false);
  Advance(30s);  // no leader for 30 s
  registry().SetLeader(true);
  // 31 s > 1 s + TTL + grace: expired at once.
  Advance(1ms);
  EXPECT_EQ(Status("web-1"), HealthStatus::kCritical);
}

TEST_F(ElectionTest, HealthyChecksHeardInEveryTermNeverExpire) {
  RegisterWeb(3s);
  for (int step = 0; step < 100; ++step) {
    Advance(500ms);
    if (step % 3 == 0) Beat();   // every 1.5 s
    if (step % 5 == 4) Elect();  // every 2.5 s
    ASSERT_EQ(Status("web-1"), HealthStatus::kPassing) << "at step " << step;
  }
}

TEST_F(ElectionTest, TheFirstHeartbeatAfterAnElectionMustClearTheMark) {
  RegisterWeb(10s);
  Elect();
  bool unheard = false;
  registry().Heartbeat(kCheck, &unheard);
  EXPECT_TRUE(unheard);
  EXPECT_TRUE(registry().catalog().UnheardSince(kCheck).has_value());
  MustApply(core::ChecksHeard{{kCheck}, {}});
  registry().Heartbeat(kCheck, &unheard);
  EXPECT_FALSE(unheard);
  EXPECT_FALSE(registry().catalog().UnheardSince(kCheck).has_value());
}

TEST_F(ElectionTest, AHeartbeatBeforeLeaderElectedAppliesIsNotLost) {
  RegisterWeb(10s);
  std::vector<Command> proposed;
  registry().set_proposer([&](Command c) { proposed.push_back(std::move(c)); });
  Elect();
  ASSERT_EQ(proposed.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<core::LeaderElected>(proposed[0]));
  // Answered at once (not marked yet), then marked by the election: the registry clears
  // that mark itself, so that the next leader does not count the check as unheard.
  clock_.Advance(1ms);
  bool unheard = true;
  registry().Heartbeat(kCheck, &unheard);
  EXPECT_FALSE(unheard);
  Command elected = proposed[0];
  proposed.clear();
  ASSERT_TRUE(registry().Apply(elected).ok());
  ASSERT_EQ(proposed.size(), 1u);
  const auto* heard = std::get_if<core::ChecksHeard>(&proposed[0]);
  ASSERT_NE(heard, nullptr);
  EXPECT_EQ(heard->check_ids, std::vector<std::string>{kCheck});
}

TEST_F(RegistryTest, AclViewIsRepublishedWhenAclCommandsApplyAndOnRestore) {
  const std::string hash(core::kSecretHashBytes, 'h');
  core::AclToken root;
  root.accessor_id = "root";
  root.secret_hash = hash;
  EXPECT_TRUE(registry().Acl().tokens->Candidates(hash).empty());
  MustApply(core::AclBootstrap{root, {}});
  AclView view = registry().Acl();
  ASSERT_EQ(view.tokens->Candidates(hash).size(), 1u);
  EXPECT_TRUE(view.tokens->Candidates(hash)[0]->authorizer->AclAllowed(
      core::AclAuthorizer::Permission::kWrite));
  EXPECT_EQ(view.state->bootstrap_index(), registry().last_applied());
  // The ACL state travels in the Raft snapshot.
  Registry other(clock_, RegistryOptions{}, &hub_, metrics_);
  ASSERT_TRUE(other.Restore(registry().Snapshot()).ok());
  EXPECT_EQ(other.Acl().tokens->Candidates(hash).size(), 1u);
  EXPECT_EQ(other.Acl().state->bootstrap_index(), view.state->bootstrap_index());
}

CheckDefinition Alias(std::string id, std::string target) {
  CheckDefinition c;
  c.id = std::move(id);
  c.kind = core::CheckKind::kAlias;
  core::ActiveCheck a;
  a.target = std::move(target);
  c.active = core::SharedConst<core::ActiveCheck>(std::move(a));
  return c;
}

const core::Check* FindCheck(const Registry& registry, const std::string& service_id,
                             const std::string& check_id) {
  auto inst = registry.Instance(service_id);
  return inst ? inst->FindCheck(check_id) : nullptr;
}

TEST_F(RegistryTest, AnAliasCheckFollowsItsInstanceAtOnce) {
  // Registered before what it follows: critical, the service cannot be found.
  MustApply(Reg("api-1", "api", {Alias("api-alias", "web-1")}));
  EXPECT_EQ(Status("api-1", "api-alias"), HealthStatus::kCritical);
  RegisterWeb(10s, HealthStatus::kPassing);
  EXPECT_EQ(Status("api-1", "api-alias"), HealthStatus::kPassing);
  EXPECT_EQ(FindCheck(registry(), "api-1", "api-alias")->output, "All checks passing.");

  MustApply(Update(kCheck, HealthStatus::kWarning, "slow"));
  EXPECT_EQ(Status("api-1", "api-alias"), HealthStatus::kWarning);
  // A TTL expiry, decided by the registry itself, is followed too.
  Advance(11s);
  EXPECT_EQ(Status("web-1"), HealthStatus::kCritical);
  EXPECT_EQ(Status("api-1", "api-alias"), HealthStatus::kCritical);
  EXPECT_NE(FindCheck(registry(), "api-1", "api-alias")->output.view().find("Aliased check"),
            std::string::npos);
  EXPECT_EQ(registry().Heartbeat(kCheck), HealthStatus::kCritical);
  MustApply(Update(kCheck, HealthStatus::kPassing));
  EXPECT_EQ(Status("api-1", "api-alias"), HealthStatus::kPassing);

  MustApply(core::DeregisterService{"web-1", {}});
  EXPECT_EQ(Status("api-1", "api-alias"), HealthStatus::kCritical);
  EXPECT_EQ(FindCheck(registry(), "api-1", "api-alias")->output,
            "Service web-1 could not be found on this node");
}

TEST_F(RegistryTest, OnlyTheLeaderProposesAliasResultsAndANewLeaderCatchesUp) {
  RegisterWeb(10s, HealthStatus::kPassing);
  registry().SetLeader(false);
  MustApply(Reg("api-1", "api", {Alias("api-alias", "web-1")}));
  EXPECT_EQ(Status("api-1", "api-alias"), HealthStatus::kCritical);
  registry().SetLeader(true);
  EXPECT_EQ(Status("api-1", "api-alias"), HealthStatus::kPassing);
}

}  // namespace
}  // namespace concierge::server
