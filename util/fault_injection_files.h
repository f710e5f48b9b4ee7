// The file handles FaultInjectionFileSystem (util/fault_injection_file_system.h)
// hands out: each forwards to the base file system's handle, fails
// operations on demand and records those that change the file. Internal to
// the fault injection file system; not installed.
#ifndef BLOCKWAL_UTIL_FAULT_INJECTION_FILES_H_
#define BLOCKWAL_UTIL_FAULT_INJECTION_FILES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "blockwal/util/fault_injection_file_system.h"
#include "blockwal/util/file_system.h"
#include "blockwal/util/status_macros.h"

namespace blockwal {

// An operation record (FaultInjectionFileSystem::ops()).
FsOpRecord MakeOpRecord(FsOp op, std::string path, std::string target = "",
                        uint64_t offset = 0, std::string data = "");

// What every handle here holds: the file system, which fails and records
// operations, and the base file system's handle it forwards to.
template <typename File>
class FaultFile : public File {
 public:
  FaultFile(FaultInjectionFileSystem* fs, std::unique_ptr<File> base)
      : fs_(fs), base_(std::move(base)) {}

  const std::string& path() const override { return base_->path(); }

 protected:
  FaultInjectionFileSystem* const fs_;
  const std::unique_ptr<File> base_;
};

class FaultRandomAccessFile final : public FaultFile<RandomAccessFile> {
 public:
  using FaultFile::FaultFile;

  absl::StatusOr<absl::string_view> Read(uint64_t offset, size_t n,
                                         char* scratch) const override {
    BW_RETURN_IF_ERROR(fs_->MaybeFail(kOpRead, path()));
    return base_->Read(offset, n, scratch);
  }
  absl::StatusOr<uint64_t> Size() const override { return base_->Size(); }
};

class FaultSequentialFile final : public FaultFile<SequentialFile> {
 public:
  using FaultFile::FaultFile;

  absl::StatusOr<absl::string_view> Read(size_t n, char* scratch) override {
    BW_RETURN_IF_ERROR(fs_->MaybeFail(kOpRead, path()));
    return base_->Read(n, scratch);
  }
  absl::Status Skip(uint64_t n) override { return base_->Skip(n); }
};

// A handle that writes a tracked file (a writable file or a mapping): also
// the node its syncs bring up to date.
template <typename File>
class FaultWriteFile : public FaultFile<File> {
 public:
  FaultWriteFile(FaultInjectionFileSystem* fs, std::unique_ptr<File> base,
                 FaultInjectionFileSystem::WriteTarget target)
      : FaultFile<File>(fs, std::move(base)), target_(std::move(target)) {}

 protected:
  const FaultInjectionFileSystem::WriteTarget target_;
};

// Appends go straight to the base file; the synced contents of the file's
// node are brought up to date at Sync by reading back only what changed
// since this writer's previous sync (a full read-back per sync would make a
// long log quadratic).
class FaultWritableFile final : public FaultWriteFile<WritableFile> {
 public:
  using FaultWriteFile::FaultWriteFile;

  absl::Status Append(absl::string_view data) override;
  absl::Status Flush() override;
  absl::Status Sync() override;
  absl::Status Truncate(uint64_t size) override;
  uint64_t Size() const override { return base_->Size(); }
  absl::Status Close() override { return base_->Close(); }

 private:
  static constexpr uint64_t kClean = ~uint64_t{0};

  // Lowest file offset written since the last sync by this writer; 0 at first
  // so the first sync reads the whole file.
  uint64_t dirty_from_ = 0;
  uint64_t known_version_ = 0;
};

class FaultMappedRegion final : public FaultWriteFile<MappedRegion> {
 public:
  using FaultWriteFile::FaultWriteFile;

  char* data() override { return base_->data(); }
  size_t size() const override { return base_->size(); }
  absl::Status Sync() override;
};

}  // namespace blockwal

#endif  // BLOCKWAL_UTIL_FAULT_INJECTION_FILES_H_
