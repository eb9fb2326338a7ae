#include "tls/cluster_key.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <charconv>
#include <fstream>

#include "tls/base64.h"

namespace concierge::tls {

namespace {

std::string Hex(const Mac& mac) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : mac) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

std::string Sha256(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), digest, &n, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest), n);
}

}  // namespace

Result<ClusterKey> ClusterKey::Parse(std::string_view text) {
  auto bad = [] {
    return Status::InvalidArgument(
        "cluster key: expected 16, 24 or 32 bytes in base64 (make one with `concierge keygen`)");
  };
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  if (text.size() > 64) return bad();
  std::optional<std::string> out = Base64Decode(text);
  if (!out) return bad();
  if (out->size() != 16 && out->size() != 24 && out->size() != 32) return bad();
  return ClusterKey(std::move(*out));
}

Result<ClusterKey> ClusterKey::FromFile(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) {
    return Status::InvalidArgument("-cluster-key-file: cannot read " + path);
  }
  auto key = Parse(line);
  if (!key.ok()) return Status::InvalidArgument(path + ": " + key.status().message());
  return key;
}

Result<std::string> ClusterKey::Generate() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    return Status::Internal("cannot get random bytes from OpenSSL");
  }
  return Base64Encode(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

Mac ClusterKey::Sign(std::string_view label, std::initializer_list<std::string_view> parts) const {
  std::string message;
  auto add = [&message](std::string_view part) {
    std::uint64_t n = part.size();
    for (int i = 0; i < 8; ++i) message.push_back(static_cast<char>(n >> (8 * i)));
    message.append(part);
  };
  add(label);
  for (std::string_view part : parts) add(part);
  Mac mac{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac.data(), &len);
  return mac;
}

bool ClusterKey::Equal(const Mac& a, const Mac& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string ClusterKey::ProveRequest(std::string_view method, std::string_view target,
                                     std::string_view body, std::int64_t unix_seconds) const {
  std::string seconds = std::to_string(unix_seconds);
  return seconds + ":" + Hex(Sign("concierge-http-1", {method, target, seconds, Sha256(body)}));
}

bool ClusterKey::CheckRequest(std::string_view proof, std::string_view method,
                              std::string_view target, std::string_view body,
                              std::int64_t now) const {
  std::size_t colon = proof.find(':');
  if (colon == std::string_view::npos || proof.size() - colon - 1 != 64) return false;
  std::string_view seconds = proof.substr(0, colon);
  std::int64_t at = 0;
  auto [end, ec] = std::from_chars(seconds.data(), seconds.data() + seconds.size(), at);
  if (ec != std::errc() || end != seconds.data() + seconds.size()) return false;
  if (at < now - kProofWindowSeconds || at > now + kProofWindowSeconds) return false;
  std::string expected = ProveRequest(method, target, body, at);
  return expected.size() == proof.size() &&
         CRYPTO_memcmp(expected.data(), proof.data(), proof.size()) == 0;
}

}  // namespace concierge::tls
