// Model-based test of the segmented log: seeded random sequences of Append,
// AppendBatch, Read, Sync, TruncatePrefix, TruncateSuffix, Close + reopen,
// process kills and power losses, and I/O failures inside appends, syncs and
// truncations followed by a crash, checked after every step against an
// in-memory model of what the log must hold. Every other seed starts the log
// at a large offset (past 2^32).
//
// The model is the contract in docs/guarantees.md ("The contract"): after any
// crash the recovered log is a prefix of what was appended, with contiguous
// offsets, every synced record present and intact, no record that was not
// appended (in particular no record a TruncateSuffix removed), and batches
// all or nothing. Unsynced records may or may not survive a power loss, so
// the model keeps the range a crash may cut the log to: from the synced end
// to the appended end, at batch boundaries.
//
// Crashes run on a FaultInjectionFileSystem over the in-memory one:
//   power loss: every mutating operation fails while the Log is destroyed
//     (its Close cannot write: the crash), then unsynced data is dropped or
//     torn at a sector boundary and unsynced directory changes are undone;
//   kill: the directory's files are copied as they stand to a new directory
//     (what a killed process leaves; the in-memory file system has no
//     user-space buffers, so everything appended survives), and the copy is
//     opened.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "blockwal/util/fault_injection_file_system.h"
#include "blockwal/util/file_system.h"
#include "blockwal/util/mem_file_system.h"
#include "blockwal/wal/index.h"
#include "blockwal/wal/log.h"
#include "blockwal/wal/segment.h"

namespace blockwal::wal {
namespace {

using ::blockwal::testing::StatusIs;

constexpr uint32_t kMutatingOps = kOpAll & ~(kOpRead | kOpExists);

// What the log must hold.
struct Model {
  explicit Model(uint64_t initial)
      : lowest(initial), next(initial), durable_next(initial),
        cut_points({initial}) {}

  uint64_t lowest;
  uint64_t next;
  // Every offset below it was synced (or made durable by a truncation or a
  // recovery): a crash keeps it.
  uint64_t durable_next;
  std::map<uint64_t, std::string> values;  // [lowest, next)
  // Where a crash may leave the end of the log: the end of every batch
  // appended since durable_next, and durable_next itself.
  std::set<uint64_t> cut_points;

  void Append(const std::vector<std::string>& batch) {
    for (const std::string& v : batch) values[next++] = v;
    cut_points.insert(next);
  }
  void Synced() {
    durable_next = next;
    cut_points = {next};
  }
  // The log now ends at `end` (a crash or a suffix truncation).
  void CutTo(uint64_t end) {
    values.erase(values.lower_bound(end), values.end());
    next = end;
    cut_points.erase(cut_points.upper_bound(end), cut_points.end());
    cut_points.insert(end);
  }
  void DropBelow(uint64_t new_lowest) {
    values.erase(values.begin(), values.lower_bound(new_lowest));
    lowest = new_lowest;
    durable_next = std::max(durable_next, lowest);
    cut_points.erase(cut_points.begin(), cut_points.lower_bound(durable_next));
    cut_points.insert(durable_next);
  }
};

struct Config {
  uint64_t max_store_bytes;
  uint64_t max_index_entries;
  size_t max_value;  // values are 0..max_value bytes
};

class LogModelTest : public ::testing::TestWithParam<uint32_t> {
 protected:
  LogModelTest()
      : fault_(new FaultInjectionFileSystem(NewMemFileSystem())),
        owned_fs_(fault_),
        rng_(GetParam()),
        model_((GetParam() / 4) % 2 == 0 ? 0 : (uint64_t{1} << 33) + 7) {
    static const Config kConfigs[] = {
        // many small segments
        {.max_store_bytes = 512, .max_index_entries = 8, .max_value = 40},
        // segments rolled by the store limit
        {.max_store_bytes = 4096, .max_index_entries = 64, .max_value = 300},
        // segments rolled by the index limit
        {.max_store_bytes = 1 << 20, .max_index_entries = 6, .max_value = 200},
        // records spanning blocks
        {.max_store_bytes = 200000, .max_index_entries = 256, .max_value = 9000},
    };
    config_ = kConfigs[GetParam() % 4];
    options_.fs = fault_;
    options_.max_store_bytes = config_.max_store_bytes;
    options_.max_index_bytes = config_.max_index_entries * kIndexEntrySize;
    options_.initial_offset = model_.lowest;
    // A clock that sometimes goes back: timestamps must still never decrease.
    options_.clock_us = [this] {
      clock_ += std::uniform_int_distribution<int>(-3, 10)(rng_);
      return static_cast<uint64_t>(clock_);
    };
    EXPECT_OK(fault_->CreateDir("/m"));
  }

