// DB::Open with Options::read_only: it creates nothing, changes nothing, takes
// no lock, sees the store as it was and refuses writes.
#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "blockwal/db/db.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/scratch_dir.h"
#include "tests/status_matchers.h"
#include "blockwal/util/fault_injection_file_system.h"
#include "blockwal/util/mem_file_system.h"
#include "blockwal/wal/segment.h"

namespace blockwal::db {
namespace {

using ::blockwal::testing::IsOkAndHolds;
using ::blockwal::testing::ScratchDir;
using ::blockwal::testing::StatusIs;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr char kDir[] = "/db";
// Every operation FaultInjectionFileSystem can fail that changes something.
constexpr uint32_t kMutations = kOpAppend | kOpFlush | kOpSync | kOpTruncate |
                                kOpCreate | kOpRename | kOpRemove |
                                kOpSyncDir | kOpMapSync;

class DbReadOnlyTest : public ::testing::Test {
 protected:
  Options Writable() {
    Options options;
    options.fs = &fs_;
    options.wal_segment_bytes = 4096;
    return options;
  }
  Options ReadOnly() {
    Options options = Writable();
    options.read_only = true;
    options.warning_sink = [this](const std::string& w) {
      warnings_.push_back(w);
    };
    return options;
  }
  // Opens read-only with every mutation of the file system failing, so an
  // open that tried to change anything would fail; and checks none was made.
  absl::StatusOr<std::unique_ptr<DB>> OpenReadOnly() {
    fs_.ClearOps();
    fs_.FailAfter(kMutations, 0, EACCES, /*sticky=*/true);
    absl::StatusOr<std::unique_ptr<DB>> db = DB::Open(kDir, ReadOnly());
    fs_.ClearFailures();
    EXPECT_THAT(fs_.ops(), ::testing::IsEmpty());
    return db;
  }
  void Populate(int keys, bool checkpoint_half) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<DB> db, DB::Open(kDir, Writable()));
    for (int i = 0; i < keys; ++i) {
      ASSERT_OK(db->Put(absl::StrCat("k", i), absl::StrCat("v", i)));
      if (checkpoint_half && i == keys / 2) {
        ASSERT_OK(db->Checkpoint().status());
      }
    }
    ASSERT_OK(db->Close());
  }

  FaultInjectionFileSystem fs_{NewMemFileSystem()};
  std::vector<std::string> warnings_;
};

TEST_F(DbReadOnlyTest, MissingDirectoryIsNotFoundAndNothingIsCreated) {
  EXPECT_THAT(OpenReadOnly(),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("/db: no store here (the directory does not "
                                 "exist)")));
  EXPECT_THAT(fs_.FileExists(kDir), ::blockwal::testing::IsOkAndHolds(false));
}

TEST_F(DbReadOnlyTest, DirectoryWithoutAStoreIsNotFoundAndStaysAsItWas) {
  ASSERT_OK(fs_.CreateDir(kDir));
  ASSERT_OK(WriteStringToFile(&fs_, "mine", "/db/notes.txt", true));
  EXPECT_THAT(OpenReadOnly(),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("/db: no store here (no wal/ directory and no "
                                 "checkpoint)")));
  EXPECT_THAT(fs_.GetChildren(kDir), IsOkAndHolds(ElementsAre("notes.txt")));
}

TEST_F(DbReadOnlyTest, ReadsCheckpointAndWalAndRefusesWrites) {
  Populate(200, /*checkpoint_half=*/true);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<DB> db, OpenReadOnly());
  EXPECT_EQ(db->recovery_report().keys, 200u);
  EXPECT_TRUE(db->recovery_report().wal.read_only);
  EXPECT_FALSE(db->recovery_report().checkpoint_path.empty());
  EXPECT_THAT(db->Get("k0"), IsOkAndHolds("v0"));
  EXPECT_THAT(db->Get("k199"), IsOkAndHolds("v199"));
  EXPECT_THAT(db->Get("nope"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(std::vector<KeyValue> pairs, db->ScanPrefix("k19"));
  EXPECT_EQ(pairs.size(), 11u);  // k19, k190..k199

  fs_.ClearOps();
  const auto read_only = StatusIs(absl::StatusCode::kFailedPrecondition,
                                  HasSubstr("/db: store is open read-only"));
  EXPECT_THAT(db->Put("a", "b"), read_only);
  EXPECT_THAT(db->Delete("k0"), read_only);
  WriteBatch batch;
  batch.Put("a", "b");
  EXPECT_THAT(db->Write(batch), read_only);
  EXPECT_THAT(db->Checkpoint(), read_only);
  EXPECT_THAT(db->Sync(), read_only);
  ASSERT_OK(db->Close());
  EXPECT_THAT(fs_.ops(), ::testing::IsEmpty());
}

TEST_F(DbReadOnlyTest, WorksWhileAWriterHasTheStoreOpen) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<DB> writer, DB::Open(kDir, Writable()));
  ASSERT_OK(writer->Put("a", "1"));
  EXPECT_THAT(DB::Open(kDir, Writable()),
              StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<DB> reader, OpenReadOnly());
  EXPECT_THAT(reader->Get("a"), IsOkAndHolds("1"));
  // The writer goes on; the reader keeps what it opened.
  ASSERT_OK(writer->Put("b", "2"));
  ASSERT_OK(writer->Checkpoint().status());
  EXPECT_THAT(reader->Get("b"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<DB> later, OpenReadOnly());
  EXPECT_THAT(later->Get("b"), IsOkAndHolds("2"));
  ASSERT_OK(writer->Close());
}

