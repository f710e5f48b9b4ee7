// The segmented log under concurrency: appenders (Append and AppendBatch),
// random readers, iterators and followers, and truncations all at once on
// tiny segments, so that rolls and segment removals happen constantly; then
// the follow mode (LogIterator::WaitNext / Cancel), reads racing
// TruncateSuffix and Close, and reads while a roll's syncs are held.
//
// How the stress tests check without a global lock: every value encodes who
// appended it (writer, sequence number) and its length, and its bytes are a
// function of those, so a reader recognises a torn or foreign value by itself.
// The writers record each offset's owner in a shared OffsetModel once Append
// returns; readers compare against it when the entry is there (a reader may
// see a record before its Append returns). The checks:
//   - every value read at offset o is the one appended at o, and the record
//     carries offset o;
//   - offsets are handed out contiguously, each once, and increase with each
//     writer's own sequence;
//   - a record below NextOffset() never disappears except by truncation: a
//     read of it either succeeds or fails with kOutOfRange while the offset
//     is below LowestOffset() (checked after the failure; it only grows);
//   - an iterator that returns false with an OK status really is at the end,
//     one holding a segment across a TruncatePrefix keeps reading it, and one
//     that fell off the front gets kOutOfRange;
//   - after the run, the log reopens with exactly the modelled records.
//
// Duration: each stress test runs BLOCKWAL_STRESS_SECONDS seconds (default
// 2, enough for CI). For a long soak, e.g. before a release:
//   BLOCKWAL_STRESS_SECONDS=600 ./log_concurrency_test
// BLOCKWAL_STRESS_SEED fixes the random seed (printed by every run).
//
// Run under ThreadSanitizer too (-DBLOCKWAL_SANITIZE=thread).
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/gated_file_system.h"
#include "tests/scratch_dir.h"
#include "tests/status_matchers.h"
#include "blockwal/util/file_system.h"
#include "blockwal/util/mem_file_system.h"
#include "blockwal/wal/format.h"
#include "blockwal/wal/index.h"
#include "blockwal/wal/log.h"
#include "blockwal/wal/log_options.h"
#include "blockwal/wal/segment.h"

namespace blockwal::wal {
namespace {

using ::blockwal::testing::StatusIs;
using ::blockwal::testing::IsOkAndHolds;
using ::testing::HasSubstr;

// ---------------------------------------------------------------- settings

absl::Duration StressDuration() {
  double seconds = 2;
  if (const char* env = std::getenv("BLOCKWAL_STRESS_SECONDS")) {
    if (!absl::SimpleAtod(env, &seconds) || seconds < 0) {
      ADD_FAILURE() << "BLOCKWAL_STRESS_SECONDS must be a number of seconds, got '"
                    << env << "'";
      seconds = 2;
    }
  }
  return absl::Seconds(seconds);
}

uint64_t StressSeed() {
  uint64_t seed = 0;
  if (const char* env = std::getenv("BLOCKWAL_STRESS_SEED")) {
    if (!absl::SimpleAtoi(env, &seed)) {
      ADD_FAILURE() << "BLOCKWAL_STRESS_SEED must be a number, got '" << env << "'";
    }
  } else {
    seed = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
  }
  std::cerr << "BLOCKWAL_STRESS_SEED=" << seed << "\n";
  return seed;
}

// Tiny segments: a roll every ~4 KiB or 30 records.
constexpr uint64_t kMaxStoreBytes = 4096;
constexpr uint64_t kIndexEntries = 30;

// ------------------------------------------------------------------ values

// A value: a 28-byte header "WW:SSSSSSSSSSSSSSSS:LLLLLLL|" (writer, sequence
// number in hex, filler length) and a filler whose bytes follow from the
// three, so any torn, shifted or foreign value fails ParseValue.
constexpr size_t kValueHeaderSize = 2 + 1 + 16 + 1 + 7 + 1;

char FillerByte(uint64_t writer, uint64_t seq, size_t i) {
  return static_cast<char>('a' + (writer * 7 + seq * 13 + i) % 26);
}

std::string MakeValue(uint64_t writer, uint64_t seq, size_t length) {
  std::string v = absl::StrFormat("%02u:%016x:%07u|", writer, seq, length);
  v.reserve(kValueHeaderSize + length);
  for (size_t i = 0; i < length; ++i) v.push_back(FillerByte(writer, seq, i));
  return v;
}

// (writer, seq) as one nonzero number, as the OffsetModel stores it.
uint64_t Key(uint64_t writer, uint64_t seq) { return (writer + 1) << 48 | seq; }

// The Key of a value made by MakeValue, or nullopt if it is not one.
std::optional<uint64_t> ParseValue(absl::string_view v) {
  if (v.size() < kValueHeaderSize || v[2] != ':' || v[19] != ':' ||
      v[27] != '|') {
    return std::nullopt;
  }
  uint64_t writer, seq, length;
  if (!absl::SimpleAtoi(v.substr(0, 2), &writer) ||
      !absl::SimpleHexAtoi(v.substr(3, 16), &seq) ||
      !absl::SimpleAtoi(v.substr(20, 7), &length) ||
      v.size() != kValueHeaderSize + length) {
    return std::nullopt;
  }
  for (size_t i = 0; i < length; ++i) {
    if (v[kValueHeaderSize + i] != FillerByte(writer, seq, i)) return std::nullopt;
  }
  return Key(writer, seq);
}

// Mostly small values, some of a few hundred bytes, a few larger than a
// segment, and rarely one that spans blocks (32 KiB).
size_t RandomLength(std::mt19937_64& rng) {
  const uint64_t dice = rng() % 1000;
  if (dice == 0) return 40000;
  if (dice < 50) return 600 + rng() % 4000;
  if (dice < 300) return 64 + rng() % 540;
  return rng() % 64;
}

// ------------------------------------------------------------------- model

// The Key appended at each offset, in chunks so that a long run can forget
// offsets far below the log's start.
class OffsetModel {
 public:
  explicit OffsetModel(uint64_t first) : floor_(first) {}

