// wal::RepairLog (wal/repair.h) on the in-memory file system: the exact
// result of each kind of repair, the backup, and the lock held throughout.
//
// The logs have records of 1 000-byte values: 7 + 17 + 1000 = 1 024 bytes
// each, so record i starts at 1024 * i and 32 fill a block.
#include "blockwal/wal/repair.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "blockwal/util/fault_injection_file_system.h"
#include "blockwal/util/file_system.h"
#include "blockwal/util/mem_file_system.h"
#include "blockwal/wal/log.h"
#include "blockwal/wal/segment.h"

namespace blockwal::wal {
namespace {

using ::blockwal::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr uint64_t kRecordBytes = 1024;

// Records every listing of the log directory and whether its LOCK could be
// taken at that moment (it must not: RepairLog holds it).
class LockProbeFileSystem : public FaultInjectionFileSystem {
 public:
  explicit LockProbeFileSystem(std::string dir)
      : FaultInjectionFileSystem(NewMemFileSystem()), dir_(std::move(dir)) {}

  absl::StatusOr<std::vector<std::string>> GetChildren(
      const std::string& dir) override {
    if (probing_ && dir == dir_) {
      absl::StatusOr<std::unique_ptr<FileLock>> lock =
          FaultInjectionFileSystem::LockFile(JoinPath(dir_, kLockFileName));
      listings_.push_back(lock.ok() ? "unlocked"
                                    : std::string(absl::StatusCodeToString(
                                          lock.status().code())));
    }
    return FaultInjectionFileSystem::GetChildren(dir);
  }

  bool probing_ = false;
  std::vector<std::string> listings_;

 private:
  const std::string dir_;
};

class RepairLogTest : public ::testing::Test {
 protected:
  RepairLogTest() : fs_(dir_) {
    EXPECT_OK(fs_.CreateDir("/root"));
    options_.fs = &fs_;
    repair_.log_options = options_;
  }

  // Appends `n` records of 1 000 bytes ('a' + i) and closes the log.
  void WriteLog(int n, SyncPolicy policy = SyncPolicy::kNone) {
    LogOptions options = options_;
    options.sync_policy = policy;
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Log> log, Log::Open(dir_, options));
    for (int i = 0; i < n; ++i) {
      ASSERT_OK(
          log->Append(std::string(1000, static_cast<char>('a' + i % 26))));
    }
    ASSERT_OK(log->Close());
  }
  std::string Read(const std::string& path) {
    absl::StatusOr<std::string> data = ReadFileToString(&fs_, path);
    EXPECT_OK(data);
    return data.ok() ? *data : "";
  }
  void FlipByte(const std::string& path, uint64_t position) {
    std::string data = Read(path);
    data[position] ^= 0x40;
    ASSERT_OK(WriteStringToFile(&fs_, data, path, false));
  }
  std::string Store(uint64_t base = 0) const {
    return JoinPath(dir_, SegmentFileName(base, kStoreSuffix));
  }
  std::string Index(uint64_t base = 0) const {
    return JoinPath(dir_, SegmentFileName(base, kIndexSuffix));
  }
  // The names in /root besides the log.
  std::vector<std::string> Siblings() {
    absl::StatusOr<std::vector<std::string>> names = fs_.GetChildren("/root");
    EXPECT_OK(names);
    std::vector<std::string> out;
    for (const std::string& n : names.value_or(std::vector<std::string>{})) {
      if (n != "log") out.push_back(n);
    }
    return out;
  }

