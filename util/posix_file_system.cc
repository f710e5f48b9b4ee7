#include "blockwal/util/posix_file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "blockwal/util/file_errors.h"

namespace blockwal {
namespace {

// Writes all of [data, data + n) at `offset`, retrying on EINTR and short
// writes (a signal or a full pipe may stop write(2) early).
absl::Status PwriteAll(int fd, const std::string& path, const char* data,
                       size_t n, uint64_t offset) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, data, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      return FileError(errno, path, absl::StrCat("write at offset ", offset));
    }
    data += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
  return absl::OkStatus();
}

// Appends go through a user-space buffer; the file position is tracked here
// (pwrite at offset_) rather than by the kernel, so Truncate needs no lseek
// and an appendable file simply starts with offset_ at the old end.
class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd, uint64_t size)
      : path_(std::move(path)),
        fd_(fd),
        buffer_(new char[kWritableFileBufferSize]),
        offset_(size) {}

  ~PosixWritableFile() override {
    if (fd_ >= 0) {
      // A destructor cannot report; callers who care call Close().
      Close().IgnoreError();
    }
  }

  absl::Status Append(absl::string_view data) override {
    if (fd_ < 0) return ClosedFileError(path_);
    size_t copy = std::min(data.size(), kWritableFileBufferSize - buffered_);
    std::memcpy(buffer_.get() + buffered_, data.data(), copy);
    buffered_ += copy;
    data.remove_prefix(copy);
    if (data.empty()) return absl::OkStatus();

    // The buffer is full and more remains.
    absl::Status s = FlushBuffer();
    if (!s.ok()) return s;
    if (data.size() < kWritableFileBufferSize) {
      std::memcpy(buffer_.get(), data.data(), data.size());
      buffered_ = data.size();
      return absl::OkStatus();
    }
    // Large writes skip the buffer: copying them buys nothing.
    s = PwriteAll(fd_, path_, data.data(), data.size(), offset_);
    if (s.ok()) offset_ += data.size();
    return s;
  }

  absl::Status Flush() override {
    if (fd_ < 0) return ClosedFileError(path_);
    return FlushBuffer();
  }

  absl::Status Sync() override {
    if (fd_ < 0) return ClosedFileError(path_);
    absl::Status s = FlushBuffer();
    if (!s.ok()) return s;
    if (::fdatasync(fd_) != 0) return FileError(errno, path_, "fdatasync");
    return absl::OkStatus();
  }

  absl::Status Truncate(uint64_t size) override {
    if (fd_ < 0) return ClosedFileError(path_);
    absl::Status s = FlushBuffer();
    if (!s.ok()) return s;
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      return FileError(errno, path_, absl::StrCat("truncate to ", size));
    }
    offset_ = size;
    return absl::OkStatus();
  }

  uint64_t Size() const override { return offset_ + buffered_; }

  absl::Status Close() override {
    if (fd_ < 0) return ClosedFileError(path_);
    absl::Status s = FlushBuffer();
    // The descriptor is released even when the flush failed: the caller gets
    // the flush error and the file is closed either way.
    if (::close(fd_) != 0 && s.ok()) s = FileError(errno, path_, "close");
    fd_ = -1;
    return s;
  }

  const std::string& path() const override { return path_; }

 private:
  absl::Status FlushBuffer() {
    if (buffered_ == 0) return absl::OkStatus();
    absl::Status s = PwriteAll(fd_, path_, buffer_.get(), buffered_, offset_);
    if (!s.ok()) return s;
    offset_ += buffered_;
    buffered_ = 0;
    return absl::OkStatus();
  }

  const std::string path_;
  int fd_;  // -1 once closed
  std::unique_ptr<char[]> buffer_;
  size_t buffered_ = 0;  // bytes of buffer_ in use
  uint64_t offset_;      // file offset of buffer_[0]
};

class PosixRandomAccessFile final : public RandomAccessFile {
 public:
  PosixRandomAccessFile(std::string path, int fd)
      : path_(std::move(path)), fd_(fd) {}
  ~PosixRandomAccessFile() override { ::close(fd_); }