// A newest WAL segment that is all garbage: a read leaves it alone and says
// so; the writable open that follows cuts it and says so too.
TEST_F(DbReadOnlyTest, GarbageWalTailIsReportedAndLeftForTheWriter) {
  Populate(50, /*checkpoint_half=*/false);
  std::vector<std::string> names = fs_.GetChildren("/db/wal").value();
  std::string last;
  for (const std::string& name : names) {
    uint64_t base;
    if (wal::ParseSegmentFileName(name, wal::kStoreSuffix, &base)) {
      last = JoinPath("/db/wal", name);
    }
  }
  ASSERT_FALSE(last.empty());
  const uint64_t size = fs_.GetFileSize(last).value();
  {
    ASSERT_OK_AND_ASSIGN(auto file, fs_.NewAppendableFile(last));
    ASSERT_OK(file->Append(std::string(100 * 1024, '\xa7')));
    ASSERT_OK(file->Close());
  }
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<DB> db, OpenReadOnly());
  EXPECT_THAT(db->Get("k49"), IsOkAndHolds("v49"));
  EXPECT_EQ(db->recovery_report().torn_bytes_cut, 100u * 1024);
  EXPECT_THAT(warnings_, Contains(HasSubstr(absl::StrCat(
                             last, ": 102400 bytes after the last valid record "
                                   "at position ", size, " left out (a write in progress"))));
  ASSERT_OK(db->Close());
  EXPECT_EQ(fs_.GetFileSize(last).value(), size + 100 * 1024);

  Options writable = Writable();
  std::vector<std::string> cuts;
  writable.warning_sink = [&](const std::string& w) { cuts.push_back(w); };
  ASSERT_OK_AND_ASSIGN(db, DB::Open(kDir, writable));
  EXPECT_EQ(db->recovery_report().torn_bytes_cut, 100u * 1024);
  EXPECT_THAT(cuts, Contains(absl::StrCat(
                        last, ": cut 102400 bytes after the last valid record "
                              "at position ", size)));
  EXPECT_EQ(fs_.GetFileSize(last).value(), size);
}

// Read-only opens while a writer puts keys in order and checkpoints: every
// open sees a prefix of the puts (k0..k<n-1> for some n, each exact), never a
// gap, whatever checkpoint or WAL segment the writer removed meanwhile.
TEST(DbReadOnlyConcurrencyTest, EveryOpenSeesAPrefixOfTheWrites) {
  const ScratchDir scratch("db_read_only_prefix");
  const std::string dir = (scratch.path() / "db").string();
  Options options;
  options.wal_segment_bytes = 4096;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<DB> writer, DB::Open(dir, options));
  constexpr int kPuts = 1500;
  std::atomic<bool> done{false};
  std::thread puts([&] {
    for (int i = 0; i < kPuts; ++i) {
      ASSERT_OK(writer->Put(absl::StrFormat("k%05d", i), absl::StrCat("v", i)));
      if (i % 250 == 249) {
        ASSERT_OK(writer->Checkpoint().status());
      }
    }
    done.store(true);
  });
  Options read_only = options;
  read_only.read_only = true;
  int opens = 0;
  size_t largest = 0;
  while (!done.load() || opens < 3) {
    absl::StatusOr<std::unique_ptr<DB>> reader = DB::Open(dir, read_only);
    ASSERT_OK(reader);
    ASSERT_OK_AND_ASSIGN(std::vector<KeyValue> pairs, (*reader)->Scan("", ""));
    for (size_t i = 0; i < pairs.size(); ++i) {
      ASSERT_EQ(pairs[i].first, absl::StrFormat("k%05d", i));
      ASSERT_EQ(pairs[i].second, absl::StrCat("v", i));
    }
    largest = std::max(largest, pairs.size());
    ++opens;
  }
  puts.join();
  std::printf("read-only opens during %d puts: %d, largest prefix seen %zu\n",
              kPuts, opens, largest);
  ASSERT_OK(writer->Close());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<DB> last, DB::Open(dir, read_only));
  EXPECT_EQ(last->recovery_report().keys, static_cast<uint64_t>(kPuts));
  EXPECT_GE(opens, 3);
}

}  // namespace
}  // namespace blockwal::db