  uint64_t Uniform(uint64_t lo, uint64_t hi) {  // [lo, hi]
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng_);
  }

  std::string NewValue() {
    std::string v = absl::StrCat("s", GetParam(), "-", seq_++, ":");
    const size_t extra = Uniform(0, config_.max_value);
    for (size_t i = 0; i < extra; ++i) v.push_back(static_cast<char>('a' + (seq_ + i) % 26));
    return v;
  }

  void Open() {
    absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(dir_, options_);
    ASSERT_OK(log);
    log_ = *std::move(log);
  }

  // Every record of the model reads back, through Read and an iterator, and
  // timestamps never decrease.
  void VerifyAll() {
    ASSERT_EQ(log_->LowestOffset(), model_.lowest);
    ASSERT_EQ(log_->NextOffset(), model_.next);
    uint64_t last_ts = 0;
    std::string scratch;
    for (const auto& [offset, value] : model_.values) {
      absl::StatusOr<Record> r = log_->Read(offset, &scratch);
      ASSERT_OK(r) << "offset " << offset;
      ASSERT_EQ(r->offset, offset);
      ASSERT_EQ(r->value, value) << "offset " << offset;
      EXPECT_GE(r->timestamp_us, last_ts) << "offset " << offset;
      last_ts = r->timestamp_us;
    }
    auto it = log_->NewIterator(model_.lowest);
    Record r;
    uint64_t n = 0;
    while (it->Next(&r)) {
      ASSERT_EQ(r.value, model_.values[model_.lowest + n]);
      ++n;
    }
    ASSERT_OK(it->status());
    ASSERT_EQ(n, model_.values.size());
  }

  // After a crash: the log is a prefix of the model that keeps every durable
  // record and ends at a batch boundary.
  void CheckRecovered(bool everything_survives) {
    const RecoveryReport& report = log_->recovery_report();
    EXPECT_THAT(report.damage, ::testing::IsEmpty());
    const uint64_t next = log_->NextOffset();
    ASSERT_EQ(log_->LowestOffset(), model_.lowest);
    ASSERT_GE(next, model_.durable_next) << "a synced record was lost";
    ASSERT_LE(next, model_.next) << "a record that was never appended";
    ASSERT_TRUE(model_.cut_points.count(next))
        << "the log ends inside a batch at " << next;
    if (everything_survives) {
      ASSERT_EQ(next, model_.next);
    }
    model_.CutTo(next);
    model_.Synced();
    VerifyAll();
  }

  void PowerLoss() {
    fault_->FailAfter(kMutatingOps, 0, EIO, /*sticky=*/true);
    log_.reset();
    fault_->ClearFailures();
    if (Uniform(0, 1) == 0) {
      ASSERT_OK(fault_->DropUnsyncedData());
    } else {
      ASSERT_OK(fault_->TearUnsyncedData(Uniform(0, 100) / 100.0));
    }
    ASSERT_OK(fault_->DeleteFilesCreatedAfterLastDirSync());
    fault_->ResetState();
    Open();
  }

  void Kill() {
    const std::string copy = absl::StrCat("/m/log", ++generation_);
    ASSERT_OK(fault_->CreateDir(copy));
    ASSERT_OK_AND_ASSIGN(std::vector<std::string> names,
                         fault_->GetChildren(dir_));
    for (const std::string& name : names) {
      if (name == "LOCK") continue;
      ASSERT_OK_AND_ASSIGN(std::string data,
                           ReadFileToString(fault_, JoinPath(dir_, name)));
      ASSERT_OK(WriteStringToFile(fault_, data, JoinPath(copy, name), true));
    }
    ASSERT_OK(fault_->SyncDir(copy));
    log_.reset();  // the abandoned original is closed; the copy is the log
    dir_ = copy;
    Open();
  }

  // The operations so far, printed when a step fails.
  void Note(std::string what) {
    history_.push_back(absl::StrCat(what, " [segments", SegmentList(), "]"));
  }
  std::string SegmentList() {
    std::string out;
    if (log_ == nullptr) return out;
    for (const auto& seg : log_->Segments()) {
      absl::StrAppend(&out, " ", seg->base_offset(), "+", seg->record_count());
    }
    return out;
  }

