// Standard base64 with padding (RFC 4648), through OpenSSL's EVP block functions: KV values
// on the wire, the cluster key, and the command line's `kv import` and `kv export`.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace concierge::tls {

std::string Base64Encode(std::string_view bytes);
// nullopt for anything but standard base64 with padding.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace concierge::tls
