// The secret that the servers of one cluster share (-cluster-key or -cluster-key-file):
// 32 random bytes, written in base64 as `concierge keygen` prints them. It proves that a
// peer is a member: Raft connections open with a challenge-response on it (raft/
// auth_transport.h), and the HTTP requests servers send each other (join, forwarding)
// carry an HMAC of the request under it. See docs/clustering.md for what it protects.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "core/status.h"

namespace concierge::tls {

using Mac = std::array<std::uint8_t, 32>;

class ClusterKey {
 public:
  // 16, 24 or 32 bytes in standard base64 (Consul's gossip keys have this form too).
  static Result<ClusterKey> Parse(std::string_view base64);
  // The same, from the first line of a file.
  static Result<ClusterKey> FromFile(const std::string& path);
  // 32 new random bytes in base64.
  static Result<std::string> Generate();

  // HMAC-SHA256 under the key of `label` and `parts`, each length-prefixed, so that no two
  // different inputs give the same bytes.
  Mac Sign(std::string_view label, std::initializer_list<std::string_view> parts) const;
  // Constant-time comparison.
  static bool Equal(const Mac& a, const Mac& b);

  // The value of kProofHeader for an HTTP request sent at `unix_seconds`:
  // "<unix seconds>:<hex HMAC of method, target, seconds and the body's SHA-256>".
  std::string ProveRequest(std::string_view method, std::string_view target, std::string_view body,
                           std::int64_t unix_seconds) const;
  // True if `proof` is such a value made within kProofWindowSeconds of `now`.
  bool CheckRequest(std::string_view proof, std::string_view method, std::string_view target,
                    std::string_view body, std::int64_t now) const;

  static constexpr std::string_view kProofHeader = "X-Concierge-Cluster-Auth";
  static constexpr std::int64_t kProofWindowSeconds = 60;

 private:
  explicit ClusterKey(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

}  // namespace concierge::tls
