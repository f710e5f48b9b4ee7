// Options of a segmented log and the report of what opening it recovered.
// docs/recovery.md describes the recovery modes with examples.
#ifndef BLOCKWAL_WAL_LOG_OPTIONS_H_
#define BLOCKWAL_WAL_LOG_OPTIONS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "blockwal/util/file_system.h"
#include "blockwal/util/histogram.h"
#include "blockwal/wal/problem.h"

namespace blockwal::wal {

// What Log::Open does with damage it finds (names after RocksDB's
// WALRecoveryMode). In every mode the index is derived data: a missing,
// short, zero-tailed or wrong index is rebuilt from the store silently (it is
// counted in the report), and a cleanly cut-off last record (a torn write) is
// removed. "Synced data" is a sealed segment, or data followed by a record that
// carries the sync marker (wal/record.h).
enum class RecoveryMode {
  // Damage at the very end of the last segment (nothing valid after it) is
  // cut. Any other damage fails Open with kDataLoss.
  kTolerateCorruptedTailRecords,
  // Every segment is read in full at open; any damage at all, including a torn
  // last record, fails Open with kDataLoss.
  kAbsoluteConsistency,
  // The default. The last segment is recovered up to its first damaged region
  // when no synced record follows that region; the region and everything after
  // it are cut (they were never acknowledged as durable). Damage followed by a
  // synced record, or damage found in a sealed segment, fails Open with
  // kDataLoss.
  kPointInTime,
  // Open never fails because of damage: damaged records are skipped, their
  // offsets stay taken and read as kDataLoss, and a damaged tail is cut.
  kSkipAnyCorruptedRecords,
};

const char* RecoveryModeName(RecoveryMode mode);

// When appended records are made durable. docs/guarantees.md states exactly
// what each promises.
enum class SyncPolicy {
  // The log never syncs on its own: records reach the disk when the OS
  // writes them back, or at Sync(), a roll, or Close.
  kNone,
  // Append and AppendBatch return only after their records are durable
  // (fdatasync). Concurrent appenders share one write and one fdatasync
  // (group commit).
  kEveryAppend,
  // A background thread syncs every `sync_interval`, and a group that brings
  // the unsynced bytes to `sync_interval_bytes` (when non-zero) syncs itself.
  // Appends return before their records are durable.
  kInterval,
};

const char* SyncPolicyName(SyncPolicy policy);

struct LogOptions {
  // The file system all I/O goes through. Must outlive the log.
  FileSystem* fs = FileSystem::Default();
  // A segment is rolled once its store reaches this size (a record is never
  // split across segments, so a store may exceed it by one record).
  uint64_t max_store_bytes = 64ull << 20;
  // Size of a segment's index; with 12-byte entries, 10 MiB holds 873 813
  // records. A segment is rolled when its index is full.
  uint64_t max_index_bytes = 10ull << 20;
  // The offset of the first record of a new, empty log.
  uint64_t initial_offset = 0;
  RecoveryMode recovery_mode = RecoveryMode::kPointInTime;
  SyncPolicy sync_policy = SyncPolicy::kNone;
  // kInterval: how often the background thread syncs unsynced records.
  absl::Duration sync_interval = absl::Milliseconds(100);
  // kInterval: also sync as soon as this many bytes are unsynced (0: never).
  uint64_t sync_interval_bytes = 0;
  // Group commit: a group takes queued appends in order up to this many store
  // bytes (the first append always goes, whatever its size). Bounds how long
  // an append can wait behind others: one group.
  uint64_t max_group_bytes = 1ull << 20;
  // Create the directory if it does not exist (ignored when read_only).
  bool create_if_missing = true;
  // Open for reading only, as RocksDB's OpenForReadOnly: nothing in the
  // directory is ever written, truncated, renamed or deleted, and no index is
  // rebuilt on disk (indexes are read into memory, 12 bytes per record, and
  // completed there). The LOCK is not taken, so this works while a writer has
  // the log open; the log is then what its files held during Open: a
  // consistent prefix (a torn tail, a batch cut off and an interrupted
  // truncation are left out in memory). recovery_mode applies as in a
  // writable open, in memory only: damage it accepts is reported (the
  // report's warnings say what a writable open would cut), damage it does not
  // accept fails Open with kDataLoss. Append, AppendBatch, Sync and the
  // truncations fail with kFailedPrecondition. A missing directory is
  // kNotFound. Readers use pread, never mappings (a writer may cut a store in
  // place while this log reads it).
  bool read_only = false;
  // Source of append timestamps in microseconds since the Unix epoch (tests
  // replace it). Timestamps are made non-decreasing across the log.
  std::function<uint64_t()> clock_us;
  // Receives warnings (ignored stray files, rebuilt indexes, cut tails).
  std::function<void(const std::string&)> warning_sink;
};

// What Log::Open found and did.
struct RecoveryReport {
  uint64_t segments = 0;           // segments opened
  uint64_t records = 0;            // records in the log after recovery
  uint64_t store_bytes = 0;        // store bytes after recovery
  uint64_t records_scanned = 0;    // records read from stores to verify/re-index
  uint64_t bytes_scanned = 0;      // store bytes read to do so
  uint64_t indexes_rebuilt = 0;    // segments whose index needed repair
  uint64_t index_entries_added = 0;
  uint64_t torn_bytes_cut = 0;     // bytes cut from the end of the last store
  uint64_t records_skipped = 0;    // kSkipAnyCorruptedRecords: damaged records
  uint64_t batches_cut = 0;        // batches cut off by the crash, removed
  bool clean_shutdown = false;     // every index was sealed and matched its store
  // A read-only open (LogOptions::read_only): the counts above say what was
  // found; nothing was cut or rebuilt on disk.
  bool read_only = false;
  std::vector<DamagedRegion> damage;
  std::vector<std::string> warnings;
  uint64_t elapsed_us = 0;
};

// Counters of a log since it was opened (Log::GetStats).
struct LogStats {
  uint64_t appends = 0;        // Append / AppendBatch calls that succeeded
  uint64_t records = 0;        // records they appended
  uint64_t value_bytes = 0;    // bytes of those records' values
  uint64_t groups = 0;         // group commits (each one write of the store)
  uint64_t syncs = 0;          // fdatasyncs of a store (groups, Sync, interval)
  uint64_t rolls = 0;          // segments sealed for a new one
  Histogram group_size;        // appends per group
  Histogram sync_latency_us;   // fdatasync latency, µs
};

}  // namespace blockwal::wal

#endif  // BLOCKWAL_WAL_LOG_OPTIONS_H_
