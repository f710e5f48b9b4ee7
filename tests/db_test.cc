// The KV store: operations, replay against a model, checkpoints, and
// recovery after crashes (power loss with torn writes, a crash at every step
// of Checkpoint) and after damage (corrupt checkpoints, missing WAL).
#include "blockwal/db/db.h"

#include <atomic>
#include <cerrno>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/gated_file_system.h"
#include "tests/checkpoint_v1_file.h"
#include "tests/status_matchers.h"
#include "blockwal/util/fault_injection_file_system.h"
#include "blockwal/util/file_system.h"
#include "blockwal/util/mem_file_system.h"
#include "blockwal/wal/log.h"
#include "blockwal/wal/record.h"

namespace blockwal::db {
namespace {

using ::blockwal::testing::IsOkAndHolds;
using ::blockwal::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

using Model = std::map<std::string, std::string>;

constexpr char kDir[] = "/db";
// Mutating operations that FaultInjectionFileSystem records in ops() (it
// never records flushes, so they are left out to keep the counts equal).
constexpr uint32_t kMutations = kOpAppend | kOpSync | kOpTruncate | kOpCreate |
                                kOpRename | kOpRemove | kOpSyncDir |
                                kOpMapSync;

Model Contents(const DB& db) {
  Model out;
  absl::StatusOr<std::vector<KeyValue>> pairs = db.Scan("", "");
  EXPECT_OK(pairs);
  if (pairs.ok()) {
    for (auto& [k, v] : *pairs) out.emplace(k, v);
  }
  return out;
}

class DbTest : public ::testing::Test {
 protected:
  Options MakeOptions() {
    Options options;
    options.fs = &fs_;
    options.wal_segment_bytes = 4096;  // several segments, so truncation bites
    return options;
  }
  std::unique_ptr<DB> OpenOrDie(Options options) {
    absl::StatusOr<std::unique_ptr<DB>> db = DB::Open(kDir, options);
    EXPECT_OK(db);
    return db.ok() ? *std::move(db) : nullptr;
  }
  // Power loss: unsynced bytes and undurable names vanish.
  void Crash() {
    fs_.ClearFailures();
    ASSERT_OK(fs_.DropUnsyncedData());
    ASSERT_OK(fs_.DeleteFilesCreatedAfterLastDirSync());
    fs_.ResetState();
  }
  std::vector<std::string> CheckpointNames() {
    std::vector<std::string> out;
    auto children = fs_.GetChildren(kDir);
    EXPECT_OK(children);
    for (const std::string& c : *children) {
      if (absl::StartsWith(c, kCheckpointPrefix)) out.push_back(c);
    }
    return out;
  }

