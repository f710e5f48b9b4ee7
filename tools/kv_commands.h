// The commands of kv (tools/kv.cc): each one's arguments, whether it opens
// the store read-only or takes --force, its summary and help; and the help
// texts `kv --help` and `kv COMMAND --help` print, made from them.
#ifndef BLOCKWAL_TOOLS_KV_COMMANDS_H_
#define BLOCKWAL_TOOLS_KV_COMMANDS_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace blockwal::tools::kv {

struct Command {
  absl::string_view name;
  // The arguments as the usage line names them; the first min_args are
  // required, the rest optional.
  absl::string_view args[2];
  size_t min_args;
  size_t max_args;
  bool read_only;    // opens the store read-only
  bool takes_force;  // accepts --force
  absl::string_view summary;  // one line for `kv --help`
  absl::string_view help;     // the rest of `kv COMMAND --help`
  // `kv client`: takes none of the store's flags, and its help is all of
  // `kv client --help` (its own usage, flags and exit status).
  bool remote = false;
};

// The command named `name`, or null.
const Command* FindCommand(absl::string_view name);

// `kv --help`: the usage, every command with its summary, the flags and
// the exit status table.
std::string TopLevelHelp();

// `kv COMMAND --help`: the command's usage line and help, then the flags and
// the exit status table.
std::string CommandHelp(const Command& c);

}  // namespace blockwal::tools::kv

#endif  // BLOCKWAL_TOOLS_KV_COMMANDS_H_
