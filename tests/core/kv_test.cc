// The KV store and sessions through the catalog, as the log applies them (core/kv.h).
#include "core/kv.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/catalog.h"
#include "core/codec.h"

namespace concierge::core {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using V = KvOp::Verb;

const Time kT0 = Time(std::chrono::seconds(1'700'000'000));

KvOp Op(V verb, std::string key, std::string value = "", Index index = 0,
        std::string session = "") {
  KvOp op;
  op.verb = verb;
  op.key = std::move(key);
  op.value = std::move(value);
  op.index = index;
  op.session = std::move(session);
  return op;
}

class KvTest : public ::testing::Test {
 protected:
  // Applies `cmd` as the next entry; its status.
  Status Run(Command cmd) {
    auto r = catalog_.Apply(cmd, ++index_);
    if (!r.ok()) --index_;
    if (r.ok()) events_ = *r;
    return r.status();
  }
  Status Write(std::vector<KvOp> ops, Time at = kT0) { return Run(KvWrite{std::move(ops), at}); }
  Status Create(std::string id, std::vector<std::string> checks = {},
                SessionBehavior behavior = SessionBehavior::kRelease, Duration delay = 15s) {
    Session s;
    s.id = std::move(id);
    s.node = "node-1";
    s.node_checks = checks.empty() ? std::vector<std::string>{std::string(kSerfHealthCheck)}
                                   : std::vector<std::string>{};
    s.service_checks = std::move(checks);
    s.behavior = behavior;
    s.lock_delay = delay;
    return Run(SessionCreate{std::move(s), kT0});
  }
  const KvEntry* Get(std::string_view key) const { return catalog_.kv().Find(key); }

  Catalog catalog_;
  Index index_ = 1;
  std::vector<Event> events_;
};

TEST_F(KvTest, SetKeepsCreateIndexAndMovesModifyIndex) {
  ASSERT_TRUE(Write({Op(V::kSet, "a/b", "1")}).ok());
  const Index created = index_;
  ASSERT_TRUE(Write({Op(V::kSet, "a/b", "2")}).ok());
  ASSERT_NE(Get("a/b"), nullptr);
  EXPECT_EQ(Get("a/b")->value, "2");
  EXPECT_EQ(Get("a/b")->create_index, created);
  EXPECT_EQ(Get("a/b")->modify_index, index_);
  EXPECT_EQ(catalog_.kv().index(), index_);
}

TEST_F(KvTest, CasZeroCreatesOnlyAndAStaleIndexIsAConflict) {
  ASSERT_TRUE(Write({Op(V::kCas, "k", "v", 0)}).ok());
  Status again = Write({Op(V::kCas, "k", "w", 0)});
  EXPECT_EQ(again.code(), Status::Code::kConflict);
  auto failure = ParseKvConflict(again);
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->op, 0u);
  EXPECT_THAT(failure->what, HasSubstr("index is stale"));
  EXPECT_TRUE(Write({Op(V::kCas, "k", "w", Get("k")->modify_index)}).ok());
  EXPECT_EQ(Get("k")->value, "w");
}

TEST_F(KvTest, ATransactionAppliesEveryOperationOrNone) {
  ASSERT_TRUE(Write({Op(V::kSet, "x", "1")}).ok());
  const Index before = catalog_.kv().index();
  Status st = Write({Op(V::kSet, "y", "2"), Op(V::kDelete, "x"), Op(V::kCheckNotExists, "y")});
  ASSERT_EQ(st.code(), Status::Code::kConflict);
  EXPECT_EQ(ParseKvConflict(st)->op, 2u);
  EXPECT_EQ(Get("y"), nullptr);
  EXPECT_NE(Get("x"), nullptr);
  EXPECT_EQ(catalog_.kv().index(), before);
  EXPECT_TRUE(Write({Op(V::kSet, "y", "2"), Op(V::kCheckIndex, "y", "", index_ + 1)}).ok());
}

TEST_F(KvTest, OneSessionHoldsALockAnotherIsRefused) {
  ASSERT_TRUE(Create("s1").ok());
  ASSERT_TRUE(Create("s2").ok());
  ASSERT_TRUE(Write({Op(V::kLock, "leader", "me", 0, "s1")}).ok());
  EXPECT_EQ(Get("leader")->session, "s1");
  EXPECT_EQ(Get("leader")->lock_index, 1u);
  EXPECT_EQ(Write({Op(V::kLock, "leader", "you", 0, "s2")}).code(), Status::Code::kConflict);
  // The holder may acquire again: no new LockIndex.
  ASSERT_TRUE(Write({Op(V::kLock, "leader", "me2", 0, "s1")}).ok());
  EXPECT_EQ(Get("leader")->lock_index, 1u);
  EXPECT_EQ(Write({Op(V::kUnlock, "leader", "", 0, "s2")}).code(), Status::Code::kConflict);
  ASSERT_TRUE(Write({Op(V::kUnlock, "leader", "", 0, "s1")}).ok());
  EXPECT_EQ(Get("leader")->session, "");
  ASSERT_TRUE(Write({Op(V::kLock, "leader", "you", 0, "s2")}).ok());
  EXPECT_EQ(Get("leader")->lock_index, 2u);
  EXPECT_THAT(Write({Op(V::kLock, "other", "", 0, "nobody")}).message(),
              HasSubstr("invalid session"));
}

TEST_F(KvTest, AnEndedSessionReleasesItsLocksAfterTheLockDelay) {
  ASSERT_TRUE(Create("s1").ok());
  ASSERT_TRUE(Create("s2").ok());
  ASSERT_TRUE(Write({Op(V::kLock, "leader", "me", 0, "s1")}).ok());
  ASSERT_TRUE(Run(SessionDestroy{"s1", true, kT0}).ok());
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].kind, Event::Kind::kSessionEnded);
  EXPECT_EQ(catalog_.kv().FindSession("s1"), nullptr);
  EXPECT_EQ(Get("leader")->session, "");
  EXPECT_EQ(Get("leader")->value, "me");  // released, not deleted
  // Consul's lock delay: 15 s by default.
  Status early = Write({Op(V::kLock, "leader", "you", 0, "s2")}, kT0 + 14s);
  EXPECT_THAT(early.message(), HasSubstr("lock delay"));
  EXPECT_TRUE(Write({Op(V::kLock, "leader", "you", 0, "s2")}, kT0 + 15s).ok());
}

