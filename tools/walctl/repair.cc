// walctl repair: backs a damaged log up and recovers it in place. The work is
// wal::RepairLog's (wal/repair.h); this prints its progress and its result
// (tools/repair_text.h).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "tools/cli.h"
#include "tools/repair_text.h"
#include "tools/walctl/args.h"
#include "tools/walctl/output.h"
#include "tools/walctl/subcommands.h"
#include "blockwal/wal/repair.h"

namespace blockwal::tools::walctl {
namespace {

constexpr FlagSpec kRepairFlags[] = {{"force"}};

// kExitOk when the log verifies clean; kExitDamaged when recovery refused
// for damage or problems remain; kExitFailed when a step failed (recovery
// for another reason than damage, an index put back, the close, the
// verification).
int RepairExitStatus(const wal::RepairResult& r) {
  if (r.clean()) return kExitOk;
  if (!r.status.ok()) return kExitFailed;
  if (!r.recovery.ok()) return Worse(ExitStatusFor(r.recovery), kExitDamaged);
  return kExitDamaged;
}

}  // namespace

// A printer of wal::RepairLog (wal/repair.h), which does the work.
int RunRepair(const Subcommand& self, absl::Span<const std::string> args) {
  ParsedArgs parsed;
  if (std::optional<int> done =
          ParseDirArgs(self, args, kRepairFlags, &parsed)) {
    return *done;
  }
  const std::string& dir = parsed.positional[0];
  if (!CheckLogDirectory(dir, /*create=*/false)) return kExitFailed;

  Progress progress("backing up", true);
  const bool tty = isatty(STDERR_FILENO) == 1;
  wal::RepairOptions options;
  options.force = parsed.Has("force");
  options.on_backup_progress = progress.Updater();
  options.on_backup_done = [&](const std::string& backup) {
    progress.Clear();
    Write(stdout, absl::StrCat("backup: ", backup, "\n"));
    std::fflush(stdout);
    if (tty) Write(stderr, "recovering...\r");
  };
  const absl::StatusOr<wal::RepairResult> result = wal::RepairLog(dir, options);
  progress.Clear();
  if (tty) Write(stderr, "             \r");
  if (!result.ok()) {
    PrintError(absl::StrCat("repair: ", MessageNaming(result.status(), dir),
                            "; nothing was changed"));
    return ExitStatusFor(result.status());
  }
  const RepairText text = FormatRepair(dir, *result);
  Write(stdout, text.out);
  std::fflush(stdout);
  Write(stderr, text.err);
  return FinishOutput(RepairExitStatus(*result));
}

}  // namespace blockwal::tools::walctl
