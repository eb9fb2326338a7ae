#include "client/kv_api.h"

#include <gtest/gtest.h>

#include "fake_registry.h"

namespace concierge::client {
namespace {

using testing::FakeRegistry;
using testing::FakeReply;
using namespace std::chrono_literals;

HttpClient Open(const FakeRegistry& agent) {
  Result<HttpClient> http = HttpClient::Open(agent.address());
  EXPECT_TRUE(http.ok()) << http.status().message();
  return std::move(http).value();
}

TEST(KvApiTest, GetDecodesEntriesAndNoKeyIsEmpty) {
  FakeRegistry agent([](const std::string&, const std::string& target) -> FakeReply {
    if (target.starts_with("/v1/kv/missing")) return {404, "", 7};
    return {200,
            R"([{"Key":"a/b","Value":"aGVsbG8=","Flags":3,"CreateIndex":4,"ModifyIndex":5,
                 "LockIndex":1,"Session":"s1"}, 17])",
            9};
  });
  HttpClient http = Open(agent);
  Result<KvRead> read = KvGet(http, "a/b");
  ASSERT_TRUE(read.ok()) << read.status().message();
  ASSERT_EQ(read->entries.size(), 1u) << "what is not an object is passed over";
  const KvEntry& e = read->entries[0];
  EXPECT_EQ(e.key, "a/b");
  EXPECT_EQ(e.value, "hello");
  EXPECT_EQ(e.flags, 3u);
  EXPECT_EQ(e.create_index, 4u);
  EXPECT_EQ(e.modify_index, 5u);
  EXPECT_EQ(e.lock_index, 1u);
  EXPECT_EQ(e.session, "s1");
  EXPECT_EQ(read->index, 9u);

  Result<KvRead> missing = KvGet(http, "missing", {.recurse = true, .index = 3, .wait = 2s});
  ASSERT_TRUE(missing.ok()) << missing.status().message();
  EXPECT_TRUE(missing->entries.empty());
  EXPECT_EQ(missing->index, 7u);
  EXPECT_EQ(agent.requests().back(), "GET /v1/kv/missing?recurse&index=3&wait=2000ms");
}

TEST(KvApiTest, AnUnreadableAnswerIsAnError) {
  FakeRegistry agent([](const std::string&, const std::string&) -> FakeReply {
    return {200, "{}"};
  });
  HttpClient http = Open(agent);
  Result<KvRead> read = KvGet(http, "k");
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().message(), "the agent's answer is not a JSON array");
}

TEST(KvApiTest, WritesCarryTheirConditionsAndAnswerTrueOrFalse) {
  FakeRegistry agent([](const std::string& method, const std::string&) -> FakeReply {
    return {200, method == "PUT" ? "true" : "false"};
  });
  HttpClient http = Open(agent);
  Result<bool> put = KvPut(http, "a b", "v", {.flags = 2, .cas = 0, .acquire = "s 1"});
  ASSERT_TRUE(put.ok()) << put.status().message();
  EXPECT_TRUE(*put);
  EXPECT_EQ(agent.requests().back(), "PUT /v1/kv/a%20b?flags=2&cas=0&acquire=s%201");
  Result<bool> deleted = KvDelete(http, "a", false, 5);
  ASSERT_TRUE(deleted.ok()) << deleted.status().message();
  EXPECT_FALSE(*deleted);
  EXPECT_EQ(agent.requests().back(), "DELETE /v1/kv/a?cas=5");
}

TEST(KvApiTest, KeysOfAnEmptyPrefixAreNone) {
  FakeRegistry agent([](const std::string&, const std::string&) -> FakeReply { return {404, ""}; });
  HttpClient http = Open(agent);
  Result<std::vector<std::string>> keys = KvKeys(http, "p/", "/");
  ASSERT_TRUE(keys.ok()) << keys.status().message();
  EXPECT_TRUE(keys->empty());
  EXPECT_EQ(agent.requests().back(), "GET /v1/kv/p%2F?keys&separator=%2F");
}

TEST(KvApiTest, SessionsAreCreatedAndAGoneOneIsNotFound) {
  FakeRegistry agent([](const std::string&, const std::string& target) -> FakeReply {
    if (target.starts_with("/v1/session/create")) return {200, R"({"ID":"s-1"})"};
    return {404, "session not found\n"};
  });
  HttpClient http = Open(agent);
  Result<std::string> id = CreateSession(http, {.name = "n", .ttl = "15s", .lock_delay = "0s"});
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_EQ(*id, "s-1");
  Status renewed = RenewSession(http, "s-1");
  EXPECT_EQ(renewed.code(), Status::Code::kNotFound);
  EXPECT_EQ(renewed.message(), "agent answered 404: session not found");
}

}  // namespace
}  // namespace concierge::client
