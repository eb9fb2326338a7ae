#include "cli/watch.h"

#include <map>
#include <utility>

namespace concierge::cli {
namespace {

using client::ServiceInstance;

std::string Tags(const std::vector<std::string>& tags) {
  std::string out = "[";
  for (std::size_t i = 0; i < tags.size(); ++i) {
    if (i > 0) out += ',';
    out += tags[i];
  }
  return out + "]";
}

std::string StatusLine(const ServiceInstance& instance) {
  std::string line = instance.status;
  std::string output = client::OneLine(instance.output, 120);
  if (!output.empty()) line += ": " + output;
  return line;
}

}  // namespace

std::vector<std::string> DescribeChanges(const std::vector<ServiceInstance>& before,
                                         const std::vector<ServiceInstance>& after) {
  // Keyed by (ID, node) so the lines come out in ID order.
  using Key = std::pair<std::string, std::string>;
  std::map<Key, const ServiceInstance*> old_by_key;
  std::map<Key, const ServiceInstance*> new_by_key;
  for (const ServiceInstance& i : before) old_by_key[{i.id, i.node}] = &i;
  for (const ServiceInstance& i : after) new_by_key[{i.id, i.node}] = &i;

  std::map<Key, std::vector<std::string>> lines;
  for (const auto& [key, old] : old_by_key) {
    if (!new_by_key.contains(key)) lines[key].push_back("- " + old->id + " " + old->Endpoint());
  }
  for (const auto& [key, now] : new_by_key) {
    auto it = old_by_key.find(key);
    if (it == old_by_key.end()) {
      lines[key].push_back("+ " + now->id + " " + now->Endpoint() + " " + StatusLine(*now));
      continue;
    }
    const ServiceInstance& old = *it->second;
    if (old.Endpoint() != now->Endpoint()) {
      lines[key].push_back("~ " + now->id + " " + old.Endpoint() + " -> " + now->Endpoint());
    }
    if (old.tags != now->tags) {
      lines[key].push_back("~ " + now->id + " tags " + Tags(old.tags) + " -> " + Tags(now->tags));
    }
    if (old.status != now->status) {
      lines[key].push_back("~ " + now->id + " " + old.status + " -> " + StatusLine(*now));
    }
  }
  std::vector<std::string> out;
  for (auto& [key, key_lines] : lines) {
    for (std::string& line : key_lines) out.push_back(std::move(line));
  }
  return out;
}

}  // namespace concierge::cli
