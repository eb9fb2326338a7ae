#include "server/grpc_health.h"

#include <gtest/gtest.h>

#include <string>

namespace concierge::server {
namespace {

using namespace std::string_literals;

TEST(GrpcHealthTest, RequestIsOneFramedStringField) {
  EXPECT_EQ(EncodeHealthCheckRequest(""), "\0\0\0\0\0"s);
  EXPECT_EQ(EncodeHealthCheckRequest("my.Svc"), "\0\0\0\0\x08\x0a\x06my.Svc"s);
  std::string long_name(200, 'a');
  std::string framed = EncodeHealthCheckRequest(long_name);
  // 200 needs a two-byte varint length: 0xc8 0x01.
  EXPECT_EQ(framed.substr(0, 8), "\0\0\0\0\xcb\x0a\xc8\x01"s);
  EXPECT_EQ(framed.size(), 5u + 3u + 200u);
}

TEST(GrpcHealthTest, ResponseStatusIsReadWhateverElseTheMessageHolds) {
  EXPECT_EQ(DecodeHealthCheckResponse("\0\0\0\0\x02\x08\x01"s), 1);
  EXPECT_EQ(DecodeHealthCheckResponse("\0\0\0\0\x02\x08\x02"s), 2);
  // proto3 leaves a zero out: an empty message is UNKNOWN.
  EXPECT_EQ(DecodeHealthCheckResponse("\0\0\0\0\0"s), 0);
  // Unknown fields (a string, a fixed64) are skipped.
  EXPECT_EQ(DecodeHealthCheckResponse(
                "\0\0\0\0\x0f\x12\x02hi\x19\x01\x02\x03\x04\x05\x06\x07\x08\x08\x01"s),
            1);
  EXPECT_FALSE(DecodeHealthCheckResponse(""));
  EXPECT_FALSE(DecodeHealthCheckResponse("\x01\0\0\0\x02\x08\x01"s));  // compressed
  EXPECT_FALSE(DecodeHealthCheckResponse("\0\0\0\0\x03\x08\x01"s));    // length
  EXPECT_FALSE(DecodeHealthCheckResponse("\0\0\0\0\x02\x12\x05"s));    // truncated string
  EXPECT_FALSE(DecodeHealthCheckResponse("\0\0\0\0\x01\x0b"s));        // group wire type
}

TEST(GrpcHealthTest, NamesOfStatusesAndCodes) {
  EXPECT_EQ(ServingStatusName(1), "SERVING");
  EXPECT_EQ(ServingStatusName(2), "NOT_SERVING");
  EXPECT_EQ(ServingStatusName(3), "SERVICE_UNKNOWN");
  EXPECT_EQ(ServingStatusName(9), "9");
  EXPECT_EQ(GrpcCodeName(0), "OK");
  EXPECT_EQ(GrpcCodeName(5), "NOT_FOUND");
  EXPECT_EQ(GrpcCodeName(12), "UNIMPLEMENTED");
  EXPECT_EQ(GrpcCodeName(16), "UNAUTHENTICATED");
  EXPECT_EQ(GrpcCodeName(42), "42");
}

}  // namespace
}  // namespace concierge::server
