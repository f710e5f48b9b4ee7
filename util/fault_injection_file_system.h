// A FileSystem wrapper for crash and failure tests. It forwards to a base file
// system (usually the in-memory one) and
//   - records every mutating operation (appends with their bytes, syncs,
//     truncations, renames, removals, directory syncs, mapped-region syncs),
//   - knows, per file, what was made durable: the contents as of the file's
//     last Sync (WritableFile::Sync or MappedRegion::Sync), and whether the
//     file's directory entry was made durable by SyncDir,
//   - simulates power loss: DropUnsyncedData() puts every file back to its
//     synced contents; TearUnsyncedData() keeps, per file, the synced contents
//     plus a prefix of what was appended after them, cut at a 512-byte sector
//     boundary (a torn write); DeleteFilesCreatedAfterLastDirSync() removes
//     files whose creation was never made durable,
//   - fails operations on demand: the Nth matching operation from now returns
//     an injected error (EIO or ENOSPC), once or from then on.
//
// Typical crash test:
//   FaultInjectionFileSystem fs(NewMemFileSystem());
//   ... run the workload on &fs ...
//   fs.DropUnsyncedData();     // the machine lost power
//   fs.ResetState();           // "reboot": everything on disk is now synced
//   ... reopen on &fs and check what survived ...
// Open files and mappings must be closed/destroyed before the Drop/Tear calls.
// Thread-safe.
//
// Tracking is lazy: a file counts as synced, and its name as durable, exactly
// as it stands when this object is built (or at ResetState) until it is first
// opened for writing, mapped, truncated, renamed or removed through this
// object. Directories themselves are not tracked: CreateDir/RemoveDir are
// never undone. Only successful operations are recorded in ops(); reads,
// flushes, Close and lock calls are never recorded.
#ifndef BLOCKWAL_UTIL_FAULT_INJECTION_FILE_SYSTEM_H_
#define BLOCKWAL_UTIL_FAULT_INJECTION_FILE_SYSTEM_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "blockwal/util/file_system.h"

namespace blockwal {

inline constexpr uint64_t kSectorSize = 512;

// Kinds of operation, as bits so a failure can target several.
enum FsOp : uint32_t {
  kOpAppend = 1u << 0,
  kOpFlush = 1u << 1,
  kOpSync = 1u << 2,          // WritableFile::Sync
  kOpTruncate = 1u << 3,      // WritableFile::Truncate and TruncateFile
  kOpCreate = 1u << 4,        // NewWritableFile / NewAppendableFile / MapFile
  kOpRename = 1u << 5,
  kOpRemove = 1u << 6,        // RemoveFile / RemoveDir
  kOpSyncDir = 1u << 7,
  kOpMapSync = 1u << 8,       // MappedRegion::Sync
  kOpRead = 1u << 9,          // any read
  kOpExists = 1u << 10,       // FileExists
  kOpAll = 0xffffffffu,
};

struct FsOpRecord {
  FsOp op;
  std::string path;    // for kOpRename, the source
  std::string target;  // for kOpRename, the destination
  uint64_t offset = 0; // kOpAppend: file offset of the data; kOpTruncate: new size
  std::string data;    // kOpAppend: the bytes appended
};

// What a crash at one instant could leave on disk (crash-state enumeration,
// tests/crash). Files are the tracked nodes (inodes); two namespaces say which
// names point at them: `live` if the crash keeps every directory operation
// done so far, `durable` if it loses those not yet made durable by SyncDir.
// A crash keeps, of each file, `synced` plus possibly more: when `current`
// extends `synced`, a prefix of the writes since (their end offsets in
// `write_ends`, ascending, the last possibly torn at a sector boundary);
// otherwise (a truncation or a rewrite since the sync) `synced` or a prefix
// of `current`. Files never touched, in any directory this object has seen
// used, appear with synced == current.
struct CrashSnapshot {
  struct File {
    std::string synced;
    std::string current;
    std::vector<uint64_t> write_ends;
  };
  std::vector<File> files;
  std::map<std::string, size_t> live;     // path -> index into files
  std::map<std::string, size_t> durable;  // path -> index into files
};

class FaultInjectionFileSystem : public FileSystem {
 public:
  explicit FaultInjectionFileSystem(std::unique_ptr<FileSystem> base);
  ~FaultInjectionFileSystem() override;

