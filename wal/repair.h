// Repairs a damaged log directory (wal/log.h) in place, after backing it up:
// what `walctl repair [--force]` runs.
//
//   wal::RepairOptions options;            // options.force = true: skip mode
//   absl::StatusOr<wal::RepairResult> r = wal::RepairLog("/data/wal", options);
//   if (r.ok() && r->clean()) { ... the log verifies clean ... }
//   // else r->remaining says what is left and why; r->backup has the files
//   // as they were.
//
// Contract
//   1. Takes the directory's LOCK and holds it to the end, so no writer can
//      open the log between the steps (a Log::Open meanwhile gets
//      kUnavailable). kUnavailable when a writer has it; kNotFound when `dir`
//      does not exist. Nothing is changed before step 3.
//   2. Reads the whole log (InspectLog, wal/log_inspector.h) and backs the
//      directory up beside itself (BackUpDirectory, util/backup.h:
//      `<dir>.repair-backup-<UTC time>[-n]`, every file, synced). A failed
//      backup returns its error with nothing changed.
//   3. Removes indexes, so that recovery rebuilds them from their stores:
//      every index the inspection finds wrong while its store is fine (Open
//      trusts well-formed entries it does not need to read). Without force,
//      also the last segment's index when its store holds one damaged region
//      and no record after it (read from the index entries past the damage)
//      carries the sync marker: point-in-time recovery then reads the store
//      in full and cuts the region and what follows. Any other index of a
//      damaged store stays: Open does not look for damage in records an
//      index vouches for, and without the index a reader loses the rest of
//      the damaged 32 KiB block, intact and possibly synced records
//      included. The damaged records then read as data loss.
//   4. Opens the log in kPointInTime mode (force: kSkipAnyCorruptedRecords).
//      When it refuses (kDataLoss: damage that synced records follow, or in
//      a sealed segment) or fails, the indexes of step 3 are put back from
//      the backup and no store was changed (recovery decides before it cuts).
//   5. Counts, through the open log, the records it holds and the ones that
//      read as data loss, then closes it cleanly (the next open is clean).
//   6. Verifies the result (InspectLog again): every problem left is in
//      `remaining`, with the reason it stayed.
// So a repair is list -> scan -> decide -> apply, after the backup: steps
// 2 and 6 list and scan through the inspector (wal/log_dir.h, with each
// segment's verdict from wal/segment_recovery.h), and step 4 decides and
// applies through Log::Open itself, so a store is only ever changed by the
// recovery rules. Repair's own rule is step 3's choice of indexes to drop.
// A step after the backup that fails with an I/O error ends the repair
// there: RepairResult::status says which, and `remaining` is what a last
// inspection finds (when it can read the directory).
//
// Thread safety: thread-compatible; the lock keeps other processes and Logs
// out of the directory.
#ifndef BLOCKWAL_WAL_REPAIR_H_
#define BLOCKWAL_WAL_REPAIR_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "blockwal/util/backup.h"
#include "blockwal/util/file_system.h"
#include "blockwal/wal/log_inspector.h"
#include "blockwal/wal/log_options.h"

namespace blockwal::wal {

struct RepairOptions {
  // false: point-in-time recovery (cuts a damaged tail that no synced record
  // follows, refuses other damage); true: skip any corrupted record (keeps
  // the offsets of damaged records, which then read as data loss).
  bool force = false;
  // The options the log is opened with (its fs is the one used for
  // everything); recovery_mode and create_if_missing are set by RepairLog.
  LogOptions log_options;
  // Called, when set, as the backup copies bytes.
  BackupProgress on_backup_progress;
  // Called, when set, once the backup is complete and before anything in
  // the directory changes (the lock is held): a tool can name the backup
  // before the repair goes on.
  std::function<void(const std::string& backup)> on_backup_done;
};

// Why a problem is still there after the repair.
enum class RemainingReason {
  // Recovery refused the log (or failed): nothing was repaired.
  kRecoveryRefused,
  // Skip mode kept the offsets of the damaged records: removing them would
  // renumber every later record. They read as data loss.
  kRecordsSkipped,
  // Recovery accepted the log as it is: what it checks does not cover this.
  kNotRepaired,
};
const char* RemainingReasonName(RemainingReason reason);

struct RemainingProblem {
  LogProblem problem;  // as `walctl verify` lists it
  RemainingReason reason;
  std::string why;  // for people
};

// A byte range [begin, end) of a file.
struct ByteRange {
  std::string file;
  uint64_t begin = 0;
  uint64_t end = 0;
};

struct RepairResult {
  std::string backup;  // the backup directory
  RecoveryMode mode = RecoveryMode::kPointInTime;
  // Indexes removed in step 3 (paths); put back when recovery refused.
  std::vector<std::string> indexes_removed;
  // Log::Open's status: OK, or why recovery refused (kDataLoss naming the
  // store and position) or failed.
  absl::Status recovery;
  RecoveryReport report;  // of that open (empty when it refused)
  // The first failure after the backup that is not a refusal of recovery
  // (removing or restoring an index, closing, verifying), else OK.
  absl::Status status;
  // Offsets before: from the first segment's base to one past the highest
  // offset of a whole record found in any store or vouched for by the last
  // segment's last index entry that verifies (FindOffsetRange): records a
  // checksum mismatch hides from a reader (the rest of its block) count.
  // After: the log's LowestOffset and NextOffset (== before when recovery
  // refused).
  OffsetRange before;
  OffsetRange after;
  // Records in the log after the repair: records_kept read intact,
  // records_skipped read as data loss (their offsets stay taken), so
  // records_kept + records_skipped == after.next - after.first.
  uint64_t records_kept = 0;
  uint64_t records_skipped = 0;
  // Offsets of `before` past after.next: records the repair cut off the end
  // (a damaged record with nothing after it is not counted: nothing shows it
  // was ever whole; its bytes are in bytes_cut).
  uint64_t records_cut = 0;
  // Bytes removed from stores (a cut tail, a cut batch).
  std::vector<ByteRange> bytes_cut;
  // Every problem the verification of step 6 found, with its reason.
  std::vector<RemainingProblem> remaining;

  // The repair did its work and left a log that verifies clean.
  bool clean() const {
    return recovery.ok() && status.ok() && remaining.empty();
  }
};

// Repairs the log in `dir` as the contract above says. Errors before the
// backup exists (the directory is missing or locked, the inspection or the
// backup failed) are returned as a status, with nothing changed; every
// outcome after it is in the result.
absl::StatusOr<RepairResult> RepairLog(const std::string& dir,
                                       const RepairOptions& options);

}  // namespace blockwal::wal

#endif  // BLOCKWAL_WAL_REPAIR_H_