  absl::StatusOr<absl::string_view> Read(uint64_t offset, size_t n,
                                         char* scratch) const override {
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::pread(fd_, scratch + got, n - got,
                          static_cast<off_t>(offset + got));
      if (r < 0) {
        if (errno == EINTR) continue;
        return FileError(errno, path_, absl::StrCat("read at offset ", offset + got));
      }
      if (r == 0) break;  // end of file
      got += static_cast<size_t>(r);
    }
    return absl::string_view(scratch, got);
  }

  absl::StatusOr<uint64_t> Size() const override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return FileError(errno, path_, "fstat");
    return static_cast<uint64_t>(st.st_size);
  }

  const std::string& path() const override { return path_; }

 private:
  const std::string path_;
  const int fd_;
};

// A read-only mapping of a whole file that no longer changes. Reads return
// views into the mapping, valid while this object lives.
class PosixMappedReadOnlyFile final : public RandomAccessFile {
 public:
  PosixMappedReadOnlyFile(std::string path, const char* base, size_t size)
      : path_(std::move(path)), base_(base), size_(size) {}
  ~PosixMappedReadOnlyFile() override {
    ::munmap(const_cast<char*>(base_), size_);
  }

  absl::StatusOr<absl::string_view> Read(uint64_t offset, size_t n,
                                         char* scratch) const override {
    if (offset >= size_) return absl::string_view(scratch, 0);
    return absl::string_view(base_ + offset,
                             std::min<uint64_t>(n, size_ - offset));
  }

  absl::StatusOr<uint64_t> Size() const override { return size_; }
  const std::string& path() const override { return path_; }

 private:
  const std::string path_;
  const char* const base_;
  const size_t size_;
};

// A growing file read through a mapping of `reserve` bytes made up front
// (the kernel allows mapping past the end of a file; only touching those pages
// is an error, and reads never go past the readable size, which the writer
// raises only over bytes already in the file). Reads past the reservation
// use pread.
class PosixAppendingReadFile final : public AppendingReadFile {
 public:
  PosixAppendingReadFile(std::string path, int fd, const char* base,
                         size_t reserve)
      : path_(std::move(path)), file_(path_, fd), base_(base), reserve_(reserve) {}
  ~PosixAppendingReadFile() override {
    if (base_ != nullptr) ::munmap(const_cast<char*>(base_), reserve_);
  }

  absl::StatusOr<absl::string_view> Read(uint64_t offset, size_t n,
                                         char* scratch) const override {
    n = ReadableAt(offset, n);
    if (n == 0) return absl::string_view(scratch, 0);
    if (base_ != nullptr && offset + n <= reserve_) {
      return absl::string_view(base_ + offset, n);
    }
    return file_.Read(offset, n, scratch);
  }
  const std::string& path() const override { return path_; }

 private:
  const std::string path_;
  const PosixRandomAccessFile file_;  // owns the descriptor
  const char* const base_;            // null when mapping failed
  const size_t reserve_;
};

class PosixSequentialFile final : public SequentialFile {
 public:
  PosixSequentialFile(std::string path, int fd)
      : path_(std::move(path)), fd_(fd) {}
  ~PosixSequentialFile() override { ::close(fd_); }

  absl::StatusOr<absl::string_view> Read(size_t n, char* scratch) override {
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::read(fd_, scratch + got, n - got);
      if (r < 0) {
        if (errno == EINTR) continue;
        return FileError(errno, path_, "read");
      }
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    return absl::string_view(scratch, got);
  }

  absl::Status Skip(uint64_t n) override {
    if (::lseek(fd_, static_cast<off_t>(n), SEEK_CUR) == static_cast<off_t>(-1)) {
      return FileError(errno, path_, absl::StrCat("skip ", n, " bytes"));
    }
    return absl::OkStatus();
  }

  const std::string& path() const override { return path_; }

 private:
  const std::string path_;
  const int fd_;
};

class PosixMappedRegion final : public MappedRegion {
 public:
  PosixMappedRegion(std::string path, char* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}
  ~PosixMappedRegion() override {
    if (data_ != nullptr) ::munmap(data_, size_);
  }

  char* data() override { return data_; }
  size_t size() const override { return size_; }

