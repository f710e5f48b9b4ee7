// A read-only view of a log directory (wal/log.h) for tools and tests: what
// segments it holds, which records each store contains, whether every index
// agrees with its store, and every problem found on the way.
//
//   wal::InspectOptions options;
//   absl::StatusOr<wal::LogInspection> inspection =
//       wal::InspectLog(FileSystem::Default(), "/data/wal", options);
//   for (const wal::LogProblem& p : inspection->problems) { ... }
//
// Contract
//   - Never modifies anything: files are only opened for reading (never
//     mapped, never created), and the directory LOCK is not taken.
//   - So it may run while a writer has the log open. The result then
//     reflects one moment of a moving target: records still buffered by the
//     writer are not seen, the newest index entries may point past the end
//     of what reached the store, and the files may change while they are
//     read. Run it on a closed log for a verdict.
//   - Unlike Log::Open it repairs nothing and trusts nothing: the store is
//     read in full (every checksum), every index entry is checked against it.
//     A problem that Log::Open would fix silently (a torn tail, an index
//     behind its store) is still reported, so a log straight after a crash is
//     not "clean" here even though it opens fine.
//
// Problems reported (each with the file and the byte position in it):
//   - store damage: what BlockReader reports (checksum mismatch, bad record
//     length, ...), a payload whose envelope (wal/record.h) does not decode,
//     a record whose offset is not the next one of its segment, a timestamp
//     earlier than the previous record's;
//   - a torn tail: bytes after the last valid record of a store that no
//     damage report covers (a write cut off by a crash);
//   - an incomplete batch: the log's last records all carry kBatchContinues;
//   - index trouble: a missing index, an entry that does not describe the
//     record at its slot (entry i must hold relative offset i and point at a
//     record carrying offset base + i), fewer valid entries than the store
//     has records, an older segment whose index is not sealed, an index
//     without a store;
//   - offsets missing or repeated between consecutive segments;
//   - an interrupted truncation (an intent file the next Log::Open finishes).
//
// Thread safety: the functions are thread-compatible; they share no state.
#ifndef BLOCKWAL_WAL_LOG_INSPECTOR_H_
#define BLOCKWAL_WAL_LOG_INSPECTOR_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "blockwal/util/file_system.h"
#include "blockwal/wal/log_options.h"
#include "blockwal/wal/problem.h"
#include "blockwal/wal/record.h"

namespace blockwal::wal {

// Where a record lives. The views are valid during the callback only.
struct RecordLocation {
  uint64_t base_offset = 0;     // of the segment
  absl::string_view store_name;  // "<base>.store", without the directory
  absl::string_view store_path;  // the directory joined with store_name
  uint64_t position = 0;  // of the record's first fragment in the store
  uint64_t length = 0;    // of the record's value (not its envelope)
};

struct LogProblem {
  std::string file;  // path (the directory joined with the file name)
  uint64_t position = 0;  // byte position in `file`
  ProblemKind kind = ProblemKind::kChecksumMismatch;
  std::string description;  // for people; match on `kind`
};

struct SegmentInspection {
  uint64_t base_offset = 0;
  std::string store_path;
  std::string index_path;
  uint64_t store_bytes = 0;
  bool has_index = false;
  uint64_t index_bytes = 0;
  // Records whose envelope decodes, damaged ones excluded.
  uint64_t records = 0;
  // Leading index entries consistent with the store: each describes its
  // record correctly, or points at a record or region already reported as a
  // store problem (which is not reported again for the index).
  uint64_t index_entries = 0;
  // The index file is exactly index_entries entries long, as a segment's
  // index is after it was sealed (a clean close or a roll). The active
  // segment of an open log (or of one that crashed) has a longer,
  // zero-filled index.
  bool index_sealed = false;
  // Offsets and timestamps of the first and last valid record (meaningful
  // when records > 0).
  uint64_t first_offset = 0;
  uint64_t last_offset = 0;
  uint64_t first_timestamp_us = 0;
  uint64_t last_timestamp_us = 0;
  // Position just past the last valid record (0 when there is none).
  uint64_t valid_end = 0;
  // The offset after the segment's records as read: base_offset + records
  // when they are contiguous. The next segment should start there.
  uint64_t next_offset = 0;
  // What Log::Open in InspectOptions::recovery_mode would do with the
  // segment as it is, decided by the rules Open itself uses
  // (wal/segment_recovery.h) on the same bytes: OK, keeping open_keeps
  // records and cutting open_cuts store bytes after them; or the kDataLoss
  // Open fails with. (An interrupted truncation, which Open finishes first,
  // is not applied here: the verdict is on the files as they are.)
  absl::Status open_verdict;
  uint64_t open_keeps = 0;
  uint64_t open_cuts = 0;
};

struct LogInspection {
  std::string dir;
  std::vector<SegmentInspection> segments;  // in base-offset order
  // Names in the directory that are not files of the log (Log::Open ignores
  // them with a warning), e.g. a walctl repair backup directory.
  std::vector<std::string> stray_files;
  // Temp files a truncation wrote but never committed by renaming them into
  // place (Log::Open removes them). Not a problem: they count for nothing.
  std::vector<std::string> void_files;
  std::vector<LogProblem> problems;  // in the order found
  // Totals over the segments.
  uint64_t records = 0;
  uint64_t store_bytes = 0;
  uint64_t index_bytes = 0;

