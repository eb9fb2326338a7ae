// ConsulApi over a real Registry and StateLoop, without sockets: the watchers of a service
// share one encoded answer per view (issue 17), the delta stream
// (GET /v1/concierge/delta/service/:name) answers what changed since an index, blocking, or
// that the client must read the whole service again, and a blocking query that a change woke
// carries the wake-up's time to the server (the fan-out metric, issue 22).
#include "http/consul_api.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <future>
#include <list>
#include <set>

#include "api_fixture.h"
#include "http/gzip.h"

namespace concierge::http {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

class ConsulApiTest : public ApiFixture {
 protected:
  // Runs a request to its answer on its own I/O context, then what it woke among the parked
  // queries (Park's context; those still parked stay so).
  Response Call(std::string method, std::string target, std::string body = "") {
    Request req = MakeRequest(std::move(method), std::move(target), std::move(body));
    Response answer = Run(api_, req, calls_);
    ctx_.restart();
    ctx_.poll();
    return answer;
  }

  // Starts a (blocking) query and runs it until it parks; its answer lands in the returned
  // slot once a later Call wakes it.
  std::shared_ptr<std::optional<Response>> Park(std::string target) {
    return Park(std::make_shared<Request>(MakeRequest("GET", std::move(target))));
  }
  std::shared_ptr<std::optional<Response>> Park(std::shared_ptr<Request> req) {
    auto answer = std::make_shared<std::optional<Response>>();
    const std::size_t parked = hub_.parked();
    asio::co_spawn(
        ctx_,
        [this, req, answer]() -> asio::awaitable<void> { *answer = co_await api_.Handle(*req); },
        asio::detached);
    ctx_.restart();
    while (hub_.parked() == parked && !answer->has_value()) ctx_.poll_one();
    return answer;
  }

  void Register(const std::string& id) {
    ASSERT_EQ(Call("PUT", "/v1/agent/service/register",
                   R"({"ID":")" + id + R"(","Name":"web","Port":80,"Check":{"TTL":"30s"}})")
                  .status,
              200);
    ASSERT_EQ(Call("PUT", "/v1/agent/check/pass/service:" + id).status, 200);
  }

  core::Index Index(const Response& r) {
    for (const auto& [k, v] : r.headers) {
      if (k == "X-Consul-Index") return std::stoull(v);
    }
    return 0;
  }

  struct Delta {
    core::Index index = 0;
    bool resync = false;
    std::set<std::string> changed;  // "ID:status"
    std::set<std::string> removed;
  };
  Delta ReadDelta(const Response& r) {
    EXPECT_EQ(r.status, 200) << r.Body();
    rapidjson::Document doc;
    std::string body(r.Body());
    doc.Parse(body.c_str());
    Delta d;
    if (doc.HasParseError() || !doc.IsObject()) {
      ADD_FAILURE() << body;
      return d;
    }
    d.index = doc["Index"].GetUint64();
    d.resync = doc["Resync"].GetBool();
    for (const auto& e : doc["Changed"].GetArray()) {
      d.changed.insert(std::string(e["Service"]["ID"].GetString()) + ":" +
                       e["Checks"][0]["Status"].GetString());
    }
    for (const auto& id : doc["Removed"].GetArray()) d.removed.insert(id.GetString());
    EXPECT_EQ(Index(r), d.index);
    return d;
  }

