// Reads logical records written in the block format (wal/format.h), with the
// same outcomes as LevelDB's log::Reader for every kind of damage.
#ifndef BLOCKWAL_WAL_BLOCK_READER_H_
#define BLOCKWAL_WAL_BLOCK_READER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "blockwal/util/file_system.h"
#include "blockwal/wal/format.h"
#include "blockwal/wal/problem.h"

namespace blockwal::wal {

// What a BlockReader does with each kind of input:
//
//   input                                         outcome
//   --------------------------------------------  -------------------------------
//   checksum mismatch                              drop the rest of the block, report
//                                                  "checksum mismatch"
//   length runs past the end of the block          drop the rest of the block, report
//                                                  "bad record length"
//   header or payload cut off by end of file       silent end of file (the writer
//                                                  died mid-record: a torn tail)
//   end of file inside a fragmented record         the partial record is discarded
//                                                  silently
//   type 0 with length 0 (preallocated space)      rest of the block skipped silently
//   MIDDLE or LAST with no FIRST before it         report "missing start of
//                                                  fragmented record"
//   FULL or FIRST while a fragmented record is     the partial record is dropped and
//   open                                           reported "partial record without
//                                                  end"; the new record is read
//   a bad fragment inside a fragmented record      the partial record is also dropped,
//                                                  "error in middle of record"
//   any other type                                 report "unknown record type"
//   a read error from the file                     report it, then end of file;
//                                                  status() returns it
//
// Reports go to the Reporter with the file position where the dropped bytes
// start. With an initial offset, reading starts at the first block that can
// hold a record starting there; records (and damage) before the offset are
// skipped without a report.
class BlockReader {
 public:
  class Reporter {
   public:
    virtual ~Reporter() = default;
    // `bytes` bytes starting at file position `position` were dropped for
    // `reason` (one of the quoted reasons above, or an I/O error message).
    // Every report comes here unless Damage is overridden.
    virtual void Corruption(uint64_t position, uint64_t bytes,
                            absl::string_view reason) {}
    // The same report with its kind (one of the block format kinds of
    // ProblemKind, or kReadError). By default calls Corruption.
    virtual void Damage(uint64_t position, uint64_t bytes, ProblemKind kind,
                        absl::string_view reason) {
      Corruption(position, bytes, reason);
    }
  };

  // How to treat a non-zero initial offset.
  enum class Start {
    // LevelDB's semantics: any position; reading begins at the block that
    // holds it and drops records that start before it.
    kResync,
    // The offset is known to be where a fragment starts (or a block trailer):
    // reading begins exactly there, so damage earlier in its block cannot
    // affect what follows.
    kAtRecord,
  };

  // Reads from *file starting at file position `initial_offset` (the file
  // must be positioned at its start). Checksums are verified unless
  // `verify_checksums` is false. reporter may be null.
  // "*file" and "*reporter" must remain live while this BlockReader is in use.
  BlockReader(SequentialFile* file, Reporter* reporter,
              bool verify_checksums = true, uint64_t initial_offset = 0,
              Start start = Start::kResync);
  BlockReader(const BlockReader&) = delete;
  BlockReader& operator=(const BlockReader&) = delete;

  // Reads the next logical record into *record; false at end of input.
  // *record points into this reader's buffer or into *scratch and stays valid
  // until the next ReadRecord call or until *scratch is changed.
  bool ReadRecord(absl::string_view* record, std::string* scratch);

  // File position of the first header of the record last returned.
  uint64_t last_record_offset() const { return last_record_offset_; }
  // File position just past the last fragment of the record last returned
  // (0 before any): the length a torn file should be cut to.
  uint64_t last_record_end() const { return last_record_end_; }
  // OK, or the I/O error that ended reading.
  const absl::Status& status() const { return status_; }

 private:
  // Outcomes of ReadPhysicalRecord beyond the record types.
  enum : unsigned {
    kEof = 0x100,
    // Invalid or skipped physical record: already reported (or silent).
    kBadRecord = 0x101,
    kSkipped = 0x102,
  };

