// What this binary is: its version and the commit it was built from.
#pragma once

namespace concierge::cli {

// The project version of CMakeLists.txt, e.g. "0.1.0".
extern const char kVersion[];
// The git commit the build was configured from (12 hex digits), or "unknown" when built
// outside a git checkout (pass -DCONCIERGE_GIT_COMMIT=... to name it then).
extern const char kGitCommit[];

}  // namespace concierge::cli
