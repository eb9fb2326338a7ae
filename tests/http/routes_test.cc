// The route table (http/routes.h) walked entry by entry: matching, the methods each route
// takes (405 with Allow for the others, through ConsulApi itself), ACL rules, body limits,
// metrics labels, and docs/consul-compat.md's endpoint table, which must be the table's.
#include "http/routes.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "api_fixture.h"
#include "http/consul_api.h"

namespace concierge::http {
namespace {

namespace asio = boost::asio;

// A path that `pattern` matches: each parameter replaced by a value.
std::string SamplePath(std::string_view pattern) {
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != ':') {
      out += pattern[i];
      continue;
    }
    while (i + 1 < pattern.size() && pattern[i + 1] != '/') ++i;
    out += "x1";
  }
  return out;
}

constexpr std::pair<Methods, const char*> kMethods[] = {
    {kGet, "GET"}, {kPut, "PUT"}, {kPost, "POST"}, {kDelete, "DELETE"}};

std::optional<std::string> Header(const Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return std::nullopt;
}

TEST(MatchRouteTest, ParametersAndTheRestOfThePath) {
  RouteMatch m = MatchRoute("PUT", "/v1/agent/check/pass/service:web-1");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->endpoint, Endpoint::kCheckPass);
  EXPECT_EQ(m.param(), "service:web-1");
  m = MatchRoute("GET", "/v1/agent/service/a/b");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->endpoint, Endpoint::kAgentService);
  EXPECT_EQ(m.param(), "a/b");
  m = MatchRoute("GET", "/v1/acl/policy/name/ops");
  EXPECT_EQ(m.route->endpoint, Endpoint::kAclPolicyByName);
  EXPECT_EQ(m.param(), "ops");
  m = MatchRoute("HEAD", "/v1/catalog/services");
  EXPECT_EQ(m.route->endpoint, Endpoint::kCatalogServices);
}

TEST(MatchRouteTest, UnknownPathsAndMethods) {
  RouteMatch none = MatchRoute("GET", "/v1/nothing/here");
  EXPECT_EQ(none.route, nullptr);
  EXPECT_EQ(none.allowed, 0);
  EXPECT_EQ(MatchRoute("GET", "/v1/agent/servicesX").route, nullptr);
  RouteMatch wrong = MatchRoute("POST", "/v1/agent/service/register");
  EXPECT_EQ(wrong.route, nullptr);
  EXPECT_EQ(AllowHeader(wrong.allowed), "PUT");
  // One path, two routes: their methods together.
  RouteMatch both = MatchRoute("DELETE", "/v1/snapshot");
  EXPECT_EQ(both.route, nullptr);
  EXPECT_EQ(AllowHeader(both.allowed), "GET, HEAD, PUT");
  EXPECT_EQ(MatchRoute("PATCH", "/v1/agent/services").route, nullptr);
}

TEST(RouteTableTest, EveryRouteServesItsMethodsAndOnlyThose) {
  for (const Route& route : Routes()) {
    const std::string path = SamplePath(route.pattern);
    Methods allowed = MatchRoute("OPTIONS", path).allowed;
    EXPECT_TRUE(allowed & (route.methods | route.legacy)) << route.pattern;
    for (auto [bit, method] : kMethods) {
      RouteMatch m = MatchRoute(method, path);
      if (allowed & bit) {
        ASSERT_NE(m.route, nullptr) << method << " " << path;
        if (route.methods & bit || route.legacy & bit) {
          EXPECT_EQ(m.route->pattern, route.pattern) << method << " " << path;
        }
      } else {
        EXPECT_EQ(m.route, nullptr) << method << " " << path;
      }
    }
  }
}

