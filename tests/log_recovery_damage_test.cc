// Recovery of the segmented log (wal/log.h) from damaged bytes, on every
// file-system kind: damage the open does not look for (inside a sealed
// segment, inside the trusted index prefix) fails only the damaged record at
// Read; an open that fails leaves every file as it was; absolute consistency
// on a clean log.
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/log_recovery_env.h"
#include "tests/status_matchers.h"

namespace blockwal::wal {
namespace {

using ::blockwal::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

INSTANTIATE_TEST_SUITE_P(AllFileSystems, LogRecoveryTest, AllFsKinds(),
                         FsKindParamName);

// ------------------------------------------------- 6. damage in a sealed segment

TEST_P(LogRecoveryTest, BitFlipInSealedSegmentFailsOnlyThatRecord) {
  options_.max_index_bytes = 4 * kIndexEntrySize;  // segments 0, 4, 8
  {
    auto log = MustOpen(dir_);
    AppendSmall(*log, 0, 12);
    ASSERT_OK(log->Close());
  }
  // A bit of record 5's value (segment 4, its record 1, at position 32).
  env_.FlipBit(Store(4, dir_), kSmallRecord + kHeaderSize + kEnvelopeSize + 3);

  {
    // The cheap check of a sealed segment reads its last record only.
    auto log = MustOpen(dir_);
    EXPECT_TRUE(log->recovery_report().clean_shutdown);
    EXPECT_EQ(log->NextOffset(), 12u);
    std::string scratch;
    EXPECT_THAT(log->Read(5, &scratch),
                StatusIs(absl::StatusCode::kDataLoss,
                         AllOf(HasSubstr(Store(4, dir_)),
                               HasSubstr("record at position 32"),
                               HasSubstr("checksum mismatch"))));
    for (uint64_t i = 0; i < 12; ++i) {
      if (i != 5) {
        EXPECT_EQ(ReadValue(*log, i), SmallValue(i)) << i;
      }
    }
    auto it = log->NewIterator(0);
    Record r;
    uint64_t n = 0;
    while (it->Next(&r)) ++n;
    EXPECT_EQ(n, 5u);
    EXPECT_THAT(it->status(), StatusIs(absl::StatusCode::kDataLoss,
                                       HasSubstr(Store(4, dir_))));
  }
  options_.recovery_mode = RecoveryMode::kAbsoluteConsistency;
  EXPECT_THAT(Open(dir_),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr(Store(4, dir_)),
                             HasSubstr("checksum mismatch at position 32"),
                             HasSubstr("absolute-consistency"))));
}

// The last segment's index is trusted up to its last entry that verifies, so
// damage inside that prefix is not looked for at open (as in a sealed
// segment): the record reads kDataLoss, the others read.
TEST_P(LogRecoveryTest, DamageInsideTrustedPrefixOfLastSegmentIsFoundAtRead) {
  auto log = MustOpen(dir_);
  AppendSmall(*log, 0, 10);
  ASSERT_OK(log->Sync());
  env_.KillCopy(dir_, copy_);
  env_.FlipBit(Store(0, copy_), 4 * kSmallRecord + kHeaderSize + kEnvelopeSize);
  auto recovered = MustOpen(copy_);
  EXPECT_EQ(recovered->NextOffset(), 10u);
  EXPECT_THAT(recovered->recovery_report().damage, IsEmpty());
  std::string scratch;
  EXPECT_THAT(recovered->Read(4, &scratch),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr(Store(0, copy_)),
                             HasSubstr("record at position 128"))));
  ExpectSmallRecords(*recovered, 0, 4);
  ExpectSmallRecords(*recovered, 5, 10);
}

