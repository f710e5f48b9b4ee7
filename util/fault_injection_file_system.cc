#include "blockwal/util/fault_injection_file_system.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
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

FsOpRecord Rec(FsOp op, std::string path, std::string target = "",
               uint64_t offset = 0, std::string data = "") {
  FsOpRecord r;
  r.op = op;
  r.path = std::move(path);
  r.target = std::move(target);
  r.offset = offset;
  r.data = std::move(data);
  return r;
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

class FaultRandomAccessFile final : public RandomAccessFile {
 public:
  FaultRandomAccessFile(FaultInjectionFileSystem* fs,
                        std::unique_ptr<RandomAccessFile> base)
      : fs_(fs), base_(std::move(base)) {}

  absl::StatusOr<absl::string_view> Read(uint64_t offset, size_t n,
                                         char* scratch) const override {
    BW_RETURN_IF_ERROR(fs_->MaybeFail(kOpRead, path()));
    return base_->Read(offset, n, scratch);
  }
  absl::StatusOr<uint64_t> Size() const override { return base_->Size(); }
  const std::string& path() const override { return base_->path(); }

 private:
  FaultInjectionFileSystem* const fs_;
  const std::unique_ptr<RandomAccessFile> base_;
};

class FaultSequentialFile final : public SequentialFile {
 public:
  FaultSequentialFile(FaultInjectionFileSystem* fs,
                      std::unique_ptr<SequentialFile> base)
      : fs_(fs), base_(std::move(base)) {}

  absl::StatusOr<absl::string_view> Read(size_t n, char* scratch) override {
    BW_RETURN_IF_ERROR(fs_->MaybeFail(kOpRead, path()));
    return base_->Read(n, scratch);
  }
  absl::Status Skip(uint64_t n) override { return base_->Skip(n); }
  const std::string& path() const override { return base_->path(); }

 private:
  FaultInjectionFileSystem* const fs_;
  const std::unique_ptr<SequentialFile> base_;
};

}  // namespace

// Appends go straight to the base file; the synced contents of the file's
// node are brought up to date at Sync by reading back only what changed
// since this writer's previous sync (a full read-back per sync would make a
// long log quadratic).
class FaultWritableFile final : public WritableFile {
 public:
  using Node = FaultInjectionFileSystem::Node;

  FaultWritableFile(FaultInjectionFileSystem* fs,
                    std::unique_ptr<WritableFile> base,
                    std::unique_ptr<RandomAccessFile> reader,
                    std::shared_ptr<Node> node)
      : fs_(fs),
        base_(std::move(base)),
        reader_(std::move(reader)),
        node_(std::move(node)) {}

  absl::Status Append(absl::string_view data) override {
    BW_RETURN_IF_ERROR(fs_->MaybeFail(kOpAppend, path()));
    uint64_t offset = base_->Size();
    // A failed append may still have written a prefix (a full disk): the
    // file is dirty from `offset` either way.
    dirty_from_ = std::min(dirty_from_, offset);
    BW_RETURN_IF_ERROR(base_->Append(data));
    absl::MutexLock l(&fs_->mu_);
    node_->write_ends.push_back(offset + data.size());
    fs_->RecordLocked(Rec(kOpAppend, path(), "", offset, std::string(data)));
    return absl::OkStatus();
  }

  absl::Status Flush() override {
    BW_RETURN_IF_ERROR(fs_->MaybeFail(kOpFlush, path()));
    return base_->Flush();
  }

  absl::Status Sync() override {
    BW_RETURN_IF_ERROR(fs_->MaybeFail(kOpSync, path()));
    BW_RETURN_IF_ERROR(base_->Sync());
    absl::MutexLock l(&fs_->mu_);
    // node_->synced equals the file up to dirty_from_ only if nobody else
    // changed the node since this writer last synced it.
    if (node_->version != known_version_) dirty_from_ = 0;
    uint64_t keep = std::min<uint64_t>(dirty_from_, node_->synced.size());
    BW_ASSIGN_OR_RETURN(std::string tail, ReadFrom(*reader_, keep));
    node_->synced.resize(keep);
    node_->synced += tail;
    node_->write_ends.clear();
    known_version_ = ++node_->version;
    dirty_from_ = kClean;
    ++fs_->sync_count_;
    fs_->RecordLocked(Rec(kOpSync, path()));
    return absl::OkStatus();
  }

