// The Raft log as the agent runs it by default: a single voter on a libuv loop, with its log
// in a temporary directory on disk. The loop runs until the callbacks under test have fired
// (bounded by a deadline), never sleeps.
#include "raft/raft_log.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "free_address.h"
#include "server/clock.h"
#include "server/metrics.h"
#include "server/registry.h"

namespace concierge::raft {
namespace {

using core::Index;

core::RegisterService Reg(const std::string& id) {
  core::RegisterService r;
  r.service.id = id;
  r.service.name = "web";
  return r;
}

// One agent's worth: a registry and its log on a loop of the test's own.
struct Node {
  explicit Node(const std::string& dir, const std::string& address) {
    uv_loop_init(&loop);
    options.dir = dir;
    options.address = address;
    options.bootstrap = {{1, address}};
    log.emplace(&loop, registry, options);
  }
  ~Node() {
    if (log->started()) Close();
    log.reset();
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  }
  // Runs the loop until `done` holds; false if it did not within 20 s.
  bool RunUntil(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      uv_run(&loop, UV_RUN_ONCE);
    }
    return true;
  }
  void Close() {
    bool closed = false;
    log->Close([&] { closed = true; });
    RunUntil([&] { return closed; });
  }

  uv_loop_t loop{};
  server::RealClock clock;
  server::Metrics metrics;
  server::Registry registry{clock, server::RegistryOptions{}, nullptr, metrics};
  RaftOptions options;
  std::optional<RaftLog> log;
};

class RaftLogTest : public ::testing::Test {
 protected:
  RaftLogTest() {
    spdlog::set_level(spdlog::level::warn);
    char tmpl[] = "/tmp/concierge-raft-log-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    address_ = FreeAddress();
  }
  ~RaftLogTest() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Node> StartNode(unsigned snapshot_threshold = 0,
                                  unsigned snapshot_bytes_per_entry = 0) {
    auto node = std::make_unique<Node>(dir_, address_);
    if (snapshot_threshold > 0) {
      node->options.snapshot_threshold = snapshot_threshold;
      node->options.snapshot_trailing = snapshot_threshold / 4;
    }
    if (snapshot_bytes_per_entry > 0) {
      node->options.snapshot_bytes_per_entry = snapshot_bytes_per_entry;
    }
    Status st = node->log->Start(node->options);
    EXPECT_TRUE(st.ok()) << st.message();
    EXPECT_TRUE(node->RunUntil([&] { return node->log->is_leader(); }));
    return node;
  }

  // Registers web-0 .. web-(n-1), twenty at a time, as many clients do; returns once every
  // one is answered.
  static void RegisterMany(Node& node, int n) {
    int answered = 0;
    for (int i = 0; i < n; ++i) {
      node.log->Append(Reg("web-" + std::to_string(i)), [&](Result<Index> r) {
        EXPECT_TRUE(r.ok()) << r.status().message();
        ++answered;
      });
      if (i % 20 == 0) node.RunUntil([&] { return answered > i - 10; });
    }
    ASSERT_TRUE(node.RunUntil([&] { return answered == n; }));
  }

