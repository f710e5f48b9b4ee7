// Crash safety of the segmented log's truncations (wal/log.h): a crash at
// each step of TruncatePrefix and TruncateSuffix leaves the old or the new
// state, never a mix; a truncation is durable on return; leftover and
// damaged intent files and a damaged LAST_TRUNCATION file at open.
#include <cerrno>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/log_recovery_env.h"
#include "tests/status_matchers.h"

namespace blockwal::wal {
namespace {

using ::blockwal::testing::IsOkAndHolds;
using ::blockwal::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// TruncateSuffix inside a batch is durable on return, kept part included.
TEST_F(LogPowerLossTest, TruncateSuffixInsideBatchSurvivesPowerLoss) {
  options_.max_index_bytes = 64 * kIndexEntrySize;
  auto log = MustOpen(dir_);
  for (uint64_t i = 0; i < 3; ++i) ASSERT_OK(log->Append(SmallValue(i)));
  std::vector<absl::string_view> batch = {"batch-03", "batch-04", "batch-05",
                                          "batch-06"};
  ASSERT_OK(log->AppendBatch(batch));  // never synced explicitly
  ASSERT_OK(log->TruncateSuffix(4));
  env_.PowerLoss(std::move(log));

  auto recovered = MustOpen(dir_);
  const RecoveryReport& report = recovered->recovery_report();
  EXPECT_EQ(recovered->NextOffset(), 5u);
  EXPECT_EQ(report.batches_cut, 0u);
  EXPECT_EQ(report.torn_bytes_cut, 0u);
  EXPECT_THAT(report.damage, IsEmpty());
  EXPECT_EQ(Contents(*recovered),
            (std::vector<std::string>{SmallValue(0), SmallValue(1),
                                      SmallValue(2), "batch-03", "batch-04"}));
  EXPECT_EQ(LastTruncation(fault_, dir_), "5");  // the first offset removed
}

// LAST_TRUNCATION is read at every open; damaged, it fails the open (which
// then changes no segment file) with kDataLoss naming it.
TEST_F(LogPowerLossTest, DamagedLastTruncationFileFailsOpenWithDataLoss) {
  {
    auto log = MustOpen(dir_);
    for (uint64_t i = 0; i < 12; ++i) ASSERT_OK(log->Append(SmallValue(i)));
    ASSERT_OK(log->TruncateSuffix(9));
    ASSERT_OK(log->Close());
  }
  const std::string path = JoinPath(dir_, kLastTruncationFileName);
  ASSERT_EQ(env_.Size(path), 12u);
  env_.FlipBit(path, 0);  // the offset no longer matches its CRC
  const auto before = env_.Snapshot(dir_);
  EXPECT_THAT(Log::Open(dir_, options_),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr(path), HasSubstr("damaged"))));
  EXPECT_THAT(ChangedFiles(before, env_.Snapshot(dir_)), IsEmpty());
  // Cut short, too.
  env_.FlipBit(path, 0);
  env_.TruncateTo(path, 8);
  EXPECT_THAT(Log::Open(dir_, options_),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr(path), HasSubstr("(8 bytes)"))));
}

// -------------------------------------------- truncations, crash at each step

