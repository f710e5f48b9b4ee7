#include "blockwal/util/mem_file_system.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <sys/mman.h>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "blockwal/util/file_errors.h"

namespace blockwal {
namespace {


// A file's bytes. They live in a std::string until the file is first mapped;
// from then on they live in a private anonymous mapping reserved at
// kMaxMappedFileSize, so they never move again and the file can grow and
// shrink while mapped, as a POSIX file can (a mapping stays valid for every
// byte inside the file). Pages are committed only when touched.
class FileBytes {
 public:
  static constexpr size_t kMaxMappedFileSize = size_t{1} << 30;

  FileBytes() = default;
  FileBytes(const FileBytes&) = delete;
  FileBytes& operator=(const FileBytes&) = delete;
  ~FileBytes() {
    if (pinned_ != nullptr) ::munmap(pinned_, kMaxMappedFileSize);
  }

  size_t size() const { return pinned_ != nullptr ? pinned_size_ : str_.size(); }
  char* data() { return pinned_ != nullptr ? pinned_ : str_.data(); }
  const char* data() const {
    return pinned_ != nullptr ? pinned_ : str_.data();
  }

  // Resizes to n bytes, zero-filling growth.
  absl::Status Resize(const std::string& path, size_t n) {
    if (pinned_ == nullptr) {
      str_.resize(n, '\0');
      return absl::OkStatus();
    }
    if (n > kMaxMappedFileSize) {
      return absl::ResourceExhaustedError(absl::StrCat(
          path, ": a mapped in-memory file is limited to ",
          kMaxMappedFileSize, " bytes (asked for ", n, ")"));
    }
    // Bytes cut off must read as zeros if the file grows again.
    if (n < pinned_size_) std::memset(pinned_ + n, 0, pinned_size_ - n);
    pinned_size_ = n;
    return absl::OkStatus();
  }

  // Moves the bytes to their fixed address (once).
  absl::Status Pin(const std::string& path) {
    if (pinned_ != nullptr) return absl::OkStatus();
    if (str_.size() > kMaxMappedFileSize) {
      return absl::ResourceExhaustedError(absl::StrCat(
          path, ": cannot map an in-memory file over ", kMaxMappedFileSize,
          " bytes"));
    }
    void* p = ::mmap(nullptr, kMaxMappedFileSize, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return FileError(errno, path, "reserve mapping");
    pinned_ = static_cast<char*>(p);
    std::memcpy(pinned_, str_.data(), str_.size());
    pinned_size_ = str_.size();
    std::string().swap(str_);
    return absl::OkStatus();
  }

 private:
  std::string str_;
  char* pinned_ = nullptr;
  size_t pinned_size_ = 0;
};

// The space of a file system created with a capacity: the bytes of every
// file that still exists (named, or open through a handle), as a disk counts
// the blocks of an unlinked file until its last descriptor closes.
class SpaceBudget {
 public:
  explicit SpaceBudget(uint64_t capacity) : capacity_(capacity) {}

  // Up to `n` more bytes, as many as are free.
  uint64_t Take(uint64_t n) {
    absl::MutexLock l(&mu_);
    const uint64_t granted = std::min(n, capacity_ - used_);
    used_ += granted;
    return granted;
  }
  void Give(uint64_t n) {
    absl::MutexLock l(&mu_);
    used_ -= std::min(n, used_);
  }

 private:
  const uint64_t capacity_;
  absl::Mutex mu_;
  uint64_t used_ ABSL_GUARDED_BY(mu_) = 0;
};

// A file's bytes, shared by the directory entry and every open handle, so an
// open file outlives its removal as on POSIX.
struct MemFile {
  explicit MemFile(std::shared_ptr<SpaceBudget> b) : budget(std::move(b)) {}
  ~MemFile() {
    absl::MutexLock l(&mu);
    if (budget != nullptr) budget->Give(data.size());
  }

  absl::Mutex mu;
  FileBytes data ABSL_GUARDED_BY(mu);
  const std::shared_ptr<SpaceBudget> budget;  // null: no limit

