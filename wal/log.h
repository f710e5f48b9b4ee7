// blockwal's segmented log: an append-only sequence of records addressed by
// contiguous 64-bit offsets, stored as segments (wal/segment.h) in one
// directory and recovered crash-safely at open (wal/log_options.h).
//
//   auto log = wal::Log::Open("/data/wal", wal::LogOptions()).value();
//   uint64_t offset = log->Append("hello").value();
//   absl::Status s = log->Sync();            // durable from here on
//   std::string scratch;
//   wal::Record r = log->Read(offset, &scratch).value();   // r.value == "hello"
//
// Directory contents:
//   <base>.store, <base>.index   one pair per segment (docs/format.md)
//   LOCK                         flock'ed while the log is open
//   TRUNCATE_PREFIX, TRUNCATE_SUFFIX
//                                intent of an interrupted truncation, finished
//                                by the next Open
//   LAST_TRUNCATION              the offset the last TruncateSuffix kept
// Anything else is ignored with a warning.
//
// Thread safety: all methods may be called concurrently. Appends, syncs and
// truncations are totally ordered through one queue: the appender at its
// front writes the queued appends as one group, with one write and (when any
// of them needs it) one fdatasync, and wakes the others (group commit). Read,
// iterators and byte readers run alongside and see a record once its group
// has written it, which can be before it is durable (under
// SyncPolicy::kEveryAppend, before its Append has returned). Files of
// segments removed by a truncation stay readable by readers that hold them.
//
// Errors: a failed write or sync is sticky: every later Append, AppendBatch,
// Sync and truncation returns it (kFailedPrecondition naming the first error);
// reads keep working. Reopen to recover the durable prefix.
#ifndef BLOCKWAL_WAL_LOG_H_
#define BLOCKWAL_WAL_LOG_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "util/file_system.h"
#include "wal/log_options.h"
#include "wal/record.h"

namespace blockwal::wal {

class Segment;
class Log;

// Names of the log's files besides its segments (see the directory contents
// above).
inline constexpr char kLockFileName[] = "LOCK";
inline constexpr char kPrefixIntentFileName[] = "TRUNCATE_PREFIX";
inline constexpr char kSuffixIntentFileName[] = "TRUNCATE_SUFFIX";
// Where the last TruncateSuffix ended the log (the committed intent, holding
// the first offset it removed): records below it are whole even if a batch was
// cut there.
inline constexpr char kLastTruncationFileName[] = "LAST_TRUNCATION";
// An intent is written under this suffix, then renamed into place.
inline constexpr char kTempFileSuffix[] = ".tmp";

// Reads one of the truncation files above (12 bytes: the offset as u64 LE and
// its masked CRC32C as u32 LE). kDataLoss naming the file when damaged.
absl::StatusOr<uint64_t> ReadTruncationFile(FileSystem* fs,
                                            const std::string& path);

// Reads records in offset order from a starting offset, across segments. It
// sees the records that exist when each Next is called.
class LogIterator {
 public:
  LogIterator(const LogIterator&) = delete;
  LogIterator& operator=(const LogIterator&) = delete;

  // Reads the record at next_offset() into *record and advances; false at the
  // end of the log or on an error (then status() says which). record->value
  // points into this iterator's buffer or its current segment's files, which
  // it holds: it stays valid until the next call to Next or WaitNext or the
  // iterator's destruction, even if a truncation removes the segment
  // meanwhile. After a TruncateSuffix that removed records this iterator had
  // returned, Next fails with kAborted.
  bool Next(Record* record);
  // Follow mode: like Next, but at the end of the log waits up to `timeout`
  // for the next record to be appended. False with status() OK on timeout;
  // with kCancelled after Cancel(); with kFailedPrecondition once the log is
  // closed.
  bool WaitNext(Record* record, absl::Duration timeout);
  // Wakes a WaitNext in progress (from any thread); later WaitNext calls
  // return false with kCancelled at once.
  void Cancel();

  uint64_t next_offset() const { return next_; }
  const absl::Status& status() const { return status_; }