  absl::Status Truncate(uint64_t size) override {
    BW_RETURN_IF_ERROR(fs_->MaybeFail(kOpTruncate, path()));
    uint64_t before = base_->Size();
    BW_RETURN_IF_ERROR(base_->Truncate(size));
    // Shrinking changes nothing below `size`; growing zero-fills from the
    // old end.
    dirty_from_ = std::min({dirty_from_, size, before});
    fs_->Record(Rec(kOpTruncate, path(), "", size));
    return absl::OkStatus();
  }

  uint64_t Size() const override { return base_->Size(); }
  absl::Status Close() override { return base_->Close(); }
  const std::string& path() const override { return base_->path(); }

 private:
  static constexpr uint64_t kClean = ~uint64_t{0};

  FaultInjectionFileSystem* const fs_;
  const std::unique_ptr<WritableFile> base_;
  // An independent handle on the same base file, to read back what a sync
  // made durable.
  const std::unique_ptr<RandomAccessFile> reader_;
  const std::shared_ptr<Node> node_;
  // Lowest file offset written since the last sync by this writer; 0 at first
  // so the first sync reads the whole file.
  uint64_t dirty_from_ = 0;
  uint64_t known_version_ = 0;
};

class FaultMappedRegion final : public MappedRegion {
 public:
  using Node = FaultInjectionFileSystem::Node;

  FaultMappedRegion(FaultInjectionFileSystem* fs,
                    std::unique_ptr<MappedRegion> base,
                    std::unique_ptr<RandomAccessFile> reader,
                    std::shared_ptr<Node> node)
      : fs_(fs),
        base_(std::move(base)),
        reader_(std::move(reader)),
        node_(std::move(node)) {}

  char* data() override { return base_->data(); }
  size_t size() const override { return base_->size(); }

  // msync makes the whole file durable as it is now (the mapping covers the
  // bytes written through it; the rest of the file is whatever it holds).
  absl::Status Sync() override {
    BW_RETURN_IF_ERROR(fs_->MaybeFail(kOpMapSync, path()));
    BW_RETURN_IF_ERROR(base_->Sync());
    absl::MutexLock l(&fs_->mu_);
    BW_ASSIGN_OR_RETURN(node_->synced, ReadFrom(*reader_, 0));
    node_->write_ends.clear();
    ++node_->version;
    ++fs_->sync_count_;
    fs_->RecordLocked(Rec(kOpMapSync, path()));
    return absl::OkStatus();
  }

  const std::string& path() const override { return base_->path(); }

 private:
  FaultInjectionFileSystem* const fs_;
  const std::unique_ptr<MappedRegion> base_;
  const std::unique_ptr<RandomAccessFile> reader_;
  const std::shared_ptr<Node> node_;
};

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

void FaultInjectionFileSystem::SetCrashObserver(
    std::function<void(const CrashSnapshot&)> observer) {
  absl::MutexLock l(&mu_);
  crash_observer_ = std::move(observer);
}

CrashSnapshot FaultInjectionFileSystem::Snapshot() {
  absl::MutexLock l(&mu_);
  return SnapshotLocked();
}

CrashSnapshot FaultInjectionFileSystem::SnapshotLocked() {
  CrashSnapshot snap;
  absl::flat_hash_map<const Node*, size_t> index;
  // A node's current contents are its live file's; a node with no live name
  // (removed, or renamed away and replaced) keeps its synced contents.
  auto file_of = [&](const std::shared_ptr<Node>& node,
                     const std::string* live_path) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto [it, inserted] = index.try_emplace(node.get(), snap.files.size());
    if (inserted) {
      CrashSnapshot::File f;
      f.synced = node->synced;
      f.current = node->synced;
      f.write_ends = node->write_ends;
      snap.files.push_back(std::move(f));
    }
    if (live_path != nullptr) {
      absl::StatusOr<std::string> now = ReadFileToString(base_.get(), *live_path);
      if (now.ok()) snap.files[it->second].current = *std::move(now);
    }
    return it->second;
  };
  for (const auto& [path, node] : live_) {
    snap.live[path] = file_of(node, &path);
  }
  for (const auto& [path, node] : durable_) {
    if (node != nullptr) snap.durable[path] = file_of(node, nullptr);
  }
  // Live names whose creation is not durable are absent from durable_ (see
  // TrackLocked); untouched files are in neither.
  for (const std::string& dir : known_dirs_) {
    absl::StatusOr<std::vector<std::string>> children = base_->GetChildren(dir);
    if (!children.ok()) continue;
    for (const std::string& name : *children) {
      std::string path = JoinPath(dir, name);
      if (live_.contains(path) || durable_.contains(path)) continue;
      absl::StatusOr<std::string> contents = ReadFileToString(base_.get(), path);
      if (!contents.ok()) continue;  // a subdirectory
      CrashSnapshot::File f;
      f.synced = *contents;
      f.current = *std::move(contents);
      snap.live[path] = snap.durable[path] = snap.files.size();
      snap.files.push_back(std::move(f));
    }
  }
  return snap;
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

