// Append timestamps and Log::OffsetForTime under a clock the test controls
// (LogOptions::clock_us), and the exact counters of Log::GetStats for
// scripted single-threaded sequences.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "blockwal/util/mem_file_system.h"
#include "blockwal/wal/index.h"
#include "blockwal/wal/log.h"
#include "blockwal/wal/log_options.h"

namespace blockwal::wal {
namespace {

using ::blockwal::testing::StatusIs;
using ::testing::HasSubstr;

// Four records per segment, so that runs of records cross segments.
constexpr uint64_t kPerSegment = 4;

class LogTimeTest : public ::testing::Test {
 protected:
  LogTimeTest() : fs_(NewMemFileSystem()) {
    options_.fs = fs_.get();
    options_.max_index_bytes = kPerSegment * kIndexEntrySize;
    options_.clock_us = [this] { return now_us_; };
  }

  void SetUp() override { Reopen(); }

  void Reopen() {
    if (log_ != nullptr) {
      ASSERT_OK(log_->Close());
    }
    log_.reset();
    ASSERT_OK_AND_ASSIGN(log_, Log::Open("/log", options_));
  }

  // Appends one record while the clock reads `time_us`; returns its offset.
  uint64_t AppendAt(uint64_t time_us) {
    now_us_ = time_us;
    absl::StatusOr<uint64_t> offset = log_->Append(absl::StrCat("t", time_us));
    EXPECT_OK(offset);
    return offset.ok() ? *offset : ~uint64_t{0};
  }

  uint64_t TimestampOf(uint64_t offset) {
    std::string scratch;
    absl::StatusOr<Record> r = log_->Read(offset, &scratch);
    EXPECT_OK(r);
    return r.ok() ? r->timestamp_us : 0;
  }

  // OffsetForTime as a number, or -1 for kNotFound (anything else fails).
  int64_t At(uint64_t time_us) {
    absl::StatusOr<uint64_t> offset = log_->OffsetForTime(time_us);
    if (absl::IsNotFound(offset.status())) return -1;
    EXPECT_OK(offset) << "time " << time_us;
    return offset.ok() ? static_cast<int64_t>(*offset) : -2;
  }