  std::string dir_;
  std::string address_;
};

// Every command given to AppendAll is answered exactly once, after it is applied, with its
// own result, and commands given together share batches (far fewer raft_apply calls than
// commands).
TEST_F(RaftLogTest, GroupCommitAnswersEachCommandOnceWithItsOwnResult) {
  auto node = StartNode();
  server::Metrics& metrics = node->metrics;
  const auto appends_before = metrics.raft_appends.value();
  const auto entries_before = metrics.raft_entries.value();

  constexpr int kFirst = 300;
  constexpr int kSecond = 100;
  std::vector<int> calls(kFirst + kSecond + 1, 0);
  std::vector<std::optional<Result<Index>>> results(calls.size());
  auto writes = [&](int from, int to) {
    std::vector<server::CommandLog::Write> w;
    for (int i = from; i < to; ++i) {
      w.push_back({Reg("web-" + std::to_string(i)), [&, i](Result<Index> r) {
                     ++calls[i];
                     // Answered after its apply: the registry already holds it.
                     if (r.ok()) {
                       EXPECT_NE(node->registry.Instance("web-" + std::to_string(i)), nullptr);
                     }
                     results[i] = std::move(r);
                   }});
    }
    return w;
  };
  node->log->AppendAll(writes(0, kFirst));
  // While the first batch is on its way to disk: these wait for the next write.
  node->log->AppendAll(writes(kFirst, kFirst + kSecond));
  // An entry that fails its apply gets its own error; the others in its batch do not.
  std::vector<server::CommandLog::Write> bad;
  bad.push_back({core::DeregisterService{"nobody", {}}, [&](Result<Index> r) {
                   ++calls[kFirst + kSecond];
                   results[kFirst + kSecond] = std::move(r);
                 }});
  node->log->AppendAll(std::move(bad));

  ASSERT_TRUE(node->RunUntil([&] {
    return std::all_of(results.begin(), results.end(), [](const auto& r) { return r.has_value(); });
  }));
  std::set<Index> indexes;
  for (int i = 0; i < kFirst + kSecond; ++i) {
    EXPECT_EQ(calls[i], 1) << i;
    ASSERT_TRUE(results[i]->ok()) << i << ": " << results[i]->status().message();
    indexes.insert(results[i]->value());
  }
  EXPECT_EQ(indexes.size(), static_cast<std::size_t>(kFirst + kSecond));
  EXPECT_EQ(calls[kFirst + kSecond], 1);
  ASSERT_FALSE(results[kFirst + kSecond]->ok());
  EXPECT_EQ(results[kFirst + kSecond]->status().code(), Status::Code::kNotFound);
  EXPECT_EQ(node->registry.instance_count(), static_cast<std::size_t>(kFirst + kSecond));

  const auto appends = metrics.raft_appends.value() - appends_before;
  const auto entries = metrics.raft_entries.value() - entries_before;
  // Ours, and the leader's own (its election mark) if it went out in the meantime.
  EXPECT_GE(entries, static_cast<std::uint64_t>(kFirst + kSecond + 1));
  EXPECT_LE(appends, 4u);
}

// What was acknowledged is on disk: a new log on the same directory replays it.
TEST_F(RaftLogTest, AcknowledgedCommandsSurviveARestart) {
  constexpr int kN = 50;
  {
    auto node = StartNode();
    int answered = 0;
    for (int i = 0; i < kN; ++i) {
      // One at a time, as separate clients do: each either starts a write or joins the next.
      node->log->Append(Reg("web-" + std::to_string(i)), [&](Result<Index> r) {
        EXPECT_TRUE(r.ok()) << r.status().message();
        ++answered;
      });
      if (i % 10 == 0) node->RunUntil([&] { return answered > i / 2; });
    }
    ASSERT_TRUE(node->RunUntil([&] { return answered == kN; }));
    node->Close();
  }
  auto node = StartNode();
  EXPECT_TRUE(node->RunUntil(
      [&] { return node->registry.instance_count() == static_cast<std::size_t>(kN); }));
}

// Snapshots are taken as the log grows (encoded on a worker thread while commands keep
// applying), and a restart restores the last one and replays the log after it.
TEST_F(RaftLogTest, SnapshotsTakenWhileWritingRestoreOnRestart) {
  constexpr int kN = 600;
  auto snapshots = [&] {
    int n = 0;
    for (const auto& f : std::filesystem::directory_iterator(dir_)) {
      const std::string name = f.path().filename().string();
      n += name.starts_with("snapshot-") && !name.ends_with(".meta");
    }
    return n;
  };
  {
    auto node = StartNode(64);
    RegisterMany(*node, kN);
    ASSERT_TRUE(node->RunUntil([&] { return snapshots() > 0; }));
    node->Close();
  }
  auto node = StartNode(64);
  ASSERT_TRUE(node->RunUntil(
      [&] { return node->registry.instance_count() == static_cast<std::size_t>(kN); }));
  for (int i = 0; i < kN; i += 97) {
    EXPECT_NE(node->registry.Instance("web-" + std::to_string(i)), nullptr) << i;
  }
}

// Snapshots get rarer as they get larger: after one of B bytes the next waits for
// B / snapshot_bytes_per_entry entries (at least the threshold), also after a restart, so
// encoding and writing them costs each entry a bounded share whatever the catalog's size.
TEST_F(RaftLogTest, SnapshotIntervalGrowsWithTheSnapshot) {
  constexpr int kN = 400;
  constexpr unsigned kThreshold = 64;
  constexpr unsigned kBytesPerEntry = 16;
  unsigned scaled = 0;
  {
    auto node = StartNode(kThreshold, kBytesPerEntry);
    EXPECT_EQ(node->log->snapshot_threshold(), kThreshold);
    RegisterMany(*node, kN);
    // At least one snapshot of >= 64 instances (each well over 16 bytes) has been taken.
    ASSERT_TRUE(node->RunUntil([&] { return node->log->snapshot_threshold() > kThreshold; }));
    scaled = node->log->snapshot_threshold();
    EXPECT_LT(scaled, 1U << 30);
    node->Close();
  }
  auto node = StartNode(kThreshold, kBytesPerEntry);
  ASSERT_TRUE(node->RunUntil(
      [&] { return node->registry.instance_count() == static_cast<std::size_t>(kN); }));
  EXPECT_GE(node->log->snapshot_threshold(), scaled);  // from the restored snapshot
}

// Issue 18: a backup of 100,000 instances (19 MB) is larger than a libraft segment (8 MiB):
// it goes through the log in parts of 4 MiB, the catalog is replaced when the last applies,
// and a restart replays the parts into the same catalog.
TEST_F(RaftLogTest, ALargeRestoreGoesThroughTheLogInParts) {
  constexpr std::size_t kN = 100000;
  std::string snapshot;
  {
    core::Catalog source;
    for (std::size_t i = 0; i < kN; ++i) {
      core::RegisterService r = Reg("big-" + std::to_string(i));
      r.service.name = "svc-" + std::to_string(i % 1000);
      r.service.address = "10.0." + std::to_string(i / 250 % 256) + "." + std::to_string(i % 250);
      r.service.port = 8080;
      r.service.tags = std::vector<core::Symbol>{core::Symbol("v2"),
                                                 core::Symbol("zone-" + std::to_string(i % 3))};
      r.service.meta = std::vector<std::pair<core::Symbol, core::Symbol>>{
          {core::Symbol("build"), core::Symbol("2026.12." + std::to_string(i))}};
      core::CheckDefinition check;
      check.id = "service:big-" + std::to_string(i);
      check.ttl = std::chrono::seconds(30);
      check.initial_status = core::HealthStatus::kPassing;
      check.initial_output = "registered by the loader, instance " + std::to_string(i);
      r.checks = {check};
      ASSERT_TRUE(source.Apply(r, i + 2).ok());
    }
    snapshot = source.Image().Encode();
  }
  ASSERT_GT(snapshot.size(), std::size_t{8} << 20);
  std::vector<core::Command> parts = core::RestoreCommands(snapshot);
  ASSERT_GT(parts.size(), 2u);
  {
    auto node = StartNode();
    std::vector<RaftLog::Write> writes;
    std::size_t answered = 0;
    for (core::Command& part : parts) {
      writes.push_back({std::move(part), [&](Result<Index> r) {
                          EXPECT_TRUE(r.ok()) << r.status().message();
                          ++answered;
                        }});
    }
    node->log->AppendAll(std::move(writes));
    ASSERT_TRUE(node->RunUntil([&] { return answered == parts.size(); }));
    EXPECT_EQ(node->registry.instance_count(), kN);
    EXPECT_FALSE(node->registry.restoring());
    node->Close();
  }
  auto node = StartNode();
  ASSERT_TRUE(node->RunUntil([&] { return node->registry.instance_count() == kN; }));
  EXPECT_NE(node->registry.Instance("big-99999"), nullptr);
}

TEST_F(RaftLogTest, WritesBeforeStartAreRefused) {
  Node node(dir_, address_);
  std::optional<Result<Index>> result;
  node.log->Append(Reg("web-1"), [&](Result<Index> r) { result = std::move(r); });
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status().code(), Status::Code::kUnavailable);
}

// Closing answers what is still waiting, with an error, and never an acknowledgement for
// what was not written.
TEST_F(RaftLogTest, CloseAnswersEveryWaitingCommand) {
  auto node = StartNode();
  int answered = 0;
  for (int round = 0; round < 3; ++round) {
    std::vector<server::CommandLog::Write> w;
    for (int i = 0; i < 20; ++i) {
      w.push_back(
          {Reg("web-" + std::to_string(round * 20 + i)), [&](Result<Index>) { ++answered; }});
    }
    node->log->AppendAll(std::move(w));
  }
  node->Close();
  EXPECT_EQ(answered, 60);
}

}  // namespace
}  // namespace concierge::raft
