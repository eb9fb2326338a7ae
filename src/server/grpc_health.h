// grpc.health.v1.Health/Check on the wire, without a protobuf library: the request holds one
// string (the service), the response one enum (the serving status), each in gRPC's message
// frame (a compressed flag and a 4-byte big-endian length before the message).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace concierge::server {

inline constexpr std::string_view kGrpcHealthCheckPath = "/grpc.health.v1.Health/Check";

// HealthCheckRequest{service}, framed.
std::string EncodeHealthCheckRequest(std::string_view service);
// The serving status of one framed HealthCheckResponse (0 when the field is absent, as
// proto3 leaves a zero out), or nullopt if the bytes are not one uncompressed message.
std::optional<int> DecodeHealthCheckResponse(std::string_view framed);
// "UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN", or the number.
std::string ServingStatusName(int status);
inline constexpr int kServing = 1;
// gRPC's status code names ("OK", "UNIMPLEMENTED", ...), or the number.
std::string GrpcCodeName(int code);

}  // namespace concierge::server
