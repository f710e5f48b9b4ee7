// What the log recovery tests (tests/log_recovery_*_test.cc) share: the file
// systems they run on, RecoveryEnv (a scratch root on one of them, with the
// helpers that make crash states and damage files), segments crafted byte by
// byte, and the fixtures used by more than one of those files:
// LogRecoveryTest (every file-system kind) and LogPowerLossTest.
//
// How the crash states are made
//   Process kill: a killed process leaves every byte it handed to the OS
//   (written store bytes, index entries stored through the mapping) but
//   nothing still in its user-space buffers, and never runs Close: the last
//   index stays full-size with a zero tail. A Log cannot be destroyed without
//   closing it, so KillCopy() copies the files of a live log, as the file
//   system holds them, into a second directory; the copy is exactly what the
//   kill leaves, and the original keeps its lock. On the in-memory file
//   systems every write reaches "the OS" at once; on real files the store's
//   user-space buffer (64 KiB) is lost unless the log was synced.
//   Power loss: only synced bytes survive. PowerLoss() makes every mutating
//   operation of the FaultInjectionFileSystem fail before the Log is
//   destroyed (so its Close changes nothing: it is the crash), then drops
//   unsynced data and undoes unsynced directory changes, and "reboots".
//   Damage: bytes of the (closed or copied) files are edited directly.
#ifndef BLOCKWAL_TESTS_LOG_RECOVERY_ENV_H_
#define BLOCKWAL_TESTS_LOG_RECOVERY_ENV_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "tests/scratch_dir.h"
#include "tests/status_matchers.h"
#include "blockwal/util/fault_injection_file_system.h"
#include "blockwal/util/file_system.h"
#include "blockwal/wal/format.h"
#include "blockwal/wal/index.h"
#include "blockwal/wal/log.h"
#include "blockwal/wal/record.h"
#include "blockwal/wal/segment.h"

namespace blockwal::wal {

// Every operation that changes a file or a directory.
constexpr uint32_t kMutatingOps = kOpAll & ~(kOpRead | kOpExists);

// "value-07": 8 bytes, so a record takes header + envelope + 8 = 32 bytes
// and record i of a segment starts at 32 * i (all in block 0).
inline std::string SmallValue(uint64_t i) {
  return absl::StrFormat("value-%02d", i);
}
constexpr uint64_t kSmallRecord = kHeaderSize + kEnvelopeSize + 8;
static_assert(kSmallRecord == 32);

// 1000 bytes, so a record takes 1024 bytes and exactly 32 fill a block:
// record i starts at 1024 * i, records 0..31 in block 0, 32..63 in block 1.
inline std::string BigValue(uint64_t i) {
  return absl::StrFormat("big-%04d", i) +
         std::string(992, static_cast<char>('a' + i % 26));
}
constexpr uint64_t kBigRecord = kHeaderSize + kEnvelopeSize + 1000;
static_assert(kBigRecord == 1024 && kBlockSize % kBigRecord == 0);

enum class FsKind { kMem, kFault, kPosix };

std::string FsKindName(FsKind kind);
void PrintTo(FsKind kind, std::ostream* os);

// Every file-system kind, and the test-name suffix of each, for
// INSTANTIATE_TEST_SUITE_P.
inline auto AllFsKinds() {
  return ::testing::Values(FsKind::kMem, FsKind::kFault, FsKind::kPosix);
}
std::string FsKindParamName(const ::testing::TestParamInfo<FsKind>& info);

// A file system of the given kind with a scratch root directory, plus the
// helpers every recovery test needs.
class RecoveryEnv {
 public:
  explicit RecoveryEnv(FsKind kind);

  FileSystem* fs() const { return fs_; }
  FaultInjectionFileSystem* fault() const { return fault_; }
  std::string Dir(absl::string_view name) const { return JoinPath(root_, name); }

  static std::string StorePath(const std::string& dir, uint64_t base) {
    return JoinPath(dir, SegmentFileName(base, kStoreSuffix));
  }
  static std::string IndexPath(const std::string& dir, uint64_t base) {
    return JoinPath(dir, SegmentFileName(base, kIndexSuffix));
  }

  std::string Bytes(const std::string& path) const;
  uint64_t Size(const std::string& path) const;
  void SetBytes(const std::string& path, absl::string_view data) const;
  void TruncateTo(const std::string& path, uint64_t size) const;
  void Overwrite(const std::string& path, uint64_t position,
                 absl::string_view with) const;
  void AppendTo(const std::string& path, absl::string_view more) const;
  void FlipBit(const std::string& path, uint64_t position) const;
  // Zeroes index entries from `first` on, keeping the file's size: what a
  // crash leaves when the pages holding those entries never reached disk.
  void ZeroIndexEntriesFrom(const std::string& path, uint64_t first) const;

  // The state a process killed right now leaves: every file of `from` as the
  // file system holds it (the LOCK file aside) copied to the new directory
  // `to`. Done while the log in `from` is open; see the file comment.
  void KillCopy(const std::string& from, const std::string& to) const;

  // Every file of `dir` and its bytes (to check that something left a
  // directory untouched).
  std::vector<std::pair<std::string, std::string>> Snapshot(
      const std::string& dir) const;

  // Power loss on the FaultInjectionFileSystem while `log` is open: the log
  // is destroyed with every mutating operation failing (its Close cannot
  // write anything), then only synced data and synced directory entries
  // remain, and the file system "reboots".
  void PowerLoss(std::unique_ptr<Log> log) const;