 private:
  friend class Log;
  LogIterator(const Log* log, uint64_t from) : log_(log), next_(from) {}

  const Log* const log_;
  uint64_t next_;
  std::shared_ptr<Segment> segment_;  // holds the current segment's files
  std::string scratch_;
  absl::Status status_;
  std::atomic<bool> cancelled_{false};
  uint64_t epoch_ = 0;  // Log::suffix_epoch_ as of the last check
};

class Log {
 public:
  // Opens (creating if allowed) the log in `dir`, recovering it as
  // options.recovery_mode says; recovery_report() tells what was done.
  // kUnavailable when another process (or Log) has it open; kDataLoss when
  // damage the mode does not accept was found (the message names the file and
  // position).
  static absl::StatusOr<std::unique_ptr<Log>> Open(const std::string& dir,
                                                   LogOptions options);
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;
  ~Log();  // Close(), ignoring errors.

  // Appends a record and returns its offset. Not durable until Sync.
  absl::StatusOr<uint64_t> Append(absl::string_view value);
  // Appends the values as consecutive records and returns the first offset.
  // All or nothing: a crash keeps either every record of the batch or none,
  // and readers see none of them until all are written. A batch never spans
  // segments. kInvalidArgument for an empty batch.
  absl::StatusOr<uint64_t> AppendBatch(absl::Span<const absl::string_view> values);

  // Reads the record at `offset`; record.value points into *scratch and
  // stays valid until *scratch changes or is destroyed, whatever happens to
  // the log meanwhile (truncations, Close, destruction). kOutOfRange naming
  // the valid range for an offset outside it; kDataLoss naming file and
  // position for a damaged record.
  absl::StatusOr<Record> Read(uint64_t offset, std::string* scratch) const;

  // The first offset still in the log (== NextOffset() when it is empty).
  uint64_t LowestOffset() const;
  // The offset the next Append gets.
  uint64_t NextOffset() const;
  // The last offset in the log, or nullopt when the log holds no record.
  std::optional<uint64_t> HighestOffset() const;

  // Removes every segment all of whose records are below `lowest` (Kafka's
  // retention, Raft's compaction); records at and above it stay, so a few
  // below it may stay too. Crash-safe: after a crash the log is either as
  // before or as after. kOutOfRange when lowest > NextOffset().
  absl::Status TruncatePrefix(uint64_t lowest);
  // Removes every record after `last_kept` (a Raft rollback); the next append
  // gets last_kept + 1. Crash-safe as TruncatePrefix. kOutOfRange when
  // last_kept + 1 < LowestOffset().
  absl::Status TruncateSuffix(uint64_t last_kept);

  // An iterator from `from` (kOutOfRange from Next when `from` is below
  // LowestOffset()). The log must outlive it.
  std::unique_ptr<LogIterator> NewIterator(uint64_t from) const;
  // The raw bytes of every store file in offset order, as one stream
  // (proglog's Reader): for replication and backup. It reads the segments
  // that exist at this call (appends to the last of them included, later
  // segments not) and holds them, so truncations do not free their files
  // under it. A Read's result points into its scratch or into those files and
  // stays valid until scratch is reused or the reader is destroyed. The log
  // must outlive it.
  std::unique_ptr<SequentialFile> NewReader() const;

  // The first offset whose record's timestamp is at or after `timestamp_us`
  // (Kafka's offsets-for-times), by binary search: O(log n) reads.
  // kNotFound when every record is older (or the log is empty).
  absl::StatusOr<uint64_t> OffsetForTime(uint64_t timestamp_us) const;

  // Makes every record appended so far durable. Shares the fdatasync of a
  // group commit in progress.
  absl::Status Sync();
  // Syncs and seals the active segment (its index is truncated, so the next
  // Open is a clean one) and releases the directory lock. Later calls fail
  // with kFailedPrecondition.
  absl::Status Close();

  const RecoveryReport& recovery_report() const { return report_; }
  LogStats GetStats() const;
  const std::string& dir() const { return dir_; }
  // Segments currently in the log, oldest first (for tools and tests).
  std::vector<std::shared_ptr<const Segment>> Segments() const;

