// A full disk on a real, size-limited file system: a tmpfs mounted with
// size= on a fresh directory (needs root: CAP_SYS_ADMIN; skipped otherwise).
// The log (wal::Log, synced appends) and the KV store (db::DB: WAL,
// checkpoints, indexes) are filled until a write fails; each stops with
// kResourceExhausted naming its file, keeps every acknowledged record or key,
// reopens on the full disk cleanly (a Status, never a signal) and, once a
// filler file made alongside is removed, writes again: the DB in the same
// process and both after a reopen. walctl append --sync and kv put on the
// full disk exit 4 (tools/cli.h: an operation failed) saying the disk is
// full. Each test prints its figures
// ("full disk: ...").
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "blockwal/db/db.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/full_disk_util.h"
#include "tests/run_command.h"
#include "tests/scratch_dir.h"
#include "tests/status_matchers.h"
#include "tools/cli.h"
#include "blockwal/util/file_system.h"
#include "blockwal/wal/index.h"
#include "blockwal/wal/log.h"

namespace blockwal {
namespace {

using ::blockwal::testing::CommandResult;
using ::blockwal::testing::FillDisk;
using ::blockwal::testing::IsOkAndHolds;
using ::blockwal::testing::RunCommand;
using ::blockwal::testing::ScratchDir;
using ::blockwal::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kNoSpace[] = "No space left on device";
constexpr uint64_t kFillerBytes = 1 << 20;

std::string Value(uint64_t i) {
  return absl::StrCat("value-", i, "-", std::string(1000, 'v'));
}

// Mounts a tmpfs of `size` ("8m") on a fresh ScratchDir for each test.
class TmpfsFullDiskTest : public ::testing::Test {
 protected:
  void Mount(const char* size) {
    mount_point_.emplace("blockwal_tmpfs");
    root_ = mount_point_->str();
    ASSERT_FALSE(root_.empty());
    if (::mount("tmpfs", root_.c_str(), "tmpfs", 0,
                absl::StrCat("size=", size).c_str()) != 0) {
      const int err = errno;
      GTEST_SKIP() << "cannot mount a tmpfs on " << root_ << " ("
                   << std::strerror(err)
                   << "): the full-disk test on a real file system needs root "
                      "(CAP_SYS_ADMIN); skipped";
    }
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_ && ::umount2(root_.c_str(), 0) != 0) {
      ADD_FAILURE() << "umount " << root_ << ": " << std::strerror(errno);
      ::umount2(root_.c_str(), MNT_DETACH);
    }
  }
  std::string Path(absl::string_view name) const { return JoinPath(root_, name); }
  // A file of kFillerBytes alongside the store, to free space later.
  void MakeFiller(absl::string_view name) {
    ASSERT_OK(WriteStringToFile(fs_, std::string(kFillerBytes, 'F'), Path(name), true));
  }

  FileSystem* const fs_ = FileSystem::Default();
  // Removed when the fixture is destroyed, after TearDown unmounted it.
  std::optional<ScratchDir> mount_point_;
  std::string root_;
  bool mounted_ = false;
};

wal::LogOptions SmallLogOptions() {
  wal::LogOptions options;
  options.sync_policy = wal::SyncPolicy::kEveryAppend;
  options.max_store_bytes = 256 << 10;
  options.max_index_bytes = 4096 * wal::kIndexEntrySize;  // 48 KiB
  return options;
}

TEST_F(TmpfsFullDiskTest, LogFillsTheDiskKeepsEveryAcknowledgedRecordAndAppendsOnceFreed) {
  Mount("8m");
  if (!mounted_) return;
  const std::string dir = Path("log");
  MakeFiller("filler");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<wal::Log> log, wal::Log::Open(dir, SmallLogOptions()));
  uint64_t acked = 0;
  absl::Status failure;
  while (failure.ok()) {
    absl::StatusOr<uint64_t> offset = log->Append(Value(acked));
    if (offset.ok()) {
      ASSERT_EQ(*offset, acked);
      ++acked;
    } else {
      failure = offset.status();
    }
  }
  EXPECT_THAT(failure, StatusIs(absl::StatusCode::kResourceExhausted,
                                AllOf(HasSubstr(dir + "/"), HasSubstr(kNoSpace))));
  EXPECT_EQ(log->write_failure(), wal::WriteFailure::kNoSpace);
  const size_t segments = log->Segments().size();
  const uint64_t filled = acked;
  std::string scratch;
  for (uint64_t i = 0; i < acked; ++i) {
    ASSERT_OK_AND_ASSIGN(wal::Record r, log->Read(i, &scratch));
    ASSERT_EQ(r.value, Value(i));
  }
  log.reset();

