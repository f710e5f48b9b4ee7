// What walctl and kv share (cli.h): exit statuses, error lines, flag values
// and directory arguments.
#include "tools/cli.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "blockwal/util/file_system.h"

namespace blockwal::tools {

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

std::string MessageNaming(const absl::Status& status, absl::string_view path) {
  if (absl::StrContains(status.message(), path)) {
    return std::string(status.message());
  }
  return absl::StrCat(path, ": ", status.message());
}

bool FlushStandardOutput() {
  return std::fflush(stdout) == 0 && !std::ferror(stdout);
}

int PrintOutputError(absl::string_view program) {
  PrintError(program, absl::StrCat("error writing to standard output: ",
                                   std::strerror(errno)));
  return kExitFailed;
}

FlagArg SplitFlagArg(absl::string_view arg) {
  FlagArg flag{arg, std::nullopt};
  if (const size_t eq = arg.find('='); eq != absl::string_view::npos) {
    flag.name = arg.substr(0, eq);
    flag.value = std::string(arg.substr(eq + 1));
  }
  return flag;
}

absl::Status TakeFlagValue(absl::string_view name, bool takes_value,
                           absl::Span<const std::string> args, size_t* i,
                           std::optional<std::string>* value) {
  if (takes_value && !value->has_value()) {
    if (*i + 1 == args.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("flag '", name, "' needs a value"));
    }
    *value = args[++*i];
  } else if (!takes_value && value->has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("flag '", name, "' takes no value"));
  }
  return absl::OkStatus();
}

bool IsDirectory(const std::string& path) {
  return FileSystem::Default()->GetChildren(path).ok();
}

std::optional<std::string> CheckDirectoryArgument(const std::string& path,
                                                  bool create) {
  FileSystem* fs = FileSystem::Default();
  absl::StatusOr<bool> exists = fs->FileExists(path);
  if (!exists.ok()) {
    return absl::StrCat("cannot open ", MessageNaming(exists.status(), path));
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
                        MessageNaming(parent_exists.status(), parent));
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
