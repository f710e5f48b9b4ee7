// Recovery of the segmented log (wal/log.h) after a clean close and after a
// process kill, on every file-system kind: what Log::Open keeps, what it cuts
// from a torn tail, and the directory lock that keeps a second open out. The
// crash states are made as tests/log_recovery_env.h says.
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/log_recovery_env.h"
#include "tests/status_matchers.h"

namespace blockwal::wal {
namespace {

using ::blockwal::testing::StatusIs;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

INSTANTIATE_TEST_SUITE_P(AllFileSystems, LogRecoveryTest, AllFsKinds(),
                         FsKindParamName);

// ---------------------------------------------------------------- 1. clean

TEST_P(LogRecoveryTest, CleanCloseReopensWithSameOffsetsAndData) {
  options_.max_index_bytes = 4 * kIndexEntrySize;  // segments 0, 4, 8
  {
    auto log = MustOpen(dir_);
    AppendSmall(*log, 0, 10);
    ASSERT_OK(log->Close());
  }
  auto log = MustOpen(dir_);
  const RecoveryReport& report = log->recovery_report();
  EXPECT_TRUE(report.clean_shutdown);
  EXPECT_EQ(report.segments, 3u);
  EXPECT_EQ(report.records, 10u);
  EXPECT_EQ(report.store_bytes, 10 * kSmallRecord);
  EXPECT_EQ(report.indexes_rebuilt, 0u);
  EXPECT_EQ(report.index_entries_added, 0u);
  EXPECT_EQ(report.torn_bytes_cut, 0u);
  EXPECT_EQ(report.records_scanned, 0u);
  EXPECT_EQ(report.batches_cut, 0u);
  EXPECT_THAT(report.damage, IsEmpty());
  EXPECT_THAT(warnings_, IsEmpty());
  EXPECT_EQ(log->LowestOffset(), 0u);
  EXPECT_EQ(log->NextOffset(), 10u);
  ExpectSmallRecords(*log, 0, 10);
  std::string scratch;
  ASSERT_OK_AND_ASSIGN(Record r, log->Read(9, &scratch));
  EXPECT_EQ(r.timestamp_us, 1010u);
  ASSERT_OK_AND_ASSIGN(uint64_t offset, log->Append(SmallValue(10)));
  EXPECT_EQ(offset, 10u);
  ASSERT_OK_AND_ASSIGN(r, log->Read(10, &scratch));
  EXPECT_EQ(r.value, SmallValue(10));
  EXPECT_EQ(r.timestamp_us, 1011u);
}

// The sealed index of an empty segment is an empty file: the zeros the open
// grows it by are not entries, so the reopen is clean and rebuilds nothing.
TEST_P(LogRecoveryTest, CleanCloseOfEmptyLogReopensEmpty) {
  options_.initial_offset = 7;
  ASSERT_OK(MustOpen(dir_)->Close());
  auto log = MustOpen(dir_);
  EXPECT_TRUE(log->recovery_report().clean_shutdown);
  EXPECT_EQ(log->recovery_report().indexes_rebuilt, 0u);
  EXPECT_EQ(log->NextOffset(), 7u);
  EXPECT_EQ(log->HighestOffset(), std::nullopt);
  ASSERT_OK_AND_ASSIGN(uint64_t offset, log->Append("x"));
  EXPECT_EQ(offset, 7u);
}

// ------------------------------------------------------------ 2. killed

TEST_P(LogRecoveryTest, KilledBeforeCloseKeepsEveryRecord) {
  options_.max_index_bytes = 4 * kIndexEntrySize;  // segments 0, 4, 8
  auto log = MustOpen(dir_);
  AppendSmall(*log, 0, 10);
  ASSERT_OK(log->Sync());  // on real files, out of the user-space buffer
  env_.KillCopy(dir_, copy_);
  // The state a kill leaves: the active index full-size, zeros after its two
  // entries; the sealed ones truncated to their entries.
  EXPECT_EQ(env_.Size(IndexFile(8, copy_)), 4 * kIndexEntrySize);
  EXPECT_EQ(env_.Bytes(IndexFile(8, copy_)).substr(2 * kIndexEntrySize),
            std::string(2 * kIndexEntrySize, '\0'));
  EXPECT_EQ(env_.Size(IndexFile(0, copy_)), 4 * kIndexEntrySize);

  auto recovered = MustOpen(copy_);
  const RecoveryReport& report = recovered->recovery_report();
  EXPECT_FALSE(report.clean_shutdown);
  EXPECT_EQ(report.segments, 3u);
  EXPECT_EQ(report.records, 10u);
  EXPECT_EQ(report.indexes_rebuilt, 0u);
  EXPECT_EQ(report.index_entries_added, 0u);
  EXPECT_EQ(report.torn_bytes_cut, 0u);
  EXPECT_THAT(report.damage, IsEmpty());
  EXPECT_EQ(recovered->NextOffset(), 10u);
  ExpectSmallRecords(*recovered, 0, 10);
  ASSERT_OK_AND_ASSIGN(uint64_t offset, recovered->Append(SmallValue(10)));
  EXPECT_EQ(offset, 10u);
  ASSERT_OK(recovered->Close());
  // The clean close truncates the index, so the next open is clean.
  EXPECT_EQ(env_.Size(IndexFile(8, copy_)), 3 * kIndexEntrySize);
  auto again = MustOpen(copy_);
  EXPECT_TRUE(again->recovery_report().clean_shutdown);
  ExpectSmallRecords(*again, 0, 11);
}

// A kill loses what was still in the process: nothing on the in-memory file
// systems, the store's user-space buffer on real files (the index entries,
// written through the mapping, survive and point past the store).
TEST_P(LogRecoveryTest, KillLosesOnlyWhatNeverLeftTheProcess) {
  auto log = MustOpen(dir_);
  AppendSmall(*log, 0, 10);
  ASSERT_OK(log->Sync());
  AppendSmall(*log, 10, 15);
  env_.KillCopy(dir_, copy_);
  auto recovered = MustOpen(copy_);
  const bool buffered = GetParam() == FsKind::kPosix;
  EXPECT_EQ(recovered->NextOffset(), buffered ? 10u : 15u);
  EXPECT_EQ(recovered->recovery_report().indexes_rebuilt, buffered ? 1u : 0u);
  EXPECT_FALSE(recovered->recovery_report().clean_shutdown);
  ExpectSmallRecords(*recovered, 0, recovered->NextOffset());
}

// ------------------------------------------------ 3. torn tail after a kill

TEST_P(LogRecoveryTest, TornLastRecordIsCut) {
  auto log = MustOpen(dir_);
  AppendSmall(*log, 0, 10);
  ASSERT_OK(log->Sync());
  env_.KillCopy(dir_, copy_);
  // The last record's header and 13 of its 25 other bytes reached the disk.
  env_.TruncateTo(Store(0, copy_), 9 * kSmallRecord + 20);

  auto recovered = MustOpen(copy_);
  const RecoveryReport& report = recovered->recovery_report();
  EXPECT_EQ(recovered->NextOffset(), 9u);
  EXPECT_EQ(report.torn_bytes_cut, 20u);
  EXPECT_EQ(report.store_bytes, 9 * kSmallRecord);
  EXPECT_EQ(report.indexes_rebuilt, 1u);  // entry 9 pointed at the torn record
  EXPECT_THAT(report.damage, IsEmpty());  // a torn write is not damage
  EXPECT_THAT(warnings_,
              Contains(AllOf(HasSubstr(Store(0, copy_)), HasSubstr("cut 20 bytes"),
                             HasSubstr("position 288"))));
  EXPECT_EQ(env_.Size(Store(0, copy_)), 9 * kSmallRecord);
  ExpectSmallRecords(*recovered, 0, 9);
  ASSERT_OK_AND_ASSIGN(uint64_t offset, recovered->Append(SmallValue(9)));
  EXPECT_EQ(offset, 9u);
  ASSERT_OK(recovered->Close());
  auto again = MustOpen(copy_);
  EXPECT_TRUE(again->recovery_report().clean_shutdown);
  ExpectSmallRecords(*again, 0, 10);
}

TEST_P(LogRecoveryTest, TornHeaderIsCut) {
  auto log = MustOpen(dir_);
  AppendSmall(*log, 0, 10);
  ASSERT_OK(log->Sync());
  env_.KillCopy(dir_, copy_);
  env_.TruncateTo(Store(0, copy_), 9 * kSmallRecord + 3);
  auto recovered = MustOpen(copy_);
  EXPECT_EQ(recovered->NextOffset(), 9u);
  EXPECT_EQ(recovered->recovery_report().torn_bytes_cut, 3u);
  ExpectSmallRecords(*recovered, 0, 9);
}

TEST_P(LogRecoveryTest, ZerosAfterLastRecordAreCut) {
  auto log = MustOpen(dir_);
  AppendSmall(*log, 0, 10);
  ASSERT_OK(log->Sync());
  env_.KillCopy(dir_, copy_);
  env_.AppendTo(Store(0, copy_), std::string(100, '\0'));  // preallocation

  auto recovered = MustOpen(copy_);
  const RecoveryReport& report = recovered->recovery_report();
  EXPECT_EQ(recovered->NextOffset(), 10u);
  EXPECT_EQ(report.torn_bytes_cut, 100u);
  EXPECT_THAT(report.damage, IsEmpty());
  EXPECT_EQ(env_.Size(Store(0, copy_)), 10 * kSmallRecord);
  ExpectSmallRecords(*recovered, 0, 10);
  ASSERT_OK_AND_ASSIGN(uint64_t offset, recovered->Append(SmallValue(10)));
  EXPECT_EQ(offset, 10u);
  EXPECT_EQ(ReadValue(*recovered, 10), SmallValue(10));
}

TEST_P(LogRecoveryTest, GarbageAfterLastRecordIsCutAndReported) {
  auto log = MustOpen(dir_);
  AppendSmall(*log, 0, 10);
  ASSERT_OK(log->Sync());
  env_.KillCopy(dir_, copy_);
  // A plausible header (length 10, FULL) with a wrong checksum, then junk.
  std::string garbage("\xde\xad\xbe\xef\x0a\x00\x01", 7);
  garbage += std::string(93, '\x55');
  ASSERT_EQ(garbage.size(), 100u);
  env_.AppendTo(Store(0, copy_), garbage);

  auto recovered = MustOpen(copy_);
  const RecoveryReport& report = recovered->recovery_report();
  EXPECT_EQ(recovered->NextOffset(), 10u);
  EXPECT_EQ(report.torn_bytes_cut, 100u);
  ASSERT_THAT(report.damage, SizeIs(1));
  EXPECT_EQ(report.damage[0].file, Store(0, copy_));
  EXPECT_EQ(report.damage[0].position, 10 * kSmallRecord);
  EXPECT_EQ(report.damage[0].bytes, 100u);
  EXPECT_EQ(report.damage[0].reason, "checksum mismatch");
  ExpectSmallRecords(*recovered, 0, 10);
}

// Garbage whose length field runs past the end of the file looks exactly
// like a torn write: cut silently.
TEST_P(LogRecoveryTest, GarbageWithHugeLengthAfterLastRecordIsCutSilently) {
  auto log = MustOpen(dir_);
  AppendSmall(*log, 0, 10);
  ASSERT_OK(log->Sync());
  env_.KillCopy(dir_, copy_);
  env_.AppendTo(Store(0, copy_), std::string(50, '\xab'));
  auto recovered = MustOpen(copy_);
  EXPECT_EQ(recovered->NextOffset(), 10u);
  EXPECT_EQ(recovered->recovery_report().torn_bytes_cut, 50u);
  EXPECT_THAT(recovered->recovery_report().damage, IsEmpty());
}

// ----------------------------------------------------------- 8. lock

TEST_P(LogRecoveryTest, SecondOpenOfSameDirectoryIsUnavailable) {
  auto log = MustOpen(dir_);
  EXPECT_THAT(Open(dir_), StatusIs(absl::StatusCode::kUnavailable,
                                   AllOf(HasSubstr(dir_), HasSubstr("in use"))));
  // The refused open changed nothing.
  AppendSmall(*log, 0, 2);
  ASSERT_OK(log->Close());
  auto reopened = MustOpen(dir_);
  ExpectSmallRecords(*reopened, 0, 2);
}

TEST(LogLockTest, OpenHeldByAnotherProcessIsUnavailable) {
  RecoveryEnv env(FsKind::kPosix);
  const std::string dir = env.Dir("log");
  LogOptions options;
  int to_parent[2], to_child[2];
  ASSERT_EQ(::pipe(to_parent), 0);
  ASSERT_EQ(::pipe(to_child), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // The child opens the log, reports, waits, and dies holding it.
    absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(dir, options);
    char c = log.ok() ? 'k' : 'e';
    (void)!::write(to_parent[1], &c, 1);
    (void)!::read(to_child[0], &c, 1);
    ::_exit(0);
  }
  char c = 0;
  ASSERT_EQ(::read(to_parent[0], &c, 1), 1);
  ASSERT_EQ(c, 'k');
  EXPECT_THAT(Log::Open(dir, options),
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr(dir), HasSubstr("another process"))));
  ASSERT_EQ(::write(to_child[1], "x", 1), 1);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  for (int fd : {to_parent[0], to_parent[1], to_child[0], to_child[1]}) ::close(fd);
  // The lock died with its process.
  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(dir, options);
  EXPECT_OK(log);
}

}  // namespace
}  // namespace blockwal::wal
