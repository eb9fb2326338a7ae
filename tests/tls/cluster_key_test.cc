#include "tls/cluster_key.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace concierge::tls {
namespace {

constexpr std::string_view kKey = "Yl9kW8aPQVqJq0Ui3g9nYw0c7v5V6h8kq1pR2sT3uE4=";

TEST(ClusterKeyTest, ParsesBase64KeysOfConsulSizes) {
  EXPECT_TRUE(ClusterKey::Parse(kKey).ok());
  EXPECT_TRUE(ClusterKey::Parse(std::string(kKey) + "\n").ok());
  EXPECT_TRUE(ClusterKey::Parse("MDEyMzQ1Njc4OWFiY2RlZg==").ok());  // 16 bytes
  for (std::string_view bad :
       {"", "QUJD", "not base64!", "MDEyMzQ1Njc4OWFiY2RlZg=", "MDEyMzQ1Njc4OWFiY2Rl"}) {
    auto key = ClusterKey::Parse(bad);
    ASSERT_FALSE(key.ok()) << bad;
    EXPECT_NE(key.status().message().find("concierge keygen"), std::string::npos);
  }
}

TEST(ClusterKeyTest, GeneratedKeysParseAndDiffer) {
  auto a = ClusterKey::Generate();
  auto b = ClusterKey::Generate();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 44u);
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(ClusterKey::Parse(*a).ok());
}

TEST(ClusterKeyTest, SignSeparatesPartsAndKeys) {
  auto key = ClusterKey::Parse(kKey).value();
  auto other = ClusterKey::Parse(*ClusterKey::Generate()).value();
  EXPECT_TRUE(ClusterKey::Equal(key.Sign("l", {"ab", "c"}), key.Sign("l", {"ab", "c"})));
  EXPECT_FALSE(ClusterKey::Equal(key.Sign("l", {"ab", "c"}), key.Sign("l", {"a", "bc"})));
  EXPECT_FALSE(ClusterKey::Equal(key.Sign("l", {"x"}), key.Sign("m", {"x"})));
  EXPECT_FALSE(ClusterKey::Equal(key.Sign("l", {"x"}), other.Sign("l", {"x"})));
}

TEST(ClusterKeyTest, RequestProofsBindTheRequestAndExpire) {
  auto key = ClusterKey::Parse(kKey).value();
  auto other = ClusterKey::Parse(*ClusterKey::Generate()).value();
  const std::int64_t now = 1'800'000'000;
  std::string proof = key.ProveRequest("PUT", "/v1/concierge/join", "{}", now);
  EXPECT_TRUE(key.CheckRequest(proof, "PUT", "/v1/concierge/join", "{}", now));
  EXPECT_TRUE(key.CheckRequest(proof, "PUT", "/v1/concierge/join", "{}", now + 60));
  EXPECT_FALSE(key.CheckRequest(proof, "PUT", "/v1/concierge/join", "{}", now + 61));
  EXPECT_FALSE(key.CheckRequest(proof, "PUT", "/v1/concierge/join", "{}", now - 61));
  EXPECT_FALSE(key.CheckRequest(proof, "GET", "/v1/concierge/join", "{}", now));
  EXPECT_FALSE(key.CheckRequest(proof, "PUT", "/v1/concierge/joinx", "{}", now));
  EXPECT_FALSE(key.CheckRequest(proof, "PUT", "/v1/concierge/join", "{ }", now));
  EXPECT_FALSE(other.CheckRequest(proof, "PUT", "/v1/concierge/join", "{}", now));
  for (const std::string& bad : std::vector<std::string>{
           "", ":", "1800000000", "x:" + proof.substr(11), proof.substr(0, proof.size() - 1)}) {
    EXPECT_FALSE(key.CheckRequest(bad, "PUT", "/v1/concierge/join", "{}", now)) << bad;
  }
}

}  // namespace
}  // namespace concierge::tls
