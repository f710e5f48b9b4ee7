// `kv client`: the command-line client of a replicated key-value store, a
// cluster of `kv serve` servers (docs/raft.md, "The client protocol"; its
// help is the "client" entry of tools/kv_commands.cc).
#ifndef BLOCKWAL_TOOLS_KV_CLIENT_H_
#define BLOCKWAL_TOOLS_KV_CLIENT_H_

#include <string>

#include "absl/types/span.h"

namespace blockwal::tools::kv {

// Runs `kv client` on `args`, the command line after the program's name
// without the word "client". Answers go to stdout, usage errors to stderr.
// Returns the exit status: 0 for OK and a value, 1 for NOT_FOUND and every
// ERR (indeterminate writes included), 2 for a usage error, 4 when stdout
// cannot be written.
int RunClient(absl::Span<const std::string> args);

}  // namespace blockwal::tools::kv

#endif  // BLOCKWAL_TOOLS_KV_CLIENT_H_