absl::StatusOr<std::unique_ptr<WritableFile>>
FaultInjectionFileSystem::OpenWritable(const std::string& path, bool truncate) {
  absl::MutexLock l(&mu_);
  BW_RETURN_IF_ERROR(MaybeFailLocked(kOpCreate, path));
  bool was_tracked = live_.contains(path);
  std::shared_ptr<Node> node = TrackLocked(path, /*create=*/true);
  absl::StatusOr<std::unique_ptr<WritableFile>> file =
      truncate ? base_->NewWritableFile(path) : base_->NewAppendableFile(path);
  if (!file.ok()) {
    if (!was_tracked) live_.erase(path);
    return file.status();
  }
  BW_ASSIGN_OR_RETURN(std::unique_ptr<RandomAccessFile> reader,
                      base_->NewRandomAccessFile(path));
  if (node == nullptr) {
    // Not trackable before the open (unreadable); track what exists now.
    node = TrackLocked(path, /*create=*/true);
    if (node == nullptr) {
      return absl::InternalError(absl::StrCat(path, ": cannot track file"));
    }
  }
  ++node->version;  // other writers of this file must re-read at their sync
  if (truncate) node->write_ends.clear();
  RecordLocked(Rec(kOpCreate, path));
  return std::unique_ptr<WritableFile>(new FaultWritableFile(
      this, *std::move(file), std::move(reader), std::move(node)));
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
  BW_ASSIGN_OR_RETURN(std::unique_ptr<RandomAccessFile> file,
                      base_->NewRandomAccessFile(path));
  return std::unique_ptr<RandomAccessFile>(
      new FaultRandomAccessFile(this, std::move(file)));
}

absl::StatusOr<std::unique_ptr<SequentialFile>>
FaultInjectionFileSystem::NewSequentialFile(const std::string& path) {
  NoteDir(DirName(path));
  BW_ASSIGN_OR_RETURN(std::unique_ptr<SequentialFile> file,
                      base_->NewSequentialFile(path));
  return std::unique_ptr<SequentialFile>(
      new FaultSequentialFile(this, std::move(file)));
}

absl::StatusOr<std::unique_ptr<MappedRegion>> FaultInjectionFileSystem::MapFile(
    const std::string& path, size_t size) {
  absl::MutexLock l(&mu_);
  BW_RETURN_IF_ERROR(MaybeFailLocked(kOpCreate, path));
  bool was_tracked = live_.contains(path);
  std::shared_ptr<Node> node = TrackLocked(path, /*create=*/true);
  absl::StatusOr<std::unique_ptr<MappedRegion>> region = base_->MapFile(path, size);
  if (!region.ok()) {
    if (!was_tracked) live_.erase(path);
    return region.status();
  }
  BW_ASSIGN_OR_RETURN(std::unique_ptr<RandomAccessFile> reader,
                      base_->NewRandomAccessFile(path));
  if (node == nullptr) {
    node = TrackLocked(path, /*create=*/true);
    if (node == nullptr) {
      return absl::InternalError(absl::StrCat(path, ": cannot track file"));
    }
  }
  ++node->version;  // mapping may have grown the file
  RecordLocked(Rec(kOpCreate, path));
  return std::unique_ptr<MappedRegion>(new FaultMappedRegion(
      this, *std::move(region), std::move(reader), std::move(node)));
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
  RecordLocked(Rec(kOpRemove, path));
  return absl::OkStatus();
}

