// Recovery of the segmented log (wal/log.h) after a power loss on the
// FaultInjectionFileSystem (LogPowerLossTest, tests/log_recovery_env.h):
// synced records survive, a torn unsynced write keeps whole records, a roll
// seals the old segment before writing the new one, timestamps stay
// non-decreasing, and a failed existence check fails the open.
#include <algorithm>
#include <cerrno>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/log_recovery_env.h"
#include "tests/status_matchers.h"

namespace blockwal::wal {
namespace {

using ::blockwal::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST_F(LogPowerLossTest, SyncedAppendsSurvivePowerLoss) {
  options_.max_index_bytes = 64 * kIndexEntrySize;
  auto log = MustOpen(dir_);
  for (uint64_t i = 0; i < 5; ++i) ASSERT_OK(log->Append(SmallValue(i)));
  ASSERT_OK(log->Sync());
  for (uint64_t i = 5; i < 8; ++i) ASSERT_OK(log->Append(SmallValue(i)));
  env_.PowerLoss(std::move(log));

  auto recovered = MustOpen(dir_);
  EXPECT_EQ(recovered->NextOffset(), 5u);
  EXPECT_FALSE(recovered->recovery_report().clean_shutdown);
  EXPECT_THAT(recovered->recovery_report().damage, IsEmpty());
  for (uint64_t i = 0; i < 5; ++i) {
    std::string scratch;
    ASSERT_OK_AND_ASSIGN(Record r, recovered->Read(i, &scratch));
    EXPECT_EQ(r.value, SmallValue(i));
  }
  ASSERT_OK_AND_ASSIGN(uint64_t offset, recovered->Append("after"));
  EXPECT_EQ(offset, 5u);
}

TEST_F(LogPowerLossTest, TornUnsyncedWriteKeepsSyncedRecordsAndWholeOnes) {
  options_.max_index_bytes = 64 * kIndexEntrySize;
  auto log = MustOpen(dir_);
  for (uint64_t i = 0; i < 3; ++i) ASSERT_OK(log->Append(BigValue(i)));
  ASSERT_OK(log->Sync());
  for (uint64_t i = 3; i < 6; ++i) ASSERT_OK(log->Append(BigValue(i)));
  fault_->FailAfter(kMutatingOps, 0, EIO, /*sticky=*/true);
  log.reset();
  fault_->ClearFailures();
  // Half of the 3072 unsynced bytes: record 3 whole, 512 bytes of record 4.
  ASSERT_OK(fault_->TearUnsyncedData(0.5));
  fault_->ResetState();

  auto recovered = MustOpen(dir_);
  const RecoveryReport& report = recovered->recovery_report();
  EXPECT_EQ(recovered->NextOffset(), 4u);
  // The index is synced only when its segment is sealed: all four entries
  // are rebuilt from the store.
  EXPECT_EQ(report.index_entries_added, 4u);
  EXPECT_EQ(report.torn_bytes_cut, 512u);
  EXPECT_THAT(report.damage, IsEmpty());
  std::string scratch;
  ASSERT_OK_AND_ASSIGN(Record r, recovered->Read(3, &scratch));
  EXPECT_EQ(r.value, BigValue(3));
}

// 9. Rolling seals the old segment before the first byte reaches the new one.
TEST_F(LogPowerLossTest, RollSealsOldSegmentBeforeWritingNewOne) {
  auto log = MustOpen(dir_);
  for (uint64_t i = 0; i < 4; ++i) ASSERT_OK(log->Append(SmallValue(i)));
  fault_->ClearOps();
  ASSERT_OK_AND_ASSIGN(uint64_t offset, log->Append(SmallValue(4)));  // rolls
  ASSERT_EQ(offset, 4u);
  const std::vector<FsOpRecord> ops = fault_->ops();
  const std::string old_store = RecoveryEnv::StorePath(dir_, 0);
  const std::string old_index = RecoveryEnv::IndexPath(dir_, 0);
  const std::string new_store = RecoveryEnv::StorePath(dir_, 4);
  const std::string new_index = RecoveryEnv::IndexPath(dir_, 4);
  auto find = [&](FsOp op, const std::string& path, size_t from = 0,
                  uint64_t offset = ~uint64_t{0}) -> size_t {
    for (size_t i = from; i < ops.size(); ++i) {
      if (ops[i].op == op && ops[i].path == path &&
          (offset == ~uint64_t{0} || ops[i].offset == offset)) {
        return i;
      }
    }
    return ops.size();
  };
  const size_t store_sync = find(kOpSync, old_store);
  const size_t index_msync = find(kOpMapSync, old_index);
  const size_t index_truncate = find(kOpTruncate, old_index, 0, 4 * kIndexEntrySize);
  const size_t index_fsync = find(kOpSync, old_index, index_truncate);
  const size_t new_store_create = find(kOpCreate, new_store);
  const size_t new_index_create = find(kOpCreate, new_index);
  const size_t dir_sync = find(kOpSyncDir, dir_, std::max(new_store_create, new_index_create));
  const size_t first_append = find(kOpAppend, new_store);
  ASSERT_LT(first_append, ops.size());
  EXPECT_LT(store_sync, index_truncate);
  EXPECT_LT(index_msync, index_truncate);
  EXPECT_LT(index_truncate, index_fsync);
  EXPECT_LT(index_fsync, new_index_create);  // sealed before the new segment exists
  EXPECT_LT(index_fsync, new_store_create);
  EXPECT_LT(dir_sync, first_append);
  EXPECT_EQ(find(kOpAppend, old_store), ops.size());  // nothing more to the old one
  for (size_t i = 0; i < store_sync; ++i) {
    EXPECT_NE(ops[i].path, new_store) << i;
    EXPECT_NE(ops[i].path, new_index) << i;
  }

  // Power loss with the new segment's record unsynced: segment 0 whole.
  for (uint64_t i = 5; i < 7; ++i) ASSERT_OK(log->Append(SmallValue(i)));
  env_.PowerLoss(std::move(log));
  auto recovered = MustOpen(dir_);
  EXPECT_EQ(recovered->NextOffset(), 4u);
  EXPECT_EQ(Contents(*recovered),
            (std::vector<std::string>{SmallValue(0), SmallValue(1),
                                      SmallValue(2), SmallValue(3)}));
}

TEST_F(LogPowerLossTest, EverySealedSegmentSurvivesPowerLossWithoutSync) {
  auto log = MustOpen(dir_);
  for (uint64_t i = 0; i < 10; ++i) ASSERT_OK(log->Append(SmallValue(i)));
  ASSERT_EQ(log->Segments().size(), 3u);
  env_.PowerLoss(std::move(log));  // never synced explicitly
  auto recovered = MustOpen(dir_);
  EXPECT_EQ(recovered->NextOffset(), 8u);  // segments 0 and 4 were sealed
  std::vector<std::string> expected;
  for (uint64_t i = 0; i < 8; ++i) expected.push_back(SmallValue(i));
  EXPECT_EQ(Contents(*recovered), expected);
}

// The floor for new timestamps is the newest timestamp of every segment, not
// only the last: when a crash leaves the last segment empty, a clock that went
// back still cannot give a new record a timestamp below the previous one.
TEST_F(LogPowerLossTest, TimestampsStayNonDecreasingWhenCrashEmptiesLastSegment) {
  auto log = MustOpen(dir_);
  for (uint64_t i = 0; i < 5; ++i) ASSERT_OK(log->Append(SmallValue(i)));
  env_.PowerLoss(std::move(log));  // segment 4's one record is lost
  now_us_ = 10;                    // the clock went back
  auto recovered = MustOpen(dir_);
  ASSERT_EQ(recovered->NextOffset(), 4u);
  ASSERT_OK_AND_ASSIGN(uint64_t offset, recovered->Append("after"));
  ASSERT_EQ(offset, 4u);
  std::string scratch;
  ASSERT_OK_AND_ASSIGN(Record previous, recovered->Read(3, &scratch));
  const uint64_t previous_ts = previous.timestamp_us;
  ASSERT_OK_AND_ASSIGN(Record r, recovered->Read(4, &scratch));
  EXPECT_GE(r.timestamp_us, previous_ts);
}

// A failed existence check (EACCES here; EIO alike) is not an answer: Open
// returns the error and changes nothing. Read as "no index", it would rebuild
// the index from the store and write it. Fails each check Open makes in turn
// (the directory, then each segment's index) until Open gets past them all.
TEST_F(LogPowerLossTest, FailedExistenceCheckFailsOpenAndChangesNothing) {
  {
    auto log = MustOpen(dir_);
    for (uint64_t i = 0; i < 6; ++i) ASSERT_OK(log->Append(SmallValue(i)));
    ASSERT_OK(log->Close());  // segments 0 and 4
  }
  const auto before = env_.Snapshot(dir_);
  std::set<std::string> failed_paths;
  for (uint64_t n = 0; n < 50; ++n) {
    fault_->FailAfter(kOpExists, n, EACCES);
    absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(dir_, options_);
    fault_->ClearFailures();
    if (log.ok()) break;  // the n-th check is past the last Open makes
    EXPECT_THAT(log, StatusIs(absl::StatusCode::kPermissionDenied,
                              HasSubstr(": injected existence check failure")));
    EXPECT_THAT(ChangedFiles(before, env_.Snapshot(dir_)), IsEmpty())
        << "check " << n << ": " << log.status();
    const std::string message(log.status().message());
    failed_paths.insert(message.substr(0, message.find(": injected")));
  }
  EXPECT_THAT(failed_paths,
              ::testing::UnorderedElementsAre(dir_,
                                              RecoveryEnv::IndexPath(dir_, 0),
                                              RecoveryEnv::IndexPath(dir_, 4)));
}

}  // namespace
}  // namespace blockwal::wal
