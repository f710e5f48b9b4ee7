// Crash-state enumeration (docs/guarantees.md, "How it is tested"): each
// workload runs on a FaultInjectionFileSystem whose crash observer, after
// every file or directory operation, enumerates the directory states a crash
// at that instant could leave (tests/crash/crash_states.h) and checks each:
//   - it opens (nothing here damages synced data, so kDataLoss is a failure);
//   - offsets are contiguous and every record reads with exactly the bytes
//     the workload appended at that offset, no record was never appended;
//   - every record whose sync was acknowledged is there; a batch is all there
//     or not at all; a truncation left the old state or the new one;
//   - an append after recovery gets the next offset and survives a second
//     crash (a power loss right after it).
// The key-value workload checks the same of DB::Open: the contents are those
// after some prefix of the writes that includes every acknowledged one.
//
// Each workload prints "crash states: <workload>: N states from M crash
// points". BLOCKWAL_CRASH_SCALE=K runs K times as many operations (the long
// mode; the default 1 is CI's setting).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "blockwal/db/db.h"
#include "blockwal/db/write_batch.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/crash/crash_states.h"
#include "tests/status_matchers.h"
#include "blockwal/util/fault_injection_file_system.h"
#include "blockwal/util/mem_file_system.h"
#include "blockwal/wal/log.h"
#include "blockwal/wal/segment.h"

namespace blockwal::crash {
namespace {

using ::testing::ElementsAre;

int Scale() {
  const char* s = std::getenv("BLOCKWAL_CRASH_SCALE");
  int v = s == nullptr ? 1 : std::atoi(s);
  return v < 1 ? 1 : v;
}

// Deterministic values of varied sizes: mostly small, some over a block.
std::string MakeValue(std::mt19937_64& rng, uint64_t n) {
  size_t len;
  switch (rng() % 10) {
    case 0: len = 0; break;
    case 1: len = 1000 + rng() % 4000; break;
    case 2: len = rng() % 8 == 0 ? 33000 + rng() % 4000 : 600; break;
    default: len = 1 + rng() % 200; break;
  }
  // Unique (a sequence number) even when short: a record brought back at an
  // offset a TruncateSuffix reused must not compare equal by chance.
  static uint64_t sequence = 0;
  std::string v = absl::StrCat("v", n, "#", ++sequence, ":");
  while (v.size() < len) v.push_back(static_cast<char>('a' + (rng() % 26)));
  return v;
}

// ---------------------------------------------------------------- the log --

// What the log may hold after a crash. One timeline normally; two (before and
// after) while a TruncateSuffix or a Reset is in progress.
struct Timeline {
  std::vector<std::string> values;  // offset -> value (offsets start at 0)
  uint64_t durable_next = 0;        // offsets below are acknowledged durable
  // The lowest offset: `lowest_before` or, while a TruncatePrefix runs,
  // `lowest_after` (what it leaves: the base of the segment holding its bound).
  uint64_t lowest_before = 0;
  uint64_t lowest_after = 0;
  std::vector<std::pair<uint64_t, uint64_t>> batches;  // [first, last]
};

class LogModel {
 public:
  void BeginAppend(const std::vector<std::string>& values) {
    for (Timeline& t : timelines_) {
      const uint64_t first = t.values.size();
      t.values.insert(t.values.end(), values.begin(), values.end());
      if (values.size() > 1) t.batches.push_back({first, t.values.size() - 1});
    }
  }
  // Everything appended so far is acknowledged durable.
  void Durable() {
    for (Timeline& t : timelines_) t.durable_next = t.values.size();
  }
  void BeginTruncatePrefix(uint64_t before, uint64_t after) {
    for (Timeline& t : timelines_) {
      t.lowest_before = before;
      t.lowest_after = after;
    }
  }
  void EndTruncatePrefix() {
    for (Timeline& t : timelines_) t.lowest_before = t.lowest_after;
  }
  void BeginTruncateSuffix(uint64_t last_kept) {
    Timeline after = timelines_.back();
    after.values.resize(last_kept + 1);
    after.durable_next = std::min<uint64_t>(after.durable_next, last_kept + 1);
    // A batch cut by the truncation ends the log whole; one after it is gone.
    std::vector<std::pair<uint64_t, uint64_t>> kept;
    for (const auto& b : after.batches) {
      if (b.second <= last_kept) kept.push_back(b);
    }
    after.batches = std::move(kept);
    timelines_.push_back(std::move(after));
  }
  void EndTruncateSuffix() { timelines_.erase(timelines_.begin()); }
  // The log after Reset(next_offset): empty, starting at next_offset.
  void BeginReset(uint64_t next_offset) {
    Timeline after = timelines_.back();
    // Offsets below next_offset are never read back: the log starts there.
    after.values.resize(next_offset);
    after.durable_next = next_offset;
    after.lowest_before = after.lowest_after = next_offset;
    after.batches.clear();
    timelines_.push_back(std::move(after));
  }
  void EndReset() { timelines_.erase(timelines_.begin()); }
  uint64_t next() const { return timelines_.back().values.size(); }
  size_t timelines() const { return timelines_.size(); }
  uint64_t lowest_before() const { return timelines_.back().lowest_before; }
  uint64_t lowest_after() const { return timelines_.back().lowest_after; }

