// The rules that decide what one segment holds after a crash, apart from the
// files they are read from and the segment they are applied to:
//
//   ScanSegment     store bytes + index entries -> findings: the trusted
//                   index prefix, the records after it, damaged regions with
//                   their kind, where the valid data ends (a torn tail lies
//                   after it), an incomplete batch cut off by the crash
//   DecideRecovery  recovery mode + findings -> a plan, or kDataLoss naming
//                   the store and position (docs/recovery.md's table)
//
// Segment::Open scans, decides and applies (on disk, or in memory for a
// read-only open); InspectLog scans and decides each segment to report
// what Open would do (SegmentInspection::open_verdict), and shares the
// incomplete-batch rule (InIncompleteBatch) with its own per-record checks;
// FindOffsetRange (wal/log_inspector.h) scans the last segment.
// Nothing here writes: the inputs are read, the plan is data.
#ifndef BLOCKWAL_WAL_SEGMENT_RECOVERY_H_
#define BLOCKWAL_WAL_SEGMENT_RECOVERY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "blockwal/util/file_system.h"
#include "blockwal/wal/index.h"
#include "blockwal/wal/log_options.h"

namespace blockwal::wal {

// What one segment's recovery reads, and what the log around it says.
struct SegmentScanInput {
  uint64_t base_offset = 0;
  const RandomAccessFile* store = nullptr;  // the store, read as it is
  uint64_t store_size = 0;
  const Index* index = nullptr;  // the well-formed entries found on disk
  RecoveryMode mode = RecoveryMode::kPointInTime;
  // The newest segment (a torn tail and an incomplete batch are cut only
  // there; older segments hold only synced data).
  bool last = false;
  // The index is known to describe the store (a truncation just wrote it).
  bool trust_index = false;
  // Records below this offset are whole even inside a batch: a
  // TruncateSuffix ended the log there (kLastTruncationFileName).
  std::optional<uint64_t> complete_below;
  // The next segment's base offset (older segments only).
  uint64_t next_base = 0;
  // Entries an index of the configured size holds (max_index_bytes).
  uint64_t index_capacity = 0;
};

// A valid record found where an index entry or the scan expected it.
struct VerifiedRecord {
  uint64_t end = 0;  // store position just past it
  uint64_t timestamp_us = 0;
  uint8_t flags = 0;
};

// Whether the store holds a valid record carrying `offset` at `position`.
std::optional<VerifiedRecord> VerifyRecordAt(const RandomAccessFile& store,
                                             uint64_t position,
                                             uint64_t offset);

// Whether index entry i (offset base_offset + i) points at a valid record
// carrying that offset.
std::optional<VerifiedRecord> VerifyIndexEntry(const RandomAccessFile& store,
                                               const Index& index,
                                               uint64_t base_offset,
                                               uint64_t i);

// How many leading index entries to take as they are, and where the last of
// them ends: the longest prefix whose last entry verifies against the store
// (a store only grows at its end, so if entry i's record survived, so did
// those before it). kAbsoluteConsistency trusts none.
struct TrustedPrefix {
  uint64_t entries = 0;
  uint64_t end = 0;           // store position after the last trusted record
  uint64_t timestamp_us = 0;  // of that record
};
TrustedPrefix FindTrustedPrefix(const RandomAccessFile& store,
                                const Index& index, uint64_t base_offset,
                                RecoveryMode mode);

// Whether a record is part of a batch the crash cut off, when it is among
// the log's last records: it says more of its batch follows, and no suffix
// truncation ended the log after it.
bool InIncompleteBatch(uint64_t offset, uint8_t flags,
                       std::optional<uint64_t> complete_below);

struct SegmentFindings {
  uint64_t index_entries = 0;  // well-formed entries found
  uint64_t trusted = 0;        // of them, taken as they are
  // Store positions of the records after the trusted ones, in offset order
  // (skip mode: lost offsets get filler positions inside the damage), and
  // each one's flags.
  std::vector<uint64_t> positions;
  std::vector<uint8_t> flags;
  uint64_t good_end = 0;  // where the valid records end (after a batch cut)
  uint64_t max_timestamp_us = 0;  // the newest timestamp seen
  uint64_t skipped = 0;           // lost offsets kept taken (skip mode)
  uint64_t batch_records_cut = 0;  // records of an incomplete batch removed
  uint64_t batch_cut_offset = 0;   // the first of them
  bool damaged = false;
  bool valid_after_damage = false;   // a valid record follows damage
  bool synced_after_damage = false;  // ... one that was synced
  std::vector<DamagedRegion> damage;  // `file` left empty
  uint64_t records_scanned = 0;
  uint64_t bytes_scanned = 0;

  uint64_t count() const { return trusted + positions.size(); }
  // Store position of entry i (i < count()).
  uint64_t PositionOf(const Index& index, uint64_t i) const {
    return i >= trusted ? positions[i - trusted] : index.Position(i);
  }
};

// The cheap check for an older segment that was closed cleanly: the index
// file is exactly its entries long, and the last entry verifies and ends
// where the store ends. Then nothing needs scanning (except in
// kAbsoluteConsistency, which reads every segment in full): the segment
// holds all its entries' records. Returns that last record.
std::optional<VerifiedRecord> CleanSealedEnd(const SegmentScanInput& in,
                                             uint64_t index_file_size);

// Reads the segment: trusts the index prefix, scans the store after it,
// fills lost offsets (skip mode) and cuts an incomplete batch (the last
// segment). Errors: the store's read errors only; damage is a finding.
absl::StatusOr<SegmentFindings> ScanSegment(const SegmentScanInput& in);

// What recovery does to a segment.
struct SegmentPlan {
  bool last = false;
  bool clean_sealed = false;  // nothing to do: the cheap check passed
  uint64_t n = 0;             // index entries found
  uint64_t trusted = 0;
  std::vector<uint64_t> positions;  // entries trusted, trusted + 1, ...
  uint64_t final_count = 0;
  uint64_t good_end = 0;
  uint64_t store_size = 0;
  bool cut_store = false;
  bool index_exists = false;
  uint64_t index_file_size = 0;
  uint64_t max_ts = 0;
  uint64_t skipped = 0;
  uint64_t batches_cut = 0;
  std::vector<DamagedRegion> damage;
};

// The recovery mode's verdict on the findings: a plan for the segment whose
// store is `store_path`, or kDataLoss naming it, the first damage and its
// position, and the rule that refused it.
absl::StatusOr<SegmentPlan> DecideRecovery(const SegmentScanInput& in,
                                           SegmentFindings findings,
                                           const std::string& store_path);

}  // namespace blockwal::wal

#endif  // BLOCKWAL_WAL_SEGMENT_RECOVERY_H_
