// A full disk on every write path of the log, on the in-memory file system
// with a capacity (a 64 KiB disk): creating the first segment, appending,
// rolling, opening with an index rebuild, truncating, growing an index. Each
// path returns kResourceExhausted naming the file ("...: No space left on
// device"), the log is read-only with WriteFailure::kNoSpace, and once space
// is freed a reopened log holds every acknowledged record and appends again.
#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/full_disk_util.h"
#include "tests/status_matchers.h"
#include "blockwal/util/fault_injection_file_system.h"
#include "blockwal/util/file_system.h"
#include "blockwal/util/mem_file_system.h"
#include "blockwal/wal/format.h"
#include "blockwal/wal/index.h"
#include "blockwal/wal/log.h"
#include "blockwal/wal/record.h"
#include "blockwal/wal/segment.h"

namespace blockwal::wal {
namespace {

using ::blockwal::testing::FillDisk;
using ::blockwal::testing::FillDiskLeaving;
using ::blockwal::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kDir[] = "/log";
constexpr char kFiller[] = "/filler";
constexpr uint64_t kCapacity = 64 << 10;
constexpr uint64_t kIndexBytes = 64 * kIndexEntrySize;  // 768
constexpr char kNoSpace[] = ": No space left on device";

std::string Value(uint64_t i) { return absl::StrCat("record-", i, "-", std::string(40, 'v')); }

std::string SegmentPath(uint64_t base, const char* suffix) {
  return JoinPath(kDir, SegmentFileName(base, suffix));
}

class LogFullDiskTest : public ::testing::Test {
 protected:
  LogOptions Options() {
    LogOptions options;
    options.fs = fs_.get();
    options.sync_policy = SyncPolicy::kEveryAppend;
    options.max_store_bytes = 4096;
    options.max_index_bytes = kIndexBytes;
    return options;
  }
  std::unique_ptr<Log> OpenOrDie() {
    absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(kDir, Options());
    EXPECT_OK(log);
    return log.ok() ? *std::move(log) : nullptr;
  }
  // Appends Value(acked_) synced and counts it acknowledged.
  void AppendAcked(Log& log) {
    ASSERT_OK_AND_ASSIGN(uint64_t offset, log.Append(Value(acked_)));
    ASSERT_EQ(offset, acked_);
    ++acked_;
  }
  // Every acknowledged record, and nothing after them.
  void ExpectHoldsExactlyTheAcked(const Log& log) {
    EXPECT_EQ(log.LowestOffset(), 0u);
    EXPECT_EQ(log.NextOffset(), acked_);
    std::string scratch;
    for (uint64_t i = 0; i < acked_; ++i) {
      ASSERT_OK_AND_ASSIGN(Record r, log.Read(i, &scratch));
      EXPECT_EQ(r.value, Value(i)) << "offset " << i;
    }
  }

  std::unique_ptr<FileSystem> fs_ = NewMemFileSystem(kCapacity);
  uint64_t acked_ = 0;
};

TEST_F(LogFullDiskTest, CreateFailsWhenTheFirstIndexCannotBeReserved) {
  ASSERT_OK(FillDisk(fs_.get(), kFiller));
  EXPECT_THAT(Log::Open(kDir, Options()),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       absl::StrCat(SegmentPath(0, kIndexSuffix), ": reserve ",
                                    kIndexBytes, " bytes for mapping", kNoSpace)));
  ASSERT_OK(fs_->RemoveFile(kFiller));
  std::unique_ptr<Log> log = OpenOrDie();
  ASSERT_NE(log, nullptr);
  AppendAcked(*log);
  ExpectHoldsExactlyTheAcked(*log);
}

TEST_F(LogFullDiskTest, AppendFailsWhenTheStoreCannotGrowAndReopenCutsWhatItWrote) {
  std::unique_ptr<Log> log = OpenOrDie();
  ASSERT_NE(log, nullptr);
  for (int i = 0; i < 5; ++i) AppendAcked(*log);
  const uint64_t store_size = log->Segments().back()->store_size();
  // Room for the new record's header and 3 bytes of its envelope.
  ASSERT_OK(FillDiskLeaving(fs_.get(), kFiller, kHeaderSize + 3));
  EXPECT_THAT(log->Append(Value(acked_)),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       absl::StrCat(SegmentPath(0, kStoreSuffix), ": write at offset ",
                                    store_size + kHeaderSize, kNoSpace)));
  EXPECT_EQ(log->write_failure(), WriteFailure::kNoSpace);
  EXPECT_THAT(log->Append("later"), StatusIs(absl::StatusCode::kFailedPrecondition,
                                             HasSubstr(kNoSpace)));
  ExpectHoldsExactlyTheAcked(*log);
  EXPECT_THAT(log->Close(), StatusIs(absl::StatusCode::kResourceExhausted));

