#include "http/ui.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <string>

#include "server/clock.h"

namespace concierge::http {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

Request Get(std::string path, std::vector<std::pair<std::string, std::string>> query = {}) {
  Request r;
  r.method = "GET";
  r.path = path;
  r.target = std::move(path);
  r.query = std::move(query);
  return r;
}

std::optional<std::string> Header(const Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return std::nullopt;
}

TEST(ServeUiTest, RootAndUiRedirectToTheUi) {
  for (const char* path : {"/", "/ui"}) {
    std::optional<Response> r = ServeUi(Get(path));
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 302);
    EXPECT_EQ(Header(*r, "Location"), "/ui/");
  }
}

TEST(ServeUiTest, OtherPathsAreNotTheUis) {
  EXPECT_FALSE(ServeUi(Get("/v1/agent/self")));
  EXPECT_FALSE(ServeUi(Get("/uix")));
}

TEST(ServeUiTest, IndexIsHtmlWithAnETagThatAnswers304) {
  ASSERT_FALSE(UiFiles().empty()) << "built without ui/dist";
  std::optional<Response> r = ServeUi(Get("/ui/"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->content_type, "text/html; charset=utf-8");
  EXPECT_NE(r->body.find("<main"), std::string::npos);
  EXPECT_EQ(Header(*r, "Cache-Control"), "no-cache");
  std::optional<std::string> etag = Header(*r, "ETag");
  ASSERT_TRUE(etag);
  Request again = Get("/ui/index.html");
  again.headers.emplace_back("If-None-Match", *etag);
  std::optional<Response> cached = ServeUi(again);
  EXPECT_EQ(cached->status, 304);
  EXPECT_TRUE(cached->body.empty());
}

TEST(ServeUiTest, HashedAssetsAreImmutableWithTheirType) {
  bool found = false;
  for (const UiFile& f : UiFiles()) {
    if (!f.path.starts_with("/ui/assets/") || !f.path.ends_with(".js")) continue;
    found = true;
    std::optional<Response> r = ServeUi(Get(std::string(f.path)));
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->content_type, "text/javascript; charset=utf-8");
    EXPECT_EQ(r->body, f.body);
    EXPECT_EQ(Header(*r, "Cache-Control"), "public, max-age=31536000, immutable");
  }
  EXPECT_TRUE(found);
}

TEST(ServeUiTest, UnknownFilesAre404ButRoutesGetThePage) {
  EXPECT_EQ(ServeUi(Get("/ui/assets/missing.js"))->status, 404);
  std::optional<Response> route = ServeUi(Get("/ui/service/web"));
  EXPECT_EQ(route->status, 200);
  EXPECT_EQ(route->content_type, "text/html; charset=utf-8");
}

TEST(ServeUiTest, WritesAreRefused) {
  Request put = Get("/ui/");
  put.method = "PUT";
  std::optional<Response> r = ServeUi(put);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(Header(*r, "Allow"), "GET");
}

class UiEndpointTest : public ::testing::Test {
 protected:
  UiEndpointTest() { spdlog::set_level(spdlog::level::warn); }

  Response Call(const Request& req) {
    auto future = asio::co_spawn(
        ctx_,
        [&]() -> asio::awaitable<Response> {
          std::optional<Response> r = co_await UiEndpoint(req, registry_, hub_);
          co_return r ? std::move(*r) : Response::Error(599, "not answered");
        },
        asio::use_future);
    ctx_.restart();
    ctx_.run();
    return future.get();
  }

  void Register(std::string id, std::string name) {
    core::RegisterService r;
    r.service.id = id;
    r.service.name = std::move(name);
    core::CheckDefinition c;
    c.id = "service:" + id;
    c.ttl = 10s;
    c.initial_status = core::HealthStatus::kPassing;
    r.checks.push_back(c);
    ASSERT_TRUE(registry_.Apply(registry_.Prepare(r)).ok());
  }

  server::FakeClock clock_;
  asio::io_context ctx_;
  server::WatchHub hub_;
  server::Registry registry_{clock_, server::RegistryOptions{}, &hub_};
};

