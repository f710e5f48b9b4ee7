// BackUpDirectory (util/backup.h) on the in-memory and the POSIX file
// systems, and on the fault-injection one for durability.
#include "blockwal/util/backup.h"

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/scratch_dir.h"
#include "tests/status_matchers.h"
#include "blockwal/util/fault_injection_file_system.h"
#include "blockwal/util/file_system.h"
#include "blockwal/util/mem_file_system.h"

namespace blockwal {
namespace {

using ::blockwal::testing::StatusIs;

enum class FsKind { kMem, kPosix };

// Path relative to the directory -> contents; directories end in '/'.
using Tree = std::map<std::string, std::string>;

// The tree under `dir`, read through `fs`.
Tree ReadTree(FileSystem* fs, const std::string& dir,
              const std::string& rel = "") {
  Tree tree;
  const std::string here = rel.empty() ? dir : JoinPath(dir, rel);
  absl::StatusOr<std::vector<std::string>> names = fs->GetChildren(here);
  EXPECT_OK(names);
  if (!names.ok()) return tree;
  for (const std::string& name : *names) {
    const std::string child = rel.empty() ? name : JoinPath(rel, name);
    if (fs->GetChildren(JoinPath(dir, child)).ok()) {
      tree[child + "/"] = "";
      tree.merge(ReadTree(fs, dir, child));
    } else {
      absl::StatusOr<std::string> data =
          ReadFileToString(fs, JoinPath(dir, child));
      EXPECT_OK(data);
      tree[child] = data.ok() ? *data : "";
    }
  }
  return tree;
}

// A store directory as the KV store lays it out: files at the top, a log
// in wal/, an empty subdirectory, an empty file.
void WriteStore(FileSystem* fs, const std::string& dir) {
  ASSERT_OK(fs->CreateDir(dir));
  ASSERT_OK(fs->CreateDir(JoinPath(dir, "wal")));
  ASSERT_OK(fs->CreateDir(JoinPath(dir, "empty")));
  ASSERT_OK(WriteStringToFile(fs, "checkpoint bytes",
                              JoinPath(dir, "CHECKPOINT-1"), false));
  ASSERT_OK(WriteStringToFile(fs, "", JoinPath(dir, "LOCK"), false));
  ASSERT_OK(WriteStringToFile(fs, std::string(3 << 20, 'x') + "end",
                              JoinPath(dir, "wal/00000000000000000000.store"),
                              false));
  ASSERT_OK(WriteStringToFile(fs, std::string(24, '\1'),
                              JoinPath(dir, "wal/00000000000000000000.index"),
                              false));
}

constexpr uint64_t kStoreBytes = 16 + (3 << 20) + 3 + 24;

class BackupTest : public ::testing::TestWithParam<FsKind> {
 protected:
  void SetUp() override {
    if (GetParam() == FsKind::kMem) {
      owned_ = NewMemFileSystem();
      root_ = "/root";
      ASSERT_OK(owned_->CreateDir(root_));
    } else {
      scratch_.emplace("backup_test");
      root_ = scratch_->str();
    }
  }
  FileSystem* fs() { return owned_ ? owned_.get() : FileSystem::Default(); }

