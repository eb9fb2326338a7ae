#include "concierge/heartbeater.h"

#include <gtest/gtest.h>

#include <mutex>
#include <set>

#include "fake_registry.h"

namespace concierge {
namespace {

using namespace std::chrono_literals;
using testing::FakeRegistry;
using testing::FakeReply;

// A registry that knows the checks of the instances registered with it, and can forget them.
struct Registered {
  std::mutex mutex;
  std::set<std::string> checks;
  bool down = false;  // answer 503 to everything

  FakeReply Handle(const std::string& method, const std::string& target) {
    std::lock_guard lock(mutex);
    if (down) return {503, "no cluster leader", 0};
    if (method == "PUT" && target == "/v1/agent/service/register") {
      checks.insert("service:web-1");
      return {};
    }
    if (target.starts_with("/v1/agent/service/deregister/")) {
      checks.erase("service:web-1");
      return {};
    }
    for (const char* verb : {"/v1/agent/check/pass/", "/v1/agent/check/fail/"}) {
      if (target.starts_with(verb)) {
        std::string id = target.substr(std::string(verb).size());
        id = id.substr(0, id.find('?'));
        if (!checks.contains(id)) return {404, "unknown check ID", 0};
        return {};
      }
    }
    return {404, "no such endpoint", 0};
  }
};

std::unique_ptr<Client> Open(const std::string& address) {
  Result<std::unique_ptr<Client>> client = Client::Open({.addresses = {address}});
  EXPECT_TRUE(client.ok());
  return std::move(client).value();
}

ServiceRegistration Web() { return {.name = "web", .id = "web-1", .port = 8080, .ttl = 3s}; }

TEST(HeartbeaterTest, RegistersThenBeatsAtATthirdOfTheTtl) {
  Registered state;
  FakeRegistry registry([&](auto& m, auto& t) { return state.Handle(m, t); });
  std::unique_ptr<Client> client = Open(registry.address());
  Heartbeater heartbeater(client.get(), Web());
  EXPECT_EQ(heartbeater.Beat(), 1s);
  EXPECT_EQ(heartbeater.Beat(), 1s);
  EXPECT_TRUE(heartbeater.last_status().ok());
  EXPECT_EQ(heartbeater.registrations(), 1);
  EXPECT_TRUE(heartbeater.Stop().ok());
  EXPECT_EQ(
      registry.requests(),
      (std::vector<std::string>{
          "PUT /v1/agent/service/register", "PUT /v1/agent/check/pass/service:web-1",
          "PUT /v1/agent/check/pass/service:web-1", "PUT /v1/agent/service/deregister/web-1"}));
}

TEST(HeartbeaterTest, ReRegistersWhenTheRegistryForgotTheInstance) {
  Registered state;
  FakeRegistry registry([&](auto& m, auto& t) { return state.Handle(m, t); });
  std::unique_ptr<Client> client = Open(registry.address());
  Heartbeater heartbeater(client.get(), Web(), {.deregister_on_stop = false});
  heartbeater.Beat();
  {
    std::lock_guard lock(state.mutex);
    state.checks.clear();
  }
  EXPECT_EQ(heartbeater.Beat(), 1s);
  EXPECT_TRUE(heartbeater.last_status().ok()) << heartbeater.last_status().message();
  EXPECT_EQ(heartbeater.registrations(), 2);
  std::vector<std::string> requests = registry.requests();
  ASSERT_EQ(requests.size(), 5u);
  EXPECT_EQ(requests[2], "PUT /v1/agent/check/pass/service:web-1");  // 404
  EXPECT_EQ(requests[3], "PUT /v1/agent/service/register");
  EXPECT_EQ(requests[4], "PUT /v1/agent/check/pass/service:web-1");
}

TEST(HeartbeaterTest, BacksOffOnErrorsUpToTheInterval) {
  Registered state;
  FakeRegistry registry([&](auto& m, auto& t) { return state.Handle(m, t); });
  std::unique_ptr<Client> client = Open(registry.address());
  Heartbeater heartbeater(client.get(), Web(), {.min_backoff = 300ms});
  heartbeater.Beat();
  {
    std::lock_guard lock(state.mutex);
    state.down = true;
  }
  EXPECT_EQ(heartbeater.Beat(), 300ms);
  EXPECT_EQ(heartbeater.last_status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(heartbeater.Beat(), 600ms);
  EXPECT_EQ(heartbeater.Beat(), 1s);
  EXPECT_EQ(heartbeater.Beat(), 1s);
  {
    std::lock_guard lock(state.mutex);
    state.down = false;
  }
  EXPECT_EQ(heartbeater.Beat(), 1s);
  EXPECT_TRUE(heartbeater.last_status().ok());
  EXPECT_EQ(heartbeater.registrations(), 1);
}

TEST(HeartbeaterTest, AFailingProbeReportsCriticalWithTheReason) {
  Registered state;
  FakeRegistry registry([&](auto& m, auto& t) { return state.Handle(m, t); });
  std::unique_ptr<Client> client = Open(registry.address());
  bool healthy = false;
  Heartbeater heartbeater(client.get(), Web(), {.probe = [&] {
                            return healthy ? Status::Ok() : Status::Unavailable("GET /health: 500");
                          }});
  heartbeater.Beat();
  healthy = true;
  heartbeater.Beat();
  std::vector<std::string> requests = registry.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[1], "PUT /v1/agent/check/fail/service:web-1?note=GET%20%2Fhealth%3A%20500");
  EXPECT_EQ(requests[2], "PUT /v1/agent/check/pass/service:web-1");
}

TEST(HeartbeaterTest, StartBeatsInTheBackgroundAndStopDeregisters) {
  Registered state;
  FakeRegistry registry([&](auto& m, auto& t) { return state.Handle(m, t); });
  std::unique_ptr<Client> client = Open(registry.address());
  Heartbeater heartbeater(client.get(), Web(), {.interval = 1ms});
  ASSERT_TRUE(heartbeater.Start().ok());
  // Bounded wait for a few background beats.
  for (int i = 0; i < 2000 && registry.requests().size() < 4; ++i) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_GE(registry.requests().size(), 4u);
  EXPECT_TRUE(heartbeater.Stop().ok());
  EXPECT_EQ(registry.requests().back(), "PUT /v1/agent/service/deregister/web-1");
  std::lock_guard lock(state.mutex);
  EXPECT_TRUE(state.checks.empty());
}

}  // namespace
}  // namespace concierge
