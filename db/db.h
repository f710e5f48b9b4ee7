// blockwal's toy key-value store: an ordered in-memory map (db/memtable.h)
// made durable by a write-ahead log (wal/log.h), over the newest checkpoint
// (db/checkpoint.h), a sorted file read lazily. docs/kv.md describes the
// design and its crash safety.
//
//   db::Options options;                       // sync on: every write durable
//   auto store = db::DB::Open("/data/kv", options).value();
//   absl::Status s = store->Put("apple", "red");
//   absl::StatusOr<std::string> v = store->Get("apple");   // "red"
//   db::WriteBatch batch;
//   batch.Put("pear", "green");
//   batch.Delete("apple");
//   s = store->Write(batch);                   // both or neither, even on crash
//
// Directory contents:
//   wal/                      the WAL (a wal::Log); each record is one encoded
//                             WriteBatch, and its offset is the batch's sequence
//                             number
//   CHECKPOINT-<20 digits N>  snapshot of every WAL record below offset N
//   LOCK                      flock'ed while a DB has the directory open
//
// Thread safety: every method may be called concurrently. Concurrent writers
// queue; the one at the front appends the queued batches as one
// Log::AppendBatch (one write and, with sync on, one fdatasync: group commit,
// as LevelDB does it) and applies them to the memtable in WAL offset order,
// so the memtable always equals a replay of a WAL prefix. A group is written
// all or nothing (a crash keeps every batch of it or none; none of them was
// acknowledged before all were durable). A write is visible to Get/Scan once
// Write has returned (or slightly before).
//
// Errors: a failed WAL append or sync is sticky (as in wal::Log): every later
// write fails with it (kFailedPrecondition naming it); reads keep working.
// Reopen to recover. One exception, a full disk (below).
//
// A full disk: when a WAL write found no space (wal::WriteFailure::kNoSpace:
// ENOSPC from a write, a segment's creation, an index's reservation or a
// truncation's intent file, never from a sync), the writes of the failed
// group return that kResourceExhausted error naming the file; they are not
// applied and are never in the WAL later. Reads keep working; Checkpoint
// returns kResourceExhausted and Sync kFailedPrecondition until writes
// resume. The next Write resumes them (RocksDB recovers from a no-space
// error in the same spirit): its writer, at the front of the queue and so
// the only one to touch the WAL, waits for a running Checkpoint, Sync or
// GetStats to finish (they hold the WAL shared), closes the WAL (what it
// still buffered is written if it now fits: a write, never a sync) and
// reopens it, which cuts the partial record. The reopened WAL must end at the
// memtable's next_apply_: records of the failed group found whole past it
// (never acknowledged) are removed with TruncateSuffix. Then this writer and
// those queued behind it go on in order. If the disk is still full, its write
// fails with the disk-full error and the next one tries again (each try is a
// WAL reopen, counted in Stats::wal_reopens).
// Nothing acknowledged is lost: with sync on, every acknowledged write was
// fdatasync'ed before the failure. With sync off, writes acknowledged while
// still in the WAL's user-space buffer reach the file only if the close can
// write them; if it cannot (the disk still full), the reopened WAL ends before
// them and writes stop for good: kFailedPrecondition naming the offsets lost
// (reopening the store goes on without them, as after a power loss). A failed
// sync, a truncation that failed once it had started, or damage the recovery
// mode refuses (kAbsoluteConsistency refuses the cut partial record) is
// sticky as above.
#ifndef BLOCKWAL_DB_DB_H_
#define BLOCKWAL_DB_DB_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "blockwal/db/checkpoint_info.h"
#include "blockwal/db/write_batch.h"
#include "blockwal/util/file_system.h"
#include "blockwal/wal/log.h"
#include "blockwal/wal/log_options.h"

