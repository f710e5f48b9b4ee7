// A file system for tests of group commit: a FaultInjectionFileSystem over a
// MemFileSystem whose file syncs can be held at a gate.
#ifndef BLOCKWAL_TESTS_GATED_FILE_SYSTEM_H_
#define BLOCKWAL_TESTS_GATED_FILE_SYSTEM_H_

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "blockwal/util/fault_injection_file_system.h"
#include "blockwal/util/file_system.h"
#include "blockwal/util/mem_file_system.h"

namespace blockwal {

class GatedFileSystem;

// Forwards to a file of the base; Sync first passes the gate.
class GatedWritableFile final : public WritableFile {
 public:
  GatedWritableFile(GatedFileSystem* fs, std::unique_ptr<WritableFile> base)
      : fs_(fs), base_(std::move(base)) {}
  absl::Status Append(absl::string_view data) override {
    return base_->Append(data);
  }
  absl::Status Flush() override { return base_->Flush(); }
  absl::Status Sync() override;
  absl::Status Truncate(uint64_t size) override { return base_->Truncate(size); }
  uint64_t Size() const override { return base_->Size(); }
  absl::Status Close() override { return base_->Close(); }
  const std::string& path() const override { return base_->path(); }

 private:
  GatedFileSystem* const fs_;
  const std::unique_ptr<WritableFile> base_;
};

// A FaultInjectionFileSystem whose store syncs can be held at a gate: while
// it is closed, a group-commit leader blocks in its fdatasync, and appenders
// that arrive meanwhile queue behind it and form the next group.
class GatedFileSystem : public FaultInjectionFileSystem {
 public:
  GatedFileSystem() : FaultInjectionFileSystem(NewMemFileSystem()) {}

  void CloseGate() {
    std::lock_guard<std::mutex> lock(gate_mu_);
    closed_ = true;
  }
  void OpenGate() {
    {
      std::lock_guard<std::mutex> lock(gate_mu_);
      closed_ = false;
    }
    gate_cv_.notify_all();
  }
  // Waits until `n` syncs are blocked at the gate.
  void AwaitBlocked(int n) {
    std::unique_lock<std::mutex> lock(gate_mu_);
    gate_cv_.wait(lock, [&] { return blocked_ >= n; });
  }
  void Pass() {
    std::unique_lock<std::mutex> lock(gate_mu_);
    ++blocked_;
    gate_cv_.notify_all();
    gate_cv_.wait(lock, [&] { return !closed_; });
    --blocked_;
  }

  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(
      const std::string& path) override {
    return Wrap(FaultInjectionFileSystem::NewWritableFile(path));
  }
  absl::StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(
      const std::string& path) override {
    return Wrap(FaultInjectionFileSystem::NewAppendableFile(path));
  }

 private:
  absl::StatusOr<std::unique_ptr<WritableFile>> Wrap(
      absl::StatusOr<std::unique_ptr<WritableFile>> file) {
    if (!file.ok()) return file.status();
    return std::unique_ptr<WritableFile>(
        new GatedWritableFile(this, *std::move(file)));
  }

  // A std::mutex, not an absl::Mutex: TSan sees it fully, while the TSan
  // build's interposer (util/tsan_absl_mutex.cc) does not cover the reads an
  // absl::Condition makes inside Await.
  std::mutex gate_mu_;
  std::condition_variable gate_cv_;
  bool closed_ = false;  // guarded by gate_mu_
  int blocked_ = 0;      // guarded by gate_mu_
};

inline absl::Status GatedWritableFile::Sync() {
  fs_->Pass();
  return base_->Sync();
}

}  // namespace blockwal

#endif  // BLOCKWAL_TESTS_GATED_FILE_SYSTEM_H_