  // On the full disk: a Status either way, never a signal.
  std::string reopen_on_full = "opened";
  absl::Status append_on_full;
  {
    absl::StatusOr<std::unique_ptr<wal::Log>> on_full = wal::Log::Open(dir, SmallLogOptions());
    if (on_full.ok()) {
      EXPECT_EQ((*on_full)->NextOffset(), acked);
      // It may fit in what the cut of the partial record gave back.
      absl::StatusOr<uint64_t> offset = (*on_full)->Append(Value(acked));
      append_on_full = offset.status();
      if (offset.ok()) {
        EXPECT_EQ(*offset, acked);
        ++acked;
      } else {
        EXPECT_THAT(append_on_full, StatusIs(absl::StatusCode::kResourceExhausted,
                                             HasSubstr(kNoSpace)));
      }
    } else {
      reopen_on_full = on_full.status().ToString();
      EXPECT_THAT(on_full, StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr(kNoSpace)));
    }
  }

  ASSERT_OK(fs_->RemoveFile(Path("filler")));
  ASSERT_OK_AND_ASSIGN(log, wal::Log::Open(dir, SmallLogOptions()));
  const uint64_t torn_cut = log->recovery_report().torn_bytes_cut;
  ASSERT_EQ(log->NextOffset(), acked);
  for (uint64_t i = 0; i < acked; ++i) {
    ASSERT_OK_AND_ASSIGN(wal::Record r, log->Read(i, &scratch));
    ASSERT_EQ(r.value, Value(i));
  }
  for (int i = 0; i < 100; ++i) {
    ASSERT_THAT(log->Append(Value(acked)), IsOkAndHolds(acked));
    ++acked;
  }
  ASSERT_OK(log->Close());
  std::cout << "full disk: log filled " << filled << " records ("
            << filled * Value(0).size() << " value bytes, " << segments
            << " segments) on an 8 MiB tmpfs, then: " << failure.message()
            << "; reopened on the full disk: " << reopen_on_full
            << (append_on_full.ok() ? ", its append fit" : ", its append: RESOURCE_EXHAUSTED")
            << "; after freeing " << kFillerBytes << " bytes all " << (acked - 100)
            << " acknowledged records read back (" << torn_cut
            << " torn bytes cut) and 100 more appended\n";
}

db::Options SmallDbOptions() {
  db::Options options;  // sync on
  options.wal_segment_bytes = 256 << 10;
  return options;
}

// Puts 1 KiB values, a Checkpoint every 100 acknowledged puts, until a Put
// fails; returns that failure. Checkpoint failures go to *checkpoint_errors.
absl::Status PutUntilFull(db::DB& db, std::map<std::string, std::string>* acked,
                          uint64_t* next_key, std::vector<absl::Status>* checkpoint_errors) {
  while (true) {
    const uint64_t i = (*next_key)++;
    const std::string key = absl::StrCat("key-", i);
    absl::Status s = db.Put(key, Value(i));
    if (!s.ok()) return s;
    (*acked)[key] = Value(i);
    if (acked->size() % 100 == 0) {
      absl::Status c = db.Checkpoint().status();
      if (!c.ok()) checkpoint_errors->push_back(c);
    }
  }
}

// Exactly the acknowledged pairs (the first difference is reported).
void ExpectHolds(const db::DB& db, const std::map<std::string, std::string>& acked) {
  ASSERT_OK_AND_ASSIGN(std::vector<db::KeyValue> pairs, db.Scan("", ""));
  ASSERT_EQ(pairs.size(), acked.size());
  auto it = acked.begin();
  for (const auto& [key, value] : pairs) {
    ASSERT_EQ(key, it->first);
    ASSERT_TRUE(value == it->second) << "value of " << key;
    ++it;
  }
}

