// The directory a demo (blockwal_kv_demo, blockwal_block_demo) writes into,
// and the rule that keeps a demo from touching files it did not make.
//
// A demo owns a directory only if it made it: when it creates the directory
// (or adopts an existing empty one) it writes a marker file there, and later
// runs reuse a directory only if the marker is present. Any other existing
// path is refused and left exactly as it was. Inside a directory it owns, a
// demo replaces only the entries it writes itself (each demo names them).
#ifndef BLOCKWAL_TOOLS_DEMO_DIR_H_
#define BLOCKWAL_TOOLS_DEMO_DIR_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace blockwal::tools {

// The marker, in the demo's directory. Its text says what made it.
inline constexpr char kDemoMarkerName[] = ".blockwal-demo";

// Makes `dir` the demo's directory: a missing `dir` is created (its parent
// must exist) and marked; an existing empty directory is adopted and marked;
// a directory with the marker is used as it is. Anything else (a directory
// with other entries but no marker, or a path that is not a directory) is
// kFailedPrecondition, "refusing to use <dir>: <why>", and nothing is
// changed. Other errors are the file system's, naming the path.
absl::Status ClaimDemoDirectory(const std::string& dir);

// ClaimDemoDirectory as a demo's main calls it: nullopt when `dir` is the
// demo's; otherwise prints "PROGRAM: <why>" on stderr and returns the exit
// status, 2 for a path it refuses (kFailedPrecondition) and 1 for any other
// error.
std::optional<int> ClaimDemoDirectoryOrExit(absl::string_view program,
                                            const std::string& dir);

}  // namespace blockwal::tools

#endif  // BLOCKWAL_TOOLS_DEMO_DIR_H_
