#include "cli/args.h"

#include <cctype>
#include <cstdlib>
#include <string_view>

#include "core/time.h"

namespace concierge::cli {
namespace {

// "-http-addr" or "-meta=k=v": one dash, then a name of two or more letters, digits, '-'
// or '_' starting with a letter, then optionally "=value".
bool IsOneDashLongFlag(std::string_view arg) {
  if (arg.size() < 3 || arg[0] != '-' || arg[1] == '-') return false;
  std::string_view name = arg.substr(1, arg.find('=') - 1);
  if (name.size() < 2 || !std::isalpha(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

}  // namespace

std::vector<std::string> RewriteLongFlags(std::vector<std::string> args) {
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--") break;
    if (IsOneDashLongFlag(args[i])) args[i].insert(0, 1, '-');
  }
  return args;
}

std::vector<std::string> SplitAddresses(const std::string& list) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    std::size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    if (comma > start) out.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

std::string TokenFromEnv(const std::string& token) {
  if (!token.empty()) return token;
  const char* consul = std::getenv("CONSUL_HTTP_TOKEN");
  return consul != nullptr ? consul : "";
}

Result<std::chrono::milliseconds> ParseFlagDuration(const std::string& flag,
                                                    const std::string& text) {
  Result<core::Duration> d = core::ParseDuration(text);
  if (!d.ok() || *d <= core::Duration::zero()) {
    return Status::InvalidArgument(flag + ": expected a positive duration like \"10s\", got \"" +
                                   text + "\"");
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(*d);
}

}  // namespace concierge::cli