  const std::string dir_ = "/root/log";
  LockProbeFileSystem fs_;
  LogOptions options_;
  RepairOptions repair_;
};

TEST_F(RepairLogTest,
       DamageThatNoSyncedRecordFollowsIsCutAndTheLogVerifiesClean) {
  ASSERT_NO_FATAL_FAILURE(WriteLog(40));
  FlipByte(Store(), 10 * kRecordBytes + 30);  // record 10's value
  const std::string store_before = Read(Store());
  const std::string index_before = Read(Index());

  ASSERT_OK_AND_ASSIGN(const RepairResult r, RepairLog(dir_, repair_));
  EXPECT_TRUE(r.clean());
  EXPECT_TRUE(absl::StartsWith(r.backup, "/root/log.repair-backup-"))
      << r.backup;
  EXPECT_EQ(Read(JoinPath(r.backup, SegmentFileName(0, kStoreSuffix))),
            store_before);
  EXPECT_EQ(Read(JoinPath(r.backup, SegmentFileName(0, kIndexSuffix))),
            index_before);
  EXPECT_EQ(r.mode, RecoveryMode::kPointInTime);
  // The index vouched for the damaged record: without it recovery reads the
  // store in full and sees the damage.
  EXPECT_THAT(r.indexes_removed, ElementsAre(Index()));
  EXPECT_OK(r.recovery);
  EXPECT_OK(r.status);
  EXPECT_EQ(r.report.torn_bytes_cut, 30 * kRecordBytes);
  EXPECT_EQ(r.report.index_entries_added, 10u);
  ASSERT_EQ(r.report.damage.size(), 1u);
  EXPECT_EQ(r.report.damage[0].position, 10 * kRecordBytes);
  EXPECT_EQ(r.before.first, 0u);
  EXPECT_EQ(r.before.next, 40u);
  EXPECT_EQ(r.after.first, 0u);
  EXPECT_EQ(r.after.next, 10u);
  EXPECT_EQ(r.records_kept, 10u);
  EXPECT_EQ(r.records_skipped, 0u);
  EXPECT_EQ(r.records_cut, 30u);
  ASSERT_EQ(r.bytes_cut.size(), 1u);
  EXPECT_EQ(r.bytes_cut[0].file, Store());
  EXPECT_EQ(r.bytes_cut[0].begin, 10 * kRecordBytes);
  EXPECT_EQ(r.bytes_cut[0].end, 40 * kRecordBytes);
  EXPECT_TRUE(r.remaining.empty());
  EXPECT_EQ(Read(Store()), store_before.substr(0, 10 * kRecordBytes));
  EXPECT_THAT(Siblings(), ElementsAre(r.backup.substr(6)));
}

// A synced record after the damage, hidden from a reader (in the rest of
// the damaged block) but reached through the index: the index stays, so
// recovery keeps everything and the damage is reported.
TEST_F(RepairLogTest, DamageThatSyncedRecordsFollowIsKeptAndReported) {
  ASSERT_NO_FATAL_FAILURE(
      WriteLog(40, SyncPolicy::kEveryAppend));  // all marked
  FlipByte(Store(), 10 * kRecordBytes + 30);
  const std::string store_before = Read(Store());
  const std::string index_before = Read(Index());

  ASSERT_OK_AND_ASSIGN(const RepairResult r, RepairLog(dir_, repair_));
  EXPECT_FALSE(r.clean());
  EXPECT_TRUE(r.indexes_removed.empty());
  EXPECT_OK(r.recovery);
  EXPECT_OK(r.status);
  EXPECT_EQ(r.before.next, 40u);
  EXPECT_EQ(r.after.next, 40u);
  EXPECT_EQ(r.records_kept, 39u);
  EXPECT_EQ(r.records_skipped, 1u);
  EXPECT_EQ(r.records_cut, 0u);
  EXPECT_TRUE(r.bytes_cut.empty());
  ASSERT_EQ(r.remaining.size(), 1u);
  EXPECT_EQ(r.remaining[0].problem.file, Store());
  EXPECT_EQ(r.remaining[0].problem.position, 10 * kRecordBytes);
  EXPECT_EQ(r.remaining[0].reason, RemainingReason::kNotRepaired);
  EXPECT_THAT(r.remaining[0].why, HasSubstr("may have been, synced"));
  EXPECT_EQ(Read(Store()), store_before);
  EXPECT_EQ(Read(Index()), index_before);
}

// Recovery refuses (the last record of a sealed segment is damaged, so its
// cheap check fails): the index removed for rebuilding is put back.
TEST_F(RepairLogTest, RefusedRecoveryPutsRemovedIndexesBack) {
  options_.max_index_bytes = 4 * kIndexEntrySize;  // segments 0, 4, 8
  repair_.log_options = options_;
  ASSERT_NO_FATAL_FAILURE(WriteLog(10));
  FlipByte(Index(0), kIndexEntrySize + 6);    // wrong, its store intact
  FlipByte(Store(4), 3 * kRecordBytes + 30);  // record 7, sealed, last
  const std::string index_before = Read(Index(0));
  const std::string store_before = Read(Store(4));

  ASSERT_OK_AND_ASSIGN(const RepairResult r, RepairLog(dir_, repair_));
  EXPECT_FALSE(r.clean());
  EXPECT_THAT(r.indexes_removed, ElementsAre(Index(0)));
  EXPECT_THAT(r.recovery,
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr(absl::StrCat(
                           Store(4), ": checksum mismatch at position 3072"))));
  EXPECT_OK(r.status);
  EXPECT_EQ(r.after.next, r.before.next);
  EXPECT_EQ(r.records_kept + r.records_skipped + r.records_cut, 0u);
  // The index, the damaged record, and the chain to segment 8 it breaks.
  ASSERT_EQ(r.remaining.size(), 3u);
  EXPECT_EQ(r.remaining[0].problem.file, Index(0));
  EXPECT_EQ(r.remaining[0].problem.position, kIndexEntrySize);
  EXPECT_EQ(r.remaining[1].problem.file, Store(4));
  EXPECT_EQ(r.remaining[1].problem.position, 3 * kRecordBytes);
  EXPECT_EQ(r.remaining[2].problem.file, Store(8));
  EXPECT_EQ(r.remaining[2].problem.position, 0u);
  for (const RemainingProblem& p : r.remaining) {
    EXPECT_EQ(p.reason, RemainingReason::kRecoveryRefused);
    EXPECT_THAT(p.why,
                HasSubstr("recovery in point-in-time mode refused the log, "
                          "so nothing was repaired: "));
  }
  EXPECT_EQ(Read(Index(0)), index_before);
  EXPECT_EQ(Read(Store(4)), store_before);
}

