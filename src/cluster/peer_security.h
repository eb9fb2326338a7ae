// How the servers of a cluster prove to each other that they are members
// (docs/clustering.md, "Security"): HTTPS with the servers' own certificates, and an HMAC
// under the cluster key on every request one server sends another (join, forwarding).
#pragma once

#include <chrono>
#include <optional>

#include "http/forward.h"
#include "tls/cluster_key.h"

namespace concierge::cluster {

struct PeerSecurity {
  std::optional<tls::ClusterKey> key;
  http::PeerTls tls;

  // The proof header's value for a request sent now; empty without a key.
  std::string Prove(std::string_view method, std::string_view target, std::string_view body) const {
    if (!key) return {};
    return key->ProveRequest(method, target, body, UnixNow());
  }
  // The request carries a valid proof made within the last minute.
  bool Proven(const http::Request& req) const {
    if (!key) return false;
    auto proof = req.Header(tls::ClusterKey::kProofHeader);
    return proof && key->CheckRequest(*proof, req.method, req.target, req.body, UnixNow());
  }
  static std::int64_t UnixNow() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace concierge::cluster
