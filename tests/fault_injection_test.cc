// Tests of FaultInjectionFileSystem's crash simulation, failure injection and
// recording, each behaviour on its own, with exact bytes.
#include "blockwal/util/fault_injection_file_system.h"

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "blockwal/util/mem_file_system.h"

namespace blockwal {
namespace {

using ::blockwal::testing::IsOkAndHolds;
using ::blockwal::testing::StatusIs;
using ::testing::HasSubstr;

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7) % 26);
  return s;
}

class FaultInjectionTest : public ::testing::Test {
 protected:
  FaultInjectionTest() : fs_(NewMemFileSystem()) {}

  void SetUp() override { ASSERT_OK(fs_.CreateDir(kDir)); }

  static std::string Path(const std::string& name) { return JoinPath(kDir, name); }

  std::string Contents(const std::string& name) {
    absl::StatusOr<std::string> s = ReadFileToString(&fs_, Path(name));
    EXPECT_OK(s);
    return s.ok() ? *s : "<error>";
  }

  // Writes `synced` and syncs it, then appends `unsynced` and closes.
  void WriteFile(const std::string& name, const std::string& synced,
                 const std::string& unsynced) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f,
                         fs_.NewWritableFile(Path(name)));
    ASSERT_OK(f->Append(synced));
    ASSERT_OK(f->Sync());
    ASSERT_OK(f->Append(unsynced));
    ASSERT_OK(f->Close());
  }

  static constexpr const char* kDir = "/db";
  FaultInjectionFileSystem fs_;
};

// ---- crash simulation ----

TEST_F(FaultInjectionTest, DropUnsyncedDataKeepsExactlySyncedBytes) {
  WriteFile("f", "synced|", "unsynced");
  EXPECT_EQ(Contents("f"), "synced|unsynced");
  ASSERT_OK(fs_.DropUnsyncedData());
  EXPECT_EQ(Contents("f"), "synced|");
}

TEST_F(FaultInjectionTest, DropKeepsEverySyncedGroup) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f, fs_.NewWritableFile(Path("f")));
  ASSERT_OK(f->Append("a"));
  ASSERT_OK(f->Sync());
  ASSERT_OK(f->Append("bb"));
  ASSERT_OK(f->Sync());
  ASSERT_OK(f->Truncate(2));  // "ab"
  ASSERT_OK(f->Append("Z"));
  ASSERT_OK(f->Sync());       // "abZ"
  ASSERT_OK(f->Append("lost"));
  ASSERT_OK(f->Close());
  ASSERT_OK(fs_.DropUnsyncedData());
  EXPECT_EQ(Contents("f"), "abZ");
}

TEST_F(FaultInjectionTest, NeverSyncedFileBecomesEmpty) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f, fs_.NewWritableFile(Path("f")));
  ASSERT_OK(f->Append("never synced"));
  ASSERT_OK(f->Close());
  ASSERT_OK(fs_.DropUnsyncedData());
  EXPECT_THAT(fs_.FileExists(Path("f")), IsOkAndHolds(true));
  EXPECT_EQ(Contents("f"), "");
}

TEST_F(FaultInjectionTest, FileThatExistedBeforeTrackingCountsAsSynced) {
  ASSERT_OK(WriteStringToFile(fs_.base(), "preexisting", Path("f"), false));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f, fs_.NewAppendableFile(Path("f")));
  ASSERT_OK(f->Append("+more"));
  ASSERT_OK(f->Close());
  ASSERT_OK(fs_.DropUnsyncedData());
  EXPECT_EQ(Contents("f"), "preexisting");
}

TEST_F(FaultInjectionTest, UnsyncedTruncateFileIsUndone) {
  WriteFile("f", "0123456789", "");
  ASSERT_OK(fs_.TruncateFile(Path("f"), 3));
  EXPECT_EQ(Contents("f"), "012");
  ASSERT_OK(fs_.DropUnsyncedData());
  EXPECT_EQ(Contents("f"), "0123456789");
}