  // --- failure injection ---
  // The (n+1)-th operation from now whose kind is in `ops` fails with
  // absl::ErrnoToStatus(err, "<path>: injected <op> failure") (so EIO gives
  // kUnknown in this Abseil release, ENOSPC kResourceExhausted); with
  // `sticky`, every later matching operation fails too. The failed operation
  // has no effect (it is not forwarded to the base). n == 0 fails the next
  // matching operation. kOpRead covers RandomAccessFile/SequentialFile::Read;
  // kOpExists covers FileExists (EACCES or EIO there must reach the caller as
  // an error, not as "missing"); WritableFile::Close is never failed.
  void FailAfter(uint32_t ops, uint64_t n, int err, bool sticky = false);
  void ClearFailures();

  // --- crash simulation (call with no file open) ---
  // Every file back to its last synced contents; files never synced become
  // empty.
  absl::Status DropUnsyncedData();
  // Keeps, per file, the synced contents plus the first
  // `keep_fraction`(0..1) of the bytes appended since, rounded down to a
  // sector boundary of the file; the kept part of the last write is "torn".
  // Precisely: with S synced bytes and a current file of C > S bytes that
  // starts with them, the file becomes its first
  // max(S, floor512(S + floor(keep_fraction * (C - S)))) bytes; a file whose
  // current contents do not extend its synced ones is dropped to them.
  absl::Status TearUnsyncedData(double keep_fraction);
  // Makes every tracked name what it was at the last SyncDir of its
  // directory: names created or renamed into place since are removed, and
  // names removed, renamed away or replaced since come back with their
  // synced contents (a rename whose directory was not synced is undone; a
  // rename synced only in the target's directory leaves both names).
  absl::Status DeleteFilesCreatedAfterLastDirSync();
  // Forgets all tracking: what is on the base file system now counts as
  // synced (call after a simulated crash, before reopening).
  void ResetState();

  // --- crash-state enumeration ---
  // Calls `observer` after every recorded operation with what a crash right
  // after it could leave (see CrashSnapshot). The observer runs on the thread
  // that did the operation, with this object's lock held: it must not call
  // into this file system. Pass nullptr to stop. Costs a read of every
  // tracked file per operation.
  void SetCrashObserver(std::function<void(const CrashSnapshot&)> observer);
  // What a crash now could leave.
  CrashSnapshot Snapshot();

  // --- observation ---
  std::vector<FsOpRecord> ops() const;
  void ClearOps();
  uint64_t sync_count() const;  // WritableFile and MappedRegion syncs
  FileSystem* base() const { return base_.get(); }

  // FileSystem:
  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(
      const std::string& path) override;
  absl::StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(
      const std::string& path) override;
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) override;
  absl::StatusOr<std::unique_ptr<SequentialFile>> NewSequentialFile(
      const std::string& path) override;
  absl::StatusOr<std::unique_ptr<MappedRegion>> MapFile(const std::string& path,
                                                        size_t size) override;
  absl::StatusOr<bool> FileExists(const std::string& path) override;
  absl::StatusOr<uint64_t> GetFileSize(const std::string& path) override;
  absl::StatusOr<std::vector<std::string>> GetChildren(
      const std::string& dir) override;
  absl::Status CreateDir(const std::string& dir) override;
  absl::Status RemoveFile(const std::string& path) override;
  absl::Status RemoveDir(const std::string& dir) override;
  absl::Status RenameFile(const std::string& from,
                          const std::string& to) override;
  absl::Status TruncateFile(const std::string& path, uint64_t size) override;
  absl::Status SyncDir(const std::string& dir) override;
  absl::StatusOr<std::unique_ptr<FileLock>> LockFile(
      const std::string& path) override;