  // Records that `offset` holds `key`. False if it already held something
  // (an offset handed out twice).
  bool Set(uint64_t offset, uint64_t key) {
    absl::MutexLock lock(&mu_);
    if (offset < floor_) return false;
    std::unique_ptr<Chunk>& chunk = chunks_[offset / kChunk];
    if (chunk == nullptr) chunk = std::make_unique<Chunk>();
    uint64_t& slot = chunk->keys[offset % kChunk];
    if (slot != 0) return false;
    slot = key;
    ++chunk->filled;
    return true;
  }

  // The key at `offset`; 0 when not recorded (yet) or forgotten.
  uint64_t Get(uint64_t offset) const {
    absl::MutexLock lock(&mu_);
    auto it = chunks_.find(offset / kChunk);
    return it == chunks_.end() ? 0 : it->second->keys[offset % kChunk];
  }

  // Forgets complete chunks wholly below `below` (an incomplete one stays,
  // for Missing to report).
  void ForgetBelow(uint64_t below) {
    absl::MutexLock lock(&mu_);
    while (!chunks_.empty()) {
      auto it = chunks_.begin();
      const uint64_t end = (it->first + 1) * kChunk;
      if (end > below || it->first * kChunk < floor_ ||
          it->second->filled != kChunk) {
        return;
      }
      floor_ = end;
      chunks_.erase(it);
    }
  }

  // Offsets in [floor, end) that no writer recorded, as a description ("" if
  // none): offsets must be contiguous.
  std::string Missing(uint64_t end) const {
    absl::MutexLock lock(&mu_);
    std::string missing;
    int shown = 0;
    for (uint64_t o = floor_; o < end && shown < 10; ++o) {
      auto it = chunks_.find(o / kChunk);
      if (it == chunks_.end() || it->second->keys[o % kChunk] == 0) {
        absl::StrAppend(&missing, missing.empty() ? "" : ", ", o);
        ++shown;
      }
    }
    return missing;
  }

  uint64_t floor() const {
    absl::MutexLock lock(&mu_);
    return floor_;
  }

 private:
  static constexpr uint64_t kChunk = 4096;
  struct Chunk {
    std::array<uint64_t, kChunk> keys{};
    uint64_t filled = 0;
  };
  mutable absl::Mutex mu_;
  uint64_t floor_ ABSL_GUARDED_BY(mu_);  // offsets below were all recorded
  std::map<uint64_t, std::unique_ptr<Chunk>> chunks_ ABSL_GUARDED_BY(mu_);
};

// ------------------------------------------------------- the stress harness

// Where a stress test runs.
struct StressParam {
  const char* name;
  bool on_disk;  // the POSIX file system in a temp dir, else MemFS
  SyncPolicy sync_policy;
};

void PrintTo(const StressParam& p, std::ostream* os) { *os << p.name; }

// The stress tests run on each of these.
const StressParam kStressParams[] = {
    {.name = "mem_every_append",
     .on_disk = false,
     .sync_policy = SyncPolicy::kEveryAppend},
    {.name = "disk_none", .on_disk = true, .sync_policy = SyncPolicy::kNone},
};

std::string StressParamName(
    const ::testing::TestParamInfo<StressParam>& info) {
  return info.param.name;
}

class LogStressTest : public ::testing::TestWithParam<StressParam> {
 protected:
  void SetUp() override {
    if (GetParam().on_disk) {
      scratch_.emplace("log_concurrency_test");
      root_ = scratch_->str();
      options_.fs = FileSystem::Default();
    } else {
      mem_fs_ = NewMemFileSystem();
      options_.fs = mem_fs_.get();
      root_ = "/";
    }
    dir_ = JoinPath(root_, "log");
    options_.sync_policy = GetParam().sync_policy;
    options_.max_store_bytes = kMaxStoreBytes;
    options_.max_index_bytes = kIndexEntries * kIndexEntrySize;
    options_.initial_offset = 1000;
  }
  // Records a failure from any thread and asks every thread to stop.
  void Fail(const std::string& what) {
    ADD_FAILURE() << what;
    stop_.store(true);
  }
  bool Running() const { return !stop_.load(std::memory_order_relaxed); }

  // Checks one successfully read record.
  void CheckRecord(const Record& r, uint64_t offset, const char* who) {
    if (r.offset != offset) {
      Fail(absl::StrCat(who, ": read offset ", offset, " got a record carrying ",
                        r.offset));
      return;
    }
    const std::optional<uint64_t> key = ParseValue(r.value);
    if (!key.has_value()) {
      Fail(absl::StrCat(who, ": garbage at offset ", offset, ": '",
                        absl::CHexEscape(r.value.substr(0, 64)), "'"));
      return;
    }
    const uint64_t expected = model_->Get(offset);
    if (expected != 0 && expected != *key) {
      Fail(absl::StrCat(who, ": offset ", offset, " holds key ", *key,
                        " but was appended with ", expected));
    }
  }

  // Checks a failed read or iteration of `offset`: only a truncation may
  // explain it.
  void CheckMissing(const absl::Status& s, uint64_t offset, const char* who) {
    if (s.code() != absl::StatusCode::kOutOfRange) {
      Fail(absl::StrCat(who, ": offset ", offset, ": ", s.ToString()));
      return;
    }
    const uint64_t lowest = log_->LowestOffset();
    if (offset >= lowest) {
      Fail(absl::StrCat(who, ": offset ", offset,
                        " vanished though the log starts at ", lowest, ": ",
                        s.ToString()));
    }
  }

