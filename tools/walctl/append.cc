// walctl append: opens a log as a writer and appends one record per line of
// standard input.
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "tools/cli.h"
#include "tools/walctl/args.h"
#include "tools/walctl/output.h"
#include "tools/walctl/subcommands.h"
#include "blockwal/wal/log.h"
#include "blockwal/wal/log_options.h"

namespace blockwal::tools::walctl {
namespace {

constexpr FlagSpec kAppendFlags[] = {{"sync"}};

}  // namespace

int RunAppend(const Subcommand& self, absl::Span<const std::string> args) {
  ParsedArgs parsed;
  if (std::optional<int> done =
          ParseDirArgs(self, args, kAppendFlags, &parsed)) {
    return *done;
  }
  const std::string& dir = parsed.positional[0];
  const bool sync = parsed.Has("sync");

  if (!CheckLogDirectory(dir, /*create=*/true)) return kExitFailed;
  wal::LogOptions options;
  options.warning_sink = [](const std::string& w) {
    PrintError(absl::StrCat("warning: ", w));
  };
  absl::StatusOr<std::unique_ptr<wal::Log>> log = wal::Log::Open(dir, options);
  if (!log.ok()) {
    PrintError(
        absl::StrCat("cannot open ", MessageNaming(log.status(), dir),
                     log.status().code() == absl::StatusCode::kDataLoss
                         ? absl::StrCat(" (see 'walctl verify ", dir,
                                        "' and 'walctl repair ", dir, "')")
                         : ""));
    // Damage recovery refuses to cut is kExitDamaged; a lock held
    // elsewhere, a full disk or an I/O error kExitFailed.
    return ExitStatusFor(log.status());
  }

  std::string line;
  while (std::getline(std::cin, line)) {
    absl::StatusOr<uint64_t> offset = (*log)->Append(line);
    if (!offset.ok()) {
      PrintError(
          absl::StrCat("append failed: ", MessageNaming(offset.status(), dir)));
      return FinishOutput(kExitFailed);
    }
    if (sync) {
      if (absl::Status s = (*log)->Sync(); !s.ok()) {
        PrintError(absl::StrCat("sync failed: ", MessageNaming(s, dir)));
        return FinishOutput(kExitFailed);
      }
    }
    Write(stdout, absl::StrCat(*offset, "\n"));
    if (std::fflush(stdout) != 0) return FinishOutput(kExitFailed);
  }
  if (std::cin.bad()) {
    PrintError("error reading standard input");
    return FinishOutput(kExitFailed);
  }
  if (absl::Status s = (*log)->Close(); !s.ok()) {
    PrintError(absl::StrCat("closing the log failed: ", MessageNaming(s, dir)));
    return FinishOutput(kExitFailed);
  }
  return FinishOutput(kExitOk);
}

}  // namespace blockwal::tools::walctl