// The cause of "records skipped: 0" (issue 13): skip-mode recovery does not
// read records the index vouches for, so its report counts none; RepairLog
// counts what reads as data loss.
TEST_F(RepairLogTest, ForceCountsDamagedRecordsTheIndexVouchesFor) {
  ASSERT_NO_FATAL_FAILURE(WriteLog(40, SyncPolicy::kEveryAppend));
  FlipByte(Store(), 10 * kRecordBytes + 30);
  const std::string store_before = Read(Store());
  const std::string index_before = Read(Index());
  repair_.force = true;

  ASSERT_OK_AND_ASSIGN(const RepairResult r, RepairLog(dir_, repair_));
  EXPECT_FALSE(r.clean());
  EXPECT_EQ(r.mode, RecoveryMode::kSkipAnyCorruptedRecords);
  EXPECT_TRUE(r.indexes_removed.empty());
  EXPECT_OK(r.recovery);
  EXPECT_OK(r.status);
  EXPECT_EQ(r.report.records_skipped, 0u);  // what walctl used to print
  EXPECT_EQ(r.after.next, 40u);
  EXPECT_EQ(r.records_kept, 39u);
  EXPECT_EQ(r.records_skipped, 1u);
  EXPECT_EQ(r.records_cut, 0u);
  EXPECT_TRUE(r.bytes_cut.empty());
  ASSERT_EQ(r.remaining.size(), 1u);
  EXPECT_EQ(r.remaining[0].problem.file, Store());
  EXPECT_EQ(r.remaining[0].problem.position, 10 * kRecordBytes);
  EXPECT_EQ(r.remaining[0].reason, RemainingReason::kRecordsSkipped);
  EXPECT_EQ(Read(Store()), store_before);
  EXPECT_EQ(Read(Index()),
            index_before);  // sealed by the clean close: as it was
}

