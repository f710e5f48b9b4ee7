// `kv serve`: one server of the replicated key-value store (docs/raft.md,
// "The replicated key-value store").
//
//   kv serve --id N --dir DIR --raft HOST:PORT --client HOST:PORT
//            --peers 1=HOST:PORT,2=HOST:PORT,3=HOST:PORT
//            [--snapshot-threshold N] [--snapshot-trailing N]
//            [--election-timeout-ms N] [--fault-signals]
//            [--storage blockwal|raft-uv]
//
// --peers lists every server's raft address, this one's included, the same
// on every server. On its first start in DIR the server bootstraps that
// configuration; later starts restart from DIR. It prints one line "READY"
// on stdout once it serves clients, logs to stderr ("kv serve N: ..."), and
// exits 0 on SIGTERM or SIGINT after a clean close.
#ifndef BLOCKWAL_TOOLS_KV_SERVE_H_
#define BLOCKWAL_TOOLS_KV_SERVE_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace blockwal::tools::kv {

inline constexpr absl::string_view kServeUsage =
    "usage: kv serve --id N --dir DIR --raft HOST:PORT --client HOST:PORT\n"
    "                --peers ID=HOST:PORT[,ID=HOST:PORT...]\n"
    "                [--snapshot-threshold N] [--snapshot-trailing N]\n"
    "                [--election-timeout-ms N] [--fault-signals]\n"
    "                [--storage blockwal|raft-uv]\n";

// Runs the server; `args` are the arguments after "serve". Returns the exit
// status (tools/cli.h).
int RunServe(const std::vector<std::string>& args);

}  // namespace blockwal::tools::kv

#endif  // BLOCKWAL_TOOLS_KV_SERVE_H_
