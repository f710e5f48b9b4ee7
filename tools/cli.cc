#include "tools/cli.h"

#include <cstdio>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "blockwal/util/file_system.h"

namespace blockwal::tools {
namespace {

// The status message, prefixed with `path` unless it already names it.
std::string Naming(const absl::Status& status, absl::string_view path) {
  if (absl::StrContains(status.message(), path)) {
    return std::string(status.message());
  }
  return absl::StrCat(path, ": ", status.message());
}

// Listing succeeds only on a directory; asked through the FileSystem so the
// tools stay on the public API.
bool IsDirectory(const std::string& path) {
  return FileSystem::Default()->GetChildren(path).ok();
}

}  // namespace

ExitStatus ExitStatusFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kOutOfRange:
      return kExitNotFound;
    case absl::StatusCode::kDataLoss:
      return kExitDamaged;
    default:
      return kExitFailed;
  }
}

std::string Count(uint64_t n, absl::string_view singular,
                  absl::string_view plural) {
  return absl::StrCat(n, " ", n == 1 ? singular : plural);
}

void PrintError(absl::string_view program, absl::string_view message) {
  const std::string line = absl::StrCat(program, ": ", message, "\n");
  std::fwrite(line.data(), 1, line.size(), stderr);
}

int PrintUsageError(absl::string_view program, absl::string_view message,
                    absl::string_view help_command) {
  PrintError(program, message);
  const std::string hint = absl::StrCat("try '", help_command, "'\n");
  std::fwrite(hint.data(), 1, hint.size(), stderr);
  return kExitUsage;
}

std::optional<std::string> CheckDirectoryArgument(const std::string& path,
                                                  bool create) {
  FileSystem* fs = FileSystem::Default();
  absl::StatusOr<bool> exists = fs->FileExists(path);
  if (!exists.ok()) {
    return absl::StrCat("cannot open ", Naming(exists.status(), path));
  }
  if (*exists) {
    if (IsDirectory(path)) return std::nullopt;
    return absl::StrCat("cannot open ", path, ": not a directory");
  }
  if (!create) return absl::StrCat("cannot open ", path, ": no such directory");
  const std::string parent = DirName(NormalizeDir(path));
  if (parent.empty()) return std::nullopt;  // the current directory
  absl::StatusOr<bool> parent_exists = fs->FileExists(parent);
  if (!parent_exists.ok()) {
    return absl::StrCat("cannot create ", path, ": ",
                        Naming(parent_exists.status(), parent));
  }
  if (!*parent_exists) {
    return absl::StrCat("cannot create ", path, ": parent directory ", parent,
                        " does not exist");
  }
  if (!IsDirectory(parent)) {
    return absl::StrCat("cannot create ", path, ": parent directory ", parent,
                        " is not a directory");
  }
  return std::nullopt;
}

}  // namespace blockwal::tools