  void Writer(uint64_t id, uint64_t seed) {
    std::mt19937_64 rng(seed);
    uint64_t seq = 0;
    uint64_t last_offset = 0;
    bool first = true;
    while (Running()) {
      const size_t n = rng() % 3 == 0 ? 1 + rng() % 5 : 1;
      std::vector<std::string> values;
      for (size_t i = 0; i < n; ++i) {
        values.push_back(MakeValue(id, seq + i, RandomLength(rng)));
      }
      absl::StatusOr<uint64_t> offset;
      if (n == 1 && rng() % 2 == 0) {
        offset = log_->Append(values[0]);
      } else {
        std::vector<absl::string_view> views(values.begin(), values.end());
        offset = log_->AppendBatch(views);
      }
      if (!offset.ok()) {
        Fail(absl::StrCat("writer ", id, ": ", offset.status().ToString()));
        return;
      }
      if (!first && *offset <= last_offset) {
        Fail(absl::StrCat("writer ", id, ": offset ", *offset,
                          " after its earlier append at ", last_offset));
      }
      for (size_t i = 0; i < n; ++i) {
        if (!model_->Set(*offset + i, Key(id, seq + i))) {
          Fail(absl::StrCat("writer ", id, ": offset ", *offset + i,
                            " was handed out twice"));
        }
      }
      first = false;
      last_offset = *offset + n - 1;
      seq += n;
      appends_.fetch_add(1);
      records_.fetch_add(n);
    }
  }

  void RandomReader(uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::string scratch;
    while (Running()) {
      const uint64_t lo = log_->LowestOffset();
      const uint64_t next = log_->NextOffset();
      if (next == lo) continue;
      const uint64_t offset = lo + rng() % (next - lo);
      absl::StatusOr<Record> r = log_->Read(offset, &scratch);
      if (r.ok()) {
        CheckRecord(*r, offset, "reader");
        reads_.fetch_add(1);
      } else {
        CheckMissing(r.status(), offset, "reader");
        reads_truncated_.fetch_add(1);
      }
    }
  }

  // Iterates from a random offset for a while, pausing now and then so that
  // truncations remove the segment it is reading.
  void IteratingReader(uint64_t seed) {
    std::mt19937_64 rng(seed);
    while (Running()) {
      const uint64_t lo = log_->LowestOffset();
      const uint64_t next = log_->NextOffset();
      const uint64_t from = lo + (next > lo ? rng() % (next - lo + 1) : 0);
      std::unique_ptr<LogIterator> it = log_->NewIterator(from);
      const int steps = 1 + static_cast<int>(rng() % 200);
      for (int i = 0; i < steps && Running(); ++i) {
        if (rng() % 16 == 0) absl::SleepFor(absl::Milliseconds(1));
        const uint64_t expected = it->next_offset();
        const uint64_t end_before = log_->NextOffset();
        Record r;
        if (it->Next(&r)) {
          CheckRecord(r, expected, "iterator");
          iterated_.fetch_add(1);
          continue;
        }
        if (!it->status().ok()) {
          CheckMissing(it->status(), expected, "iterator");
          iterators_cut_.fetch_add(1);
        } else if (expected < end_before) {
          Fail(absl::StrCat("iterator: ended at ", expected,
                            " though the log already ended at ", end_before));
        }
        break;
      }
    }
  }

  // Follows the log from its start with WaitNext, as a replica would,
  // restarting at the front when a truncation overtakes it.
  void Follower() {
    std::unique_ptr<LogIterator> it = log_->NewIterator(log_->LowestOffset());
    while (Running()) {
      const uint64_t expected = it->next_offset();
      Record r;
      if (it->WaitNext(&r, absl::Milliseconds(20))) {
        CheckRecord(r, expected, "follower");
        followed_.fetch_add(1);
        continue;
      }
      if (it->status().ok()) continue;  // a timeout
      CheckMissing(it->status(), expected, "follower");
      it = log_->NewIterator(log_->LowestOffset());
    }
  }

  // Removes old segments: keeps a random number of the newest records,
  // sometimes none.
  void Truncator(uint64_t seed) {
    std::mt19937_64 rng(seed);
    while (Running()) {
      absl::SleepFor(absl::Microseconds(200 + rng() % 3000));
      const uint64_t before = log_->LowestOffset();
      const uint64_t next = log_->NextOffset();
      const uint64_t keep = rng() % 8 == 0 ? 0 : rng() % 400;
      const uint64_t lowest = next > keep ? next - keep : 0;
      const absl::Status s = log_->TruncatePrefix(lowest);
      if (!s.ok()) {
        Fail(absl::StrCat("TruncatePrefix(", lowest, "): ", s.ToString()));
        return;
      }
      // Only this thread truncates: records at and above `lowest` stay.
      if (log_->LowestOffset() > std::max(lowest, before)) {
        Fail(absl::StrCat("TruncatePrefix(", lowest, ") removed up to ",
                          log_->LowestOffset()));
      }
      truncations_.fetch_add(1);
      // Readers may still verify records a little below the log's start.
      const uint64_t lo = log_->LowestOffset();
      if (lo > 20000) model_->ForgetBelow(lo - 20000);
    }
  }