  bool clean() const { return problems.empty(); }
  bool has_records() const { return records > 0; }
  // First offset of the first segment holding records, last offset of the
  // last one, and the newest record's timestamp (0 without records).
  uint64_t first_offset() const;
  uint64_t last_offset() const;
  uint64_t last_timestamp_us() const;
};

struct InspectOptions {
  // Called, when set, for every record whose envelope decodes, in segment
  // and store order (a damaged log may present offsets out of order; the
  // problems say so). record.value is valid during the call only.
  std::function<void(const RecordLocation&, const Record&)> on_record;
  // Called, when set, as stores are read: store bytes read so far and the
  // total of all stores. Called about once per block and once at the end.
  std::function<void(uint64_t done, uint64_t total)> on_progress;
  // The mode SegmentInspection::open_verdict is decided in (Log::Open's
  // default).
  RecoveryMode recovery_mode = RecoveryMode::kPointInTime;
};

// Reads every file of the log in `dir` and returns what it found. Errors:
// kNotFound when dir does not exist, the file system's error when it is not
// a directory or a file cannot be read. Damage is never an error: it is a
// problem in the result.
absl::StatusOr<LogInspection> InspectLog(FileSystem* fs, const std::string& dir,
                                         const InspectOptions& options);

// The offsets the log holds, found cheaply: the first segment's base, and
// the last segment's records counted from its last index entry that
// verifies. Records are contiguous from `first` to `next` - 1 unless
// InspectLog reports problems.
struct OffsetRange {
  uint64_t first = 0;
  uint64_t next = 0;  // one past the last record
  bool empty() const { return first == next; }
};
absl::StatusOr<OffsetRange> FindOffsetRange(FileSystem* fs,
                                            const std::string& dir);

// Calls visitor for every record with offset >= from_offset whose envelope
// decodes, in segment and store order, until it returns false. Starts at the
// segment that holds from_offset, at the position its index gives when that
// entry verifies (otherwise at the segment's start). A torn tail ends a
// store silently (as BlockReader does); other damage is skipped and, after
// the visit, returned as kDataLoss naming the first damaged file and
// position. Other errors are the file system's.
absl::Status ForEachRecord(
    FileSystem* fs, const std::string& dir, uint64_t from_offset,
    absl::FunctionRef<bool(const RecordLocation&, const Record&)> visitor);

// The value of the record at `offset`: through its index entry when that
// entry verifies, else by scanning its segment's store. kOutOfRange naming
// the log's range when `offset` is outside it; kDataLoss when it is inside
// but the record is damaged or missing.
absl::StatusOr<std::string> ReadRecordValue(FileSystem* fs,
                                            const std::string& dir,
                                            uint64_t offset);

}  // namespace blockwal::wal

#endif  // BLOCKWAL_WAL_LOG_INSPECTOR_H_