 private:
  std::unique_ptr<FileSystem> owned_fs_;
  FaultInjectionFileSystem* fault_ = nullptr;  // owned by owned_fs_
  FileSystem* fs_ = nullptr;
  std::optional<::blockwal::testing::ScratchDir> scratch_;  // kPosix's root
  std::string root_;
};

// The offset the LAST_TRUNCATION file of `dir` names (the first offset the
// last TruncateSuffix removed), or "error: <status>".
std::string LastTruncation(FileSystem* fs, const std::string& dir);

// A record written straight into a store, bypassing the Log, to make states
// the Log cannot make yet (sync markers) or only by crashing (a cut batch).
struct CraftedRecord {
  std::string value;
  uint8_t flags = 0;
};

// Writes `<base>.store` in `dir` holding `records` at offsets base, base+1,
// ... (timestamps 1000 + i), and `<base>.index` with entries for the first
// `indexed` records. Returns the records' positions.
std::vector<uint64_t> CraftSegment(FileSystem* fs, const std::string& dir,
                                   uint64_t base,
                                   const std::vector<CraftedRecord>& records,
                                   uint64_t indexed);

// The names of the files that differ between two snapshots of a directory
// (RecoveryEnv::Snapshot): changed, added or removed.
std::vector<std::string> ChangedFiles(
    const std::vector<std::pair<std::string, std::string>>& before,
    const std::vector<std::pair<std::string, std::string>>& after);

// The fixture of the tests that run on every file-system kind. Each test file
// that uses it instantiates it:
//   INSTANTIATE_TEST_SUITE_P(AllFileSystems, LogRecoveryTest, AllFsKinds(),
//                            FsKindParamName);
class LogRecoveryTest : public ::testing::TestWithParam<FsKind> {
 protected:
  LogRecoveryTest() : env_(GetParam()) {
    options_.fs = env_.fs();
    options_.max_index_bytes = 64 * kIndexEntrySize;
    options_.clock_us = [this] { return ++now_us_; };
    options_.warning_sink = [this](const std::string& w) {
      warnings_.push_back(w);
    };
  }

  FileSystem* fs() { return env_.fs(); }
  std::string Store(uint64_t base, const std::string& dir) {
    return RecoveryEnv::StorePath(dir, base);
  }
  std::string IndexFile(uint64_t base, const std::string& dir) {
    return RecoveryEnv::IndexPath(dir, base);
  }

  absl::StatusOr<std::unique_ptr<Log>> Open(const std::string& dir) {
    return Log::Open(dir, options_);
  }
  std::unique_ptr<Log> MustOpen(const std::string& dir) {
    absl::StatusOr<std::unique_ptr<Log>> log = Open(dir);
    EXPECT_OK(log);
    return log.ok() ? *std::move(log) : nullptr;
  }

  void AppendSmall(Log& log, uint64_t from, uint64_t to) {
    for (uint64_t i = from; i < to; ++i) {
      absl::StatusOr<uint64_t> offset = log.Append(SmallValue(i));
      ASSERT_OK(offset);
      ASSERT_EQ(*offset, i);
    }
  }

  // The value at `offset`, or "error: <status>".
  static std::string ReadValue(const Log& log, uint64_t offset) {
    std::string scratch;
    absl::StatusOr<Record> r = log.Read(offset, &scratch);
    if (!r.ok()) return "error: " + r.status().ToString();
    if (r->offset != offset) return absl::StrCat("wrong offset ", r->offset);
    return std::string(r->value);
  }
  static void ExpectSmallRecords(const Log& log, uint64_t from, uint64_t to) {
    for (uint64_t i = from; i < to; ++i) {
      EXPECT_EQ(ReadValue(log, i), SmallValue(i)) << "offset " << i;
    }
  }

  RecoveryEnv env_;
  LogOptions options_;
  uint64_t now_us_ = 1000;
  std::vector<std::string> warnings_;
  const std::string dir_ = env_.Dir("log");
  const std::string copy_ = env_.Dir("copy");
};

// The fixture of the power-loss tests: a log of 4-record segments on the
// FaultInjectionFileSystem.
class LogPowerLossTest : public ::testing::Test {
 protected:
  LogPowerLossTest() : env_(FsKind::kFault), fault_(env_.fault()) {
    options_.fs = fault_;
    options_.max_index_bytes = 4 * kIndexEntrySize;
    options_.clock_us = [this] { return ++now_us_; };
  }

  std::unique_ptr<Log> MustOpen(const std::string& dir) {
    absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(dir, options_);
    EXPECT_OK(log);
    return log.ok() ? *std::move(log) : nullptr;
  }

  // The log's state as offsets and values (checks contiguity).
  static std::vector<std::string> Contents(const Log& log) {
    std::vector<std::string> out;
    for (uint64_t i = log.LowestOffset(); i < log.NextOffset(); ++i) {
      std::string scratch;
      absl::StatusOr<Record> r = log.Read(i, &scratch);
      out.push_back(r.ok() ? std::string(r->value)
                           : "error: " + r.status().ToString());
    }
    return out;
  }

  RecoveryEnv env_;
  FaultInjectionFileSystem* const fault_;
  LogOptions options_;
  uint64_t now_us_ = 1000;
  const std::string dir_ = env_.Dir("log");
};

}  // namespace blockwal::wal

#endif  // BLOCKWAL_TESTS_LOG_RECOVERY_ENV_H_
