// Recovery of the segmented log (wal/log.h) around batches, on every
// file-system kind: a batch cut off by a kill is removed whole, a whole batch
// survives, and TruncateSuffix inside a batch keeps the records up to the
// last one kept (LAST_TRUNCATION says they are whole).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/log_recovery_env.h"
#include "tests/status_matchers.h"

namespace blockwal::wal {
namespace {

using ::blockwal::testing::IsOkAndHolds;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

INSTANTIATE_TEST_SUITE_P(AllFileSystems, LogRecoveryTest, AllFsKinds(),
                         FsKindParamName);

// ---------------------------------------------------------- batches cut

TEST_P(LogRecoveryTest, BatchCutByCrashIsRemovedWhole) {
  auto log = MustOpen(dir_);
  AppendSmall(*log, 0, 3);
  std::vector<std::string> values = {"batch-03", "batch-04", "batch-05",
                                     "batch-06", "batch-07"};
  std::vector<absl::string_view> views(values.begin(), values.end());
  ASSERT_OK_AND_ASSIGN(uint64_t first, log->AppendBatch(views));
  ASSERT_EQ(first, 3u);
  ASSERT_OK(log->Sync());
  env_.KillCopy(dir_, copy_);
  // Records 3, 4 and 5 of the batch and half of 6 reached the store.
  env_.TruncateTo(Store(0, copy_), 6 * kSmallRecord + 16);

  auto recovered = MustOpen(copy_);
  const RecoveryReport& report = recovered->recovery_report();
  EXPECT_EQ(recovered->NextOffset(), 3u);
  EXPECT_EQ(report.batches_cut, 1u);
  EXPECT_EQ(report.records, 3u);
  EXPECT_EQ(report.torn_bytes_cut, 3 * kSmallRecord + 16);
  EXPECT_THAT(warnings_, Contains(AllOf(HasSubstr("removed 3 records"),
                                        HasSubstr("from offset 3"))));
  EXPECT_EQ(env_.Size(Store(0, copy_)), 3 * kSmallRecord);
  ExpectSmallRecords(*recovered, 0, 3);
  ASSERT_OK_AND_ASSIGN(uint64_t offset, recovered->Append("after"));
  EXPECT_EQ(offset, 3u);
}

TEST_P(LogRecoveryTest, WholeBatchSurvivesCrashAfterItsLastRecord) {
  auto log = MustOpen(dir_);
  AppendSmall(*log, 0, 3);
  std::vector<absl::string_view> views = {"batch-03", "batch-04", "batch-05"};
  ASSERT_OK(log->AppendBatch(views));
  ASSERT_OK(log->Sync());
  env_.KillCopy(dir_, copy_);
  auto recovered = MustOpen(copy_);
  EXPECT_EQ(recovered->NextOffset(), 6u);
  EXPECT_EQ(recovered->recovery_report().batches_cut, 0u);
  EXPECT_EQ(ReadValue(*recovered, 5), "batch-05");
}

// TruncateSuffix inside a batch (Raft truncates at arbitrary entries, and
// appends them in batches): the kept records end the store carrying
// kBatchContinues, yet they are whole, not a batch cut off by a crash, here
// and at every later open (LAST_TRUNCATION says so).
TEST_P(LogRecoveryTest, TruncateSuffixInsideBatchKeepsRecordsUpToLastKept) {
  auto log = MustOpen(dir_);
  AppendSmall(*log, 0, 3);
  std::vector<absl::string_view> batch = {"batch-03", "batch-04", "batch-05",
                                          "batch-06"};
  ASSERT_OK(log->AppendBatch(batch));
  ASSERT_OK(log->TruncateSuffix(4));  // keeps 3 and 4 of the batch
  EXPECT_EQ(log->NextOffset(), 5u);
  EXPECT_EQ(ReadValue(*log, 3), "batch-03");
  EXPECT_EQ(ReadValue(*log, 4), "batch-04");
  // The committed intent is the record of the truncation.
  EXPECT_THAT(fs()->FileExists(JoinPath(dir_, kSuffixIntentFileName)),
              IsOkAndHolds(false));
  EXPECT_EQ(LastTruncation(fs(), dir_), "5");  // the first offset removed

  // A kill right after the truncation.
  env_.KillCopy(dir_, copy_);
  {
    auto killed = MustOpen(copy_);
    const RecoveryReport& report = killed->recovery_report();
    EXPECT_EQ(killed->NextOffset(), 5u);
    EXPECT_EQ(report.records, 5u);
    EXPECT_EQ(report.batches_cut, 0u);
    EXPECT_EQ(report.torn_bytes_cut, 0u);
    EXPECT_THAT(report.damage, IsEmpty());
    ExpectSmallRecords(*killed, 0, 3);
    EXPECT_EQ(ReadValue(*killed, 3), "batch-03");
    EXPECT_EQ(ReadValue(*killed, 4), "batch-04");
  }

  // A clean close and reopen, twice (the second after more appends).
  ASSERT_OK(log->Close());
  {
    auto reopened = MustOpen(dir_);
    EXPECT_TRUE(reopened->recovery_report().clean_shutdown);
    EXPECT_EQ(reopened->NextOffset(), 5u);
    EXPECT_EQ(reopened->recovery_report().batches_cut, 0u);
    EXPECT_EQ(ReadValue(*reopened, 3), "batch-03");
    EXPECT_EQ(ReadValue(*reopened, 4), "batch-04");
    ASSERT_OK_AND_ASSIGN(uint64_t offset, reopened->Append("after"));
    EXPECT_EQ(offset, 5u);
    ASSERT_OK(reopened->Close());
  }
  auto again = MustOpen(dir_);
  EXPECT_TRUE(again->recovery_report().clean_shutdown);
  EXPECT_EQ(again->NextOffset(), 6u);
  EXPECT_EQ(again->recovery_report().batches_cut, 0u);
  EXPECT_EQ(ReadValue(*again, 4), "batch-04");
  EXPECT_EQ(ReadValue(*again, 5), "after");
}

// LAST_TRUNCATION protects only the records up to the offset it names: a
// later batch cut off by a crash, right after them, is still removed whole.
TEST_P(LogRecoveryTest, BatchCutByCrashAfterTruncateSuffixIsRemovedWhole) {
  auto log = MustOpen(dir_);
  AppendSmall(*log, 0, 3);
  std::vector<absl::string_view> batch = {"batch-03", "batch-04", "batch-05",
                                          "batch-06"};
  ASSERT_OK(log->AppendBatch(batch));
  ASSERT_OK(log->TruncateSuffix(4));  // records 3 and 4 carry kBatchContinues
  std::vector<absl::string_view> later = {"later-05", "later-06", "later-07"};
  ASSERT_OK_AND_ASSIGN(uint64_t first, log->AppendBatch(later));
  ASSERT_EQ(first, 5u);
  ASSERT_OK(log->Sync());
  env_.KillCopy(dir_, copy_);
  // Records 5 and 6 of the later batch and 10 bytes of 7 reached the store.
  env_.TruncateTo(Store(0, copy_), 7 * kSmallRecord + 10);

  auto recovered = MustOpen(copy_);
  const RecoveryReport& report = recovered->recovery_report();
  EXPECT_EQ(recovered->NextOffset(), 5u);
  EXPECT_EQ(report.records, 5u);
  EXPECT_EQ(report.batches_cut, 1u);
  EXPECT_EQ(report.torn_bytes_cut, 2 * kSmallRecord + 10);
  EXPECT_THAT(warnings_, Contains(AllOf(HasSubstr("removed 2 records"),
                                        HasSubstr("from offset 5"))));
  EXPECT_EQ(env_.Size(Store(0, copy_)), 5 * kSmallRecord);
  ExpectSmallRecords(*recovered, 0, 3);
  EXPECT_EQ(ReadValue(*recovered, 3), "batch-03");
  EXPECT_EQ(ReadValue(*recovered, 4), "batch-04");
}

// TruncateSuffix(LowestOffset() - 1) empties the log. For a log that starts
// at 0, that last_kept is 2^64 - 1 (the only spelling of "keep up to -1"),
// and it must not make every later record "whole".
// BUG: complete_through_ becomes 2^64 - 1 (TruncateSuffix stores last_kept in
// LAST_TRUNCATION as is), so Segment::Recover's batch-cut loop stops at once
// (base + i <= 2^64 - 1 always holds) and keeps records 0 and 1 of a batch
// cut off by a crash: NextOffset() 2, batches_cut 0. A log that starts at 5
// (last_kept 4) removes the cut batch as it should.
TEST_P(LogRecoveryTest, BatchCutByCrashAfterTruncateSuffixEmptiedLogIsRemovedWhole) {
  for (const uint64_t initial : {uint64_t{5}, uint64_t{0}}) {
    SCOPED_TRACE(absl::StrCat("initial offset ", initial));
    const std::string dir = env_.Dir(absl::StrCat("log-", initial));
    const std::string copy = env_.Dir(absl::StrCat("copy-", initial));
    options_.initial_offset = initial;
    auto log = MustOpen(dir);
    AppendSmall(*log, initial, initial + 3);
    ASSERT_OK(log->TruncateSuffix(initial - 1));  // wraps for initial == 0
    ASSERT_EQ(log->NextOffset(), initial);
    std::vector<absl::string_view> batch = {"batch-a", "batch-b", "batch-c"};
    ASSERT_OK_AND_ASSIGN(uint64_t first, log->AppendBatch(batch));
    ASSERT_EQ(first, initial);
    ASSERT_OK(log->Sync());
    env_.KillCopy(dir, copy);
    // The batch's first two records reached the store, its last did not.
    const std::string store = Store(initial, copy);
    ASSERT_EQ(env_.Size(store), 3 * (kSmallRecord - 1));
    env_.TruncateTo(store, 2 * (kSmallRecord - 1));

    auto recovered = MustOpen(copy);
    EXPECT_EQ(recovered->NextOffset(), initial);
    EXPECT_EQ(recovered->recovery_report().batches_cut, 1u);
    EXPECT_EQ(recovered->recovery_report().records, 0u);
  }
}

// TruncateSuffix reopens its target segment active, growing its sealed index
// to max_index_bytes while the old Segment object (kept by readers) still
// maps it at the sealed size. Here the sealed index is smaller because the
// log was written with a smaller max_index_bytes; a segment sealed by
// TruncatePrefix(next) or by a crash recovery is another way.
TEST_P(LogRecoveryTest, TruncateSuffixIntoSmallerSealedIndexWorks) {
  options_.max_index_bytes = 4 * kIndexEntrySize;
  {
    auto log = MustOpen(dir_);
    AppendSmall(*log, 0, 12);
    ASSERT_OK(log->Close());
  }
  options_.max_index_bytes = 8 * kIndexEntrySize;
  auto log = MustOpen(dir_);
  ASSERT_OK(log->TruncateSuffix(5));
  EXPECT_EQ(log->NextOffset(), 6u);
  ExpectSmallRecords(*log, 0, 6);
  ASSERT_OK_AND_ASSIGN(uint64_t offset, log->Append(SmallValue(6)));
  EXPECT_EQ(offset, 6u);
}

}  // namespace
}  // namespace blockwal::wal