TEST_F(FaultInjectionTest, ResetStateMakesCurrentContentsSynced) {
  WriteFile("f", "synced|", "unsynced");
  fs_.ResetState();
  ASSERT_OK(fs_.DropUnsyncedData());
  EXPECT_EQ(Contents("f"), "synced|unsynced");
}

// 100 synced bytes, then 2000 unsynced (2100 in all). keep_fraction f keeps
// max(100, floor512(100 + floor(f * 2000))) bytes.
TEST_F(FaultInjectionTest, TearUnsyncedDataKeepsSectorAlignedPrefix) {
  const std::string data = Pattern(2100);
  struct Case {
    double keep_fraction;
    size_t expected_size;
  };
  const Case kCases[] = {
      // 100 -> 0 -> never below the synced 100
      {.keep_fraction = 0.0, .expected_size = 100},
      // 100 + 400 = 500 -> 0 -> the synced 100
      {.keep_fraction = 0.2, .expected_size = 100},
      // 100 + 500 = 600 -> 512
      {.keep_fraction = 0.25, .expected_size = 512},
      // 100 + 1000 = 1100 -> 1024
      {.keep_fraction = 0.5, .expected_size = 1024},
      // 100 + 1800 = 1900 -> 1536
      {.keep_fraction = 0.9, .expected_size = 1536},
      // 2100 -> 2048
      {.keep_fraction = 1.0, .expected_size = 2048},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.keep_fraction);
    WriteFile("f", data.substr(0, 100), data.substr(100));
    ASSERT_OK(fs_.TearUnsyncedData(c.keep_fraction));
    EXPECT_EQ(Contents("f"), data.substr(0, c.expected_size));
  }
}

TEST_F(FaultInjectionTest, TearOfAFileThatWasNotAppendedToDropsToSynced) {
  WriteFile("f", "synced contents", "");
  // Rewritten from the start: its new bytes do not extend the synced ones.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f, fs_.NewWritableFile(Path("f")));
  ASSERT_OK(f->Append(Pattern(3000)));
  ASSERT_OK(f->Close());
  ASSERT_OK(fs_.TearUnsyncedData(1.0));
  EXPECT_EQ(Contents("f"), "synced contents");
}

TEST_F(FaultInjectionTest, TearOfNeverSyncedFileKeepsWholeSectors) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f, fs_.NewWritableFile(Path("f")));
  const std::string data = Pattern(1500);
  ASSERT_OK(f->Append(data));
  ASSERT_OK(f->Close());
  ASSERT_OK(fs_.TearUnsyncedData(0.7));  // 1050 -> 1024
  EXPECT_EQ(Contents("f"), data.substr(0, 1024));
}

TEST_F(FaultInjectionTest, MappedRegionWritesAreDroppedUnlessSynced) {
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<MappedRegion> m, fs_.MapFile(Path("idx"), 1024));
    std::memcpy(m->data(), "abc", 3);
  }
  ASSERT_OK(fs_.DropUnsyncedData());
  EXPECT_EQ(Contents("idx"), "");  // created, grown and written: none synced

  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<MappedRegion> m, fs_.MapFile(Path("idx"), 1024));
    std::memcpy(m->data(), "abc", 3);
    ASSERT_OK(m->Sync());
    std::memcpy(m->data() + 3, "def", 3);
  }
  ASSERT_OK(fs_.DropUnsyncedData());
  EXPECT_EQ(Contents("idx"), "abc" + std::string(1021, '\0'));
}

TEST_F(FaultInjectionTest, DeleteFilesCreatedAfterLastDirSync) {
  WriteFile("durable", "a", "");
  ASSERT_OK(fs_.SyncDir(kDir));
  WriteFile("not_durable", "b", "");
  ASSERT_OK(fs_.DeleteFilesCreatedAfterLastDirSync());
  EXPECT_THAT(fs_.FileExists(Path("durable")), IsOkAndHolds(true));
  EXPECT_EQ(Contents("durable"), "a");
  EXPECT_THAT(fs_.FileExists(Path("not_durable")), IsOkAndHolds(false));
}

