// What walctl and kv share so that both follow one convention: the exit
// status of every command, how errors and usage errors are printed, how a
// flag gets its value, and the checks on a directory named on the command
// line.
#ifndef BLOCKWAL_TOOLS_CLI_H_
#define BLOCKWAL_TOOLS_CLI_H_

#include <algorithm>
#include <cstdint>
#include <cstddef>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace blockwal::tools {

// The exit status of every command of walctl and kv, stated once for users in
// README.md ("Exit status") and in kExitStatusHelp. When more than one
// applies (damage found, then a read failed), the higher one is returned.
enum ExitStatus : int {
  kExitOk = 0,
  // A key, offset or time that the store or log does not hold (kv get of an
  // absent key, walctl read of an offset outside the log, walctl tail from
  // past the last record).
  kExitNotFound = 1,
  // A bad command line. Nothing was opened or changed.
  kExitUsage = 2,
  // The input was read and holds damage (reported on stderr), or an
  // operation was refused because of damage (a repair that leaves problems).
  kExitDamaged = 3,
  // The input could not be opened (missing, not a directory, locked by
  // another process), or an operation failed (I/O error, full disk, an
  // error writing standard output).
  kExitFailed = 4,
};

// The table as every --help of both tools ends with it.
inline constexpr absl::string_view kExitStatusHelp =
    R"(Exit status (the same for every command of walctl and kv):
  0  success
  1  not found: a key, offset or time the store or log does not hold
  2  usage error: a bad command line; nothing was done
  3  damaged data: damage was found (and reported), or an operation was
     refused because of it (a repair that leaves problems)
  4  failure: the store, log or file could not be opened (missing, not a
     directory, in use), or an operation failed (I/O error, full disk)
)";

// The exit status for an error from the library: kOutOfRange (an offset
// outside the log) is kExitNotFound, kDataLoss kExitDamaged, anything else
// kExitFailed (kNotFound included: there it means a missing file or
// directory, not a missing key, which callers map themselves).
ExitStatus ExitStatusFor(const absl::Status& status);

// The higher of two exit statuses (see ExitStatus).
inline int Worse(int a, int b) { return std::max(a, b); }

// "1 segment", "0 segments", "2 segments".
std::string Count(uint64_t n, absl::string_view singular,
                  absl::string_view plural);

// Prints "PROGRAM: MESSAGE" on stderr.
void PrintError(absl::string_view program, absl::string_view message);

// Prints "PROGRAM: MESSAGE" and then "try 'HELP_COMMAND'" on stderr (two
// lines, never the whole help); returns kExitUsage.
int PrintUsageError(absl::string_view program, absl::string_view message,
                    absl::string_view help_command);

// The status message, prefixed with `path` unless it already names it (the
// file system's messages normally do).
std::string MessageNaming(const absl::Status& status, absl::string_view path);

// Flushes stdout; false when that or an earlier write to it failed (a full
// disk, a closed pipe).
bool FlushStandardOutput();

// Prints "PROGRAM: error writing to standard output: <errno's text>" on
// stderr; returns kExitFailed.
int PrintOutputError(absl::string_view program);

// A flag argument, "--name" or "--name=VALUE", split at its first '=': the
// name as written (dashes included) and the value given after the '='.
struct FlagArg {
  absl::string_view name;
  std::optional<std::string> value;
};
FlagArg SplitFlagArg(absl::string_view arg);

// Completes the value of the flag args[*i], named `name` as written: a flag
// that `takes_value` and was given none with '=' takes the next argument
// and moves *i past it. kInvalidArgument "flag 'NAME' needs a value" when
// there is no next argument, "flag 'NAME' takes no value" when a flag that
// takes none was given one.
absl::Status TakeFlagValue(absl::string_view name, bool takes_value,
                           absl::Span<const std::string> args, size_t* i,
                           std::optional<std::string>* value);

// True when `path` names a directory. Asked through the FileSystem (listing
// only succeeds on a directory) so that the tools stay on the public API.
bool IsDirectory(const std::string& path);

// Checks a directory named on the command line before a tool opens it, so
// that both tools word the same mistakes the same way and create nothing
// when they are wrong. Returns nullopt when `path` is a directory, or when
// it is missing, `create` is true and its parent is a directory (the open
// may then create it); otherwise why not:
//   "cannot open P: not a directory"
//   "cannot open P: no such directory"                  (create false)
//   "cannot create P: parent directory Q does not exist"
//   "cannot create P: parent directory Q is not a directory"
//   "cannot open P: <why the file system could not tell>"
std::optional<std::string> CheckDirectoryArgument(const std::string& path,
                                                  bool create);

}  // namespace blockwal::tools

#endif  // BLOCKWAL_TOOLS_CLI_H_
