#include "cli/table.h"

#include <algorithm>

namespace concierge::cli {

std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) widths[c] = header[c].size();
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < widths.size() && c < row.size(); ++c) {
      widths[c] = std::max(widths[c], row[c].size());
    }
  }
  std::string out;
  auto append = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (std::size_t c = 0; c < widths.size() && c < cells.size(); ++c) {
      if (c > 0) line.append(2, ' ');
      line += cells[c];
      if (c + 1 < widths.size()) line.append(widths[c] - cells[c].size(), ' ');
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out += line;
    out += '\n';
  };
  append(header);
  for (const auto& row : rows) append(row);
  return out;
}

}  // namespace concierge::cli
