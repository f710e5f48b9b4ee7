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
//   RESET                        intent of an interrupted Reset (the next
//                                offset), finished by the next Open
//   LAST_TRUNCATION              the offset the last TruncateSuffix kept
// Anything else is ignored with a warning.
//
// Thread safety: all methods may be called concurrently. Appends, syncs,
// truncations and Resets are totally ordered through one queue: the appender
// at its front writes the queued appends as one group, with one write and
// (when any of them needs it) one fdatasync, and wakes the others (group
// commit). Read,
// iterators and byte readers run alongside, also while a group syncs or rolls
// to a new segment (neither holds them up), and see a record once its group
// has written it, which can be before it is durable (under
// SyncPolicy::kEveryAppend, before its Append has returned). Files of
// segments removed by a truncation or a Reset stay readable by readers that
// hold them.
//
// Errors: a failed write or sync is sticky: every later Append, AppendBatch,
// Sync, truncation and Reset returns it (kFailedPrecondition naming the first error);
// reads keep working. Reopen to recover the durable prefix. write_failure()
// tells whether the error was a full disk met by a write, after which a
// reopened log continues exactly the records written before it.
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
#include "blockwal/util/file_system.h"
#include "blockwal/util/thread_role.h"
#include "blockwal/wal/log_options.h"
#include "blockwal/wal/record.h"

namespace blockwal::wal {

class Segment;
class Log;
struct LogDirListing;  // wal/log_dir.h
class RepairAccess;  // wal/repair.cc

// Names of the log's files besides its segments (see the directory contents
// above).
inline constexpr char kLockFileName[] = "LOCK";
inline constexpr char kPrefixIntentFileName[] = "TRUNCATE_PREFIX";
inline constexpr char kSuffixIntentFileName[] = "TRUNCATE_SUFFIX";
// The intent of a Reset: the offset the emptied log continues at.
inline constexpr char kResetIntentFileName[] = "RESET";
// Where the last TruncateSuffix ended the log (the committed intent, holding
// the first offset it removed): records below it are whole even if a batch was
// cut there.
inline constexpr char kLastTruncationFileName[] = "LAST_TRUNCATION";
// An intent is written under this suffix, then renamed into place.
inline constexpr char kTempFileSuffix[] = ".tmp";

// Why a log turned read-only (Log::write_failure()).
enum class WriteFailure {
  kNone,  // it has not: the log is writable (or was closed cleanly)
  // A write of the store, the creation of a segment's files, the
  // reservation of an index's blocks, or the write of a truncation's intent
  // file (before the truncation changed anything) found the file system full
  // (ENOSPC: kResourceExhausted), and no sync failed. Every byte the log handed to the
  // file system before is in its files, so once space is free a reopened log
  // holds every record written before the failure (the partial one cut, a
  // batch whole or not at all) and can be appended to again.
  kNoSpace,
  // Anything else, including every failed sync (fdatasync, msync, a
  // directory's fsync, for lack of space too) and any failure of a
  // truncation: nothing may be assumed about what reached the disk.
  kOther,
};

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
  // Drops every record of the log (all its segments) and makes the next
  // Append get `next_offset`, which may be below, at or above NextOffset()
  // (a Raft log store installing a leader's snapshot: its index + 1).
  // Afterwards LowestOffset() == NextOffset() == next_offset, also after a
  // reopen before anything is appended (the log is one empty segment based
  // at next_offset). Ordered with appends and truncations as they are with
  // each other: appends queued before it are dropped with the rest.
  // Crash-safe: the intent (kResetIntentFileName) is durable before anything
  // is removed, so after a crash Open finds either the old log unchanged or
  // the empty log at next_offset, never a mixture; once the intent is in
  // place no record survives. Readers: Read of a dropped offset is
  // kOutOfRange; an iterator whose next offset is below next_offset fails
  // with kOutOfRange (as after TruncatePrefix), one above it with kAborted
  // (the offsets it read may be reused, as after TruncateSuffix), one at it
  // reads the new records. Any next_offset is valid, 0 included (as for
  // LogOptions::initial_offset). kFailedPrecondition on a read-only, closed or failed log (the sticky
  // error, as for the truncations). A failure once the intent is in place
  // makes the log read-only (sticky error); the next Open finishes the reset.
  absl::Status Reset(uint64_t next_offset);

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
  // Why the log is read-only; kNone while it is not.
  WriteFailure write_failure() const;
  LogStats GetStats() const;
  const std::string& dir() const { return dir_; }
  // Segments currently in the log, oldest first (for tools and tests).
  std::vector<std::shared_ptr<const Segment>> Segments() const;

