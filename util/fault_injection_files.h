// The file handles FaultInjectionFileSystem (util/fault_injection_file_system.h)
// hands out: each forwards to the base file system's handle, fails
// operations on demand and records those that change the file. Internal to
// the fault injection file system; not installed.
#ifndef BLOCKWAL_UTIL_FAULT_INJECTION_FILES_H_
#define BLOCKWAL_UTIL_FAULT_INJECTION_FILES_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "blockwal/util/fault_injection_file_system.h"
#include "blockwal/util/file_system.h"

namespace blockwal {

// An operation record (FaultInjectionFileSystem::ops()).
FsOpRecord MakeOpRecord(FsOp op, std::string path, std::string target = "",
                        uint64_t offset = 0, std::string data = "");

class FaultRandomAccessFile final : public RandomAccessFile {
 public:
  FaultRandomAccessFile(FaultInjectionFileSystem* fs,
                        std::unique_ptr<RandomAccessFile> base)
      : fs_(fs), base_(std::move(base)) {}

  absl::StatusOr<absl::string_view> Read(uint64_t offset, size_t n,
                                         char* scratch) const override;
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

  absl::StatusOr<absl::string_view> Read(size_t n, char* scratch) override;
  absl::Status Skip(uint64_t n) override { return base_->Skip(n); }
  const std::string& path() const override { return base_->path(); }

 private:
  FaultInjectionFileSystem* const fs_;
  const std::unique_ptr<SequentialFile> base_;
};

// Appends go straight to the base file; the synced contents of the file's
// node are brought up to date at Sync by reading back only what changed
// since this writer's previous sync (a full read-back per sync would make a
// long log quadratic).
class FaultWritableFile final : public WritableFile {
 public:
  using WriteTarget = FaultInjectionFileSystem::WriteTarget;

  FaultWritableFile(FaultInjectionFileSystem* fs,
                    std::unique_ptr<WritableFile> base, WriteTarget target)
      : fs_(fs), base_(std::move(base)), target_(std::move(target)) {}

  absl::Status Append(absl::string_view data) override;
  absl::Status Flush() override;
  absl::Status Sync() override;
  absl::Status Truncate(uint64_t size) override;
  uint64_t Size() const override { return base_->Size(); }
  absl::Status Close() override { return base_->Close(); }
  const std::string& path() const override { return base_->path(); }

 private:
  static constexpr uint64_t kClean = ~uint64_t{0};

  FaultInjectionFileSystem* const fs_;
  const std::unique_ptr<WritableFile> base_;
  const WriteTarget target_;
  // Lowest file offset written since the last sync by this writer; 0 at first
  // so the first sync reads the whole file.
  uint64_t dirty_from_ = 0;
  uint64_t known_version_ = 0;
};

class FaultMappedRegion final : public MappedRegion {
 public:
  using WriteTarget = FaultInjectionFileSystem::WriteTarget;

  FaultMappedRegion(FaultInjectionFileSystem* fs,
                    std::unique_ptr<MappedRegion> base, WriteTarget target)
      : fs_(fs), base_(std::move(base)), target_(std::move(target)) {}

  char* data() override { return base_->data(); }
  size_t size() const override { return base_->size(); }
  absl::Status Sync() override;
  const std::string& path() const override { return base_->path(); }

 private:
  FaultInjectionFileSystem* const fs_;
  const std::unique_ptr<MappedRegion> base_;
  const WriteTarget target_;
};

}  // namespace blockwal

#endif  // BLOCKWAL_UTIL_FAULT_INJECTION_FILES_H_
