#include "cli/table.h"

#include <gtest/gtest.h>

namespace concierge::cli {
namespace {

TEST(FormatTableTest, AlignsColumnsWithoutTrailingSpaces) {
  EXPECT_EQ(FormatTable({"ID", "Address:Port", "Tags"},
                        {{"web-1", "10.0.0.1:80", "v1"}, {"w", "h:1", ""}}),
            "ID     Address:Port  Tags\n"
            "web-1  10.0.0.1:80   v1\n"
            "w      h:1\n");
}

TEST(FormatTableTest, HeaderOnlyWhenNoRows) {
  EXPECT_EQ(FormatTable({"ID", "Name"}, {}), "ID  Name\n");
}

}  // namespace
}  // namespace concierge::cli