  // Resizes data to `size`, zero-filling growth. Growth past the budget
  // fails with ENOSPC ("<path>: <what>: No space left on device") and
  // changes nothing.
  absl::Status Resize(const std::string& path, uint64_t size,
                      absl::string_view what) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return ResizeUpTo(path, size, what, nullptr);
  }

  // Like Resize, but on a full budget grows as far as it can (to *reached,
  // at least the current size), as a write(2) on a full disk writes a prefix.
  absl::Status ResizeUpTo(const std::string& path, uint64_t size,
                          absl::string_view what, uint64_t* reached)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const uint64_t old = data.size();
    if (reached != nullptr) *reached = old;
    if (budget != nullptr && size > old) {
      const uint64_t granted = budget->Take(size - old);
      if (granted < size - old) {
        if (reached == nullptr || granted == 0) {
          budget->Give(granted);
          return FileError(ENOSPC, path, what);
        }
        absl::Status s = data.Resize(path, static_cast<size_t>(old + granted));
        if (!s.ok()) {
          budget->Give(granted);
          return s;
        }
        *reached = old + granted;
        return FileError(ENOSPC, path, what);
      }
    }
    absl::Status s = data.Resize(path, static_cast<size_t>(size));
    if (budget != nullptr) {
      if (!s.ok() && size > old) budget->Give(size - old);
      if (s.ok() && size < old) budget->Give(old - size);
    }
    if (s.ok() && reached != nullptr) *reached = size;
    return s;
  }
};

class MemWritableFile final : public WritableFile {
 public:
  MemWritableFile(std::string path, std::shared_ptr<MemFile> file, uint64_t size)
      : path_(std::move(path)), file_(std::move(file)), size_(size) {}

  // Writes land at size_ (the handle's own position, like a POSIX pwrite at
  // the tracked end), so a file shortened behind the handle's back gets a
  // zero-filled gap, as on disk.
  // On a full file system the bytes that fit are written and the append
  // fails, as a write(2) that runs out of space leaves a prefix; the
  // handle's position stays, so a later append writes over them.
  absl::Status Append(absl::string_view data) override {
    if (closed_) return ClosedFileError(path_);
    absl::MutexLock l(&file_->mu);
    uint64_t end = size_ + data.size();
    absl::Status s;
    if (end > file_->data.size()) {
      uint64_t reached;
      s = file_->ResizeUpTo(path_, end, absl::StrCat("write at offset ", size_),
                            &reached);
      if (!s.ok()) data = data.substr(0, reached > size_ ? reached - size_ : 0);
    }
    if (!data.empty()) std::memcpy(file_->data.data() + size_, data.data(), data.size());
    if (!s.ok()) return s;
    size_ = end;
    return absl::OkStatus();
  }

  absl::Status Flush() override {
    return closed_ ? ClosedFileError(path_) : absl::OkStatus();
  }

  absl::Status Sync() override {
    return closed_ ? ClosedFileError(path_) : absl::OkStatus();
  }

  absl::Status Truncate(uint64_t size) override {
    if (closed_) return ClosedFileError(path_);
    absl::MutexLock l(&file_->mu);
    absl::Status s = file_->Resize(path_, size, absl::StrCat("truncate to ", size));
    if (!s.ok()) return s;
    size_ = size;
    return absl::OkStatus();
  }

  uint64_t Size() const override { return size_; }

  absl::Status Close() override {
    if (closed_) return ClosedFileError(path_);
    closed_ = true;
    return absl::OkStatus();
  }

  const std::string& path() const override { return path_; }

 private:
  const std::string path_;
  const std::shared_ptr<MemFile> file_;
  uint64_t size_;
  bool closed_ = false;
};

class MemRandomAccessFile final : public RandomAccessFile {
 public:
  MemRandomAccessFile(std::string path, std::shared_ptr<MemFile> file)
      : path_(std::move(path)), file_(std::move(file)) {}

  absl::StatusOr<absl::string_view> Read(uint64_t offset, size_t n,
                                         char* scratch) const override {
    // Copied out under the lock: the bytes may change (or move) after it.
    absl::MutexLock l(&file_->mu);
    if (offset >= file_->data.size()) return absl::string_view(scratch, 0);
    size_t k = std::min<uint64_t>(n, file_->data.size() - offset);
    std::memcpy(scratch, file_->data.data() + offset, k);
    return absl::string_view(scratch, k);
  }

