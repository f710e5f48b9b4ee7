// The file-system abstraction every blockwal layer does its I/O through, so
// tests can run on memory and inject crashes and failures (see
// util/mem_file_system.h and util/fault_injection_file_system.h).
//
// Errors: every failure is an absl::Status whose message names the file (and
// the position, where there is one) and the system's error text. Codes follow
// absl::ErrnoToStatusCode for system errors (ENOENT -> kNotFound,
// ENOSPC -> kResourceExhausted, EIO -> kUnknown, ...); a lock held elsewhere
// is kUnavailable; a read past the end of a file is a short read, not an
// error.
//
// Thread safety: a FileSystem may be used from any number of threads. A file
// object is used by one thread at a time, except RandomAccessFile, whose
// Read is safe to call concurrently.
#ifndef BLOCKWAL_UTIL_FILE_SYSTEM_H_
#define BLOCKWAL_UTIL_FILE_SYSTEM_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace blockwal {

// An append-only file. Appends may be buffered in user space; Flush hands
// them to the operating system and Sync makes everything appended so far
// durable (fdatasync). After a failed Sync nothing may be assumed about what
// reached the disk: callers must treat the error as sticky and never retry
// the sync in the hope that it succeeds.
class WritableFile {
 public:
  WritableFile() = default;
  WritableFile(const WritableFile&) = delete;
  WritableFile& operator=(const WritableFile&) = delete;
  virtual ~WritableFile() = default;  // Closes the file, ignoring errors.

  virtual absl::Status Append(absl::string_view data) = 0;
  virtual absl::Status Flush() = 0;
  virtual absl::Status Sync() = 0;  // Flush, then fdatasync.
  // Flushes, then cuts (or zero-extends) the file to `size` bytes; later
  // appends continue at `size`. Not durable until Sync.
  virtual absl::Status Truncate(uint64_t size) = 0;
  // Bytes appended so far, including any still buffered.
  virtual uint64_t Size() const = 0;
  // Flushes and closes; later calls fail with kFailedPrecondition.
  virtual absl::Status Close() = 0;
  virtual const std::string& path() const = 0;
};

// Positional reads. Safe for concurrent use.
class RandomAccessFile {
 public:
  RandomAccessFile() = default;
  RandomAccessFile(const RandomAccessFile&) = delete;
  RandomAccessFile& operator=(const RandomAccessFile&) = delete;
  virtual ~RandomAccessFile() = default;

  // Reads up to n bytes at offset. The result may point into `scratch` (which
  // must hold n bytes) or into memory owned by the file; it stays valid until
  // scratch is reused or the file is destroyed. Fewer than n bytes means the
  // end of the file was reached.
  virtual absl::StatusOr<absl::string_view> Read(uint64_t offset, size_t n,
                                                 char* scratch) const = 0;
  virtual absl::StatusOr<uint64_t> Size() const = 0;
  virtual const std::string& path() const = 0;
};

// Positional reads of a file that grows at its end while it is read (the
// active segment's store). Reads are clipped to the readable size the writer
// publishes with SetReadableSize (bytes the file is known to hold), as if the
// file ended there. Safe for concurrent use.
class AppendingReadFile : public RandomAccessFile {
 public:
  // Raises the readable size to `size` (never lowers it). The bytes must
  // already be in the file.
  void SetReadableSize(uint64_t size) {
    uint64_t cur = readable_.load(std::memory_order_relaxed);
    while (cur < size && !readable_.compare_exchange_weak(
                             cur, size, std::memory_order_release)) {
    }
  }
  // The readable size.
  absl::StatusOr<uint64_t> Size() const final {
    return readable_.load(std::memory_order_acquire);
  }

 protected:
  // How many of the n bytes at `offset` are readable (0 at or past the
  // readable size): what an implementation's Read reads.
  size_t ReadableAt(uint64_t offset, size_t n) const {
    const uint64_t readable = readable_.load(std::memory_order_acquire);
    if (offset >= readable) return 0;
    return static_cast<size_t>(std::min<uint64_t>(n, readable - offset));
  }

 private:
  std::atomic<uint64_t> readable_{0};
};

// Reads from the front of a file. Used by one thread at a time.
class SequentialFile {
 public:
  SequentialFile() = default;
  SequentialFile(const SequentialFile&) = delete;
  SequentialFile& operator=(const SequentialFile&) = delete;
  virtual ~SequentialFile() = default;

  // Reads up to n bytes; the same validity rules as RandomAccessFile::Read.
  // An empty result means end of file.
  virtual absl::StatusOr<absl::string_view> Read(size_t n, char* scratch) = 0;
  // Skips n bytes (may move past the end; later reads then return nothing).
  virtual absl::Status Skip(uint64_t n) = 0;
  virtual const std::string& path() const = 0;
};

// A read-write shared memory mapping of a whole file (the segment index). The
// file is grown (zero-filled) to the mapped size when mapped, and every block
// of the mapped range is reserved then, so a write through data() never needs
// space the file system may not have (on a full disk, a store into a sparse
// page of a shared mapping is a SIGBUS). Writes to data() reach the file as
// mmap writes do: visible to readers of the file at once, durable only after
// Sync.
class MappedRegion {
 public:
  MappedRegion() = default;
  MappedRegion(const MappedRegion&) = delete;
  MappedRegion& operator=(const MappedRegion&) = delete;
  virtual ~MappedRegion() = default;  // Unmaps without syncing.