// An open that fails with kDataLoss leaves every file as it was (so a later
// open in another mode, or a repair tool, sees the same damage): recovery
// decides before it changes anything.
TEST_P(LogRecoveryTest, FailedOpenLeavesFilesUntouched) {
  options_.max_index_bytes = 4 * kIndexEntrySize;
  {
    auto log = MustOpen(dir_);
    AppendSmall(*log, 0, 12);
    ASSERT_OK(log->Close());
  }
  // The last record of sealed segment 0: its cheap check fails.
  env_.FlipBit(Store(0, dir_), 3 * kSmallRecord + kHeaderSize + kEnvelopeSize);
  const auto before = env_.Snapshot(dir_);
  EXPECT_THAT(Open(dir_), StatusIs(absl::StatusCode::kDataLoss,
                                   HasSubstr(Store(0, dir_))));
  EXPECT_THAT(ChangedFiles(before, env_.Snapshot(dir_)), IsEmpty());
}

// The same holds when the segment that fails the open is not the first: the
// segments opened before it are not repaired either.
// BUG: Log::Recover opens (and so repairs) each segment before it opens the
// next one; segment 0's missing index is rebuilt and written before segment
// 4's damaged last record fails the open, so 00000000000000000000.index
// exists afterwards.
TEST_P(LogRecoveryTest, FailedOpenDoesNotRepairEarlierSegments) {
  options_.max_index_bytes = 4 * kIndexEntrySize;
  {
    auto log = MustOpen(dir_);
    AppendSmall(*log, 0, 12);
    ASSERT_OK(log->Close());
  }
  ASSERT_OK(fs()->RemoveFile(IndexFile(0, dir_)));
  env_.FlipBit(Store(4, dir_), 3 * kSmallRecord + kHeaderSize + kEnvelopeSize);
  const auto before = env_.Snapshot(dir_);
  EXPECT_THAT(Open(dir_), StatusIs(absl::StatusCode::kDataLoss,
                                   HasSubstr(Store(4, dir_))));
  EXPECT_THAT(ChangedFiles(before, env_.Snapshot(dir_)), IsEmpty());
}

// A missing segment in the middle fails the open with kDataLoss, and the
// last segment is not repaired first.
// BUG: the chain check runs after each Segment::Open, so the last segment
// (8) is recovered before the gap is seen: its sealed 24-byte index is grown
// to max_index_bytes (48) and the zeros after its last record are cut from
// the store, then the open fails.
TEST_P(LogRecoveryTest, FailedOpenOnMissingSegmentLeavesFilesUntouched) {
  options_.max_index_bytes = 4 * kIndexEntrySize;  // segments 0, 4, 8
  {
    auto log = MustOpen(dir_);
    AppendSmall(*log, 0, 10);
    ASSERT_OK(log->Close());
  }
  ASSERT_OK(fs()->RemoveFile(Store(4, dir_)));
  ASSERT_OK(fs()->RemoveFile(IndexFile(4, dir_)));
  env_.AppendTo(Store(8, dir_), std::string(100, '\0'));
  const auto before = env_.Snapshot(dir_);
  EXPECT_THAT(Open(dir_),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr(Store(8, dir_)),
                             HasSubstr("segment starts at offset 8 but the "
                                       "previous segment ends at offset 4"))));
  EXPECT_THAT(ChangedFiles(before, env_.Snapshot(dir_)), IsEmpty());
}

// Absolute consistency reads every segment in full; a clean log still opens
// clean and nothing needs rebuilding (the entries the scan finds are the ones
// the index holds).
TEST_P(LogRecoveryTest, AbsoluteConsistencyOpensCleanLogClean) {
  options_.max_index_bytes = 4 * kIndexEntrySize;
  {
    auto log = MustOpen(dir_);
    AppendSmall(*log, 0, 10);
    ASSERT_OK(log->Close());
  }
  options_.recovery_mode = RecoveryMode::kAbsoluteConsistency;
  auto log = MustOpen(dir_);
  const RecoveryReport& report = log->recovery_report();
  EXPECT_EQ(log->NextOffset(), 10u);
  EXPECT_EQ(report.records_scanned, 10u);
  EXPECT_EQ(report.bytes_scanned, 10 * kSmallRecord);
  EXPECT_TRUE(report.clean_shutdown);
  EXPECT_EQ(report.indexes_rebuilt, 0u);
  EXPECT_EQ(report.index_entries_added, 0u);
  ExpectSmallRecords(*log, 0, 10);
}

}  // namespace
}  // namespace blockwal::wal