  absl::StatusOr<uint64_t> Size() const override {
    absl::MutexLock l(&file_->mu);
    return file_->data.size();
  }

  const std::string& path() const override { return path_; }

 private:
  const std::string path_;
  const std::shared_ptr<MemFile> file_;
};

class MemSequentialFile final : public SequentialFile {
 public:
  MemSequentialFile(std::string path, std::shared_ptr<MemFile> file)
      : path_(std::move(path)), file_(std::move(file)) {}

  absl::StatusOr<absl::string_view> Read(size_t n, char* scratch) override {
    absl::MutexLock l(&file_->mu);
    if (pos_ >= file_->data.size()) return absl::string_view(scratch, 0);
    size_t k = std::min<uint64_t>(n, file_->data.size() - pos_);
    std::memcpy(scratch, file_->data.data() + pos_, k);
    pos_ += k;
    return absl::string_view(scratch, k);
  }

  absl::Status Skip(uint64_t n) override {
    pos_ += n;
    return absl::OkStatus();
  }

  const std::string& path() const override { return path_; }

 private:
  const std::string path_;
  const std::shared_ptr<MemFile> file_;
  uint64_t pos_ = 0;
};

class MemMappedRegion final : public MappedRegion {
 public:
  MemMappedRegion(std::string path, std::shared_ptr<MemFile> file, char* data,
                  size_t size)
      : path_(std::move(path)), file_(std::move(file)), data_(data), size_(size) {}

  // Writes through data() are not under the file's mutex, exactly as mmap
  // writes race with read(2): callers order them themselves. The file's bytes
  // are pinned (FileBytes), so the pointer stays valid while the region
  // lives, whatever size the file takes.
  char* data() override { return data_; }
  size_t size() const override { return size_; }
  absl::Status Sync() override { return absl::OkStatus(); }
  const std::string& path() const override { return path_; }

 private:
  const std::string path_;
  const std::shared_ptr<MemFile> file_;
  char* const data_;
  const size_t size_;
};

// Lock state lives apart from the file system so a FileLock may safely
// outlive it.
struct LockTable {
  absl::Mutex mu;
  absl::flat_hash_set<std::string> locked ABSL_GUARDED_BY(mu);
};

class MemFileLock final : public FileLock {
 public:
  MemFileLock(std::string path, std::shared_ptr<LockTable> table)
      : path_(std::move(path)), table_(std::move(table)) {}
  ~MemFileLock() override {
    absl::MutexLock l(&table_->mu);
    table_->locked.erase(path_);
  }
  const std::string& path() const override { return path_; }

 private:
  const std::string path_;
  const std::shared_ptr<LockTable> table_;
};

class MemFileSystem final : public FileSystem {
 public:
  explicit MemFileSystem(std::shared_ptr<SpaceBudget> budget)
      : budget_(std::move(budget)) {}

  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(
      const std::string& path) override {
    absl::MutexLock l(&mu_);
    std::shared_ptr<MemFile> file;
    absl::Status s = OpenOrCreate(path, "open for writing", &file);
    if (!s.ok()) return s;
    absl::MutexLock fl(&file->mu);
    s = file->Resize(path, 0, "open for writing");
    if (!s.ok()) return s;
    return std::unique_ptr<WritableFile>(new MemWritableFile(path, file, 0));
  }

  absl::StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(
      const std::string& path) override {
    absl::MutexLock l(&mu_);
    std::shared_ptr<MemFile> file;
    absl::Status s = OpenOrCreate(path, "open for appending", &file);
    if (!s.ok()) return s;
    absl::MutexLock fl(&file->mu);
    return std::unique_ptr<WritableFile>(
        new MemWritableFile(path, file, file->data.size()));
  }

  absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) override {
    absl::MutexLock l(&mu_);
    std::shared_ptr<MemFile> file;
    absl::Status s = OpenExisting(path, "open for reading", &file);
    if (!s.ok()) return s;
    return std::unique_ptr<RandomAccessFile>(new MemRandomAccessFile(path, file));
  }