  ASSERT_OK(fs_->RemoveFile(kFiller));
  log = OpenOrDie();
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->recovery_report().torn_bytes_cut, kHeaderSize + 3);
  ExpectHoldsExactlyTheAcked(*log);
  AppendAcked(*log);
  ExpectHoldsExactlyTheAcked(*log);
}

TEST_F(LogFullDiskTest, RollFailsWhenTheNewIndexCannotBeReserved) {
  std::unique_ptr<Log> log = OpenOrDie();
  ASSERT_NE(log, nullptr);
  while (log->Segments().back()->store_size() < Options().max_store_bytes) {
    AppendAcked(*log);
  }
  ASSERT_EQ(log->Segments().size(), 1u);
  ASSERT_OK(FillDisk(fs_.get(), kFiller));
  // The roll seals the full segment (its index shrinks to its entries) and
  // then cannot reserve the new segment's index.
  const std::string new_index = SegmentPath(acked_, kIndexSuffix);
  const auto no_room_for_new_index = StatusIs(
      absl::StatusCode::kResourceExhausted,
      absl::StrCat(new_index, ": reserve ", kIndexBytes, " bytes for mapping", kNoSpace));
  EXPECT_THAT(log->Append(Value(acked_)), no_room_for_new_index);
  EXPECT_EQ(log->write_failure(), WriteFailure::kNoSpace);
  ASSERT_EQ(log->Segments().size(), 1u);
  EXPECT_TRUE(log->Segments().back()->sealed());
  ExpectHoldsExactlyTheAcked(*log);
  log.reset();

  // Reopening on the full disk works (the sealed index grows back into the
  // space it gave up; the empty new index is a leftover, removed); the roll
  // then fails the same way.
  log = OpenOrDie();
  ASSERT_NE(log, nullptr);
  EXPECT_THAT(fs_->FileExists(new_index),
              ::blockwal::testing::IsOkAndHolds(false));
  ExpectHoldsExactlyTheAcked(*log);
  EXPECT_THAT(log->Append(Value(acked_)), no_room_for_new_index);
  log.reset();

  ASSERT_OK(fs_->RemoveFile(kFiller));
  log = OpenOrDie();
  ASSERT_NE(log, nullptr);
  ExpectHoldsExactlyTheAcked(*log);
  AppendAcked(*log);
  EXPECT_EQ(log->Segments().size(), 2u);
  ExpectHoldsExactlyTheAcked(*log);
}