namespace blockwal::db {

class CheckpointTable;  // db/checkpoint.h
class MemTable;         // db/memtable.h

inline constexpr char kWalDirName[] = "wal";
inline constexpr char kDbLockFileName[] = "LOCK";

// kNotFound, naming dir, unless dir holds a store: a WAL directory or a
// checkpoint (what a read-only open and a repair require).
absl::Status CheckStoreExists(FileSystem* fs, const std::string& dir);

struct Options {
  // true: a write returns only once it is durable
  // (wal::SyncPolicy::kEveryAppend). false: wal::SyncPolicy::kNone; writes
  // reach the disk at Sync(), Checkpoint(), Close() or when the OS writes
  // them back, so a power loss can lose the latest ones (a process crash
  // cannot).
  bool sync = true;
  // All I/O goes through it; must outlive the DB.
  FileSystem* fs = FileSystem::Default();
  // How the WAL treats damage at open (wal/log_options.h). In
  // kSkipAnyCorruptedRecords a batch that does not decode is skipped too.
  wal::RecoveryMode recovery_mode = wal::RecoveryMode::kPointInTime;
  // Checkpoint automatically once the WAL holds this many bytes of batches
  // written since the last checkpoint (0: never).
  uint64_t auto_checkpoint_bytes = 0;
  bool create_if_missing = true;  // ignored when read_only
  // Open for reading only (RocksDB's OpenForReadOnly; docs/kv.md): nothing
  // in the directory is written, cut, renamed or deleted, and no lock is
  // taken, so it works while a writer has the store open. The store is then
  // what its files held during Open: the newest checkpoint and a consistent
  // prefix of the WAL (wal::LogOptions::read_only); recovery_mode applies in
  // memory only and damage is reported, never repaired. Writes, Checkpoint
  // and Sync fail with kFailedPrecondition. A directory that holds no store
  // is kNotFound, and nothing is created.
  bool read_only = false;
  // WAL segment size (wal::LogOptions::max_store_bytes): a checkpoint frees
  // whole segments only.
  uint64_t wal_segment_bytes = 64ull << 20;
  // false (the default): Open verifies the checkpoint's trailer, header and
  // index, and each chunk is verified when a read first needs it (damage is
  // then kDataLoss from that read), as LevelDB treats its tables. true: Open
  // also reads and verifies every chunk, so a damaged checkpoint is rejected
  // at Open (falling back to an older one the WAL still continues) at the
  // cost of reading the whole file.
  bool verify_checkpoint_on_open = false;
  // Budget of the cache of decoded checkpoint chunks that point reads keep
  // (db/checkpoint.h); 0 turns it off.
  size_t checkpoint_cache_bytes = kDefaultCheckpointCacheBytes;
  // Receives the WAL's warnings and rejected checkpoints (may be empty).
  std::function<void(const std::string&)> warning_sink;
};

// What DB::Open found and did.
struct RecoveryReport {
  // The checkpoint loaded; empty path when none was.
  std::string checkpoint_path;
  uint64_t checkpoint_offset = 0;  // it covers WAL records below this offset
  uint64_t checkpoint_keys = 0;
  // Newer checkpoints that were damaged and skipped: "<path>: <reason>".
  std::vector<std::string> checkpoints_rejected;
  // The WAL after its own recovery.
  uint64_t wal_segments = 0;
  uint64_t wal_first_offset = 0;
  uint64_t wal_next_offset = 0;
  // Batches replayed on top of the checkpoint and their encoded bytes.
  uint64_t records_replayed = 0;
  uint64_t bytes_replayed = 0;
  // kSkipAnyCorruptedRecords: records skipped (damaged, or not a batch).
  uint64_t records_skipped = 0;
  // From the WAL's report: bytes of a torn last write cut, batches cut off by
  // the crash, and damaged regions found.
  uint64_t torn_bytes_cut = 0;
  uint64_t batches_cut = 0;
  std::vector<wal::DamagedRegion> corruption;
  // Keys in the store after recovery (the checkpoint's, adjusted by the
  // replayed batches; counting reads the checkpoint chunks those touch).
  uint64_t keys = 0;
  uint64_t elapsed_us = 0;
  // The WAL's full report.
  wal::RecoveryReport wal;

