// The KV store on a full disk (the in-memory file system with a capacity,
// and the fault-injecting one): a Put or a Checkpoint that finds no space
// fails with kResourceExhausted naming the file, nothing acknowledged is
// lost, reads keep working, and once space is free the next write resumes in
// the same process (the WAL is reopened and trimmed to what was applied).
// A failed sync is never resumed.
#include <atomic>
#include <cerrno>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "blockwal/db/db.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/full_disk_util.h"
#include "tests/status_matchers.h"
#include "blockwal/util/fault_injection_file_system.h"
#include "blockwal/util/file_system.h"
#include "blockwal/util/mem_file_system.h"

namespace blockwal::db {
namespace {

using ::blockwal::testing::FillDisk;
using ::blockwal::testing::IsOkAndHolds;
using ::blockwal::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kDir[] = "/db";
constexpr char kFiller[] = "/filler";
constexpr uint64_t kCapacity = 256 << 10;
constexpr char kNoSpace[] = ": No space left on device";

std::string ValueOf(const std::string& key) { return key + "=" + std::string(30, 'v'); }

// What the writes of a test were told: acknowledged keys and failed ones
// (every key is written once).
struct Outcomes {
  std::map<std::string, std::string> acked;
  std::set<std::string> failed;
};

class DbFullDiskTest : public ::testing::Test {
 protected:
  Options MakeOptions() {
    Options options;
    options.fs = fs_;
    options.wal_segment_bytes = 4096;
    return options;
  }
  std::unique_ptr<DB> OpenOrDie() {
    absl::StatusOr<std::unique_ptr<DB>> db = DB::Open(kDir, MakeOptions());
    EXPECT_OK(db);
    return db.ok() ? *std::move(db) : nullptr;
  }
  absl::Status Put(DB& db, const std::string& key) {
    absl::Status s = db.Put(key, ValueOf(key));
    if (s.ok()) {
      seen_.acked[key] = ValueOf(key);
    } else {
      seen_.failed.insert(key);
    }
    return s;
  }
  uint64_t WalReopens(const DB& db) {
    absl::StatusOr<Stats> stats = db.GetStats();
    EXPECT_OK(stats);
    return stats.ok() ? stats->wal_reopens : 0;
  }

  std::unique_ptr<FileSystem> mem_ = NewMemFileSystem(kCapacity);
  FileSystem* fs_ = mem_.get();
  Outcomes seen_;
};

// Every acknowledged key with its value, and no failed one.
void ExpectHoldsExactlyTheAcked(const DB& db, const Outcomes& seen) {
  ASSERT_OK_AND_ASSIGN(std::vector<KeyValue> pairs, db.Scan("", ""));
  std::map<std::string, std::string> contents(pairs.begin(), pairs.end());
  EXPECT_EQ(contents, seen.acked);
  for (const std::string& key : seen.failed) {
    EXPECT_THAT(db.Get(key), StatusIs(absl::StatusCode::kNotFound)) << key;
  }
}

TEST_F(DbFullDiskTest, PutFailsWithTheDiskFullErrorAndAPutResumesOnceThereIsSpace) {
  std::unique_ptr<DB> db = OpenOrDie();
  ASSERT_NE(db, nullptr);
  for (int i = 0; i < 10; ++i) ASSERT_OK(Put(*db, absl::StrCat("key-", i)));
  ASSERT_OK(FillDisk(fs_, kFiller));

  const auto disk_full = StatusIs(
      absl::StatusCode::kResourceExhausted,
      AllOf(HasSubstr("/db/wal/00000000000000000000.store: write at offset"),
            HasSubstr(kNoSpace)));
  EXPECT_THAT(Put(*db, "failed-0"), disk_full);
  // Reads go on; the failed write was not applied.
  EXPECT_THAT(db->Get("key-3"), IsOkAndHolds(ValueOf("key-3")));
  ExpectHoldsExactlyTheAcked(*db, seen_);
  EXPECT_THAT(db->Checkpoint(), StatusIs(absl::StatusCode::kResourceExhausted,
                                         HasSubstr("a WAL write found the disk full")));
  EXPECT_THAT(db->Sync(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                   HasSubstr(kNoSpace)));
  // Still full: the Put reopens the WAL, and its write fails the same way.
  EXPECT_THAT(Put(*db, "failed-1"), disk_full);
  EXPECT_EQ(WalReopens(*db), 1u);

  ASSERT_OK(fs_->RemoveFile(kFiller));
  ASSERT_OK(Put(*db, "key-10"));
  EXPECT_EQ(WalReopens(*db), 2u);
  ASSERT_OK_AND_ASSIGN(Stats stats, db->GetStats());
  EXPECT_EQ(stats.writes, 11u);
  EXPECT_EQ(stats.wal_next_offset, 11u);  // the failed writes took no offset
  ASSERT_OK(db->Checkpoint());
  ASSERT_OK(Put(*db, "key-11"));
  ExpectHoldsExactlyTheAcked(*db, seen_);
  ASSERT_OK(db->Close());
  db.reset();

  db = OpenOrDie();
  ASSERT_NE(db, nullptr);
  ExpectHoldsExactlyTheAcked(*db, seen_);
}

TEST_F(DbFullDiskTest, CheckpointFailsNamingItsTempFileAndTheStoreStaysWritable) {
  std::unique_ptr<DB> db = OpenOrDie();
  ASSERT_NE(db, nullptr);
  for (int i = 0; i < 10; ++i) ASSERT_OK(Put(*db, absl::StrCat("key-", i)));
  ASSERT_OK(FillDisk(fs_, kFiller));
  const std::string temp = "/db/CHECKPOINT-00000000000000000010.tmp";
  EXPECT_THAT(db->Checkpoint(),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       absl::StrCat(temp, ": write at offset 0", kNoSpace)));
  EXPECT_THAT(fs_->FileExists(temp), ::blockwal::testing::IsOkAndHolds(
                                         false));  // removed: its space is back
  ExpectHoldsExactlyTheAcked(*db, seen_);

