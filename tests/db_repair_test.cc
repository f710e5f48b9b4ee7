// db::RepairStore (`kv repair`): damage to a store's WAL or checkpoint is
// repaired in place; every pair that survives is exact, every pair lost is
// in the report, and the store then opens in the default mode.
#include "blockwal/db/repair.h"

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "blockwal/db/checkpoint.h"
#include "blockwal/db/db.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "blockwal/util/mem_file_system.h"
#include "blockwal/wal/segment.h"

namespace blockwal::db {
namespace {

using ::blockwal::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kDir[] = "/kv";
using Model = std::map<std::string, std::string>;

class DbRepairTest : public ::testing::Test {
 protected:
  DbRepairTest() : fs_(NewMemFileSystem()) {}

  Options StoreOptions(bool sync) {
    Options options;
    options.fs = fs_.get();
    options.sync = sync;
    options.wal_segment_bytes = 8 << 10;  // several WAL segments
    return options;
  }

  // Keys "c<i>" go into a checkpoint, then WAL record o (offsets from the
  // checkpoint on) writes key "w<o>": a lost WAL record names its key.
  void Populate(int checkpoint_keys, int wal_records, bool sync) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<DB> db,
                         DB::Open(kDir, StoreOptions(sync)));
    for (int i = 0; i < checkpoint_keys; ++i) {
      const std::string key = absl::StrFormat("c%05d", i);
      const std::string value = absl::StrCat("checkpointed ", i, "-",
                                             std::string(i % 90, 'v'));
      ASSERT_OK(db->Put(key, value));
      model_[key] = value;
    }
    ASSERT_OK_AND_ASSIGN(CheckpointInfo info, db->Checkpoint());
    checkpoint_ = info.path;
    for (int i = 0; i < wal_records; ++i) {
      const uint64_t offset = info.wal_offset + i;
      const std::string key = absl::StrCat("w", offset);
      const std::string value = absl::StrCat("logged ", offset, "-",
                                             std::string(i % 70, 'x'));
      ASSERT_OK(db->Put(key, value));
      model_[key] = value;
    }
    ASSERT_OK(db->Close());
  }

  std::vector<std::string> WalStores() {
    std::vector<std::string> stores;
    const std::vector<std::string> names = fs_->GetChildren("/kv/wal").value();
    for (const std::string& name : names) {
      uint64_t base;
      if (wal::ParseSegmentFileName(name, wal::kStoreSuffix, &base)) {
        stores.push_back(JoinPath("/kv/wal", name));
      }
    }
    return stores;
  }

  void Damage(const std::string& path, uint64_t position, uint64_t bytes) {
    std::string data = ReadFileToString(fs_.get(), path).value();
    ASSERT_LT(position + bytes, data.size());
    for (uint64_t i = position; i < position + bytes; ++i) data[i] ^= 0x5c;
    ASSERT_OK(WriteStringToFile(fs_.get(), data, path, true));
  }

  Model Contents() {
    Options options = StoreOptions(true);
    absl::StatusOr<std::unique_ptr<DB>> db = DB::Open(kDir, options);
    EXPECT_OK(db);
    Model out;
    if (!db.ok()) return out;
    absl::StatusOr<std::vector<KeyValue>> pairs = (*db)->Scan("", "");
    EXPECT_OK(pairs);
    if (pairs.ok()) {
      for (auto& [k, v] : *pairs) out.emplace(k, v);
    }
    return out;
  }

  // Every model pair is in the repaired store exactly, or the report lists
  // it as lost; nothing the report lists survived; nothing else is there.
  void ExpectExactOrReported(const RepairReport& report) {
    const Model after = Contents();
    auto reported = [&](const std::string& key) {
      for (const LostCheckpointRange& r : report.checkpoint_damage) {
        if ((r.after_key.empty() || key > r.after_key) &&
            (r.before_key.empty() || key < r.before_key) &&
            key[0] == 'c') {
          return true;
        }
      }
      for (const LostRecord& r : report.records_lost) {
        if (key[0] != 'w') continue;
        const uint64_t o = std::stoull(key.substr(1));
        if (o >= r.offset && o <= r.last_offset) return true;
      }
      return false;
    };
    size_t lost = 0;
    for (const auto& [key, value] : model_) {
      auto it = after.find(key);
      if (it == after.end()) {
        EXPECT_TRUE(reported(key)) << key << " lost but not reported";
        ++lost;
      } else {
        EXPECT_EQ(it->second, value) << key;
        EXPECT_FALSE(reported(key)) << key << " reported lost but present";
      }
    }
    for (const auto& [key, value] : after) {
      EXPECT_EQ(model_.count(key), 1u) << "unexpected key " << key;
    }
    EXPECT_EQ(report.keys, after.size());
    EXPECT_EQ(after.size() + lost, model_.size());
  }