  // Fails one of the next few mutating operations of an append, a sync or a
  // truncation. A failed write leaves the log read-only (kFailedPrecondition);
  // the unacknowledged batch may or may not survive the crash that follows,
  // but only whole, and the log after the crash is as before the truncation
  // or as after it.
  void FailThenCrash() {
    const uint64_t kind = Uniform(0, 4);
    const uint64_t n = Uniform(0, kind >= 3 ? 12 : 4);
    static const char* const kKinds[] = {"Append", "AppendBatch", "Sync",
                                         "TruncatePrefix", "TruncateSuffix"};
    std::optional<uint64_t> prefix_target;
    uint64_t prefix_done = 0;  // the lowest offset after a TruncatePrefix
    Note(absl::StrCat("Fail op ", n, " of ", kKinds[kind]));
    fault_->FailAfter(kMutatingOps, n, EIO);
    absl::Status s;
    if (kind == 2) {
      s = log_->Sync();
      if (s.ok()) model_.Synced();
    } else if (kind == 3) {
      const uint64_t lowest = Uniform(model_.lowest, model_.next);
      prefix_target = lowest;
      Note(absl::StrCat("  TruncatePrefix(", lowest, ")"));
      s = log_->TruncatePrefix(lowest);
      if (s.ok()) prefix_done = log_->LowestOffset();
    } else if (kind == 4) {
      uint64_t kept_end = Uniform(model_.lowest, model_.next);
      // As in Step, no "keep up to -1": keep everything (a no-op) instead.
      if (kept_end == 0) kept_end = model_.next;
      Note(absl::StrCat("  TruncateSuffix(", kept_end - 1, ") next was ",
                        model_.next));
      s = log_->TruncateSuffix(kept_end - 1);
      if (s.ok()) {
        model_.durable_next = std::min(model_.durable_next, kept_end);
        model_.CutTo(kept_end);
      } else {
        // The crash may leave the old log or the truncated one.
        model_.durable_next = std::min(model_.durable_next, kept_end);
        model_.cut_points.insert(kept_end);
      }
    } else {
      std::vector<std::string> batch(kind == 1 ? Uniform(2, 4) : 1);
      if (batch.size() > config_.max_index_entries) batch.resize(1);
      for (std::string& v : batch) v = NewValue();
      std::vector<absl::string_view> views(batch.begin(), batch.end());
      absl::StatusOr<uint64_t> first = log_->AppendBatch(views);
      s = first.status();
      if (s.ok()) {
        ASSERT_EQ(*first, model_.next);
      }
      model_.Append(batch);  // acknowledged or not, it may survive
    }
    fault_->ClearFailures();
    if (!s.ok()) {
      ASSERT_THAT(log_->Append("refused"),
                  StatusIs(absl::StatusCode::kFailedPrecondition,
                           ::testing::HasSubstr("injected")));
    }
    if (Uniform(0, 1) == 0) {
      PowerLoss();
    } else {
      Kill();
    }
    if (HasFatalFailure()) return;
    if (prefix_target.has_value()) {
      // Records at and above the target stay; the segments below it are all
      // there or all gone.
      const uint64_t got = log_->LowestOffset();
      ASSERT_GE(got, model_.lowest);
      ASSERT_LE(got, *prefix_target);
      if (s.ok()) {
        ASSERT_EQ(got, prefix_done)
            << "a TruncatePrefix that returned OK was undone";
      }
      model_.DropBelow(got);
    }
    CheckRecovered(/*everything_survives=*/false);
  }