// The states a truncation may leave after a crash: the old or the new, never
// a mix. The test fails the n-th mutating operation of the truncation, for
// every n until it succeeds, and then crashes two ways: a process kill (the
// files as they are) and a power loss (only synced data and directory
// entries).
class LogTruncationCrashTest : public LogPowerLossTest {
 protected:
  static absl::Status AppendTwelve(Log& log) {
    for (uint64_t i = 0; i < 12; ++i) {
      absl::Status s = log.Append(SmallValue(i)).status();
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

  // Runs `truncate` on a fresh log of 12 records in segments 0, 4, 8 with the
  // n-th mutating operation failing; returns the truncation's status and the
  // kill copy and the power-loss directory to check.
  absl::Status RunWithFailure(uint64_t n, uint64_t round,
                              const std::function<absl::Status(Log&)>& truncate,
                              std::string* killed, std::string* powered_off) {
    return RunWithFailure(n, round, AppendTwelve, truncate, killed,
                          powered_off);
  }
  // As above, with the log's records appended by `fill` (and synced).
  absl::Status RunWithFailure(uint64_t n, uint64_t round,
                              const std::function<absl::Status(Log&)>& fill,
                              const std::function<absl::Status(Log&)>& truncate,
                              std::string* killed, std::string* powered_off) {
    *powered_off = env_.Dir(absl::StrCat("log", round));
    *killed = env_.Dir(absl::StrCat("kill", round));
    auto log = MustOpen(*powered_off);
    if (log == nullptr) return absl::InternalError("open");
    absl::Status s = fill(*log);
    if (!s.ok()) return s;
    s = log->Sync();
    if (!s.ok()) return s;
    fault_->FailAfter(kMutatingOps, n, EIO);
    absl::Status result = truncate(*log);
    fault_->ClearFailures();
    env_.KillCopy(*powered_off, *killed);
    env_.PowerLoss(std::move(log));
    return result;
  }
};

// A crash after the TRUNCATE_PREFIX intent is in place but before the old
// segments are gone: the open finishes the removal (and does not then take
// their indexes for indexes without a store) at the first attempt.
TEST_F(LogTruncationCrashTest, TruncatePrefixLeavesOldOrNewState) {
  int old_states = 0, new_states = 0;
  for (uint64_t n = 0;; ++n) {
    ASSERT_LT(n, 60u) << "TruncatePrefix never succeeded";
    std::string killed, powered_off;
    const absl::Status s = RunWithFailure(
        n, n, [](Log& log) { return log.TruncatePrefix(9); }, &killed,
        &powered_off);
    for (const std::string& dir : {killed, powered_off}) {
      SCOPED_TRACE(absl::StrCat("failing operation ", n, ", ", dir, ", ",
                                s.ToString()));
      auto log = MustOpen(dir);
      if (log == nullptr) continue;
      const uint64_t lowest = log->LowestOffset();
      EXPECT_TRUE(lowest == 0 || lowest == 8) << lowest;
      if (s.ok()) {
        EXPECT_EQ(lowest, 8u);
      }
      (lowest == 0 ? old_states : new_states)++;
      EXPECT_EQ(log->NextOffset(), 12u);
      std::vector<std::string> expected;
      for (uint64_t i = lowest; i < 12; ++i) expected.push_back(SmallValue(i));
      EXPECT_EQ(Contents(*log), expected);
      EXPECT_THAT(fault_->FileExists(JoinPath(dir, "TRUNCATE_PREFIX")),
                  IsOkAndHolds(false));
      EXPECT_THAT(fault_->FileExists(JoinPath(dir, "TRUNCATE_PREFIX.tmp")),
                  IsOkAndHolds(false));
      ASSERT_OK(log->Close());
      // Whatever was decided is durable: the next open agrees.
      auto again = MustOpen(dir);
      EXPECT_EQ(again->LowestOffset(), lowest);
      EXPECT_TRUE(again->recovery_report().clean_shutdown);
    }
    if (s.ok()) break;
  }
  EXPECT_GT(old_states, 0);
  EXPECT_GT(new_states, 0);
}

TEST_F(LogTruncationCrashTest, TruncateSuffixLeavesOldOrNewState) {
  int old_states = 0, new_states = 0;
  for (uint64_t n = 0;; ++n) {
    ASSERT_LT(n, 80u) << "TruncateSuffix never succeeded";
    std::string killed, powered_off;
    const absl::Status s = RunWithFailure(
        n, n, [](Log& log) { return log.TruncateSuffix(5); }, &killed,
        &powered_off);
    for (const std::string& dir : {killed, powered_off}) {
      SCOPED_TRACE(absl::StrCat("failing operation ", n, ", ", dir, ", ",
                                s.ToString()));
      auto log = MustOpen(dir);
      if (log == nullptr) continue;
      const uint64_t next = log->NextOffset();
      EXPECT_TRUE(next == 12 || next == 6) << next;
      if (s.ok()) {
        EXPECT_EQ(next, 6u);
      }
      (next == 12 ? old_states : new_states)++;
      EXPECT_EQ(log->LowestOffset(), 0u);
      std::vector<std::string> expected;
      for (uint64_t i = 0; i < next; ++i) expected.push_back(SmallValue(i));
      EXPECT_EQ(Contents(*log), expected);
      EXPECT_THAT(fault_->FileExists(JoinPath(dir, "TRUNCATE_SUFFIX")),
                  IsOkAndHolds(false));
      EXPECT_THAT(fault_->FileExists(JoinPath(dir, "TRUNCATE_SUFFIX.tmp")),
                  IsOkAndHolds(false));
      // New appends take the next offset and stay after a clean reopen.
      ASSERT_OK_AND_ASSIGN(uint64_t offset, log->Append("after"));
      EXPECT_EQ(offset, next);
      ASSERT_OK(log->Close());
      auto again = MustOpen(dir);
      EXPECT_EQ(again->NextOffset(), next + 1);
      EXPECT_TRUE(again->recovery_report().clean_shutdown);
      std::string scratch;
      ASSERT_OK_AND_ASSIGN(Record r, again->Read(next, &scratch));
      EXPECT_EQ(r.value, "after");
    }
    if (s.ok()) break;
  }
  EXPECT_GT(old_states, 0);
  EXPECT_GT(new_states, 0);
}

// As TruncateSuffixLeavesOldOrNewState, inside a batch: segments 0 (records
// 0..3), 4 (a batch of 4..7) and 8 (a batch of 8..10), all synced, and
// TruncateSuffix(5). Once the intent is committed, the crash leaves exactly
// records 0..5, the kept 4 and 5 whole though they carry kBatchContinues, and
// LAST_TRUNCATION says 5; before, the log is as it was and has no
// LAST_TRUNCATION.
TEST_F(LogTruncationCrashTest, TruncateSuffixInsideBatchLeavesOldOrNewState) {
  auto fill = [](Log& log) -> absl::Status {
    for (uint64_t i = 0; i < 4; ++i) {
      absl::Status s = log.Append(SmallValue(i)).status();
      if (!s.ok()) return s;
    }
    const std::string values[] = {SmallValue(4), SmallValue(5), SmallValue(6),
                                  SmallValue(7), SmallValue(8), SmallValue(9),
                                  SmallValue(10)};
    std::vector<absl::string_view> views(std::begin(values), std::end(values));
    absl::Status s =
        log.AppendBatch(absl::MakeConstSpan(views).subspan(0, 4)).status();
    if (!s.ok()) return s;
    return log.AppendBatch(absl::MakeConstSpan(views).subspan(4)).status();
  };
  int old_states = 0, new_states = 0;
  for (uint64_t n = 0;; ++n) {
    ASSERT_LT(n, 80u) << "TruncateSuffix never succeeded";
    std::string killed, powered_off;
    const absl::Status s = RunWithFailure(
        n, n, fill, [](Log& log) { return log.TruncateSuffix(5); }, &killed,
        &powered_off);
    for (const std::string& dir : {killed, powered_off}) {
      SCOPED_TRACE(absl::StrCat("failing operation ", n, ", ", dir, ", ",
                                s.ToString()));
      auto log = MustOpen(dir);
      if (log == nullptr) continue;
      const uint64_t next = log->NextOffset();
      EXPECT_TRUE(next == 11 || next == 6) << next;
      if (s.ok()) {
        EXPECT_EQ(next, 6u);
      }
      const bool truncated = next == 6;
      (truncated ? new_states : old_states)++;
      EXPECT_EQ(log->recovery_report().batches_cut, 0u);
      EXPECT_EQ(log->LowestOffset(), 0u);
      std::vector<std::string> expected;
      for (uint64_t i = 0; i < next; ++i) expected.push_back(SmallValue(i));
      EXPECT_EQ(Contents(*log), expected);
      EXPECT_THAT(fault_->FileExists(JoinPath(dir, kSuffixIntentFileName)),
                  IsOkAndHolds(false));
      EXPECT_THAT(
          fault_->FileExists(JoinPath(
              dir, absl::StrCat(kSuffixIntentFileName, kTempFileSuffix))),
          IsOkAndHolds(false));
      if (truncated) {
        EXPECT_EQ(LastTruncation(fault_, dir), "6");  // the first offset removed
      } else {
        EXPECT_THAT(fault_->FileExists(JoinPath(dir, kLastTruncationFileName)),
                    IsOkAndHolds(false));
      }
      // The kept records stay whole after more appends and a clean reopen.
      ASSERT_OK_AND_ASSIGN(uint64_t offset, log->Append("after"));
      EXPECT_EQ(offset, next);
      ASSERT_OK(log->Close());
      auto again = MustOpen(dir);
      EXPECT_TRUE(again->recovery_report().clean_shutdown);
      EXPECT_EQ(again->recovery_report().batches_cut, 0u);
      EXPECT_EQ(again->NextOffset(), next + 1);
      expected.push_back("after");
      EXPECT_EQ(Contents(*again), expected);
    }
    if (s.ok()) break;
  }
  EXPECT_GT(old_states, 0);
  EXPECT_GT(new_states, 0);
}

// A TruncateSuffix inside a batch that is not yet synced, with a failure at
// each of its steps and then a power loss that tears the unsynced bytes: the
// log must be the old one (the batch lost whole, 0..2, or kept whole, 0..6:
// TruncateSuffix syncs the records it keeps before its intent says they end
// the log whole, and that sync makes the whole batch durable) or the new one
// (0..4), never a part of a batch.
TEST_F(LogTruncationCrashTest, UnsyncedBatchTruncatedThenTornKeepsNoPartOfIt) {
  options_.max_index_bytes = 64 * kIndexEntrySize;
  int outcomes[8] = {};
  for (uint64_t n = 0;; ++n) {
    ASSERT_LT(n, 40u) << "TruncateSuffix never succeeded";
    SCOPED_TRACE(absl::StrCat("failing operation ", n));
    const std::string dir = env_.Dir(absl::StrCat("torn", n));
    auto log = MustOpen(dir);
    ASSERT_NE(log, nullptr);
    for (uint64_t i = 0; i < 3; ++i) ASSERT_OK(log->Append(BigValue(i)));
    ASSERT_OK(log->Sync());
    const std::string values[] = {BigValue(3), BigValue(4), BigValue(5),
                                  BigValue(6)};
    std::vector<absl::string_view> views(std::begin(values), std::end(values));
    ASSERT_OK(log->AppendBatch(views));
    fault_->FailAfter(kMutatingOps, n, EIO);
    const absl::Status s = log->TruncateSuffix(4);
    fault_->ClearFailures();
    // Power loss: of the 4096 unsynced store bytes, the first 1024 (record
    // 3) survive.
    fault_->FailAfter(kMutatingOps, 0, EIO, /*sticky=*/true);
    log.reset();
    fault_->ClearFailures();
    ASSERT_OK(fault_->TearUnsyncedData(0.25));
    ASSERT_OK(fault_->DeleteFilesCreatedAfterLastDirSync());
    fault_->ResetState();

    auto recovered = MustOpen(dir);
    ASSERT_NE(recovered, nullptr);
    const uint64_t next = recovered->NextOffset();
    EXPECT_TRUE(next == 3 || next == 5 || next == 7) << next << " after " << s;
    if (s.ok()) {
      EXPECT_EQ(next, 5u);
    }
    if (next < 8) ++outcomes[next];
    for (uint64_t i = 0; i < next; ++i) {
      std::string scratch;
      absl::StatusOr<Record> r = recovered->Read(i, &scratch);
      ASSERT_OK(r) << "offset " << i;
      EXPECT_EQ(r->value, BigValue(i)) << "offset " << i;
    }
    if (s.ok()) break;
  }
  EXPECT_GT(outcomes[3], 0);
  EXPECT_GT(outcomes[5], 0);
}

// After a truncation returns, it is durable, and so is a later synced append
// at the reused offset: the old record there never comes back.
TEST_F(LogPowerLossTest, SyncedAppendAfterTruncateSuffixSurvivesPowerLoss) {
  auto log = MustOpen(dir_);
  for (uint64_t i = 0; i < 12; ++i) ASSERT_OK(log->Append(SmallValue(i)));
  ASSERT_OK(log->Sync());
  ASSERT_OK(log->TruncateSuffix(5));
  ASSERT_OK(log->Append("new-6"));
  ASSERT_OK(log->Sync());
  ASSERT_OK(log->Append("new-7"));  // unsynced
  env_.PowerLoss(std::move(log));
  auto recovered = MustOpen(dir_);
  EXPECT_EQ(recovered->NextOffset(), 7u);
  std::vector<std::string> expected;
  for (uint64_t i = 0; i < 6; ++i) expected.push_back(SmallValue(i));
  expected.push_back("new-6");
  EXPECT_EQ(Contents(*recovered), expected);
}

TEST_F(LogPowerLossTest, TruncatePrefixIsDurableOnReturn) {
  auto log = MustOpen(dir_);
  for (uint64_t i = 0; i < 12; ++i) ASSERT_OK(log->Append(SmallValue(i)));
  ASSERT_OK(log->TruncatePrefix(8));
  env_.PowerLoss(std::move(log));
  auto recovered = MustOpen(dir_);
  EXPECT_EQ(recovered->LowestOffset(), 8u);
  EXPECT_THAT(fault_->FileExists(RecoveryEnv::StorePath(dir_, 0)),
              IsOkAndHolds(false));
  EXPECT_THAT(fault_->FileExists(RecoveryEnv::StorePath(dir_, 4)),
              IsOkAndHolds(false));
}

// An intent file left by a truncation that never finished, found at open.
TEST_F(LogPowerLossTest, LeftoverIntentTempFileIsDiscarded) {
  {
    auto log = MustOpen(dir_);
    for (uint64_t i = 0; i < 12; ++i) ASSERT_OK(log->Append(SmallValue(i)));
    ASSERT_OK(log->Close());
  }
  env_.SetBytes(JoinPath(dir_, "TRUNCATE_SUFFIX.tmp"), "partial");
  env_.SetBytes(JoinPath(dir_, "TRUNCATE_PREFIX.tmp"), "");
  auto log = MustOpen(dir_);
  EXPECT_EQ(log->LowestOffset(), 0u);
  EXPECT_EQ(log->NextOffset(), 12u);
  EXPECT_THAT(fault_->FileExists(JoinPath(dir_, "TRUNCATE_SUFFIX.tmp")),
              IsOkAndHolds(false));
  EXPECT_THAT(fault_->FileExists(JoinPath(dir_, "TRUNCATE_PREFIX.tmp")),
              IsOkAndHolds(false));
}

TEST_F(LogPowerLossTest, DamagedIntentFileFailsOpenWithDataLoss) {
  {
    auto log = MustOpen(dir_);
    for (uint64_t i = 0; i < 12; ++i) ASSERT_OK(log->Append(SmallValue(i)));
    ASSERT_OK(log->Close());
  }
  env_.SetBytes(JoinPath(dir_, "TRUNCATE_SUFFIX"), "garbage-bytes");
  EXPECT_THAT(Log::Open(dir_, options_),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr(JoinPath(dir_, "TRUNCATE_SUFFIX")),
                             HasSubstr("damaged"))));
}

}  // namespace
}  // namespace blockwal::wal