TEST_F(FaultInjectionTest, SyncDirOfAnotherDirectoryDoesNotHelp) {
  ASSERT_OK(fs_.CreateDir(Path("sub")));
  WriteFile("sub/f", "x", "");
  ASSERT_OK(fs_.SyncDir(kDir));
  ASSERT_OK(fs_.DeleteFilesCreatedAfterLastDirSync());
  EXPECT_THAT(fs_.FileExists(Path("sub/f")), IsOkAndHolds(false));
}

TEST_F(FaultInjectionTest, RenameWithoutDirSyncIsUndone) {
  WriteFile("CURRENT", "old", "");
  ASSERT_OK(fs_.SyncDir(kDir));
  WriteFile("CURRENT.tmp", "new", "");
  ASSERT_OK(fs_.RenameFile(Path("CURRENT.tmp"), Path("CURRENT")));
  EXPECT_EQ(Contents("CURRENT"), "new");
  ASSERT_OK(fs_.DeleteFilesCreatedAfterLastDirSync());
  EXPECT_EQ(Contents("CURRENT"), "old");
  // Its name was never durable.
  EXPECT_THAT(fs_.FileExists(Path("CURRENT.tmp")), IsOkAndHolds(false));
}

TEST_F(FaultInjectionTest, RenameFollowedByDirSyncSurvives) {
  WriteFile("CURRENT", "old", "");
  ASSERT_OK(fs_.SyncDir(kDir));
  WriteFile("CURRENT.tmp", "new", "");
  ASSERT_OK(fs_.RenameFile(Path("CURRENT.tmp"), Path("CURRENT")));
  ASSERT_OK(fs_.SyncDir(kDir));
  ASSERT_OK(fs_.DeleteFilesCreatedAfterLastDirSync());
  ASSERT_OK(fs_.DropUnsyncedData());
  EXPECT_EQ(Contents("CURRENT"), "new");
  EXPECT_THAT(fs_.FileExists(Path("CURRENT.tmp")), IsOkAndHolds(false));
}

TEST_F(FaultInjectionTest, RemoveWithoutDirSyncIsUndone) {
  WriteFile("f", "synced", "+unsynced");
  ASSERT_OK(fs_.SyncDir(kDir));
  ASSERT_OK(fs_.RemoveFile(Path("f")));
  ASSERT_OK(fs_.DeleteFilesCreatedAfterLastDirSync());
  EXPECT_EQ(Contents("f"), "synced");

  ASSERT_OK(fs_.RemoveFile(Path("f")));
  ASSERT_OK(fs_.SyncDir(kDir));
  ASSERT_OK(fs_.DeleteFilesCreatedAfterLastDirSync());
  EXPECT_THAT(fs_.FileExists(Path("f")), IsOkAndHolds(false));
}

// ---- failure injection ----

TEST_F(FaultInjectionTest, AbseilMapsEioToUnknownAndEnospcToResourceExhausted) {
  // What the assertions below rely on (Abseil 20220623).
  EXPECT_EQ(absl::ErrnoToStatusCode(EIO), absl::StatusCode::kUnknown);
  EXPECT_EQ(absl::ErrnoToStatusCode(ENOSPC), absl::StatusCode::kResourceExhausted);
}

TEST_F(FaultInjectionTest, FailAfterZeroFailsTheNextSyncOnce) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f, fs_.NewWritableFile(Path("f")));
  ASSERT_OK(f->Append("x"));
  fs_.FailAfter(kOpSync, 0, EIO);
  EXPECT_THAT(f->Sync(),
              StatusIs(absl::StatusCode::kUnknown,
                       ::testing::AllOf(HasSubstr(Path("f")), HasSubstr("injected"))));
  EXPECT_OK(f->Sync());
}