TEST_F(LogFullDiskTest, OpenFailsWhenTheIndexToRebuildCannotBeReserved) {
  std::unique_ptr<Log> log = OpenOrDie();
  ASSERT_NE(log, nullptr);
  for (int i = 0; i < 5; ++i) AppendAcked(*log);
  ASSERT_OK(log->Close());
  log.reset();
  const std::string store = SegmentPath(0, kStoreSuffix);
  const std::string index = SegmentPath(0, kIndexSuffix);
  ASSERT_OK_AND_ASSIGN(const std::string store_bytes, ReadFileToString(fs_.get(), store));
  ASSERT_OK(fs_->RemoveFile(index));  // lost: Open rebuilds it from the store
  ASSERT_OK(FillDisk(fs_.get(), kFiller));

  EXPECT_THAT(Log::Open(kDir, Options()),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       absl::StrCat(index, ": reserve ", kIndexBytes,
                                    " bytes for mapping", kNoSpace)));
  ASSERT_OK_AND_ASSIGN(const std::string after, ReadFileToString(fs_.get(), store));
  EXPECT_EQ(after, store_bytes);

  ASSERT_OK(fs_->RemoveFile(kFiller));
  log = OpenOrDie();
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->recovery_report().indexes_rebuilt, 1u);
  ExpectHoldsExactlyTheAcked(*log);
  AppendAcked(*log);
}

// A truncation whose intent file cannot be written has changed nothing: the
// log is whole, and the failure is a full disk (kNoSpace), not kOther.
TEST_F(LogFullDiskTest, TruncatePrefixFailsWhenItsIntentCannotBeWritten) {
  std::unique_ptr<Log> log = OpenOrDie();
  ASSERT_NE(log, nullptr);
  while (log->Segments().size() < 2) AppendAcked(*log);
  ASSERT_OK(FillDisk(fs_.get(), kFiller));
  EXPECT_THAT(log->TruncatePrefix(acked_ - 1),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       absl::StrCat(kDir, "/TRUNCATE_PREFIX.tmp: write at offset 0",
                                    kNoSpace)));
  EXPECT_EQ(log->write_failure(), WriteFailure::kNoSpace);
  ExpectHoldsExactlyTheAcked(*log);
  log.reset();
  ASSERT_OK(fs_->RemoveFile(kFiller));
  log = OpenOrDie();
  ASSERT_NE(log, nullptr);
  EXPECT_THAT(fs_->FileExists(JoinPath(kDir, "TRUNCATE_PREFIX.tmp")),
              ::blockwal::testing::IsOkAndHolds(false));
  ExpectHoldsExactlyTheAcked(*log);
}

// ENOSPC from a sync is never taken for a full disk met by a write: nothing
// may be assumed about what reached the disk.
TEST(LogFullDiskFailureKindTest, FailedSyncIsOtherEvenWithEnospc) {
  FaultInjectionFileSystem fs(NewMemFileSystem());
  LogOptions options;
  options.fs = &fs;
  options.sync_policy = SyncPolicy::kEveryAppend;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Log> log, Log::Open(kDir, options));
  ASSERT_OK(log->Append("durable"));
  EXPECT_EQ(log->write_failure(), WriteFailure::kNone);
  fs.FailAfter(kOpSync, 0, ENOSPC);
  EXPECT_THAT(log->Append("not acknowledged"),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("injected sync failure")));
  EXPECT_EQ(log->write_failure(), WriteFailure::kOther);
}

TEST(IndexFullDiskTest, GrowFailureLeavesTheIndexMappedAndUsable) {
  std::unique_ptr<FileSystem> fs = NewMemFileSystem(kCapacity);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Index> index,
                       Index::Open(fs.get(), "/idx", 2 * kIndexEntrySize));
  ASSERT_OK(index->Append(100));
  ASSERT_OK(FillDisk(fs.get(), kFiller));
  EXPECT_THAT(index->Grow(4 * kIndexEntrySize),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       absl::StrCat("/idx: reserve ", 4 * kIndexEntrySize,
                                    " bytes for mapping", kNoSpace)));
  EXPECT_EQ(index->capacity(), 2u);
  ASSERT_OK(index->Append(200));
  index->Publish();
  EXPECT_EQ(index->size(), 2u);
  EXPECT_EQ(index->Position(1), 200u);
  ASSERT_OK(fs->RemoveFile(kFiller));
  ASSERT_OK(index->Grow(4 * kIndexEntrySize));
  EXPECT_EQ(index->capacity(), 4u);
  EXPECT_EQ(index->Position(0), 100u);
}

}  // namespace
}  // namespace blockwal::wal
