// Recovery of the segmented log (wal/log.h) when a segment's index and store
// disagree, on every file-system kind: index entries past the store, store
// records the index misses, indexes missing, cut, zeroed or garbage and
// rebuilt from the store, and stray files in the log directory.
#include <algorithm>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/log_recovery_env.h"
#include "tests/status_matchers.h"
#include "blockwal/util/coding.h"

namespace blockwal::wal {
namespace {

using ::blockwal::testing::IsOkAndHolds;
using ::blockwal::testing::StatusIs;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::SizeIs;

INSTANTIATE_TEST_SUITE_P(AllFileSystems, LogRecoveryTest, AllFsKinds(),
                         FsKindParamName);

// --------------------------------------------- 3. index and store disagree

TEST_P(LogRecoveryTest, IndexEntriesPastTheStoreAreDropped) {
  auto log = MustOpen(dir_);
  AppendSmall(*log, 0, 10);
  ASSERT_OK(log->Sync());
  env_.KillCopy(dir_, copy_);
  // Only six records reached the store; the index has all ten.
  env_.TruncateTo(Store(0, copy_), 6 * kSmallRecord);

  auto recovered = MustOpen(copy_);
  const RecoveryReport& report = recovered->recovery_report();
  EXPECT_EQ(recovered->NextOffset(), 6u);
  EXPECT_EQ(report.records, 6u);
  EXPECT_EQ(report.indexes_rebuilt, 1u);
  EXPECT_EQ(report.index_entries_added, 0u);
  EXPECT_EQ(report.torn_bytes_cut, 0u);
  EXPECT_FALSE(report.clean_shutdown);
  ExpectSmallRecords(*recovered, 0, 6);
  std::string scratch;
  EXPECT_THAT(recovered->Read(6, &scratch),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("[0, 6)")));
  ASSERT_OK_AND_ASSIGN(uint64_t offset, recovered->Append("new-6"));
  EXPECT_EQ(offset, 6u);
  EXPECT_EQ(ReadValue(*recovered, 6), "new-6");
}

TEST_P(LogRecoveryTest, StoreRecordsMissingFromTruncatedIndexAreReindexed) {
  auto log = MustOpen(dir_);
  AppendSmall(*log, 0, 10);
  ASSERT_OK(log->Sync());
  env_.KillCopy(dir_, copy_);
  env_.TruncateTo(IndexFile(0, copy_), 4 * kIndexEntrySize);

  auto recovered = MustOpen(copy_);
  const RecoveryReport& report = recovered->recovery_report();
  EXPECT_EQ(recovered->NextOffset(), 10u);
  EXPECT_EQ(report.indexes_rebuilt, 1u);
  EXPECT_EQ(report.index_entries_added, 6u);
  EXPECT_EQ(report.records_scanned, 6u);
  EXPECT_EQ(report.bytes_scanned, 6 * kSmallRecord);
  EXPECT_EQ(report.torn_bytes_cut, 0u);
  ExpectSmallRecords(*recovered, 0, 10);
}

TEST_P(LogRecoveryTest, StoreRecordsBehindZeroedIndexEntriesAreReindexed) {
  auto log = MustOpen(dir_);
  AppendSmall(*log, 0, 10);
  ASSERT_OK(log->Sync());
  env_.KillCopy(dir_, copy_);
  env_.ZeroIndexEntriesFrom(IndexFile(0, copy_), 4);

  auto recovered = MustOpen(copy_);
  EXPECT_EQ(recovered->NextOffset(), 10u);
  EXPECT_EQ(recovered->recovery_report().indexes_rebuilt, 1u);
  EXPECT_EQ(recovered->recovery_report().index_entries_added, 6u);
  ExpectSmallRecords(*recovered, 0, 10);
}

// An index page that reached the disk while an earlier one did not leaves
// entries past a zero gap. The rebuild must not leave them behind: once new
// entries fill the gap, a later crash would count the old ones as valid.
TEST_P(LogRecoveryTest, RebuildZeroesEntriesLeftPastAZeroGap) {
  auto log = MustOpen(dir_);
  AppendSmall(*log, 0, 40);
  ASSERT_OK(log->Sync());
  env_.KillCopy(dir_, copy_);
  // Entries 10..19 never reached the disk, 20..39 did; the store kept 15
  // records.
  std::string index = env_.Bytes(IndexFile(0, copy_));
  std::fill(index.begin() + 10 * kIndexEntrySize,
            index.begin() + 20 * kIndexEntrySize, '\0');
  env_.SetBytes(IndexFile(0, copy_), index);
  env_.TruncateTo(Store(0, copy_), 15 * kSmallRecord);

  auto recovered = MustOpen(copy_);
  EXPECT_EQ(recovered->NextOffset(), 15u);
  EXPECT_EQ(recovered->recovery_report().indexes_rebuilt, 1u);
  ExpectSmallRecords(*recovered, 0, 15);
  const std::string rebuilt = env_.Bytes(IndexFile(0, copy_));
  ASSERT_GE(rebuilt.size(), 40 * kIndexEntrySize);
  EXPECT_EQ(rebuilt.substr(15 * kIndexEntrySize),
            std::string(rebuilt.size() - 15 * kIndexEntrySize, '\0'));
}

// ------------------------------------------------------ 4. index rebuilt

// Every entry of a missing index is rebuilt from the store and counted; the
// zero slots of the new file are not entries.
TEST_P(LogRecoveryTest, MissingIndexIsRebuiltFromStore) {
  {
    auto log = MustOpen(dir_);
    AppendSmall(*log, 0, 10);
    ASSERT_OK(log->Close());
  }
  ASSERT_OK(fs()->RemoveFile(IndexFile(0, dir_)));
  auto log = MustOpen(dir_);
  const RecoveryReport& report = log->recovery_report();
  EXPECT_EQ(log->NextOffset(), 10u);
  EXPECT_FALSE(report.clean_shutdown);
  EXPECT_EQ(report.indexes_rebuilt, 1u);
  EXPECT_EQ(report.index_entries_added, 10u);
  EXPECT_EQ(report.torn_bytes_cut, 0u);
  ExpectSmallRecords(*log, 0, 10);
  ASSERT_OK(log->Close());
  EXPECT_EQ(env_.Size(IndexFile(0, dir_)), 10 * kIndexEntrySize);
}

// A zero slot 0 would say "offset 0 at position 0", which is right for a
// one-record segment: the rebuilt index is still counted as rebuilt.
TEST_P(LogRecoveryTest, MissingIndexOfOneRecordSegmentCountsAsRebuilt) {
  {
    auto log = MustOpen(dir_);
    AppendSmall(*log, 0, 1);
    ASSERT_OK(log->Close());
  }
  ASSERT_OK(fs()->RemoveFile(IndexFile(0, dir_)));
  auto log = MustOpen(dir_);
  EXPECT_EQ(log->NextOffset(), 1u);
  EXPECT_FALSE(log->recovery_report().clean_shutdown);
  EXPECT_EQ(log->recovery_report().indexes_rebuilt, 1u);
  EXPECT_EQ(log->recovery_report().index_entries_added, 1u);
}

TEST_P(LogRecoveryTest, EmptyIndexIsRebuiltFromStore) {
  {
    auto log = MustOpen(dir_);
    AppendSmall(*log, 0, 10);
    ASSERT_OK(log->Close());
  }
  env_.SetBytes(IndexFile(0, dir_), "");
  auto log = MustOpen(dir_);
  EXPECT_EQ(log->NextOffset(), 10u);
  EXPECT_EQ(log->recovery_report().indexes_rebuilt, 1u);
  EXPECT_EQ(log->recovery_report().index_entries_added, 10u);
  ExpectSmallRecords(*log, 0, 10);
}

TEST_P(LogRecoveryTest, IndexCutMidEntryIsRebuiltFromStore) {
  {
    auto log = MustOpen(dir_);
    AppendSmall(*log, 0, 10);
    ASSERT_OK(log->Close());
  }
  // 50 bytes: four whole entries and part of the fifth's offset.
  env_.TruncateTo(IndexFile(0, dir_), 4 * kIndexEntrySize + 2);
  auto log = MustOpen(dir_);
  EXPECT_EQ(log->NextOffset(), 10u);
  EXPECT_FALSE(log->recovery_report().clean_shutdown);
  EXPECT_EQ(log->recovery_report().indexes_rebuilt, 1u);
  EXPECT_EQ(log->recovery_report().index_entries_added, 6u);
  ExpectSmallRecords(*log, 0, 10);
  ASSERT_OK(log->Close());
  EXPECT_EQ(env_.Size(IndexFile(0, dir_)), 10 * kIndexEntrySize);
}

TEST_P(LogRecoveryTest, GarbageIndexIsRebuiltFromStore) {
  {
    auto log = MustOpen(dir_);
    AppendSmall(*log, 0, 10);
    ASSERT_OK(log->Close());
  }
  env_.SetBytes(IndexFile(0, dir_), std::string(10 * kIndexEntrySize, '\xff'));
  auto log = MustOpen(dir_);
  EXPECT_EQ(log->NextOffset(), 10u);
  EXPECT_EQ(log->recovery_report().indexes_rebuilt, 1u);
  EXPECT_EQ(log->recovery_report().index_entries_added, 10u);
  ExpectSmallRecords(*log, 0, 10);
}

// An index whose entries are well-formed but point at the wrong records:
// the last one does not verify, the binary search finds the trusted prefix.
TEST_P(LogRecoveryTest, IndexWithWrongPositionsIsRepaired) {
  {
    auto log = MustOpen(dir_);
    AppendSmall(*log, 0, 10);
    ASSERT_OK(log->Close());
  }
  std::string index = env_.Bytes(IndexFile(0, dir_));
  for (uint64_t i = 5; i < 10; ++i) {  // entries 5..9 shifted by one record
    EncodeFixed64(index.data() + i * kIndexEntrySize + 4, (i + 1) * kSmallRecord);
  }
  env_.SetBytes(IndexFile(0, dir_), index);
  auto log = MustOpen(dir_);
  EXPECT_EQ(log->NextOffset(), 10u);
  EXPECT_EQ(log->recovery_report().indexes_rebuilt, 1u);
  EXPECT_EQ(log->recovery_report().index_entries_added, 5u);
  ExpectSmallRecords(*log, 0, 10);
}

// The rebuilt index of a sealed segment is sealed again: all four entries
// added, the file truncated to them.
TEST_P(LogRecoveryTest, MissingIndexOfSealedSegmentIsRebuiltAndSealed) {
  options_.max_index_bytes = 4 * kIndexEntrySize;  // segments 0, 4, 8
  {
    auto log = MustOpen(dir_);
    AppendSmall(*log, 0, 10);
    ASSERT_OK(log->Close());
  }
  ASSERT_OK(fs()->RemoveFile(IndexFile(4, dir_)));
  auto log = MustOpen(dir_);
  const RecoveryReport& report = log->recovery_report();
  EXPECT_EQ(log->NextOffset(), 10u);
  EXPECT_FALSE(report.clean_shutdown);
  EXPECT_EQ(report.indexes_rebuilt, 1u);
  EXPECT_EQ(report.index_entries_added, 4u);
  ExpectSmallRecords(*log, 0, 10);
  auto segments = log->Segments();
  ASSERT_THAT(segments, SizeIs(3));
  EXPECT_TRUE(segments[1]->sealed());
  EXPECT_EQ(env_.Size(IndexFile(4, dir_)), 4 * kIndexEntrySize);
}

// ----------------------------------------------------------- 5. strays

TEST_P(LogRecoveryTest, StrayFilesAreIgnoredAndIndexWithoutStoreRemoved) {
  {
    auto log = MustOpen(dir_);
    AppendSmall(*log, 0, 3);
    ASSERT_OK(log->Close());
  }
  // Garbage in each: parsing any of them would fail the open.
  const std::string junk(100, '\xee');
  for (const char* name :
       {"notes.txt", "123.tmp", "123.store", "123.index",
        "00000000000000000000.store.bak", "0000000000000000000a.store"}) {
    env_.SetBytes(JoinPath(dir_, name), junk);
  }
  const std::string orphan = IndexFile(99, dir_);
  env_.SetBytes(orphan, junk);

  auto log = MustOpen(dir_);
  EXPECT_EQ(log->NextOffset(), 3u);
  ExpectSmallRecords(*log, 0, 3);
  EXPECT_THAT(log->Segments(), SizeIs(1));
  for (const char* name :
       {"notes.txt", "123.tmp", "123.store", "123.index",
        "00000000000000000000.store.bak", "0000000000000000000a.store"}) {
    EXPECT_THAT(warnings_, Contains(AllOf(HasSubstr(JoinPath(dir_, name)),
                                          HasSubstr("ignored"))))
        << name;
    EXPECT_EQ(env_.Bytes(JoinPath(dir_, name)), junk) << name;  // left alone
  }
  EXPECT_THAT(warnings_, Contains(AllOf(HasSubstr(orphan),
                                        HasSubstr("index without a store"))));
  EXPECT_THAT(fs()->FileExists(orphan), IsOkAndHolds(false));
  EXPECT_THAT(warnings_, SizeIs(7));
}

}  // namespace
}  // namespace blockwal::wal
