// Log::Reset (wal/log.h): the log emptied and continued at any offset, lower,
// equal or higher; the empty log survives a reopen; readers of dropped
// records fail as after the truncations; a read-only open applies an
// interrupted Reset in memory only; the argument and sticky-error checks; a
// crash at each step of a Reset leaves the old log or the new one.
#include <cerrno>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/log_recovery_env.h"
#include "tests/status_matchers.h"

namespace blockwal::wal {
namespace {

using ::blockwal::testing::IsOkAndHolds;
using ::blockwal::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

class LogResetTest : public LogPowerLossTest {
 protected:
  // A log of 12 synced records in segments 0, 4 and 8.
  std::unique_ptr<Log> OpenTwelve(const std::string& dir) {
    auto log = MustOpen(dir);
    if (log == nullptr) return nullptr;
    for (uint64_t i = 0; i < 12; ++i) {
      absl::StatusOr<uint64_t> offset = log->Append(SmallValue(i));
      EXPECT_THAT(offset, IsOkAndHolds(i));
    }
    EXPECT_OK(log->Sync());
    return log;
  }

  std::vector<std::string> Files(const std::string& dir) {
    absl::StatusOr<std::vector<std::string>> names = fault_->GetChildren(dir);
    EXPECT_OK(names);
    return names.value_or(std::vector<std::string>{});
  }

  // Expects `log` to be empty at `next`.
  static void ExpectEmptyAt(Log& log, uint64_t next) {
    EXPECT_EQ(log.LowestOffset(), next);
    EXPECT_EQ(log.NextOffset(), next);
    EXPECT_EQ(log.HighestOffset(), std::nullopt);
    EXPECT_THAT(Contents(log), IsEmpty());
  }