TEST_F(KvTest, ADeleteSessionTakesItsKeysWithIt) {
  ASSERT_TRUE(Create("s1", {}, SessionBehavior::kDelete, 0s).ok());
  ASSERT_TRUE(Write({Op(V::kLock, "ephemeral/a", "x", 0, "s1")}).ok());
  ASSERT_TRUE(Run(SessionDestroy{"s1", false, kT0}).ok());
  EXPECT_EQ(Get("ephemeral/a"), nullptr);
  EXPECT_EQ(catalog_.kv().last_delete(), index_);
}

TEST_F(KvTest, ASessionEndsWhenItsCheckTurnsCritical) {
  RegisterService reg;
  reg.service.id = "db-1";
  reg.service.name = "db";
  CheckDefinition ttl;
  ttl.id = "db-ttl";
  ttl.name = "ttl";
  ttl.ttl = 10s;
  ttl.initial_status = HealthStatus::kPassing;
  reg.checks.push_back(ttl);
  reg.at = kT0;
  ASSERT_TRUE(Run(reg).ok());
  EXPECT_THAT(Create("s0", {"missing"}).message(), HasSubstr("Missing check"));
  ASSERT_TRUE(Create("s1", {"db-ttl"}).ok());
  ASSERT_TRUE(Write({Op(V::kLock, "primary", "db-1", 0, "s1")}).ok());
  ASSERT_TRUE(Run(UpdateCheck{"db-ttl", HealthStatus::kCritical, "", kT0}).ok());
  EXPECT_EQ(catalog_.kv().FindSession("s1"), nullptr);
  EXPECT_EQ(Get("primary")->session, "");
  // A critical check cannot back a new session.
  EXPECT_THAT(Create("s2", {"db-ttl"}).message(), HasSubstr("critical"));
}

TEST_F(KvTest, DeleteTreeAndPrefixIndexes) {
  ASSERT_TRUE(Write({Op(V::kSet, "app/a", "1")}).ok());
  ASSERT_TRUE(Write({Op(V::kSet, "app/b", "2")}).ok());
  const Index app = index_;
  ASSERT_TRUE(Write({Op(V::kSet, "other", "3")}).ok());
  const KvState& kv = catalog_.kv();
  EXPECT_EQ(KvPrefixIndex(kv.entries(), "app/", kv.last_delete(), kv.floor()), app);
  EXPECT_EQ(KvPrefixIndex(kv.entries(), "", kv.last_delete(), kv.floor()), index_);
  ASSERT_TRUE(Write({Op(V::kDeleteTree, "app/")}).ok());
  EXPECT_EQ(Get("app/a"), nullptr);
  EXPECT_NE(Get("other"), nullptr);
  // A delete moves the prefix's index: its watchers wake.
  EXPECT_EQ(KvPrefixIndex(kv.entries(), "app/", kv.last_delete(), kv.floor()), index_);
}

