// DB (db/db.h): construction, reads, checkpoints, Sync, Close and stats.
// Open and recovery are in db_recover.cc, the write path in db_write.cc.
#include "blockwal/db/db.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "blockwal/db/checkpoint.h"
#include "blockwal/db/memtable.h"
#include "blockwal/db/merge.h"
#include "blockwal/util/status_macros.h"

namespace blockwal::db {

DB::DB(std::string dir, Options options)
    : dir_(std::move(dir)),
      options_(std::move(options)),
      mem_(std::make_unique<MemTable>()) {}

DB::~DB() {
  // Errors cannot be returned from here; callers who care call Close().
  const absl::Status s = Close();
  (void)s;
}

absl::StatusOr<std::string> DB::Get(absl::string_view key) const {
  auto not_found = [key] {
    return absl::NotFoundError(absl::StrCat("key '", key, "' not found"));
  };
  std::shared_ptr<const MemTable> imm;
  std::shared_ptr<const CheckpointTable> base;
  {
    absl::ReaderMutexLock l(&mu_);
    if (const std::optional<std::string>* e = mem_->Find(key)) {
      if (!e->has_value()) return not_found();  // deleted
      return **e;
    }
    imm = imm_;
    base = base_;
  }
  // imm and base no longer change: read them without mu_.
  if (imm != nullptr) {
    if (const std::optional<std::string>* e = imm->Find(key)) {
      if (!e->has_value()) return not_found();
      return **e;
    }
  }
  if (base != nullptr) {
    BW_ASSIGN_OR_RETURN(std::optional<std::string> value, base->Get(key));
    if (value.has_value()) return *std::move(value);
  }
  return not_found();
}

absl::StatusOr<std::vector<KeyValue>> DB::Scan(absl::string_view start,
                                               absl::string_view limit) const {
  std::vector<KeyValue> out;
  if (!limit.empty() && limit <= start) return out;
  MemTable::Map mem;  // the memtable's pairs in range, copied under mu_
  std::shared_ptr<const MemTable> imm;
  std::shared_ptr<const CheckpointTable> base;
  {
    absl::ReaderMutexLock l(&mu_);
    const MemTable::Map& map = mem_->map();
    mem.insert(map.lower_bound(start),
               limit.empty() ? map.end() : map.lower_bound(limit));
    imm = imm_;
    base = base_;
  }
  BW_RETURN_IF_ERROR(MergeWithBase(
      Overlay(mem, imm.get(), start, limit), base.get(), start, limit,
      [&out](absl::string_view key, absl::string_view value) {
        out.emplace_back(key, value);
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<std::vector<KeyValue>> DB::ScanPrefix(
    absl::string_view prefix) const {
  return Scan(prefix, PrefixLimit(prefix));
}

void DB::UnfreezeLocked() {
  if (imm_ == nullptr) return;
  for (const auto& [key, value] : imm_->map()) {
    if (mem_->Find(key) != nullptr) continue;  // newer
    if (value.has_value()) {
      mem_->Put(key, *value);
    } else {
      mem_->Delete(key);  // mem_ keeps tombstones while imm_ exists
    }
  }
  imm_.reset();
}

absl::StatusOr<CheckpointInfo> DB::Checkpoint() {
  absl::MutexLock checkpoint_lock(&checkpoint_mu_);
  // Shared for the whole checkpoint: the WAL is not replaced under it.
  absl::ReaderMutexLock log_lock(&log_mu_);
  std::shared_ptr<const MemTable> frozen;
  std::shared_ptr<const CheckpointTable> base;
  uint64_t offset;
  uint64_t bytes_at_snapshot;
  {
    absl::MutexLock l(&mu_);
    BW_RETURN_IF_ERROR(CheckWritable());
    // Freeze the memtable (no copy): it holds exactly the records below
    // `offset` on top of base_. New writes go to a fresh one, which keeps
    // deletions since there is now something below it.
    frozen = std::make_shared<const MemTable>(std::move(*mem_));
    *mem_ = MemTable(/*keep_tombstones=*/true);
    imm_ = frozen;
    base = base_;
    offset = next_apply_;
    bytes_at_snapshot = bytes_since_checkpoint_;
  }
  // Until the new checkpoint is in place, a failure puts the frozen entries
  // back under the memtable.
  absl::Cleanup unfreeze = [this] {
    absl::MutexLock l(&mu_);
    UnfreezeLocked();
  };
  // Step 1: the WAL records the checkpoint covers become durable, so after a
  // crash the WAL never ends before the newest checkpoint's offset (new
  // appends would otherwise reuse offsets the checkpoint claims).
  BW_RETURN_IF_ERROR(CheckpointWalStep(log_->Sync()));
  // Step 2: CHECKPOINT-<offset>.tmp holds base merged with the frozen
  // memtable; sync, rename, sync the directory.
  BW_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointBuilder> builder,
                      CheckpointBuilder::Create(options_.fs, dir_, offset));
  BW_RETURN_IF_ERROR(MergeWithBase(
      Overlay(frozen->map(), nullptr, "", ""), base.get(), "", "",
      [&builder](absl::string_view key, absl::string_view value) {
        return builder->Add(key, value);
      }));
  BW_ASSIGN_OR_RETURN(CheckpointInfo info, builder->Finish());
  BW_ASSIGN_OR_RETURN(std::shared_ptr<const CheckpointTable> written,
                      CheckpointTable::Open(options_.fs, info.path,
                                            options_.checkpoint_cache_bytes));
  {
    // From here the new checkpoint is the store's: the bookkeeping says so
    // even if removing what it made redundant fails below (the next
    // Checkpoint removes it then).
    absl::MutexLock l(&mu_);
    base_ = std::move(written);
    imm_.reset();
    bytes_since_checkpoint_ -=
        std::min(bytes_since_checkpoint_, bytes_at_snapshot);
    ++checkpoints_;
    last_checkpoint_ = info.path;
  }
  std::move(unfreeze).Cancel();
  // Step 3: the WAL segments wholly below the offset go.
  BW_RETURN_IF_ERROR(CheckpointWalStep(log_->TruncatePrefix(offset)));
  // Step 4: older checkpoints go (a damaged newer one too: this one is
  // newer than anything it covered).
  BW_RETURN_IF_ERROR(RemoveCheckpointsExcept(offset));
  return info;
}

absl::Status DB::RemoveCheckpointsExcept(uint64_t keep) {
  BW_ASSIGN_OR_RETURN(std::vector<std::string> children,
                      options_.fs->GetChildren(dir_));
  bool removed = false;
  for (const std::string& name : children) {
    std::optional<uint64_t> n = ParseCheckpointFileName(name);
    if (!n.has_value() || *n == keep) continue;
    BW_RETURN_IF_ERROR(options_.fs->RemoveFile(JoinPath(dir_, name)));
    removed = true;
  }
  if (!removed) return absl::OkStatus();
  return options_.fs->SyncDir(dir_);
}

absl::Status DB::CheckWritable() const {
  if (options_.read_only) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir_, ": store is open read-only"));
  }
  if (closed_) return absl::FailedPreconditionError(dir_ + ": DB is closed");
  return error_;
}

absl::Status DB::Sync() {
  absl::ReaderMutexLock log_lock(&log_mu_);
  {
    absl::ReaderMutexLock l(&mu_);
    if (options_.read_only) return CheckWritable();
    if (closed_) return absl::FailedPreconditionError(dir_ + ": DB is closed");
    if (log_ == nullptr) return error_;
  }
  return log_->Sync();
}

absl::Status DB::Close() {
  {
    absl::MutexLock l(&mu_);
    if (closed_) {
      return absl::FailedPreconditionError(dir_ + ": DB is already closed");
    }
    closed_ = true;
  }
  absl::Status s;
  {
    absl::ReaderMutexLock log_lock(&log_mu_);
    if (log_ != nullptr) {
      s = log_->Close();
    } else {
      absl::ReaderMutexLock l(&mu_);
      s = error_;  // a reopen after a full disk failed: no WAL is open
    }
  }
  lock_.reset();
  return s;
}

absl::StatusOr<Stats> DB::GetStats() const {
  Stats stats;
  absl::ReaderMutexLock log_lock(&log_mu_);
  if (log_ != nullptr) {  // else a reopen after a full disk failed: zeros
    stats.wal_first_offset = log_->LowestOffset();
    stats.wal_next_offset = log_->NextOffset();
    stats.wal_segments = log_->Segments().size();
  }
  absl::ReaderMutexLock l(&mu_);
  BW_ASSIGN_OR_RETURN(stats.keys, CountKeys(*mem_, imm_.get(), base_.get()));
  stats.checkpoint_keys = base_ != nullptr ? base_->info().keys : 0;
  stats.memtable_entries = mem_->size() + (imm_ != nullptr ? imm_->size() : 0);
  stats.approximate_bytes =
      mem_->ApproximateBytes() + (imm_ != nullptr ? imm_->ApproximateBytes() : 0);
  stats.wal_bytes_since_checkpoint = bytes_since_checkpoint_;
  stats.writes = writes_;
  stats.wal_reopens = wal_reopens_;
  stats.checkpoints = checkpoints_;
  stats.last_checkpoint = last_checkpoint_;
  stats.auto_checkpoint_status = auto_checkpoint_status_;
  return stats;
}

}  // namespace blockwal::db