  // Opens `dir` after a crash during Reset(target) of OpenTwelve's log and
  // checks that it holds the old log or the empty one at `target`, without
  // the intent, and takes an append that survives a reopen. Returns whether
  // it is the new one.
  bool CheckRecovered(const std::string& dir, uint64_t target) {
    auto log = MustOpen(dir);
    if (log == nullptr) return false;
    const bool reset =
        log->NextOffset() == target && log->LowestOffset() == target;
    std::vector<std::string> expected;
    if (!reset) {
      EXPECT_EQ(log->LowestOffset(), 0u);
      EXPECT_EQ(log->NextOffset(), 12u);
      for (uint64_t i = 0; i < 12; ++i) expected.push_back(SmallValue(i));
    }
    EXPECT_EQ(Contents(*log), expected);
    EXPECT_THAT(fault_->FileExists(JoinPath(dir, kResetIntentFileName)),
                IsOkAndHolds(false));
    const uint64_t next = log->NextOffset();
    EXPECT_THAT(log->Append("after"), IsOkAndHolds(next));
    EXPECT_OK(log->Close());
    log.reset();
    auto again = MustOpen(dir);
    if (again == nullptr) return reset;
    EXPECT_TRUE(again->recovery_report().clean_shutdown);
    expected.push_back("after");
    EXPECT_EQ(Contents(*again), expected);
    return reset;
  }
};

// Reset to an offset above, below and at the next offset: the log is one
// empty segment at it; the next append gets it; a reopen, with or without
// appends since, gives the same log.
TEST_F(LogResetTest, ResetToAnyOffsetEmptiesTheLogAndMovesNextOffset) {
  for (const uint64_t target :
       {uint64_t{100}, uint64_t{3}, uint64_t{12}, uint64_t{8}, uint64_t{1}}) {
    for (const bool append : {false, true}) {
      SCOPED_TRACE(absl::StrCat("Reset(", target, "), append ", append));
      const std::string dir = env_.Dir(absl::StrCat("r", target, append));
      auto log = OpenTwelve(dir);
      ASSERT_NE(log, nullptr);
      ASSERT_OK(log->Reset(target));
      ExpectEmptyAt(*log, target);
      ASSERT_EQ(log->Segments().size(), 1u);
      EXPECT_EQ(log->Segments()[0]->base_offset(), target);
      EXPECT_THAT(Files(dir),
                  UnorderedElementsAre(SegmentFileName(target, kStoreSuffix),
                                       SegmentFileName(target, kIndexSuffix),
                                       kLockFileName));
      std::string scratch;
      EXPECT_THAT(
          log->Read(2, &scratch),
          StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("which is empty")));
      std::vector<std::string> expected;
      if (append) {
        EXPECT_THAT(log->Append("after-0"), IsOkAndHolds(target));
        EXPECT_THAT(log->Append("after-1"), IsOkAndHolds(target + 1));
        expected = {"after-0", "after-1"};
      }
      EXPECT_EQ(Contents(*log), expected);
      ASSERT_OK(log->Close());
      log.reset();
      auto again = MustOpen(dir);
      ASSERT_NE(again, nullptr);
      EXPECT_TRUE(again->recovery_report().clean_shutdown);
      EXPECT_EQ(again->LowestOffset(), target);
      EXPECT_EQ(again->NextOffset(), target + expected.size());
      EXPECT_EQ(Contents(*again), expected);
      EXPECT_THAT(again->Append("later"),
                  IsOkAndHolds(target + expected.size()));
    }
  }
}

// The empty log is durable on return: a power loss right after Reset (no
// append, no close) reopens to it.
TEST_F(LogResetTest, ResetIsDurableOnReturn) {
  auto log = OpenTwelve(dir_);
  ASSERT_NE(log, nullptr);
  ASSERT_OK(log->Reset(40));
  env_.PowerLoss(std::move(log));
  auto again = MustOpen(dir_);
  ASSERT_NE(again, nullptr);
  ExpectEmptyAt(*again, 40);
  EXPECT_THAT(again->recovery_report().warnings, IsEmpty());
}

// A Reset after a TruncateSuffix removes LAST_TRUNCATION: a batch cut below
// its offset in the new log is not whole by its say-so.
TEST_F(LogResetTest, ResetRemovesLastTruncation) {
  auto log = OpenTwelve(dir_);
  ASSERT_NE(log, nullptr);
  ASSERT_OK(log->TruncateSuffix(9));
  EXPECT_EQ(LastTruncation(fault_, dir_), "10");
  ASSERT_OK(log->Reset(2));
  EXPECT_THAT(fault_->FileExists(JoinPath(dir_, kLastTruncationFileName)),
              IsOkAndHolds(false));
  EXPECT_THAT(
      Files(dir_),
      UnorderedElementsAre(SegmentFileName(2, kStoreSuffix),
                           SegmentFileName(2, kIndexSuffix), kLockFileName));
}

// Readers of dropped records fail as after the truncations: Read and an
// iterator below the new next offset with kOutOfRange; an iterator past it,
// whose offsets will hold other records, with kAborted; one at it reads the
// new records.
TEST_F(LogResetTest, IteratorsOnDroppedRecordsFail) {
  auto log = OpenTwelve(dir_);
  ASSERT_NE(log, nullptr);
  Record r;
  auto below = log->NewIterator(0);
  ASSERT_TRUE(below->Next(&r));  // holds segment 0, next offset 1
  auto at = log->NewIterator(4);
  ASSERT_TRUE(at->Next(&r));
  ASSERT_TRUE(at->Next(&r));  // next offset 6
  auto above = log->NewIterator(9);
  ASSERT_TRUE(above->Next(&r));  // next offset 10

  ASSERT_OK(log->Reset(6));
  ASSERT_THAT(log->Append("new-6"), IsOkAndHolds(6u));
  EXPECT_FALSE(below->Next(&r));
  EXPECT_THAT(
      below->status(),
      StatusIs(absl::StatusCode::kOutOfRange,
               HasSubstr("offset 1 was truncated; the log starts at 6")));
  ASSERT_TRUE(at->Next(&r));
  EXPECT_EQ(r.offset, 6u);
  EXPECT_EQ(r.value, "new-6");
  EXPECT_FALSE(above->Next(&r));
  EXPECT_THAT(above->status(),
              StatusIs(absl::StatusCode::kAborted,
                       HasSubstr("truncated from offset 6, below this "
                                 "iterator's next offset 10")));
  std::string scratch;
  EXPECT_THAT(log->Read(5, &scratch),
              StatusIs(absl::StatusCode::kOutOfRange,
                       HasSubstr("outside the log's range [6, 7)")));

  // Higher: an iterator on the old log has nothing left to read.
  auto old = log->NewIterator(6);
  ASSERT_OK(log->Reset(50));
  EXPECT_FALSE(old->Next(&r));
  EXPECT_THAT(
      old->status(),
      StatusIs(absl::StatusCode::kOutOfRange,
               HasSubstr("offset 6 was truncated; the log starts at 50")));
  EXPECT_THAT(log->Read(6, &scratch), StatusIs(absl::StatusCode::kOutOfRange));
}

// A read-only open of a log whose Reset a crash interrupted after the intent
// was committed shows the empty log at the intent's offset and changes no
// file; the next read-write open finishes the Reset.
TEST_F(LogResetTest, ReadOnlyOpenAppliesInterruptedResetInMemoryOnly) {
  {
    auto log = OpenTwelve(dir_);
    ASSERT_NE(log, nullptr);
    ASSERT_OK(log->TruncateSuffix(10));  // a LAST_TRUNCATION to drop too
    ASSERT_OK(log->Close());
  }
  env_.SetBytes(JoinPath(dir_, kResetIntentFileName), EncodeTruncationFile(30));
  const auto before = env_.Snapshot(dir_);
  LogOptions read_only = options_;
  read_only.read_only = true;
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Log> log, Log::Open(dir_, read_only));
    ExpectEmptyAt(*log, 30);
    EXPECT_THAT(log->recovery_report().warnings,
                ElementsAre(AllOf(HasSubstr("a reset interrupted by a crash"),
                                  HasSubstr("continues at offset 30"))));
    std::string scratch;
    EXPECT_THAT(log->Read(3, &scratch),
                StatusIs(absl::StatusCode::kOutOfRange));
    EXPECT_THAT(log->Reset(5), StatusIs(absl::StatusCode::kFailedPrecondition,
                                        HasSubstr("read-only")));
    ASSERT_OK(log->Close());
  }
  EXPECT_THAT(ChangedFiles(before, env_.Snapshot(dir_)), IsEmpty());

  auto log = MustOpen(dir_);
  ASSERT_NE(log, nullptr);
  ExpectEmptyAt(*log, 30);
  EXPECT_THAT(log->recovery_report().warnings,
              ElementsAre(HasSubstr("finished a reset interrupted by a crash "
                                    "(the log continues at offset 30)")));
  EXPECT_THAT(
      Files(dir_),
      UnorderedElementsAre(SegmentFileName(30, kStoreSuffix),
                           SegmentFileName(30, kIndexSuffix), kLockFileName));
  EXPECT_THAT(log->Append("after"), IsOkAndHolds(30u));
}