  // "" when some timeline accepts a recovered log holding `values` from
  // offset `lowest`; otherwise why not.
  // *accepted: the newest timeline that accepts (0: only the older one).
  std::string Check(uint64_t lowest, const std::vector<std::string>& values,
                    size_t* accepted = nullptr) const {
    std::string why;
    const uint64_t next = lowest + values.size();
    for (size_t ti = timelines_.size(); ti-- > 0;) {
      const Timeline& t = timelines_[ti];
      std::string no;
      if (next < t.durable_next) {
        no = absl::StrCat("ends at ", next, " but offsets below ",
                          t.durable_next, " were acknowledged durable");
      } else if (next > t.values.size()) {
        no = absl::StrCat("ends at ", next, " but only ", t.values.size(),
                          " records were appended");
      } else if (lowest != t.lowest_before && lowest != t.lowest_after) {
        no = absl::StrCat("starts at ", lowest, ", neither ", t.lowest_before,
                          " (before the prefix truncation) nor ",
                          t.lowest_after, " (after it)");
      }
      for (uint64_t o = lowest; no.empty() && o < next; ++o) {
        if (values[o - lowest] != t.values[o]) {
          no = absl::StrCat("offset ", o, " holds ", values[o - lowest].size(),
                            " bytes that differ from the ", t.values[o].size(),
                            " appended");
        }
      }
      for (const auto& [first, last] : t.batches) {
        if (no.empty() && first < next && next <= last) {
          no = absl::StrCat("ends at ", next, " inside the batch [", first,
                            ", ", last, "]");
        }
      }
      if (no.empty()) {
        if (accepted != nullptr) *accepted = ti;
        return "";
      }
      absl::StrAppend(&why, why.empty() ? "" : "; or ", no);
    }
    return why;
  }

 private:
  std::vector<Timeline> timelines_{Timeline{}};
};

constexpr char kLogDir[] = "/log";

wal::LogOptions CrashLogOptions(FileSystem* fs, wal::SyncPolicy policy) {
  wal::LogOptions o;
  o.fs = fs;
  o.max_store_bytes = 8 << 10;
  o.max_index_bytes = 12 * 24;  // 24 entries: index-full rolls happen too
  o.sync_policy = policy;
  o.warning_sink = [](const std::string&) {};
  return o;
}

// Reads every record of `log` (each must read).
absl::StatusOr<std::vector<std::string>> ReadAll(const wal::Log& log) {
  std::vector<std::string> out;
  std::string scratch;
  for (uint64_t o = log.LowestOffset(); o < log.NextOffset(); ++o) {
    absl::StatusOr<wal::Record> r = log.Read(o, &scratch);
    if (!r.ok()) return r.status();
    out.emplace_back(r->value);
  }
  return out;
}

// What the states of a workload exercised: the test asserts that the
// recoveries it meant to provoke happened.
struct Counts {
  uint64_t points = 0;
  uint64_t states = 0;
  uint64_t torn_tails_cut = 0;    // recovery cut bytes off the last store
  uint64_t batches_cut = 0;       // recovery removed a partial batch
  uint64_t indexes_rebuilt = 0;   // recovery repaired an index
  uint64_t prefix_before = 0;     // during a TruncatePrefix: the old lowest
  uint64_t prefix_after = 0;      //   ... the new lowest
  uint64_t suffix_before = 0;     // during a TruncateSuffix or a Reset: the
  uint64_t suffix_after = 0;      //   old log ... the new one
  uint64_t write_kept = 0;        // KV: the write in flight survived
  uint64_t write_lost = 0;        //   ... or not