  // Several "name: value" lines, each ending in '\n'.
  std::string ToString() const;
};

struct Stats {
  uint64_t keys = 0;                // live keys (see RecoveryReport::keys)
  uint64_t checkpoint_keys = 0;     // keys in the checkpoint reads fall to
  uint64_t memtable_entries = 0;    // puts and deletes held in memory
  uint64_t approximate_bytes = 0;   // keys and values in memory
  uint64_t wal_first_offset = 0;
  uint64_t wal_next_offset = 0;
  uint64_t wal_segments = 0;
  uint64_t wal_bytes_since_checkpoint = 0;  // batch bytes appended since
  uint64_t writes = 0;                      // batches written since Open
  // Times the WAL was reopened to resume writes after a full disk since Open
  // (a reopen on a disk still full counts, though its write fails again).
  uint64_t wal_reopens = 0;
  uint64_t checkpoints = 0;                 // written since Open
  std::string last_checkpoint;  // path of the newest checkpoint, or empty
  // The last automatic checkpoint's error (OK if none failed).
  absl::Status auto_checkpoint_status;
};

class DB {
 public:
  // Opens the store in `dir` (created when missing and allowed), recovering it:
  // loads the newest checkpoint that verifies (falling back to older ones),
  // recovers the WAL, checks the WAL continues the checkpoint, replays it.
  // recovery_report() tells what was done.
  // kDataLoss, naming the cause, when the store cannot be recovered whole:
  // the WAL starts after the offset the usable checkpoint covers (records in
  // between are missing, e.g. the only checkpoint that covered them is
  // damaged), or it ends before it, or a WAL record is damaged in a way the
  // recovery mode does not accept. kUnavailable when it is open elsewhere.
  static absl::StatusOr<std::unique_ptr<DB>> Open(const std::string& dir,
                                                  Options options);
  DB(const DB&) = delete;
  DB& operator=(const DB&) = delete;
  ~DB();  // Close(), ignoring errors.

  absl::Status Put(absl::string_view key, absl::string_view value);
  absl::Status Delete(absl::string_view key);
  // Applies every op of the batch, in order, atomically: one WAL record, so
  // a crash keeps all of it or none. An empty batch does nothing.
  absl::Status Write(const WriteBatch& batch);

  // kNotFound when the key is absent. Reads look in the memtable, then in
  // the one being checkpointed (if any), then in the checkpoint file;
  // kDataLoss when the checkpoint chunk that would hold the key is damaged.
  absl::StatusOr<std::string> Get(absl::string_view key) const;
  // Pairs with start <= key < limit in key order (empty limit: to the end).
  // kDataLoss when a checkpoint chunk in the range is damaged.
  absl::StatusOr<std::vector<KeyValue>> Scan(absl::string_view start,
                                             absl::string_view limit) const;
  absl::StatusOr<std::vector<KeyValue>> ScanPrefix(
      absl::string_view prefix) const;

  // Writes a checkpoint of everything written so far (the memtable merged
  // with the previous checkpoint), then removes the WAL segments it covers
  // and the older checkpoints. Crash-safe at every step (docs/kv.md). One at
  // a time; writes and reads continue meanwhile (the memtable is frozen and a
  // fresh one takes new writes, which go to the WAL after the checkpoint's
  // offset).
  absl::StatusOr<CheckpointInfo> Checkpoint();
  // Makes every write so far durable (useful with sync off).
  absl::Status Sync();
  // Syncs and closes the WAL; later writes fail with kFailedPrecondition.
  absl::Status Close();

  const RecoveryReport& recovery_report() const { return report_; }
  // kDataLoss when counting the keys meets a damaged checkpoint chunk.
  absl::StatusOr<Stats> GetStats() const;
  const std::string& dir() const { return dir_; }

 private:
  DB(std::string dir, Options options);

  absl::Status Recover();
  // Refuses writes to a read-only or closed store, or one with a sticky
  // error.
  absl::Status CheckWritable() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Checks that the WAL continues the checkpoint covering offsets below
  // replay_from (gap_context says which, for the error) and replays it from
  // there onto `table`, which becomes *out.
  absl::Status ReplayWal(MemTable table, uint64_t replay_from,
                         const std::string& gap_context, MemTable* out)
      ABSL_SHARED_LOCKS_REQUIRED(log_mu_);
  // Removes every checkpoint except CHECKPOINT-<keep>.
  absl::Status RemoveCheckpointsExcept(uint64_t keep);
  // A Write waiting in writers_.
  struct PendingWrite {
    const WriteBatch* batch = nullptr;
    bool front = false;  // at the front of writers_: leads the next group
    bool done = false;   // its group has been written (status says how)
    absl::Status status;
  };
  // Most batches in one write group (the writers a leader appends at once).
  static constexpr size_t kMaxGroupBatches = 1024;