  std::unique_ptr<FileSystem> mem_fs_;
  std::optional<::blockwal::testing::ScratchDir> scratch_;  // when on_disk
  std::string root_;
  std::string dir_;
  LogOptions options_;
  std::unique_ptr<Log> log_;
  std::unique_ptr<OffsetModel> model_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> appends_{0}, records_{0}, reads_{0},
      reads_truncated_{0}, iterated_{0}, iterators_cut_{0}, followed_{0},
      truncations_{0};
};

TEST_P(LogStressTest, AppendsReadsIteratorsAndPrefixTruncations) {
  const uint64_t seed = StressSeed();
  ASSERT_OK_AND_ASSIGN(log_, Log::Open(dir_, options_));
  model_ = std::make_unique<OffsetModel>(log_->NextOffset());

  std::vector<std::thread> threads;
  constexpr int kWriters = 3;
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([this, i, seed] { Writer(i, seed + i); });
  }
  threads.emplace_back([this, seed] { RandomReader(seed + 100); });
  threads.emplace_back([this, seed] { RandomReader(seed + 101); });
  threads.emplace_back([this, seed] { IteratingReader(seed + 200); });
  threads.emplace_back([this, seed] { IteratingReader(seed + 201); });
  threads.emplace_back([this] { Follower(); });
  threads.emplace_back([this, seed] { Truncator(seed + 300); });
  const absl::Time deadline = absl::Now() + StressDuration();
  while (Running() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  stop_.store(true);
  for (std::thread& t : threads) t.join();
  std::cerr << absl::StrFormat(
      "appends %d, records %d, reads %d (+%d truncated), iterated %d (+%d "
      "cut), followed %d, truncations %d, log [%d, %d)\n",
      appends_.load(), records_.load(), reads_.load(), reads_truncated_.load(),
      iterated_.load(), iterators_cut_.load(), followed_.load(),
      truncations_.load(), log_->LowestOffset(), log_->NextOffset());
  if (HasFailure()) return;

  // Offsets are exactly the ones handed out, with no gap.
  const uint64_t lowest = log_->LowestOffset();
  const uint64_t next = log_->NextOffset();
  EXPECT_EQ(next, options_.initial_offset + records_.load());
  EXPECT_EQ(model_->Missing(next), "");
  const LogStats stats = log_->GetStats();
  EXPECT_EQ(stats.appends, appends_.load());
  EXPECT_EQ(stats.records, records_.load());
  EXPECT_LE(stats.groups, stats.appends);
  EXPECT_EQ(stats.group_size.sum(), stats.appends);

  // What is left reads back whole, by Read and by an iterator, and again
  // after a reopen.
  auto check_all = [&](const Log& log, const char* who) {
    std::string scratch;
    for (uint64_t o = lowest; o < next; ++o) {
      absl::StatusOr<Record> r = log.Read(o, &scratch);
      ASSERT_OK(r) << who;
      ASSERT_EQ(r->offset, o);
      ASSERT_EQ(ParseValue(r->value), model_->Get(o)) << who << " offset " << o;
    }
    std::unique_ptr<LogIterator> it = log.NewIterator(lowest);
    Record r;
    uint64_t o = lowest;
    while (it->Next(&r)) {
      ASSERT_EQ(r.offset, o);
      ASSERT_EQ(ParseValue(r.value), model_->Get(o)) << who << " offset " << o;
      ++o;
    }
    ASSERT_OK(it->status());
    EXPECT_EQ(o, next) << who;
  };
  check_all(*log_, "before reopening");
  ASSERT_OK(log_->Close());
  log_.reset();
  ASSERT_OK_AND_ASSIGN(log_, Log::Open(dir_, options_));
  EXPECT_EQ(log_->LowestOffset(), lowest);
  EXPECT_EQ(log_->NextOffset(), next);
  EXPECT_TRUE(log_->recovery_report().clean_shutdown);
  check_all(*log_, "after reopening");
}

INSTANTIATE_TEST_SUITE_P(
    FileSystems, LogStressTest,
    ::testing::ValuesIn(kStressParams), StressParamName);

// ------------------------------------------- suffix truncation under readers

// One writer that appends and rolls the log back (a Raft follower), a
// prefix truncator, and readers. The writer knows every offset in advance, so
// values encode their offset; an offset may hold different values over time
// (before and after a rollback), each of which encodes that offset.
class LogSuffixStressTest : public LogStressTest {
 protected:
  // Values here: MakeValue(writer = 0, seq = offset).
  void CheckOffsetValue(const Record& r, uint64_t offset, const char* who) {
    if (r.offset != offset || ParseValue(r.value) != Key(0, offset)) {
      Fail(absl::StrCat(who, ": offset ", offset, " read record ", r.offset,
                        " with value '",
                        absl::CHexEscape(r.value.substr(0, 64)), "'"));
    }
  }

  void RollingBackWriter(uint64_t seed) {
    std::mt19937_64 rng(seed);
    while (Running()) {
      if (rng() % 50 == 0) {
        const uint64_t lo = log_->LowestOffset();
        const uint64_t next = log_->NextOffset();
        const uint64_t back = std::min<uint64_t>(next - lo, rng() % 100);
        // last_kept = next - back - 1 may be lo - 1: everything goes.
        const uint64_t last_kept = next - back - 1;
        const absl::Status s = log_->TruncateSuffix(last_kept);
        if (s.code() == absl::StatusCode::kOutOfRange &&
            last_kept + 1 < log_->LowestOffset()) {
          continue;  // the prefix truncator got there first
        }
        if (!s.ok()) {
          Fail(absl::StrCat("TruncateSuffix(", last_kept, "): ", s.ToString()));
          return;
        }
        if (log_->NextOffset() != last_kept + 1) {
          Fail(absl::StrCat("TruncateSuffix(", last_kept, ") left next offset ",
                            log_->NextOffset()));
          return;
        }
        rollbacks_.fetch_add(1);
        continue;
      }
      const uint64_t offset = log_->NextOffset();
      const size_t n = rng() % 3 == 0 ? 1 + rng() % 5 : 1;
      std::vector<std::string> values;
      for (size_t i = 0; i < n; ++i) {
        values.push_back(MakeValue(0, offset + i, RandomLength(rng)));
      }
      std::vector<absl::string_view> views(values.begin(), values.end());
      absl::StatusOr<uint64_t> got = log_->AppendBatch(views);
      if (!got.ok() || *got != offset) {
        Fail(absl::StrCat("AppendBatch at ", offset, ": ",
                          got.ok() ? absl::StrCat("offset ", *got)
                                   : got.status().ToString()));
        return;
      }
      records_.fetch_add(n);
    }
  }

  // A failed read at `offset` is fine when a truncation explains it: the
  // offset is outside the log now (kOutOfRange), or, for an iterator, a
  // TruncateSuffix removed records it had returned (kAborted).
  void CheckSuffixMissing(const absl::Status& s, uint64_t offset,
                          const char* who) {
    if (s.code() == absl::StatusCode::kOutOfRange) return;  // either end moved
    if (s.code() == absl::StatusCode::kAborted &&
        absl::string_view(who) == "iterator") {
      aborted_iterators_.fetch_add(1);
      return;
    }
    Fail(absl::StrCat(who, ": offset ", offset, ": ", s.ToString()));
  }