  std::unique_ptr<FileSystem> fs_;
  Model model_;
  std::string checkpoint_;
};

TEST_F(DbRepairTest, NoStoreIsNotFoundAndNothingIsCreated) {
  RepairOptions options;
  options.fs = fs_.get();
  EXPECT_THAT(RepairStore(kDir, options),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no store here")));
  EXPECT_THAT(fs_->FileExists(kDir), ::blockwal::testing::IsOkAndHolds(false));
  EXPECT_THAT(fs_->GetChildren("/"), ::blockwal::testing::IsOkAndHolds(::testing::IsEmpty()));
}

TEST_F(DbRepairTest, StoreInUseIsUnavailable) {
  Populate(10, 10, true);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<DB> db,
                       DB::Open(kDir, StoreOptions(true)));
  RepairOptions options;
  options.fs = fs_.get();
  EXPECT_THAT(RepairStore(kDir, options),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("in use")));
}

TEST_F(DbRepairTest, CleanStoreLosesNothingAndIsBackedUpBeside) {
  Populate(300, 200, true);
  RepairOptions options;
  options.fs = fs_.get();
  ASSERT_OK_AND_ASSIGN(RepairReport report, RepairStore(kDir, options));
  EXPECT_FALSE(report.lost_anything());
  EXPECT_EQ(report.checkpoint_pairs_kept, 300u);
  EXPECT_EQ(report.checkpoint_pairs_expected, 300u);
  EXPECT_EQ(report.records_replayed, 200u);
  EXPECT_EQ(report.keys, 500u);
  EXPECT_EQ(report.next_offset, 500u);
  EXPECT_THAT(report.backup_dir, ::testing::StartsWith("/kv.repair-backup-"));
  EXPECT_THAT(fs_->FileExists(JoinPath(report.backup_dir, "wal")),
              ::blockwal::testing::IsOkAndHolds(true));
  EXPECT_THAT(report.ToString(), HasSubstr("lost: nothing\n"));
  ExpectExactOrReported(report);
}

// The case: bytes overwritten at position 200 of the active WAL
// store, every write synced. Point-in-time refuses (synced writes follow);
// force drops exactly the damaged records.
TEST_F(DbRepairTest, DamageBeforeSyncedWritesNeedsForce) {
  Populate(50, 300, /*sync=*/true);
  const std::vector<std::string> stores = WalStores();
  Damage(stores.back(), 200, 4);
  EXPECT_THAT(DB::Open(kDir, StoreOptions(true)),
              StatusIs(absl::StatusCode::kDataLoss));
  RepairOptions options;
  options.fs = fs_.get();
  EXPECT_THAT(RepairStore(kDir, options),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("nothing was changed ('repair --force' drops "
                                 "the damaged records instead); backup: ")));
  options.force = true;
  ASSERT_OK_AND_ASSIGN(RepairReport report, RepairStore(kDir, options));
  ASSERT_EQ(report.records_lost.size(), 1u);
  EXPECT_FALSE(report.records_lost[0].keys_known);
  ASSERT_FALSE(report.wal_damage.empty());
  EXPECT_EQ(report.wal_damage[0].file, stores.back());
  EXPECT_TRUE(report.checkpoint_damage.empty());
  ExpectExactOrReported(report);
  // It opens in the default mode now, and takes writes.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<DB> db,
                       DB::Open(kDir, StoreOptions(true)));
  ASSERT_OK(db->Put("after", "repair"));
}

// Unsynced writes after damage at the end of the WAL, as a crash leaves them
// (the index of the active segment lost, so recovery reads its store):
// point-in-time cuts them, and names the keys of the readable ones.
TEST_F(DbRepairTest, PointInTimeCutNamesTheKeysItDrops) {
  Populate(20, 60, /*sync=*/false);
  const std::vector<std::string> stores = WalStores();
  const uint64_t size = fs_->GetFileSize(stores.back()).value();
  Damage(stores.back(), size / 2, 2);
  const std::string& store = stores.back();
  ASSERT_OK(fs_->RemoveFile(store.substr(0, store.size() - 6) + ".index"));
  RepairOptions options;
  options.fs = fs_.get();
  ASSERT_OK_AND_ASSIGN(RepairReport report, RepairStore(kDir, options));
  ASSERT_GE(report.records_lost.size(), 1u) << report.ToString();
  // The damaged tail, from the first record it held on; records still
  // readable after it (none here: the damage drops the rest of its block)
  // would follow with their keys.
  EXPECT_EQ(report.records_lost.front().last_offset, kOpenEnded);
  EXPECT_FALSE(report.records_lost.front().keys_known);
  for (size_t i = 1; i < report.records_lost.size(); ++i) {
    const LostRecord& r = report.records_lost[i];
    EXPECT_TRUE(r.keys_known);
    EXPECT_THAT(r.keys, ::testing::ElementsAre(absl::StrCat("w", r.offset)));
  }
  EXPECT_GT(report.wal_tail_bytes_dropped, 0u);
  EXPECT_THAT(report.ToString(),
              HasSubstr(absl::StrCat(
                  "lost: records from ", report.records_lost[0].offset,
                  " on (keys unknown): in the ", report.wal_tail_bytes_dropped,
                  " bytes of the damaged tail left out\n")));
  ExpectExactOrReported(report);
}