  asio::io_context calls_;
  asio::io_context ctx_;  // parked queries
};

TEST_F(ConsulApiTest, TheWatchersOfAServiceShareOneAnswerPerViewAndQuestion) {
  for (const char* id : {"a", "b", "c"}) Register(id);
  const core::Index index = Index(Call("GET", "/v1/health/service/web"));
  const std::string wait = "?index=" + std::to_string(index) + "&wait=10s";
  std::vector<std::shared_ptr<std::optional<Response>>> passing;
  std::vector<std::shared_ptr<std::optional<Response>>> all;
  for (int i = 0; i < 5; ++i) {
    passing.push_back(Park("/v1/health/service/web" + wait + "&passing"));
    all.push_back(Park("/v1/health/service/web" + wait));
  }
  EXPECT_EQ(hub_.parked(), 10u);
  ASSERT_EQ(Call("PUT", "/v1/agent/check/fail/service:b").status, 200);
  for (const auto* group : {&passing, &all}) {
    const std::string* bytes = nullptr;
    for (const auto& answer : *group) {
      ASSERT_TRUE(answer->has_value());
      ASSERT_EQ((*answer)->status, 200);
      ASSERT_NE((*answer)->shared_body, nullptr);
      // One encoding, its bytes shared by every watcher that asked the same question.
      if (bytes == nullptr) bytes = (*answer)->shared_body.get();
      EXPECT_EQ((*answer)->shared_body.get(), bytes);
      EXPECT_GT(Index(**answer), index);
    }
  }
  EXPECT_NE(passing[0]->value().shared_body, all[0]->value().shared_body);
  EXPECT_EQ(passing[0]->value().Body().find("\"ID\":\"b\""), std::string::npos);
  EXPECT_NE(all[0]->value().Body().find("\"ID\":\"b\""), std::string::npos);
  // A later reader of the same view gets the same bytes; after a change, new ones.
  Response again = Call("GET", "/v1/health/service/web?passing");
  EXPECT_EQ(again.shared_body, passing[0]->value().shared_body);
  ASSERT_EQ(Call("PUT", "/v1/agent/check/pass/service:b").status, 200);
  Response after = Call("GET", "/v1/health/service/web?passing");
  EXPECT_NE(after.shared_body, again.shared_body);
  EXPECT_NE(after.Body().find("\"ID\":\"b\""), std::string::npos);
}

// A client that takes gzip (Go's net/http asks by default) gets the shared answer gzipped,
// once per view and question: the watchers woken by a change share those bytes too.
TEST_F(ConsulApiTest, GzippedAnswersAreSharedToo) {
  for (const char* id : {"a", "b", "c"}) Register(id);
  auto get = [&](const char* accept) {
    Request req = MakeRequest("GET", "/v1/health/service/web");
    if (accept != nullptr) req.headers.emplace_back("Accept-Encoding", accept);
    return Run(api_, req, calls_);
  };
  auto encoding = [](const Response& r) -> std::string {
    for (const auto& [k, v] : r.headers) {
      if (k == "Content-Encoding") return v;
    }
    return "";
  };
  Response plain = get(nullptr);
  ASSERT_GE(plain.Body().size(), kGzipMinBytes);
  Response first = get("gzip, deflate");
  Response second = get("gzip");
  EXPECT_EQ(encoding(plain), "");
  EXPECT_EQ(encoding(first), "gzip");
  ASSERT_NE(first.shared_body, nullptr);
  EXPECT_EQ(first.shared_body, second.shared_body);
  EXPECT_EQ(*first.shared_body, Gzip(plain.Body()));
  EXPECT_EQ(encoding(get("gzip;q=0")), "");
}

TEST_F(ConsulApiTest, TheDeltaStreamAnswersWhatChangedSinceAnIndex) {
  for (const char* id : {"a", "b", "c"}) Register(id);
  const core::Index start = Index(Call("GET", "/v1/health/service/web"));
  // Index 0 (or none): read the whole service.
  EXPECT_TRUE(ReadDelta(Call("GET", "/v1/concierge/delta/service/web")).resync);
  EXPECT_TRUE(ReadDelta(Call("GET", "/v1/concierge/delta/service/web?index=0")).resync);
  // Nothing since the index the client has.
  Delta none = ReadDelta(
      Call("GET", "/v1/concierge/delta/service/web?wait=0s&index=" + std::to_string(start)));
  EXPECT_FALSE(none.resync);
  EXPECT_TRUE(none.changed.empty());
  EXPECT_TRUE(none.removed.empty());
  EXPECT_EQ(none.index, start);
  // Three changes: c fails, a goes, d comes.
  ASSERT_EQ(Call("PUT", "/v1/agent/check/fail/service:c").status, 200);
  ASSERT_EQ(Call("PUT", "/v1/agent/service/deregister/a").status, 200);
  Register("d");
  Delta d =
      ReadDelta(Call("GET", "/v1/concierge/delta/service/web?index=" + std::to_string(start)));
  EXPECT_FALSE(d.resync);
  EXPECT_EQ(d.changed, (std::set<std::string>{"c:critical", "d:passing"}));
  EXPECT_EQ(d.removed, std::set<std::string>{"a"});
  EXPECT_EQ(d.index, Index(Call("GET", "/v1/health/service/web")));
  // An index before the history began (the first delta read started it), or ahead of ours.
  EXPECT_TRUE(
      ReadDelta(Call("GET", "/v1/concierge/delta/service/web?index=" + std::to_string(start - 1)))
          .resync);
  EXPECT_TRUE(ReadDelta(Call("GET", "/v1/concierge/delta/service/web?index=" +
                                        std::to_string(d.index + 100)))
                  .resync);
  // A service without instances: read it whole (an empty list).
  EXPECT_TRUE(ReadDelta(Call("GET", "/v1/concierge/delta/service/nothing?index=3")).resync);
  EXPECT_EQ(Call("GET", "/v1/concierge/delta/service/web?index=x").status, 400);
}

TEST_F(ConsulApiTest, ADeltaQueryBlocksUntilTheServiceChanges) {
  for (const char* id : {"a", "b"}) Register(id);
  const core::Index start = Index(Call("GET", "/v1/health/service/web"));
  const std::string target =
      "/v1/concierge/delta/service/web?wait=10s&index=" + std::to_string(start);
  // The first delta asked of the service: the history keeps changes from its wait on.
  auto parked = Park(target);
  EXPECT_EQ(hub_.parked(), 1u);
  EXPECT_FALSE(parked->has_value());
  // Another service's change does not wake it.
  ASSERT_EQ(Call("PUT", "/v1/agent/service/register", R"({"ID":"x","Name":"other"})").status, 200);
  EXPECT_FALSE(parked->has_value());
  ASSERT_EQ(Call("PUT", "/v1/agent/check/fail/service:b").status, 200);
  ASSERT_TRUE(parked->has_value());
  Delta d = ReadDelta(**parked);
  EXPECT_EQ(d.changed, std::set<std::string>{"b:critical"});
  EXPECT_TRUE(d.removed.empty());
  // Many changes: the history keeps at least ViewPublisher::kMinHistory of them; beyond, an
  // old index must read the whole service again.
  const core::Index before = d.index;
  for (std::size_t i = 0; i <= server::ViewPublisher::kMinHistory; ++i) {
    ASSERT_EQ(Call("PUT",
                   i % 2 == 0 ? "/v1/agent/check/pass/service:b" : "/v1/agent/check/fail/service:b")
                  .status,
              200);
  }
  EXPECT_TRUE(
      ReadDelta(Call("GET", "/v1/concierge/delta/service/web?index=" + std::to_string(before)))
          .resync);
}

// The server measures the fan-out from Request::woken_at: set for the queries a change woke,
// to the time of the last wake-up; not for a wait that ended otherwise.
TEST_F(ConsulApiTest, AQueryAChangeWokeCarriesTheTimeOfItsWakeUp) {
  using Clock = std::chrono::steady_clock;
  for (const char* id : {"a", "b"}) Register(id);
  const std::string wait =
      "?wait=10s&index=" + std::to_string(Index(Call("GET", "/v1/health/service/web")));
  std::vector<std::shared_ptr<Request>> reqs;
  std::vector<std::shared_ptr<std::optional<Response>>> answers;
  for (const char* path :
       {"/v1/health/service/web", "/v1/catalog/service/web", "/v1/concierge/delta/service/web"}) {
    reqs.push_back(std::make_shared<Request>(MakeRequest("GET", path + wait)));
    answers.push_back(Park(reqs.back()));
  }
  ASSERT_EQ(hub_.parked(), 3u);
  const Clock::time_point before = Clock::now();
  ASSERT_EQ(Call("PUT", "/v1/agent/check/fail/service:b").status, 200);
  const Clock::time_point after = Clock::now();
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    ASSERT_TRUE(answers[i]->has_value()) << reqs[i]->target;
    EXPECT_EQ((*answers[i])->status, 200);
    ASSERT_TRUE(reqs[i]->woken_at.has_value()) << reqs[i]->target;
    EXPECT_GE(*reqs[i]->woken_at, before);
    EXPECT_LE(*reqs[i]->woken_at, after);
  }

