// What `walctl repair` prints for a wal::RepairResult (wal/repair.h): a
// report on stdout of what was done, and on stderr, when the log does not
// verify clean, every problem that remains and why.
#ifndef BLOCKWAL_TOOLS_REPAIR_TEXT_H_
#define BLOCKWAL_TOOLS_REPAIR_TEXT_H_

#include <string>

#include "blockwal/wal/repair.h"

namespace blockwal::tools {

struct RepairText {
  // Every line after "backup: ..." (which walctl prints as soon as the
  // backup exists): the recovery, its counts, what was cut, and a last
  // "result: ..." line.
  std::string out;
  // Empty when result.clean(); otherwise lines prefixed "walctl: ", naming
  // each remaining problem (file, position, description) and why it stayed,
  // and where the backup is.
  std::string err;
};

// `dir` is the log directory as given on the command line.
RepairText FormatRepair(const std::string& dir,
                        const wal::RepairResult& result);

}  // namespace blockwal::tools

#endif  // BLOCKWAL_TOOLS_REPAIR_TEXT_H_