  void SuffixReader(uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::string scratch;
    while (Running()) {
      const uint64_t lo = log_->LowestOffset();
      const uint64_t next = log_->NextOffset();
      if (next <= lo) continue;
      const uint64_t offset = lo + rng() % (next - lo);
      absl::StatusOr<Record> r = log_->Read(offset, &scratch);
      if (r.ok()) {
        CheckOffsetValue(*r, offset, "reader");
        reads_.fetch_add(1);
      } else {
        CheckSuffixMissing(r.status(), offset, "reader");
        reads_truncated_.fetch_add(1);
      }
    }
  }

  void SuffixIterator(uint64_t seed) {
    std::mt19937_64 rng(seed);
    while (Running()) {
      const uint64_t lo = log_->LowestOffset();
      const uint64_t next = log_->NextOffset();
      const uint64_t from = lo + (next > lo ? rng() % (next - lo + 1) : 0);
      std::unique_ptr<LogIterator> it = log_->NewIterator(from);
      const int steps = 1 + static_cast<int>(rng() % 200);
      for (int i = 0; i < steps && Running(); ++i) {
        if (rng() % 16 == 0) absl::SleepFor(absl::Milliseconds(1));
        const uint64_t expected = it->next_offset();
        Record r;
        if (!it->Next(&r)) {
          if (!it->status().ok()) {
            CheckSuffixMissing(it->status(), expected, "iterator");
          }
          break;
        }
        CheckOffsetValue(r, expected, "iterator");
        iterated_.fetch_add(1);
      }
    }
  }

  void PrefixTruncator(uint64_t seed) {
    std::mt19937_64 rng(seed);
    while (Running()) {
      absl::SleepFor(absl::Microseconds(500 + rng() % 3000));
      const uint64_t next = log_->NextOffset();
      const uint64_t keep = 50 + rng() % 400;
      const uint64_t lowest = next > keep ? next - keep : 0;
      const absl::Status s = log_->TruncatePrefix(lowest);
      // A rollback may have moved the end below `lowest` meanwhile.
      if (s.code() == absl::StatusCode::kOutOfRange &&
          lowest > log_->NextOffset()) {
        continue;
      }
      if (!s.ok()) {
        Fail(absl::StrCat("TruncatePrefix(", lowest, "): ", s.ToString()));
        return;
      }
      truncations_.fetch_add(1);
    }
  }

  // Runs the writer, the prefix truncator, two readers and an iterating
  // reader, then reopens and checks what is left.
  void RunRollbackStress() {
    const uint64_t seed = StressSeed();
    ASSERT_OK_AND_ASSIGN(log_, Log::Open(dir_, options_));
    std::vector<std::thread> threads;
    threads.emplace_back([this, seed] { RollingBackWriter(seed); });
    threads.emplace_back([this, seed] { SuffixReader(seed + 100); });
    threads.emplace_back([this, seed] { SuffixReader(seed + 101); });
    threads.emplace_back([this, seed] { SuffixIterator(seed + 200); });
    threads.emplace_back([this, seed] { PrefixTruncator(seed + 300); });
    const absl::Time deadline = absl::Now() + StressDuration();
    while (Running() && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    stop_.store(true);
    for (std::thread& t : threads) t.join();
    std::cerr << absl::StrFormat(
        "records %d, rollbacks %d, reads %d (+%d failed), iterated %d, "
        "prefix truncations %d, iterators aborted %d, log [%d, %d)\n",
        records_.load(), rollbacks_.load(), reads_.load(),
        reads_truncated_.load(), iterated_.load(), truncations_.load(),
        aborted_iterators_.load(), log_->LowestOffset(), log_->NextOffset());
    if (::testing::Test::HasFailure()) return;

    const uint64_t lowest = log_->LowestOffset();
    const uint64_t next = log_->NextOffset();
    ASSERT_OK(log_->Close());
    log_.reset();
    ASSERT_OK_AND_ASSIGN(log_, Log::Open(dir_, options_));
    EXPECT_EQ(log_->LowestOffset(), lowest);
    EXPECT_EQ(log_->NextOffset(), next);
    std::string scratch;
    for (uint64_t o = lowest; o < next; ++o) {
      absl::StatusOr<Record> r = log_->Read(o, &scratch);
      ASSERT_OK(r);
      CheckOffsetValue(*r, o, "after reopening");
    }
  }

  std::atomic<uint64_t> rollbacks_{0};
  std::atomic<uint64_t> aborted_iterators_{0};
};

// Nothing crashes and no wrong value or kDataLoss is ever returned while
// TruncateSuffix runs: a reader holding the Segment object of a cut segment
// reads the old record or gets kOutOfRange (the object is retracted), an
// iterator past a cut gets kAborted.
TEST_P(LogSuffixStressTest, RollbacksWhileReading) { RunRollbackStress(); }

INSTANTIATE_TEST_SUITE_P(
    FileSystems, LogSuffixStressTest,
    ::testing::ValuesIn(kStressParams), StressParamName);

// ------------------------------------------------------------- follow mode

class LogFollowTest : public ::testing::Test {
 protected:
  LogFollowTest() : fs_(NewMemFileSystem()) {
    options_.fs = fs_.get();
    options_.max_store_bytes = kMaxStoreBytes;
    options_.max_index_bytes = kIndexEntries * kIndexEntrySize;
  }

  void SetUp() override { ASSERT_OK_AND_ASSIGN(log_, Log::Open("/log", options_)); }

