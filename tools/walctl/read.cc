// walctl read: writes one record's value to standard output.
#include <cstdint>
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
#include "blockwal/util/file_system.h"
#include "blockwal/wal/log_inspector.h"

namespace blockwal::tools::walctl {

int RunRead(const Subcommand& self, absl::Span<const std::string> args) {
  const absl::StatusOr<ParsedArgs> parsed = ParseArgs(args, {});
  if (std::optional<int> done = CheckCommonArgs(
          self, parsed, 2,
          parsed.ok() && parsed->positional.empty() ? "missing DIR and OFFSET"
                                                    : "missing OFFSET")) {
    return *done;
  }
  const std::string& dir = parsed->positional[0];
  uint64_t offset;
  if (!ParseOffset(parsed->positional[1], &offset)) {
    return UsageError(self, absl::StrCat("bad OFFSET '", parsed->positional[1],
                                         "': expected a decimal number"));
  }
  if (!CheckLogDirectory(dir, /*create=*/false)) return kExitFailed;
  absl::StatusOr<std::string> value =
      wal::ReadRecordValue(FileSystem::Default(), dir, offset);
  if (!value.ok()) return InspectionFailure(value.status(), dir);
  Write(stdout, *value);
  return FinishOutput(kExitOk);
}

}  // namespace blockwal::tools::walctl
