#include "concierge/watcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <mutex>

#include "concierge/balancer.h"
#include "fake_registry.h"

namespace concierge {
namespace {

using namespace std::chrono_literals;
using testing::FakeRegistry;
using testing::FakeReply;
using testing::HealthBody;

// What the fake registry currently answers to health queries.
struct Catalog {
  std::mutex mutex;
  std::vector<std::string> ids;
  std::uint64_t index = 5;

  // A registry without deltas (Consul's answer to a path it does not serve).
  FakeReply Reply(const std::string& target = "") {
    if (target.starts_with("/v1/concierge/delta/")) return {404, "404 page not found", 0};
    std::lock_guard lock(mutex);
    return {200, HealthBody(ids), index};
  }
  void Set(std::vector<std::string> new_ids, std::uint64_t new_index) {
    std::lock_guard lock(mutex);
    ids = std::move(new_ids);
    index = new_index;
  }
};

std::unique_ptr<Client> Open(std::vector<std::string> addresses) {
  Result<std::unique_ptr<Client>> client =
      Client::Open({.addresses = std::move(addresses), .connect_timeout = 1s});
  EXPECT_TRUE(client.ok()) << client.status().message();
  return std::move(client).value();
}

std::vector<std::string> Ids(const ServiceSnapshot& s) {
  std::vector<std::string> ids;
  for (const Instance& i : s.instances) ids.push_back(i.id);
  return ids;
}

TEST(WatcherTest, FollowsTheListWithBlockingQueries) {
  Catalog catalog;
  catalog.Set({"web-1", "web-2"}, 5);
  FakeRegistry registry(
      [&](const std::string&, const std::string& target) { return catalog.Reply(target); });
  std::unique_ptr<Client> client = Open({registry.address()});
  std::vector<std::uint64_t> seen_versions;
  Watcher watcher(*client, "web", {.wait = 2s, .on_change = [&](const ServiceSnapshot& s) {
                                     seen_versions.push_back(s.version);
                                   }});

  EXPECT_EQ(watcher.Poll(), 0ms);
  std::shared_ptr<const ServiceSnapshot> s = watcher.snapshot();
  EXPECT_TRUE(s->known);
  EXPECT_FALSE(s->stale);
  EXPECT_EQ(s->index, 5u);
  EXPECT_EQ(Ids(*s), (std::vector<std::string>{"web-1", "web-2"}));
  EXPECT_EQ(s->instances[0].Endpoint(), "10.0.0.1:8080");
  EXPECT_EQ(s->instances[0].weights.passing, 3);
  EXPECT_EQ(s->instances[0].tags, std::vector<std::string>{"v1"});

  // Same answer: no new version, no callback.
  watcher.Poll();
  EXPECT_EQ(watcher.snapshot()->version, s->version);

  catalog.Set({"web-2"}, 9);
  watcher.Poll();
  EXPECT_EQ(Ids(*watcher.snapshot()), std::vector<std::string>{"web-2"});
  EXPECT_EQ(seen_versions, (std::vector<std::uint64_t>{1, 2}));

  // Deltas asked once, then, as the registry does not serve them, Consul's blocking queries.
  std::vector<std::string> requests = registry.requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[0], "GET /v1/health/service/web?passing=1");
  EXPECT_EQ(requests[1], "GET /v1/concierge/delta/service/web?index=5&wait=2s");
  EXPECT_EQ(requests[2], "GET /v1/health/service/web?passing=1&index=5&wait=2s");
  EXPECT_EQ(requests[3], "GET /v1/health/service/web?passing=1&index=5&wait=2s");
}

TEST(WatcherTest, KeepsTheLastListWhileTheRegistryIsDownAndSaysItIsStale) {
  Catalog catalog;
  catalog.Set({"web-1", "web-2"}, 5);
  auto registry = std::make_unique<FakeRegistry>(
      [&](const std::string&, const std::string& target) { return catalog.Reply(target); });
  std::uint16_t port = registry->port();
  std::unique_ptr<Client> client = Open({registry->address()});
  Watcher watcher(*client, "web", {.min_backoff = 100ms, .max_backoff = 400ms});
  watcher.Poll();
  std::uint64_t fresh_version = watcher.snapshot()->version;

  registry.reset();
  EXPECT_EQ(watcher.Poll(), 100ms);
  std::shared_ptr<const ServiceSnapshot> s = watcher.snapshot();
  EXPECT_TRUE(s->stale);
  EXPECT_FALSE(s->error.ok());
  EXPECT_NE(s->error.message().find("127.0.0.1"), std::string::npos) << s->error.message();
  EXPECT_EQ(Ids(*s), (std::vector<std::string>{"web-1", "web-2"})) << "still serving";
  EXPECT_GT(s->version, fresh_version) << "going stale is a change";
  // Backoff doubles up to the maximum, without publishing the same error again.
  EXPECT_EQ(watcher.Poll(), 200ms);
  EXPECT_EQ(watcher.Poll(), 400ms);
  EXPECT_EQ(watcher.Poll(), 400ms);
  EXPECT_EQ(watcher.snapshot()->version, s->version);

  // The registry comes back on the same port, restarted: its index starts low again.
  catalog.Set({"web-1"}, 2);
  registry = std::make_unique<FakeRegistry>(
      [&](const std::string&, const std::string& target) { return catalog.Reply(target); }, port);
  EXPECT_EQ(watcher.Poll(), 0ms);
  s = watcher.snapshot();
  EXPECT_FALSE(s->stale);
  EXPECT_TRUE(s->error.ok());
  EXPECT_EQ(Ids(*s), std::vector<std::string>{"web-1"});
  // The index went backwards (2 < 5): the next query starts afresh without an index.
  watcher.Poll();
  std::vector<std::string> requests = registry->requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0], "GET /v1/concierge/delta/service/web?index=5&wait=60s");
  EXPECT_EQ(requests[1], "GET /v1/health/service/web?passing=1&index=5&wait=60s");
  EXPECT_EQ(requests[2], "GET /v1/health/service/web?passing=1");
}