  // Used by the file wrappers (util/fault_injection_files.h); not for
  // callers. NoteSynced marks the file's current base contents as synced
  // (without counting a sync).
  absl::Status MaybeFail(FsOp op, const std::string& path);
  void Record(FsOpRecord rec);
  void NoteSynced(const std::string& path);

 private:
  template <typename File>
  friend class FaultWriteFile;
  friend class FaultWritableFile;
  friend class FaultMappedRegion;

  struct Failure {
    uint32_t ops;
    uint64_t remaining;  // matching operations still to pass before failing
    int err;
    bool sticky;
  };
  // A tracked file (an inode): its contents as of its last sync. Names point
  // at nodes in two namespaces, the live one (what the base holds now) and the
  // durable one (what a crash would leave); a rename moves the live name only.
  struct Node {
    std::string synced;
    // Bumped by every change made outside the writer that last synced the
    // node, so that writer knows its incremental bookkeeping is stale.
    uint64_t version = 0;
    // End offsets of the appends since the last sync (CrashSnapshot).
    std::vector<uint64_t> write_ends;
  };

  // A file opened for writing or mapped: its node, and an independent handle
  // on the same base file to read back what a sync made durable.
  struct WriteTarget {
    std::shared_ptr<Node> node;
    std::unique_ptr<RandomAccessFile> reader;
  };

  // Starts tracking `path` if it is not tracked yet: an existing file's
  // current contents count as synced and its name as durable; a missing file
  // (when `create`) gets an empty node and a name that is not durable yet.
  // Returns nullptr when the file does not exist and !create.
  std::shared_ptr<Node> TrackLocked(const std::string& path, bool create)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status MaybeFailLocked(FsOp op, const std::string& path)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RecordLocked(FsOpRecord rec) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Puts every live tracked file back to `keep(current, synced)`.
  template <typename KeepFn>
  absl::Status RewriteTrackedFiles(KeepFn keep);
  CrashSnapshot SnapshotLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Opens a writable file through the base and starts tracking it.
  absl::StatusOr<std::unique_ptr<WritableFile>> OpenWritable(
      const std::string& path, bool truncate);
  // What opening a file for writing and mapping it share (a kOpCreate,
  // failed on demand): starts tracking `path`, calls `open_base` to open it
  // on the base (a failure forgets a path tracked only for it) and returns
  // what the file wrapper needs.
  absl::StatusOr<WriteTarget> OpenTrackedLocked(
      const std::string& path, absl::FunctionRef<absl::Status()> open_base)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After a successful sync through a file wrapper: the node's synced
  // contents become their first `keep` bytes followed by the file from
  // there, and the sync is counted and recorded as `op`.
  absl::Status NoteSyncLocked(const WriteTarget& target, uint64_t keep,
                              FsOp op, const std::string& path)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::unique_ptr<FileSystem> base_;
  mutable absl::Mutex mu_;
  std::vector<Failure> failures_ ABSL_GUARDED_BY(mu_);
  std::vector<FsOpRecord> ops_ ABSL_GUARDED_BY(mu_);
  std::function<void(const CrashSnapshot&)> crash_observer_ ABSL_GUARDED_BY(mu_);
  // Every directory a path passed through this object was in (or that was
  // listed, created or locked in): where a snapshot looks for untouched files.
  absl::flat_hash_set<std::string> known_dirs_ ABSL_GUARDED_BY(mu_);
  void NoteDir(const std::string& dir) ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t sync_count_ ABSL_GUARDED_BY(mu_) = 0;
  // Live names of tracked files. A file never touched since tracking began is
  // absent: its contents and name count as durable as they are.
  absl::flat_hash_map<std::string, std::shared_ptr<Node>> live_
      ABSL_GUARDED_BY(mu_);
  // Durable names of tracked paths; nullptr: the name durably does not exist.
  absl::flat_hash_map<std::string, std::shared_ptr<Node>> durable_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace blockwal

#endif  // BLOCKWAL_UTIL_FAULT_INJECTION_FILE_SYSTEM_H_
