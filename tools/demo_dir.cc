// Which directory a demo may write into (demo_dir.h).
#include "tools/demo_dir.h"

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "blockwal/util/file_system.h"
#include "blockwal/util/status_macros.h"

namespace blockwal::tools {
namespace {

constexpr char kMarkerText[] =
    "This directory was made by a blockwal demo (blockwal_kv_demo or\n"
    "blockwal_block_demo). Demos rewrite their own files here on every run;\n"
    "they never use a directory without this file unless it is empty.\n";

absl::Status Refuse(const std::string& dir, absl::string_view why) {
  return absl::FailedPreconditionError(
      absl::StrCat("refusing to use ", dir, ": ", why,
                   "; give a new or empty directory, or one a demo made"));
}

absl::Status WriteMarker(FileSystem* fs, const std::string& dir) {
  BW_RETURN_IF_ERROR(WriteStringToFile(fs, kMarkerText,
                                       JoinPath(dir, kDemoMarkerName),
                                       /*sync=*/true));
  return fs->SyncDir(dir);
}

}  // namespace

absl::Status ClaimDemoDirectory(const std::string& dir) {
  FileSystem* fs = FileSystem::Default();
  BW_ASSIGN_OR_RETURN(const bool exists, fs->FileExists(dir));
  if (!exists) {
    BW_RETURN_IF_ERROR(fs->CreateDir(dir));
    return WriteMarker(fs, dir);
  }
  // Listing succeeds only on a directory.
  absl::StatusOr<std::vector<std::string>> children = fs->GetChildren(dir);
  if (!children.ok()) {
    return Refuse(dir, absl::StrCat("it is not a directory one can list (",
                                    children.status().message(), ")"));
  }
  if (children->empty()) return WriteMarker(fs, dir);
  BW_ASSIGN_OR_RETURN(const bool marked,
                      fs->FileExists(JoinPath(dir, kDemoMarkerName)));
  if (!marked) {
    return Refuse(dir, absl::StrCat("it is not empty and has no ",
                                    kDemoMarkerName,
                                    " file, so no demo made it"));
  }
  return absl::OkStatus();
}

std::optional<int> ClaimDemoDirectoryOrExit(absl::string_view program,
                                            const std::string& dir) {
  const absl::Status s = ClaimDemoDirectory(dir);
  if (s.ok()) return std::nullopt;
  const std::string line = absl::StrCat(program, ": ", s.message(), "\n");
  std::fwrite(line.data(), 1, line.size(), stderr);
  return s.code() == absl::StatusCode::kFailedPrecondition ? 2 : 1;
}

}  // namespace blockwal::tools
