// A raft server's durable state in one directory, behind a synchronous API:
// the raft log (a wal::Log), the current term and vote (raft/term_vote.h) and
// the snapshots (raft/snapshot_file.h). raft_io's disk half
// (raft/disk_io.h) is built on it.
//
// Directory:
//   DIR/log/                      the raft log: a wal::Log created with
//                                 initial_offset 1; a record's offset is the
//                                 entry's raft index, its value the entry
//                                 (raft/entry_codec.h)
//   DIR/term_vote.0, .1           term and vote
//   DIR/snapshot-<index>-<term>   snapshots, the newest two kept
//
// Every offset the log hands back (the first offset of an append, the offset
// of each record read) is checked against the index this store expects; a
// mismatch is an error naming both (kInternal for an append, kDataLoss for a
// read), never silently accepted.
//
// Errors are sticky: after any failed write (log, term/vote or snapshot) every
// later write returns the first error; reopening recovers the durable state.
//
// Thread safety: Append, Truncate and SnapshotPut may run on one thread (a
// writer) while SetTerm, SetVote and SnapshotGet run on another; Load and
// Bootstrap run before either starts. Two calls of the same group must not
// overlap.
#ifndef BLOCKWAL_RAFT_LOG_STORE_H_
#define BLOCKWAL_RAFT_LOG_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "blockwal/raft/raft_c.h"
#include "blockwal/raft/snapshot_file.h"
#include "blockwal/raft/term_vote.h"
#include "blockwal/util/file_system.h"
#include "blockwal/wal/log.h"

namespace blockwal::raft {

// The log's subdirectory.
inline constexpr char kRaftLogDirName[] = "log";

// An entry to append: its bytes are the caller's, read during Append only.
struct EntryRef {
  uint64_t term = 0;
  uint8_t type = RAFT_COMMAND;
  absl::string_view payload;
};

// An entry read back by Load.
struct StoredEntry {
  uint64_t term = 0;
  uint8_t type = RAFT_COMMAND;
  std::string payload;
  friend bool operator==(const StoredEntry&, const StoredEntry&) = default;
};

// What Load found (after reconciling the log with the snapshot).
struct LoadedState {
  TermVote term_vote;
  std::optional<LoadedSnapshot> snapshot;
  std::vector<SnapshotDamage> damaged_snapshots;  // skipped, newest first
  // The index of entries[0] (>= 1). With a snapshot it is at most
  // snapshot index + 1: the log may keep entries the snapshot covers (the
  // trailing ones); without one it is 1.
  uint64_t start_index = 1;
  std::vector<StoredEntry> entries;
  // What reconciling did, for logs ("" when nothing): e.g. "log ended at 7,
  // before snapshot index 9: reset to 10".
  std::string reconciled;
};

struct LogStoreOptions {
  FileSystem* fs = FileSystem::Default();
  // Passed to the wal::Log (tests use small segments).
  uint64_t max_store_bytes = 64ull << 20;
  uint64_t max_index_bytes = 10ull << 20;
};

class LogStore {
 public:
  // Opens (creating when missing) the store in `dir`: the directory, the log
  // (recovered by wal::Log::Open) and the term/vote files. Reads nothing
  // else; Load reconciles.
  static absl::StatusOr<std::unique_ptr<LogStore>> Open(
      const std::string& dir, const LogStoreOptions& options = {});
  ~LogStore();

  LogStore(const LogStore&) = delete;
  LogStore& operator=(const LogStore&) = delete;

  // Loads everything (see LoadedState). Reconciles first: with a snapshot at
  // (I, T), when the log ends before I, or holds an entry at I whose term is
  // not T (a crash between installing a leader's snapshot and dropping the
  // log), the log is Reset to I + 1. A log whose first entry (or, when
  // empty, next index) is beyond I + 1 leaves a gap: kDataLoss naming the
  // snapshot file and the log's range. Without a snapshot a log not starting
  // at index 1 is kDataLoss too. Damaged entries are kDataLoss naming the log
  // and the offset.
  absl::StatusOr<LoadedState> Load();

  // Writes entry 1 {term 1, RAFT_CHANGE, raft_configuration_encode(conf)}
  // durably, then term 1 with no vote. kFailedPrecondition ("... has state:
  // ...") when the term is not 0, a snapshot file exists or the log holds an
  // entry.
  absl::Status Bootstrap(const struct raft_configuration& conf);

  // Appends {term, RAFT_CHANGE, raft_configuration_encode(conf)} (its
  // padding zeroed) as Append does; returns its index. For bootstrap and
  // raft_recover.
  absl::StatusOr<uint64_t> AppendConfiguration(
      uint64_t term, const struct raft_configuration& conf);

  // Durable before returning. SetTerm clears the vote.
  absl::Status SetTerm(uint64_t term);
  absl::Status SetVote(uint64_t vote);
  const TermVote& term_vote() const { return term_vote_->current(); }

  // Appends the entries at next_index() onwards as one batch and syncs;
  // returns the first index once they are durable. No entries: returns
  // next_index() and writes nothing.
  absl::StatusOr<uint64_t> Append(absl::Span<const EntryRef> entries);
  // Removes the entries at and after `index` (durably: crash-safe, the next
  // append gets `index`). An index at or after next_index() changes nothing.
  // kOutOfRange when entries before `index` were already removed.
  absl::Status Truncate(uint64_t index);
  // Persists the snapshot (`data` concatenated), then:
  //   trailing > 0: removes log entries up to meta.index - trailing (whole
  //     segments only, so some may stay);
  //   trailing == 0: drops the whole log; the next append gets meta.index + 1.
  absl::Status SnapshotPut(unsigned trailing, const SnapshotMeta& meta,
                           absl::Span<const absl::string_view> data);
  // The newest valid snapshot (nullopt: none).
  absl::StatusOr<std::optional<LoadedSnapshot>> SnapshotGet();

  // The index the next Append gets.
  uint64_t next_index() const;
  // The first error of a write (OK while none failed).
  absl::Status status() const;
  const std::string& dir() const { return dir_; }

 private:
  LogStore(std::string dir, FileSystem* fs) : dir_(std::move(dir)), fs_(fs) {}

  // Brings the log in line with the snapshot (see Load).
  absl::Status Reconcile(const LoadedSnapshot* snapshot, std::string* what);
  // Reads every entry of the log into *state.
  absl::Status ReadEntries(LoadedState* state);
  // The term of the entry at `index` (which must be in the log).
  absl::StatusOr<uint64_t> TermAt(uint64_t index);
  // Records s as the sticky error (unless one is recorded); returns s.
  absl::Status Fail(absl::Status s);
  absl::Status CheckWritable() const;
  // "raft log DIR/log offset N"
  std::string Where(uint64_t offset) const;

  const std::string dir_;
  FileSystem* const fs_;
  std::unique_ptr<wal::Log> log_;
  std::unique_ptr<TermVoteStore> term_vote_;
  mutable absl::Mutex mu_;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  uint64_t next_index_ ABSL_GUARDED_BY(mu_) = 1;
  // Serializes snapshot puts (writer) with snapshot gets (another thread).
  absl::Mutex snapshot_mu_;
};

}  // namespace blockwal::raft

#endif  // BLOCKWAL_RAFT_LOG_STORE_H_