  absl::StatusOr<std::unique_ptr<SequentialFile>> NewSequentialFile(
      const std::string& path) override {
    absl::MutexLock l(&mu_);
    std::shared_ptr<MemFile> file;
    absl::Status s = OpenExisting(path, "open for reading", &file);
    if (!s.ok()) return s;
    return std::unique_ptr<SequentialFile>(new MemSequentialFile(path, file));
  }

  absl::StatusOr<std::unique_ptr<MappedRegion>> MapFile(const std::string& path,
                                                        size_t size) override {
    absl::MutexLock l(&mu_);
    std::shared_ptr<MemFile> file;
    absl::Status s = OpenOrCreate(path, "open for mapping", &file);
    if (!s.ok()) return s;
    absl::MutexLock fl(&file->mu);
    if (file->data.size() < size) {
      // As the POSIX file system reserves the blocks of the mapped range:
      // growth past the budget fails here, never at a write through data().
      s = file->Resize(path, size, absl::StrCat("reserve ", size, " bytes for mapping"));
      if (!s.ok()) return s;
    }
    // From here on data.data() stays put; see FileBytes.
    s = file->data.Pin(path);
    if (!s.ok()) return s;
    return std::unique_ptr<MappedRegion>(
        new MemMappedRegion(path, file, file->data.data(), size));
  }

  absl::StatusOr<bool> FileExists(const std::string& path) override {
    absl::MutexLock l(&mu_);
    return files_.count(path) > 0 || dirs_.count(NormalizeDir(path)) > 0 ||
           IsRoot(NormalizeDir(path));
  }

  absl::StatusOr<uint64_t> GetFileSize(const std::string& path) override {
    absl::MutexLock l(&mu_);
    std::shared_ptr<MemFile> file;
    absl::Status s = OpenExisting(path, "stat", &file);
    if (!s.ok()) return s;
    absl::MutexLock fl(&file->mu);
    return file->data.size();
  }

  absl::StatusOr<std::vector<std::string>> GetChildren(
      const std::string& dir) override {
    absl::MutexLock l(&mu_);
    std::string d = NormalizeDir(dir);
    if (!DirExists(d)) {
      return FileError(files_.count(d) ? ENOTDIR : ENOENT, dir, "opendir");
    }
    std::vector<std::string> names;
    auto add = [&](const std::string& p) {
      if (p != d && DirName(p) == d) {
        names.push_back(p.substr(p.rfind('/') == std::string::npos ? 0 : p.rfind('/') + 1));
      }
    };
    for (const auto& [p, f] : files_) add(p);
    for (const std::string& p : dirs_) add(p);
    std::sort(names.begin(), names.end());
    return names;
  }

  absl::Status CreateDir(const std::string& dir) override {
    absl::MutexLock l(&mu_);
    std::string d = NormalizeDir(dir);
    if (DirExists(d)) return absl::OkStatus();
    if (files_.count(d)) return FileError(EEXIST, dir, "mkdir");
    if (!DirExists(DirName(d))) return FileError(ENOENT, dir, "mkdir");
    dirs_.insert(d);
    return absl::OkStatus();
  }

  absl::Status RemoveFile(const std::string& path) override {
    absl::MutexLock l(&mu_);
    if (files_.erase(path) == 0) {
      return FileError(dirs_.count(NormalizeDir(path)) ? EISDIR : ENOENT, path, "unlink");
    }
    return absl::OkStatus();
  }

  absl::Status RemoveDir(const std::string& dir) override {
    absl::MutexLock l(&mu_);
    std::string d = NormalizeDir(dir);
    if (dirs_.count(d) == 0) {
      return FileError(files_.count(d) ? ENOTDIR : ENOENT, dir, "rmdir");
    }
    for (const auto& [p, f] : files_) {
      if (DirName(p) == d) return FileError(ENOTEMPTY, dir, "rmdir");
    }
    for (const std::string& p : dirs_) {
      if (p != d && DirName(p) == d) return FileError(ENOTEMPTY, dir, "rmdir");
    }
    dirs_.erase(d);
    return absl::OkStatus();
  }

