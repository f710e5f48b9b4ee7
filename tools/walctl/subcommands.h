// The subcommands of walctl: what main.cc's table knows of each, and the one
// entry point each subcommand's file defines (dump.cc, verify.cc, ...).
#ifndef BLOCKWAL_TOOLS_WALCTL_SUBCOMMANDS_H_
#define BLOCKWAL_TOOLS_WALCTL_SUBCOMMANDS_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace blockwal::tools::walctl {

struct Subcommand {
  absl::string_view name;
  absl::string_view summary;  // one line, for `walctl --help`
  absl::string_view help;     // the full text for `walctl NAME --help`
  // Runs the subcommand on the arguments after its name; returns an
  // ExitStatus (tools/cli.h).
  int (*run)(const Subcommand& self, absl::Span<const std::string> args);
};

// Each runs one subcommand: `self` is its entry of the table (for its help
// and its usage errors), `args` the arguments after its name.
int RunDump(const Subcommand& self, absl::Span<const std::string> args);
int RunVerify(const Subcommand& self, absl::Span<const std::string> args);
int RunStat(const Subcommand& self, absl::Span<const std::string> args);
int RunRepair(const Subcommand& self, absl::Span<const std::string> args);
int RunAppend(const Subcommand& self, absl::Span<const std::string> args);
int RunRead(const Subcommand& self, absl::Span<const std::string> args);
int RunTail(const Subcommand& self, absl::Span<const std::string> args);

}  // namespace blockwal::tools::walctl

#endif  // BLOCKWAL_TOOLS_WALCTL_SUBCOMMANDS_H_
