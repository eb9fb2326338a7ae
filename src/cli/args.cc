#include "cli/args.h"

#include <cctype>
#include <string_view>

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

}  // namespace concierge::cli