  virtual char* data() = 0;
  virtual size_t size() const = 0;
  virtual absl::Status Sync() = 0;  // msync(MS_SYNC) of the whole region.
  virtual const std::string& path() const = 0;
};

// An exclusive advisory lock on a file; released when destroyed (or when the
// process dies).
class FileLock {
 public:
  FileLock() = default;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  virtual ~FileLock() = default;
  virtual const std::string& path() const = 0;
};

class FileSystem {
 public:
  FileSystem() = default;
  FileSystem(const FileSystem&) = delete;
  FileSystem& operator=(const FileSystem&) = delete;
  virtual ~FileSystem() = default;

  // The process-wide POSIX file system. Never destroyed.
  static FileSystem* Default();

  // Creates the file, or truncates it if it exists.
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(
      const std::string& path) = 0;
  // Opens the file for appending at its end, creating it if missing.
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(
      const std::string& path) = 0;
  virtual absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) = 0;
  virtual absl::StatusOr<std::unique_ptr<SequentialFile>> NewSequentialFile(
      const std::string& path) = 0;
  // Positional reads of a file that no longer changes (a sealed segment's
  // store). The POSIX file system maps it read-only, so a read is a view into
  // the mapping: no system call, no copy. Reads see the file as it was when
  // opened: past that size they return nothing. The default is
  // NewRandomAccessFile.
  virtual absl::StatusOr<std::unique_ptr<RandomAccessFile>>
  NewReadOnlyMappedFile(const std::string& path) {
    return NewRandomAccessFile(path);
  }
  // Reads of a file that grows at its end (see AppendingReadFile). The POSIX
  // file system maps `reserve_bytes` of it up front, so reads within them are
  // views into the mapping; the default reads through NewRandomAccessFile.
  virtual absl::StatusOr<std::unique_ptr<AppendingReadFile>>
  NewAppendingReadFile(const std::string& path, uint64_t reserve_bytes);
  // Maps the file (created if missing) read-write, first growing it to `size`
  // bytes if it is shorter and reserving the blocks of its first `size` bytes
  // (posix_fallocate: also the holes of a sparse file). A longer file is
  // mapped in its first `size` bytes. No room for them: kResourceExhausted,
  // "<path>: reserve <size> bytes for mapping: No space left on device", and
  // the file keeps its size.
  virtual absl::StatusOr<std::unique_ptr<MappedRegion>> MapFile(
      const std::string& path, size_t size) = 0;

  // Whether something (a file or a directory) exists at path. false only when
  // the path is absent (ENOENT, or ENOTDIR: a component is not a directory);
  // any other failure to tell (EACCES, EIO, ELOOP, ...) is an error naming
  // the path, never read as absence: recovery must not take an index it
  // cannot see for a missing one.
  virtual absl::StatusOr<bool> FileExists(const std::string& path) = 0;
  virtual absl::StatusOr<uint64_t> GetFileSize(const std::string& path) = 0;
  // Names (not paths) of the entries of dir, without "." and "..", sorted.
  virtual absl::StatusOr<std::vector<std::string>> GetChildren(
      const std::string& dir) = 0;
  // Creates dir; succeeds if it already exists as a directory.
  virtual absl::Status CreateDir(const std::string& dir) = 0;
  virtual absl::Status RemoveFile(const std::string& path) = 0;
  virtual absl::Status RemoveDir(const std::string& dir) = 0;
  // Atomically replaces `to` with `from`. Durable after SyncDir of the parent.
  virtual absl::Status RenameFile(const std::string& from,
                                  const std::string& to) = 0;
  // Cuts (or zero-extends) the file to size bytes. Not durable until the file
  // is synced.
  virtual absl::Status TruncateFile(const std::string& path, uint64_t size) = 0;
  // Makes the directory's entries (creations, renames, removals) durable.
  virtual absl::Status SyncDir(const std::string& dir) = 0;
  // Takes an exclusive lock on path (created if missing). A lock held by
  // another process or another FileLock of this process: kUnavailable.
  virtual absl::StatusOr<std::unique_ptr<FileLock>> LockFile(
      const std::string& path) = 0;
};

// Joins a directory and a file name with '/'.
std::string JoinPath(absl::string_view dir, absl::string_view name);
// The directory holding `path`: everything before the last '/', "/" for
// "/name", and "" for a bare name (the current directory).
std::string DirName(const std::string& path);
// Strips trailing slashes so "d/" and "d" name the same directory ("/" stays).
std::string NormalizeDir(const std::string& dir);

// Reads a whole file into a string (for small files: checkpoints, tests).
absl::StatusOr<std::string> ReadFileToString(FileSystem* fs,
                                             const std::string& path);
// Writes data to path (created or truncated) and syncs it when `sync`.
absl::Status WriteStringToFile(FileSystem* fs, absl::string_view data,
                               const std::string& path, bool sync);

}  // namespace blockwal

#endif  // BLOCKWAL_UTIL_FILE_SYSTEM_H_