  absl::Status Sync() override {
    if (data_ == nullptr) return absl::OkStatus();  // empty mapping
    if (::msync(data_, size_, MS_SYNC) != 0) return FileError(errno, path_, "msync");
    return absl::OkStatus();
  }

  const std::string& path() const override { return path_; }

 private:
  const std::string path_;
  char* const data_;  // nullptr when size_ == 0 (mmap rejects empty maps)
  const size_t size_;
};

// flock(2) locks belong to an open file description, so they already exclude
// other processes; the set makes the in-process rule explicit and cheap, and
// catches a second lock through the same path before any file is opened.
ABSL_CONST_INIT absl::Mutex locked_paths_mu(absl::kConstInit);
absl::flat_hash_set<std::string>& LockedPaths()
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(locked_paths_mu) {
  static auto* const paths = new absl::flat_hash_set<std::string>();
  return *paths;
}

class PosixFileLock final : public FileLock {
 public:
  PosixFileLock(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixFileLock() override {
    // Closing the descriptor releases the flock; unlock first anyway so the
    // lock is gone before the path is free in the set.
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
    absl::MutexLock l(&locked_paths_mu);
    LockedPaths().erase(path_);
  }
  const std::string& path() const override { return path_; }

 private:
  const std::string path_;
  const int fd_;
};

class PosixFileSystem final : public FileSystem {
 public:
  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(
      const std::string& path) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return FileError(errno, path, "open for writing");
    return std::unique_ptr<WritableFile>(new PosixWritableFile(path, fd, 0));
  }

