#include "server/grpc_health.h"

#include <array>
#include <cstdint>

namespace concierge::server {

namespace {

void PutVarint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool GetVarint(std::string_view& in, std::uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    auto byte = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    *v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

}  // namespace

std::string EncodeHealthCheckRequest(std::string_view service) {
  std::string message;
  if (!service.empty()) {
    message.push_back(0x0a);  // field 1, length-delimited
    PutVarint(message, service.size());
    message.append(service);
  }
  std::string framed(5, '\0');
  const auto n = static_cast<std::uint32_t>(message.size());
  framed[1] = static_cast<char>(n >> 24);
  framed[2] = static_cast<char>(n >> 16);
  framed[3] = static_cast<char>(n >> 8);
  framed[4] = static_cast<char>(n);
  return framed + message;
}

std::optional<int> DecodeHealthCheckResponse(std::string_view framed) {
  if (framed.size() < 5 || framed[0] != 0) return std::nullopt;
  const std::uint32_t n =
      (static_cast<std::uint32_t>(static_cast<unsigned char>(framed[1])) << 24) |
      (static_cast<std::uint32_t>(static_cast<unsigned char>(framed[2])) << 16) |
      (static_cast<std::uint32_t>(static_cast<unsigned char>(framed[3])) << 8) |
      static_cast<std::uint32_t>(static_cast<unsigned char>(framed[4]));
  if (framed.size() - 5 != n) return std::nullopt;
  std::string_view in = framed.substr(5);
  int status = 0;
  // Fields in any order; unknown ones skipped, as protobuf readers do.
  while (!in.empty()) {
    std::uint64_t key = 0;
    std::uint64_t value = 0;
    if (!GetVarint(in, &key)) return std::nullopt;
    switch (key & 7) {
      case 0:
        if (!GetVarint(in, &value)) return std::nullopt;
        if (key >> 3 == 1) status = static_cast<int>(value);
        break;
      case 1:
        if (in.size() < 8) return std::nullopt;
        in.remove_prefix(8);
        break;
      case 2:
        if (!GetVarint(in, &value) || value > in.size()) return std::nullopt;
        in.remove_prefix(static_cast<std::size_t>(value));
        break;
      case 5:
        if (in.size() < 4) return std::nullopt;
        in.remove_prefix(4);
        break;
      default:
        return std::nullopt;
    }
  }
  return status;
}

std::string ServingStatusName(int status) {
  static constexpr std::array<std::string_view, 4> kNames = {"UNKNOWN", "SERVING", "NOT_SERVING",
                                                             "SERVICE_UNKNOWN"};
  if (status >= 0 && status < static_cast<int>(kNames.size())) {
    return std::string(kNames[static_cast<std::size_t>(status)]);
  }
  return std::to_string(status);
}

std::string GrpcCodeName(int code) {
  static constexpr std::array<std::string_view, 17> kNames = {"OK",
                                                              "CANCELED",
                                                              "UNKNOWN",
                                                              "INVALID_ARGUMENT",
                                                              "DEADLINE_EXCEEDED",
                                                              "NOT_FOUND",
                                                              "ALREADY_EXISTS",
                                                              "PERMISSION_DENIED",
                                                              "RESOURCE_EXHAUSTED",
                                                              "FAILED_PRECONDITION",
                                                              "ABORTED",
                                                              "OUT_OF_RANGE",
                                                              "UNIMPLEMENTED",
                                                              "INTERNAL",
                                                              "UNAVAILABLE",
                                                              "DATA_LOSS",
                                                              "UNAUTHENTICATED"};
  if (code >= 0 && code < static_cast<int>(kNames.size())) {
    return std::string(kNames[static_cast<std::size_t>(code)]);
  }
  return std::to_string(code);
}

}  // namespace concierge::server
