// FaultInjectionFileSystem (util/fault_injection_file_system.h): failure
// injection, the record of operations, the tracking of what each file and
// name holds durably, and the FileSystem methods. Its file handles are in
// fault_injection_files.cc, crash simulation in fault_injection_crash.cc.
#include "blockwal/util/fault_injection_file_system.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "blockwal/util/fault_injection_files.h"
#include "blockwal/util/status_macros.h"

namespace blockwal {
namespace {

const char* OpName(FsOp op) {
  switch (op) {
    case kOpAppend: return "append";
    case kOpFlush: return "flush";
    case kOpSync: return "sync";
    case kOpTruncate: return "truncate";
    case kOpCreate: return "create";
    case kOpRename: return "rename";
    case kOpRemove: return "remove";
    case kOpSyncDir: return "directory sync";
    case kOpMapSync: return "mapped region sync";
    case kOpRead: return "read";
    case kOpExists: return "existence check";
    default: return "operation";
  }
}

// Reads [offset, end of file) through `file`.
absl::StatusOr<std::string> ReadFrom(const RandomAccessFile& file,
                                     uint64_t offset) {
  BW_ASSIGN_OR_RETURN(uint64_t size, file.Size());
  std::string out;
  if (size <= offset) return out;
  out.resize(size - offset);
  BW_ASSIGN_OR_RETURN(absl::string_view got,
                      file.Read(offset, out.size(), out.data()));
  out.resize(got.size());
  return out;
}

// The base's file handle wrapped in a Wrapper that fails its reads on
// demand, or the base's error.
template <typename Wrapper, typename File>
absl::StatusOr<std::unique_ptr<File>> WrapReader(
    FaultInjectionFileSystem* fs, absl::StatusOr<std::unique_ptr<File>> file) {
  if (!file.ok()) return file.status();
  return std::unique_ptr<File>(new Wrapper(fs, *std::move(file)));
}

}  // namespace

FsOpRecord MakeOpRecord(FsOp op, std::string path, std::string target,
                        uint64_t offset, std::string data) {
  FsOpRecord r;
  r.op = op;
  r.path = std::move(path);
  r.target = std::move(target);
  r.offset = offset;
  r.data = std::move(data);
  return r;
}

FaultInjectionFileSystem::FaultInjectionFileSystem(
    std::unique_ptr<FileSystem> base)
    : base_(std::move(base)) {}

FaultInjectionFileSystem::~FaultInjectionFileSystem() = default;

// ---- failure injection ----

void FaultInjectionFileSystem::FailAfter(uint32_t ops, uint64_t n, int err,
                                         bool sticky) {
  absl::MutexLock l(&mu_);
  failures_.push_back({ops, n, err, sticky});
}

void FaultInjectionFileSystem::ClearFailures() {
  absl::MutexLock l(&mu_);
  failures_.clear();
}

absl::Status FaultInjectionFileSystem::MaybeFail(FsOp op,
                                                 const std::string& path) {
  absl::MutexLock l(&mu_);
  return MaybeFailLocked(op, path);
}

absl::Status FaultInjectionFileSystem::MaybeFailLocked(FsOp op,
                                                       const std::string& path) {
  // Every pending failure counts this operation; the first one due fires.
  absl::Status result;
  for (auto it = failures_.begin(); it != failures_.end();) {
    if ((it->ops & op) == 0) {
      ++it;
    } else if (it->remaining > 0) {
      --it->remaining;
      ++it;
    } else if (result.ok()) {
      result = absl::ErrnoToStatus(
          it->err, absl::StrCat(path, ": injected ", OpName(op), " failure"));
      it = it->sticky ? it + 1 : failures_.erase(it);
    } else {
      ++it;  // also due; fires on the next matching operation
    }
  }
  return result;
}

// ---- observation ----

void FaultInjectionFileSystem::Record(FsOpRecord rec) {
  absl::MutexLock l(&mu_);
  RecordLocked(std::move(rec));
}

void FaultInjectionFileSystem::RecordLocked(FsOpRecord rec) {
  ops_.push_back(std::move(rec));
  if (crash_observer_) crash_observer_(SnapshotLocked());
}

std::vector<FsOpRecord> FaultInjectionFileSystem::ops() const {
  absl::MutexLock l(&mu_);
  return ops_;
}

void FaultInjectionFileSystem::ClearOps() {
  absl::MutexLock l(&mu_);
  ops_.clear();
}

uint64_t FaultInjectionFileSystem::sync_count() const {
  absl::MutexLock l(&mu_);
  return sync_count_;
}

void FaultInjectionFileSystem::NoteSynced(const std::string& path) {
  absl::MutexLock l(&mu_);
  std::shared_ptr<Node> node = TrackLocked(path, /*create=*/false);
  if (node == nullptr) return;
  absl::StatusOr<std::string> contents = ReadFileToString(base_.get(), path);
  if (!contents.ok()) return;  // nothing readable to call synced
  node->synced = *std::move(contents);
  ++node->version;
}

// ---- tracking ----

void FaultInjectionFileSystem::NoteDir(const std::string& dir) {
  absl::MutexLock l(&mu_);
  known_dirs_.insert(NormalizeDir(dir));
}

std::shared_ptr<FaultInjectionFileSystem::Node>
FaultInjectionFileSystem::TrackLocked(const std::string& path, bool create) {
  known_dirs_.insert(DirName(path));
  auto it = live_.find(path);
  if (it != live_.end()) return it->second;
  absl::StatusOr<std::string> contents = ReadFileToString(base_.get(), path);
  if (contents.ok()) {
    // Untouched since tracking began: as it is, it is durable.
    auto node = std::make_shared<Node>();
    node->synced = *std::move(contents);
    live_[path] = node;
    durable_.try_emplace(path, node);
    return node;
  }
  if (!absl::IsNotFound(contents.status()) || !create) return nullptr;
  // A new file: empty when synced, and its name is durable only after a
  // SyncDir (no durable_ entry means "durably absent" for a live path).
  auto node = std::make_shared<Node>();
  live_[path] = node;
  return node;
}

absl::StatusOr<FaultInjectionFileSystem::WriteTarget>
FaultInjectionFileSystem::OpenTrackedLocked(
    const std::string& path, absl::FunctionRef<absl::Status()> open_base) {
  BW_RETURN_IF_ERROR(MaybeFailLocked(kOpCreate, path));
  bool was_tracked = live_.contains(path);
  WriteTarget target;
  target.node = TrackLocked(path, /*create=*/true);
  if (absl::Status s = open_base(); !s.ok()) {
    if (!was_tracked) live_.erase(path);
    return s;
  }
  BW_ASSIGN_OR_RETURN(target.reader, base_->NewRandomAccessFile(path));
  if (target.node == nullptr) {
    // Not trackable before the open (unreadable); track what exists now.
    target.node = TrackLocked(path, /*create=*/true);
    if (target.node == nullptr) {
      return absl::InternalError(absl::StrCat(path, ": cannot track file"));
    }
  }
  return target;
}

absl::StatusOr<std::unique_ptr<WritableFile>>
FaultInjectionFileSystem::OpenWritable(const std::string& path, bool truncate) {
  absl::MutexLock l(&mu_);
  std::unique_ptr<WritableFile> file;
  BW_ASSIGN_OR_RETURN(
      WriteTarget target, OpenTrackedLocked(path, [&]() -> absl::Status {
        BW_ASSIGN_OR_RETURN(file, truncate ? base_->NewWritableFile(path)
                                           : base_->NewAppendableFile(path));
        return absl::OkStatus();
      }));
  // Other writers of this file must re-read it at their sync.
  ++target.node->version;
  if (truncate) target.node->write_ends.clear();
  RecordLocked(MakeOpRecord(kOpCreate, path));
  return std::unique_ptr<WritableFile>(
      new FaultWritableFile(this, std::move(file), std::move(target)));
}

absl::Status FaultInjectionFileSystem::NoteSyncLocked(const WriteTarget& target,
                                                      uint64_t keep, FsOp op,
                                                      const std::string& path) {
  Node& node = *target.node;
  BW_ASSIGN_OR_RETURN(std::string tail, ReadFrom(*target.reader, keep));
  node.synced.resize(keep);
  node.synced += tail;
  node.write_ends.clear();
  ++node.version;
  ++sync_count_;
  RecordLocked(MakeOpRecord(op, path));
  return absl::OkStatus();
}

// ---- FileSystem ----

absl::StatusOr<std::unique_ptr<WritableFile>>
FaultInjectionFileSystem::NewWritableFile(const std::string& path) {
  return OpenWritable(path, /*truncate=*/true);
}

absl::StatusOr<std::unique_ptr<WritableFile>>
FaultInjectionFileSystem::NewAppendableFile(const std::string& path) {
  return OpenWritable(path, /*truncate=*/false);
}

absl::StatusOr<std::unique_ptr<RandomAccessFile>>
FaultInjectionFileSystem::NewRandomAccessFile(const std::string& path) {
  NoteDir(DirName(path));
  return WrapReader<FaultRandomAccessFile>(this,
                                           base_->NewRandomAccessFile(path));
}

absl::StatusOr<std::unique_ptr<SequentialFile>>
FaultInjectionFileSystem::NewSequentialFile(const std::string& path) {
  NoteDir(DirName(path));
  return WrapReader<FaultSequentialFile>(this, base_->NewSequentialFile(path));
}

absl::StatusOr<std::unique_ptr<MappedRegion>> FaultInjectionFileSystem::MapFile(
    const std::string& path, size_t size) {
  absl::MutexLock l(&mu_);
  std::unique_ptr<MappedRegion> region;
  BW_ASSIGN_OR_RETURN(
      WriteTarget target, OpenTrackedLocked(path, [&]() -> absl::Status {
        BW_ASSIGN_OR_RETURN(region, base_->MapFile(path, size));
        return absl::OkStatus();
      }));
  ++target.node->version;  // mapping may have grown the file
  RecordLocked(MakeOpRecord(kOpCreate, path));
  return std::unique_ptr<MappedRegion>(
      new FaultMappedRegion(this, std::move(region), std::move(target)));
}

absl::StatusOr<bool> FaultInjectionFileSystem::FileExists(
    const std::string& path) {
  BW_RETURN_IF_ERROR(MaybeFail(kOpExists, path));
  return base_->FileExists(path);
}

absl::StatusOr<uint64_t> FaultInjectionFileSystem::GetFileSize(
    const std::string& path) {
  return base_->GetFileSize(path);
}

absl::StatusOr<std::vector<std::string>> FaultInjectionFileSystem::GetChildren(
    const std::string& dir) {
  NoteDir(dir);
  return base_->GetChildren(dir);
}

absl::Status FaultInjectionFileSystem::CreateDir(const std::string& dir) {
  NoteDir(dir);
  return base_->CreateDir(dir);
}

absl::Status FaultInjectionFileSystem::RemoveFile(const std::string& path) {
  absl::MutexLock l(&mu_);
  BW_RETURN_IF_ERROR(MaybeFailLocked(kOpRemove, path));
  // Tracked first so that, until the directory is synced, the durable name
  // still points at the file's synced contents.
  TrackLocked(path, /*create=*/false);
  BW_RETURN_IF_ERROR(base_->RemoveFile(path));
  live_.erase(path);
  RecordLocked(MakeOpRecord(kOpRemove, path));
  return absl::OkStatus();
}

absl::Status FaultInjectionFileSystem::RemoveDir(const std::string& dir) {
  absl::MutexLock l(&mu_);
  BW_RETURN_IF_ERROR(MaybeFailLocked(kOpRemove, dir));
  BW_RETURN_IF_ERROR(base_->RemoveDir(dir));
  RecordLocked(MakeOpRecord(kOpRemove, dir));
  return absl::OkStatus();
}

absl::Status FaultInjectionFileSystem::RenameFile(const std::string& from,
                                                  const std::string& to) {
  absl::MutexLock l(&mu_);
  BW_RETURN_IF_ERROR(MaybeFailLocked(kOpRename, from));
  TrackLocked(from, /*create=*/false);
  TrackLocked(to, /*create=*/false);  // a replaced file stays durable
  BW_RETURN_IF_ERROR(base_->RenameFile(from, to));
  if (from != to) {
    auto it = live_.find(from);
    if (it != live_.end()) {
      // Copied out first: inserting `to` may rehash and invalidate `it`.
      std::shared_ptr<Node> node = std::move(it->second);
      live_.erase(it);
      live_[to] = std::move(node);
    }
  }
  RecordLocked(MakeOpRecord(kOpRename, from, to));
  return absl::OkStatus();
}

absl::Status FaultInjectionFileSystem::TruncateFile(const std::string& path,
                                                    uint64_t size) {
  absl::MutexLock l(&mu_);
  BW_RETURN_IF_ERROR(MaybeFailLocked(kOpTruncate, path));
  std::shared_ptr<Node> node = TrackLocked(path, /*create=*/false);
  BW_RETURN_IF_ERROR(base_->TruncateFile(path, size));
  if (node != nullptr) ++node->version;
  RecordLocked(MakeOpRecord(kOpTruncate, path, "", size));
  return absl::OkStatus();
}

absl::Status FaultInjectionFileSystem::SyncDir(const std::string& dir) {
  absl::MutexLock l(&mu_);
  BW_RETURN_IF_ERROR(MaybeFailLocked(kOpSyncDir, dir));
  BW_RETURN_IF_ERROR(base_->SyncDir(dir));
  const std::string d = NormalizeDir(dir);
  // The durable entries of d become the live ones.
  std::vector<std::string> paths;
  for (const auto& [path, node] : live_) paths.push_back(path);
  for (const auto& [path, node] : durable_) paths.push_back(path);
  for (const std::string& path : paths) {
    if (DirName(path) != d) continue;
    auto it = live_.find(path);
    if (it != live_.end()) {
      durable_[path] = it->second;
    } else {
      durable_.erase(path);  // removed for good: nothing left to track
    }
  }
  RecordLocked(MakeOpRecord(kOpSyncDir, dir));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<FileLock>> FaultInjectionFileSystem::LockFile(
    const std::string& path) {
  NoteDir(DirName(path));
  return base_->LockFile(path);
}

}  // namespace blockwal
