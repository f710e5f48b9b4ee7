// walctl stat: a summary of a log directory, one line per segment and the
// totals (wal/log_inspector.h).
#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/types/span.h"
#include "tools/cli.h"
#include "tools/walctl/args.h"
#include "tools/walctl/output.h"
#include "tools/walctl/subcommands.h"
#include "blockwal/wal/log_inspector.h"

namespace blockwal::tools::walctl {

int RunStat(const Subcommand& self, absl::Span<const std::string> args) {
  ParsedArgs parsed;
  if (std::optional<int> done = ParseDirArgs(self, args, {}, &parsed)) {
    return *done;
  }
  const std::string& dir = parsed.positional[0];
  if (!CheckLogDirectory(dir, /*create=*/false)) return kExitFailed;

  const absl::StatusOr<wal::LogInspection> inspection =
      InspectShowingProgress(dir, "reading", /*show_progress=*/true, {});
  if (!inspection.ok()) return InspectionFailure(inspection.status(), dir);

  const wal::LogInspection& log = *inspection;
  std::string out = absl::StrCat("segments: ", log.segments.size(), "\n");
  for (size_t i = 0; i < log.segments.size(); ++i) {
    const wal::SegmentInspection& s = log.segments[i];
    const char* state = s.index_sealed                 ? "sealed"
                        : i + 1 == log.segments.size() ? "active"
                                                       : "unsealed";
    absl::StrAppend(
        &out,
        absl::StrFormat("  %020d  %d %s  %d store bytes  %d index bytes  %s\n",
                        s.base_offset, s.records,
                        s.records == 1 ? "record" : "records", s.store_bytes,
                        s.index_bytes, state));
  }
  if (log.has_records()) {
    absl::StrAppend(&out, "offsets: [", log.first_offset(), ", ",
                    log.last_offset() + 1, ")\n");
  } else {
    absl::StrAppend(&out, "offsets: empty\n");
  }
  absl::StrAppend(&out, "records: ", log.records, "\n");
  absl::StrAppend(&out, "store bytes: ", log.store_bytes, "\n");
  absl::StrAppend(&out, "index bytes: ", log.index_bytes, "\n");
  absl::StrAppend(
      &out, "last append: ",
      log.has_records() ? FormatTimestamp(log.last_timestamp_us()) : "never",
      "\n");
  if (!log.stray_files.empty()) {
    absl::StrAppend(&out, "stray files: ", absl::StrJoin(log.stray_files, ", "),
                    "\n");
  }
  if (!log.problems.empty()) {
    absl::StrAppend(&out, "problems: ", log.problems.size(),
                    " (run 'walctl verify ", dir, "' for the list)\n");
  }
  Write(stdout, out);
  return FinishOutput(log.problems.empty() ? kExitOk : kExitDamaged);
}

}  // namespace blockwal::tools::walctl