 private:
  friend class LogIterator;
  friend class RepairAccess;
  Log(std::string dir, LogOptions options);

  // Open with the directory's LOCK already held by the caller (`lock`, which
  // the Log releases at Close); null takes it as Open does. For RepairLog
  // (wal/repair.h), which holds the lock from its backup to its verification.
  static absl::StatusOr<std::unique_ptr<Log>> OpenWithLock(
      const std::string& dir, LogOptions options, std::unique_ptr<FileLock> lock);

  struct Writer;
  struct GroupWrite;

  // Open's recovery (wal/log_recover.cc): LockAndList, SortOutFiles,
  // OpenSegments, then the suffix intent.
  absl::Status Recover();
  // Creates the directory when allowed, takes the lock (unless read-only or
  // held) and lists the directory.
  absl::StatusOr<LogDirListing> LockAndList();
  // Removes void files, warns of strays, finishes an interrupted prefix
  // truncation and removes indexes without a store (a read-only open only
  // leaves out what it would remove); updates *listing to match.
  absl::Status SortOutFiles(LogDirListing* listing);
  absl::Status FinishPrefixIntent(LogDirListing* listing);
  // Reads the RESET intent and finishes the Reset a crash interrupted
  // (wal/log_reset.cc): removes every segment file and the other truncation
  // files (a read-only open only leaves them out), updating *listing to
  // match. Returns the offset the empty log starts at.
  absl::StatusOr<uint64_t> FinishResetIntent(LogDirListing* listing);
  // Plans every segment, checks that their offsets chain up, then applies
  // the plans (or creates the first segment of an empty log, at
  // `empty_base`).
  absl::Status OpenSegments(const std::vector<uint64_t>& stores,
                            uint64_t empty_base)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_, leader_);
  // Finishes the suffix truncation a crash interrupted (a read-only open
  // hides the offsets instead).
  absl::Status FinishSuffixIntent(uint64_t first_removed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_, leader_);
  // A read-only open's DoTruncateSuffix: hides offsets from first_removed on
  // from this object, changing no file.
  void HideSuffix(uint64_t first_removed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_, leader_);
  // Queues *w and runs it in order with the other writers: as a follower it
  // waits for a leader to do its work; as the leader it does the work of the
  // group at the front of the queue. An append that needs neither a sync nor
  // a new segment, with no writer queued, runs at once as a group of its own
  // without queueing. Returns w's status.
  absl::Status RunWriter(Writer* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Fills group_ with the queued appends and syncs from the front of
  // writers_, up to an exclusive operation or max_group_bytes; returns their
  // store bytes and sets *sync when the group must end with an fdatasync.
  uint64_t TakeGroup(bool* sync) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_, leader_);
  // Writes group_: appends its batches (rolling as needed) and syncs when
  // `sync`. The fdatasync and any roll run without mu_ (it is released and
  // retaken), so readers and new writers are not held up by them.
  absl::Status WriteGroup(bool sync) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_, leader_);
  // Appends g's batches from g->next on to g->active, stopping before the
  // first that needs a new segment. Needs no mu_ (nor holds it against).
  absl::Status AppendUntilRoll(GroupWrite* g)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(leader_);
  // The rest of g without mu_: rolls and appends until every batch is
  // written, then the fdatasync when g->sync.
  absl::Status FinishGroupUnlocked(GroupWrite* g) ABSL_LOCKS_EXCLUDED(mu_)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(leader_);
  // Waits (reader side) until offset exists, the deadline passes, *cancel is
  // set, or the log closes.
  absl::Status WaitFor(uint64_t offset, absl::Time deadline,
                       const std::atomic<bool>* cancel) const;
  void BackgroundSync();
  absl::Status WriteIntent(const std::string& name, uint64_t value)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(leader_);
  absl::Status RemoveIntent(const std::string& name);
  absl::Status FinishPrefixTruncation(uint64_t first_kept_base)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_, leader_);
  absl::Status DoTruncateSuffix(uint64_t first_removed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_, leader_);
  // Reset's work once its intent is in place: removes every segment, starts
  // the empty one at next_offset and removes the intent.
  absl::Status DoReset(uint64_t next_offset)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_, leader_);
  // Tells iterators that offsets from first_removed on may now hold other
  // records (see CheckTruncationsSince).
  void NoteSuffixRemoved(uint64_t first_removed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // kAborted if a TruncateSuffix after *epoch removed offsets below `next`;
  // otherwise brings *epoch up to date.
  absl::Status CheckTruncationsSince(uint64_t* epoch, uint64_t next) const;
  // Seals `active` (the last segment) and starts a new segment after it;
  // returns the new one, which is in segments_ from then on. Roll does the
  // I/O without mu_ and takes it to publish the segment; RollLocked, for
  // exclusive operations, does everything under mu_.
  absl::StatusOr<std::shared_ptr<Segment>> Roll(Segment& active)
      ABSL_LOCKS_EXCLUDED(mu_) ABSL_EXCLUSIVE_LOCKS_REQUIRED(leader_);
  absl::StatusOr<std::shared_ptr<Segment>> RollLocked(Segment& active)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_, leader_);
  // Roll's I/O: seals `active` and creates the next segment's files,
  // durably, without publishing it.
  absl::StatusOr<std::shared_ptr<Segment>> SealAndCreateNext(Segment& active)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(leader_);
  void PublishRolled(std::shared_ptr<Segment> seg)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_, leader_);
  // Whether a batch of `records` records and `bytes` store bytes must go to a
  // new segment.
  bool NeedsRoll(const Segment& active, uint64_t records, uint64_t bytes) const;
  // Whether a group of appends of `bytes` store bytes needs a sync besides
  // the ones its members ask for (kInterval's sync_interval_bytes).
  bool NeedsIntervalSync(uint64_t bytes) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::Status CheckWritable() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Record a failure as the sticky error (unless there is one; OK is no
  // failure). FailWrite: of a group write, a roll, a reader's flush or a
  // truncation before its intent is in place (nothing removed yet),
  // classified by the step that failed (see WriteFailure). Fail: of anything else (kOther);
  // returns s.
  void FailWrite(const absl::Status& s)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_, leader_);
  absl::Status Fail(const absl::Status& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Returns s; notes in sync_failed_ when a sync step (a store's fdatasync,
  // a seal, a directory sync) failed.
  absl::Status SyncStep(absl::Status s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(leader_);
  uint64_t NextTimestamp() ABSL_EXCLUSIVE_LOCKS_REQUIRED(leader_);
  // Runs op as an exclusive writer (after every queued append), with mu_
  // held and as the leader. The analysis cannot follow the call through
  // std::function: op begins with mu_.AssertHeld() and leader_.AssertHeld().
  absl::Status RunExclusive(const std::function<absl::Status()>& op)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The segment holding `offset`, or null.
  std::shared_ptr<Segment> SegmentFor(uint64_t offset) const;

  const std::string dir_;
  const LogOptions options_;
  std::unique_ptr<FileLock> lock_;
  RecoveryReport report_;

  mutable absl::Mutex mu_;
  // The leader: the writer at the front of writers_ (or a lone append, see
  // RunWriter) from the moment it takes its turn until its group is done and
  // popped; or Recover, before the log is shared. It alone appends, rolls,
  // truncates and changes segments_, and it may work without mu_.
  ThreadRole leader_;
  // Changed only by the leader, under mu_ (the functions that change it
  // require leader_ too). While the leader works without mu_ it keeps a
  // pointer to the last segment: nobody else can remove it meanwhile.
  std::vector<std::shared_ptr<Segment>> segments_ ABSL_GUARDED_BY(mu_);
  std::deque<Writer*> writers_ ABSL_GUARDED_BY(mu_);
  // The leader's current group, reused so a group allocates nothing.
  std::vector<Writer*> group_ ABSL_GUARDED_BY(leader_);
  // A sync step of the leader's work failed: the failure is never kNoSpace
  // (see WriteFailure); the log is read-only from then on.
  bool sync_failed_ ABSL_GUARDED_BY(leader_) = false;
  absl::Status sticky_error_ ABSL_GUARDED_BY(mu_);
  WriteFailure write_failure_ ABSL_GUARDED_BY(mu_) = WriteFailure::kNone;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;  // the sync thread must exit
  uint64_t unsynced_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  LogStats stats_ ABSL_GUARDED_BY(mu_);
  std::thread sync_thread_;  // kInterval only
  // Newest timestamp handed out.
  uint64_t last_timestamp_us_ ABSL_GUARDED_BY(leader_) = 0;
  // The first offset the last TruncateSuffix removed (see
  // kLastTruncationFileName): records below it are whole.
  std::optional<uint64_t> complete_below_ ABSL_GUARDED_BY(mu_);
  // Suffix truncations (and Resets below the next offset), for iterators
  // (LogIterator::Next): a counter and the last kSuffixHistory of them.
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