TEST(RouteTableTest, ConsulsMethodsWritesArePutReadsAreGet) {
  for (const Route& route : Routes()) {
    if (route.endpoint == Endpoint::kUnsupported) continue;
    if (route.access == Access::kRead) {
      EXPECT_EQ(route.methods, kGet) << route.pattern;
      EXPECT_EQ(route.legacy, 0) << route.pattern;
    } else {
      EXPECT_FALSE(route.methods & kGet && route.endpoint != Endpoint::kSnapshotSave)
          << route.pattern;
    }
    // Only the writes python3-consul 0.7.1 sends as GET are legacy.
    if (route.legacy != 0) {
      EXPECT_TRUE(route.endpoint == Endpoint::kDeregister ||
                  route.endpoint == Endpoint::kCheckPass ||
                  route.endpoint == Endpoint::kCheckWarn || route.endpoint == Endpoint::kCheckFail)
          << route.pattern;
    }
    // Writes are answered by the leader (or the server that received them, for the cluster's
    // own join); nothing that writes reads stale.
    if (route.access == Access::kWrite && route.endpoint != Endpoint::kSnapshotSave) {
      EXPECT_NE(route.where, Where::kRead) << route.pattern;
    }
    if (route.blocking != Blocking::kNo) {
      EXPECT_EQ(route.access, Access::kRead) << route.pattern;
    }
    if (route.body == BodyLimit::kBackup) {
      EXPECT_EQ(route.methods, kPut) << route.pattern;
    }
  }
}

TEST(RouteTableTest, MetricsLabelsArePatternsOncePerPattern) {
  std::span<const std::string_view> labels = MetricsLabels();
  EXPECT_EQ(labels[0], "other");
  EXPECT_EQ(std::set<std::string_view>(labels.begin(), labels.end()).size(), labels.size());
  for (const Route& route : Routes()) EXPECT_EQ(labels[MetricsSlot(&route)], route.pattern);
  EXPECT_EQ(MetricsSlot(nullptr), 0u);
}

// --- Through ConsulApi, as the agent answers -------------------------------------------

class RoutedApiTest : public ApiFixture {
 protected:
  RoutedApiTest() : ApiFixture(Options(true)) {}

  static ApiOptions Options(bool legacy) {
    ApiOptions options = TestOptions();
    options.default_wait = std::chrono::milliseconds(0);
    options.max_wait = std::chrono::milliseconds(0);
    options.legacy_methods = legacy;
    options.allowed_origins = {"https://ops.example.com"};
    return options;
  }

  Response Call(std::string method, std::string path, Headers headers = {},
                ConsulApi* api = nullptr) {
    Request req = MakeRequest(std::move(method), std::move(path), "", std::move(headers));
    return Run(api != nullptr ? *api : api_, req, ctx_);
  }

  asio::io_context ctx_;
};

TEST_F(RoutedApiTest, EveryOtherMethodIs405WithAllowAndConsulsMessage) {
  for (const Route& route : Routes()) {
    const std::string path = SamplePath(route.pattern);
    const Methods allowed = MatchRoute("OPTIONS", path).allowed;
    for (auto [bit, method] : kMethods) {
      if (allowed & bit) continue;
      Response r = Call(method, path);
      EXPECT_EQ(r.status, 405) << method << " " << path;
      EXPECT_EQ(r.body, "method " + std::string(method) + " not allowed\n");
      EXPECT_EQ(Header(r, "Allow"), AllowHeader(allowed)) << method << " " << path;
    }
    Response options = Call("OPTIONS", path);
    EXPECT_EQ(options.status, 200) << path;
    EXPECT_EQ(Header(options, "Allow"), AllowHeader(allowed));
  }
}

TEST_F(RoutedApiTest, UnknownPathsAre404AndUnsupportedOnes501) {
  Response r = Call("GET", "/v1/agent/nothing");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "no such endpoint: /v1/agent/nothing\n");
  for (const Route& route : Routes()) {
    if (route.endpoint != Endpoint::kUnsupported) continue;
    Response unsupported = Call("PUT", SamplePath(route.pattern));
    EXPECT_EQ(unsupported.status, 501) << route.pattern;
    EXPECT_NE(unsupported.body.find(route.message), std::string::npos) << unsupported.body;
  }
}

TEST_F(RoutedApiTest, LegacyGetsWorkForClientsButNotForBrowsersOrWhenTurnedOff) {
  EXPECT_EQ(Call("GET", "/v1/agent/check/pass/none").status, 404);  // routed: unknown check
  Response browser =
      Call("GET", "/v1/agent/service/deregister/web-1", {{"Sec-Fetch-Site", "same-origin"}});
  EXPECT_EQ(browser.status, 403);
  EXPECT_NE(browser.body.find("takes PUT"), std::string::npos) << browser.body;
  ConsulApi strict{registry_, state_, hub_, Options(false)};
  Response off = Call("GET", "/v1/agent/check/pass/none", {}, &strict);
  EXPECT_EQ(off.status, 405);
  EXPECT_EQ(Header(off, "Allow"), "PUT");
}