TEST_F(DbRepairTest, DamagedCheckpointChunkLosesOnlyItsKeyRange) {
  Populate(3000, 20, true);
  const uint64_t size = fs_->GetFileSize(checkpoint_).value();
  Damage(checkpoint_, size / 3, 1);
  RepairOptions options;
  options.fs = fs_.get();
  ASSERT_OK_AND_ASSIGN(RepairReport report, RepairStore(kDir, options));
  ASSERT_EQ(report.checkpoint_damage.size(), 1u);
  const LostCheckpointRange& lost = report.checkpoint_damage[0];
  EXPECT_EQ(lost.file, checkpoint_);
  EXPECT_FALSE(lost.after_key.empty());
  EXPECT_FALSE(lost.before_key.empty());
  EXPECT_LT(report.checkpoint_pairs_kept, 3000u);
  EXPECT_EQ(report.checkpoint_pairs_expected, 3000u);
  EXPECT_TRUE(report.records_lost.empty());
  EXPECT_EQ(report.records_replayed, 20u);
  ExpectExactOrReported(report);
}

// A newest checkpoint that does not verify while the WAL still holds every
// record from offset 0 (a crash before the checkpoint removed the WAL it
// covers): repair starts from the WAL and loses nothing.
TEST_F(DbRepairTest, DamagedCheckpointTheWalStillCoversLosesNothing) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<DB> db, DB::Open(kDir, StoreOptions(true)));
  for (int i = 0; i < 100; ++i) {
    const std::string key = absl::StrCat("w", i);
    ASSERT_OK(db->Put(key, absl::StrCat("v", i)));
    model_[key] = absl::StrCat("v", i);
  }
  Model table;
  ASSERT_OK(db->Close());
  // A checkpoint at 100 whose header is damaged; the WAL is all there.
  ASSERT_OK(WriteStringToFile(fs_.get(), std::string(400, '\x11'),
                              JoinPath(kDir, CheckpointFileName(100)), true));
  RepairOptions options;
  options.fs = fs_.get();
  ASSERT_OK_AND_ASSIGN(RepairReport report, RepairStore(kDir, options));
  EXPECT_FALSE(report.lost_anything()) << report.ToString();
  EXPECT_EQ(report.checkpoint_read, "");
  ASSERT_EQ(report.checkpoints_passed_over.size(), 1u);
  EXPECT_THAT(report.checkpoints_passed_over[0],
              HasSubstr(CheckpointFileName(100)));
  EXPECT_EQ(report.records_replayed, 100u);
  EXPECT_EQ(report.keys, 100u);
  ExpectExactOrReported(report);
}

// A WAL segment gone: recovery cannot chain the offsets, so without --force
// nothing changes; --force keeps every record the other segments hold and
// reports the missing offsets as one range.
TEST_F(DbRepairTest, MissingWalSegmentIsARangeLostUnderForce) {
  Populate(10, 600, /*sync=*/true);
  const std::vector<std::string> stores = WalStores();
  ASSERT_GE(stores.size(), 4u);
  const std::string gone = stores[1];
  ASSERT_OK(fs_->RemoveFile(gone));
  ASSERT_OK(fs_->RemoveFile(gone.substr(0, gone.size() - 6) + ".index"));
  RepairOptions options;
  options.fs = fs_.get();
  EXPECT_THAT(RepairStore(kDir, options),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("'repair --force' drops")));
  options.force = true;
  absl::StatusOr<RepairReport> report = RepairStore(kDir, options);
  ASSERT_OK(report);
  EXPECT_THAT(report->ToString(), ::testing::Not(HasSubstr("--force")));
  ASSERT_EQ(report->records_lost.size(), 1u) << report->ToString();
  const uint64_t first = std::stoull(gone.substr(gone.size() - 26, 20));
  const uint64_t next = std::stoull(stores[2].substr(stores[2].size() - 26, 20));
  EXPECT_EQ(report->records_lost[0].offset, first);
  EXPECT_EQ(report->records_lost[0].last_offset, next - 1);
  EXPECT_EQ(report->records_replayed, 600u - (next - first));
  ExpectExactOrReported(*report);
}

