// The command line of a walctl subcommand: its flags and positional
// arguments, the checks every directory subcommand makes on them, and the
// usage errors and help it answers a bad or --help command line with.
//
// Flags differ per subcommand, so each parses its own argv with ParseArgs
// (hand parsing: absl flags are process-global and would make every
// subcommand accept every other subcommand's flags).
#ifndef BLOCKWAL_TOOLS_WALCTL_ARGS_H_
#define BLOCKWAL_TOOLS_WALCTL_ARGS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "tools/walctl/subcommands.h"

namespace blockwal::tools::walctl {

struct FlagSpec {
  absl::string_view name;  // without the leading "--"
  bool takes_value = false;
};

struct ParsedArgs {
  bool help = false;
  // Flags given, by name; "" for flags without a value. The last one wins.
  std::map<std::string, std::string, std::less<>> flags;
  std::vector<std::string> positional;

  bool Has(absl::string_view flag) const { return flags.count(flag) > 0; }
};

// Accepts --help/-h, the flags in `specs` as --name (and, for flags taking a
// value, --name=VALUE or --name VALUE), and "--" to end the flags. Flags and
// positional arguments may be mixed. Anything else starting with '-' (except
// "-" alone) is an error.
absl::StatusOr<ParsedArgs> ParseArgs(absl::Span<const std::string> args,
                                     absl::Span<const FlagSpec> specs);

// Prints "walctl: NAME: <message>" and a hint to the subcommand's help on
// stderr; returns kExitUsage.
int UsageError(const Subcommand& self, absl::string_view message);

// A subcommand's help, then the exit status table, on stdout.
int PrintHelp(const Subcommand& self);

// Handles --help and the count of positional arguments shared by the
// directory subcommands. Returns an exit code to return at once, or nullopt
// to go on.
std::optional<int> CheckCommonArgs(const Subcommand& self,
                                   const absl::StatusOr<ParsedArgs>& parsed,
                                   size_t positional,
                                   absl::string_view missing_message);

// ParseArgs with `specs`, then CheckCommonArgs for the one positional
// argument of a directory subcommand, DIR. Sets *parsed and returns nullopt
// to go on, or returns an exit code to return at once.
std::optional<int> ParseDirArgs(const Subcommand& self,
                                absl::Span<const std::string> args,
                                absl::Span<const FlagSpec> specs,
                                ParsedArgs* parsed);

// Parses a decimal offset.
bool ParseOffset(absl::string_view text, uint64_t* offset);

// Checks that `dir` is an existing directory, or with `create` one that
// opening the log may create (CheckDirectoryArgument, tools/cli.h);
// otherwise prints why not and returns false (the caller exits with
// kExitFailed).
bool CheckLogDirectory(const std::string& dir, bool create);

}  // namespace blockwal::tools::walctl

#endif  // BLOCKWAL_TOOLS_WALCTL_ARGS_H_