  absl::Status RenameFile(const std::string& from, const std::string& to) override {
    absl::MutexLock l(&mu_);
    std::string what = absl::StrCat("rename to ", to);
    auto it = files_.find(from);
    if (it == files_.end()) {
      // Directories cannot be renamed here (blockwal never does).
      return FileError(dirs_.count(NormalizeDir(from)) ? EISDIR : ENOENT, from, what);
    }
    if (dirs_.count(NormalizeDir(to))) return FileError(EISDIR, from, what);
    if (!DirExists(DirName(to))) return FileError(ENOENT, from, what);
    if (from == to) return absl::OkStatus();
    std::shared_ptr<MemFile> file = it->second;
    files_.erase(it);
    files_[to] = std::move(file);
    return absl::OkStatus();
  }

  absl::Status TruncateFile(const std::string& path, uint64_t size) override {
    absl::MutexLock l(&mu_);
    std::shared_ptr<MemFile> file;
    absl::Status s = OpenExisting(path, absl::StrCat("truncate to ", size), &file);
    if (!s.ok()) return s;
    absl::MutexLock fl(&file->mu);
    return file->Resize(path, size, absl::StrCat("truncate to ", size));
  }

  absl::Status SyncDir(const std::string& dir) override {
    absl::MutexLock l(&mu_);
    std::string d = NormalizeDir(dir);
    if (!DirExists(d)) {
      return FileError(files_.count(d) ? ENOTDIR : ENOENT, dir, "open directory");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<FileLock>> LockFile(
      const std::string& path) override {
    {
      absl::MutexLock l(&mu_);
      std::shared_ptr<MemFile> file;
      absl::Status s = OpenOrCreate(path, "open lock file", &file);
      if (!s.ok()) return s;
    }
    absl::MutexLock l(&locks_->mu);
    if (!locks_->locked.insert(path).second) {
      return absl::UnavailableError(
          absl::StrCat(path, ": locked by another holder"));
    }
    return std::unique_ptr<FileLock>(new MemFileLock(path, locks_));
  }

 private:
  static bool IsRoot(const std::string& d) { return d.empty() || d == "/"; }

  bool DirExists(const std::string& d) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return IsRoot(d) || dirs_.count(d) > 0;
  }

  absl::Status OpenExisting(const std::string& path, absl::string_view what,
                            std::shared_ptr<MemFile>* file)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = files_.find(path);
    if (it == files_.end()) {
      return FileError(DirExists(NormalizeDir(path)) ? EISDIR : ENOENT, path, what);
    }
    *file = it->second;
    return absl::OkStatus();
  }

  // Like open(O_CREAT): the parent directory must exist.
  absl::Status OpenOrCreate(const std::string& path, absl::string_view what,
                            std::shared_ptr<MemFile>* file)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = files_.find(path);
    if (it != files_.end()) {
      *file = it->second;
      return absl::OkStatus();
    }
    if (DirExists(NormalizeDir(path))) return FileError(EISDIR, path, what);
    if (!DirExists(DirName(path))) return FileError(ENOENT, path, what);
    *file = std::make_shared<MemFile>(budget_);
    files_[path] = *file;
    return absl::OkStatus();
  }

  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<MemFile>> files_ ABSL_GUARDED_BY(mu_);
  // Directories created with CreateDir, normalized; "" and "/" always exist.
  std::set<std::string> dirs_ ABSL_GUARDED_BY(mu_);
  const std::shared_ptr<LockTable> locks_ = std::make_shared<LockTable>();
  const std::shared_ptr<SpaceBudget> budget_;  // null: no limit
};

}  // namespace

std::unique_ptr<FileSystem> NewMemFileSystem() {
  return std::make_unique<MemFileSystem>(nullptr);
}

std::unique_ptr<FileSystem> NewMemFileSystem(uint64_t capacity_bytes) {
  return std::make_unique<MemFileSystem>(
      std::make_shared<SpaceBudget>(capacity_bytes));
}

}  // namespace blockwal