  FaultInjectionFileSystem fs_{NewMemFileSystem()};
};

TEST_F(DbTest, PutGetDeleteScan) {
  auto db = OpenOrDie(MakeOptions());
  ASSERT_OK(db->Put("b", "2"));
  ASSERT_OK(db->Put("a", "1"));
  ASSERT_OK(db->Put("c", "3"));
  ASSERT_OK(db->Put("ca", "4"));
  ASSERT_OK(db->Put("a", "one"));
  EXPECT_THAT(db->Get("a"), ::testing::Eq(absl::StatusOr<std::string>("one")));
  EXPECT_THAT(db->Get("zz"), StatusIs(absl::StatusCode::kNotFound,
                                      "key 'zz' not found"));
  ASSERT_OK(db->Delete("b"));
  ASSERT_OK(db->Delete("never-there"));
  EXPECT_THAT(db->Get("b"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(db->Scan("a", "c"), IsOkAndHolds(ElementsAre(Pair("a", "one"))));
  EXPECT_THAT(db->Scan("b", ""),
              IsOkAndHolds(ElementsAre(Pair("c", "3"), Pair("ca", "4"))));
  EXPECT_THAT(db->ScanPrefix("c"),
              IsOkAndHolds(ElementsAre(Pair("c", "3"), Pair("ca", "4"))));
  EXPECT_THAT(db->ScanPrefix("x"), IsOkAndHolds(ElementsAre()));
  ASSERT_OK_AND_ASSIGN(const Stats stats, db->GetStats());
  EXPECT_EQ(stats.keys, 3u);
  EXPECT_EQ(stats.writes, 7u);
  EXPECT_EQ(stats.wal_next_offset, 7u);
}

TEST_F(DbTest, WriteBatchAppliesInOrderAsOneRecord) {
  auto db = OpenOrDie(MakeOptions());
  WriteBatch batch;
  batch.Put("k", "1");
  batch.Put("k", "2");
  batch.Put("gone", "x");
  batch.Delete("gone");
  ASSERT_OK(db->Write(batch));
  ASSERT_OK(db->Write(WriteBatch()));  // empty: nothing appended
  EXPECT_EQ(Contents(*db), (Model{{"k", "2"}}));
  EXPECT_EQ(db->GetStats()->wal_next_offset, 1u);
}

TEST_F(DbTest, ReopenReplaysTheWal) {
  {
    auto db = OpenOrDie(MakeOptions());
    EXPECT_EQ(db->recovery_report().records_replayed, 0u);
    EXPECT_EQ(db->recovery_report().checkpoint_path, "");
    ASSERT_OK(db->Put("a", "1"));
    ASSERT_OK(db->Put("b", "2"));
    ASSERT_OK(db->Delete("a"));
    ASSERT_OK(db->Close());
  }
  auto db = OpenOrDie(MakeOptions());
  EXPECT_EQ(Contents(*db), (Model{{"b", "2"}}));
  const RecoveryReport& r = db->recovery_report();
  EXPECT_EQ(r.records_replayed, 3u);
  EXPECT_EQ(r.bytes_replayed, 3u * 12 + (1 + 2 + 2) * 2 + (1 + 2));
  EXPECT_EQ(r.wal_first_offset, 0u);
  EXPECT_EQ(r.wal_next_offset, 3u);
  EXPECT_EQ(r.keys, 1u);
  EXPECT_EQ(r.torn_bytes_cut, 0u);
  EXPECT_TRUE(r.corruption.empty());
  EXPECT_THAT(r.ToString(), HasSubstr("replayed: 3 records"));
}

TEST_F(DbTest, SecondOpenIsUnavailable) {
  auto db = OpenOrDie(MakeOptions());
  EXPECT_THAT(DB::Open(kDir, MakeOptions()),
              StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(DbTest, WriteAfterCloseFails) {
  auto db = OpenOrDie(MakeOptions());
  ASSERT_OK(db->Close());
  EXPECT_THAT(db->Put("a", "1"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(db->Checkpoint(), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(DbTest, CheckpointDropsWalAndOlderCheckpoints) {
  auto db = OpenOrDie(MakeOptions());
  for (int i = 0; i < 200; ++i) {
    ASSERT_OK(db->Put(absl::StrCat("key", i), std::string(50, 'v')));
  }
  ASSERT_GT(db->GetStats()->wal_segments, 1u);
  ASSERT_OK_AND_ASSIGN(CheckpointInfo first, db->Checkpoint());
  EXPECT_EQ(first.wal_offset, 200u);
  EXPECT_EQ(first.keys, 200u);
  EXPECT_EQ(db->GetStats()->wal_first_offset, 200u);
  EXPECT_EQ(db->GetStats()->wal_segments, 1u);
  ASSERT_OK(db->Delete("key0"));
  ASSERT_OK_AND_ASSIGN(CheckpointInfo second, db->Checkpoint());
  EXPECT_EQ(second.wal_offset, 201u);
  EXPECT_THAT(CheckpointNames(), ElementsAre(CheckpointFileName(201)));
  ASSERT_OK(db->Put("after", "x"));
  const Model model = Contents(*db);
  ASSERT_OK(db->Close());
  db = OpenOrDie(MakeOptions());
  EXPECT_EQ(Contents(*db), model);
  EXPECT_EQ(db->recovery_report().checkpoint_path,
            JoinPath(kDir, CheckpointFileName(201)));
  EXPECT_EQ(db->recovery_report().checkpoint_keys, 199u);
  EXPECT_EQ(db->recovery_report().records_replayed, 1u);
}

TEST_F(DbTest, AutoCheckpoint) {
  Options options = MakeOptions();
  options.auto_checkpoint_bytes = 2000;
  auto db = OpenOrDie(options);
  for (int i = 0; i < 100; ++i) {
    ASSERT_OK(db->Put(absl::StrCat("key", i), std::string(40, 'v')));
  }
  ASSERT_OK_AND_ASSIGN(const Stats stats, db->GetStats());
  EXPECT_GE(stats.checkpoints, 2u);
  EXPECT_OK(stats.auto_checkpoint_status);
  EXPECT_LT(stats.wal_bytes_since_checkpoint, 2000u);
  EXPECT_EQ(CheckpointNames().size(), 1u);
  const Model model = Contents(*db);
  ASSERT_OK(db->Close());
  db = OpenOrDie(options);
  EXPECT_EQ(Contents(*db), model);
  EXPECT_NE(db->recovery_report().checkpoint_path, "");
}

TEST_F(DbTest, LeftoverTempCheckpointIsRemoved) {
  ASSERT_OK(fs_.CreateDir(kDir));
  const std::string temp =
      JoinPath(kDir, CheckpointFileName(5)) + kCheckpointTempSuffix;
  ASSERT_OK(WriteStringToFile(&fs_, "half a checkpoint", temp, true));
  auto db = OpenOrDie(MakeOptions());
  EXPECT_THAT(fs_.FileExists(temp), IsOkAndHolds(false));
  EXPECT_EQ(db->recovery_report().checkpoint_path, "");
}

TEST_F(DbTest, ConcurrentWritersApplyInWalOrder) {
  auto db = OpenOrDie(MakeOptions());
  constexpr int kThreads = 4;
  constexpr int kWrites = 150;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&db, t] {
      for (int i = 0; i < kWrites; ++i) {
        WriteBatch batch;
        batch.Put(absl::StrCat("t", t, "-", i), absl::StrCat(i));
        batch.Put("shared", absl::StrCat(t, "-", i));
        EXPECT_OK(db->Write(batch));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(db->GetStats()->keys, kThreads * kWrites + 1u);
  const Model model = Contents(*db);
  ASSERT_OK(db->Close());
  db = OpenOrDie(MakeOptions());
  // Replay in offset order gives exactly what the writers applied, including
  // the last writer of "shared".
  EXPECT_EQ(Contents(*db), model);
}

TEST_F(DbTest, ReadsDuringCheckpointsSeeEveryLayer) {
  // Keys "r<i>" hold "<round>-<i>" for the round that last wrote them; round
  // r rewrites the keys whose parity is r's, then checkpoints. While
  // checkpoints freeze the memtable and swap the checkpoint below it, a
  // reader must never miss a key, nor see a value of a round not started.
  auto db = OpenOrDie(MakeOptions());
  constexpr int kKeys = 200;
  constexpr int kRounds = 12;
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_OK(db->Put(absl::StrCat("r", i), absl::StrCat("0-", i)));
  }
  std::atomic<int> round{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      std::mt19937 rng(t);
      while (!done.load()) {
        const int i = static_cast<int>(rng() % kKeys);
        absl::StatusOr<std::string> v = db->Get(absl::StrCat("r", i));
        ASSERT_OK(v);  // keys are rewritten, never deleted
        const int r = std::stoi(*v);
        EXPECT_LE(r, round.load());  // round r had started before its write
        EXPECT_EQ(*v, absl::StrCat(r, "-", i));
        absl::StatusOr<std::vector<KeyValue>> all = db->ScanPrefix("r");
        ASSERT_OK(all);
        EXPECT_EQ(all->size(), static_cast<size_t>(kKeys));
      }
    });
  }
  for (int r = 1; r <= kRounds; ++r) {
    round.store(r);
    for (int i = r % 2; i < kKeys; i += 2) {
      ASSERT_OK(db->Put(absl::StrCat("r", i), absl::StrCat(r, "-", i)));
    }
    ASSERT_OK(db->Checkpoint().status());
  }
  done.store(true);
  for (std::thread& t : readers) t.join();
  ASSERT_OK_AND_ASSIGN(const Stats stats, db->GetStats());
  EXPECT_EQ(stats.keys, static_cast<uint64_t>(kKeys));
  EXPECT_EQ(stats.checkpoint_keys, static_cast<uint64_t>(kKeys));
  EXPECT_EQ(stats.memtable_entries, 0u);
  for (int i = 0; i < kKeys; ++i) {
    const int last = kRounds - ((kRounds - i) % 2 == 0 ? 0 : 1);
    EXPECT_THAT(db->Get(absl::StrCat("r", i)),
                IsOkAndHolds(absl::StrCat(last, "-", i)));
  }
}

// ------------------------------------------------------------ group commit

// Writers that queue while a group is in its fdatasync (held at a gate) form
// the next group.
class DbGroupCommitTest : public ::testing::Test {
 protected:
  Options MakeOptions() {
    Options options;
    options.fs = &fs_;
    return options;
  }

  // Starts a Put("lead") that blocks in its WAL sync, then a Put of
  // follower_keys[i] -> "v<i>" from a thread each, waits for them to queue
  // behind it and opens the gate. Returns the statuses: lead's, then the
  // followers'.
  std::vector<absl::Status> GatedRound(DB& db,
                                       const std::vector<std::string>& keys,
                                       bool fail_lead_sync) {
    std::vector<absl::Status> statuses(keys.size() + 1);
    fs_.CloseGate();
    std::thread lead([&] { statuses[0] = db.Put("lead", "0"); });
    fs_.AwaitBlocked(1);
    if (fail_lead_sync) fs_.FailAfter(kOpSync, 0, EIO);
    std::vector<std::thread> followers;
    for (size_t i = 0; i < keys.size(); ++i) {
      followers.emplace_back([&, i] {
        statuses[i + 1] = db.Put(keys[i], absl::StrCat("v", i));
      });
    }
    // Time for the followers to queue; one that is late leads a group of
    // its own (WritersQueuedBehindASyncShareOneGroup tries again).
    absl::SleepFor(absl::Milliseconds(50));
    fs_.OpenGate();
    lead.join();
    for (std::thread& t : followers) t.join();
    return statuses;
  }

  // Every WAL record's flags, in offset order.
  std::vector<uint8_t> WalFlags(const std::string& dir) {
    wal::LogOptions options;
    options.fs = &fs_;
    absl::StatusOr<std::unique_ptr<wal::Log>> log =
        wal::Log::Open(JoinPath(dir, kWalDirName), options);
    EXPECT_OK(log);
    std::vector<uint8_t> flags;
    if (!log.ok()) return flags;
    std::string scratch;
    for (uint64_t o = (*log)->LowestOffset(); o < (*log)->NextOffset(); ++o) {
      absl::StatusOr<wal::Record> r = (*log)->Read(o, &scratch);
      EXPECT_OK(r);
      if (r.ok()) flags.push_back(r->flags);
    }
    return flags;
  }

  GatedFileSystem fs_;
};

TEST_F(DbGroupCommitTest, WritersQueuedBehindASyncShareOneGroup) {
  const std::vector<std::string> keys = {"a", "b", "c"};
  for (int attempt = 0; attempt < 5; ++attempt) {
    const std::string dir = absl::StrCat("/group", attempt);
    absl::StatusOr<std::unique_ptr<DB>> db = DB::Open(dir, MakeOptions());
    ASSERT_OK(db);
    for (const absl::Status& s : GatedRound(**db, keys, false)) EXPECT_OK(s);
    const Model model = Contents(**db);
    EXPECT_EQ(model, (Model{{"a", "v0"}, {"b", "v1"}, {"c", "v2"}, {"lead", "0"}}));
    ASSERT_OK((*db)->Close());
    // One record per write; lead's group is synced alone, the three queued
    // behind it are one AppendBatch: continued, continued, sync marker.
    const std::vector<uint8_t> flags = WalFlags(dir);
    ASSERT_EQ(flags.size(), 4u);
    EXPECT_EQ(flags[0], wal::kSyncMarker);
    if (flags[1] != wal::kBatchContinues) continue;  // a follower was late
    EXPECT_THAT(flags, ElementsAre(wal::kSyncMarker, wal::kBatchContinues,
                                   wal::kBatchContinues, wal::kSyncMarker));
    db = DB::Open(dir, MakeOptions());
    ASSERT_OK(db);
    EXPECT_EQ(Contents(**db), model);
    return;
  }
  FAIL() << "the three followers never formed one group in 5 rounds";
}

TEST_F(DbGroupCommitTest, AFailedSyncFailsItsGroupAndTheWritersQueuedBehind) {
  absl::StatusOr<std::unique_ptr<DB>> db = DB::Open("/fail", MakeOptions());
  ASSERT_OK(db);
  const std::vector<absl::Status> statuses =
      GatedRound(**db, {"a", "b", "c"}, /*fail_lead_sync=*/true);
  EXPECT_THAT(statuses[0], StatusIs(absl::StatusCode::kUnknown));
  for (size_t i = 1; i < statuses.size(); ++i) {
    EXPECT_THAT(statuses[i],
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         HasSubstr("/fail: a WAL write failed: ")));
  }
  EXPECT_THAT((*db)->Put("d", "1"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  // Nothing was acknowledged, and nothing is visible.
  EXPECT_TRUE(Contents(**db).empty());
  EXPECT_EQ((*db)->GetStats()->writes, 0u);
}

// Seeded random sequences of puts, deletes, batches, checkpoints and reopens
// must always read back as the model says.
class DbModelTest : public DbTest,
                    public ::testing::WithParamInterface<uint32_t> {};

TEST_P(DbModelTest, MatchesModel) {
  std::mt19937 rng(GetParam());
  Options options = MakeOptions();
  options.sync = GetParam() % 2 == 0;
  auto db = OpenOrDie(options);
  Model model;
  // ~400 keys of up to 300 bytes: checkpoints of several chunks.
  auto key = [&] { return absl::StrCat("k", rng() % 400); };
  auto value = [&] { return std::string(rng() % 300, 'a' + rng() % 26); };
  for (int step = 0; step < 600; ++step) {
    const uint32_t op = rng() % 100;
    if (op < 50) {
      const std::string k = key();
      const std::string v = value();
      ASSERT_OK(db->Put(k, v));
      model[k] = v;
    } else if (op < 70) {
      const std::string k = key();
      ASSERT_OK(db->Delete(k));
      model.erase(k);
    } else if (op < 90) {
      WriteBatch batch;
      const int n = 1 + rng() % 6;
      for (int i = 0; i < n; ++i) {
        const std::string k = key();
        if (rng() % 3 == 0) {
          batch.Delete(k);
          model.erase(k);
        } else {
          const std::string v = value();
          batch.Put(k, v);
          model[k] = v;
        }
      }
      ASSERT_OK(db->Write(batch));
    } else if (op < 95) {
      ASSERT_OK(db->Checkpoint().status());
    } else {
      ASSERT_OK(db->Close());
      db = OpenOrDie(options);
      ASSERT_NE(db, nullptr);
      ASSERT_EQ(Contents(*db), model) << "after reopen at step " << step;
    }
    ASSERT_EQ(db->GetStats()->keys, model.size());
    // Reads go through the memtable and the checkpoint below it.
    const std::string probe = key();
    auto it = model.find(probe);
    if (it == model.end()) {
      ASSERT_THAT(db->Get(probe), StatusIs(absl::StatusCode::kNotFound));
    } else {
      ASSERT_THAT(db->Get(probe), IsOkAndHolds(it->second)) << probe;
    }
    const std::string prefix = absl::StrCat("k", rng() % 40);
    std::vector<KeyValue> want;
    for (auto m = model.lower_bound(prefix);
         m != model.end() && absl::StartsWith(m->first, prefix); ++m) {
      want.emplace_back(m->first, m->second);
    }
    ASSERT_THAT(db->ScanPrefix(prefix), IsOkAndHolds(want)) << prefix;
  }
  ASSERT_EQ(Contents(*db), model);
  ASSERT_OK(db->Close());
  db = OpenOrDie(options);
  EXPECT_EQ(Contents(*db), model);
}

INSTANTIATE_TEST_SUITE_P(Seeds, DbModelTest, ::testing::Range(1u, 9u));

// With sync off, a power loss keeps a torn prefix of the WAL: whatever
// survives must be a prefix of the batches, each whole, and at least the
// batches synced explicitly.
TEST_F(DbTest, TornBatchesAreAllOrNothing) {
  std::set<size_t> matches;
  for (double keep : {0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0}) {
    SCOPED_TRACE(absl::StrCat("keep ", keep));
    FaultInjectionFileSystem fs(NewMemFileSystem());
    Options options = MakeOptions();
    options.fs = &fs;
    options.sync = false;
    options.wal_segment_bytes = 1 << 20;  // no roll: its seal would sync
    std::vector<Model> prefixes(1);  // prefixes[i]: after i batches
    size_t synced = 0;
    {
      auto db = OpenOrDie(options);
      for (int b = 0; b < 40; ++b) {
        WriteBatch batch;
        Model next = prefixes.back();
        for (int i = 0; i < 5; ++i) {
          const std::string k = absl::StrCat("k", (b * 7 + i) % 23);
          const std::string v = std::string(200 + b * 10 + i, 'a' + b % 26);
          batch.Put(k, v);
          next[k] = v;
        }
        ASSERT_OK(db->Write(batch));
        prefixes.push_back(next);
        if (b == 9) {
          ASSERT_OK(db->Sync());
          synced = prefixes.size() - 1;
        }
      }
      // Power fails now: no sync reaches the disk any more, so the
      // destructor's Close cannot make the tail durable.
      fs.FailAfter(kOpSync | kOpMapSync | kOpSyncDir, 0, EIO, /*sticky=*/true);
    }
    ASSERT_OK(fs.TearUnsyncedData(keep));
    ASSERT_OK(fs.DeleteFilesCreatedAfterLastDirSync());
    fs.ClearFailures();
    fs.ResetState();
    auto db = OpenOrDie(options);
    ASSERT_NE(db, nullptr);
    const Model got = Contents(*db);
    size_t match = prefixes.size();
    for (size_t i = 0; i < prefixes.size(); ++i) {
      if (prefixes[i] == got) match = i;
    }
    ASSERT_LT(match, prefixes.size()) << "not a whole-batch prefix";
    EXPECT_GE(match, synced);
    if (keep == 0.0) {
      EXPECT_EQ(match, synced);  // nothing unsynced kept
    } else if (keep == 1.0) {
      // All but the last partial sector kept: each batch is over 1000
      // bytes, so at most the last one is lost.
      EXPECT_GE(match, prefixes.size() - 2);
    }
    EXPECT_EQ(db->recovery_report().records_replayed, match);
    matches.insert(match);
  }
  // Tears at different points kept different numbers of batches.
  EXPECT_GE(matches.size(), 4u);
}

// Counts the mutating file-system operations of one Checkpoint, then crashes
// (power loss) at each of them in turn: the store must reopen with exactly
// the contents it had before the checkpoint, and keep working.
TEST_F(DbTest, CrashAtEveryCheckpointStep) {
  auto workload = [](DB& db, int round) {
    for (int i = 0; i < 60; ++i) {
      WriteBatch batch;
      batch.Put(absl::StrCat("k", i % 37), absl::StrCat(round, "-", i,
                                                        std::string(60, 'x')));
      if (i % 5 == 0) batch.Delete(absl::StrCat("k", (i + 3) % 37));
      ASSERT_OK(db.Write(batch));
    }
  };
  // A dry run counts the operations (with an older checkpoint present, so the
  // removal step exists too).
  size_t steps;
  {
    FaultInjectionFileSystem fs(NewMemFileSystem());
    Options options = MakeOptions();
    options.fs = &fs;
    auto db = OpenOrDie(options);
    workload(*db, 0);
    ASSERT_OK(db->Checkpoint().status());
    workload(*db, 1);
    fs.ClearOps();
    ASSERT_OK(db->Checkpoint().status());
    steps = 0;
    for (const FsOpRecord& r : fs.ops()) {
      if (r.op & kMutations) ++steps;
    }
    ASSERT_GE(steps, 8u);  // sync, create, append(s), sync, rename, syncdir...
  }
  for (size_t fail_at = 0; fail_at <= steps; ++fail_at) {
    SCOPED_TRACE(absl::StrCat("failing mutation ", fail_at, " of ", steps));
    FaultInjectionFileSystem fs(NewMemFileSystem());
    Options options = MakeOptions();
    options.fs = &fs;
    Model before;
    {
      auto db = OpenOrDie(options);
      workload(*db, 0);
      ASSERT_OK(db->Checkpoint().status());
      workload(*db, 1);
      before = Contents(*db);
      fs.FailAfter(kMutations, fail_at, EIO, /*sticky=*/true);
      absl::StatusOr<CheckpointInfo> info = db->Checkpoint();
      if (fail_at < steps) {
        EXPECT_FALSE(info.ok());
      } else {
        EXPECT_OK(info);
      }
      // Whatever step failed, the store still reads the same: the frozen
      // memtable went back under the live one, or the new checkpoint is in
      // place.
      EXPECT_EQ(Contents(*db), before);
      // Close syncs and seals the WAL: those mutations fail too (the
      // failure is sticky), so nothing after the crash point reaches disk.
      EXPECT_FALSE(db->Close().ok());
    }
    fs.ClearFailures();
    ASSERT_OK(fs.DropUnsyncedData());
    ASSERT_OK(fs.DeleteFilesCreatedAfterLastDirSync());
    fs.ResetState();
    auto db = OpenOrDie(options);
    ASSERT_NE(db, nullptr);
    EXPECT_EQ(Contents(*db), before);
    EXPECT_TRUE(db->recovery_report().checkpoints_rejected.empty());
    // And it keeps working across another checkpoint and reopen.
    ASSERT_OK(db->Put("after", "crash"));
    ASSERT_OK(db->Checkpoint().status());
    ASSERT_OK(db->Close());
    db = OpenOrDie(options);
    Model expected = before;
    expected["after"] = "crash";
    EXPECT_EQ(Contents(*db), expected);
  }
}

// Writes `n` single-put batches k0..k{n-1} and returns the model after each
// prefix (models[i]: after i batches).
std::vector<Model> WriteRecords(DB& db, int n) {
  std::vector<Model> models(1);
  for (int i = 0; i < n; ++i) {
    EXPECT_OK(db.Put(absl::StrCat("k", i), absl::StrCat("v", i)));
    Model next = models.back();
    next[absl::StrCat("k", i)] = absl::StrCat("v", i);
    models.push_back(next);
  }
  return models;
}

MemTable TableOf(const Model& model) {
  MemTable table;
  for (const auto& [k, v] : model) table.Put(k, v);
  return table;
}

void CorruptFile(FileSystem* fs, const std::string& path) {
  absl::StatusOr<std::string> contents = ReadFileToString(fs, path);
  ASSERT_OK(contents);
  (*contents)[contents->size() / 2] ^= 0x40;
  ASSERT_OK(WriteStringToFile(fs, *contents, path, true));
}

TEST_F(DbTest, ACheckpointThatFailsAfterItIsInPlaceIsCountedAsTheNewest) {
  // One failed file-system operation at each step of a Checkpoint. Failing
  // before the new file is swapped in changes nothing; failing after it (the
  // WAL truncation, removing the older checkpoint) still leaves the new one
  // serving reads, and Stats must say so: its path, the count, and no WAL
  // bytes pending (else an automatic checkpoint would fire on every write).
  int after_swap = 0;
  for (size_t fail_at = 0; fail_at < 100; ++fail_at) {
    SCOPED_TRACE(absl::StrCat("failing mutation ", fail_at));
    FaultInjectionFileSystem fs(NewMemFileSystem());
    Options options = MakeOptions();
    options.fs = &fs;
    options.wal_segment_bytes = 4096;  // so the truncation has work
    auto db = OpenOrDie(options);
    for (int i = 0; i < 100; ++i) {
      ASSERT_OK(db->Put(absl::StrCat("a", i), std::string(50, 'x')));
    }
    ASSERT_OK(db->Checkpoint().status());
    for (int i = 0; i < 100; ++i) {
      ASSERT_OK(db->Put(absl::StrCat("b", i), std::string(50, 'y')));
    }
    const Model before = Contents(*db);
    fs.FailAfter(kMutations, fail_at, EIO, /*sticky=*/false);
    absl::StatusOr<CheckpointInfo> info = db->Checkpoint();
    fs.ClearFailures();
    EXPECT_EQ(Contents(*db), before);
    ASSERT_OK_AND_ASSIGN(const Stats stats, db->GetStats());
    const std::string newer = JoinPath(kDir, CheckpointFileName(200));
    if (info.ok()) {
      EXPECT_EQ(stats.last_checkpoint, newer);
      EXPECT_EQ(stats.checkpoints, 2u);
      break;
    }
    if (stats.checkpoint_keys == 200) {  // the new checkpoint is in place
      ++after_swap;
      EXPECT_EQ(stats.last_checkpoint, newer);
      EXPECT_EQ(stats.checkpoints, 2u);
      EXPECT_EQ(stats.wal_bytes_since_checkpoint, 0u);
    } else {
      EXPECT_EQ(stats.checkpoint_keys, 100u);
      EXPECT_EQ(stats.last_checkpoint, JoinPath(kDir, CheckpointFileName(100)));
      EXPECT_EQ(stats.checkpoints, 1u);
      EXPECT_GT(stats.wal_bytes_since_checkpoint, 0u);
    }
    // The next checkpoint finishes the job: only the newest file is left;
    // unless the failure was the WAL's, which stays read-only until reopened
    // (the DB keeps it as its write error).
    absl::StatusOr<CheckpointInfo> again = db->Checkpoint();
    if (!again.ok()) {
      EXPECT_THAT(again, StatusIs(absl::StatusCode::kFailedPrecondition,
                                  HasSubstr("a WAL write failed")));
      continue;
    }
    ASSERT_OK_AND_ASSIGN(std::vector<std::string> files, fs.GetChildren(kDir));
    std::vector<std::string> checkpoints;
    for (const std::string& f : files) {
      if (absl::StartsWith(f, kCheckpointPrefix)) checkpoints.push_back(f);
    }
    EXPECT_THAT(checkpoints, ElementsAre(CheckpointFileName(200)));
    EXPECT_EQ(Contents(*db), before);
  }
  EXPECT_GE(after_swap, 2);  // the truncation and the removal both failed
}

TEST_F(DbTest, CorruptNewestCheckpointFallsBackToOlderPlusWal) {
  std::vector<Model> models;
  {
    auto db = OpenOrDie(MakeOptions());
    models = WriteRecords(*db, 30);
    ASSERT_OK(db->Close());
  }
  // Two checkpoints the WAL still covers, as a crash between writing the
  // newer one and truncating the WAL leaves them.
  ASSERT_OK(WriteCheckpoint(&fs_, kDir, 10, TableOf(models[10])).status());
  ASSERT_OK(WriteCheckpoint(&fs_, kDir, 20, TableOf(models[20])).status());
  CorruptFile(&fs_, JoinPath(kDir, CheckpointFileName(20)));
  auto db = OpenOrDie(MakeOptions());
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(Contents(*db), models[30]);
  const RecoveryReport& r = db->recovery_report();
  EXPECT_EQ(r.checkpoint_path, JoinPath(kDir, CheckpointFileName(10)));
  EXPECT_EQ(r.checkpoint_offset, 10u);
  EXPECT_EQ(r.checkpoint_keys, 10u);
  EXPECT_EQ(r.records_replayed, 20u);
  ASSERT_EQ(r.checkpoints_rejected.size(), 1u);
  // The chunk holds keys the WAL's later batches overwrite: counting the
  // keys after replay reads it and finds the damage.
  EXPECT_EQ(r.checkpoints_rejected[0],
            "checkpoint /db/CHECKPOINT-00000000000000000020 is damaged: chunk "
            "0: record at position 28: checksum mismatch at position 28");
  // The next checkpoint replaces both.
  ASSERT_OK(db->Checkpoint().status());
  EXPECT_THAT(CheckpointNames(), ElementsAre(CheckpointFileName(30)));
}

TEST_F(DbTest, CorruptNewestCheckpointIsRejectedAtOpenWhenVerifying) {
  std::vector<Model> models;
  {
    auto db = OpenOrDie(MakeOptions());
    models = WriteRecords(*db, 20);
    ASSERT_OK(db->Close());
  }
  ASSERT_OK(WriteCheckpoint(&fs_, kDir, 10, TableOf(models[10])).status());
  ASSERT_OK(WriteCheckpoint(&fs_, kDir, 20, TableOf(models[20])).status());
  CorruptFile(&fs_, JoinPath(kDir, CheckpointFileName(20)));
  const std::string damage =
      "checkpoint /db/CHECKPOINT-00000000000000000020 is damaged: chunk 0: "
      "record at position 28: checksum mismatch at position 28";
  {
    // No WAL batch follows offset 20, so a lazy open reads no chunk: it opens
    // on the damaged checkpoint, and reads of it fail.
    auto db = OpenOrDie(MakeOptions());
    ASSERT_NE(db, nullptr);
    EXPECT_EQ(db->recovery_report().checkpoint_offset, 20u);
    EXPECT_THAT(db->recovery_report().checkpoints_rejected, ElementsAre());
    EXPECT_THAT(db->Get("k3"), StatusIs(absl::StatusCode::kDataLoss, damage));
    ASSERT_OK(db->Close());
  }
  Options options = MakeOptions();
  options.verify_checkpoint_on_open = true;
  auto db = OpenOrDie(options);
  ASSERT_NE(db, nullptr);
  const RecoveryReport& r = db->recovery_report();
  EXPECT_EQ(r.checkpoint_offset, 10u);
  EXPECT_EQ(r.records_replayed, 10u);
  EXPECT_EQ(r.keys, 20u);
  EXPECT_THAT(r.checkpoints_rejected, ElementsAre(damage));
  EXPECT_EQ(Contents(*db), models[20]);
}

TEST_F(DbTest, CorruptOnlyCheckpointIsDataLossOnReadOrVerifyingOpen) {
  {
    auto db = OpenOrDie(MakeOptions());
    WriteRecords(*db, 30);
    ASSERT_OK(db->Checkpoint().status());
    ASSERT_OK(db->Close());
  }
  CorruptFile(&fs_, JoinPath(kDir, CheckpointFileName(30)));
  const std::string damage =
      "checkpoint /db/CHECKPOINT-00000000000000000030 is damaged: chunk 0: "
      "record at position 28: checksum mismatch at position 28";
  {
    // Lazy open: the trailer, header and index verify; every read of the
    // damaged chunk fails, none reports a key missing.
    auto db = OpenOrDie(MakeOptions());
    ASSERT_NE(db, nullptr);
    EXPECT_EQ(db->recovery_report().keys, 30u);
    EXPECT_THAT(db->Get("k7"), StatusIs(absl::StatusCode::kDataLoss, damage));
    EXPECT_THAT(db->Get("k"), StatusIs(absl::StatusCode::kNotFound));
    EXPECT_THAT(db->Scan("", ""), StatusIs(absl::StatusCode::kDataLoss, damage));
    EXPECT_THAT(db->ScanPrefix("k2"),
                StatusIs(absl::StatusCode::kDataLoss, damage));
    // A write over a damaged key works; the checkpoint that would merge the
    // damaged chunk cannot be written, and leaves everything as it was.
    ASSERT_OK(db->Put("k7", "new"));
    EXPECT_THAT(db->Get("k7"), IsOkAndHolds("new"));
    EXPECT_THAT(db->GetStats(), StatusIs(absl::StatusCode::kDataLoss, damage));
    EXPECT_THAT(db->Checkpoint(), StatusIs(absl::StatusCode::kDataLoss, damage));
    EXPECT_THAT(db->Get("k7"), IsOkAndHolds("new"));
    EXPECT_THAT(CheckpointNames(), ElementsAre(CheckpointFileName(30)));
    ASSERT_OK(db->Close());
  }
  // The next open replays "k7" over the damaged chunk: counting reads it,
  // the only checkpoint is rejected and the WAL does not reach back to 0.
  EXPECT_THAT(
      DB::Open(kDir, MakeOptions()),
      StatusIs(absl::StatusCode::kDataLoss,
               HasSubstr("/db: records 0..29 are missing: the WAL starts at "
                         "offset 30 but no usable checkpoint; rejected: "
                         "checkpoint /db/CHECKPOINT-00000000000000000030 is "
                         "damaged")));
}

TEST_F(DbTest, OpensAStoreWithAFormatOneCheckpoint) {
  // A store from before the checkpoint index: format 1 checkpoint at 10, the
  // WAL continuing it (records 10..14), as a Checkpoint there leaves them.
  std::vector<Model> models;
  {
    auto db = OpenOrDie(MakeOptions());
    models = WriteRecords(*db, 15);
    ASSERT_OK(db->Close());
  }
  std::vector<std::pair<std::string, std::string>> pairs(models[10].begin(),
                                                         models[10].end());
  ASSERT_OK(WriteStringToFile(&fs_, testing::CheckpointV1Bytes(10, pairs),
                              JoinPath(kDir, CheckpointFileName(10)), true));
  {
    auto db = OpenOrDie(MakeOptions());
    ASSERT_NE(db, nullptr);
    const RecoveryReport& r = db->recovery_report();
    EXPECT_EQ(r.checkpoint_offset, 10u);
    EXPECT_EQ(r.checkpoint_keys, 10u);
    EXPECT_EQ(r.records_replayed, 5u);
    EXPECT_EQ(r.keys, 15u);
    EXPECT_EQ(Contents(*db), models[15]);
    ASSERT_OK(db->Delete("k3"));
    // The next checkpoint is format 2 and replaces the old one.
    ASSERT_OK(db->Checkpoint().status());
    EXPECT_THAT(CheckpointNames(), ElementsAre(CheckpointFileName(16)));
    EXPECT_THAT(ReadCheckpointVersion(&fs_, JoinPath(kDir, CheckpointFileName(16))),
                IsOkAndHolds(kCheckpointVersion));
    ASSERT_OK(db->Close());
  }
  Model want = models[15];
  want.erase("k3");
  auto db = OpenOrDie(MakeOptions());
  EXPECT_EQ(Contents(*db), want);
}

TEST_F(DbTest, MissingWalPrefixIsDataLoss) {
  {
    auto db = OpenOrDie(MakeOptions());
    for (int i = 0; i < 100; ++i) {
      ASSERT_OK(db->Put(absl::StrCat("k", i), std::string(100, 'v')));
    }
    ASSERT_GT(db->GetStats()->wal_segments, 2u);
    ASSERT_OK(db->Close());
  }
  // Remove the first segment behind the store's back.
  const std::string wal = JoinPath(kDir, kWalDirName);
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> files, fs_.GetChildren(wal));
  ASSERT_EQ(files[0], "00000000000000000000.index");
  ASSERT_EQ(files[1], "00000000000000000000.store");
  ASSERT_OK(fs_.RemoveFile(JoinPath(wal, files[0])));
  ASSERT_OK(fs_.RemoveFile(JoinPath(wal, files[1])));
  const std::string second = files[2].substr(0, 20);
  const uint64_t base = std::stoull(second);
  EXPECT_THAT(DB::Open(kDir, MakeOptions()),
              StatusIs(absl::StatusCode::kDataLoss,
                       absl::StrCat("/db: records 0..", base - 1,
                                    " are missing: the WAL starts at offset ",
                                    base, " but no usable checkpoint")));
}

TEST_F(DbTest, WalEndingBeforeCheckpointIsDataLoss) {
  {
    auto db = OpenOrDie(MakeOptions());
    WriteRecords(*db, 5);
    ASSERT_OK(db->Close());
  }
  ASSERT_OK(WriteCheckpoint(&fs_, kDir, 9, MemTable()).status());
  EXPECT_THAT(DB::Open(kDir, MakeOptions()),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("/db: records 5..8 are missing: the WAL ends "
                                 "before offset 5 but checkpoint "
                                 "/db/CHECKPOINT-00000000000000000009 covers "
                                 "offsets below 9")));
}

TEST_F(DbTest, WalRecordThatIsNotABatch) {
  ASSERT_OK(fs_.CreateDir(kDir));
  {
    wal::LogOptions log_options;
    log_options.fs = &fs_;
    ASSERT_OK_AND_ASSIGN(auto log,
                         wal::Log::Open(JoinPath(kDir, kWalDirName), log_options));
    WriteBatch good;
    good.Put("a", "1");
    ASSERT_OK(log->Append(good.Contents()).status());
    ASSERT_OK(log->Append("not a batch").status());
    good.Clear();
    good.Put("b", "2");
    ASSERT_OK(log->Append(good.Contents()).status());
    ASSERT_OK(log->Close());
  }
  EXPECT_THAT(DB::Open(kDir, MakeOptions()),
              StatusIs(absl::StatusCode::kDataLoss,
                       "/db: WAL record at offset 1 is not a valid write "
                       "batch: write batch too small: 11 bytes, the header "
                       "alone is 12"));
  Options skip = MakeOptions();
  skip.recovery_mode = wal::RecoveryMode::kSkipAnyCorruptedRecords;
  auto db = OpenOrDie(skip);
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(Contents(*db), (Model{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(db->recovery_report().records_skipped, 1u);
  EXPECT_EQ(db->recovery_report().records_replayed, 2u);
}

TEST_F(DbTest, FailedWalWriteIsSticky) {
  auto db = OpenOrDie(MakeOptions());
  ASSERT_OK(db->Put("a", "1"));
  fs_.FailAfter(kOpSync, 0, EIO);
  EXPECT_THAT(db->Put("b", "2"), StatusIs(absl::StatusCode::kUnknown));
  EXPECT_THAT(db->Put("c", "3"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(db->Get("a"), ::testing::Eq(absl::StatusOr<std::string>("1")));
  EXPECT_THAT(db->Get("b"), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace blockwal::db