TEST_F(RoutedApiTest, WritesFromAnotherSitesPageAreRefused) {
  const std::string path = "/v1/agent/service/deregister/web-1";
  auto status = [&](std::vector<std::pair<std::string, std::string>> headers) {
    return Call("PUT", path, std::move(headers)).status;
  };
  EXPECT_EQ(status({{"Sec-Fetch-Site", "cross-site"}}), 403);
  EXPECT_EQ(status({{"Sec-Fetch-Site", "same-site"}}), 403);
  EXPECT_EQ(status({{"Origin", "http://evil.example"}, {"Host", "127.0.0.1:8500"}}), 403);
  EXPECT_EQ(status({{"Origin", "null"}, {"Host", "127.0.0.1:8500"}}), 403);
  // The agent's own pages, an allowed origin, and clients that are not browsers: routed (the
  // handler's 404 for an unknown instance).
  EXPECT_EQ(status({{"Sec-Fetch-Site", "same-origin"}}), 404);
  EXPECT_EQ(status({{"Origin", "http://127.0.0.1:8500"}, {"Host", "127.0.0.1:8500"}}), 404);
  EXPECT_EQ(status({{"Origin", "https://ops.example.com"}, {"Host", "127.0.0.1:8500"}}), 404);
  EXPECT_EQ(status({}), 404);
  // Reads from other sites are not writes (a browser keeps their answers from the page).
  EXPECT_EQ(Call("GET", "/v1/catalog/services", {{"Sec-Fetch-Site", "cross-site"}}).status, 200);
}

TEST_F(RoutedApiTest, BodyLimitsAreTheRoutesAndKnownBeforeTheBody) {
  auto limit = [&](std::string method, std::string path) {
    Request head;
    head.method = std::move(method);
    head.path = std::move(path);
    return api_.Admit(head);
  };
  EXPECT_EQ(limit("PUT", "/v1/agent/service/register").body_limit, std::size_t{1} << 20);
  EXPECT_EQ(limit("PUT", "/v1/agent/check/pass/x").body_limit, kNoBodyLimit);
  EXPECT_EQ(limit("GET", "/v1/snapshot").body_limit, kNoBodyLimit);
  EXPECT_EQ(limit("PUT", "/v1/snapshot").body_limit, std::size_t{1} << 30);
  // Not /v1/snapshot: the large limit is that route's alone.
  EXPECT_EQ(limit("PUT", "/v1/snapshotX").body_limit, kNoBodyLimit);
  EXPECT_EQ(limit("PUT", "/v1/snapshot/x").body_limit, kNoBodyLimit);
  for (const Route& route : Routes()) {
    Admission a = limit(route.methods & kPut ? "PUT" : "GET", SamplePath(route.pattern));
    EXPECT_FALSE(a.refuse) << route.pattern;
    EXPECT_LE(a.body_limit,
              route.body == BodyLimit::kBackup ? std::size_t{1} << 30 : std::size_t{1} << 20);
  }
}

TEST_F(RoutedApiTest, HashBlockingAnswersTheHashAndWaitsForAChange) {
  Response first = Call("GET", "/v1/agent/services");
  ASSERT_EQ(first.status, 200);
  std::optional<std::string> hash = Header(first, "X-Consul-ContentHash");
  ASSERT_TRUE(hash);
  Request req;
  req.method = "GET";
  req.path = "/v1/agent/services";
  req.query = {{"hash", *hash}, {"wait", "10ms"}};
  auto future = asio::co_spawn(
      ctx_, [&]() -> asio::awaitable<Response> { co_return co_await api_.Handle(req); },
      asio::use_future);
  ctx_.restart();
  ctx_.run();
  Response same = future.get();
  EXPECT_EQ(Header(same, "X-Consul-ContentHash"), hash);
}

// --- docs/consul-compat.md ----------------------------------------------------------------