absl::Status FaultInjectionFileSystem::RemoveDir(const std::string& dir) {
  absl::MutexLock l(&mu_);
  BW_RETURN_IF_ERROR(MaybeFailLocked(kOpRemove, dir));
  BW_RETURN_IF_ERROR(base_->RemoveDir(dir));
  RecordLocked(Rec(kOpRemove, dir));
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
  RecordLocked(Rec(kOpRename, from, to));
  return absl::OkStatus();
}

absl::Status FaultInjectionFileSystem::TruncateFile(const std::string& path,
                                                    uint64_t size) {
  absl::MutexLock l(&mu_);
  BW_RETURN_IF_ERROR(MaybeFailLocked(kOpTruncate, path));
  std::shared_ptr<Node> node = TrackLocked(path, /*create=*/false);
  BW_RETURN_IF_ERROR(base_->TruncateFile(path, size));
  if (node != nullptr) ++node->version;
  RecordLocked(Rec(kOpTruncate, path, "", size));
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
  RecordLocked(Rec(kOpSyncDir, dir));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<FileLock>> FaultInjectionFileSystem::LockFile(
    const std::string& path) {
  NoteDir(DirName(path));
  return base_->LockFile(path);
}

// ---- crash simulation ----

template <typename KeepFn>
absl::Status FaultInjectionFileSystem::RewriteTrackedFiles(KeepFn keep) {
  absl::MutexLock l(&mu_);
  for (const auto& [path, node] : live_) {
    absl::StatusOr<std::string> current = ReadFileToString(base_.get(), path);
    if (absl::IsNotFound(current.status())) continue;  // removed behind our back
    BW_RETURN_IF_ERROR(current.status());
    std::string kept = keep(*current, node->synced);
    if (kept != *current) {
      BW_RETURN_IF_ERROR(WriteStringToFile(base_.get(), kept, path, /*sync=*/false));
    }
    node->write_ends.clear();
    ++node->version;
  }
  return absl::OkStatus();
}

absl::Status FaultInjectionFileSystem::DropUnsyncedData() {
  return RewriteTrackedFiles(
      [](const std::string& current, const std::string& synced) { return synced; });
}

absl::Status FaultInjectionFileSystem::TearUnsyncedData(double keep_fraction) {
  keep_fraction = std::clamp(keep_fraction, 0.0, 1.0);
  return RewriteTrackedFiles([keep_fraction](const std::string& current,
                                             const std::string& synced) {
    // Only a file that grew past its synced contents has a torn tail; any
    // other unsynced change (rewrite, truncation) is simply lost.
    if (current.size() <= synced.size() ||
        current.compare(0, synced.size(), synced) != 0) {
      return synced;
    }
    uint64_t unsynced = current.size() - synced.size();
    uint64_t end = synced.size() + static_cast<uint64_t>(keep_fraction * unsynced);
    end -= end % kSectorSize;
    end = std::max<uint64_t>(end, synced.size());  // synced bytes never go
    return current.substr(0, end);
  });
}

absl::Status FaultInjectionFileSystem::DeleteFilesCreatedAfterLastDirSync() {
  absl::MutexLock l(&mu_);
  auto durable_node = [this](const std::string& path) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = durable_.find(path);
    return it == durable_.end() ? nullptr : it->second;
  };
  // Live names that a crash would not keep: created, or renamed into place,
  // since the last SyncDir of their directory.
  std::vector<std::string> doomed;
  for (const auto& [path, node] : live_) {
    if (durable_node(path) != node) doomed.push_back(path);
  }
  for (const std::string& path : doomed) {
    absl::Status s = base_->RemoveFile(path);
    if (!s.ok() && !absl::IsNotFound(s)) return s;
    live_.erase(path);
  }
  // Durable names a crash would bring back (removed, renamed away or
  // replaced since the last SyncDir), with their synced contents.
  for (const auto& [path, node] : durable_) {
    if (node == nullptr || live_.contains(path)) continue;
    BW_RETURN_IF_ERROR(
        WriteStringToFile(base_.get(), node->synced, path, /*sync=*/false));
    live_[path] = node;
    ++node->version;
  }
  return absl::OkStatus();
}

void FaultInjectionFileSystem::ResetState() {
  absl::MutexLock l(&mu_);
  live_.clear();
  durable_.clear();
}

}  // namespace blockwal