TEST_F(RepairLogTest, WrongIndexOfAnIntactStoreIsRebuilt) {
  options_.max_index_bytes = 4 * kIndexEntrySize;  // segments 0, 4, 8
  repair_.log_options = options_;
  ASSERT_NO_FATAL_FAILURE(WriteLog(10));
  const std::string index_before = Read(Index(0));
  FlipByte(Index(0), kIndexEntrySize + 6);  // entry 1's position

  ASSERT_OK_AND_ASSIGN(const RepairResult r, RepairLog(dir_, repair_));
  EXPECT_TRUE(r.clean());
  EXPECT_THAT(r.indexes_removed, ElementsAre(Index(0)));
  EXPECT_EQ(r.report.indexes_rebuilt, 1u);
  EXPECT_EQ(r.report.index_entries_added, 4u);
  EXPECT_EQ(r.records_kept, 10u);
  EXPECT_EQ(r.records_cut, 0u);
  EXPECT_EQ(Read(Index(0)), index_before);
}

TEST_F(RepairLogTest, HoldsTheLockFromBeforeTheBackupToTheVerification) {
  ASSERT_NO_FATAL_FAILURE(WriteLog(3));
  FlipByte(Store(), 2 * kRecordBytes + 30);  // the last record: a damaged tail
  int opens_tried = 0;
  repair_.on_backup_done = [&](const std::string& backup) {
    EXPECT_THAT(fs_.FileExists(backup),
                ::blockwal::testing::IsOkAndHolds(true));
    // A writer between the backup and the recovery is kept out.
    EXPECT_THAT(Log::Open(dir_, options_),
                StatusIs(absl::StatusCode::kUnavailable, HasSubstr("in use")));
    ++opens_tried;
  };
  fs_.probing_ = true;
  ASSERT_OK_AND_ASSIGN(const RepairResult r, RepairLog(dir_, repair_));
  fs_.probing_ = false;
  EXPECT_TRUE(r.clean());
  // A damaged last record is no record the log is known to have held: only
  // its bytes count as cut.
  EXPECT_EQ(r.records_cut, 0u);
  ASSERT_EQ(r.bytes_cut.size(), 1u);
  EXPECT_EQ(r.bytes_cut[0].begin, 2 * kRecordBytes);
  EXPECT_EQ(r.bytes_cut[0].end, 3 * kRecordBytes);
  EXPECT_EQ(opens_tried, 1);
  // Every listing of the directory, from the first inspection through the
  // backup and recovery to the verification after the close, found the
  // lock taken.
  ASSERT_GE(fs_.listings_.size(), 4u);
  for (const std::string& l : fs_.listings_) EXPECT_EQ(l, "UNAVAILABLE");
  // Released at the end.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Log> log, Log::Open(dir_, options_));
  EXPECT_EQ(log->NextOffset(), 2u);
}

TEST_F(RepairLogTest, LogInUseIsUnavailableAndNothingIsBackedUp) {
  ASSERT_NO_FATAL_FAILURE(WriteLog(3));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Log> log, Log::Open(dir_, options_));
  EXPECT_THAT(RepairLog(dir_, repair_),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr(dir_)));
  EXPECT_TRUE(Siblings().empty());
}

TEST_F(RepairLogTest, MissingDirectoryIsNotFound) {
  EXPECT_THAT(RepairLog("/root/none", repair_),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/root/none")));
  EXPECT_TRUE(Siblings().empty());
}

}  // namespace
}  // namespace blockwal::wal
