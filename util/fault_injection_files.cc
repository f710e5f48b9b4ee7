// The file handles of the fault injection file system
// (util/fault_injection_files.h).
#include "blockwal/util/fault_injection_files.h"

#include <algorithm>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "blockwal/util/status_macros.h"

namespace blockwal {

absl::Status FaultWritableFile::Append(absl::string_view data) {
  BW_RETURN_IF_ERROR(fs_->MaybeFail(kOpAppend, path()));
  uint64_t offset = base_->Size();
  // A failed append may still have written a prefix (a full disk): the
  // file is dirty from `offset` either way.
  dirty_from_ = std::min(dirty_from_, offset);
  BW_RETURN_IF_ERROR(base_->Append(data));
  absl::MutexLock l(&fs_->mu_);
  target_.node->write_ends.push_back(offset + data.size());
  fs_->RecordLocked(
      MakeOpRecord(kOpAppend, path(), "", offset, std::string(data)));
  return absl::OkStatus();
}

absl::Status FaultWritableFile::Flush() {
  BW_RETURN_IF_ERROR(fs_->MaybeFail(kOpFlush, path()));
  return base_->Flush();
}

absl::Status FaultWritableFile::Sync() {
  BW_RETURN_IF_ERROR(fs_->MaybeFail(kOpSync, path()));
  BW_RETURN_IF_ERROR(base_->Sync());
  absl::MutexLock l(&fs_->mu_);
  // The node's synced contents equal the file up to dirty_from_ only if
  // nobody else changed the node since this writer last synced it.
  if (target_.node->version != known_version_) dirty_from_ = 0;
  const uint64_t keep =
      std::min<uint64_t>(dirty_from_, target_.node->synced.size());
  BW_RETURN_IF_ERROR(fs_->NoteSyncLocked(target_, keep, kOpSync, path()));
  known_version_ = target_.node->version;
  dirty_from_ = kClean;
  return absl::OkStatus();
}

absl::Status FaultWritableFile::Truncate(uint64_t size) {
  BW_RETURN_IF_ERROR(fs_->MaybeFail(kOpTruncate, path()));
  uint64_t before = base_->Size();
  BW_RETURN_IF_ERROR(base_->Truncate(size));
  // Shrinking changes nothing below `size`; growing zero-fills from the
  // old end.
  dirty_from_ = std::min({dirty_from_, size, before});
  fs_->Record(MakeOpRecord(kOpTruncate, path(), "", size));
  return absl::OkStatus();
}

// msync makes the whole file durable as it is now (the mapping covers the
// bytes written through it; the rest of the file is whatever it holds).
absl::Status FaultMappedRegion::Sync() {
  BW_RETURN_IF_ERROR(fs_->MaybeFail(kOpMapSync, path()));
  BW_RETURN_IF_ERROR(base_->Sync());
  absl::MutexLock l(&fs_->mu_);
  return fs_->NoteSyncLocked(target_, /*keep=*/0, kOpMapSync, path());
}

}  // namespace blockwal