TEST_F(KvTest, BadOperationsAreInvalidNotConflicts) {
  EXPECT_EQ(Write({Op(V::kSet, "")}).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(Write({Op(V::kSet, std::string(KvLimits::kMaxKeyBytes + 1, 'k'))}).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(Write({Op(V::kSet, "k", std::string(KvLimits::kMaxValueBytes + 1, 'v'))}).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(Write({Op(V::kLock, "k")}).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(Write(std::vector<KvOp>(KvLimits::kMaxTxnOps + 1, Op(V::kSet, "k"))).code(),
            Status::Code::kInvalidArgument);
}

// A transaction of reads only is checked against the entries as a write's reads would be.
TEST_F(KvTest, ReadsAreCheckedWithoutAWrite) {
  ASSERT_TRUE(Write({Op(V::kSet, "a", "1")}).ok());
  const Index written = Get("a")->modify_index;
  const KvEntries& entries = catalog_.kv().entries();
  EXPECT_FALSE(CheckReads({Op(V::kGet, "a"), Op(V::kCheckIndex, "a", "", written),
                           Op(V::kCheckNotExists, "b"), Op(V::kGetTree, "")},
                          entries));
  auto failure = CheckReads({Op(V::kGet, "a"), Op(V::kCheckSession, "a", "", 0, "s")}, entries);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->op, 1u);
  EXPECT_THAT(failure->what, HasSubstr("current session"));
  // The same operations through the log fail the same way.
  Status st = Write({Op(V::kGet, "a"), Op(V::kCheckSession, "a", "", 0, "s")});
  EXPECT_THAT(st.message(), HasSubstr("current session"));
  EXPECT_TRUE(IsRead(V::kCheckNotExists));
  EXPECT_FALSE(IsRead(V::kDeleteCas));
}

// What -max-kv-bytes bounds: every way an entry comes or goes keeps the sum of footprints, and a
// restored snapshot counts the same.
TEST_F(KvTest, TheStoreSizeFollowsEveryChange) {
  auto sum = [&] {
    std::size_t total = 0;
    for (const auto& e : catalog_.kv().entries()) total += e->Footprint();
    return total;
  };
  EXPECT_EQ(catalog_.kv().bytes(), 0u);
  ASSERT_TRUE(Write({Op(V::kSet, "a", "12345"), Op(V::kSet, "b/c", "x")}).ok());
  EXPECT_EQ(catalog_.kv().bytes(), KvEntry::Footprint(1, 5) + KvEntry::Footprint(3, 1));
  ASSERT_TRUE(Write({Op(V::kSet, "a", "1")}).ok());  // overwritten smaller
  EXPECT_EQ(catalog_.kv().bytes(), sum());
  ASSERT_TRUE(Create("s1", {}, SessionBehavior::kRelease, 0s).ok());
  ASSERT_TRUE(Create("s2", {}, SessionBehavior::kDelete, 0s).ok());
  ASSERT_TRUE(Write({Op(V::kLock, "held", "v", 0, "s1"), Op(V::kLock, "gone", "v", 0, "s2")}).ok());
  EXPECT_EQ(catalog_.kv().bytes(), sum());
  ASSERT_TRUE(Run(SessionDestroy{"s1", false, kT0}).ok());  // released: the holder goes
  ASSERT_TRUE(Run(SessionDestroy{"s2", false, kT0}).ok());  // deleted with its session
  EXPECT_EQ(catalog_.kv().bytes(), sum());
  EXPECT_FALSE(Write({Op(V::kSet, "z", "big"), Op(V::kCas, "a", "", 999)}).ok());  // none applies
  EXPECT_EQ(catalog_.kv().bytes(), sum());
  auto restored = Catalog::DecodeSnapshot(catalog_.EncodeSnapshot());
  ASSERT_TRUE(restored.ok()) << restored.status().message();
  EXPECT_EQ(restored->kv().bytes(), catalog_.kv().bytes());
  ASSERT_TRUE(Write({Op(V::kDeleteTree, "")}).ok());
  EXPECT_EQ(catalog_.kv().bytes(), 0u);
}

TEST_F(KvTest, CommandsAndTheSnapshotRoundTrip) {
  ASSERT_TRUE(Create("s1").ok());
  ASSERT_TRUE(Write({Op(V::kLock, "l", "held", 0, "s1"), Op(V::kSet, "plain", "v")}).ok());
  for (const Command& cmd :
       {Command(
            KvWrite{{Op(V::kDeleteCas, "k", "", 7), Op(V::kCheckSession, "l", "", 0, "s")}, kT0}),
        Command(SessionDestroy{"s1", true, kT0})}) {
    auto decoded = DecodeCommand(EncodeCommand(cmd));
    ASSERT_TRUE(decoded.ok()) << decoded.status().message();
    EXPECT_EQ(*decoded, cmd);
  }
  auto restored = Catalog::DecodeSnapshot(catalog_.EncodeSnapshot());
  ASSERT_TRUE(restored.ok()) << restored.status().message();
  EXPECT_EQ(restored->kv().index(), catalog_.kv().index());
  ASSERT_NE(restored->kv().Find("l"), nullptr);
  EXPECT_EQ(*restored->kv().Find("l"), *Get("l"));
  ASSERT_NE(restored->kv().FindSession("s1"), nullptr);
  EXPECT_EQ(*restored->kv().FindSession("s1"), *catalog_.kv().FindSession("s1"));
  EXPECT_EQ(restored->EncodeSnapshot(), catalog_.EncodeSnapshot());
}

}  // namespace
}  // namespace concierge::core