  std::string Summary() const {
    return absl::StrCat(states, " states from ", points,
                        " crash points (torn tails cut ", torn_tails_cut,
                        ", batches cut ", batches_cut, ", indexes rebuilt ",
                        indexes_rebuilt, ")");
  }
};

// From now on, after every operation on *fs, checks each state a crash
// could leave with check(state, counts), counting them in *counts. Stops at
// the first fatal failure (the later states would only repeat it).
template <typename Check>
void CheckEveryCrashState(FaultInjectionFileSystem* fs, Counts* counts,
                          Check check) {
  fs->SetCrashObserver([counts, check](const CrashSnapshot& snapshot) {
    if (::testing::Test::HasFatalFailure()) return;
    ++counts->points;
    for (const CrashState& state : EnumerateCrashStates(snapshot)) {
      check(state, counts);
      if (::testing::Test::HasFatalFailure()) return;
    }
  });
}

// Stops the checking and prints what the workload `name` checked.
Counts StopChecking(FaultInjectionFileSystem* fs, const char* name,
                    const Counts& counts) {
  fs->SetCrashObserver(nullptr);
  std::cout << "crash states: " << name << ": " << counts.Summary() << "\n";
  return counts;
}

// Checks one crash state of a log workload (see the top of this file).
void CheckLogState(const CrashState& state, const LogModel& model,
                   Counts* counts) {
  const uint64_t state_number = counts->states++;
  SCOPED_TRACE(absl::StrCat("crash state #", state_number, ": ",
                            state.description));
  absl::StatusOr<std::unique_ptr<FileSystem>> base = Materialize(state, {kLogDir});
  ASSERT_TRUE(base.ok()) << base.status();
  FaultInjectionFileSystem fs(*std::move(base));
  wal::LogOptions options = CrashLogOptions(&fs, wal::SyncPolicy::kEveryAppend);
  // Both modes that cut torn tails: they must agree on every state here.
  options.recovery_mode = state_number % 2 == 0
                              ? wal::RecoveryMode::kPointInTime
                              : wal::RecoveryMode::kTolerateCorruptedTailRecords;
  absl::StatusOr<std::unique_ptr<wal::Log>> log = wal::Log::Open(kLogDir, options);
  ASSERT_TRUE(log.ok()) << log.status();
  const uint64_t lowest = (*log)->LowestOffset();
  absl::StatusOr<std::vector<std::string>> values = ReadAll(**log);
  ASSERT_TRUE(values.ok()) << values.status();
  size_t accepted = 0;
  const std::string why = model.Check(lowest, *values, &accepted);
  ASSERT_EQ(why, "") << "recovered [" << lowest << ", "
                     << lowest + values->size() << ")";
  const wal::RecoveryReport& report = (*log)->recovery_report();
  if (report.torn_bytes_cut > 0) ++counts->torn_tails_cut;
  if (report.batches_cut > 0) ++counts->batches_cut;
  if (report.indexes_rebuilt > 0) ++counts->indexes_rebuilt;
  if (model.lowest_before() != model.lowest_after()) {
    ++(lowest == model.lowest_before() ? counts->prefix_before
                                       : counts->prefix_after);
  }
  if (model.timelines() > 1) {
    ++(accepted == 0 ? counts->suffix_before : counts->suffix_after);
  }

  // The second crash: a synced append, then a power loss.
  const std::string marker = absl::StrCat("after crash ", state_number);
  absl::StatusOr<uint64_t> offset = (*log)->Append(marker);
  ASSERT_TRUE(offset.ok()) << offset.status();
  ASSERT_EQ(*offset, lowest + values->size());
  const CrashState lost = PowerLossState(fs.Snapshot());
  log->reset();
  absl::StatusOr<std::unique_ptr<FileSystem>> base2 = Materialize(lost, {kLogDir});
  ASSERT_TRUE(base2.ok()) << base2.status();
  options.fs = base2->get();
  absl::StatusOr<std::unique_ptr<wal::Log>> log2 = wal::Log::Open(kLogDir, options);
  ASSERT_TRUE(log2.ok()) << "after the second crash: " << log2.status();
  ASSERT_EQ((*log2)->LowestOffset(), lowest) << "after the second crash";
  absl::StatusOr<std::vector<std::string>> values2 = ReadAll(**log2);
  ASSERT_TRUE(values2.ok()) << "after the second crash: " << values2.status();
  std::vector<std::string> expected = *values;
  expected.push_back(marker);
  ASSERT_TRUE(*values2 == expected)
      << "after the second crash: " << values2->size() << " records, expected "
      << expected.size();
}

// Runs `workload` on a fault-injecting file system, checking every crash
// state after every operation. `model` must describe the log at every
// instant the workload's file-system operations happen.
template <typename Workload>
Counts RunLogWorkload(const char* name, wal::SyncPolicy policy, LogModel* model,
                      Workload workload) {
  Counts counts;
  FaultInjectionFileSystem fs(NewMemFileSystem());
  CheckEveryCrashState(&fs, &counts, [model](const CrashState& state, Counts* c) {
    CheckLogState(state, *model, c);
  });
  {
    absl::StatusOr<std::unique_ptr<wal::Log>> log =
        wal::Log::Open(kLogDir, CrashLogOptions(&fs, policy));
    EXPECT_TRUE(log.ok()) << log.status();
    if (log.ok()) {
      workload(log->get());
      if (!::testing::Test::HasFatalFailure()) {
        EXPECT_TRUE((*log)->Close().ok());
      }
    }
  }
  return StopChecking(&fs, name, counts);
}

// Appends `n` records or batches through `log`, keeping `model` in step.
void AppendSome(wal::Log* log, LogModel* model, std::mt19937_64& rng, int n,
                bool synced) {
  for (int i = 0; i < n && !::testing::Test::HasFatalFailure(); ++i) {
    std::vector<std::string> values;
    const size_t count = rng() % 4 == 0 ? 2 + rng() % 3 : 1;
    for (size_t k = 0; k < count; ++k) {
      values.push_back(MakeValue(rng, model->next() + k));
    }
    model->BeginAppend(values);
    absl::StatusOr<uint64_t> first;
    if (count == 1) {
      first = log->Append(values[0]);
    } else {
      std::vector<absl::string_view> views(values.begin(), values.end());
      first = log->AppendBatch(views);
    }
    ASSERT_TRUE(first.ok()) << first.status();
    ASSERT_EQ(*first + count, model->next());
    if (synced) model->Durable();
  }
}

void SyncLog(wal::Log* log, LogModel* model) {
  ASSERT_TRUE(log->Sync().ok());
  model->Durable();
}

TEST(CrashStatesTest, LogSyncedAppendsAndRolls) {
  LogModel model;
  std::mt19937_64 rng(1);
  Counts c = RunLogWorkload(
      "log synced appends and rolls", wal::SyncPolicy::kEveryAppend, &model,
      [&](wal::Log* log) { AppendSome(log, &model, rng, 60 * Scale(), true); });
  EXPECT_GE(c.states, 2000u);
  EXPECT_GT(c.torn_tails_cut, 0u);
  EXPECT_GT(c.batches_cut, 0u);
  EXPECT_GT(c.indexes_rebuilt, 0u);
}

TEST(CrashStatesTest, LogUnsyncedAppendsWithSync) {
  LogModel model;
  std::mt19937_64 rng(2);
  Counts c = RunLogWorkload(
      "log unsynced appends with Sync", wal::SyncPolicy::kNone, &model,
      [&](wal::Log* log) {
        for (int round = 0; round < 12 * Scale(); ++round) {
          AppendSome(log, &model, rng, 1 + rng() % 6, false);
          SyncLog(log, &model);
        }
      });
  EXPECT_GE(c.states, 2000u);
  EXPECT_GT(c.torn_tails_cut, 0u);
  EXPECT_GT(c.batches_cut, 0u);
}

// The lowest offset TruncatePrefix(bound) leaves: the base of the segment
// holding `bound` (a bound at the end rolls to a new, empty segment).
uint64_t LowestAfterTruncatePrefix(const wal::Log& log, uint64_t bound) {
  for (const auto& segment : log.Segments()) {
    if (segment->base_offset() <= bound && bound < segment->next_offset()) {
      return segment->base_offset();
    }
  }
  return log.NextOffset();
}

TEST(CrashStatesTest, LogTruncatePrefix) {
  LogModel model;
  std::mt19937_64 rng(3);
  Counts c = RunLogWorkload(
      "log TruncatePrefix", wal::SyncPolicy::kEveryAppend, &model,
      [&](wal::Log* log) {
        for (int round = 0; round < 6 * Scale(); ++round) {
          // Every other round appends enough for several segments and cuts
          // near the end, so one truncation removes several segments.
          AppendSome(log, &model, rng, round % 2 == 1 ? 30 : 8, true);
          if (::testing::Test::HasFatalFailure()) return;
          const uint64_t span = log->NextOffset() - log->LowestOffset();
          const uint64_t bound =
              round % 2 == 0
                  ? log->LowestOffset() + rng() % (span + 1)
                  : log->NextOffset() - rng() % std::min<uint64_t>(span + 1, 4);
          const uint64_t after = LowestAfterTruncatePrefix(*log, bound);
          model.BeginTruncatePrefix(log->LowestOffset(), after);
          ASSERT_TRUE(log->TruncatePrefix(bound).ok());
          ASSERT_EQ(log->LowestOffset(), after);
          model.EndTruncatePrefix();
        }
      });
  EXPECT_GE(c.states, 2000u);
  EXPECT_GT(c.prefix_before, 0u);
  EXPECT_GT(c.prefix_after, 0u);
}

// TruncateSuffix after `n` appends per round, synced or not.
Counts RunTruncateSuffix(const char* name, wal::SyncPolicy policy,
                         uint64_t seed, int rounds, uint64_t max_back) {
  LogModel model;
  std::mt19937_64 rng(seed);
  const bool synced = policy == wal::SyncPolicy::kEveryAppend;
  return RunLogWorkload(name, policy, &model, [&](wal::Log* log) {
    for (int round = 0; round < rounds * Scale(); ++round) {
      AppendSome(log, &model, rng, 8, synced);
      if (::testing::Test::HasFatalFailure()) return;
      const uint64_t span = log->NextOffset() - log->LowestOffset();
      const uint64_t last_kept =
          log->NextOffset() - 1 - rng() % std::min<uint64_t>(span, max_back);
      model.BeginTruncateSuffix(last_kept);
      ASSERT_TRUE(log->TruncateSuffix(last_kept).ok());
      model.EndTruncateSuffix();
      ASSERT_EQ(log->NextOffset(), last_kept + 1);
    }
  });
}

TEST(CrashStatesTest, LogTruncateSuffix) {
  Counts c = RunTruncateSuffix("log TruncateSuffix",
                               wal::SyncPolicy::kEveryAppend, 4, 6, 12);
  EXPECT_GE(c.states, 2000u);
  EXPECT_GT(c.suffix_before, 0u);
  EXPECT_GT(c.suffix_after, 0u);
}

// Unsynced records up to the cut: TruncateSuffix must make the kept ones
// whole before it commits (a batch cut by the crash is not one it kept).
TEST(CrashStatesTest, LogTruncateSuffixUnsynced) {
  Counts c = RunTruncateSuffix("log TruncateSuffix unsynced",
                               wal::SyncPolicy::kNone, 14, 12, 3);
  EXPECT_GE(c.states, 2000u);
  EXPECT_GT(c.suffix_before, 0u);
  EXPECT_GT(c.suffix_after, 0u);
}

// Reset after each round of appends, to an offset above, below or at the
// next one (never 0): every crash state is the old log or the empty one at
// the Reset's offset, and appends after it continue there.
TEST(CrashStatesTest, LogReset) {
  LogModel model;
  std::mt19937_64 rng(5);
  Counts c = RunLogWorkload(
      "log Reset", wal::SyncPolicy::kEveryAppend, &model, [&](wal::Log* log) {
        for (int round = 0; round < 6 * Scale(); ++round) {
          AppendSome(log, &model, rng, round % 2 == 1 ? 20 : 6, true);
          if (::testing::Test::HasFatalFailure()) return;
          const uint64_t next = log->NextOffset();
          uint64_t target = next;  // equal
          if (round % 3 == 0) target = next + 1 + rng() % 50;  // higher
          if (round % 3 == 1) target = 1 + rng() % next;  // lower or equal
          model.BeginReset(target);
          ASSERT_TRUE(log->Reset(target).ok());
          model.EndReset();
          ASSERT_EQ(log->LowestOffset(), target);
          ASSERT_EQ(log->NextOffset(), target);
        }
        AppendSome(log, &model, rng, 4, true);
      });
  EXPECT_GE(c.states, 2000u);
  EXPECT_GT(c.suffix_before, 0u);
  EXPECT_GT(c.suffix_after, 0u);
}

// ---------------------------------------------------------- the KV store --

constexpr char kDbDir[] = "/db";

using Contents = std::map<std::string, std::string>;

db::Options CrashDbOptions(FileSystem* fs) {
  db::Options o;
  o.fs = fs;
  o.sync = true;
  o.wal_segment_bytes = 4 << 10;
  o.warning_sink = [](const std::string&) {};
  return o;
}

Contents ReadDb(const db::DB& db) {
  Contents out;
  absl::StatusOr<std::vector<db::KeyValue>> pairs = db.Scan("", "");
  EXPECT_OK(pairs);
  if (!pairs.ok()) return out;
  for (const db::KeyValue& kv : *pairs) out[kv.first] = kv.second;
  return out;
}

// The KV store's possible contents: after each prefix of the writes.
struct DbModel {
  std::vector<Contents> after{Contents{}};  // after[j]: the first j writes
  size_t acknowledged = 0;  // writes that returned
  size_t durable = 0;       // writes that must survive any crash
};

void CheckDbState(const CrashState& state, const DbModel& model,
                  Counts* counts) {
  const uint64_t state_number = counts->states++;
  SCOPED_TRACE(absl::StrCat("crash state #", state_number, ": ",
                            state.description));
  absl::StatusOr<std::unique_ptr<FileSystem>> base =
      Materialize(state, {kDbDir, absl::StrCat(kDbDir, "/wal")});
  ASSERT_TRUE(base.ok()) << base.status();
  FaultInjectionFileSystem fs(*std::move(base));
  db::Options options = CrashDbOptions(&fs);
  options.recovery_mode = state_number % 2 == 0
                              ? wal::RecoveryMode::kPointInTime
                              : wal::RecoveryMode::kTolerateCorruptedTailRecords;
  absl::StatusOr<std::unique_ptr<db::DB>> db = db::DB::Open(kDbDir, options);
  ASSERT_TRUE(db.ok()) << db.status();
  const Contents contents = ReadDb(**db);
  size_t j = model.durable;
  while (j < model.after.size() && model.after[j] != contents) ++j;
  ASSERT_LT(j, model.after.size())
      << "the recovered " << contents.size()
      << " keys are not the contents after any prefix of the writes holding "
         "the "
      << model.durable << " durable ones (" << model.acknowledged
      << " acknowledged, " << model.after.size() - 1 << " begun)";
  if (model.after.size() - 1 > model.durable) {
    ++(j > model.durable ? counts->write_kept : counts->write_lost);
  }
  const db::RecoveryReport& report = (*db)->recovery_report();
  if (report.torn_bytes_cut > 0) ++counts->torn_tails_cut;
  if (report.wal.indexes_rebuilt > 0) ++counts->indexes_rebuilt;

  ASSERT_TRUE((*db)->Put("zz after crash", state.description).ok());
  const CrashState lost = PowerLossState(fs.Snapshot());
  db->reset();
  absl::StatusOr<std::unique_ptr<FileSystem>> base2 =
      Materialize(lost, {kDbDir, absl::StrCat(kDbDir, "/wal")});
  ASSERT_TRUE(base2.ok()) << base2.status();
  options.fs = base2->get();
  absl::StatusOr<std::unique_ptr<db::DB>> db2 = db::DB::Open(kDbDir, options);
  ASSERT_TRUE(db2.ok()) << "after the second crash: " << db2.status();
  Contents expected = contents;
  expected["zz after crash"] = state.description;
  ASSERT_TRUE(ReadDb(**db2) == expected) << "after the second crash";
}

// Writes, deletes and batches on 12 keys with a Checkpoint every 15
// operations; with sync off, a Sync() every 7.
Counts RunKvWorkload(const char* name, bool sync, uint64_t seed) {
  DbModel model;
  Counts counts;
  std::mt19937_64 rng(seed);
  FaultInjectionFileSystem fs(NewMemFileSystem());
  CheckEveryCrashState(&fs, &counts, [&model](const CrashState& state, Counts* c) {
    CheckDbState(state, model, c);
  });
  [&] {
    db::Options options = CrashDbOptions(&fs);
    options.sync = sync;
    absl::StatusOr<std::unique_ptr<db::DB>> db = db::DB::Open(kDbDir, options);
    ASSERT_TRUE(db.ok()) << db.status();
    for (int i = 0; i < 60 * Scale() && !::testing::Test::HasFatalFailure();
         ++i) {
      if (i % 15 == 14) {
        ASSERT_TRUE((*db)->Checkpoint().ok());
        model.durable = model.acknowledged;
        continue;
      }
      if (!sync && i % 7 == 6) {
        ASSERT_TRUE((*db)->Sync().ok());
        model.durable = model.acknowledged;
        continue;
      }
      db::WriteBatch batch;
      Contents next = model.after.back();
      const int ops = rng() % 3 == 0 ? 2 + rng() % 4 : 1;
      for (int k = 0; k < ops; ++k) {
        const std::string key = absl::StrCat("k", rng() % 12);
        if (rng() % 5 == 0) {
          batch.Delete(key);
          next.erase(key);
        } else {
          std::string value = MakeValue(rng, i);
          batch.Put(key, value);
          next[key] = std::move(value);
        }
      }
      model.after.push_back(std::move(next));
      ASSERT_TRUE((*db)->Write(batch).ok());
      model.acknowledged = model.after.size() - 1;
      if (sync) model.durable = model.acknowledged;
    }
    if (!::testing::Test::HasFatalFailure()) {
      EXPECT_TRUE((*db)->Close().ok());
    }
  }();
  return StopChecking(&fs, name, counts);
}

TEST(CrashStatesTest, KvBatchesAndCheckpoints) {
  Counts c = RunKvWorkload("kv batches and checkpoints", /*sync=*/true, 5);
  EXPECT_GE(c.states, 2000u);
  EXPECT_GT(c.torn_tails_cut, 0u);
  EXPECT_GT(c.write_kept, 0u);
  EXPECT_GT(c.write_lost, 0u);
}

TEST(CrashStatesTest, KvUnsyncedWithSyncAndCheckpoints) {
  Counts c = RunKvWorkload("kv unsynced with Sync and checkpoints",
                           /*sync=*/false, 6);
  EXPECT_GE(c.states, 2000u);
  EXPECT_GT(c.torn_tails_cut, 0u);
  EXPECT_GT(c.write_kept, 0u);
  EXPECT_GT(c.write_lost, 0u);
}

// ------------------------------------------------ the enumeration itself --

TEST(CrashLengthsTest, UnsyncedWritesGiveEveryEndAndTornSectors) {
  CrashSnapshot::File f;
  f.synced = std::string(100, 's');
  f.current = f.synced + std::string(1400, 'u');  // writes end at 600, 1500
  f.write_ends = {600, 1500};
  std::vector<uint64_t> lengths;
  std::vector<bool> torn;
  CrashLengths(f, EnumerateOptions(), &lengths, &torn);
  // Ends 100 (synced), 600, 1500; torn at every sector boundary inside a
  // write: 512 (in (100,600]) and 1024 (in (600,1500]).
  EXPECT_THAT(lengths, ElementsAre(100, 512, 600, 1024, 1500));
  EXPECT_THAT(torn, ElementsAre(false, true, false, true, false));
}

TEST(CrashLengthsTest, TruncatedFileIsSyncedOrCurrent) {
  CrashSnapshot::File f;
  f.synced = std::string(2000, 'x');
  f.current = std::string(700, 'x');
  std::vector<uint64_t> lengths;
  std::vector<bool> torn;
  CrashLengths(f, EnumerateOptions(), &lengths, &torn);
  ASSERT_EQ(lengths.size(), 2u);
  EXPECT_EQ(CutContents(f, lengths[0]), f.synced);
  EXPECT_EQ(lengths[1], 700u);
}

TEST(CrashLengthsTest, ManyWritesAreThinnedKeepingBothExtremes) {
  CrashSnapshot::File f;
  f.current = std::string(100 * 10, 'w');
  for (uint64_t e = 10; e <= 1000; e += 10) f.write_ends.push_back(e);
  EnumerateOptions options;
  options.max_cuts_per_file = 5;
  std::vector<uint64_t> lengths;
  std::vector<bool> torn;
  CrashLengths(f, options, &lengths, &torn);
  ASSERT_EQ(lengths.size(), 5u);
  EXPECT_EQ(lengths.front(), 0u);
  EXPECT_EQ(lengths.back(), 1000u);
}

TEST(EnumerateCrashStatesTest, NamespacesAndExtremes) {
  // a: synced "A", now "AB" (one unsynced write); b: created since the last
  // directory sync, holding "x" unsynced.
  CrashSnapshot snap;
  snap.files.push_back({"A", "AB", {2}});
  snap.files.push_back({"", "x", {1}});
  snap.live = {{"/d/a", 0}, {"/d/b", 1}};
  snap.durable = {{"/d/a", 0}};
  std::vector<CrashState> states = EnumerateCrashStates(snap);
  std::vector<std::map<std::string, std::string>> got;
  for (const CrashState& s : states) got.push_back(s.files);
  using M = std::map<std::string, std::string>;
  // Directory operations kept: a in {A, AB} x b in {"", x}, as extremes and
  // single variations; lost: b absent.
  EXPECT_THAT(got, ::testing::UnorderedElementsAre(
                       M{{"/d/a", "A"}, {"/d/b", ""}},
                       M{{"/d/a", "AB"}, {"/d/b", ""}},
                       M{{"/d/a", "A"}, {"/d/b", "x"}},
                       M{{"/d/a", "AB"}, {"/d/b", "x"}},
                       M{{"/d/a", "A"}}, M{{"/d/a", "AB"}}));
}

TEST(CrashLengthsTest, EverySectorInsideALongWriteIsATornCut) {
  CrashSnapshot::File f;
  f.current = std::string(2000, 'u');
  f.write_ends = {2000};
  std::vector<uint64_t> lengths;
  std::vector<bool> torn;
  CrashLengths(f, EnumerateOptions(), &lengths, &torn);
  EXPECT_THAT(lengths, ElementsAre(0, 512, 1024, 1536, 2000));
  EXPECT_THAT(torn, ElementsAre(false, true, true, true, false));
}

TEST(EnumerateCrashStatesTest, EachDirectoryKeepsOrLosesItsOperationsAlone) {
  // /a/x and /b/y were both created after their directory's last sync.
  CrashSnapshot snap;
  snap.files.push_back({"", "", {}});
  snap.files.push_back({"", "", {}});
  snap.live = {{"/a/x", 0}, {"/b/y", 1}};
  std::vector<std::map<std::string, std::string>> got;
  for (const CrashState& s : EnumerateCrashStates(snap)) got.push_back(s.files);
  using M = std::map<std::string, std::string>;
  EXPECT_THAT(got, ::testing::UnorderedElementsAre(
                       M{{"/a/x", ""}, {"/b/y", ""}}, M{{"/a/x", ""}},
                       M{{"/b/y", ""}}, M{}));
}

TEST(EnumerateCrashStatesTest, PowerLossKeepsDurableNamesAtSyncedContents) {
  CrashSnapshot snap;
  snap.files.push_back({"A", "AB", {2}});
  snap.files.push_back({"", "x", {1}});
  snap.live = {{"/d/a", 0}, {"/d/b", 1}};
  snap.durable = {{"/d/a", 0}};
  EXPECT_EQ(PowerLossState(snap).files,
            (std::map<std::string, std::string>{{"/d/a", "A"}}));
}

}  // namespace
}  // namespace blockwal::crash
