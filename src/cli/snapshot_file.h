// The atomic file write behind `concierge snapshot save`.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace concierge::cli {

// Writes `bytes` to a temporary file next to `path`, syncs it and renames it over `path`,
// so that `path` holds either its old contents or all of `bytes`, never a part. The error
// names the file and the cause; the temporary file is removed on failure.
Status WriteFileAtomically(const std::string& path, std::string_view bytes);

}  // namespace concierge::cli
