#include "http/ui.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <string>

#include "server/clock.h"

namespace concierge::http {
namespace {

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
  Response r = RedirectToUi();
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(Header(r, "Location"), "/ui/");
}

TEST(ServeUiTest, IndexIsHtmlWithAnETagThatAnswers304) {
  ASSERT_FALSE(UiFiles().empty()) << "built without ui/dist";
  Response r = ServeUiFile(Get("/ui/"), "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("<main"), std::string::npos);
  EXPECT_EQ(Header(r, "Cache-Control"), "no-cache");
  std::optional<std::string> etag = Header(r, "ETag");
  ASSERT_TRUE(etag);
  Request again = Get("/ui/index.html");
  again.headers.emplace_back("If-None-Match", *etag);
  Response cached = ServeUiFile(again, "index.html");
  EXPECT_EQ(cached.status, 304);
  EXPECT_TRUE(cached.body.empty());
}

TEST(ServeUiTest, HashedAssetsAreImmutableWithTheirType) {
  bool found = false;
  for (const UiFile& f : UiFiles()) {
    if (!f.path.starts_with("/ui/assets/") || !f.path.ends_with(".js")) continue;
    found = true;
    Response r = ServeUiFile(Get(std::string(f.path)), f.path.substr(4));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.content_type, "text/javascript; charset=utf-8");
    EXPECT_EQ(r.body, f.body);
    EXPECT_EQ(Header(r, "Cache-Control"), "public, max-age=31536000, immutable");
  }
  EXPECT_TRUE(found);
}

TEST(ServeUiTest, UnknownFilesAre404ButRoutesGetThePage) {
  EXPECT_EQ(ServeUiFile(Get("/ui/assets/missing.js"), "assets/missing.js").status, 404);
  Response route = ServeUiFile(Get("/ui/service/web"), "service/web");
  EXPECT_EQ(route.status, 200);
  EXPECT_EQ(route.content_type, "text/html; charset=utf-8");
}

class UiHeartbeatsTest : public ::testing::Test {
 protected:
  UiHeartbeatsTest() { spdlog::set_level(spdlog::level::warn); }

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
  server::Metrics metrics_;
  server::Registry registry_{clock_, server::RegistryOptions{}, nullptr, metrics_};
};

TEST_F(UiHeartbeatsTest, MillisecondsSinceTheLastOne) {
  Register("web-1", "web");
  Register("db-1", "db");
  clock_.Advance(1500ms);
  registry_.Heartbeat("service:db-1");
  clock_.Advance(250ms);
  Response all = UiHeartbeats(Get("/v1/concierge/heartbeats"), registry_);
  EXPECT_EQ(all.status, 200);
  EXPECT_EQ(all.body, R"({"service:db-1":250,"service:web-1":1750})");
  Response web = UiHeartbeats(Get("/v1/concierge/heartbeats", {{"service", "web"}}), registry_);
  EXPECT_EQ(web.body, R"({"service:web-1":1750})");
  EXPECT_EQ(UiHeartbeats(Get("/v1/concierge/heartbeats", {{"service", "nope"}}), registry_).body,
            "{}");
}

TEST_F(UiHeartbeatsTest, SummaryCountsEachServiceAndThenOnlyWhatChanged) {
  Register("web-1", "web");
  Register("web-2", "web");
  Register("db-1", "db");
  const core::Index registered = registry_.index();
  const std::string db = std::to_string(registry_.Service("db")->index);
  const std::string web = std::to_string(registry_.Service("web")->index);
  EXPECT_EQ(UiSummary(registry_, 0),
            "{\"Index\":" + std::to_string(registered) + ",\"Full\":true,\"Services\":[" +
                "{\"Name\":\"db\",\"Index\":" + db +
                ",\"Instances\":1,\"Passing\":1,\"Warning\":0,\"Critical\":0,\"Tags\":[]}," +
                "{\"Name\":\"web\",\"Index\":" + web +
                ",\"Instances\":2,\"Passing\":2,\"Warning\":0,\"Critical\":0,\"Tags\":[]}]}");
  // web-2 fails: past the client's index, only web is sent.
  core::UpdateCheck fail;
  fail.check_id = "service:web-2";
  fail.status = core::HealthStatus::kCritical;
  ASSERT_TRUE(registry_.Apply(registry_.Prepare(fail)).ok());
  const std::string now = std::to_string(registry_.index());
  EXPECT_EQ(UiSummary(registry_, registered),
            "{\"Index\":" + now + ",\"Full\":false,\"Services\":[{\"Name\":\"web\",\"Index\":" +
                now + ",\"Instances\":2,\"Passing\":1,\"Warning\":0,\"Critical\":1,\"Tags\":[]}]}");
  EXPECT_EQ(UiSummary(registry_, registry_.index()),
            "{\"Index\":" + now + ",\"Full\":false,\"Services\":[]}");
  // A new name sends every service again.
  Register("api-1", "api");
  EXPECT_NE(UiSummary(registry_, registry_.index() - 1).find("\"Full\":true"), std::string::npos);
}

}  // namespace
}  // namespace concierge::http
