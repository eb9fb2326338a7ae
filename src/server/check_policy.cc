#include "server/check_policy.h"

#include <algorithm>
#include <array>
#include <charconv>

#include "core/utf8.h"

namespace concierge::server {

namespace {

// Check output is stored and served as JSON: valid UTF-8 (a target's body may be anything,
// or cut mid-character by the output limit), within the limit, cut between characters.
std::string Cut(const std::string& s, std::size_t max_bytes) {
  return std::string(core::TruncateUtf8(core::ToValidUtf8(s), max_bytes));
}

}  // namespace

namespace {

boost::asio::ip::address Unmapped(const boost::asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
  }
  return a;
}

// The first `prefix` bits of both addresses agree (same family).
bool SamePrefix(const boost::asio::ip::address& a, const boost::asio::ip::address& b,
                unsigned prefix) {
  if (a.is_v4() != b.is_v4()) return false;
  auto bytes = [](const boost::asio::ip::address& x) {
    std::array<unsigned char, 16> out{};
    if (x.is_v4()) {
      auto v4 = x.to_v4().to_bytes();
      std::copy(v4.begin(), v4.end(), out.begin());
    } else {
      out = x.to_v6().to_bytes();
    }
    return out;
  };
  auto x = bytes(a);
  auto y = bytes(b);
  for (unsigned i = 0; i < prefix; ++i) {
    unsigned mask = 0x80u >> (i % 8);
    if ((x[i / 8] & mask) != (y[i / 8] & mask)) return false;
  }
  return true;
}

}  // namespace

Result<NetworkAllowList> NetworkAllowList::Parse(std::string_view text) {
  NetworkAllowList out;
  while (!text.empty()) {
    std::size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) continue;
    auto bad = [&] {
      return Status::InvalidArgument(
          "-check-allowed-networks: expected CIDR blocks like "
          "\"10.0.0.0/8,fd00::/8\", got \"" +
          std::string(item) + "\"");
    };
    std::size_t slash = item.find('/');
    if (slash == std::string_view::npos) return bad();
    boost::system::error_code ec;
    auto base = boost::asio::ip::make_address(std::string(item.substr(0, slash)), ec);
    if (ec) return bad();
    std::string_view bits = item.substr(slash + 1);
    unsigned prefix = 0;
    auto [end, perr] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
    if (perr != std::errc() || end != bits.data() + bits.size() ||
        prefix > (base.is_v4() ? 32u : 128u)) {
      return bad();
    }
    out.blocks_.push_back({base, prefix});
  }
  return out;
}

bool NetworkAllowList::Allows(const boost::asio::ip::address& address) const {
  if (blocks_.empty()) return true;
  const boost::asio::ip::address a = Unmapped(address);
  for (const Block& b : blocks_) {
    if (SamePrefix(a, b.base, b.prefix)) return true;
  }
  return false;
}

std::string NetworkAllowList::ToString() const {
  std::string out;
  for (const Block& b : blocks_) {
    if (!out.empty()) out += ',';
    out += b.base.to_string() + "/" + std::to_string(b.prefix);
  }
  return out;
}

core::HealthStatus StatusOfHttpCode(int code) {
  if (code >= 200 && code <= 299) return core::HealthStatus::kPassing;
  if (code == 429) return core::HealthStatus::kWarning;
  return core::HealthStatus::kCritical;
}

std::optional<core::HealthStatus> FlapFilter::Observe(core::HealthStatus result) {
  if (result == core::HealthStatus::kCritical) {
    successes_ = 0;
    if (failures_ < failures_before_critical_) ++failures_;
    if (failures_ >= failures_before_critical_) return result;
    return std::nullopt;
  }
  failures_ = 0;
  if (successes_ < success_before_passing_) ++successes_;
  if (successes_ >= success_before_passing_) return result;
  return std::nullopt;
}

core::Duration FirstRunOffset(std::string_view check_id, core::Duration interval) {
  if (interval <= core::Duration::zero()) return core::Duration::zero();
  // FNV-1a: stable across runs and builds, unlike std::hash.
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : check_id) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return core::Duration(
      static_cast<std::int64_t>(h % static_cast<std::uint64_t>(interval.count())));
}

std::string HttpCheckOutput(std::string_view method, std::string_view url, int code,
                            std::string_view reason, std::string_view body, std::size_t max_bytes) {
  std::string out = "HTTP " + std::string(method) + " " + std::string(url) + ": " +
                    std::to_string(code) + (reason.empty() ? "" : " " + std::string(reason)) +
                    " Output: ";
  if (out.size() < max_bytes) out.append(body.substr(0, max_bytes - out.size()));
  return Cut(out, max_bytes);
}

std::string HttpCheckError(std::string_view method, std::string_view url, std::string_view error,
                           std::size_t max_bytes) {
  return Cut("HTTP " + std::string(method) + " " + std::string(url) + ": " + std::string(error),
             max_bytes);
}

std::string TcpCheckOutput(std::string_view address, std::string_view error,
                           std::size_t max_bytes) {
  if (error.empty()) return Cut("TCP connect " + std::string(address) + ": Success", max_bytes);
  return Cut("dial tcp " + std::string(address) + ": " + std::string(error), max_bytes);
}

std::string UdpCheckOutput(std::string_view address, std::string_view error,
                           std::size_t max_bytes) {
  if (error.empty()) return Cut("UDP connect " + std::string(address) + ": Success", max_bytes);
  return Cut("dial udp " + std::string(address) + ": " + std::string(error), max_bytes);
}

core::HealthStatus StatusOfExitCode(int code) {
  if (code == 0) return core::HealthStatus::kPassing;
  if (code == 1) return core::HealthStatus::kWarning;
  return core::HealthStatus::kCritical;
}

core::HealthStatus StatusOfUnitState(std::string_view state) {
  while (!state.empty() && (state.back() == '\n' || state.back() == ' ')) state.remove_suffix(1);
  if (state == "active" || state == "reloading") return core::HealthStatus::kPassing;
  return core::HealthStatus::kCritical;
}

}  // namespace concierge::server