TEST_F(UiEndpointTest, HeartbeatsAreMillisecondsSinceTheLastOne) {
  Register("web-1", "web");
  Register("db-1", "db");
  clock_.Advance(1500ms);
  registry_.Heartbeat("service:db-1");
  clock_.Advance(250ms);
  Response all = Call(Get("/v1/concierge/heartbeats"));
  EXPECT_EQ(all.status, 200);
  EXPECT_EQ(all.body, R"({"service:db-1":250,"service:web-1":1750})");
  Response web = Call(Get("/v1/concierge/heartbeats", {{"service", "web"}}));
  EXPECT_EQ(web.body, R"({"service:web-1":1750})");
  EXPECT_EQ(Call(Get("/v1/concierge/heartbeats", {{"service", "nope"}})).body, "{}");
}

TEST_F(UiEndpointTest, ChangesAnswersAtOnceForAnOldIndexAndAfterTheWaitForTheCurrentOne) {
  Register("web-1", "web");
  const std::string index = std::to_string(registry_.index());
  Response now = Call(Get("/v1/concierge/changes", {{"index", "1"}}));
  EXPECT_EQ(now.body, "{\"Index\":" + index + "}");
  auto started = std::chrono::steady_clock::now();
  Response waited = Call(Get("/v1/concierge/changes", {{"index", index}, {"wait", "50ms"}}));
  EXPECT_GE(std::chrono::steady_clock::now() - started, 50ms);
  EXPECT_EQ(waited.body, "{\"Index\":" + index + "}");
  EXPECT_EQ(Call(Get("/v1/concierge/changes", {{"index", "x"}})).status, 400);
}

TEST_F(UiEndpointTest, SummaryCountsEachServiceAndThenOnlyWhatChanged) {
  Register("web-1", "web");
  Register("web-2", "web");
  Register("db-1", "db");
  const core::Index registered = registry_.index();
  const std::string db = std::to_string(registry_.Service("db")->index);
  const std::string web = std::to_string(registry_.Service("web")->index);
  Response full = Call(Get("/v1/concierge/summary"));
  EXPECT_EQ(full.status, 200);
  EXPECT_EQ(full.body, "{\"Index\":" + std::to_string(registered) +
                           ",\"Full\":true,\"Services\":["
                           "{\"Name\":\"db\",\"Index\":" +
                           db +
                           ",\"Instances\":1,\"Passing\":1,"
                           "\"Warning\":0,\"Critical\":0,\"Tags\":[]},"
                           "{\"Name\":\"web\",\"Index\":" +
                           web +
                           ",\"Instances\":2,\"Passing\":2,"
                           "\"Warning\":0,\"Critical\":0,\"Tags\":[]}]}");

  // web-2 fails: past the client's index, only web is sent.
  core::UpdateCheck fail;
  fail.check_id = "service:web-2";
  fail.status = core::HealthStatus::kCritical;
  ASSERT_TRUE(registry_.Apply(registry_.Prepare(fail)).ok());
  const std::string now = std::to_string(registry_.index());
  Response delta = Call(Get("/v1/concierge/summary", {{"index", std::to_string(registered)}}));
  EXPECT_EQ(delta.body, "{\"Index\":" + now +
                            ",\"Full\":false,\"Services\":["
                            "{\"Name\":\"web\",\"Index\":" +
                            now +
                            ",\"Instances\":2,\"Passing\":1,\"Warning\":0,\"Critical\":1,"
                            "\"Tags\":[]}]}");
  EXPECT_NE(std::find(delta.headers.begin(), delta.headers.end(),
                      std::pair<std::string, std::string>("X-Consul-Index", now)),
            delta.headers.end());

  // At the current index it waits; nothing changed, so nothing is sent.
  Response waited = Call(Get("/v1/concierge/summary", {{"index", now}, {"wait", "20ms"}}));
  EXPECT_EQ(waited.body, "{\"Index\":" + now + ",\"Full\":false,\"Services\":[]}");

  // A new name (or an index from before a restart) sends every service again.
  Register("api-1", "api");
  Response names = Call(Get("/v1/concierge/summary", {{"index", now}}));
  EXPECT_NE(names.body.find("\"Full\":true"), std::string::npos);
  EXPECT_NE(names.body.find("\"Name\":\"db\""), std::string::npos);
  Response ahead = Call(Get("/v1/concierge/summary", {{"index", "999999"}}));
  EXPECT_NE(ahead.body.find("\"Full\":true"), std::string::npos);
  EXPECT_EQ(Call(Get("/v1/concierge/summary", {{"wait", "soon"}})).status, 400);
}

TEST_F(UiEndpointTest, OtherPathsAreNotAnswered) {
  EXPECT_EQ(Call(Get("/v1/concierge/join")).status, 599);
}

}  // namespace
}  // namespace concierge::http