  ASSERT_OK(fs_->RemoveFile(kFiller));
  ASSERT_OK(Put(*db, "key-10"));
  EXPECT_EQ(WalReopens(*db), 0u);  // the WAL never failed
  ASSERT_OK_AND_ASSIGN(CheckpointInfo info, db->Checkpoint());
  EXPECT_EQ(info.keys, 11u);
  ASSERT_OK(db->Close());
  db.reset();
  db = OpenOrDie();
  ASSERT_NE(db, nullptr);
  ExpectHoldsExactlyTheAcked(*db, seen_);
}

// A write the file system reports failed may still have put its whole batch
// in the WAL (here a flush fails after the bytes went in). Resuming removes
// it: the WAL never holds a write that was reported failed and not applied.
TEST(DbFullDiskResumeTest, ResumeRemovesAFailedWriteThatReachedTheWal) {
  FaultInjectionFileSystem fs(NewMemFileSystem());
  Options options;
  options.fs = &fs;
  Outcomes seen;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<DB> db, DB::Open(kDir, options));
  for (int i = 0; i < 3; ++i) {
    const std::string key = absl::StrCat("key-", i);
    ASSERT_OK(db->Put(key, ValueOf(key)));
    seen.acked[key] = ValueOf(key);
  }
  fs.FailAfter(kOpFlush, 0, ENOSPC);
  EXPECT_THAT(db->Put("failed", ValueOf("failed")),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       absl::StrCat("/db/wal/00000000000000000000.store: injected "
                                    "flush failure", kNoSpace)));
  seen.failed.insert("failed");
  ASSERT_OK(db->Put("key-3", ValueOf("key-3")));
  seen.acked["key-3"] = ValueOf("key-3");
  ASSERT_OK_AND_ASSIGN(Stats stats, db->GetStats());
  EXPECT_EQ(stats.wal_reopens, 1u);
  EXPECT_EQ(stats.wal_next_offset, 4u);
  // The reopened WAL held the failed batch at offset 3 and cut it.
  EXPECT_THAT(fs.FileExists("/db/wal/LAST_TRUNCATION"),
              ::blockwal::testing::IsOkAndHolds(true));
  ExpectHoldsExactlyTheAcked(*db, seen);
  ASSERT_OK(db->Close());
  db.reset();
  ASSERT_OK_AND_ASSIGN(db, DB::Open(kDir, options));
  EXPECT_EQ(db->recovery_report().records_replayed, 4u);
  ExpectHoldsExactlyTheAcked(*db, seen);
}

