#include "gateway/routes.h"

#include <gtest/gtest.h>

namespace concierge::gateway {
namespace {

Route Parse(RouteKind kind, std::string_view spec) {
  Result<Route> r = ParseRoute(kind, spec);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : Route{};
}

std::string Error(RouteKind kind, std::string_view spec) {
  Result<Route> r = ParseRoute(kind, spec);
  EXPECT_FALSE(r.ok()) << spec;
  return r.ok() ? "" : r.status().message();
}

TEST(ParseRoute, PathWithServiceAndTag) {
  Route r = Parse(RouteKind::kPath, "/v2/=web:canary");
  EXPECT_EQ(r.match, "/v2/");
  EXPECT_EQ(r.target.service, "web");
  EXPECT_EQ(r.target.tag, "canary");
  EXPECT_EQ(r.target.Key(), "web:canary");
  EXPECT_EQ(Parse(RouteKind::kPath, "/=web").target.Key(), "web");
}

TEST(ParseRoute, HostIsCaseFolded) {
  Route r = Parse(RouteKind::kHost, "Shop.Example=shop");
  EXPECT_EQ(r.match, "shop.example");
  EXPECT_EQ(r.target.service, "shop");
}

TEST(ParseRoute, TcpListenAddress) {
  Route r = Parse(RouteKind::kTcp, "127.0.0.1:9000=db");
  EXPECT_EQ(r.match, "127.0.0.1:9000");
  EXPECT_EQ(r.target.service, "db");
}

TEST(ParseRoute, ErrorsSayWhatIsWrongAndTheExpectedShape) {
  std::string e = Error(RouteKind::kPath, "/api/");
  EXPECT_NE(e.find("-route \"/api/\": no '='"), std::string::npos) << e;
  EXPECT_NE(e.find("PREFIX=SERVICE[:TAG]"), std::string::npos) << e;
  EXPECT_NE(Error(RouteKind::kPath, "api=web").find("must start with '/'"), std::string::npos);
  EXPECT_NE(Error(RouteKind::kPath, "/api=").find("service name"), std::string::npos);
  EXPECT_NE(Error(RouteKind::kPath, "/api=web:").find("tag"), std::string::npos);
  EXPECT_NE(Error(RouteKind::kPath, "/api=w b").find("service name"), std::string::npos);
  EXPECT_NE(Error(RouteKind::kHost, "shop:80=shop").find("port"), std::string::npos);
  EXPECT_NE(Error(RouteKind::kTcp, "127.0.0.1=db").find("host:port"), std::string::npos);
  EXPECT_NE(Error(RouteKind::kTcp, "127.0.0.1:70000=db").find("65535"), std::string::npos);
  EXPECT_NE(Error(RouteKind::kTcp, "x=db").find("-route-tcp"), std::string::npos);
}

TEST(RouteTable, LongestPrefixWins) {
  RouteTable table;
  ASSERT_TRUE(table.Add(Parse(RouteKind::kPath, "/=root")).ok());
  ASSERT_TRUE(table.Add(Parse(RouteKind::kPath, "/api/=web")).ok());
  ASSERT_TRUE(table.Add(Parse(RouteKind::kPath, "/api/v2/=web:canary")).ok());
  EXPECT_EQ(table.Match("", "/api/v2/x?y=1")->target.Key(), "web:canary");
  EXPECT_EQ(table.Match("", "/api/v1")->target.Key(), "web");
  EXPECT_EQ(table.Match("", "/other")->target.Key(), "root");
}

TEST(RouteTable, NoMatchIsNull) {
  RouteTable table;
  ASSERT_TRUE(table.Add(Parse(RouteKind::kPath, "/api/=web")).ok());
  EXPECT_EQ(table.Match("x", "/ap"), nullptr);
  EXPECT_EQ(table.Match("x", "/"), nullptr);
}

TEST(RouteTable, HostWinsOverPathAndIgnoresPortAndCase) {
  RouteTable table;
  ASSERT_TRUE(table.Add(Parse(RouteKind::kPath, "/=web")).ok());
  ASSERT_TRUE(table.Add(Parse(RouteKind::kHost, "shop.example=shop")).ok());
  EXPECT_EQ(table.Match("SHOP.example:8080", "/cart")->target.service, "shop");
  EXPECT_EQ(table.Match("other.example", "/cart")->target.service, "web");
  // TCP routes never match HTTP requests.
  ASSERT_TRUE(table.Add(Parse(RouteKind::kTcp, "127.0.0.1:9000=db")).ok());
  EXPECT_EQ(table.Match("127.0.0.1:9000", "/")->target.service, "web");
}

TEST(RouteTable, DuplicateMatchIsAnError) {
  RouteTable table;
  ASSERT_TRUE(table.Add(Parse(RouteKind::kPath, "/api/=web")).ok());
  Status s = table.Add(Parse(RouteKind::kPath, "/api/=other"));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("given twice"), std::string::npos) << s.message();
  // The same text as a host is another route.
  EXPECT_TRUE(table.Add(Parse(RouteKind::kHost, "api=web")).ok());
}

TEST(RouteTable, TargetsAreDistinctInOrder) {
  RouteTable table;
  ASSERT_TRUE(table.Add(Parse(RouteKind::kPath, "/a/=web")).ok());
  ASSERT_TRUE(table.Add(Parse(RouteKind::kPath, "/b/=web:canary")).ok());
  ASSERT_TRUE(table.Add(Parse(RouteKind::kHost, "x=web")).ok());
  std::vector<Target> targets = table.Targets();
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_EQ(targets[0].Key(), "web");
  EXPECT_EQ(targets[1].Key(), "web:canary");
}

}  // namespace
}  // namespace concierge::gateway
