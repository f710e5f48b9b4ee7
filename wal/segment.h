// One segment of a log: `<base>.store`, the block-format file of records
// (each in the wal/record.h envelope), and `<base>.index`, the memory-mapped
// map from relative offset to store position (wal/index.h). `<base>` is the
// absolute offset of the segment's first record, zero-padded to 20 digits so
// that names sort in offset order.
//
// A segment is *active* (appendable; index mapped at full size) or *sealed*
// (read-only; store synced, index synced and truncated to its entries).
//
// Thread safety: Append, Flush, Sync and Seal are called by one
// thread at a time (the log's writer). Read may run concurrently with them
// from any number of threads; it sees every record whose Append returned
// before the Read began.
#ifndef BLOCKWAL_WAL_SEGMENT_H_
#define BLOCKWAL_WAL_SEGMENT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "absl/synchronization/mutex.h"
#include "blockwal/util/file_system.h"
#include "blockwal/wal/block_writer.h"
#include "blockwal/wal/index.h"
#include "blockwal/wal/log_dir.h"
#include "blockwal/wal/log_options.h"
#include "blockwal/wal/record.h"

namespace blockwal::wal {

struct SegmentPlan;  // wal/segment_recovery.h
struct VerifiedRecord;  // wal/segment_recovery.h

class Segment {
 public:
  // Creates an empty active segment (files must not exist).
  static absl::StatusOr<std::unique_ptr<Segment>> Create(
      const std::string& dir, uint64_t base_offset, const LogOptions& options);

  // An empty segment in memory only (no files), sealed: the log of a
  // read-only open of a directory without segments.
  static std::unique_ptr<Segment> CreateEmpty(const std::string& dir,
                                              uint64_t base_offset,
                                              const LogOptions& options);

  // What Open needs to know about the segment's place in the log.
  struct OpenContext {
    // The newest segment of the log: it may hold a torn tail and a batch cut
    // off by a crash, and is opened active. Older ones are opened sealed.
    bool last = true;
    // For a sealed segment: the next segment's base, where its offsets end.
    uint64_t next_base = 0;
    // Records below this offset are whole even if the last carries
    // kBatchContinues: a TruncateSuffix ended the log there.
    std::optional<uint64_t> complete_below;
    // The files were just cut by TruncateFiles: take the index as it is
    // (no verification, no scan), so a damaged record kept by the cut keeps
    // its offset.
    bool trust_index = false;
  };

  // Opens an existing segment and recovers it as options.recovery_mode says
  // (see log_options.h and docs/recovery.md), adding what it found to
  // *report. On error, no file has been changed. Open is PlanOpen followed
  // by ApplyPlan.
  static absl::StatusOr<std::unique_ptr<Segment>> Open(
      const std::string& dir, uint64_t base_offset, const OpenContext& ctx,
      const LogOptions& options, RecoveryReport* report);
  // Decides how to recover the segment without changing any file (fails with
  // kDataLoss when the mode does not accept what it found). The segment is
  // unusable until ApplyPlan.
  static absl::StatusOr<std::unique_ptr<Segment>> PlanOpen(
      const std::string& dir, uint64_t base_offset, const OpenContext& ctx,
      const LogOptions& options, RecoveryReport* report);
  // Carries out the plan: cuts a torn tail, rewrites the index, opens. With
  // LogOptions::read_only, nothing on disk changes: the index is completed in
  // memory, reads stop at the end of the valid records, and the segment is
  // opened sealed (no appends).
  absl::Status ApplyPlan(RecoveryReport* report);
  // The offset after the last record once the plan is applied.
  uint64_t planned_next_offset() const;

  // Cuts the files of a segment so it keeps its first `entries` records,
  // whose store ends at `store_end`; both durably. The files are replaced
  // (copy, sync, rename), so Segment objects still open on them keep reading
  // the old, whole files.
  static absl::Status TruncateFiles(FileSystem* fs, const std::string& dir,
                                    uint64_t base_offset, uint64_t entries,
                                    uint64_t store_end);

  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
  ~Segment();

  // Appends the values as records from offset next_offset(), all with the
  // timestamp; every record but the last carries kBatchContinues, the last
  // carries `last_flags`. Readers see the records only once all are written.
  // Returns the first offset. Not durable until Sync.
  absl::StatusOr<uint64_t> Append(absl::Span<const absl::string_view> values,
                                  uint64_t timestamp_us, uint8_t last_flags);
  // Whether `records` more records fit the index (the store limit is soft).
  bool HasIndexRoomFor(uint64_t records) const;

  // Reads the record at `offset` (base_offset() <= offset < next_offset()).
  // The record's value points into *scratch or into memory of the segment and
  // stays valid until *scratch changes or the segment is destroyed.
  // kDataLoss, naming the store file and position, when the stored record is
  // damaged or does not carry `offset`.
  absl::StatusOr<Record> Read(uint64_t offset, std::string* scratch) const;

  // Reads up to n raw store bytes at `position` (flushing what is buffered
  // first) through the segment's open file, so it works after the segment's
  // files were removed. Same result rules as RandomAccessFile::Read.
  absl::StatusOr<absl::string_view> ReadStoreBytes(uint64_t position, size_t n,
                                                   char* scratch) const;