// ENOSPC from fdatasync is a failed sync: writes stay off until a reopen.
TEST(DbFullDiskResumeTest, FailedSyncIsNeverResumed) {
  FaultInjectionFileSystem fs(NewMemFileSystem());
  Options options;
  options.fs = &fs;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<DB> db, DB::Open(kDir, options));
  ASSERT_OK(db->Put("kept", "1"));
  fs.FailAfter(kOpSync, 0, ENOSPC);
  EXPECT_THAT(db->Put("failed", "2"),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("injected sync failure")));
  fs.ClearFailures();
  const auto sticky = StatusIs(absl::StatusCode::kFailedPrecondition,
                               HasSubstr("a WAL write failed"));
  EXPECT_THAT(db->Put("later", "3"), sticky);
  EXPECT_THAT(db->Checkpoint(), sticky);
  ASSERT_OK_AND_ASSIGN(Stats stats, db->GetStats());
  EXPECT_EQ(stats.wal_reopens, 0u);
  EXPECT_THAT(db->Get("kept"), IsOkAndHolds("1"));
  EXPECT_THAT(db->Get("failed"), StatusIs(absl::StatusCode::kNotFound));
}

// Writers and a checkpointer run through a full disk: every write fails
// with the disk-full error or succeeds; once space is freed each writer goes
// on; every acknowledged key is there with its value and no failed one, in
// the same process and after a reopen.
TEST_F(DbFullDiskTest, ConcurrentWritersAndCheckpointsGoThroughAFullDisk) {
  std::unique_ptr<DB> db = OpenOrDie();
  ASSERT_NE(db, nullptr);
  ASSERT_OK(FillDisk(fs_, kFiller));
  constexpr int kWriters = 4;
  constexpr int kWritesAfterSpace = 30;
  std::atomic<bool> freed{false};
  std::atomic<int> writers_failed{0};
  std::atomic<int> writers_done{0};
  absl::Mutex mu;
  Outcomes seen;
  std::vector<absl::Status> unexpected;
  std::vector<std::thread> threads;
  for (int t = 0; t < kWriters; ++t) {
    threads.emplace_back([&, t] {
      bool failed_once = false;
      int after_space = 0;
      for (int i = 0; after_space < kWritesAfterSpace; ++i) {
        const bool space = freed.load();
        const std::string key = absl::StrCat("w", t, "-", i);
        const absl::Status s = db->Put(key, ValueOf(key));
        absl::MutexLock l(&mu);
        if (s.ok()) {
          seen.acked[key] = ValueOf(key);
          if (space) ++after_space;
        } else {
          seen.failed.insert(key);
          if (s.code() != absl::StatusCode::kResourceExhausted) unexpected.push_back(s);
          if (!failed_once) ++writers_failed;
          failed_once = true;
        }
      }
      ++writers_done;
    });
  }
  threads.emplace_back([&] {
    while (writers_done.load() < kWriters) {
      const absl::Status s = db->Checkpoint().status();
      if (!s.ok() && s.code() != absl::StatusCode::kResourceExhausted &&
          s.code() != absl::StatusCode::kFailedPrecondition) {
        absl::MutexLock l(&mu);
        unexpected.push_back(s);
      }
    }
  });
  while (writers_failed.load() < kWriters) std::this_thread::yield();
  ASSERT_OK(fs_->RemoveFile(kFiller));
  freed = true;
  for (std::thread& th : threads) th.join();

  EXPECT_TRUE(unexpected.empty()) << unexpected.front();
  EXPECT_GE(seen.failed.size(), static_cast<size_t>(kWriters));
  EXPECT_GE(seen.acked.size(), static_cast<size_t>(kWriters * kWritesAfterSpace));
  // Writes go on after the last failure.
  ASSERT_OK(db->Put("final", ValueOf("final")));
  seen.acked["final"] = ValueOf("final");
  ExpectHoldsExactlyTheAcked(*db, seen);
  ASSERT_OK(db->Close());
  db.reset();
  db = OpenOrDie();
  ASSERT_NE(db, nullptr);
  ExpectHoldsExactlyTheAcked(*db, seen);
}

}  // namespace
}  // namespace blockwal::db