  // Makes a failure of the WAL the sticky write error, unless there is one
  // (or the WAL did not fail: kNone): resumable after a full disk.
  void SetWriteErrorLocked(const absl::Status& s, wal::WriteFailure failure)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Returns s, a Checkpoint's call of the WAL; on failure first notes the
  // WAL's failure as the write error (so the next Write resumes after a full
  // disk at once).
  absl::Status CheckpointWalStep(absl::Status s) ABSL_SHARED_LOCKS_REQUIRED(log_mu_)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The leader (front of writers_) after a full disk: reopens the WAL and
  // trims it to next_apply_ (see "A full disk" above). OK clears error_; a
  // disk still full (kResourceExhausted) leaves it resumable; anything else
  // makes it sticky. Returns with mu_ held (released meanwhile).
  absl::Status ResumeWritesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Its work, without mu_: the WAL closed, reopened and trimmed to
  // `applied`, or the error.
  absl::StatusOr<std::unique_ptr<wal::Log>> ReopenWal(uint64_t applied)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(log_mu_);
  // Puts imm_'s entries back under mem_ (newer entries win) after a failed
  // Checkpoint.
  void UnfreezeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies one batch to the memtable; it is the one at next_apply_.
  void ApplyLocked(const WriteBatch& batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Write's steps, taken by the writer at the front of writers_. Fails every
  // queued writer with s.
  void FailQueuedLocked(const absl::Status& s)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Appends the batches of the writers at the front of writers_ (a group
  // within max_group_batches_ and max_group_bytes_) as one AppendBatch,
  // applies them or hands each writer the error, and makes the next writer
  // the front. Releases mu_ meanwhile.
  void CommitGroupLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The group's AppendBatch, without mu_ (released meanwhile): its offset, or
  // the error, which becomes the sticky write error.
  absl::StatusOr<uint64_t> AppendGroupLocked(
      absl::Span<const absl::string_view> group)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // True when the WAL holds auto_checkpoint_bytes since the last checkpoint
  // and no automatic checkpoint runs: one is then marked running, for
  // RunAutoCheckpoint.
  bool StartAutoCheckpointLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The automatic checkpoint; its error goes to Stats and the warning sink.
  void RunAutoCheckpoint() ABSL_LOCKS_EXCLUDED(mu_);

  const std::string dir_;
  const Options options_;
  std::unique_ptr<FileLock> lock_;
  RecoveryReport report_;          // set by Open, then never changed
  wal::LogOptions log_options_;    // set by Open, then never changed

  // Lock order: checkpoint_mu_, log_mu_, mu_.
  absl::Mutex checkpoint_mu_;  // one Checkpoint at a time
  // Held shared by every use of log_ (a write group's append, Checkpoint,
  // Sync, GetStats, Close), exclusively to replace it (ResumeWritesLocked).
  mutable absl::Mutex log_mu_;
  // Set by Open; replaced only when writes resume after a full disk. Null
  // only while error_ is set (a reopen failed).
  std::unique_ptr<wal::Log> log_ ABSL_GUARDED_BY(log_mu_);
  mutable absl::Mutex mu_;
  // Newest first: mem_ takes writes; imm_ is the memtable a running
  // Checkpoint is writing out (frozen, read without mu_); base_ is the
  // checkpoint loaded or last written (immutable). Readers copy the
  // pointers under mu_ and read imm_ and base_ after releasing it.
  std::unique_ptr<MemTable> mem_ ABSL_GUARDED_BY(mu_);  // never null
  std::shared_ptr<const MemTable> imm_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const CheckpointTable> base_ ABSL_GUARDED_BY(mu_);
  // The WAL offset of the next batch to apply: the memtable holds the
  // effect of every record below it.
  uint64_t next_apply_ ABSL_GUARDED_BY(mu_) = 0;
  // Writers in arrival order; the front one leads the next group.
  std::deque<PendingWrite*> writers_ ABSL_GUARDED_BY(mu_);
  size_t max_group_batches_ = 1;  // set by Open, then never changed
  size_t max_group_bytes_ = 0;    // set by Open, then never changed
  absl::Status error_ ABSL_GUARDED_BY(mu_);  // sticky write error
  // error_ is a full disk met by a WAL write: the next Write resumes.
  bool error_resumable_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t wal_reopens_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool auto_checkpoint_running_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t bytes_since_checkpoint_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t writes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t checkpoints_ ABSL_GUARDED_BY(mu_) = 0;
  std::string last_checkpoint_ ABSL_GUARDED_BY(mu_);
  absl::Status auto_checkpoint_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace blockwal::db

#endif  // BLOCKWAL_DB_DB_H_