  absl::StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(
      const std::string& path) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return FileError(errno, path, "open for appending");
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      absl::Status s = FileError(errno, path, "fstat");
      ::close(fd);
      return s;
    }
    return std::unique_ptr<WritableFile>(
        new PosixWritableFile(path, fd, static_cast<uint64_t>(st.st_size)));
  }

  absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return FileError(errno, path, "open for reading");
    return std::unique_ptr<RandomAccessFile>(new PosixRandomAccessFile(path, fd));
  }

  absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewReadOnlyMappedFile(
      const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return FileError(errno, path, "open for reading");
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      absl::Status s = FileError(errno, path, "fstat");
      ::close(fd);
      return s;
    }
    if (st.st_size == 0) {
      // Nothing to map (mmap of 0 bytes fails): plain reads see the same.
      return std::unique_ptr<RandomAccessFile>(new PosixRandomAccessFile(path, fd));
    }
    const size_t size = static_cast<size_t>(st.st_size);
    void* base = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    const int err = errno;
    ::close(fd);  // the mapping keeps the file
    if (base == MAP_FAILED) return FileError(err, path, "mmap for reading");
    return std::unique_ptr<RandomAccessFile>(new PosixMappedReadOnlyFile(
        path, static_cast<const char*>(base), size));
  }

  absl::StatusOr<std::unique_ptr<AppendingReadFile>> NewAppendingReadFile(
      const std::string& path, uint64_t reserve_bytes) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return FileError(errno, path, "open for reading");
    const size_t reserve = static_cast<size_t>(reserve_bytes);
    void* base = reserve > 0 ? ::mmap(nullptr, reserve, PROT_READ, MAP_SHARED, fd, 0)
                             : MAP_FAILED;
    // Without a mapping every read is a pread: slower, not wrong.
    return std::unique_ptr<AppendingReadFile>(new PosixAppendingReadFile(
        path, fd, base == MAP_FAILED ? nullptr : static_cast<const char*>(base),
        reserve));
  }

  absl::StatusOr<std::unique_ptr<SequentialFile>> NewSequentialFile(
      const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return FileError(errno, path, "open for reading");
    return std::unique_ptr<SequentialFile>(new PosixSequentialFile(path, fd));
  }

  absl::StatusOr<std::unique_ptr<MappedRegion>> MapFile(const std::string& path,
                                                        size_t size) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return FileError(errno, path, "open for mapping");
    // The mapping keeps the file referenced; the descriptor is not needed
    // once mmap has succeeded.
    struct FdCloser {
      int fd;
      ~FdCloser() { ::close(fd); }
    } closer{fd};
    if (size == 0) {
      return std::unique_ptr<MappedRegion>(new PosixMappedRegion(path, nullptr, 0));
    }
    struct stat st;
    if (::fstat(fd, &st) != 0) return FileError(errno, path, "fstat");
    // Every block of the mapped range is reserved before the mapping exists:
    // a store through a shared mapping into a hole that the file system has
    // no block for is a SIGBUS, which would kill the process, where a full
    // disk must be an error. posix_fallocate also grows a shorter file (with
    // zeros) and fills the holes of one an older version grew sparsely.
    int err;
    do {
      err = ::posix_fallocate(fd, 0, static_cast<off_t>(size));  // returns the errno
    } while (err == EINTR);
    if (err != 0) {
      // A failed reservation may have grown the file part of the way: put
      // its size back, so a failed open leaves the file as it found it.
      if (st.st_size < static_cast<off_t>(size)) {
        (void)::ftruncate(fd, st.st_size);
      }
      return FileError(err, path, absl::StrCat("reserve ", size, " bytes for mapping"));
    }
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return FileError(errno, path, "mmap");
    return std::unique_ptr<MappedRegion>(
        new PosixMappedRegion(path, static_cast<char*>(p), size));
  }

  absl::StatusOr<bool> FileExists(const std::string& path) override {
    // stat, not access: access checks with the real, not the effective, ids.
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) return true;
    if (errno == ENOENT || errno == ENOTDIR) return false;
    return FileError(errno, path, "stat");
  }

  absl::StatusOr<uint64_t> GetFileSize(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return FileError(errno, path, "stat");
    return static_cast<uint64_t>(st.st_size);
  }

  absl::StatusOr<std::vector<std::string>> GetChildren(
      const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return FileError(errno, dir, "opendir");
    std::vector<std::string> names;
    while (true) {
      errno = 0;
      struct dirent* e = ::readdir(d);
      if (e == nullptr) {
        if (errno != 0) {
          absl::Status s = FileError(errno, dir, "readdir");
          ::closedir(d);
          return s;
        }
        break;
      }
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) {
        continue;
      }
      names.emplace_back(e->d_name);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
  }

  absl::Status CreateDir(const std::string& dir) override {
    if (::mkdir(dir.c_str(), 0755) == 0) return absl::OkStatus();
    int err = errno;
    struct stat st;
    if (err == EEXIST && ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      return absl::OkStatus();
    }
    return FileError(err, dir, "mkdir");
  }

  absl::Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return FileError(errno, path, "unlink");
    return absl::OkStatus();
  }

  absl::Status RemoveDir(const std::string& dir) override {
    if (::rmdir(dir.c_str()) != 0) return FileError(errno, dir, "rmdir");
    return absl::OkStatus();
  }

  absl::Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return FileError(errno, from, absl::StrCat("rename to ", to));
    }
    return absl::OkStatus();
  }

  absl::Status TruncateFile(const std::string& path, uint64_t size) override {
    if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) {
      return FileError(errno, path, absl::StrCat("truncate to ", size));
    }
    return absl::OkStatus();
  }

  absl::Status SyncDir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return FileError(errno, dir, "open directory");
    absl::Status s;
    if (::fsync(fd) != 0) s = FileError(errno, dir, "fsync directory");
    ::close(fd);
    return s;
  }

  absl::StatusOr<std::unique_ptr<FileLock>> LockFile(
      const std::string& path) override {
    {
      absl::MutexLock l(&locked_paths_mu);
      if (!LockedPaths().insert(path).second) {
        return absl::UnavailableError(
            absl::StrCat(path, ": already locked by another holder in this process"));
      }
    }
    auto release = [&path] {
      absl::MutexLock l(&locked_paths_mu);
      LockedPaths().erase(path);
    };
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      absl::Status s = FileError(errno, path, "open lock file");
      release();
      return s;
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      ::close(fd);
      release();
      if (err == EWOULDBLOCK) {
        return absl::UnavailableError(
            absl::StrCat(path, ": locked by another process"));
      }
      return FileError(err, path, "flock");
    }
    return std::unique_ptr<FileLock>(new PosixFileLock(path, fd));
  }
};

}  // namespace

std::unique_ptr<FileSystem> NewPosixFileSystem() {
  return std::make_unique<PosixFileSystem>();
}

}  // namespace blockwal