TEST_F(FaultInjectionTest, FailAfterTwoFailsTheThirdSync) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f, fs_.NewWritableFile(Path("f")));
  fs_.FailAfter(kOpSync, 2, EIO);
  EXPECT_OK(f->Sync());
  EXPECT_OK(f->Sync());
  EXPECT_THAT(f->Sync(), StatusIs(absl::StatusCode::kUnknown, HasSubstr(Path("f"))));
  EXPECT_OK(f->Sync());
}

TEST_F(FaultInjectionTest, StickyFailureKeepsFailingUntilCleared) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f, fs_.NewWritableFile(Path("f")));
  fs_.FailAfter(kOpSync, 1, EIO, /*sticky=*/true);
  EXPECT_OK(f->Sync());
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(f->Sync(), StatusIs(absl::StatusCode::kUnknown));
  }
  fs_.ClearFailures();
  EXPECT_OK(f->Sync());
}

TEST_F(FaultInjectionTest, EnospcOnAppendIsResourceExhaustedAndAppendsNothing) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f, fs_.NewWritableFile(Path("f")));
  ASSERT_OK(f->Append("abc"));
  fs_.FailAfter(kOpAppend, 0, ENOSPC);
  EXPECT_THAT(f->Append("def"),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr(Path("f"))));
  EXPECT_EQ(f->Size(), 3u);
  ASSERT_OK(f->Append("ghi"));
  ASSERT_OK(f->Close());
  EXPECT_EQ(Contents("f"), "abcghi");
  for (const FsOpRecord& op : fs_.ops()) EXPECT_NE(op.data, "def");
}

TEST_F(FaultInjectionTest, FailedSyncDoesNotMakeDataDurable) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f, fs_.NewWritableFile(Path("f")));
  ASSERT_OK(f->Append("durable"));
  ASSERT_OK(f->Sync());
  ASSERT_OK(f->Append("+not"));
  fs_.FailAfter(kOpSync, 0, EIO);
  EXPECT_THAT(f->Sync(), StatusIs(absl::StatusCode::kUnknown));
  ASSERT_OK(f->Close());
  EXPECT_EQ(fs_.sync_count(), 1u);
  ASSERT_OK(fs_.DropUnsyncedData());
  EXPECT_EQ(Contents("f"), "durable");
}

TEST_F(FaultInjectionTest, FailureTargetsOnlyTheChosenOps) {
  fs_.FailAfter(kOpRename | kOpSyncDir, 0, EIO, /*sticky=*/true);
  WriteFile("a", "x", "y");  // create, append, sync: unaffected
  EXPECT_THAT(fs_.RenameFile(Path("a"), Path("b")),
              StatusIs(absl::StatusCode::kUnknown, HasSubstr(Path("a"))));
  // The failed rename had no effect.
  EXPECT_THAT(fs_.FileExists(Path("a")), IsOkAndHolds(true));
  EXPECT_THAT(fs_.FileExists(Path("b")), IsOkAndHolds(false));
  EXPECT_THAT(fs_.SyncDir(kDir), StatusIs(absl::StatusCode::kUnknown, HasSubstr(kDir)));
}

TEST_F(FaultInjectionTest, FailedCreateCreatesNothing) {
  fs_.FailAfter(kOpCreate, 0, ENOSPC);
  EXPECT_THAT(fs_.NewWritableFile(Path("f")),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr(Path("f"))));
  EXPECT_THAT(fs_.FileExists(Path("f")), IsOkAndHolds(false));
}

TEST_F(FaultInjectionTest, InjectedExistenceCheckFailure) {
  WriteFile("f", "data", "");
  fs_.FailAfter(kOpExists, 1, EACCES);
  EXPECT_THAT(fs_.FileExists(Path("f")), IsOkAndHolds(true));
  EXPECT_THAT(fs_.FileExists(Path("f")),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr(Path("f") + ": injected existence check failure")));
  EXPECT_THAT(fs_.FileExists(Path("f")), IsOkAndHolds(true));  // once only
  // Reads are another kind of operation: a read failure spares FileExists.
  fs_.FailAfter(kOpRead, 0, EIO);
  EXPECT_THAT(fs_.FileExists(Path("f")), IsOkAndHolds(true));
  fs_.ClearFailures();
}

