#include "core/time.h"

#include <charconv>
#include <cmath>
#include <ctime>

namespace concierge::core {

namespace {

struct Unit {
  std::string_view name;
  double nanos;
};
// Longest names first so that "ms" is not read as "m".
constexpr Unit kUnits[] = {{"ns", 1},  {"us", 1e3}, {"\xC2\xB5s", 1e3}, {"ms", 1e6},
                           {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};

Status BadDuration(std::string_view text) {
  return Status::InvalidArgument(
      "expected a duration like \"10s\", \"1m30s\" or \"500ms\", got \"" + std::string(text) +
      "\"");
}

}  // namespace

Result<Duration> ParseDuration(std::string_view text) {
  std::string_view s = text;
  if (s.empty()) return BadDuration(text);
  bool negative = false;
  if (s.front() == '-' || s.front() == '+') {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return Duration::zero();
  // A bare number (no unit) means seconds.
  if (s.find_first_not_of("0123456789") == std::string_view::npos) {
    std::int64_t secs = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), secs);
    if (ec != std::errc() || secs > 9'000'000'000) return BadDuration(text);
    return Duration(std::chrono::seconds(negative ? -secs : secs));
  }
  double total = 0;
  while (!s.empty()) {
    std::size_t digits = s.find_first_not_of("0123456789.");
    if (digits == 0 || digits == std::string_view::npos) return BadDuration(text);
    double value = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + digits, value);
    if (ec != std::errc() || p != s.data() + digits) return BadDuration(text);
    s.remove_prefix(digits);
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (s.starts_with(u.name)) {
        // "m" must not swallow the "m" of "ms".
        if (u.name == "m" && s.starts_with("ms")) continue;
        unit = &u;
        break;
      }
    }
    if (unit == nullptr) return BadDuration(text);
    s.remove_prefix(unit->name.size());
    total += value * unit->nanos;
  }
  if (total > 9.2e18) return BadDuration(text);
  auto nanos = static_cast<std::int64_t>(std::llround(total));
  return Duration(negative ? -nanos : nanos);
}

std::string FormatDuration(Duration d) {
  if (d == Duration::zero()) return "0s";
  std::string out = d < Duration::zero() ? "-" : "";
  // Unsigned, so that the magnitude of Duration::min() is representable.
  std::uint64_t ns = static_cast<std::uint64_t>(d.count());
  if (d < Duration::zero()) ns = 0 - ns;
  auto trim = [](std::uint64_t whole, std::uint64_t frac, int width) {
    std::string s = std::to_string(whole);
    if (frac != 0) {
      std::string f = std::to_string(frac);
      f.insert(0, static_cast<std::size_t>(width) - f.size(), '0');
      while (!f.empty() && f.back() == '0') f.pop_back();
      s += "." + f;
    }
    return s;
  };
  if (ns < 1'000) return out + std::to_string(ns) + "ns";
  if (ns < 1'000'000) return out + trim(ns / 1'000, ns % 1'000, 3) + "us";
  if (ns < 1'000'000'000) return out + trim(ns / 1'000'000, ns % 1'000'000, 6) + "ms";
  std::uint64_t hours = ns / 3'600'000'000'000;
  ns %= 3'600'000'000'000;
  std::uint64_t minutes = ns / 60'000'000'000;
  ns %= 60'000'000'000;
  if (hours > 0) out += std::to_string(hours) + "h";
  if (hours > 0 || minutes > 0) out += std::to_string(minutes) + "m";
  return out + trim(ns / 1'000'000'000, ns % 1'000'000'000, 9) + "s";
}

std::string FormatTime(Time t) {
  std::int64_t ns = t.time_since_epoch().count();
  std::time_t secs = static_cast<std::time_t>(ns / 1'000'000'000);
  std::int64_t frac = ns % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%09lldZ", static_cast<long long>(frac));
  return buf;
}

}  // namespace concierge::core