// Damage to a checkpoint's index (after its last chunk) loses no pair, and
// the report says so rather than listing a loss.
TEST_F(DbRepairTest, DamagedCheckpointIndexLosesNoPair) {
  Populate(3000, 10, true);
  const uint64_t size = fs_->GetFileSize(checkpoint_).value();
  Damage(checkpoint_, size - 100, 1);  // in the index, before the trailer
  RepairOptions options;
  options.fs = fs_.get();
  ASSERT_OK_AND_ASSIGN(RepairReport report, RepairStore(kDir, options));
  EXPECT_TRUE(report.checkpoint_damage.empty()) << report.ToString();
  EXPECT_FALSE(report.checkpoint_other_damage.empty());
  EXPECT_EQ(report.checkpoint_pairs_kept, 3000u);
  EXPECT_FALSE(report.lost_anything());
  ExpectExactOrReported(report);
}

// Every file of the store, for before/after comparisons.
std::map<std::string, std::string> Files(FileSystem* fs, const std::string& dir) {
  std::map<std::string, std::string> files;
  const std::vector<std::string> names = fs->GetChildren(dir).value();
  for (const std::string& name : names) {
    const std::string path = JoinPath(dir, name);
    absl::StatusOr<std::string> data = ReadFileToString(fs, path);
    if (data.ok()) {
      files[path] = *data;
    } else {
      for (auto& [p, d] : Files(fs, path)) files[p] = d;
    }
  }
  return files;
}

// Seeded damage of every kind (a bit flip, a zeroed range, a cut) to every
// kind of file of a store (WAL stores sealed and active, their indexes, an
// active store with its index removed too, the checkpoint): `kv repair`
// either repairs, or refuses with nothing changed, and then `--force`
// repairs; the store opens and reads, every pair exact or reported lost, and
// damage to one file never costs pairs of another.
TEST_F(DbRepairTest, SeededDamageSweep) {
  int repaired = 0, forced = 0;
  for (int seed = 1; seed <= 36; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    fs_ = NewMemFileSystem();
    model_.clear();
    Populate(800, 400, /*sync=*/seed % 2 == 0);
    std::mt19937 rng(seed);
    const std::vector<std::string> stores = WalStores();
    std::vector<std::string> files = stores;
    for (const std::string& store : stores) {
      files.push_back(store.substr(0, store.size() - 6) + ".index");
    }
    files.push_back(checkpoint_);
    const std::string target = files[rng() % files.size()];
    const uint64_t size = fs_->GetFileSize(target).value();
    if (size < 80) continue;
    const uint64_t position = rng() % (size - 64);
    switch ((seed / 2) % 3) {
      case 0:  // one bit flipped
        Damage(target, position, 1);
        break;
      case 1: {  // a zeroed range
        std::string data = ReadFileToString(fs_.get(), target).value();
        std::fill(data.begin() + position, data.begin() + position + 48, '\0');
        ASSERT_OK(WriteStringToFile(fs_.get(), data, target, true));
        break;
      }
      case 2:  // cut short
        ASSERT_OK(fs_->TruncateFile(target, position));
        break;
    }
    if (seed % 5 == 0 && target == stores.back()) {
      ASSERT_OK(fs_->RemoveFile(target.substr(0, target.size() - 6) + ".index"));
    }
    RepairOptions options;
    options.fs = fs_.get();
    const auto before = Files(fs_.get(), kDir);
    absl::StatusOr<RepairReport> report = RepairStore(kDir, options);
    if (!report.ok()) {
      EXPECT_THAT(report, StatusIs(absl::StatusCode::kDataLoss,
                                   HasSubstr("nothing was changed")));
      EXPECT_EQ(Files(fs_.get(), kDir), before);
      options.force = true;
      report = RepairStore(kDir, options);
      ++forced;
    }
    ASSERT_OK(report);
    ++repaired;
    const bool in_checkpoint = target == checkpoint_;
    if (in_checkpoint) {
      EXPECT_TRUE(report->records_lost.empty());
    } else {
      EXPECT_TRUE(report->checkpoint_damage.empty());
    }
    ExpectExactOrReported(*report);
  }
  std::printf("kv repair sweep: %d damaged stores repaired, %d needed --force\n",
              repaired, forced);
  EXPECT_GE(repaired, 30);
}

}  // namespace
}  // namespace blockwal::db