  std::unique_ptr<FileSystem> fs_;
  LogOptions options_;
  uint64_t now_us_ = 0;
  std::unique_ptr<Log> log_;
};

TEST_F(LogTimeTest, EmptyLogHasNoOffsetForAnyTime) {
  EXPECT_THAT(log_->OffsetForTime(0),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/log")));
  EXPECT_EQ(At(12345), -1);
}

TEST_F(LogTimeTest, AppendRecordsTheClock) {
  EXPECT_EQ(AppendAt(1700000000000001), 0u);
  EXPECT_EQ(AppendAt(1700000000000005), 1u);
  EXPECT_EQ(TimestampOf(0), 1700000000000001u);
  EXPECT_EQ(TimestampOf(1), 1700000000000005u);
}

TEST_F(LogTimeTest, BatchRecordsShareOneTimestamp) {
  now_us_ = 700;
  const std::vector<absl::string_view> values = {"a", "b", "c"};
  ASSERT_OK_AND_ASSIGN(uint64_t first, log_->AppendBatch(values));
  EXPECT_EQ(first, 0u);
  for (uint64_t o = 0; o < 3; ++o) EXPECT_EQ(TimestampOf(o), 700u);
  EXPECT_EQ(At(700), 0);
  EXPECT_EQ(At(701), -1);
}

// Offsets and times of the scripted log (four records per segment):
//   segment 0:  0@100  1@200  2@200  3@200
//   segment 4:  4@200  5@200  6@300  7@400
//   segment 8:  8@500  9@500 10@500 (one batch)  11@1000
class LogTimeScriptTest : public LogTimeTest {
 protected:
  void SetUp() override {
    LogTimeTest::SetUp();
    for (uint64_t t : {100, 200, 200, 200, 200, 200, 300, 400}) AppendAt(t);
    now_us_ = 500;
    const std::vector<absl::string_view> batch = {"b0", "b1", "b2"};
    ASSERT_OK_AND_ASSIGN(uint64_t first, log_->AppendBatch(batch));
    ASSERT_EQ(first, 8u);
    AppendAt(1000);
    ASSERT_EQ(log_->Segments().size(), 3u);
  }
};

TEST_F(LogTimeScriptTest, BeforeTheFirstRecordIsTheFirstOffset) {
  EXPECT_EQ(At(0), 0);
  EXPECT_EQ(At(99), 0);
}

TEST_F(LogTimeScriptTest, EqualToARecordsTimeIsThatRecord) {
  EXPECT_EQ(At(100), 0);
  EXPECT_EQ(At(300), 6);
  EXPECT_EQ(At(400), 7);
  EXPECT_EQ(At(1000), 11);
}

TEST_F(LogTimeScriptTest, BetweenRecordsIsTheNextOne) {
  EXPECT_EQ(At(101), 1);
  EXPECT_EQ(At(250), 6);
  EXPECT_EQ(At(301), 7);
  EXPECT_EQ(At(401), 8);
  EXPECT_EQ(At(999), 11);
}

TEST_F(LogTimeScriptTest, EqualTimestampsGiveTheFirstEvenAcrossSegments) {
  EXPECT_EQ(At(200), 1);  // 1..5 share it; 4 and 5 are in the next segment
  EXPECT_EQ(At(500), 8);  // the batch
  EXPECT_EQ(At(201), 6);
}

TEST_F(LogTimeScriptTest, AfterTheLastRecordIsNotFound) {
  EXPECT_EQ(At(1001), -1);
  EXPECT_THAT(log_->OffsetForTime(~uint64_t{0}),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(LogTimeScriptTest, EveryTimeAgreesWithALinearScan) {
  for (uint64_t t = 0; t <= 1001; ++t) {
    int64_t expected = -1;
    for (uint64_t o = 0; o < 12; ++o) {
      if (TimestampOf(o) >= t) {
        expected = static_cast<int64_t>(o);
        break;
      }
    }
    ASSERT_EQ(At(t), expected) << "time " << t;
  }
}

TEST_F(LogTimeScriptTest, AnswersStayWithinWhatTruncatePrefixLeft) {
  ASSERT_OK(log_->TruncatePrefix(kPerSegment));
  ASSERT_EQ(log_->LowestOffset(), kPerSegment);
  EXPECT_EQ(At(0), 4);
  EXPECT_EQ(At(100), 4);
  EXPECT_EQ(At(200), 4);  // 1..3 are gone
  EXPECT_EQ(At(300), 6);
  EXPECT_EQ(At(1000), 11);
  EXPECT_EQ(At(1001), -1);
  ASSERT_OK(log_->TruncatePrefix(2 * kPerSegment));
  EXPECT_EQ(At(0), 8);
  EXPECT_EQ(At(500), 8);
}

TEST_F(LogTimeScriptTest, EmptiedByTruncatePrefixIsNotFound) {
  ASSERT_OK(log_->TruncatePrefix(log_->NextOffset()));
  EXPECT_EQ(At(0), -1);
  // The next record keeps counting from the newest time.
  now_us_ = 50;
  ASSERT_OK_AND_ASSIGN(uint64_t o, log_->Append("late"));
  EXPECT_EQ(o, 12u);
  EXPECT_EQ(TimestampOf(12), 1000u);
  EXPECT_EQ(At(0), 12);
  EXPECT_EQ(At(1000), 12);
}

TEST_F(LogTimeScriptTest, AnswersAreTheSameAfterReopening) {
  Reopen();
  EXPECT_EQ(At(0), 0);
  EXPECT_EQ(At(200), 1);
  EXPECT_EQ(At(401), 8);
  EXPECT_EQ(At(1000), 11);
  EXPECT_EQ(At(1001), -1);
}

TEST_F(LogTimeScriptTest, AnswersAfterTruncateSuffix) {
  ASSERT_OK(log_->TruncateSuffix(6));  // keeps 0..6; 6@300 is the newest
  EXPECT_EQ(At(300), 6);
  EXPECT_EQ(At(301), -1);
  AppendAt(350);
  EXPECT_EQ(At(301), 7);
}

TEST_F(LogTimeTest, ManyEqualTimestampsGiveTheFirst) {
  AppendAt(10);
  for (int i = 0; i < 50; ++i) AppendAt(20);  // offsets 1..50, 13 segments
  AppendAt(30);
  EXPECT_EQ(At(11), 1);
  EXPECT_EQ(At(20), 1);
  EXPECT_EQ(At(21), 51);
  // Also when the run starts on a segment boundary.
  ASSERT_OK(log_->TruncatePrefix(kPerSegment));
  EXPECT_EQ(At(20), 4);
}

TEST_F(LogTimeTest, TimestampsNeverDecreaseWhenTheClockGoesBack) {
  AppendAt(500);
  AppendAt(400);  // clamped to 500
  AppendAt(600);
  AppendAt(100);  // clamped to 600
  AppendAt(0);    // clamped to 600; offset 4 starts a segment
  EXPECT_EQ(TimestampOf(0), 500u);
  EXPECT_EQ(TimestampOf(1), 500u);
  EXPECT_EQ(TimestampOf(2), 600u);
  EXPECT_EQ(TimestampOf(3), 600u);
  EXPECT_EQ(TimestampOf(4), 600u);
  EXPECT_EQ(At(450), 0);
  EXPECT_EQ(At(500), 0);
  EXPECT_EQ(At(550), 2);
  EXPECT_EQ(At(600), 2);
  EXPECT_EQ(At(601), -1);
  // Across a reopen too: the log remembers its newest timestamp.
  Reopen();
  AppendAt(1);
  EXPECT_EQ(TimestampOf(5), 600u);
  AppendAt(700);
  EXPECT_EQ(TimestampOf(6), 700u);
  EXPECT_EQ(At(601), 6);
}

// ------------------------------------------------------------------ stats

class LogStatsTest : public LogTimeTest,
                     public ::testing::WithParamInterface<SyncPolicy> {
 protected:
  void SetUp() override {
    options_.sync_policy = GetParam();
    LogTimeTest::SetUp();
  }
  bool every_append() const { return GetParam() == SyncPolicy::kEveryAppend; }
};

TEST_P(LogStatsTest, FreshLogCountsNothing) {
  const LogStats stats = log_->GetStats();
  EXPECT_EQ(stats.appends, 0u);
  EXPECT_EQ(stats.records, 0u);
  EXPECT_EQ(stats.value_bytes, 0u);
  EXPECT_EQ(stats.groups, 0u);
  EXPECT_EQ(stats.syncs, 0u);
  EXPECT_EQ(stats.rolls, 0u);
  EXPECT_EQ(stats.group_size.count(), 0u);
  EXPECT_EQ(stats.sync_latency_us.count(), 0u);
}

TEST_P(LogStatsTest, ScriptedSequenceCountsExactly) {
  // Segment 0 gets offsets 0 and 1; the batch of three does not fit its
  // two free entries and rolls to segment 2, which "ffff" fills; "" rolls
  // to segment 6.
  ASSERT_OK(log_->Append("a"));
  ASSERT_OK(log_->Append("bb"));
  const std::vector<absl::string_view> batch = {"c", "dd", "eee", "ffff"};
  ASSERT_OK_AND_ASSIGN(uint64_t first,
                       log_->AppendBatch(absl::MakeConstSpan(batch).subspan(0, 3)));
  EXPECT_EQ(first, 2u);
  ASSERT_OK_AND_ASSIGN(uint64_t fifth,
                       log_->AppendBatch(absl::MakeConstSpan(batch).subspan(3, 1)));
  EXPECT_EQ(fifth, 5u);
  ASSERT_OK_AND_ASSIGN(uint64_t last, log_->Append(""));
  EXPECT_EQ(last, 6u);
  ASSERT_OK(log_->Sync());
  // Refused before reaching the queue: not counted.
  EXPECT_THAT(log_->AppendBatch({}), StatusIs(absl::StatusCode::kInvalidArgument));
  const std::vector<absl::string_view> too_many(kPerSegment + 1, "x");
  EXPECT_THAT(log_->AppendBatch(too_many),
              StatusIs(absl::StatusCode::kInvalidArgument));

  LogStats stats = log_->GetStats();
  EXPECT_EQ(stats.appends, 5u);
  EXPECT_EQ(stats.records, 7u);
  EXPECT_EQ(stats.value_bytes, 1u + 2 + 1 + 2 + 3 + 4 + 0);
  EXPECT_EQ(stats.groups, 5u);  // one thread: one append per group
  EXPECT_EQ(stats.group_size.count(), 5u);
  EXPECT_EQ(stats.group_size.sum(), 5u);
  EXPECT_EQ(stats.group_size.max(), 1u);
  // kEveryAppend: one sync per group, plus the explicit Sync either way.
  // Seals at a roll are not counted.
  EXPECT_EQ(stats.syncs, every_append() ? 6u : 1u);
  EXPECT_EQ(stats.sync_latency_us.count(), stats.syncs);
  EXPECT_EQ(stats.rolls, 2u);
  EXPECT_EQ(log_->Segments().size(), 3u);

  ASSERT_OK(log_->Append("g"));  // offset 7, in segment 6
  stats = log_->GetStats();
  EXPECT_EQ(stats.appends, 6u);
  EXPECT_EQ(stats.records, 8u);
  EXPECT_EQ(stats.value_bytes, 14u);
  EXPECT_EQ(stats.rolls, 2u);

  // TruncatePrefix of everything rolls to a fresh segment; a truncation is
  // not an append or a group.
  ASSERT_OK(log_->TruncatePrefix(log_->NextOffset()));
  stats = log_->GetStats();
  EXPECT_EQ(stats.rolls, 3u);
  EXPECT_EQ(stats.appends, 6u);
  EXPECT_EQ(stats.groups, 6u);
  EXPECT_EQ(stats.syncs, every_append() ? 7u : 1u);

  // Counters start over with each Open.
  Reopen();
  stats = log_->GetStats();
  EXPECT_EQ(stats.appends, 0u);
  EXPECT_EQ(stats.rolls, 0u);
  EXPECT_EQ(stats.syncs, 0u);
}

TEST_P(LogStatsTest, SyncWithoutAppendsStillSyncsButIsNoGroup) {
  ASSERT_OK(log_->Sync());
  ASSERT_OK(log_->Sync());
  const LogStats stats = log_->GetStats();
  EXPECT_EQ(stats.syncs, 2u);
  EXPECT_EQ(stats.groups, 0u);
  EXPECT_EQ(stats.appends, 0u);
}

TEST_P(LogStatsTest, FailedAppendsAfterCloseAreNotCounted) {
  ASSERT_OK(log_->Append("a"));
  ASSERT_OK(log_->Close());
  EXPECT_THAT(log_->Append("b"), StatusIs(absl::StatusCode::kFailedPrecondition));
  const LogStats stats = log_->GetStats();
  EXPECT_EQ(stats.appends, 1u);
  EXPECT_EQ(stats.records, 1u);
  EXPECT_EQ(stats.value_bytes, 1u);
  EXPECT_EQ(stats.groups, 1u);
  EXPECT_EQ(stats.syncs, every_append() ? 1u : 0u);
  log_.reset();
}

INSTANTIATE_TEST_SUITE_P(Policies, LogStatsTest,
                         ::testing::Values(SyncPolicy::kEveryAppend,
                                           SyncPolicy::kNone),
                         [](const ::testing::TestParamInfo<SyncPolicy>& info) {
                           return info.param == SyncPolicy::kEveryAppend
                                      ? std::string("EveryAppend")
                                      : std::string("None");
                         });

}  // namespace
}  // namespace blockwal::wal