TEST_F(FaultInjectionTest, InjectedReadFailure) {
  WriteFile("f", "data", "");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RandomAccessFile> r, fs_.NewRandomAccessFile(Path("f")));
  fs_.FailAfter(kOpRead, 0, EIO);
  char scratch[8];
  EXPECT_THAT(r->Read(0, 4, scratch), StatusIs(absl::StatusCode::kUnknown, HasSubstr(Path("f"))));
  ASSERT_OK_AND_ASSIGN(absl::string_view got, r->Read(0, 4, scratch));
  EXPECT_EQ(got, "data");
}

TEST_F(FaultInjectionTest, FailedMapSyncKeepsOldSyncedContents) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<MappedRegion> m, fs_.MapFile(Path("idx"), 8));
  std::memcpy(m->data(), "12345678", 8);
  fs_.FailAfter(kOpMapSync, 0, EIO);
  EXPECT_THAT(m->Sync(), StatusIs(absl::StatusCode::kUnknown, HasSubstr(Path("idx"))));
  m.reset();
  ASSERT_OK(fs_.DropUnsyncedData());
  EXPECT_EQ(Contents("idx"), "");
}

// ---- observation ----

TEST_F(FaultInjectionTest, OpsRecordsMutationsWithOffsetsAndData) {
  fs_.ClearOps();
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f, fs_.NewWritableFile(Path("f")));
    ASSERT_OK(f->Append("ab"));
    ASSERT_OK(f->Append("cde"));
    ASSERT_OK(f->Sync());
    ASSERT_OK(f->Truncate(4));
    ASSERT_OK(f->Close());
  }
  ASSERT_OK(fs_.RenameFile(Path("f"), Path("g")));
  ASSERT_OK(fs_.SyncDir(kDir));
  ASSERT_OK(fs_.TruncateFile(Path("g"), 1));
  ASSERT_OK(fs_.RemoveFile(Path("g")));

  const std::vector<FsOpRecord> ops = fs_.ops();
  ASSERT_EQ(ops.size(), 9u);
  EXPECT_EQ(ops[0].op, kOpCreate);
  EXPECT_EQ(ops[0].path, Path("f"));
  EXPECT_EQ(ops[1].op, kOpAppend);
  EXPECT_EQ(ops[1].offset, 0u);
  EXPECT_EQ(ops[1].data, "ab");
  EXPECT_EQ(ops[2].op, kOpAppend);
  EXPECT_EQ(ops[2].offset, 2u);
  EXPECT_EQ(ops[2].data, "cde");
  EXPECT_EQ(ops[3].op, kOpSync);
  EXPECT_EQ(ops[3].path, Path("f"));
  EXPECT_EQ(ops[4].op, kOpTruncate);
  EXPECT_EQ(ops[4].offset, 4u);
  EXPECT_EQ(ops[5].op, kOpRename);
  EXPECT_EQ(ops[5].path, Path("f"));
  EXPECT_EQ(ops[5].target, Path("g"));
  EXPECT_EQ(ops[6].op, kOpSyncDir);
  EXPECT_EQ(ops[6].path, kDir);
  EXPECT_EQ(ops[7].op, kOpTruncate);
  EXPECT_EQ(ops[7].path, Path("g"));
  EXPECT_EQ(ops[7].offset, 1u);
  EXPECT_EQ(ops[8].op, kOpRemove);
  EXPECT_EQ(ops[8].path, Path("g"));

  fs_.ClearOps();
  EXPECT_TRUE(fs_.ops().empty());
}

TEST_F(FaultInjectionTest, SyncCountCountsFileAndRegionSyncs) {
  EXPECT_EQ(fs_.sync_count(), 0u);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f, fs_.NewWritableFile(Path("f")));
  ASSERT_OK(f->Sync());
  ASSERT_OK(f->Sync());
  ASSERT_OK(f->Flush());  // not a sync
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<MappedRegion> m, fs_.MapFile(Path("idx"), 16));
  ASSERT_OK(m->Sync());
  ASSERT_OK(fs_.SyncDir(kDir));  // a directory sync is not counted
  EXPECT_EQ(fs_.sync_count(), 3u);
}