// A damaged RESET fails the open with kDataLoss naming it, changing nothing;
// an uncommitted RESET.tmp is void.
TEST_F(LogResetTest, DamagedIntentFailsOpenAndTempIntentIsVoid) {
  {
    auto log = OpenTwelve(dir_);
    ASSERT_NE(log, nullptr);
    ASSERT_OK(log->Close());
  }
  const std::string intent = JoinPath(dir_, kResetIntentFileName);
  env_.SetBytes(intent, "garbage-bytes");
  const auto before = env_.Snapshot(dir_);
  EXPECT_THAT(Log::Open(dir_, options_),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr(intent), HasSubstr("damaged"))));
  EXPECT_THAT(ChangedFiles(before, env_.Snapshot(dir_)), IsEmpty());

  ASSERT_OK(fault_->RemoveFile(intent));
  const std::string tmp = intent + kTempFileSuffix;
  env_.SetBytes(tmp, EncodeTruncationFile(30));
  auto log = MustOpen(dir_);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->LowestOffset(), 0u);
  EXPECT_EQ(log->NextOffset(), 12u);
  EXPECT_THAT(fault_->FileExists(tmp), IsOkAndHolds(false));
}

// 0 is a next offset like any other (a log may start there).
TEST_F(LogResetTest, ResetToZero) {
  {
    auto log = OpenTwelve(dir_);
    ASSERT_NE(log, nullptr);
    ASSERT_OK(log->Reset(0));
    EXPECT_EQ(log->LowestOffset(), 0u);
    EXPECT_EQ(log->NextOffset(), 0u);
    EXPECT_EQ(log->HighestOffset(), std::nullopt);
    EXPECT_THAT(log->Append("first again"), IsOkAndHolds(0u));
    ASSERT_OK(log->Close());
  }
  auto log = MustOpen(dir_);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->LowestOffset(), 0u);
  EXPECT_EQ(log->NextOffset(), 1u);
  std::string scratch;
  ASSERT_OK_AND_ASSIGN(Record r, log->Read(0, &scratch));
  EXPECT_EQ(r.value, "first again");
}