TEST(WatcherTest, AnErrorStatusIsStaleToo) {
  FakeRegistry registry([](const std::string&, const std::string&) {
    return FakeReply{500, "no cluster leader", 0};
  });
  std::unique_ptr<Client> client = Open({registry.address()});
  Watcher watcher(*client, "web");
  watcher.Poll();
  std::shared_ptr<const ServiceSnapshot> s = watcher.snapshot();
  EXPECT_FALSE(s->known);
  EXPECT_TRUE(s->stale);
  EXPECT_NE(s->error.message().find("no cluster leader"), std::string::npos) << s->error.message();
}

TEST(WatcherTest, FailsOverToTheNextRegistry) {
  Catalog catalog;
  catalog.Set({"web-1"}, 3);
  FakeRegistry leaderless([](const std::string&, const std::string&) {
    return FakeReply{500, "no cluster leader", 0};
  });
  FakeRegistry healthy(
      [&](const std::string&, const std::string& target) { return catalog.Reply(target); });
  std::unique_ptr<Client> client = Open({leaderless.address(), healthy.address()});
  Watcher watcher(*client, "web");
  watcher.Poll();
  EXPECT_FALSE(watcher.snapshot()->stale);
  EXPECT_EQ(Ids(*watcher.snapshot()), std::vector<std::string>{"web-1"});
  // The one that answered is asked first from then on.
  watcher.Poll();
  EXPECT_EQ(leaderless.requests().size(), 1u);
  EXPECT_EQ(healthy.requests().size(), 3u);  // the delta it does not serve, then health
}

