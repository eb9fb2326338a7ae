#include "core/catalog.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace concierge::core {

// Readable event kinds in failure messages.
void PrintTo(Event::Kind kind, std::ostream* os) {
  static const char* const kNames[] = {"ServiceRegistered", "ServiceUpdated", "ServiceDeregistered",
                                       "CheckAdded",        "CheckRemoved",   "CheckStatusChanged",
                                       "SessionEnded"};
  *os << kNames[static_cast<int>(kind)];
}

namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Kind = Event::Kind;

const Time kT0 = Time(std::chrono::seconds(1'700'000'000));

CheckDefinition Ttl(std::string id, Duration ttl = 10s,
                    HealthStatus initial = HealthStatus::kCritical,
                    Duration deregister_after = Duration::zero()) {
  CheckDefinition c;
  c.id = std::move(id);
  c.name = "TTL " + c.id;
  c.ttl = ttl;
  c.initial_status = initial;
  c.deregister_critical_after = deregister_after;
  return c;
}

RegisterService Reg(std::string id, std::string name, std::vector<CheckDefinition> checks = {},
                    std::vector<std::string> tags = {}, Time at = kT0) {
  RegisterService r;
  r.service.id = std::move(id);
  r.service.name = std::move(name);
  r.service.tags = TagList(tags.begin(), tags.end());
  r.service.address = "10.0.0.1";
  r.service.port = 8080;
  r.checks = std::move(checks);
  r.at = at;
  return r;
}

UpdateCheck Update(std::string check_id, HealthStatus status, std::string output = "",
                   Time at = kT0) {
  return UpdateCheck{std::move(check_id), status, std::move(output), at};
}

std::vector<Kind> Kinds(const std::vector<Event>& events) {
  std::vector<Kind> out;
  for (const Event& e : events) out.push_back(e.kind);
  return out;
}

// Applies `command` as the next index and expects it to succeed.
class CatalogTest : public ::testing::Test {
 protected:
  std::vector<Event> Ok(const Command& command) {
    auto result = catalog_.Apply(command, ++next_);
    EXPECT_TRUE(result.ok()) << result.status().message();
    return result.ok() ? result.value() : std::vector<Event>{};
  }
  Status Err(const Command& command) {
    Index before = catalog_.index();
    auto result = catalog_.Apply(command, next_ + 1);
    EXPECT_FALSE(result.ok());
    EXPECT_EQ(catalog_.index(), before);
    EXPECT_EQ(catalog_.Validate(command).code(), result.status().code());
    return result.status();
  }
  const Check& CheckOf(const std::string& service_id, const std::string& check_id) {
    const Instance* inst = catalog_.FindInstance(service_id);
    EXPECT_NE(inst, nullptr);
    const Check* c = inst->FindCheck(check_id);
    EXPECT_NE(c, nullptr);
    return *c;
  }

  Catalog catalog_;
  Index next_ = 0;
};

TEST_F(CatalogTest, RegisterCreatesInstanceChecksAndEvents) {
  auto reg = Reg("web-1", "web", {Ttl("c1", 10s, HealthStatus::kPassing)}, {"v1"});
  reg.checks[0].initial_output = "starting";
  auto events = Ok(reg);
  EXPECT_THAT(Kinds(events), ElementsAre(Kind::kServiceRegistered, Kind::kCheckAdded));
  EXPECT_EQ(events[0].service_name, "web");
  EXPECT_EQ(events[0].service_id, "web-1");
  EXPECT_EQ(events[1].check_id, "c1");
  EXPECT_EQ(events[1].new_status, HealthStatus::kPassing);

  const Instance* inst = catalog_.FindInstance("web-1");
  ASSERT_NE(inst, nullptr);
  EXPECT_EQ(inst->service, reg.service);
  EXPECT_EQ(inst->create_index, 1u);
  EXPECT_EQ(inst->modify_index, 1u);
  const Check& c = CheckOf("web-1", "c1");
  EXPECT_EQ(c.status, HealthStatus::kPassing);
  EXPECT_EQ(c.output, "starting");
  EXPECT_EQ(c.status_since, kT0);
  EXPECT_EQ(c.create_index, 1u);
  EXPECT_EQ(*catalog_.FindCheckOwner("c1"), "web-1");
  EXPECT_EQ(catalog_.FindInstancePtr("web-1").get(), inst);

  EXPECT_EQ(catalog_.index(), 1u);
  EXPECT_EQ(catalog_.services_index(), 1u);
  EXPECT_EQ(catalog_.instance_count(), 1u);
  const ServiceGroup* group = catalog_.FindService("web");
  ASSERT_NE(group, nullptr);
  EXPECT_EQ(group->index, 1u);
  EXPECT_EQ(group->instances.size(), 1u);
  EXPECT_EQ(group->tags.at("v1"), 1u);
}

TEST_F(CatalogTest, InitialStatusDefaultsToCritical) {
  Ok(Reg("web-1", "web", {Ttl("c1")}));
  EXPECT_EQ(CheckOf("web-1", "c1").status, HealthStatus::kCritical);
  EXPECT_EQ(catalog_.FindInstance("web-1")->AggregateStatus(), HealthStatus::kCritical);
}

TEST_F(CatalogTest, AggregateStatusIsTheWorstCheck) {
  Ok(Reg("web-1", "web"));
  EXPECT_EQ(catalog_.FindInstance("web-1")->AggregateStatus(), HealthStatus::kPassing);
  Ok(Reg("web-1", "web",
         {Ttl("a", 10s, HealthStatus::kPassing), Ttl("b", 10s, HealthStatus::kWarning)}));
  EXPECT_EQ(catalog_.FindInstance("web-1")->AggregateStatus(), HealthStatus::kWarning);
}

TEST_F(CatalogTest, IdenticalReRegistrationChangesNothing) {
  auto reg = Reg("web-1", "web", {Ttl("c1")}, {"v1"});
  Ok(reg);
  Ok(Update("c1", HealthStatus::kPassing, "ok", kT0 + 1s));
  reg.at = kT0 + 2s;
  EXPECT_TRUE(Ok(reg).empty());
  EXPECT_EQ(catalog_.index(), 2u);
  EXPECT_EQ(catalog_.services_index(), 1u);
  EXPECT_EQ(catalog_.FindService("web")->index, 2u);
  EXPECT_EQ(catalog_.FindInstance("web-1")->modify_index, 2u);
  // The unchanged check keeps the status it reached, not its initial one.
  const Check& c = CheckOf("web-1", "c1");
  EXPECT_EQ(c.status, HealthStatus::kPassing);
  EXPECT_EQ(c.output, "ok");
  EXPECT_EQ(c.status_since, kT0 + 1s);
}

TEST_F(CatalogTest, ReRegistrationWithChangedServiceBumpsIndexes) {
  auto reg = Reg("web-1", "web", {Ttl("c1", 10s, HealthStatus::kPassing)});
  Ok(reg);
  reg.service.port = 9090;
  auto events = Ok(reg);
  EXPECT_THAT(Kinds(events), ElementsAre(Kind::kServiceUpdated));
  const Instance* inst = catalog_.FindInstance("web-1");
  EXPECT_EQ(inst->service.port, 9090);
  EXPECT_EQ(inst->create_index, 1u);
  EXPECT_EQ(inst->modify_index, 2u);
  EXPECT_EQ(CheckOf("web-1", "c1").modify_index, 1u);
  EXPECT_EQ(catalog_.index(), 2u);
  EXPECT_EQ(catalog_.FindService("web")->index, 2u);
  // Same name, same tags: the list of services did not change.
  EXPECT_EQ(catalog_.services_index(), 1u);
}

TEST_F(CatalogTest, ReRegistrationKeepsStatusOnlyOfUnchangedChecks) {
  Ok(Reg("web-1", "web", {Ttl("a"), Ttl("b")}));
  Ok(Update("a", HealthStatus::kPassing, "a ok", kT0 + 1s));
  Ok(Update("b", HealthStatus::kPassing, "b ok", kT0 + 1s));

  auto events = Ok(Reg("web-1", "web", {Ttl("a"), Ttl("b", 30s)}, {}, kT0 + 5s));
  // The redefined check is removed and added again, so that a tracker takes its new TTL.
  ASSERT_THAT(Kinds(events), ElementsAre(Kind::kServiceUpdated, Kind::kCheckRemoved,
                                         Kind::kCheckAdded, Kind::kCheckStatusChanged));
  for (std::size_t i = 1; i < events.size(); ++i) EXPECT_EQ(events[i].check_id, "b");
  EXPECT_EQ(events[3].old_status, HealthStatus::kPassing);
  EXPECT_EQ(events[3].new_status, HealthStatus::kCritical);

  const Check& a = CheckOf("web-1", "a");
  EXPECT_EQ(a.status, HealthStatus::kPassing);
  EXPECT_EQ(a.output, "a ok");
  EXPECT_EQ(a.status_since, kT0 + 1s);
  EXPECT_EQ(a.modify_index, 2u);
  const Check& b = CheckOf("web-1", "b");
  EXPECT_EQ(b.definition.ttl, 30s);
  EXPECT_EQ(b.status, HealthStatus::kCritical);
  EXPECT_EQ(b.output, "");
  EXPECT_EQ(b.status_since, kT0 + 5s);
  EXPECT_EQ(b.create_index, 4u);
  EXPECT_EQ(b.modify_index, 4u);
}

TEST_F(CatalogTest, RedefinedCheckWithSameStatusIsReAddedAndKeepsStatusSince) {
  Ok(Reg("web-1", "web", {Ttl("c1")}));
  auto events = Ok(Reg("web-1", "web", {Ttl("c1", 20s)}, {}, kT0 + 5s));
  EXPECT_THAT(Kinds(events),
              ElementsAre(Kind::kServiceUpdated, Kind::kCheckRemoved, Kind::kCheckAdded));
  const Check& c = CheckOf("web-1", "c1");
  EXPECT_EQ(c.definition.ttl, 20s);
  // Still critical since the first registration: redefining does not restart the grace.
  EXPECT_EQ(c.status_since, kT0);
}

TEST_F(CatalogTest, ReRegistrationThatDropsACheckRemovesIt) {
  Ok(Reg("web-1", "web", {Ttl("a"), Ttl("b")}));
  auto events = Ok(Reg("web-1", "web", {Ttl("a")}));
  EXPECT_THAT(Kinds(events), ElementsAre(Kind::kServiceUpdated, Kind::kCheckRemoved));
  EXPECT_EQ(events[1].check_id, "b");
  EXPECT_EQ(catalog_.FindCheckOwner("b"), nullptr);
  EXPECT_EQ(catalog_.FindInstance("web-1")->FindCheck("b"), nullptr);
  // The dropped check ID is free for another service.
  Ok(Reg("api-1", "api", {Ttl("b")}));
  EXPECT_EQ(*catalog_.FindCheckOwner("b"), "api-1");
}

TEST_F(CatalogTest, ReRegistrationUnderAnotherNameMovesTheInstance) {
  Ok(Reg("x-1", "old", {Ttl("c1")}, {"t"}));
  auto events = Ok(Reg("x-1", "new", {Ttl("c1")}, {"t"}));
  // The old registration goes first, as a deregistration of the old name.
  ASSERT_THAT(Kinds(events), ElementsAre(Kind::kServiceDeregistered, Kind::kCheckRemoved,
                                         Kind::kServiceRegistered, Kind::kCheckAdded));
  EXPECT_EQ(events[0].service_name, "old");
  EXPECT_EQ(events[1].service_name, "old");
  EXPECT_EQ(events[2].service_name, "new");
  EXPECT_EQ(events[3].service_name, "new");
  EXPECT_EQ(catalog_.FindService("old"), nullptr);
  ASSERT_NE(catalog_.FindService("new"), nullptr);
  EXPECT_EQ(catalog_.FindService("new")->index, 2u);
  EXPECT_EQ(catalog_.FindInstance("x-1")->service.name, "new");
  EXPECT_EQ(catalog_.FindInstance("x-1")->create_index, 2u);
  EXPECT_EQ(*catalog_.FindCheckOwner("c1"), "x-1");
  EXPECT_EQ(catalog_.services_index(), 2u);
  EXPECT_EQ(catalog_.instance_count(), 1u);
}

TEST_F(CatalogTest, DeregisterRemovesInstanceAndChecks) {
  Ok(Reg("web-1", "web", {Ttl("c1")}, {"v1"}));
  Ok(Reg("web-2", "web", {}, {"v1"}));
  auto events = Ok(DeregisterService{"web-1", kT0});
  EXPECT_THAT(Kinds(events), ElementsAre(Kind::kServiceDeregistered, Kind::kCheckRemoved));
  EXPECT_EQ(events[1].check_id, "c1");
  EXPECT_EQ(catalog_.FindInstance("web-1"), nullptr);
  EXPECT_EQ(catalog_.FindCheckOwner("c1"), nullptr);
  EXPECT_EQ(catalog_.index(), 3u);
  EXPECT_EQ(catalog_.FindService("web")->index, 3u);
  // web-2 still carries the tag: the list of services did not change.
  EXPECT_EQ(catalog_.services_index(), 1u);

  Ok(DeregisterService{"web-2", kT0});
  EXPECT_EQ(catalog_.FindService("web"), nullptr);
  EXPECT_EQ(catalog_.services_index(), 4u);
  EXPECT_EQ(catalog_.instance_count(), 0u);
}

TEST_F(CatalogTest, DeregisterUnknownIsNotFound) {
  Ok(Reg("web-1", "web"));
  Status st = Err(DeregisterService{"nope", kT0});
  EXPECT_EQ(st.code(), Status::Code::kNotFound);
  EXPECT_EQ(st.message(), "unknown service ID \"nope\"");
}

TEST_F(CatalogTest, UpdateUnknownCheckIsNotFound) {
  Ok(Reg("web-1", "web", {Ttl("c1")}));
  Status st = Err(Update("c2", HealthStatus::kPassing));
  EXPECT_EQ(st.code(), Status::Code::kNotFound);
  EXPECT_EQ(st.message(), "unknown check ID \"c2\"");
}

TEST_F(CatalogTest, CheckStatusChangeEmitsEventAndBumpsIndexes) {
  Ok(Reg("web-1", "web", {Ttl("c1")}));
  Ok(Reg("api-1", "api"));
  auto events = Ok(Update("c1", HealthStatus::kPassing, "all good", kT0 + 3s));
  ASSERT_THAT(Kinds(events), ElementsAre(Kind::kCheckStatusChanged));
  EXPECT_EQ(events[0].service_name, "web");
  EXPECT_EQ(events[0].service_id, "web-1");
  EXPECT_EQ(events[0].check_id, "c1");
  EXPECT_EQ(events[0].old_status, HealthStatus::kCritical);
  EXPECT_EQ(events[0].new_status, HealthStatus::kPassing);
  EXPECT_EQ(events[0].reason, "check update: all good");

  const Check& c = CheckOf("web-1", "c1");
  EXPECT_EQ(c.status, HealthStatus::kPassing);
  EXPECT_EQ(c.output, "all good");
  EXPECT_EQ(c.status_since, kT0 + 3s);
  EXPECT_EQ(c.create_index, 1u);
  EXPECT_EQ(c.modify_index, 3u);
  EXPECT_EQ(catalog_.FindInstance("web-1")->modify_index, 3u);
  EXPECT_EQ(catalog_.FindInstance("web-1")->create_index, 1u);
  EXPECT_EQ(catalog_.index(), 3u);
  EXPECT_EQ(catalog_.FindService("web")->index, 3u);
  // Per-service indexes: api did not change, nor did the list of services.
  EXPECT_EQ(catalog_.FindService("api")->index, 2u);
  EXPECT_EQ(catalog_.services_index(), 2u);

  events = Ok(Update("c1", HealthStatus::kWarning, "slow", kT0 + 4s));
  ASSERT_THAT(Kinds(events), ElementsAre(Kind::kCheckStatusChanged));
  EXPECT_EQ(events[0].old_status, HealthStatus::kPassing);
  EXPECT_EQ(events[0].new_status, HealthStatus::kWarning);
}

TEST_F(CatalogTest, UnchangedUpdateIsANoOp) {
  Ok(Reg("web-1", "web", {Ttl("c1")}));
  Ok(Update("c1", HealthStatus::kPassing, "ok", kT0 + 1s));
  EXPECT_TRUE(Ok(Update("c1", HealthStatus::kPassing, "ok", kT0 + 2s)).empty());
  EXPECT_EQ(catalog_.index(), 2u);
  EXPECT_EQ(CheckOf("web-1", "c1").status_since, kT0 + 1s);
  EXPECT_EQ(CheckOf("web-1", "c1").modify_index, 2u);
}

TEST_F(CatalogTest, OutputOnlyChangeBumpsIndexWithoutStatusEvent) {
  Ok(Reg("web-1", "web", {Ttl("c1")}));
  Ok(Update("c1", HealthStatus::kPassing, "ok", kT0 + 1s));
  EXPECT_TRUE(Ok(Update("c1", HealthStatus::kPassing, "still ok", kT0 + 2s)).empty());
  const Check& c = CheckOf("web-1", "c1");
  EXPECT_EQ(c.output, "still ok");
  EXPECT_EQ(c.status_since, kT0 + 1s);
  EXPECT_EQ(c.modify_index, 3u);
  EXPECT_EQ(catalog_.FindInstance("web-1")->modify_index, 3u);
  EXPECT_EQ(catalog_.FindService("web")->index, 3u);
  EXPECT_EQ(catalog_.index(), 3u);
  EXPECT_EQ(catalog_.services_index(), 1u);
}

TEST_F(CatalogTest, UpdateReplacesTheInstanceRecord) {
  Ok(Reg("web-1", "web", {Ttl("c1")}));
  std::shared_ptr<const Instance> before = catalog_.FindInstancePtr("web-1");
  Ok(Update("c1", HealthStatus::kPassing));
  // Readers holding the old record see it unchanged.
  EXPECT_EQ(before->checks[0].status, HealthStatus::kCritical);
  EXPECT_NE(catalog_.FindInstancePtr("web-1"), before);
  EXPECT_EQ(*catalog_.FindService("web")->instances.Find("web-1"),
            catalog_.FindInstancePtr("web-1"));
}

TEST_F(CatalogTest, ServicesIndexBumpsOnlyWhenNamesOrTagsChange) {
  Ok(Reg("web-1", "web", {}, {"a"}));
  EXPECT_EQ(catalog_.services_index(), 1u);
  Ok(Reg("web-2", "web", {}, {"a"}));  // same tag set
  EXPECT_EQ(catalog_.services_index(), 1u);
  Ok(Reg("web-3", "web", {}, {"b"}));  // new tag
  EXPECT_EQ(catalog_.services_index(), 3u);
  Ok(Reg("web-1", "web", {}, {"b"}));  // "a" still on web-2
  EXPECT_EQ(catalog_.services_index(), 3u);
  Ok(Reg("web-2", "web", {}, {"b"}));  // last "a" gone
  EXPECT_EQ(catalog_.services_index(), 5u);
  EXPECT_THAT(catalog_.FindService("web")->tags,
              ElementsAre(std::pair<const std::string, std::uint32_t>("b", 3)));
  Ok(Reg("api-1", "api"));  // new name
  EXPECT_EQ(catalog_.services_index(), 6u);
  Ok(Reg("web-1", "web", {}, {"b"}, kT0 + 1s));  // identical
  EXPECT_EQ(catalog_.services_index(), 6u);
  Ok(DeregisterService{"web-3", kT0});  // "b" still on web-1 and web-2
  EXPECT_EQ(catalog_.services_index(), 6u);
  Ok(DeregisterService{"api-1", kT0});  // name gone
  EXPECT_EQ(catalog_.services_index(), 9u);
  EXPECT_EQ(catalog_.index(), 9u);
  EXPECT_EQ(catalog_.FindService("web")->index, 8u);
}

// The counts by status of a group follow every change of its records, and match a count
// over them (what a scan would find) after registrations, updates, maintenance, moves
// between names, deregistrations and a snapshot round trip.
TEST_F(CatalogTest, GroupCountsByStatusFollowEveryChange) {
  auto counted = [&](std::string_view name) {
    std::array<std::uint32_t, 3> by_status{};
    const ServiceGroup* group = catalog_.FindService(name);
    if (group == nullptr) return by_status;
    for (const auto& inst : group->instances) {
      ++by_status[static_cast<std::size_t>(inst->AggregateStatus())];
    }
    EXPECT_EQ(by_status, group->by_status) << name;
    return by_status;
  };
  using Counts = std::array<std::uint32_t, 3>;
  Ok(Reg("web-1", "web", {Ttl("c1", 10s, HealthStatus::kPassing)}));
  Ok(Reg("web-2", "web", {Ttl("c2", 10s, HealthStatus::kPassing)}));
  Ok(Reg("web-3", "web", {Ttl("c3")}));
  EXPECT_EQ(counted("web"), (Counts{2, 0, 1}));
  Ok(Update("c1", HealthStatus::kWarning));
  Ok(Update("c3", HealthStatus::kPassing));
  EXPECT_EQ(counted("web"), (Counts{2, 1, 0}));
  Ok(SetMaintenance{"web-2", true, "", kT0});
  EXPECT_EQ(counted("web"), (Counts{1, 1, 1}));
  Ok(SetMaintenance{"", true, "", kT0});
  EXPECT_EQ(counted("web"), (Counts{0, 0, 3}));
  Ok(SetMaintenance{"", false, "", kT0});
  Ok(Reg("web-1", "api", {Ttl("c1", 10s, HealthStatus::kPassing)}));  // moves to "api"
  EXPECT_EQ(counted("web"), (Counts{1, 0, 1}));
  EXPECT_EQ(counted("api"), (Counts{1, 0, 0}));
  Ok(DeregisterService{"web-2", kT0});
  EXPECT_EQ(counted("web"), (Counts{1, 0, 0}));
  auto restored = Catalog::DecodeSnapshot(catalog_.EncodeSnapshot());
  ASSERT_TRUE(restored.ok());
  EXPECT_EQ(restored->FindService("web")->by_status, (Counts{1, 0, 0}));
  EXPECT_EQ(restored->FindService("api")->by_status, (Counts{1, 0, 0}));
}

// A group's tags_index moves when its set of tags changes, and only then.
TEST_F(CatalogTest, GroupTagsIndexMovesWithItsTagSet) {
  Ok(Reg("web-1", "web", {}, {"a"}));
  EXPECT_EQ(catalog_.FindService("web")->tags_index, 1u);
  Ok(Reg("web-2", "web", {}, {"a"}));
  EXPECT_EQ(catalog_.FindService("web")->tags_index, 1u);
  Ok(Reg("web-2", "web", {}, {"b"}));
  EXPECT_EQ(catalog_.FindService("web")->tags_index, 3u);
  Ok(DeregisterService{"web-1", kT0});  // last "a"
  EXPECT_EQ(catalog_.FindService("web")->tags_index, 4u);
  EXPECT_EQ(catalog_.FindService("web")->index, 4u);
}

TEST_F(CatalogTest, ReapAtExactlyTheGraceDeadline) {
  Ok(Reg("web-1", "web", {Ttl("c1", 10s, HealthStatus::kPassing, 1min)}));
  Ok(Update("c1", HealthStatus::kCritical, "expired", kT0 + 10s));
  const Time due = kT0 + 10s + 1min;
  EXPECT_EQ(Catalog::ReapDeadline(*catalog_.FindInstance("web-1")), due);

  EXPECT_TRUE(Ok(ReapService{"web-1", due - 1ns}).empty());
  EXPECT_NE(catalog_.FindInstance("web-1"), nullptr);
  EXPECT_EQ(catalog_.index(), 2u);

  auto events = Ok(ReapService{"web-1", due});
  EXPECT_THAT(Kinds(events), ElementsAre(Kind::kServiceDeregistered, Kind::kCheckRemoved));
  EXPECT_THAT(events[0].reason, HasSubstr("DeregisterCriticalServiceAfter"));
  EXPECT_EQ(catalog_.FindInstance("web-1"), nullptr);
  EXPECT_EQ(catalog_.FindService("web"), nullptr);
  EXPECT_EQ(catalog_.index(), 4u);
}

TEST_F(CatalogTest, ReapOfRecoveredServiceIsANoOp) {
  Ok(Reg("web-1", "web", {Ttl("c1", 10s, HealthStatus::kCritical, 1min)}));
  Ok(Update("c1", HealthStatus::kPassing, "", kT0 + 30s));
  EXPECT_EQ(Catalog::ReapDeadline(*catalog_.FindInstance("web-1")), std::nullopt);
  EXPECT_TRUE(Ok(ReapService{"web-1", kT0 + 2min}).empty());
  EXPECT_NE(catalog_.FindInstance("web-1"), nullptr);
  EXPECT_EQ(catalog_.index(), 2u);
}

TEST_F(CatalogTest, ReapOfGoneServiceIsANoOp) {
  EXPECT_TRUE(catalog_.Validate(ReapService{"ghost", kT0}).ok());
  EXPECT_TRUE(Ok(ReapService{"ghost", kT0}).empty());
  EXPECT_EQ(catalog_.index(), 0u);
}

TEST_F(CatalogTest, ReapDeadlineIsTheEarliestCriticalCheck) {
  Ok(Reg(
      "web-1", "web",
      {Ttl("never", 10s, HealthStatus::kCritical), Ttl("late", 10s, HealthStatus::kCritical, 5min),
       Ttl("early", 10s, HealthStatus::kPassing, 1min)}));
  EXPECT_EQ(Catalog::ReapDeadline(*catalog_.FindInstance("web-1")), kT0 + 5min);
  Ok(Update("early", HealthStatus::kCritical, "", kT0 + 1min));
  EXPECT_EQ(Catalog::ReapDeadline(*catalog_.FindInstance("web-1")), kT0 + 2min);
  Ok(Update("early", HealthStatus::kWarning, "", kT0 + 90s));
  EXPECT_EQ(Catalog::ReapDeadline(*catalog_.FindInstance("web-1")), kT0 + 5min);
}

TEST_F(CatalogTest, CheckIdOwnedByAnotherServiceIsAConflict) {
  Ok(Reg("web-1", "web", {Ttl("shared")}));
  Status st = Err(Reg("web-2", "web", {Ttl("shared")}));
  EXPECT_EQ(st.code(), Status::Code::kConflict);
  EXPECT_EQ(st.message(), "CheckID: \"shared\" already belongs to service \"web-1\"");
  EXPECT_EQ(catalog_.FindInstance("web-2"), nullptr);
}

// "service:<ID>" checks have no index entry (their owner is in their name): ownership and
// conflicts work the same for them, in either order, and across a snapshot.
TEST_F(CatalogTest, DefaultCheckIdsAreOwnedWithoutAnIndexEntry) {
  Ok(Reg("web-1", "web", {Ttl("service:web-1")}));
  Ok(Reg("api-1", "api", {Ttl("service:web-2")}));  // another service's default ID, taken
  EXPECT_EQ(*catalog_.FindCheckOwner("service:web-1"), "web-1");
  EXPECT_EQ(*catalog_.FindCheckOwner("service:web-2"), "api-1");
  EXPECT_EQ(catalog_.FindCheckOwner("service:nobody"), nullptr);
  EXPECT_EQ(Err(Reg("web-2", "web", {Ttl("service:web-2")})).code(), Status::Code::kConflict);
  EXPECT_EQ(Err(Reg("db-1", "db", {Ttl("service:web-1")})).code(), Status::Code::kConflict);
  Ok(Update("service:web-1", HealthStatus::kPassing, "fine", kT0 + 1s));
  EXPECT_EQ(catalog_.FindInstance("web-1")->checks[0].status, HealthStatus::kPassing);
  auto restored = Catalog::DecodeSnapshot(catalog_.EncodeSnapshot());
  ASSERT_TRUE(restored.ok()) << restored.status().message();
  EXPECT_EQ(*restored->FindCheckOwner("service:web-1"), "web-1");
  EXPECT_EQ(*restored->FindCheckOwner("service:web-2"), "api-1");
}

TEST_F(CatalogTest, DuplicateCheckIdsAreInvalid) {
  Status st = Err(Reg("web-1", "web", {Ttl("c1"), Ttl("c1", 20s)}));
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(st.message(), "CheckID: \"c1\" is used twice");
}

TEST_F(CatalogTest, FailedApplyLeavesStateUnchanged) {
  Ok(Reg("web-1", "web", {Ttl("c1")}, {"a"}));
  auto bad = Reg("web-1", "other", {Ttl("c1")}, {"b"});
  bad.service.weights.passing = 0;
  Err(bad);
  EXPECT_EQ(catalog_.FindInstance("web-1")->service.name, "web");
  EXPECT_EQ(catalog_.FindService("other"), nullptr);
  EXPECT_EQ(catalog_.services_index(), 1u);
}

std::string Bytes(std::size_t n) { return std::string(n, 'x'); }

struct InvalidCase {
  const char* label;
  void (*mutate)(RegisterService&);
  const char* message;
};

class CatalogValidationTest : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(CatalogValidationTest, RejectsWithMessage) {
  Catalog catalog;
  auto reg = Reg("web-1", "web", {Ttl("c1")});
  GetParam().mutate(reg);
  Status st = catalog.Validate(reg);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(st.message(), GetParam().message);
  EXPECT_FALSE(catalog.Apply(reg, 1).ok());
  EXPECT_EQ(catalog.instance_count(), 0u);
}

const InvalidCase kInvalidCases[] = {
    {"NameMissing", [](RegisterService& r) { r.service.name = ""; }, "Name: is required"},
    {"NameTooLong", [](RegisterService& r) { r.service.name = Bytes(257); },
     "Name: is 257 bytes, the limit is 256"},
    {"NameControl", [](RegisterService& r) { r.service.name = "we\nb"; },
     "Name: must not contain control characters"},
    {"NameDel", [](RegisterService& r) { r.service.name = "web\x7f"; },
     "Name: must not contain control characters"},
    {"IdMissing", [](RegisterService& r) { r.service.id = ""; }, "ID: is required"},
    {"IdTooLong", [](RegisterService& r) { r.service.id = Bytes(257); },
     "ID: is 257 bytes, the limit is 256"},
    {"IdSlash", [](RegisterService& r) { r.service.id = "a/b"; }, "ID: must not contain '/'"},
    {"AddressTooLong", [](RegisterService& r) { r.service.address = Bytes(257); },
     "Address: is 257 bytes, the limit is 256"},
    {"TooManyTags", [](RegisterService& r) { r.service.tags = std::vector<Symbol>(65, "t"); },
     "Tags: has 65 tags, the limit is 64"},
    {"EmptyTag",
     [](RegisterService& r) {
       r.service.tags = {"a", ""};
     },
     "Tags: is required"},
    {"TagTooLong", [](RegisterService& r) { r.service.tags = {Bytes(257)}; },
     "Tags: is 257 bytes, the limit is 256"},
    {"TooManyMeta",
     [](RegisterService& r) {
       std::vector<std::pair<Symbol, Symbol>> meta;
       for (int i = 0; i < 65; ++i) meta.emplace_back("k" + std::to_string(100 + i), "");
       r.service.meta = meta;
     },
     "Meta: has 65 keys, the limit is 64"},
    {"MetaKeyEmpty",
     [](RegisterService& r) {
       r.service.meta = {{"", "v"}};
     },
     "Meta key: is required"},
    {"MetaKeyTooLong",
     [](RegisterService& r) {
       r.service.meta = {{Bytes(129), "v"}};
     },
     "Meta key: is 129 bytes, the limit is 128"},
    {"MetaValueTooLong",
     [](RegisterService& r) {
       r.service.meta = {{"k", Bytes(513)}};
     },
     "Meta[k]: value is longer than 512 bytes"},
    {"MetaKeyRepeats",
     [](RegisterService& r) {
       r.service.meta = {{"a", "1"}, {"a", "2"}};
     },
     "Meta: keys must be unique (\"a\" repeats)"},
    {"MetaUnsorted",
     [](RegisterService& r) {
       r.service.meta = {{"b", "1"}, {"a", "2"}};
     },
     "Meta: keys must be unique (\"a\" repeats)"},
    {"WeightPassingZero", [](RegisterService& r) { r.service.weights.passing = 0; },
     "Weights: Passing must be at least 1 and Warning at least 0"},
    {"WeightWarningNegative", [](RegisterService& r) { r.service.weights.warning = -1; },
     "Weights: Passing must be at least 1 and Warning at least 0"},
    {"TooManyChecks",
     [](RegisterService& r) {
       r.checks.clear();
       for (int i = 0; i < 33; ++i) r.checks.push_back(Ttl("c" + std::to_string(i)));
     },
     "Checks: has 33 checks, the limit is 32"},
    {"CheckIdMissing", [](RegisterService& r) { r.checks[0].id = ""; }, "CheckID: is required"},
    {"CheckIdTooLong", [](RegisterService& r) { r.checks[0].id = Bytes(257); },
     "CheckID: is 257 bytes, the limit is 256"},
    {"CheckIdSlash", [](RegisterService& r) { r.checks[0].id = "service/web"; },
     "CheckID: must not contain '/'"},
    {"TtlZero", [](RegisterService& r) { r.checks[0].ttl = Duration::zero(); },
     "Check.TTL: must be at least 10ms, got 0s"},
    {"TtlBelowMinimum", [](RegisterService& r) { r.checks[0].ttl = 10ms - 1ns; },
     "Check.TTL: must be at least 10ms, got 9.999999ms"},
    {"DeregisterAfterNegative",
     [](RegisterService& r) { r.checks[0].deregister_critical_after = -1s; },
     "Check.DeregisterCriticalServiceAfter: must not be negative"},
    {"OutputTooLong", [](RegisterService& r) { r.checks[0].initial_output = Bytes(4097); },
     "Check.Output: is longer than 4096 bytes"},
    // Issue 18: near the int64 limit, added to a time they overflowed (reaped at once).
    {"TtlOverTenYears", [](RegisterService& r) { r.checks[0].ttl = Duration::max(); },
     "Check.TTL: must be at most 87600h0m0s (ten years), got 2562047h47m16.854775807s"},
    {"DeregisterAfterOverTenYears",
     [](RegisterService& r) { r.checks[0].deregister_critical_after = 2500000h; },
     "Check.DeregisterCriticalServiceAfter: must be at most 87600h0m0s (ten years), got "
     "2500000h0m0s"},
};

INSTANTIATE_TEST_SUITE_P(Limits, CatalogValidationTest, ::testing::ValuesIn(kInvalidCases),
                         [](const auto& info) { return std::string(info.param.label); });

TEST(CatalogLimitsTest, ValuesAtEveryLimitAreAccepted) {
  auto reg = Reg(Bytes(Limits::kMaxIdBytes), Bytes(Limits::kMaxNameBytes));
  reg.service.address = Bytes(Limits::kMaxAddressBytes);
  reg.service.tags = std::vector<Symbol>(Limits::kMaxTags, Bytes(Limits::kMaxTagBytes));
  std::vector<std::pair<Symbol, Symbol>> meta;
  for (std::size_t i = 0; i < Limits::kMaxMetaPairs; ++i) {
    meta.emplace_back(std::to_string(100 + i) + Bytes(Limits::kMaxMetaKeyBytes - 3),
                      Bytes(Limits::kMaxMetaValueBytes));
  }
  reg.service.meta = meta;
  reg.service.weights = {1, 0};
  for (std::size_t i = 0; i < Limits::kMaxChecksPerService; ++i) {
    reg.checks.push_back(Ttl(std::to_string(i), Limits::kMinTtl));
  }
  reg.checks[0].id = Bytes(Limits::kMaxIdBytes);
  reg.checks[0].initial_output = Bytes(Limits::kMaxOutputBytes);
  Catalog catalog;
  EXPECT_TRUE(catalog.Validate(reg).ok()) << catalog.Validate(reg).message();
  EXPECT_TRUE(catalog.Apply(reg, 1).ok());
}

TEST(CatalogLimitsTest, UpdateOutputLimit) {
  Catalog catalog;
  ASSERT_TRUE(catalog.Apply(Reg("web-1", "web", {Ttl("c1")}), 1).ok());
  EXPECT_TRUE(catalog.Validate(Update("c1", HealthStatus::kPassing, Bytes(4096))).ok());
  Status st = catalog.Validate(Update("c1", HealthStatus::kPassing, Bytes(4097)));
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(st.message(), "Output: is longer than 4096 bytes");
}

TEST(HealthStatusTest, ToStringAndParseRoundTrip) {
  for (HealthStatus s : {HealthStatus::kPassing, HealthStatus::kWarning, HealthStatus::kCritical}) {
    EXPECT_EQ(ParseHealthStatus(ToString(s)), s);
  }
  EXPECT_EQ(ToString(HealthStatus::kWarning), "warning");
  EXPECT_EQ(ParseHealthStatus("Passing"), std::nullopt);
  EXPECT_EQ(ParseHealthStatus(""), std::nullopt);
}

TEST(CatalogRestoreTest, RestoreSnapshotReplacesStateAndMovesIndexesForward) {
  Catalog source;
  RegisterService web;
  web.service.id = "web-1";
  web.service.name = "web";
  web.service.tags = {"v1"};
  ASSERT_TRUE(source.Apply(web, 2).ok());
  std::string snapshot = source.EncodeSnapshot();

  Catalog target;
  RegisterService db;
  db.service.id = "db-1";
  db.service.name = "db";
  ASSERT_TRUE(target.Apply(db, 2).ok());
  ASSERT_TRUE(target.Apply(RestoreSnapshot{snapshot, {}}, 9).ok());
  EXPECT_EQ(target.FindInstance("db-1"), nullptr);
  ASSERT_NE(target.FindInstance("web-1"), nullptr);
  EXPECT_EQ(target.index(), 9u);
  EXPECT_EQ(target.services_index(), 9u);
  EXPECT_EQ(target.FindService("web")->index, 9u);
  EXPECT_EQ(target.FindService("web")->tags.count("v1"), 1u);
}

// A Raft snapshot is encoded on a worker thread from an image taken on the state thread,
// while the state thread goes on changing the catalog (RaftLog::FsmSnapshotAsync). The image
// must encode what the catalog held when it was taken, and share nothing mutable with it
// (run under TSan by scripts/test).
TEST(CatalogImageTest, EncodesOnAnotherThreadWhileTheCatalogChanges) {
  Catalog catalog;
  Index index = 1;
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(catalog
                    .Apply(Reg("web-" + std::to_string(i), "web-" + std::to_string(i % 7),
                               {Ttl("ttl-" + std::to_string(i))}, {"a", "b"}),
                           ++index)
                    .ok());
  }
  const std::string expected = catalog.EncodeSnapshot();
  CatalogImage image = catalog.Image();
  std::string encoded;
  std::thread encoder([&] { encoded = image.Encode(); });
  for (int i = 0; i < 200; ++i) {
    const std::string id = std::to_string(i);
    if (i % 3 == 0) {
      ASSERT_TRUE(catalog.Apply(DeregisterService{"web-" + id, {}}, ++index).ok());
    } else {
      ASSERT_TRUE(catalog.Apply(Update("ttl-" + id, HealthStatus::kPassing), ++index).ok());
    }
    ASSERT_TRUE(catalog.Apply(Reg("new-" + id, "web-0", {}, {"c"}), ++index).ok());
  }
  encoder.join();
  EXPECT_EQ(encoded, expected);
  EXPECT_NE(catalog.EncodeSnapshot(), expected);
}

TEST(CatalogRestoreTest, CorruptSnapshotIsRefusedAndStateKept) {
  Catalog target;
  RegisterService db;
  db.service.id = "db-1";
  db.service.name = "db";
  ASSERT_TRUE(target.Apply(db, 2).ok());
  auto r = target.Apply(RestoreSnapshot{"\x01garbage", {}}, 3);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(target.FindInstance("db-1"), nullptr);
  EXPECT_EQ(target.index(), 2u);
}

TEST_F(CatalogTest, ServiceMaintenanceAddsACriticalCheckThatSurvivesReRegistration) {
  Ok(Reg("web-1", "web", {Ttl("c1", 10s, HealthStatus::kPassing)}));
  Ok(Reg("web-2", "web", {Ttl("c2", 10s, HealthStatus::kPassing)}));
  auto events = Ok(SetMaintenance{"web-1", true, "deploying", kT0});
  EXPECT_THAT(Kinds(events), ElementsAre(Kind::kCheckAdded, Kind::kCheckStatusChanged));
  const Check& m = CheckOf("web-1", "_service_maintenance:web-1");
  EXPECT_EQ(m.status, HealthStatus::kCritical);
  EXPECT_EQ(m.definition.name, "Service Maintenance Mode");
  EXPECT_EQ(m.definition.notes, "deploying");
  EXPECT_EQ(catalog_.FindInstance("web-1")->AggregateStatus(), HealthStatus::kCritical);
  EXPECT_EQ(catalog_.FindInstance("web-2")->AggregateStatus(), HealthStatus::kPassing);
  // Not addressable as a check: no heartbeat or update can clear it.
  EXPECT_EQ(Err(Update("_service_maintenance:web-1", HealthStatus::kPassing)).code(),
            Status::Code::kNotFound);
  // Enabling again with the same reason changes nothing.
  EXPECT_TRUE(Ok(SetMaintenance{"web-1", true, "deploying", kT0}).empty());
  // A re-registration keeps it.
  Ok(Reg("web-1", "web", {Ttl("c1", 10s, HealthStatus::kPassing)}, {"v2"}));
  EXPECT_EQ(CheckOf("web-1", "_service_maintenance:web-1").definition.notes, "deploying");
  events = Ok(SetMaintenance{"web-1", false, "", kT0});
  EXPECT_THAT(Kinds(events), ElementsAre(Kind::kCheckRemoved, Kind::kCheckStatusChanged));
  EXPECT_EQ(catalog_.FindInstance("web-1")->FindCheck("_service_maintenance:web-1"), nullptr);
  EXPECT_EQ(catalog_.FindInstance("web-1")->AggregateStatus(), HealthStatus::kPassing);
  EXPECT_TRUE(Ok(SetMaintenance{"web-1", false, "", kT0}).empty());
  EXPECT_EQ(Err(SetMaintenance{"nope", true, "", kT0}).code(), Status::Code::kNotFound);
}

TEST_F(CatalogTest, NodeMaintenanceCoversEveryInstanceIncludingNewOnes) {
  Ok(Reg("web-1", "web", {Ttl("c1", 10s, HealthStatus::kPassing)}));
  Ok(Reg("db-1", "db"));
  Ok(SetMaintenance{"", true, "", kT0});
  for (const char* id : {"web-1", "db-1"}) {
    const Check& m = CheckOf(id, "_node_maintenance");
    EXPECT_EQ(m.definition.name, "Node Maintenance Mode");
    EXPECT_THAT(m.definition.notes, HasSubstr("no reason was provided"));
    EXPECT_EQ(catalog_.FindInstance(id)->AggregateStatus(), HealthStatus::kCritical);
  }
  Ok(Reg("api-1", "api"));
  EXPECT_EQ(catalog_.FindInstance("api-1")->AggregateStatus(), HealthStatus::kCritical);
  // The state survives a snapshot.
  auto restored = Catalog::DecodeSnapshot(catalog_.EncodeSnapshot());
  ASSERT_TRUE(restored.ok()) << restored.status().message();
  ASSERT_TRUE(restored->node_maintenance().has_value());
  Ok(SetMaintenance{"", false, "", kT0});
  for (const char* id : {"web-1", "db-1", "api-1"}) {
    EXPECT_EQ(catalog_.FindInstance(id)->FindCheck("_node_maintenance"), nullptr);
    EXPECT_EQ(catalog_.FindInstance(id)->AggregateStatus(), HealthStatus::kPassing);
  }
}

TEST_F(CatalogTest, LeaderElectedMarksLiveTtlChecksUntilTheyAreHeardFrom) {
  Ok(Reg("a", "web", {Ttl("ca", 10s, HealthStatus::kPassing)}));
  Ok(Reg("b", "web", {Ttl("cb", 10s, HealthStatus::kPassing)}));
  Ok(Reg("c", "web", {Ttl("cc", 10s, HealthStatus::kCritical)}));
  Ok(Reg("d", "web", {Ttl("cd", 10s, HealthStatus::kWarning)}));
  Index index = catalog_.index();
  EXPECT_TRUE(Ok(LeaderElected{kT0 + 1s}).empty());
  EXPECT_EQ(catalog_.index(), index) << "marks are not visible to readers";
  EXPECT_EQ(catalog_.UnheardSince("ca"), kT0 + 1s);
  EXPECT_EQ(catalog_.UnheardSince("cb"), kT0 + 1s);
  EXPECT_EQ(catalog_.UnheardSince("cc"), std::nullopt) << "critical: nothing to time";
  EXPECT_EQ(catalog_.UnheardSince("cd"), kT0 + 1s);

  // A later election keeps the first mark: that is what bounds repeated elections.
  Ok(LeaderElected{kT0 + 5s});
  EXPECT_EQ(catalog_.UnheardSince("ca"), kT0 + 1s);

  // Heard, updated, re-registered or gone: the mark goes.
  Ok(ChecksHeard{{"ca", "no-such-check"}, kT0 + 6s});
  EXPECT_EQ(catalog_.UnheardSince("ca"), std::nullopt);
  Ok(Update("cb", HealthStatus::kPassing, "", kT0 + 6s));
  EXPECT_EQ(catalog_.UnheardSince("cb"), std::nullopt);
  Ok(Reg("d", "web", {Ttl("cd", 10s, HealthStatus::kWarning)}));
  EXPECT_EQ(catalog_.UnheardSince("cd"), std::nullopt);
  Ok(LeaderElected{kT0 + 7s});
  EXPECT_EQ(catalog_.UnheardSince("ca"), kT0 + 7s);
  Ok(DeregisterService{"a", kT0 + 8s});
  EXPECT_EQ(catalog_.UnheardSince("ca"), std::nullopt);
  EXPECT_EQ(catalog_.unheard().size(), 2u);  // cb and cd, since kT0 + 7s

  // The marks survive a snapshot. (Snapshots have grown since version 3 — check kinds, ACL
  // state — so an older one can no longer be made by trimming a new one's last byte.)
  auto restored = Catalog::DecodeSnapshot(catalog_.EncodeSnapshot());
  ASSERT_TRUE(restored.ok()) << restored.status().message();
  EXPECT_EQ(restored->unheard(), catalog_.unheard());
  Ok(ChecksHeard{{"cb", "cd"}, kT0 + 9s});
  EXPECT_TRUE(catalog_.unheard().empty());
}

// Elections one after another (a restart replays those of every restart since the last
// snapshot): the first marks, the others find nothing to mark without a pass.
TEST_F(CatalogTest, ConsecutiveElectionsMarkOnce) {
  Ok(Reg("a", "web", {Ttl("ca", 10s, HealthStatus::kPassing)}));
  Ok(LeaderElected{kT0 + 1s});
  EXPECT_TRUE(catalog_.last_election_marked());
  Ok(LeaderElected{kT0 + 2s});
  EXPECT_FALSE(catalog_.last_election_marked());
  Ok(LeaderElected{kT0 + 3s});
  EXPECT_FALSE(catalog_.last_election_marked());
  EXPECT_EQ(catalog_.UnheardSince("ca"), kT0 + 1s);
  // Anything else in between and the next election looks again: a new check is marked, the
  // old mark kept.
  Ok(Reg("b", "web", {Ttl("cb", 10s, HealthStatus::kPassing)}));
  EXPECT_FALSE(catalog_.last_election_marked());
  Ok(LeaderElected{kT0 + 4s});
  EXPECT_TRUE(catalog_.last_election_marked());
  EXPECT_EQ(catalog_.UnheardSince("ca"), kT0 + 1s);
  EXPECT_EQ(catalog_.UnheardSince("cb"), kT0 + 4s);
  // Heard, then elected again: marked again.
  Ok(ChecksHeard{{"ca"}, kT0 + 5s});
  Ok(LeaderElected{kT0 + 6s});
  EXPECT_TRUE(catalog_.last_election_marked());
  EXPECT_EQ(catalog_.UnheardSince("ca"), kT0 + 6s);
  // A restored catalog looks again at its first election.
  auto restored = Catalog::DecodeSnapshot(catalog_.EncodeSnapshot());
  ASSERT_TRUE(restored.ok()) << restored.status().message();
  ASSERT_TRUE(restored->Apply(LeaderElected{kT0 + 7s}, restored->index() + 1).ok());
  EXPECT_FALSE(restored->last_election_marked());  // all marked already, kept
  EXPECT_EQ(restored->unheard(), catalog_.unheard());
}

TEST_F(CatalogTest, SnapshotWithAMarkOfAnUnknownCheckIsRefused) {
  Ok(Reg("a", "web", {Ttl("ca", 10s, HealthStatus::kPassing)}));
  Ok(LeaderElected{kT0 + 1s});
  std::string bytes = catalog_.EncodeSnapshot();
  // The last mark's ID is "ca": make it "cx".
  std::size_t at = bytes.rfind("ca");
  ASSERT_NE(at, std::string::npos);
  bytes[at + 1] = 'x';
  auto r = Catalog::DecodeSnapshot(bytes);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("mark of unknown check cx"));
}