  std::unique_ptr<FileSystem> fs_;
  LogOptions options_;
  std::unique_ptr<Log> log_;
};

// Long enough never to expire in a passing test.
constexpr absl::Duration kLongWait = absl::Seconds(60);

TEST_F(LogFollowTest, WaitNextReturnsRecordAppendedAfterTheWaitBegan) {
  ASSERT_OK(log_->Append("before"));
  std::unique_ptr<LogIterator> it = log_->NewIterator(0);
  Record r;
  ASSERT_TRUE(it->Next(&r));
  EXPECT_EQ(r.value, "before");
  ASSERT_FALSE(it->Next(&r));
  ASSERT_OK(it->status());

  absl::Notification waiting;
  std::thread appender([&] {
    waiting.WaitForNotification();
    absl::SleepFor(absl::Milliseconds(50));  // most likely inside WaitNext now
    EXPECT_OK(log_->Append("after"));
  });
  waiting.Notify();
  const bool got = it->WaitNext(&r, kLongWait);
  appender.join();
  ASSERT_TRUE(got) << it->status();
  EXPECT_EQ(r.offset, 1u);
  EXPECT_EQ(r.value, "after");
  EXPECT_EQ(it->next_offset(), 2u);
}

TEST_F(LogFollowTest, WaitNextReturnsAtOnceWhenARecordIsThere) {
  ASSERT_OK(log_->Append("x"));
  std::unique_ptr<LogIterator> it = log_->NewIterator(0);
  Record r;
  ASSERT_TRUE(it->WaitNext(&r, absl::ZeroDuration()));
  EXPECT_EQ(r.value, "x");
}

TEST_F(LogFollowTest, WaitNextTimesOutWithOkStatus) {
  ASSERT_OK(log_->Append("x"));
  std::unique_ptr<LogIterator> it = log_->NewIterator(1);
  Record r;
  EXPECT_FALSE(it->WaitNext(&r, absl::Milliseconds(20)));
  EXPECT_OK(it->status());
  EXPECT_EQ(it->next_offset(), 1u);
  // The iterator stays usable after a timeout.
  ASSERT_OK(log_->Append("y"));
  ASSERT_TRUE(it->WaitNext(&r, kLongWait));
  EXPECT_EQ(r.value, "y");
}

TEST_F(LogFollowTest, WaitNextOnEmptyLogTimesOut) {
  std::unique_ptr<LogIterator> it = log_->NewIterator(0);
  Record r;
  EXPECT_FALSE(it->WaitNext(&r, absl::Milliseconds(5)));
  EXPECT_OK(it->status());
}

TEST_F(LogFollowTest, CancelFromAnotherThreadWakesWaitNext) {
  std::unique_ptr<LogIterator> it = log_->NewIterator(0);
  absl::Notification waiting;
  std::thread canceller([&] {
    waiting.WaitForNotification();
    absl::SleepFor(absl::Milliseconds(50));
    it->Cancel();
  });
  waiting.Notify();
  Record r;
  const bool got = it->WaitNext(&r, kLongWait);
  canceller.join();
  EXPECT_FALSE(got);
  EXPECT_THAT(it->status(), StatusIs(absl::StatusCode::kCancelled));
  // Cancelled for good: even with a record there.
  ASSERT_OK(log_->Append("x"));
  EXPECT_FALSE(it->WaitNext(&r, kLongWait));
  EXPECT_THAT(it->status(), StatusIs(absl::StatusCode::kCancelled));
}

TEST_F(LogFollowTest, CancelBeforeWaitNextReturnsCancelledAtOnce) {
  std::unique_ptr<LogIterator> it = log_->NewIterator(0);
  it->Cancel();
  Record r;
  EXPECT_FALSE(it->WaitNext(&r, kLongWait));
  EXPECT_THAT(it->status(), StatusIs(absl::StatusCode::kCancelled));
}

TEST_F(LogFollowTest, CloseWakesWaitNext) {
  ASSERT_OK(log_->Append("x"));
  std::unique_ptr<LogIterator> it = log_->NewIterator(1);
  absl::Notification waiting;
  std::thread closer([&] {
    waiting.WaitForNotification();
    absl::SleepFor(absl::Milliseconds(50));
    EXPECT_OK(log_->Close());
  });
  waiting.Notify();
  Record r;
  const bool got = it->WaitNext(&r, kLongWait);
  closer.join();
  EXPECT_FALSE(got);
  EXPECT_THAT(it->status(), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(LogFollowTest, WaitNextAfterCloseFailsAtOnce) {
  ASSERT_OK(log_->Close());
  std::unique_ptr<LogIterator> it = log_->NewIterator(0);
  Record r;
  EXPECT_FALSE(it->WaitNext(&r, kLongWait));
  EXPECT_THAT(it->status(), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(LogFollowTest, WaitNextFollowsAcrossSegmentRolls) {
  std::unique_ptr<LogIterator> it = log_->NewIterator(0);
  constexpr uint64_t kRecords = 5 * kIndexEntries + 7;  // six segments
  std::thread appender([&] {
    for (uint64_t i = 0; i < kRecords; ++i) {
      ASSERT_OK(log_->Append(MakeValue(0, i, i % 200)));
      if (i % 17 == 0) absl::SleepFor(absl::Milliseconds(1));
    }
  });
  uint64_t seen = 0;
  Record r;
  while (seen < kRecords && it->WaitNext(&r, kLongWait)) {
    ASSERT_EQ(r.offset, seen);
    ASSERT_EQ(ParseValue(r.value), Key(0, seen));
    ++seen;
  }
  appender.join();
  EXPECT_EQ(seen, kRecords) << it->status();
  EXPECT_GE(log_->Segments().size(), 6u);
  EXPECT_GE(log_->GetStats().rolls, 5u);
}

TEST_F(LogFollowTest, IteratorAtTheEndOfASealedSegmentMovesToTheNextOne) {
  for (uint64_t i = 0; i < kIndexEntries; ++i) ASSERT_OK(log_->Append("a"));
  std::unique_ptr<LogIterator> it = log_->NewIterator(0);
  Record r;
  for (uint64_t i = 0; i < kIndexEntries; ++i) ASSERT_TRUE(it->Next(&r));
  EXPECT_FALSE(it->Next(&r));
  ASSERT_OK(it->status());
  // The segment it is positioned in is full: this append rolls.
  ASSERT_OK(log_->Append("b"));
  EXPECT_EQ(log_->Segments().size(), 2u);
  ASSERT_TRUE(it->WaitNext(&r, kLongWait)) << it->status();
  EXPECT_EQ(r.offset, kIndexEntries);
  EXPECT_EQ(r.value, "b");
}

// --------------------------------------------- reads racing truncate / close

TEST_F(LogFollowTest, IteratorKeepsReadingASegmentRemovedUnderIt) {
  for (uint64_t i = 0; i < 3 * kIndexEntries; ++i) {
    ASSERT_OK(log_->Append(MakeValue(0, i, 10)));
  }
  std::unique_ptr<LogIterator> it = log_->NewIterator(0);
  Record r;
  ASSERT_TRUE(it->Next(&r));  // now holds the first segment
  ASSERT_OK(log_->TruncatePrefix(2 * kIndexEntries));
  EXPECT_EQ(log_->LowestOffset(), 2 * kIndexEntries);
  // The rest of the removed segment reads as it was; then the next one is
  // gone too.
  for (uint64_t i = 1; i < kIndexEntries; ++i) {
    ASSERT_TRUE(it->Next(&r)) << it->status();
    EXPECT_EQ(r.offset, i);
    EXPECT_EQ(ParseValue(r.value), Key(0, i));
  }
  EXPECT_FALSE(it->Next(&r));
  EXPECT_THAT(it->status(), StatusIs(absl::StatusCode::kOutOfRange));
}

// The byte reader holds the segments it was made with: a TruncatePrefix
// after NewReader does not take their bytes away.
TEST_F(LogFollowTest, ByteReaderKeepsRemovedSegmentsReadable) {
  for (uint64_t i = 0; i < 3 * kIndexEntries; ++i) {
    ASSERT_OK(log_->Append(MakeValue(0, i, 10)));
  }
  std::unique_ptr<SequentialFile> reader = log_->NewReader();
  ASSERT_OK(log_->TruncatePrefix(2 * kIndexEntries));
  std::string all;
  std::string scratch(4096, '\0');
  while (true) {
    absl::StatusOr<absl::string_view> got = reader->Read(scratch.size(), scratch.data());
    ASSERT_OK(got);
    if (got->empty()) break;
    all.append(got->data(), got->size());
  }
  uint64_t total = 0;
  for (uint64_t i = 0; i < 3 * kIndexEntries; ++i) {
    total += kHeaderSize + kEnvelopeSize + MakeValue(0, i, 10).size();
  }
  EXPECT_EQ(all.size(), total);
}

// An iterator that had returned records TruncateSuffix removed fails with
// kAborted (their offsets may now hold other records); one that had not
// reached the cut reads on and sees the new records.
TEST_F(LogFollowTest, IteratorPastTruncateSuffixIsAborted) {
  for (uint64_t i = 0; i < 10; ++i) ASSERT_OK(log_->Append(MakeValue(0, i, 10)));
  std::unique_ptr<LogIterator> behind = log_->NewIterator(0);
  std::unique_ptr<LogIterator> past = log_->NewIterator(0);
  Record r;
  ASSERT_TRUE(behind->Next(&r));  // returned 0; holds segment 0
  for (uint64_t i = 0; i < 7; ++i) ASSERT_TRUE(past->Next(&r));  // 0..6
  ASSERT_OK(log_->TruncateSuffix(4));
  EXPECT_FALSE(past->Next(&r));
  EXPECT_THAT(past->status(),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("offset 5")));
  for (uint64_t i = 1; i <= 4; ++i) {
    ASSERT_TRUE(behind->Next(&r)) << behind->status();
    EXPECT_EQ(r.offset, i);
  }
  EXPECT_FALSE(behind->Next(&r));
  ASSERT_OK(behind->status());
  ASSERT_OK(log_->Append(MakeValue(1, 5, 3)));
  ASSERT_TRUE(behind->Next(&r)) << behind->status();
  EXPECT_EQ(r.offset, 5u);
  EXPECT_EQ(ParseValue(r.value), Key(1, 5));
}

TEST_F(LogFollowTest, ReadsDuringTruncateSuffixGetTheValueOrAnError) {
  // Values encode their offset; after each rollback the writer appends new
  // ones (with the same offsets) again.
  std::atomic<bool> stop{false};
  auto reader = [&](uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::string scratch;
    while (!stop.load()) {
      const uint64_t next = log_->NextOffset();
      if (next == 0) continue;
      const uint64_t o = rng() % next;
      absl::StatusOr<Record> r = log_->Read(o, &scratch);
      if (r.ok()) {
        ASSERT_EQ(r->offset, o);
        ASSERT_EQ(ParseValue(r->value), Key(0, o));
      } else {
        ASSERT_THAT(r, StatusIs(absl::StatusCode::kOutOfRange));
      }
    }
  };
  std::thread r1(reader, 1), r2(reader, 2);
  for (int round = 0; round < 30; ++round) {
    while (log_->NextOffset() < 4 * kIndexEntries) {
      const uint64_t o = log_->NextOffset();
      ASSERT_OK(log_->Append(MakeValue(0, o, o % 300)));
    }
    ASSERT_OK(log_->TruncateSuffix(round % 3 == 0 ? 2 : 1 + round * 3));
  }
  stop.store(true);
  r1.join();
  r2.join();
}

TEST_F(LogFollowTest, ReadsAppendsAndWaitsDuringCloseEndCleanly) {
  for (uint64_t i = 0; i < 2 * kIndexEntries; ++i) {
    ASSERT_OK(log_->Append(MakeValue(0, i, i % 100)));
  }
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> reads_after_close{0};
  std::atomic<bool> closed{false};
  auto reader = [&](uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::string scratch;
    while (!stop.load()) {
      const uint64_t o = rng() % (2 * kIndexEntries);
      const bool after = closed.load();
      absl::StatusOr<Record> r = log_->Read(o, &scratch);
      if (r.ok()) {
        ASSERT_EQ(r->offset, o);
        ASSERT_EQ(ParseValue(r->value), Key(0, o));
        if (after) reads_after_close.fetch_add(1);
      } else {
        ASSERT_THAT(r, StatusIs(absl::StatusCode::kFailedPrecondition));
      }
    }
  };
  // Appends race the close: each succeeds or fails with kFailedPrecondition.
  std::atomic<uint64_t> appended{0};
  auto writer = [&] {
    while (!stop.load()) {
      absl::StatusOr<uint64_t> o = log_->Append(MakeValue(1, 0, 5));
      if (!o.ok()) {
        ASSERT_THAT(o, StatusIs(absl::StatusCode::kFailedPrecondition));
        return;
      }
      appended.fetch_add(1);
    }
  };
  std::unique_ptr<LogIterator> follower = log_->NewIterator(0);
  absl::Status follow_status;
  std::thread follow([&] {
    Record r;
    while (follower->WaitNext(&r, kLongWait)) {
    }
    follow_status = follower->status();
  });
  std::thread r1(reader, 1), r2(reader, 2), w(writer);
  absl::SleepFor(absl::Milliseconds(30));
  ASSERT_OK(log_->Close());
  closed.store(true);
  absl::SleepFor(absl::Milliseconds(30));
  stop.store(true);
  r1.join();
  r2.join();
  w.join();
  follow.join();
  EXPECT_THAT(follow_status, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(log_->Append("late"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  std::cerr << "appended during the race: " << appended.load()
            << ", reads after close: " << reads_after_close.load() << "\n";
}

// ------------------------------------------------ reads during a roll's syncs

// A roll seals the full segment (store and index synced) and makes the next
// one's files durable: several syncs, even under kNone and kInterval, whose
// groups need no fdatasync of their own. Readers of records already in the
// log must not wait for them.
class LogRollTest : public ::testing::TestWithParam<SyncPolicy> {};

// A bound on a wait that only a reader stuck behind the roll reaches: the
// test checks that the reads finish at all, not how fast.
constexpr absl::Duration kStuckReaderTimeout = absl::Seconds(30);

TEST_P(LogRollTest, ReadsCompleteWhileARollsSyncIsHeld) {
  GatedFileSystem fs;
  ASSERT_OK(fs.CreateDir("/t"));
  LogOptions options;
  options.fs = &fs;
  options.sync_policy = GetParam();
  options.sync_interval = absl::Hours(1);  // no background sync meanwhile
  options.max_index_bytes = 4 * kIndexEntrySize;  // the fifth append rolls
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Log> log, Log::Open("/t/log", options));
  for (int i = 0; i < 4; ++i) ASSERT_OK(log->Append(absl::StrCat("r", i)));

  fs.CloseGate();
  absl::StatusOr<uint64_t> rolled_offset;
  std::thread appender([&] { rolled_offset = log->Append("r4"); });
  fs.AwaitBlocked(1);  // the roll is in the sealing fdatasync of the store

  // A reader meanwhile, which records what it sees.
  struct Seen {
    absl::StatusOr<std::string> read_2;
    absl::StatusCode read_4 = absl::StatusCode::kOk;
    std::vector<std::string> iterated;  // from offset 1 to the end
    absl::Status iterator_status;
    uint64_t next_offset = 0;
    size_t segments = 0;
  } seen;
  absl::Notification reads_done;
  std::thread reader([&] {
    std::string scratch;
    absl::StatusOr<Record> r = log->Read(2, &scratch);
    seen.read_2 = r.ok() ? absl::StatusOr<std::string>(std::string(r->value))
                         : r.status();
    seen.read_4 = log->Read(4, &scratch).status().code();
    std::unique_ptr<LogIterator> it = log->NewIterator(1);
    Record rec;
    while (it->Next(&rec)) seen.iterated.emplace_back(rec.value);
    seen.iterator_status = it->status();
    seen.next_offset = log->NextOffset();
    seen.segments = log->Segments().size();
    reads_done.Notify();
  });
  const bool finished =
      reads_done.WaitForNotificationWithTimeout(kStuckReaderTimeout);
  fs.OpenGate();
  appender.join();
  reader.join();
  ASSERT_TRUE(finished)
      << "Read and LogIterator::Next of existing records did not finish while "
         "a roll's sync was held: the roll holds the log's mutex";
  // The sealed segment read as before, and the log still ended where it
  // ends: the new segment was not published yet.
  EXPECT_THAT(seen.read_2, IsOkAndHolds(std::string("r2")));
  EXPECT_EQ(seen.read_4, absl::StatusCode::kOutOfRange);
  EXPECT_THAT(seen.iterated, ::testing::ElementsAre("r1", "r2", "r3"));
  EXPECT_OK(seen.iterator_status);
  EXPECT_EQ(seen.next_offset, 4u);
  EXPECT_EQ(seen.segments, 1u);

  // The roll finished: the record is in a new segment after the sealed one.
  ASSERT_OK(rolled_offset);
  EXPECT_EQ(*rolled_offset, 4u);
  const std::vector<std::shared_ptr<const Segment>> segments = log->Segments();
  ASSERT_EQ(segments.size(), 2u);
  EXPECT_TRUE(segments[0]->sealed());
  EXPECT_EQ(segments[1]->base_offset(), 4u);
  EXPECT_EQ(log->GetStats().rolls, 1u);
  std::string scratch;
  ASSERT_OK_AND_ASSIGN(Record r, log->Read(4, &scratch));
  EXPECT_EQ(r.value, "r4");
  ASSERT_OK(log->Close());
}

INSTANTIATE_TEST_SUITE_P(
    NoGroupSync, LogRollTest,
    ::testing::Values(SyncPolicy::kNone, SyncPolicy::kInterval),
    [](const ::testing::TestParamInfo<SyncPolicy>& info) {
      return info.param == SyncPolicy::kNone ? "None" : "Interval";
    });

}  // namespace
}  // namespace blockwal::wal
