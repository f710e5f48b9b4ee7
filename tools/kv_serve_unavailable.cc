// `kv serve` in a build without the raft/ layer (BLOCKWAL_BUILD_RAFT=OFF).
#include <cstdio>

#include "tools/cli.h"
#include "tools/kv_serve.h"

namespace blockwal::tools::kv {

int RunServe(const std::vector<std::string>&) {
  std::fputs(
      "kv serve: this kv was built without the raft/ layer "
      "(BLOCKWAL_BUILD_RAFT=OFF)\n",
      stderr);
  return kExitFailed;
}

}  // namespace blockwal::tools::kv