  absl::Status Flush();
  // Makes every record appended so far durable: the store's fdatasync. The
  // index is derived (recovery rebuilds it from the store) and is synced only
  // by Seal.
  absl::Status Sync();
  // The first error of the store's writer (a failed write, flush or sync,
  // also one a reader's flush hit), or OK.
  absl::Status WriteStatus() const;
  // Syncs and turns the segment read-only (a roll, or a clean close): the
  // store is closed and the index truncated to its entries. Idempotent.
  // Concurrent readers are unaffected.
  absl::Status Seal();
  // Hides records from `keep_records` on from readers of this object (its
  // files are being replaced by TruncateFiles): Read of them is kOutOfRange.
  void Retract(uint64_t keep_records) { index_->Retract(keep_records); }
  // A read-only open's suffix truncation: Retract, and the store reads as
  // ending after the last record kept (before any reader has the segment).
  void Hide(uint64_t keep_records);
  // Position in the store of the record at `offset` (valid offsets only).
  uint64_t PositionOf(uint64_t offset) const {
    return index_->Position(offset - base_offset_);
  }
  // Where the store ends when it keeps only the records below `offset`
  // (base_offset() <= offset < next_offset()): just past the last record
  // kept, when it verifies, since the record at `offset` may start past a
  // zero block trailer, which must not end the store (a sealed segment's
  // store ends with its last record); otherwise the position of `offset`.
  uint64_t StoreEndBefore(uint64_t offset) const;
  // Deletes both files (the segment must not be used afterwards except by
  // readers that already hold it: their open files stay readable).
  absl::Status RemoveFiles();

  uint64_t base_offset() const { return base_offset_; }
  uint64_t next_offset() const {
    return base_offset_ + index_->size();
  }
  uint64_t record_count() const { return index_->size(); }
  uint64_t store_size() const {
    return store_size_.load(std::memory_order_acquire);
  }
  // Timestamp of the newest record (0 for an empty segment).
  uint64_t last_timestamp_us() const {
    return last_timestamp_us_.load(std::memory_order_acquire);
  }
  bool sealed() const { return sealed_; }
  // True when the next append should go to a new segment.
  bool IsFull() const;
  const std::string& store_path() const { return store_path_; }
  const std::string& index_path() const { return index_path_; }

 private:
  Segment(const std::string& dir, uint64_t base_offset,
          const LogOptions& options);

  // Opens the store for appending at its current end.
  absl::Status OpenForAppend();
  // Opens active_reader_ over the store, readable up to flushed_size_.
  absl::Status OpenActiveReader();
  absl::Status PlanRecovery(const OpenContext& ctx, RecoveryReport* report);
  // ApplyPlan's steps: adds what the plan found to *report and returns
  // whether the index needs entries it lacks; then the plan is carried out
  // on disk, or (a read-only open) in memory only.
  bool ReportPlan(const SegmentPlan& plan, RecoveryReport* report) const;
  absl::Status ApplyPlanOnDisk(const SegmentPlan& plan, bool rewrite);
  void ApplyPlanInMemory(const SegmentPlan& plan, bool rewrite);
  // Whether index entry i points at a record that verifies and carries its
  // offset (VerifyIndexEntry on this segment's files).
  std::optional<VerifiedRecord> VerifyEntry(uint64_t i) const;
  // Ensures the bytes of the store up to `end` have left the user-space
  // buffer, so a positional read sees them.
  absl::Status FlushUpTo(uint64_t end) const;
  // Reads record i by walking the store from the end of the nearest earlier
  // record whose entry verifies: for an entry that is damaged but still
  // well-formed (the index is derived data; the store is the truth).
  absl::StatusOr<Record> ReadByWalking(uint64_t i, std::string* scratch) const;

  const uint64_t base_offset_;
  const LogOptions& options_;
  const std::string store_path_;
  const std::string index_path_;

  // The file reads go through: reader_ until the segment is sealed, then
  // (when the file system can) a read-only mapping, published once through
  // mapped_ and owned by mapped_owner_. Readers call store_file().
  const RandomAccessFile* store_file() const {
    const RandomAccessFile* m = mapped_.load(std::memory_order_acquire);
    if (m != nullptr) return m;
    return active_reader_ != nullptr ? active_reader_.get() : reader_.get();
  }
  // Publishes that the store's first n bytes are in the file: readers may
  // read them (active_reader_ first, then flushed_size_, so a reader that
  // sees the new flushed size can read those bytes).
  void PublishFlushed(uint64_t n) const {
    if (active_reader_ != nullptr) active_reader_->SetReadableSize(n);
    flushed_size_.store(n, std::memory_order_release);
  }
  // Switches reads of a sealed store to a mapping (best effort).
  void MapSealedStore();

  std::unique_ptr<SegmentPlan> plan_;  // between PlanOpen and ApplyPlan
  std::unique_ptr<Index> index_;
  std::unique_ptr<RandomAccessFile> reader_;
  // Reads of the active store (a mapping that grows with it), from the moment
  // the segment is open for appending; set before the segment is shared.
  std::unique_ptr<AppendingReadFile> active_reader_;
  std::unique_ptr<RandomAccessFile> mapped_owner_;
  std::atomic<const RandomAccessFile*> mapped_{nullptr};
  bool sealed_ = false;
  std::atomic<uint64_t> store_size_{0};
  std::atomic<uint64_t> last_timestamp_us_{0};

  // The appending side: store file and block writer. A reader that needs
  // bytes still in the writer's buffer flushes under this mutex.
  mutable absl::Mutex write_mu_;
  std::unique_ptr<WritableFile> store_ ABSL_GUARDED_BY(write_mu_);
  std::unique_ptr<BlockWriter> writer_ ABSL_GUARDED_BY(write_mu_);
  // Store bytes known to be in the OS (readable by pread).
  mutable std::atomic<uint64_t> flushed_size_{0};
  // Set when a reader's flush (FlushUpTo) failed: the only writer failure the
  // log does not see as the result of its own call (WriteStatus).
  mutable std::atomic<bool> reader_flush_failed_{false};
};

}  // namespace blockwal::wal

#endif  // BLOCKWAL_WAL_SEGMENT_H_
