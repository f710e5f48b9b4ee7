// The kinds of trouble the log's readers find in a log's files: what
// BlockReader reports, what Log::Open records as damage (RecoveryReport),
// and what InspectLog lists as problems. Tools and tests match on the kind;
// the message that comes with each is for people and may change.
#ifndef BLOCKWAL_WAL_PROBLEM_H_
#define BLOCKWAL_WAL_PROBLEM_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace blockwal::wal {

enum class ProblemKind {
  // Block format damage (BlockReader; the message is LevelDB's reason).
  kChecksumMismatch,    // "checksum mismatch"
  kBadRecordLength,     // "bad record length"
  kMissingStart,        // "missing start of fragmented record"
  kPartialRecord,       // "partial record without end"
  kErrorInRecord,       // "error in middle of record"
  kUnknownRecordType,   // "unknown record type"
  kReadError,           // the file system's error
  // A store's records (segments).
  kBadEnvelope,         // the payload does not decode as a record envelope
  kWrongOffset,         // a record carries an offset out of sequence
  kMissingRecords,      // offsets skipped over zeroed bytes
  kTimestampBackwards,  // a timestamp earlier than the previous record's
  kTornTail,            // bytes after the last valid record
  kIncompleteBatch,     // the last records say more of their batch follows
  kDamagedBeforeCut,    // a record that fails to verify before a cut batch
  // A segment's index.
  kIndexMissing,
  kIndexPartialEntry,   // the file ends inside an entry
  kIndexMismatch,       // an entry does not describe its record
  kIndexBehind,         // fewer entries than the store has records
  kIndexNotSealed,      // an older segment's index was not sealed
  kOrphanIndex,         // an index without a store
  // The directory.
  kOffsetGap,           // offsets missing between segments
  kOffsetOverlap,       // segments that hold the same offsets
  kInterruptedTruncation,  // an intent file the next Log::Open finishes
  kBadTruncationFile,      // a truncation record that does not decode
};

// The enumerator's name without the leading 'k' ("ChecksumMismatch").
absl::string_view ProblemKindName(ProblemKind kind);

// A stretch of a file that did not read as records (RecoveryReport::damage,
// repair reports).
struct DamagedRegion {
  std::string file;  // the file's path
  uint64_t position = 0;
  uint64_t bytes = 0;
  std::string reason;
  ProblemKind kind = ProblemKind::kChecksumMismatch;
};

}  // namespace blockwal::wal

#endif  // BLOCKWAL_WAL_PROBLEM_H_
