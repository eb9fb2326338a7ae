#include "cli/service_body.h"

#include <gtest/gtest.h>

#include <functional>

namespace concierge::cli {
namespace {

// Flags for service "web", changed by `edit`.
ServiceFlags Web(const std::function<void(ServiceFlags&)>& edit = {}) {
  ServiceFlags flags;
  flags.name = "web";
  if (edit) edit(flags);
  return flags;
}

TEST(BuildServiceBodyTest, NameOnlySendsTheNameAsId) {
  Result<std::string> body = BuildServiceBody(Web());
  ASSERT_TRUE(body.ok()) << body.status().message();
  EXPECT_EQ(*body, R"({"ID":"web","Name":"web"})");
}

TEST(BuildServiceBodyTest, AllFlags) {
  Result<std::string> body = BuildServiceBody(Web([](ServiceFlags& f) {
    f.id = "web-1";
    f.address = "10.0.0.1";
    f.port = 8080;
    f.tags = {"v1", "canary"};
    f.meta = {"zone=a", "url=http://x/?a=b"};
    f.ttl = "10s";
    f.deregister_critical_after = "1m";
  }));
  ASSERT_TRUE(body.ok()) << body.status().message();
  EXPECT_EQ(*body, R"({"ID":"web-1","Name":"web","Address":"10.0.0.1","Port":8080,)"
                   R"("Tags":["v1","canary"],"Meta":{"zone":"a","url":"http://x/?a=b"},)"
                   R"("Check":{"TTL":"10s","DeregisterCriticalServiceAfter":"1m"}})");
}

TEST(BuildServiceBodyTest, EscapesStrings) {
  Result<std::string> body = BuildServiceBody(Web([](ServiceFlags& f) {
    f.name = "we\"b";
    f.tags = {"a\\b"};
  }));
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(*body, R"({"ID":"we\"b","Name":"we\"b","Tags":["a\\b"]})");
}

TEST(BuildServiceBodyTest, PortZeroIsSent) {
  Result<std::string> body = BuildServiceBody(Web([](ServiceFlags& f) { f.port = 0; }));
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(*body, R"({"ID":"web","Name":"web","Port":0})");
}

TEST(BuildServiceBodyTest, EmptyMetaValueIsAllowed) {
  Result<std::string> body = BuildServiceBody(Web([](ServiceFlags& f) { f.meta = {"k="}; }));
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(*body, R"({"ID":"web","Name":"web","Meta":{"k":""}})");
}

void ExpectInvalid(const ServiceFlags& flags, std::string_view mentions) {
  Result<std::string> body = BuildServiceBody(flags);
  ASSERT_FALSE(body.ok());
  EXPECT_EQ(body.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(body.status().message().find(mentions), std::string::npos) << body.status().message();
}

TEST(BuildServiceBodyTest, RejectsBadFlagsNamingThem) {
  ExpectInvalid(ServiceFlags{}, "-name");
  ExpectInvalid(Web([](ServiceFlags& f) { f.meta = {"novalue"}; }), "-meta: expected key=value");
  ExpectInvalid(Web([](ServiceFlags& f) { f.meta = {"=v"}; }), "-meta: expected key=value");
  ExpectInvalid(Web([](ServiceFlags& f) { f.meta = {"k=1", "k=2"}; }), "\"k\" given twice");
  ExpectInvalid(Web([](ServiceFlags& f) { f.ttl = "ten"; }),
                "-ttl: expected a duration like \"10s\", got \"ten\"");
  ExpectInvalid(Web([](ServiceFlags& f) { f.ttl = "0s"; }), "-ttl");
  ExpectInvalid(Web([](ServiceFlags& f) {
                  f.ttl = "10s";
                  f.deregister_critical_after = "soon";
                }),
                "-deregister-critical-after: expected a duration");
  ExpectInvalid(Web([](ServiceFlags& f) { f.deregister_critical_after = "1m"; }), "needs -ttl");
}

}  // namespace
}  // namespace concierge::cli
