// walctl verify: checks every segment of a log directory and lists its
// problems (wal/log_inspector.h).
#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "tools/cli.h"
#include "tools/walctl/args.h"
#include "tools/walctl/output.h"
#include "tools/walctl/subcommands.h"
#include "blockwal/wal/log_inspector.h"

namespace blockwal::tools::walctl {
namespace {

constexpr FlagSpec kVerifyFlags[] = {{"json"}};

}  // namespace

int RunVerify(const Subcommand& self, absl::Span<const std::string> args) {
  ParsedArgs parsed;
  if (std::optional<int> done =
          ParseDirArgs(self, args, kVerifyFlags, &parsed)) {
    return *done;
  }
  const std::string& dir = parsed.positional[0];
  const bool json = parsed.Has("json");
  if (!CheckLogDirectory(dir, /*create=*/false)) return kExitFailed;

  const absl::StatusOr<wal::LogInspection> inspection =
      InspectShowingProgress(dir, "verifying", /*show_progress=*/true, {});
  if (!inspection.ok()) return InspectionFailure(inspection.status(), dir);

  const size_t segments = inspection->segments.size();
  const size_t problems = inspection->problems.size();
  for (const wal::LogProblem& p : inspection->problems) {
    Write(stdout, json ? ProblemJson(p) : ProblemText(p));
  }
  if (json) {
    Write(stdout, absl::StrCat("{\"segments\":", segments,
                               ",\"records\":", inspection->records,
                               ",\"problems\":", problems, "}\n"));
  } else {
    Write(stdout,
          absl::StrCat(Count(segments, "segment", "segments"), ", ",
                       Count(inspection->records, "record", "records"), ", ",
                       Count(problems, "problem", "problems"), "\n"));
  }
  return FinishOutput(problems > 0 ? kExitDamaged : kExitOk);
}

}  // namespace blockwal::tools::walctl