  void Step() {
    const uint64_t op = Uniform(0, 99);
    if (op < 35) {  // Append
      const std::string v = NewValue();
      Note(absl::StrCat("Append -> ", model_.next));
      ASSERT_OK_AND_ASSIGN(uint64_t offset, log_->Append(v));
      ASSERT_EQ(offset, model_.next);
      model_.Append({v});
    } else if (op < 50) {  // AppendBatch
      std::vector<std::string> batch(Uniform(1, 5));
      for (std::string& v : batch) v = NewValue();
      // A batch must fit one segment's index.
      if (batch.size() > config_.max_index_entries) batch.resize(1);
      std::vector<absl::string_view> views(batch.begin(), batch.end());
      Note(absl::StrCat("AppendBatch(", batch.size(), ") -> ", model_.next));
      ASSERT_OK_AND_ASSIGN(uint64_t first, log_->AppendBatch(views));
      ASSERT_EQ(first, model_.next);
      model_.Append(batch);
    } else if (op < 62) {  // Read, in range or just outside it
      const uint64_t lo = model_.lowest >= 2 ? model_.lowest - 2 : 0;
      const uint64_t offset = Uniform(lo, model_.next + 2);
      std::string scratch;
      absl::StatusOr<Record> r = log_->Read(offset, &scratch);
      if (offset >= model_.lowest && offset < model_.next) {
        ASSERT_OK(r) << "offset " << offset;
        ASSERT_EQ(r->value, model_.values[offset]);
      } else {
        ASSERT_THAT(r, StatusIs(absl::StatusCode::kOutOfRange));
      }
    } else if (op < 72) {  // Sync
      Note("Sync");
      ASSERT_OK(log_->Sync());
      model_.Synced();
    } else if (op < 77) {  // TruncatePrefix
      if (Uniform(0, 9) == 0) {
        ASSERT_THAT(log_->TruncatePrefix(model_.next + 1),
                    StatusIs(absl::StatusCode::kOutOfRange));
        return;
      }
      const uint64_t lowest = Uniform(model_.lowest, model_.next);
      Note(absl::StrCat("TruncatePrefix(", lowest, ")"));
      ASSERT_OK(log_->TruncatePrefix(lowest));
      const uint64_t got = log_->LowestOffset();
      ASSERT_GE(got, model_.lowest);
      ASSERT_LE(got, lowest);  // records at and above `lowest` stay
      model_.DropBelow(got);
      if (got == model_.next) model_.Synced();
    } else if (op < 82) {  // TruncateSuffix
      const uint64_t kept_end = Uniform(model_.lowest, model_.next);
      // Emptying a log that starts at 0 needs last_kept = 2^64 - 1; see
      // BatchCutByCrashAfterTruncateSuffixEmptiedLogIsRemovedWhole in
      // log_recovery_batch_test.cc for why the model does not do it.
      if (kept_end == 0) return;
      if (model_.lowest >= 2 && Uniform(0, 9) == 0) {
        ASSERT_THAT(log_->TruncateSuffix(model_.lowest - 2),
                    StatusIs(absl::StatusCode::kOutOfRange));
        return;
      }
      Note(absl::StrCat("TruncateSuffix(", kept_end - 1, ") next was ", model_.next));
      ASSERT_OK(log_->TruncateSuffix(kept_end - 1));
      ASSERT_EQ(log_->NextOffset(), kept_end);
      model_.durable_next = std::min(model_.durable_next, kept_end);
      model_.CutTo(kept_end);
    } else if (op < 88) {  // Close and reopen
      Note("Close+reopen");
      ASSERT_OK(log_->Close());
      log_.reset();
      Open();
      EXPECT_TRUE(log_->recovery_report().clean_shutdown);
      ASSERT_EQ(log_->NextOffset(), model_.next);
      model_.Synced();
      VerifyAll();
    } else if (op < 92) {  // an I/O failure inside a write, then a crash
      FailThenCrash();
    } else if (op < 96) {  // power loss
      Note("PowerLoss");
      PowerLoss();
      if (HasFatalFailure()) return;
      CheckRecovered(/*everything_survives=*/false);
    } else {  // process kill
      Note("Kill");
      Kill();
      if (HasFatalFailure()) return;
      CheckRecovered(/*everything_survives=*/true);
    }
  }

  FaultInjectionFileSystem* const fault_;
  const std::unique_ptr<FileSystem> owned_fs_;
  std::mt19937_64 rng_;
  Config config_;
  LogOptions options_;
  int64_t clock_ = 1000;
  uint64_t seq_ = 0;
  int generation_ = 0;
  std::string dir_ = "/m/log0";
  std::unique_ptr<Log> log_;
  Model model_;
  std::vector<std::string> history_;
};

TEST_P(LogModelTest, RandomOperationsMatchModel) {
  Open();
  constexpr int kSteps = 400;
  bool history_printed = false;
  for (int step = 0; step < kSteps; ++step) {
    SCOPED_TRACE(absl::StrCat("seed ", GetParam(), " step ", step));
    Step();
    if (HasFailure() && !history_printed) {
      // Once, at the first failure: how the log got there.
      history_printed = true;
      std::string h;
      for (const std::string& line : history_) absl::StrAppend(&h, "\n  ", line);
      ADD_FAILURE() << "operations:" << h;
    }
    if (HasFatalFailure()) return;
  }
  // A final crash and a final clean reopen.
  PowerLoss();
  ASSERT_FALSE(HasFatalFailure());
  CheckRecovered(false);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_OK(log_->Close());
  log_.reset();
  Open();
  EXPECT_TRUE(log_->recovery_report().clean_shutdown);
  VerifyAll();
}

// A few seeds run on every build; for a longer hunt, widen the range (3000
// seeds take about 30 s, 5 minutes under ASan). Seeds 378 and 2873 of the
// first 3000 fail: a TruncateSuffix interrupted after its intent, then a
// torn power loss, leaves part of a batch (see
// UnsyncedBatchTruncatedThenTornKeepsNoPartOfIt in
// log_recovery_truncation_test.cc).
INSTANTIATE_TEST_SUITE_P(Seeds, LogModelTest, ::testing::Range(1u, 13u));

}  // namespace
}  // namespace blockwal::wal