 private:
  friend class LogIterator;
  Log(std::string dir, LogOptions options);

  struct Writer;

  absl::Status Recover();
  // Queues *w and runs it in order with the other writers: as a follower it
  // waits for a leader to do its work; as the leader it does the work of the
  // group at the front of the queue. An append that needs no sync, with no
  // writer queued, runs at once as a group of its own without queueing.
  // Returns w's status.
  absl::Status RunWriter(Writer* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The leader's group write: appends the group's batches (rolling as
  // needed) and syncs when any member needs it; with or without mu_ held.
  absl::Status WriteGroup(const std::vector<Writer*>& group, bool sync,
                          Segment* active, bool holding_mu);
  // Waits (reader side) until offset exists, the deadline passes, *cancel is
  // set, or the log closes.
  absl::Status WaitFor(uint64_t offset, absl::Time deadline,
                       const std::atomic<bool>* cancel) const;
  void BackgroundSync();
  absl::Status WriteIntent(const std::string& name, uint64_t value);
  absl::Status RemoveIntent(const std::string& name);
  absl::Status FinishPrefixTruncation(uint64_t first_kept_base)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status DoTruncateSuffix(uint64_t first_removed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // kAborted if a TruncateSuffix after *epoch removed offsets below `next`;
  // otherwise brings *epoch up to date.
  absl::Status CheckTruncationsSince(uint64_t* epoch, uint64_t next) const;
  // Seals `active` and starts a new segment after it; returns the new one.
  // Leader only (see segments_); takes mu_ to publish it unless held.
  absl::StatusOr<std::shared_ptr<Segment>> Roll(Segment& active,
                                                bool holding_mu);
  // Whether a batch of `records` records and `bytes` store bytes must go to a
  // new segment.
  bool NeedsRoll(const Segment& active, uint64_t records, uint64_t bytes) const;
  absl::Status CheckWritable() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Records a write/sync failure as the sticky error and returns it.
  absl::Status Fail(const absl::Status& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Leader only (see last_timestamp_us_).
  uint64_t NextTimestamp();
  // Runs op as an exclusive writer (after every queued append), with mu_.
  absl::Status RunExclusive(const std::function<absl::Status()>& op);
  // The segment holding `offset`, or null.
  std::shared_ptr<Segment> SegmentFor(uint64_t offset) const;

  const std::string dir_;
  const LogOptions options_;
  std::unique_ptr<FileLock> lock_;
  RecoveryReport report_;

  mutable absl::Mutex mu_;
  // Changed only by the writer at the front of writers_ (the leader), under
  // mu_; the leader may read it without mu_, since nobody else changes it.
  std::vector<std::shared_ptr<Segment>> segments_;
  std::deque<Writer*> writers_ ABSL_GUARDED_BY(mu_);
  std::vector<Writer*> group_;  // the leader's current group (leader only)
  absl::Status sticky_error_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;  // the sync thread must exit
  uint64_t unsynced_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  LogStats stats_ ABSL_GUARDED_BY(mu_);
  std::thread sync_thread_;  // kInterval only
  // Newest timestamp handed out; used by the leader only.
  uint64_t last_timestamp_us_ = 0;
  // The first offset the last TruncateSuffix removed (see
  // kLastTruncationFileName): records below it are whole.
  std::optional<uint64_t> complete_below_ ABSL_GUARDED_BY(mu_);
  // Suffix truncations, for iterators (LogIterator::Next): a counter and the
  // last kSuffixHistory truncations.
  struct SuffixTruncation {
    uint64_t epoch;
    uint64_t first_removed;
  };
  static constexpr size_t kSuffixHistory = 64;
  std::atomic<uint64_t> suffix_epoch_{0};
  std::deque<SuffixTruncation> suffix_truncations_ ABSL_GUARDED_BY(mu_);
};

}  // namespace blockwal::wal

#endif  // BLOCKWAL_WAL_LOG_H_
