// Repair of a damaged key-value store (db/db.h): what `kv repair` runs.
//
//   db::RepairOptions options;                 // point-in-time
//   absl::StatusOr<db::RepairReport> r = db::RepairStore("/data/kv", options);
//   std::cout << r->ToString();                // what was lost, exactly
//
// What it does, holding the store's LOCK from start to end (a writer cannot
// slip in; a store in use is kUnavailable):
//   1. Copies the whole store directory beside it
//      (util/backup.h: "<dir>.repair-backup-<UTC time>").
//   2. Salvages the newest checkpoint record by record: every chunk whose
//      checksums verify is kept; a damaged chunk loses its pairs, reported
//      as the byte range and the keys it lay between.
//   3. Reads the WAL after the checkpoint's offset in memory, in
//      point-in-time mode (force: skip-any-corrupted-records): batches that
//      read and decode are applied; a record lost to damage, or cut with a
//      damaged tail, is reported with its offset and, when any readable copy
//      of it was found, its keys. Without force, damage the point-in-time
//      mode refuses (synced records after it, a missing stretch of the WAL,
//      a record that is not a batch) fails the repair with kDataLoss before
//      anything is changed; force then drops what it must.
//   4. Writes the recovered pairs as a new checkpoint covering every offset
//      below the WAL's next offset N, removes the older checkpoints and the
//      old WAL files, and starts an empty WAL at N. The store then opens in
//      the default mode and verifies (the repair checks that before it
//      returns). Repair holds the whole store in memory.
// A repair interrupted by a crash leaves a store that a second repair
// finishes (the new checkpoint is in place before the old WAL goes); the
// backup holds the store as it was.
#ifndef BLOCKWAL_DB_REPAIR_H_
#define BLOCKWAL_DB_REPAIR_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "blockwal/util/file_system.h"
#include "blockwal/wal/log_options.h"

namespace blockwal::db {

struct RepairOptions {
  FileSystem* fs = FileSystem::Default();
  // false: the WAL is recovered point-in-time; true: skipping any damaged
  // record (wal::RecoveryMode::kSkipAnyCorruptedRecords).
  bool force = false;
};

// WAL records that did not make it into the repaired store: one record, or
// a stretch missing from the WAL (offset..last_offset), or, with last_offset
// kOpenEnded, the records of a damaged tail from `offset` on (their count is
// unknown; those still readable past the damage are listed on their own).
inline constexpr uint64_t kOpenEnded = ~uint64_t{0};
struct LostRecord {
  uint64_t offset = 0;
  uint64_t last_offset = 0;
  // The keys its batch wrote or deleted, when a readable copy of the record
  // was found (a record cut with a damaged tail); empty when it was damaged
  // itself (keys_known false).
  bool keys_known = false;
  std::vector<std::string> keys;
  std::string reason;
};

// A damaged region of a checkpoint: its pairs are lost. The lost keys lay
// strictly between after_key and before_key (empty: no bound on that side).
struct LostCheckpointRange {
  std::string file;
  uint64_t position = 0;
  uint64_t bytes = 0;
  std::string reason;
  std::string after_key;
  std::string before_key;
};

struct RepairReport {
  std::string backup_dir;
  // The checkpoint salvaged (empty: none) and the pairs kept from it.
  std::string checkpoint_read;
  uint64_t checkpoint_pairs_kept = 0;
  // The checkpoint's own key count (from its trailer) when it could be read,
  // so kept + lost is known; 0 when unknown.
  uint64_t checkpoint_pairs_expected = 0;
  std::vector<LostCheckpointRange> checkpoint_damage;
  // The WAL: batches applied, records lost, the damaged places the
  // inspector finds in its stores (file and position; wal/log_inspector.h),
  // and bytes of a torn or damaged tail left out.
  uint64_t records_replayed = 0;
  std::vector<LostRecord> records_lost;
  std::vector<wal::DamagedRegion> wal_damage;
  uint64_t wal_tail_bytes_dropped = 0;
  // The repaired store.
  std::string checkpoint_written;
  uint64_t next_offset = 0;
  uint64_t keys = 0;

  bool lost_anything() const {
    return !checkpoint_damage.empty() || !records_lost.empty();
  }
  // One line per fact, each ending in '\n' (what `kv repair` prints).
  std::string ToString() const;
};

// Repairs the store in `dir` as described above. kNotFound when dir holds no
// store; kUnavailable when it is open elsewhere; kDataLoss (nothing changed
// but the backup) when the damage needs `force`; the file system's error
// otherwise.
absl::StatusOr<RepairReport> RepairStore(const std::string& dir,
                                         const RepairOptions& options);

}  // namespace blockwal::db

#endif  // BLOCKWAL_DB_REPAIR_H_