TEST_F(TmpfsFullDiskTest, KvStoreFillsTheDiskAndPutsResumeInTheSameProcessAndAfterReopen) {
  Mount("8m");
  if (!mounted_) return;
  const std::string dir = Path("kv");
  MakeFiller("filler-1");
  MakeFiller("filler-2");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<db::DB> store, db::DB::Open(dir, SmallDbOptions()));
  std::map<std::string, std::string> acked;
  std::vector<absl::Status> checkpoint_errors;
  uint64_t next_key = 0;
  const absl::Status first = PutUntilFull(*store, &acked, &next_key, &checkpoint_errors);
  const size_t first_fill = acked.size();
  EXPECT_THAT(first, StatusIs(absl::StatusCode::kResourceExhausted,
                              AllOf(HasSubstr(dir + "/"), HasSubstr(kNoSpace))));
  for (const absl::Status& c : checkpoint_errors) {
    EXPECT_THAT(c, StatusIs(absl::StatusCode::kResourceExhausted,
                            AllOf(HasSubstr(dir + "/"), HasSubstr(kNoSpace))));
  }
  ExpectHolds(*store, acked);
  EXPECT_THAT(store->Checkpoint(), StatusIs(absl::StatusCode::kResourceExhausted));

  // Space in the same process: the next Put resumes.
  ASSERT_OK(fs_->RemoveFile(Path("filler-1")));
  const absl::Status second = PutUntilFull(*store, &acked, &next_key, &checkpoint_errors);
  const size_t second_fill = acked.size() - first_fill;
  EXPECT_GT(second_fill, 0u);
  EXPECT_THAT(second, StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr(kNoSpace)));
  ASSERT_OK_AND_ASSIGN(db::Stats stats, store->GetStats());
  const uint64_t reopens = stats.wal_reopens;
  EXPECT_GE(reopens, 1u);
  ExpectHolds(*store, acked);
  EXPECT_THAT(store->Close(), StatusIs(absl::StatusCode::kResourceExhausted));
  store.reset();

  // Reopened on the full disk: a Status either way, never a signal.
  std::string reopen_on_full = "opened";
  {
    absl::StatusOr<std::unique_ptr<db::DB>> on_full = db::DB::Open(dir, SmallDbOptions());
    if (on_full.ok()) {
      ExpectHolds(**on_full, acked);
      // It may fit in what the cut of the partial record gave back.
      const absl::Status put = (*on_full)->Put("on-full", "x");
      if (put.ok()) {
        acked["on-full"] = "x";
        reopen_on_full = "opened, a put fit";
      } else {
        EXPECT_THAT(put, StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr(kNoSpace)));
        reopen_on_full = "opened, a put failed: RESOURCE_EXHAUSTED";
      }
    } else {
      reopen_on_full = on_full.status().ToString();
      EXPECT_THAT(on_full, StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr(kNoSpace)));
    }
  }

  ASSERT_OK(fs_->RemoveFile(Path("filler-2")));
  ASSERT_OK_AND_ASSIGN(store, db::DB::Open(dir, SmallDbOptions()));
  ExpectHolds(*store, acked);
  const size_t read_back = acked.size();
  for (int i = 0; i < 100; ++i) {
    const std::string key = absl::StrCat("after-", i);
    ASSERT_OK(store->Put(key, Value(i)));
    acked[key] = Value(i);
  }
  ExpectHolds(*store, acked);
  ASSERT_OK(store->Close());
  std::cout << "full disk: kv store filled " << first_fill << " puts of "
            << Value(0).size() << "-byte values on an 8 MiB tmpfs ("
            << checkpoint_errors.size() << " checkpoints failed for space), then: "
            << first.message() << "; after freeing " << kFillerBytes
            << " bytes the same process put " << second_fill << " more (WAL reopened "
            << reopens << " times); reopened on the full disk: " << reopen_on_full
            << "; after freeing another " << kFillerBytes << " bytes all "
            << read_back << " acknowledged keys read back and 100 more put\n";
}

// The tools on the full disk exit 4, as for any failed operation (not 2, a
// usage error, never a signal), saying so, and work again once there is
// space. The default 10 MiB index needs a larger disk.
TEST_F(TmpfsFullDiskTest, ToolsExitFourSayingTheDiskIsFull) {
  Mount("32m");
  if (!mounted_) return;
  const std::string log_dir = Path("log");
  const std::string kv_dir = Path("kv");
  CommandResult r = RunCommand({WALCTL_PATH, "append", "--sync", log_dir}, "", "first\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunCommand({KV_PATH, "--dir", kv_dir, "put", "k1", "v1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_OK_AND_ASSIGN(const uint64_t filled, FillDisk(fs_, Path("filler")));

  const CommandResult walctl = RunCommand({WALCTL_PATH, "append", "--sync", log_dir}, "",
                                          std::string(4096, 'x') + "\nhi\n");
  EXPECT_EQ(walctl.exit_code, tools::kExitFailed) << walctl.err;
  EXPECT_THAT(walctl.err, HasSubstr(kNoSpace));
  const CommandResult kv = RunCommand({KV_PATH, "--dir", kv_dir, "put", "k2", std::string(4096, 'y')});
  EXPECT_EQ(kv.exit_code, tools::kExitFailed) << kv.err;
  EXPECT_THAT(kv.err, HasSubstr(kNoSpace));

  ASSERT_OK(fs_->RemoveFile(Path("filler")));
  r = RunCommand({WALCTL_PATH, "append", "--sync", log_dir}, "", "after\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = RunCommand({WALCTL_PATH, "read", log_dir, "0"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("first"));
  r = RunCommand({KV_PATH, "--dir", kv_dir, "put", "k3", "v3"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = RunCommand({KV_PATH, "--dir", kv_dir, "get", "k1"});
  EXPECT_EQ(r.out, "v1\n");
  std::cout << "full disk: on a 32 MiB tmpfs filled with " << filled
            << " bytes, walctl append --sync exited " << walctl.exit_code << " ("
            << walctl.err.substr(0, walctl.err.find('\n')) << ") and kv put exited "
            << kv.exit_code << " (" << kv.err.substr(0, kv.err.find('\n'))
            << "); both worked again once the filler was removed\n";
}

}  // namespace
}  // namespace blockwal
