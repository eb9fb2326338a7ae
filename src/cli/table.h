// Column-aligned text tables for command output.
#pragma once

#include <string>
#include <vector>

namespace concierge::cli {

// The header and rows as lines, columns left-aligned and separated by two spaces, without
// trailing spaces. Every row has as many cells as the header.
std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

}  // namespace concierge::cli