// ---- crash snapshots (crash-state enumeration) ----

TEST_F(FaultInjectionTest, SnapshotHasSyncedCurrentWriteEndsAndBothNamespaces) {
  WriteFile("old", "kept", "");
  ASSERT_OK(fs_.SyncDir(kDir));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f,
                       fs_.NewWritableFile(Path("new")));
  ASSERT_OK(f->Append("ab"));
  ASSERT_OK(f->Sync());
  ASSERT_OK(f->Append("cde"));
  ASSERT_OK(f->Append("f"));
  CrashSnapshot snap = fs_.Snapshot();
  // "new" was created after the last directory sync: live only.
  ASSERT_EQ(snap.live.size(), 2u);
  ASSERT_EQ(snap.durable.size(), 1u);
  const CrashSnapshot::File& n = snap.files[snap.live.at(Path("new"))];
  EXPECT_EQ(n.synced, "ab");
  EXPECT_EQ(n.current, "abcdef");
  EXPECT_EQ(n.write_ends, (std::vector<uint64_t>{5, 6}));
  const CrashSnapshot::File& o = snap.files[snap.durable.at(Path("old"))];
  EXPECT_EQ(o.synced, "kept");
  EXPECT_EQ(o.current, "kept");
  EXPECT_EQ(snap.live.at(Path("old")), snap.durable.at(Path("old")));
}

TEST_F(FaultInjectionTest, SnapshotKeepsARemovedFileUnderItsDurableName) {
  WriteFile("gone", "data", "");
  ASSERT_OK(fs_.SyncDir(kDir));
  ASSERT_OK(fs_.RemoveFile(Path("gone")));
  CrashSnapshot snap = fs_.Snapshot();
  EXPECT_FALSE(snap.live.contains(Path("gone")));
  ASSERT_TRUE(snap.durable.contains(Path("gone")));
  EXPECT_EQ(snap.files[snap.durable.at(Path("gone"))].synced, "data");
  ASSERT_OK(fs_.SyncDir(kDir));
  EXPECT_FALSE(fs_.Snapshot().durable.contains(Path("gone")));
}

TEST_F(FaultInjectionTest, SnapshotListsUntouchedFilesOfKnownDirectories) {
  ASSERT_OK(WriteStringToFile(fs_.base(), "before", Path("untouched"), false));
  ASSERT_OK(fs_.GetChildren(kDir).status());
  CrashSnapshot snap = fs_.Snapshot();
  ASSERT_TRUE(snap.live.contains(Path("untouched")));
  const CrashSnapshot::File& u = snap.files[snap.live.at(Path("untouched"))];
  EXPECT_EQ(u.synced, "before");
  EXPECT_EQ(u.current, "before");
  EXPECT_EQ(snap.durable.at(Path("untouched")), snap.live.at(Path("untouched")));
}

TEST_F(FaultInjectionTest, CrashObserverSeesEveryRecordedOperationAfterIt) {
  std::vector<std::string> seen;  // contents of "f" at each operation
  fs_.SetCrashObserver([&](const CrashSnapshot& snap) {
    auto it = snap.live.find(Path("f"));
    seen.push_back(it == snap.live.end() ? "<none>" : snap.files[it->second].current);
  });
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f,
                       fs_.NewWritableFile(Path("f")));  // create
  ASSERT_OK(f->Append("x"));                             // append
  ASSERT_OK(f->Flush());                                 // not recorded
  ASSERT_OK(f->Sync());                                  // sync
  ASSERT_OK(fs_.RemoveFile(Path("f")));                  // remove
  fs_.SetCrashObserver(nullptr);
  ASSERT_OK(fs_.SyncDir(kDir));
  EXPECT_EQ(seen, (std::vector<std::string>{"", "x", "x", "<none>"}));
}

}  // namespace
}  // namespace blockwal