  // A key's watch is woken by a write to another key and parks again: the wake-up that
  // counts is the one that answers it.
  ASSERT_EQ(Call("PUT", "/v1/kv/k", "1").status, 200);
  auto key = std::make_shared<Request>(MakeRequest(
      "GET", "/v1/kv/k?wait=10s&index=" + std::to_string(Index(Call("GET", "/v1/kv/k")))));
  auto answer = Park(key);
  ASSERT_EQ(Call("PUT", "/v1/kv/other", "1").status, 200);
  ASSERT_FALSE(answer->has_value());
  ASSERT_EQ(hub_.parked(), 1u);
  const Clock::time_point second = Clock::now();
  ASSERT_EQ(Call("PUT", "/v1/kv/k", "2").status, 200);
  ASSERT_TRUE(answer->has_value());
  ASSERT_TRUE(key->woken_at.has_value());
  EXPECT_GE(*key->woken_at, second);

  // Not woken by a change: the wait ran out, or the client went away.
  Request timed_out = MakeRequest(
      "GET", "/v1/health/service/web?wait=0s&index=" + std::to_string(Index(**answers[0])));
  EXPECT_EQ(Run(api_, timed_out, calls_).status, 200);
  EXPECT_FALSE(timed_out.woken_at.has_value());
  auto gone = std::make_shared<Request>(MakeRequest(
      "GET", "/v1/health/service/web?wait=10s&index=" + std::to_string(Index(**answers[0]))));
  gone->hangup = std::make_shared<Hangup>();
  auto refused = Park(gone);
  ASSERT_EQ(hub_.parked(), 1u);
  gone->hangup->Fire();
  ctx_.poll();
  ASSERT_TRUE(refused->has_value());
  EXPECT_EQ((*refused)->status, 400);
  EXPECT_FALSE(gone->woken_at.has_value());
}

}  // namespace
}  // namespace concierge::http