TEST(WatcherTest, FollowsAConciergeRegistryWithDeltas) {
  // The whole list once, then only what changed: web-2 fails (left out: passing only), web-4
  // comes, web-1 goes; then a resync reads the whole list again.
  std::mutex mutex;
  std::vector<FakeReply> deltas = {
      {200,
       R"({"Index":7,"Resync":false,"Changed":)" +
           HealthBody({"web-4"}).substr(0, HealthBody({"web-4"}).size() - 1) + "," +
           [] {
             std::string b = HealthBody({"web-2"});
             b = b.substr(1, b.size() - 2);
             b.replace(b.find("passing\"}]"), 7, "critical");
             return b;
           }() +
           R"(],"Removed":["web-1"]})",
       7},
      {200, R"({"Index":7,"Resync":false,"Changed":[],"Removed":[]})", 7},
      {200, R"({"Index":12,"Resync":true,"Changed":[],"Removed":[]})", 12},
  };
  std::size_t next_delta = 0;
  Catalog catalog;
  catalog.Set({"web-1", "web-2", "web-3"}, 5);
  FakeRegistry registry([&](const std::string&, const std::string& target) {
    if (!target.starts_with("/v1/concierge/delta/")) return catalog.Reply(target);
    std::lock_guard lock(mutex);
    return deltas[std::min(next_delta++, deltas.size() - 1)];
  });
  std::unique_ptr<Client> client = Open({registry.address()});
  Watcher watcher(*client, "web", {.wait = 2s});
  watcher.Poll();
  EXPECT_EQ(Ids(*watcher.snapshot()), (std::vector<std::string>{"web-1", "web-2", "web-3"}));
  watcher.Poll();
  std::shared_ptr<const ServiceSnapshot> s = watcher.snapshot();
  EXPECT_EQ(Ids(*s), (std::vector<std::string>{"web-3", "web-4"}));
  EXPECT_EQ(s->index, 7u);
  EXPECT_EQ(s->instances[1].Endpoint(), "10.0.0.1:8080");
  // Nothing changed (the wait ended): no new version.
  watcher.Poll();
  EXPECT_EQ(watcher.snapshot()->version, s->version);
  // Too old for the registry's history: the whole list again, without blocking.
  catalog.Set({"web-9"}, 12);
  watcher.Poll();
  EXPECT_EQ(Ids(*watcher.snapshot()), std::vector<std::string>{"web-9"});
  EXPECT_EQ(watcher.snapshot()->index, 12u);
  std::vector<std::string> requests = registry.requests();
  ASSERT_EQ(requests.size(), 5u);
  EXPECT_EQ(requests[0], "GET /v1/health/service/web?passing=1");
  EXPECT_EQ(requests[1], "GET /v1/concierge/delta/service/web?index=5&wait=2s");
  EXPECT_EQ(requests[2], "GET /v1/concierge/delta/service/web?index=7&wait=2s");
  EXPECT_EQ(requests[3], "GET /v1/concierge/delta/service/web?index=7&wait=2s");
  EXPECT_EQ(requests[4], "GET /v1/health/service/web?passing=1");
}

TEST(WatcherTest, StartRunsInTheBackgroundAndStopAbortsTheLongPoll) {
  Catalog catalog;
  catalog.Set({"web-1"}, 3);
  std::atomic<int> queries{0};
  // Answers the first query, then holds each blocking query (as a registry would) until the
  // test ends; Stop must not wait for it.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  FakeRegistry registry([&](const std::string&, const std::string&) {
    if (queries++ > 0) released.wait();
    return catalog.Reply();
  });
  std::unique_ptr<Client> client = Open({registry.address()});
  auto watcher = std::make_unique<Watcher>(*client, "web");
  ASSERT_TRUE(watcher->Start().ok());
  EXPECT_EQ(Ids(*watcher->snapshot()), std::vector<std::string>{"web-1"});
  Balancer balancer(watcher.get());
  EXPECT_EQ(balancer.Pick()->instance().id, "web-1");
  auto started = std::chrono::steady_clock::now();
  watcher->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  release.set_value();
}

}  // namespace
}  // namespace concierge
