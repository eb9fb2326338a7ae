#include "http/heartbeat_batch.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace concierge::http {
namespace {

using core::HealthStatus;

std::vector<HeartbeatEntry> MustDecode(std::string& body) {
  auto r = DecodeHeartbeatBatch(body);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : std::vector<HeartbeatEntry>{};
}

std::string DecodeError(std::string body) {
  auto r = DecodeHeartbeatBatch(body);
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.status().message();
}

TEST(HeartbeatBatchTest, EntriesTakeTheDefaultsUnlessTheyOverrideThem) {
  std::string body = R"({"status": "warning", "NOTE": "slow", "Checks": ["a",
      {"ID": "b", "Status": "critical", "Note": "disk full"}, {"id": "c\"q", "note": ""}]})";
  std::vector<HeartbeatEntry> e = MustDecode(body);
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].check_id, "a");
  EXPECT_EQ(e[0].status, HealthStatus::kWarning);
  EXPECT_EQ(e[0].note, "slow");
  EXPECT_EQ(e[1].check_id, "b");
  EXPECT_EQ(e[1].status, HealthStatus::kCritical);
  EXPECT_EQ(e[1].note, "disk full");
  EXPECT_EQ(e[2].check_id, "c\"q");  // unescaped in place
  EXPECT_EQ(e[2].status, HealthStatus::kWarning);
  EXPECT_EQ(e[2].note, "");
}

TEST(HeartbeatBatchTest, EncodeThenDecodeGivesTheSameEntries) {
  const std::string odd = std::string("ctl\x01\x1f \"\\/", 10);
  std::vector<HeartbeatEntry> in = {{"service:web-1", HealthStatus::kPassing, "", ""},
                                    {odd, HealthStatus::kWarning, "n\nl", ""},
                                    {"x", HealthStatus::kCritical, "", ""},
                                    {"y", HealthStatus::kPassing, "with a note", ""}};
  std::string body = EncodeHeartbeatBatch(in);
  std::vector<HeartbeatEntry> out = MustDecode(body);
  ASSERT_EQ(out.size(), in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out[i].check_id, in[i].check_id) << i;
    EXPECT_EQ(out[i].status, in[i].status) << i;
    EXPECT_EQ(out[i].note, in[i].note) << i;
  }
}

TEST(HeartbeatBatchTest, BadBodiesNameWhatIsWrong) {
  EXPECT_EQ(DecodeError("[]"), "request body: expected a JSON object");
  EXPECT_NE(DecodeError("{").find("not valid JSON"), std::string::npos);
  EXPECT_NE(DecodeError(std::string(200000, '[')).find("not valid JSON"), std::string::npos);
  EXPECT_NE(DecodeError("{}").find("Checks: expected an array"), std::string::npos);
  EXPECT_EQ(DecodeError(R"({"Checks": [true]})"),
            "Checks[0]: expected a check ID or an object with \"ID\"");
  EXPECT_EQ(DecodeError(R"({"Checks": ["a", {"ID": 1}]})"),
            "Checks[1].ID: expected the check ID as a string");
  EXPECT_EQ(DecodeError(R"({"Checks": ["a", ""]})"), "Checks[1]: the check ID is empty");
  EXPECT_EQ(DecodeError(R"({"Checks": [{"ID": "a", "Status": "up"}]})"),
            "Checks[0].Status: expected \"passing\", \"warning\" or \"critical\", got \"up\"");
  EXPECT_EQ(DecodeError(R"({"Status": "up", "Checks": []})"),
            "Status: expected \"passing\", \"warning\" or \"critical\", got \"up\"");
  // Issue 18: stored as check output, served as JSON.
  EXPECT_EQ(DecodeError("{\"Note\": \"a\xC3\", \"Checks\": [\"a\"]}"), "Note: is not valid UTF-8");
  EXPECT_EQ(DecodeError("{\"Checks\": [{\"ID\": \"a\", \"Note\": \"\xFF\"}]}"),
            "Checks[0].Note: is not valid UTF-8");
  std::string many = R"({"Checks": [)";
  for (std::size_t i = 0; i <= kMaxHeartbeatBatch; ++i) many += i ? ",\"c\"" : "\"c\"";
  EXPECT_EQ(DecodeError(many + "]}"), "Checks: 10001 entries; at most 10000 per request");
}

TEST(HeartbeatBatchTest, ResultsRoundTrip) {
  HeartbeatResults in{42, {200, 404, 503}, {{1, "unknown check ID \"x\""}, {2, "no leader"}}};
  std::string body = EncodeHeartbeatResults(in);
  EXPECT_EQ(body, R"({"Index":42,"Results":[200,404,503],"Errors":[{"Position":1,"Error":)"
                  R"("unknown check ID \"x\""},{"Position":2,"Error":"no leader"}]})");
  auto out = DecodeHeartbeatResults(body, 3);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->index, 42u);
  EXPECT_EQ(out->codes, in.codes);
  EXPECT_EQ(out->errors, in.errors);
}

TEST(HeartbeatBatchTest, ResultsThatDoNotAnswerTheBatchAreRefused) {
  const std::vector<std::string> bodies = {
      R"({"Index":1,"Results":[200]})", R"({"Results":[200,200]})",
      R"({"Index":1,"Results":[200,99]})",
      R"({"Index":1,"Results":[200,200],"Errors":[{"Position":2,"Error":"x"}]})", "nonsense"};
  for (std::string body : bodies) {
    std::string shown = body;
    EXPECT_FALSE(DecodeHeartbeatResults(body, 2).ok()) << shown;
  }
}

}  // namespace
}  // namespace concierge::http
