// Crash-state enumeration: turns what a crash at one instant could leave
// (util/fault_injection_file_system.h, CrashSnapshot) into concrete directory
// contents to recover from, and materialises them in a fresh file system.
//
// The crash model (docs/guarantees.md, "How it is tested"):
//   - each file keeps its synced contents plus any prefix of the writes made
//     since its last sync, cut at a write's end or, for the last write kept,
//     torn at a 512-byte sector boundary inside it;
//   - a file truncated or rewritten since its last sync keeps either its
//     synced contents or a prefix of its current ones;
//   - the directory operations (creations, renames, removals) of a
//     directory not yet made durable by its sync are all kept or all lost,
//     independently per directory.
// Every combination of per-file choices is too many, so the states of one
// snapshot are: for each combination of directories kept / lost, for each
// file that has a choice and each of its choices, that choice with every
// other file at its least (synced) or at its most (current) contents.
// Identical states are produced once.
//
// Not modelled: unsynced writes reaching the disk out of order (a later page
// of a file kept while an earlier one is lost). The log assumes a file keeps
// a prefix of its unsynced writes (docs/guarantees.md, "The sync marker").
#ifndef BLOCKWAL_TESTS_CRASH_CRASH_STATES_H_
#define BLOCKWAL_TESTS_CRASH_CRASH_STATES_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "blockwal/util/fault_injection_file_system.h"
#include "blockwal/util/file_system.h"

namespace blockwal::crash {

// One directory state a crash could leave: path -> contents.
struct CrashState {
  std::map<std::string, std::string> files;
  // How it was made, for failure messages, e.g.
  // "dirs=lost others=synced /log/00000000000000000000.store: 4096 of 5000 bytes (torn)".
  std::string description;
};

struct EnumerateOptions {
  // At most this many distinct lengths are tried per file, evenly thinned
  // (the synced and the current length are always among them).
  size_t max_cuts_per_file = 16;
};

// The lengths a crash may leave of `file`, ascending, in `*lengths`, and
// whether each is a torn cut (inside a write rather than at its end) in
// `*torn`. When the current contents do not extend the synced ones, every
// length is a prefix of the current contents except the synced choice, which
// is reported as the length SIZE_MAX (use CutContents to build it).
void CrashLengths(const CrashSnapshot::File& file,
                  const EnumerateOptions& options,
                  std::vector<uint64_t>* lengths, std::vector<bool>* torn);

// The contents of `file` cut as CrashLengths reported.
std::string CutContents(const CrashSnapshot::File& file, uint64_t length);

// Every state of `snapshot` (see the top of this file).
std::vector<CrashState> EnumerateCrashStates(
    const CrashSnapshot& snapshot, const EnumerateOptions& options = {});

// The harshest state: directory operations lost, every file at its synced
// contents (a power loss right after the snapshot).
CrashState PowerLossState(const CrashSnapshot& snapshot);

// A fresh in-memory file system holding exactly `state`, plus the
// directories in `dirs` (created parents first; directories are never lost
// in this model) and those its paths need.
absl::StatusOr<std::unique_ptr<FileSystem>> Materialize(
    const CrashState& state, const std::vector<std::string>& dirs);

}  // namespace blockwal::crash

#endif  // BLOCKWAL_TESTS_CRASH_CRASH_STATES_H_