// A log with a sticky error refuses Reset with that error and keeps its
// records; a Reset that fails once its intent is in place leaves the log
// read-only, and the next open finishes it.
TEST_F(LogResetTest, StickyErrorRefusesResetAndFailedResetIsFinishedByOpen) {
  auto log = OpenTwelve(dir_);
  ASSERT_NE(log, nullptr);
  ASSERT_OK(log->Append("unsynced"));
  fault_->FailAfter(kOpSync, 0, EIO);
  ASSERT_FALSE(log->Sync().ok());
  fault_->ClearFailures();
  EXPECT_THAT(log->Reset(5),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("read-only after an earlier write failure")));
  EXPECT_EQ(log->NextOffset(), 13u);
  EXPECT_THAT(fault_->FileExists(JoinPath(dir_, kResetIntentFileName)),
              IsOkAndHolds(false));
  log.reset();

  const std::string dir = env_.Dir("failed");
  log = OpenTwelve(dir);
  ASSERT_NE(log, nullptr);
  // The first removal comes after the intent is in place.
  fault_->FailAfter(kOpRemove, 0, EIO);
  EXPECT_FALSE(log->Reset(5).ok());
  fault_->ClearFailures();
  EXPECT_EQ(log->write_failure(), WriteFailure::kOther);
  EXPECT_THAT(log->Append("refused"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  log.reset();
  log = MustOpen(dir);
  ASSERT_NE(log, nullptr);
  ExpectEmptyAt(*log, 5);
}

// Appends racing a Reset are ordered with it: each lands wholly before it
// (and is dropped) or after it (at offsets from the new next offset on).
TEST_F(LogResetTest, ConcurrentAppendsAreOrderedWithReset) {
  options_.max_index_bytes = 64 * kIndexEntrySize;
  auto log = OpenTwelve(dir_);
  ASSERT_NE(log, nullptr);
  std::vector<std::optional<uint64_t>> offsets(200);
  std::thread appender([&] {
    for (size_t i = 0; i < offsets.size(); ++i) {
      absl::StatusOr<uint64_t> o = log->Append(absl::StrCat("racing-", i));
      if (o.ok()) offsets[i] = *o;
    }
  });
  ASSERT_OK(log->Reset(1000));
  appender.join();
  // Those after the Reset are contiguous from 1000, in append order.
  uint64_t expected = 1000;
  std::string scratch;
  for (size_t i = 0; i < offsets.size(); ++i) {
    ASSERT_TRUE(offsets[i].has_value()) << i;
    if (*offsets[i] < 1000) {
      EXPECT_EQ(expected, 1000u) << "append " << i << " after the reset";
      continue;
    }
    EXPECT_EQ(*offsets[i], expected);
    ++expected;
    ASSERT_OK_AND_ASSIGN(Record r, log->Read(*offsets[i], &scratch));
    EXPECT_EQ(r.value, absl::StrCat("racing-", i));
  }
  EXPECT_EQ(log->LowestOffset(), 1000u);
  EXPECT_EQ(log->NextOffset(), expected);
}

// ------------------------------------------------ a crash at each step

// The n-th mutating operation of Reset fails, for every n until it succeeds;
// then a kill (the files as they are) and a power loss (only synced data and
// directory entries). Each recovered log is the old one (records 0..11) or
// the empty one at the Reset's offset, never a mixture, and the Reset's
// intent is gone; once Reset returned OK, only the new one.
TEST_F(LogResetTest, CrashAtEachStepLeavesOldOrNewLog) {
  // Lower (onto the base of an old segment), inside, equal, higher.
  for (const uint64_t target :
       {uint64_t{4}, uint64_t{6}, uint64_t{12}, uint64_t{100}}) {
    int old_states = 0, new_states = 0;
    for (uint64_t n = 0;; ++n) {
      ASSERT_LT(n, 60u) << "Reset never succeeded";
      const std::string powered_off =
          env_.Dir(absl::StrCat("log", target, "-", n));
      const std::string killed = env_.Dir(absl::StrCat("kill", target, "-", n));
      auto log = OpenTwelve(powered_off);
      ASSERT_NE(log, nullptr);
      fault_->FailAfter(kMutatingOps, n, EIO);
      const absl::Status s = log->Reset(target);
      fault_->ClearFailures();
      env_.KillCopy(powered_off, killed);
      env_.PowerLoss(std::move(log));
      for (const std::string& dir : {killed, powered_off}) {
        SCOPED_TRACE(absl::StrCat("Reset(", target, "), failing operation ", n,
                                  ", ", dir, ", ", s.ToString()));
        const bool reset = CheckRecovered(dir, target);
        if (s.ok()) EXPECT_TRUE(reset);
        (reset ? new_states : old_states)++;
      }
      if (s.ok()) break;
    }
    EXPECT_GT(old_states, 0) << "Reset(" << target << ")";
    EXPECT_GT(new_states, 0) << "Reset(" << target << ")";
  }
}

}  // namespace
}  // namespace blockwal::wal