  bool SkipToInitialBlock();
  unsigned ReadPhysicalRecord(absl::string_view* fragment);
  // File position of the first unconsumed byte of buffer_.
  uint64_t BufferPosition() const {
    return end_of_buffer_offset_ - buffer_.size();
  }
  void ReportCorruption(uint64_t position, uint64_t bytes, ProblemKind kind,
                        absl::string_view reason);
  void ReportIoError(uint64_t position, uint64_t bytes,
                     absl::string_view reason) {
    if (reporter_ != nullptr) {
      reporter_->Damage(position, bytes, ProblemKind::kReadError, reason);
    }
  }

  SequentialFile* const file_;
  Reporter* const reporter_;
  const bool verify_checksums_;
  const uint64_t initial_offset_;
  const Start start_;
  std::unique_ptr<char[]> backing_store_;  // one block
  absl::string_view buffer_;               // unconsumed part of the block
  bool eof_ = false;  // the last read returned less than it asked for
  bool skipped_to_initial_block_ = false;
  uint64_t last_record_offset_ = 0;
  uint64_t last_record_end_ = 0;
  // File position just past the end of buffer_.
  uint64_t end_of_buffer_offset_ = 0;
  // True while skipping the tail of a record that began before the initial
  // offset.
  bool resyncing_;
  absl::Status status_;
};

// A Reporter that keeps every report, in order, as a DamagedRegion (its
// `file` left empty for the caller to fill in).
class DamageCollector : public BlockReader::Reporter {
 public:
  void Damage(uint64_t position, uint64_t bytes, ProblemKind kind,
              absl::string_view reason) override {
    regions.push_back({"", position, bytes, std::string(reason), kind});
  }
  std::vector<DamagedRegion> regions;
};

// Reads the one logical record whose first fragment starts at `position` of
// *file, verifying every fragment's checksum. The result points into *scratch
// or into memory owned by *file; it stays valid until *scratch changes or the
// file is destroyed.
// Errors: kOutOfRange when position is at or past the end of the file;
// kDataLoss (naming the file and the position of the bad fragment) for a
// checksum mismatch, a bad length, a fragment cut off by the end of the file,
// a position in a block trailer, or a fragment sequence that is not
// FULL or FIRST, MIDDLE*, LAST; the file's own error for a failed read.
// When end_position is not null it receives the file position just past the
// record's last fragment. A non-zero length_hint says how many bytes from
// `position` the record is known to span at most (e.g. up to where the next
// record starts): a record that fits it is read with one call to file.Read.
absl::StatusOr<absl::string_view> ReadRecordAt(const RandomAccessFile& file,
                                               uint64_t position,
                                               std::string* scratch,
                                               uint64_t* end_position = nullptr,
                                               uint64_t length_hint = 0);

// ReadRecordAt, except that a record read whole from memory the file owns
// (a read-only mapping) is returned as a view into that memory instead of a
// copy in *scratch: no copy, but the view is only valid while the file is
// open (ReadRecordAt's results stay valid in *scratch after that). *scratch
// is still needed for other files and for fragmented records.
absl::StatusOr<absl::string_view> ReadRecordViewAt(
    const RandomAccessFile& file, uint64_t position, std::string* scratch,
    uint64_t* end_position = nullptr, uint64_t length_hint = 0);

// As ReadRecordAt, for callers that only ask whether a valid record starts at
// `position` (recovery's checks of index entries): the same outcomes, but
// errors carry no message, so a miss allocates nothing.
absl::StatusOr<absl::string_view> ProbeRecordAt(const RandomAccessFile& file,
                                                uint64_t position,
                                                std::string* scratch,
                                                uint64_t* end_position);

// Reads the records of a store from `start` (a position where a record
// starts, or 0) and calls fn(position, end, payload) for each, in order,
// until it returns false. Damage goes to *reporter (may be null). Returns
// the reader's I/O status.
absl::Status ScanRecords(
    SequentialFile* file, uint64_t start, BlockReader::Reporter* reporter,
    absl::FunctionRef<bool(uint64_t, uint64_t, absl::string_view)> fn);

}  // namespace blockwal::wal

#endif  // BLOCKWAL_WAL_BLOCK_READER_H_