TEST_F(CatalogTest, MaintenanceCheckIdsAreReserved) {
  EXPECT_EQ(Err(Reg("web-1", "web", {Ttl("_node_maintenance")})).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(Err(Reg("web-1", "web", {Ttl("_service_maintenance:x")})).code(),
            Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace concierge::core

namespace concierge::core {
namespace {

CheckDefinition Http(std::string id, std::string url = "http://10.0.0.1:8080/health") {
  CheckDefinition c;
  c.id = std::move(id);
  c.kind = CheckKind::kHttp;
  ActiveCheck active;
  active.target = std::move(url);
  active.interval = 10s;
  active.timeout = 1s;
  c.active = SharedConst<ActiveCheck>(std::move(active));
  return c;
}

// `c` with its active settings changed by `change`.
template <typename F>
CheckDefinition With(CheckDefinition c, F change) {
  ActiveCheck active = c.active ? *c.active : ActiveCheck{};
  change(active);
  c.active = SharedConst<ActiveCheck>(std::move(active));
  return c;
}

TEST_F(CatalogTest, ActiveChecksAreValidated) {
  EXPECT_TRUE(catalog_.Validate(Reg("web-1", "web", {Http("h")})).ok());
  CheckDefinition tcp = Http("t", "[::1]:5432");
  tcp.kind = CheckKind::kTcp;
  EXPECT_TRUE(catalog_.Validate(Reg("web-1", "web", {tcp})).ok());

  auto refused = [&](CheckDefinition c) {
    Status st = catalog_.Validate(Reg("web-1", "web", {std::move(c)}));
    EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
    return st.message();
  };
  EXPECT_THAT(refused(Http("h", "https://x/")), HasSubstr("https:// checks are not supported"));
  EXPECT_THAT(refused(Http("h", "ftp://x/")), HasSubstr("expected a URL like"));
  EXPECT_THAT(refused(Http("h", "http://x:0/")), HasSubstr("port must be a number 1..65535"));
  EXPECT_THAT(refused(Http("h", "http://u:p@x/")), HasSubstr("credentials"));
  EXPECT_THAT(refused(Http("h", "http://::1/")), HasSubstr("IPv6 address must be in brackets"));
  EXPECT_EQ(refused(With(Http("h"), [](ActiveCheck& a) { a.interval = 10ms; })),
            "Check.Interval: must be at least 100ms, got 10ms");
  EXPECT_THAT(refused(With(Http("h"), [](ActiveCheck& a) { a.method = "GE T"; })),
              HasSubstr("Check.Method"));
  EXPECT_EQ(refused(With(Http("h"),
                         [](ActiveCheck& a) {
                           a.headers = {{"X-Ok", "a\r\nInjected: yes"}};
                         })),
            "Check.Header[X-Ok]: must not contain control characters");
  CheckDefinition c = Http("h");
  c.ttl = 10s;
  EXPECT_THAT(refused(c), HasSubstr("either a TTL or another kind's target"));
  EXPECT_THAT(refused(With(Http("h"), [](ActiveCheck& a) { a.failures_before_critical = 1001; })),
              HasSubstr("at most 1000"));
  c = Http("h");
  c.active = nullptr;
  EXPECT_THAT(refused(c), HasSubstr("needs its settings"));
  c = Http("t", "10.0.0.1");
  c.kind = CheckKind::kTcp;
  EXPECT_EQ(refused(c), "TCP: expected host:port, got \"10.0.0.1\"");
  CheckDefinition ttl = With(Ttl("x"), [](ActiveCheck& a) { a.interval = 1s; });
  ttl.kind = CheckKind::kTtl;
  EXPECT_THAT(refused(ttl), HasSubstr("a TTL check has no other kind's settings"));
}

// `c` (an HTTP check from Http()) turned into `kind` with `target`, without HTTP's method.
CheckDefinition OfKind(CheckDefinition c, CheckKind kind, std::string target) {
  c.kind = kind;
  return With(std::move(c), [&](ActiveCheck& a) {
    a.target = std::move(target);
    a.method.clear();
    if (kind == CheckKind::kAlias) a.interval = a.timeout = Duration::zero();
  });
}

TEST_F(CatalogTest, OtherCheckKindsAreValidated) {
  auto valid = [&](CheckDefinition c) {
    return catalog_.Validate(Reg("web-1", "web", {std::move(c)})).ok();
  };
  auto refused = [&](CheckDefinition c) {
    Status st = catalog_.Validate(Reg("web-1", "web", {std::move(c)}));
    EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
    return st.message();
  };
  EXPECT_TRUE(valid(OfKind(Http("u"), CheckKind::kUdp, "127.0.0.1:53")));
  EXPECT_EQ(refused(OfKind(Http("u"), CheckKind::kUdp, "127.0.0.1")),
            "UDP: expected host:port, got \"127.0.0.1\"");
  EXPECT_TRUE(valid(OfKind(Http("g"), CheckKind::kGrpc, "127.0.0.1:50051/my.Service")));
  EXPECT_TRUE(valid(OfKind(Http("g"), CheckKind::kGrpc, "[::1]:50051")));
  EXPECT_THAT(refused(OfKind(Http("g"), CheckKind::kGrpc, "localhost/x")),
              HasSubstr("GRPC: expected host:port"));
  EXPECT_TRUE(valid(OfKind(Http("p"), CheckKind::kH2Ping, "localhost:443")));
  EXPECT_TRUE(valid(OfKind(Http("o"), CheckKind::kOsService, "nginx.service")));
  EXPECT_THAT(refused(OfKind(Http("o"), CheckKind::kOsService, "a b")),
              HasSubstr("is not a systemd unit name"));

  CheckDefinition script = With(OfKind(Http("s"), CheckKind::kScript, ""), [](ActiveCheck& a) {
    a.args = {"/bin/true", "x"};
  });
  EXPECT_TRUE(valid(script));
  EXPECT_EQ(refused(With(script, [](ActiveCheck& a) { a.args.clear(); })),
            "Check.Args: must name a program to run");
  EXPECT_THAT(refused(With(script, [](ActiveCheck& a) { a.args = {std::string("a\0b", 3)}; })),
              HasSubstr("NUL"));
  EXPECT_EQ(refused(With(OfKind(Http("u"), CheckKind::kUdp, "127.0.0.1:53"),
                         [](ActiveCheck& a) { a.args = {"x"}; })),
            "Check.Args: only script checks run a program");
  EXPECT_EQ(refused(With(OfKind(Http("u"), CheckKind::kUdp, "127.0.0.1:53"),
                         [](ActiveCheck& a) { a.use_tls = true; })),
            "Check.GRPCUseTLS: only GRPC and H2PING checks use TLS");

  EXPECT_TRUE(valid(OfKind(Http("a"), CheckKind::kAlias, "db-1")));
  EXPECT_EQ(refused(OfKind(Http("a"), CheckKind::kAlias, "web-1")),
            "Check.AliasService: an alias check cannot follow its own instance");
  EXPECT_THAT(refused(OfKind(Http("a"), CheckKind::kAlias, "")),
              HasSubstr("needs AliasService or AliasNode"));
  EXPECT_THAT(refused(With(OfKind(Http("a"), CheckKind::kAlias, "db-1"),
                           [](ActiveCheck& a) { a.interval = 1s; })),
              HasSubstr("no Interval or Timeout"));
}

TEST(HttpUrlTest, SplitsHostPortAndTarget) {
  auto u = ParseHttpUrl("http://example.com/health?full=1#frag");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->target, "/health?full=1");
  u = ParseHttpUrl("HTTP://[::1]:8080");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->target, "/");
  u = ParseHttpUrl("http://10.0.0.1:99?x");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->target, "/?x");
  EXPECT_FALSE(ParseHttpUrl("http://").ok());
  EXPECT_FALSE(ParseHttpUrl("http://a b/").ok());
  EXPECT_FALSE(ParseHttpUrl("http://x:99999/").ok());
}

TEST_F(CatalogTest, TransitionReasonSaysWhy) {
  Ok(Reg("web-1", "web", {Ttl("c1"), Http("h")}));
  UpdateCheck beat = Update("c1", HealthStatus::kPassing);
  beat.cause = CheckCause::kHeartbeat;
  EXPECT_EQ(Ok(beat)[0].reason, "heartbeat");
  UpdateCheck expired = Update("c1", HealthStatus::kCritical, "TTL expired: no heartbeat for 10s",
                               Time(std::chrono::seconds(1'700'000'100)));
  expired.cause = CheckCause::kTtlExpired;
  EXPECT_EQ(Ok(expired)[0].reason,
            "TTL expired: no heartbeat for 10s (at 2023-11-14T22:15:00.000000000Z)");
  UpdateCheck run = Update("h", HealthStatus::kPassing, "HTTP GET http://x/: 200 OK Output: ok");
  run.cause = CheckCause::kActiveCheck;
  EXPECT_EQ(Ok(run)[0].reason, "check output: HTTP GET http://x/: 200 OK Output: ok");
}

TEST_F(CatalogTest, ActiveCheckSurvivesASnapshot) {
  CheckDefinition h = With(Http("h"), [](ActiveCheck& a) {
    a.method = "POST";
    a.headers = {{"X-A", "1"}, {"X-A", "2"}};
    a.body = "{}";
    a.success_before_passing = 2;
    a.failures_before_critical = 3;
  });
  Ok(Reg("web-1", "web", {h}));
  auto restored = Catalog::DecodeSnapshot(catalog_.EncodeSnapshot());
  ASSERT_TRUE(restored.ok()) << restored.status().message();
  EXPECT_EQ(restored->FindInstance("web-1")->FindCheck("h")->definition, h);
}

}  // namespace
}  // namespace concierge::core