std::string Name(const Route& route) {
  const char* level = route.access == Access::kRead ? "read" : "write";
  switch (route.acl) {
    case AclScope::kNone:
      return "none";
    case AclScope::kFiltered:
      if (route.endpoint == Endpoint::kTxn) return "key:read or key:write per operation";
      if (route.pattern.starts_with("/v1/session/")) return "filtered by session:read";
      return "filtered by service:read";
    case AclScope::kServiceOfCheck:
      return std::string("service:") + level + " (the check's service)";
    case AclScope::kServiceOfInstance:
      return std::string("service:") + level + " (the instance's service)";
    case AclScope::kServiceOfApp:
      return std::string("service:") + level + " (the Eureka app's service)";
    case AclScope::kService:
      return std::string("service:") + level + " (the named service)";
    case AclScope::kServiceInBody:
      return "service:write (the registered name)";
    case AclScope::kEachHeartbeat:
      return "service:write per entry";
    case AclScope::kNode:
      return std::string("node:") + level;
    case AclScope::kAgent:
      return std::string("agent:") + level;
    case AclScope::kKey:
      return std::string("key:") + level +
             (route.access == Access::kRead ? " (?recurse and ?keys: filtered)"
                                            : " (?recurse: on the prefix)");
    case AclScope::kSession:
      return std::string("session:") + level;
    case AclScope::kOperator:
      return std::string("operator:") + level;
    case AclScope::kAcl:
      return std::string("acl:") + level;
    case AclScope::kAnyToken:
      return "any token";
    case AclScope::kCluster:
      return "internal: cluster key";
  }
  return "?";
}

std::string Name(Where where) {
  switch (where) {
    case Where::kAgent:
      return "any server";
    case Where::kLeader:
      return "leader";
    case Where::kHeartbeat:
      return "leader (batched)";
    case Where::kRead:
      return "leader, or any with ?stale";
  }
  return "?";
}

// The endpoint table as docs/consul-compat.md shows it, generated from the route table.
std::string RouteTableMarkdown() {
  std::ostringstream out;
  out << "| methods | path | ACL | answered by | blocking | body |\n"
      << "|---|---|---|---|---|---|\n";
  for (const Route& route : Routes()) {
    if (route.endpoint == Endpoint::kUnsupported) continue;
    std::string methods = AllowHeader(route.methods);
    if (route.legacy) methods += " (legacy: " + AllowHeader(route.legacy) + ")";
    const char* blocking = route.blocking == Blocking::kIndex  ? "?index"
                           : route.blocking == Blocking::kHash ? "?hash"
                                                               : "";
    const char* body = route.body == BodyLimit::kJson     ? "1 MiB"
                       : route.body == BodyLimit::kBackup ? "1 GiB"
                                                          : "none";
    out << "| " << methods << " | `" << route.pattern << "` | " << Name(route) << " | "
        << Name(route.where) << " | " << blocking << " | " << body << " |\n";
  }
  out << "\nAnswered 501 with a message (Consul endpoints Concierge does not serve):\n\n";
  for (const Route& route : Routes()) {
    if (route.endpoint != Endpoint::kUnsupported) continue;
    out << "- `" << route.pattern << "`: " << route.message << "\n";
  }
  out << "\n";
  return out.str();
}

TEST(RouteTableDocsTest, ConsulCompatShowsTheRouteTable) {
  std::ifstream in(CONCIERGE_DOCS_DIR "/consul-compat.md");
  ASSERT_TRUE(in) << CONCIERGE_DOCS_DIR "/consul-compat.md";
  std::stringstream doc;
  doc << in.rdbuf();
  const std::string text = doc.str();
  constexpr std::string_view kBegin =
      "<!-- route table: begin (generated, checked by "
      "tests/http/routes_test.cc) -->\n";
  constexpr std::string_view kEnd = "<!-- route table: end -->";
  std::size_t begin = text.find(kBegin);
  std::size_t end = text.find(kEnd);
  ASSERT_NE(begin, std::string::npos) << "no route table markers in docs/consul-compat.md";
  ASSERT_NE(end, std::string::npos);
  begin += kBegin.size();
  EXPECT_EQ(text.substr(begin, end - begin), RouteTableMarkdown())
      << "docs/consul-compat.md's route table differs from src/http/routes.cc; put this "
         "between the markers:\n"
      << RouteTableMarkdown();
}

}  // namespace
}  // namespace concierge::http