  std::unique_ptr<FileSystem> owned_;
  std::optional<::blockwal::testing::ScratchDir> scratch_;  // kPosix's root
  std::string root_;
};

TEST_P(BackupTest, CopiesEveryFileAndSubdirectoryBesideTheDirectory) {
  const std::string dir = JoinPath(root_, "store");
  ASSERT_NO_FATAL_FAILURE(WriteStore(fs(), dir));
  const Tree before = ReadTree(fs(), dir);
  ASSERT_EQ(before.size(), 6u);  // 4 files, 2 directories

  uint64_t last_done = 0, last_total = 0, calls = 0;
  ASSERT_OK_AND_ASSIGN(
      const std::string backup,
      BackUpDirectory(fs(), dir + "/", [&](uint64_t done, uint64_t total) {
        EXPECT_GE(done, last_done);
        last_done = done;
        last_total = total;
        ++calls;
      }));
  EXPECT_THAT(backup, ::testing::MatchesRegex(
                          ".*/store\\.repair-backup-[0-9]{8}T[0-9]{6}Z"));
  EXPECT_EQ(DirName(backup), root_);
  EXPECT_EQ(ReadTree(fs(), backup), before);
  EXPECT_EQ(ReadTree(fs(), dir), before) << "nothing changes in the directory";
  EXPECT_EQ(last_done, kStoreBytes);
  EXPECT_EQ(last_total, kStoreBytes);
  // One call before copying, then one per chunk of up to 1 MiB (5 files; the
  // store takes 4 chunks; the empty LOCK none).
  EXPECT_EQ(calls, 1u + 1 + 4 + 1);

  // A second backup gets its own directory.
  ASSERT_OK_AND_ASSIGN(const std::string second,
                       BackUpDirectory(fs(), dir, nullptr));
  EXPECT_NE(second, backup);
  EXPECT_EQ(ReadTree(fs(), second), before);
}

TEST_P(BackupTest, NameIsTheUtcTimeWithACounterWhenTaken) {
  const std::string dir = JoinPath(root_, "log");
  ASSERT_OK(fs()->CreateDir(dir));
  const absl::Time t =
      absl::FromUnixSeconds(1700000000);  // 2023-11-14T22:13:20Z
  const std::string first =
      JoinPath(root_, "log.repair-backup-20231114T221320Z");
  EXPECT_EQ(BackupDirectoryName(fs(), dir, t), first);
  EXPECT_EQ(BackupDirectoryName(fs(), dir + "//", t), first);
  ASSERT_OK(fs()->CreateDir(first));
  EXPECT_EQ(BackupDirectoryName(fs(), dir, t), first + "-2");
  ASSERT_OK(fs()->CreateDir(first + "-2"));
  EXPECT_EQ(BackupDirectoryName(fs(), dir, t), first + "-3");
}

TEST_P(BackupTest, MissingDirectoryIsNotFoundAndCreatesNothing) {
  EXPECT_THAT(
      BackUpDirectory(fs(), JoinPath(root_, "nope"), nullptr),
      StatusIs(absl::StatusCode::kNotFound, ::testing::HasSubstr("nope")));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> names,
                       fs()->GetChildren(root_));
  EXPECT_TRUE(names.empty());
}

INSTANTIATE_TEST_SUITE_P(Fs, BackupTest,
                         ::testing::Values(FsKind::kMem, FsKind::kPosix),
                         [](const ::testing::TestParamInfo<FsKind>& info) {
                           return info.param == FsKind::kMem ? "Mem" : "Posix";
                         });

TEST(BackupDurabilityTest, BackupSurvivesAPowerLossRightAfterIt) {
  FaultInjectionFileSystem fs(NewMemFileSystem());
  ASSERT_OK(fs.CreateDir("/root"));
  ASSERT_NO_FATAL_FAILURE(WriteStore(&fs, "/root/store"));
  ASSERT_OK(fs.SyncDir("/root/store/wal"));
  ASSERT_OK(fs.SyncDir("/root/store"));
  ASSERT_OK(fs.SyncDir("/root"));
  fs.ResetState();  // the store as written is on disk
  const Tree before = ReadTree(&fs, "/root/store");

  ASSERT_OK_AND_ASSIGN(const std::string backup,
                       BackUpDirectory(&fs, "/root/store", nullptr));
  ASSERT_OK(fs.DropUnsyncedData());
  ASSERT_OK(fs.DeleteFilesCreatedAfterLastDirSync());
  fs.ResetState();
  EXPECT_EQ(ReadTree(&fs, backup), before);
}

TEST(BackupDurabilityTest, FailedCopyReturnsTheErrorNamingTheFile) {
  FaultInjectionFileSystem fs(NewMemFileSystem());
  ASSERT_OK(fs.CreateDir("/root"));
  ASSERT_NO_FATAL_FAILURE(WriteStore(&fs, "/root/store"));
  fs.FailAfter(kOpSync, 0, EIO);
  EXPECT_THAT(BackUpDirectory(&fs, "/root/store", nullptr),
              StatusIs(absl::StatusCode::kUnknown,
                       ::testing::HasSubstr("/root/store.repair-backup-")));
}

}  // namespace
}  // namespace blockwal
