// Contract tests for FileSystem, run on every implementation: POSIX in a fresh
// temporary directory, the in-memory one, and the fault-injecting wrapper
// over the in-memory one (which must behave like its base when no fault is
// injected).
#include "blockwal/util/file_system.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/scratch_dir.h"
#include "tests/status_matchers.h"
#include "blockwal/util/fault_injection_file_system.h"
#include "blockwal/util/mem_file_system.h"
#include "blockwal/util/posix_file_system.h"

namespace blockwal {
namespace {

using ::blockwal::testing::IsOkAndHolds;
using ::blockwal::testing::ScratchDir;
using ::blockwal::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

enum class FsKind { kPosix, kMem, kFaultInjection };

std::string KindName(const ::testing::TestParamInfo<FsKind>& info) {
  switch (info.param) {
    case FsKind::kPosix: return "Posix";
    case FsKind::kMem: return "Mem";
    case FsKind::kFaultInjection: return "FaultInjection";
  }
  return "Unknown";
}

// A string whose bytes depend on their position, so a misplaced or repeated
// chunk shows up in a comparison.
std::string Pattern(size_t n, size_t seed = 0) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + seed) % 26);
  return s;
}

class FileSystemTest : public ::testing::TestWithParam<FsKind> {
 protected:
  void SetUp() override {
    switch (GetParam()) {
      case FsKind::kPosix: {
        fs_ = NewPosixFileSystem();
        scratch_.emplace("blockwal_fs");
        root_ = scratch_->str();
        break;
      }
      case FsKind::kMem:
        fs_ = NewMemFileSystem();
        root_ = "/fs_test";
        ASSERT_OK(fs_->CreateDir(root_));
        break;
      case FsKind::kFaultInjection:
        fs_ = std::make_unique<FaultInjectionFileSystem>(NewMemFileSystem());
        root_ = "/fs_test";
        ASSERT_OK(fs_->CreateDir(root_));
        break;
    }
  }

  std::string Path(const std::string& name) const { return JoinPath(root_, name); }

  void Write(const std::string& name, const std::string& data) {
    ASSERT_OK(WriteStringToFile(fs(), data, Path(name), /*sync=*/false));
  }

  std::string Contents(const std::string& name) {
    absl::StatusOr<std::string> s = ReadFileToString(fs(), Path(name));
    EXPECT_OK(s);
    return s.ok() ? *s : "<error>";
  }

  FileSystem* fs() { return fs_.get(); }

  std::unique_ptr<FileSystem> fs_;
  std::optional<ScratchDir> scratch_;  // kPosix's root
  std::string root_;
};

TEST_P(FileSystemTest, AppendFlushSyncTruncateCloseReadBack) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f,
                       fs()->NewWritableFile(Path("f")));
  EXPECT_EQ(f->path(), Path("f"));
  EXPECT_EQ(f->Size(), 0u);
  ASSERT_OK(f->Append("hello "));
  ASSERT_OK(f->Append("world"));
  EXPECT_EQ(f->Size(), 11u);
  ASSERT_OK(f->Flush());
  ASSERT_OK(f->Sync());
  // Larger than the POSIX buffer: goes around it.
  const std::string big = Pattern(kWritableFileBufferSize + 100);
  ASSERT_OK(f->Append(big));
  EXPECT_EQ(f->Size(), 11u + big.size());
  ASSERT_OK(f->Append("tail"));
  ASSERT_OK(f->Truncate(20));
  EXPECT_EQ(f->Size(), 20u);
  ASSERT_OK(f->Append("XY"));
  EXPECT_EQ(f->Size(), 22u);
  ASSERT_OK(f->Close());
  EXPECT_EQ(Contents("f"), "hello world" + big.substr(0, 9) + "XY");
  ASSERT_OK_AND_ASSIGN(uint64_t size, fs()->GetFileSize(Path("f")));
  EXPECT_EQ(size, 22u);
}

TEST_P(FileSystemTest, AppendsOfEverySizeAroundTheBufferArriveInOrder) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f,
                       fs()->NewWritableFile(Path("f")));
  std::string expected;
  const size_t kSizes[] = {1, kWritableFileBufferSize - 1, kWritableFileBufferSize,
                           3 * kWritableFileBufferSize + 7, 0, 5000};
  size_t seed = 0;
  for (size_t n : kSizes) {
    std::string chunk = Pattern(n, ++seed);
    ASSERT_OK(f->Append(chunk));
    expected += chunk;
    EXPECT_EQ(f->Size(), expected.size());
  }
  ASSERT_OK(f->Close());
  EXPECT_EQ(Contents("f"), expected);
}

// A growing file read while it grows: reads stop at the readable size the
// writer published, and bytes past the mapped reservation (8 bytes here) still
// read (through pread on POSIX).
TEST_P(FileSystemTest, AppendingReadFileReadsUpToTheReadableSize) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> w,
                       fs()->NewWritableFile(Path("grow")));
  ASSERT_OK(w->Append("0123456789"));
  ASSERT_OK(w->Flush());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<AppendingReadFile> r,
                       fs()->NewAppendingReadFile(Path("grow"), 8));
  char scratch[32];
  ASSERT_OK_AND_ASSIGN(absl::string_view got, r->Read(0, 4, scratch));
  EXPECT_EQ(got, "");  // nothing published yet
  r->SetReadableSize(6);
  ASSERT_OK_AND_ASSIGN(got, r->Read(2, 10, scratch));
  EXPECT_EQ(got, "2345");
  ASSERT_OK(w->Append("abcdef"));
  ASSERT_OK(w->Flush());
  r->SetReadableSize(16);
  r->SetReadableSize(3);  // never lowers it
  ASSERT_OK_AND_ASSIGN(got, r->Read(4, 20, scratch));
  EXPECT_EQ(got, "456789abcdef");  // crosses the 8-byte reservation
  ASSERT_OK_AND_ASSIGN(got, r->Read(16, 4, scratch));
  EXPECT_EQ(got, "");
  ASSERT_OK_AND_ASSIGN(uint64_t size, r->Size());
  EXPECT_EQ(size, 16u);
  EXPECT_OK(w->Close());
}

TEST_P(FileSystemTest, TruncateCanZeroExtendAndAppendsContinueThere) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f,
                       fs()->NewWritableFile(Path("f")));
  ASSERT_OK(f->Append("abc"));
  ASSERT_OK(f->Truncate(6));
  ASSERT_OK(f->Append("d"));
  ASSERT_OK(f->Close());
  EXPECT_EQ(Contents("f"), std::string("abc\0\0\0d", 7));
}

TEST_P(FileSystemTest, DestructorFlushes) {
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f,
                         fs()->NewWritableFile(Path("f")));
    ASSERT_OK(f->Append("buffered"));
  }
  EXPECT_EQ(Contents("f"), "buffered");
}

TEST_P(FileSystemTest, NewWritableFileTruncatesExistingFile) {
  Write("f", "old contents");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f,
                       fs()->NewWritableFile(Path("f")));
  ASSERT_OK(f->Append("new"));
  ASSERT_OK(f->Close());
  EXPECT_EQ(Contents("f"), "new");
}

TEST_P(FileSystemTest, AppendableFileResumesAtTheEnd) {
  Write("f", "abc");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f,
                       fs()->NewAppendableFile(Path("f")));
  EXPECT_EQ(f->Size(), 3u);
  ASSERT_OK(f->Append("def"));
  EXPECT_EQ(f->Size(), 6u);
  ASSERT_OK(f->Truncate(4));
  ASSERT_OK(f->Append("Z"));
  ASSERT_OK(f->Close());
  EXPECT_EQ(Contents("f"), "abcdZ");
}

TEST_P(FileSystemTest, AppendableFileIsCreatedWhenMissing) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f,
                       fs()->NewAppendableFile(Path("new")));
  EXPECT_EQ(f->Size(), 0u);
  ASSERT_OK(f->Append("x"));
  ASSERT_OK(f->Close());
  EXPECT_EQ(Contents("new"), "x");
}

TEST_P(FileSystemTest, RandomAccessReadsAtOffsets) {
  Write("f", "0123456789");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RandomAccessFile> f,
                       fs()->NewRandomAccessFile(Path("f")));
  EXPECT_EQ(f->path(), Path("f"));
  char scratch[16];
  ASSERT_OK_AND_ASSIGN(absl::string_view r, f->Read(2, 3, scratch));
  EXPECT_EQ(r, "234");
  ASSERT_OK_AND_ASSIGN(r, f->Read(0, 10, scratch));
  EXPECT_EQ(r, "0123456789");
  // Short read at the end of the file.
  ASSERT_OK_AND_ASSIGN(r, f->Read(8, 5, scratch));
  EXPECT_EQ(r, "89");
  // Empty reads at and past the end.
  ASSERT_OK_AND_ASSIGN(r, f->Read(10, 4, scratch));
  EXPECT_EQ(r, "");
  ASSERT_OK_AND_ASSIGN(r, f->Read(1000, 4, scratch));
  EXPECT_EQ(r, "");
  ASSERT_OK_AND_ASSIGN(uint64_t size, f->Size());
  EXPECT_EQ(size, 10u);
}

TEST_P(FileSystemTest, OpenRandomAccessFileStillReadsAfterRemoval) {
  Write("f", "still here");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RandomAccessFile> f,
                       fs()->NewRandomAccessFile(Path("f")));
  ASSERT_OK(fs()->RemoveFile(Path("f")));
  EXPECT_THAT(fs()->FileExists(Path("f")), IsOkAndHolds(false));
  char scratch[32];
  ASSERT_OK_AND_ASSIGN(absl::string_view r, f->Read(0, sizeof(scratch), scratch));
  EXPECT_EQ(r, "still here");
}

TEST_P(FileSystemTest, SequentialReadAndSkip) {
  Write("f", "0123456789");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SequentialFile> f,
                       fs()->NewSequentialFile(Path("f")));
  EXPECT_EQ(f->path(), Path("f"));
  char scratch[16];
  ASSERT_OK_AND_ASSIGN(absl::string_view r, f->Read(3, scratch));
  EXPECT_EQ(r, "012");
  ASSERT_OK(f->Skip(2));
  ASSERT_OK_AND_ASSIGN(r, f->Read(3, scratch));
  EXPECT_EQ(r, "567");
  ASSERT_OK_AND_ASSIGN(r, f->Read(16, scratch));
  EXPECT_EQ(r, "89");
  ASSERT_OK_AND_ASSIGN(r, f->Read(16, scratch));
  EXPECT_EQ(r, "");
  ASSERT_OK(f->Skip(100));
  ASSERT_OK_AND_ASSIGN(r, f->Read(16, scratch));
  EXPECT_EQ(r, "");
}

TEST_P(FileSystemTest, MapFileGrowsNewFileWithZeros) {
  const std::string path = Path("index");
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<MappedRegion> m, fs()->MapFile(path, 4096));
    EXPECT_EQ(m->path(), path);
    ASSERT_EQ(m->size(), 4096u);
    EXPECT_EQ(std::string(m->data(), m->size()), std::string(4096, '\0'));
    ASSERT_OK_AND_ASSIGN(uint64_t size, fs()->GetFileSize(path));
    EXPECT_EQ(size, 4096u);

    // Writes through the mapping are visible to readers at once.
    std::memcpy(m->data() + 100, "abc", 3);
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<RandomAccessFile> r,
                         fs()->NewRandomAccessFile(path));
    char scratch[8];
    ASSERT_OK_AND_ASSIGN(absl::string_view got, r->Read(99, 5, scratch));
    EXPECT_EQ(got, std::string("\0abc\0", 5));
    ASSERT_OK(m->Sync());
  }
  std::string expected(4096, '\0');
  expected.replace(100, 3, "abc");
  EXPECT_EQ(Contents("index"), expected);
}

TEST_P(FileSystemTest, MapFileKeepsShorterFileContents) {
  Write("index", "hello");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<MappedRegion> m,
                       fs()->MapFile(Path("index"), 100));
  EXPECT_EQ(std::string(m->data(), m->size()),
            "hello" + std::string(95, '\0'));
}

TEST_P(FileSystemTest, MapFileOfLongerFileMapsItsPrefix) {
  const std::string data = Pattern(10000);
  Write("index", data);
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<MappedRegion> m,
                         fs()->MapFile(Path("index"), 4096));
    ASSERT_EQ(m->size(), 4096u);
    EXPECT_EQ(std::string(m->data(), m->size()), data.substr(0, 4096));
    m->data()[0] = '#';
    ASSERT_OK(m->Sync());
  }
  ASSERT_OK_AND_ASSIGN(uint64_t size, fs()->GetFileSize(Path("index")));
  EXPECT_EQ(size, 10000u);
  EXPECT_EQ(Contents("index"), "#" + data.substr(1));
}

TEST_P(FileSystemTest, GetChildrenIsSortedWithoutDots) {
  Write("b", "");
  Write("a", "");
  Write("c", "");
  ASSERT_OK(fs()->CreateDir(Path("d")));
  Write("d/nested", "");
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> children, fs()->GetChildren(root_));
  EXPECT_THAT(children, ElementsAre("a", "b", "c", "d"));
  ASSERT_OK_AND_ASSIGN(children, fs()->GetChildren(Path("d")));
  EXPECT_THAT(children, ElementsAre("nested"));
}

TEST_P(FileSystemTest, CreateDirIsIdempotentAndRemoveDirNeedsEmpty) {
  const std::string dir = Path("sub");
  ASSERT_OK(fs()->CreateDir(dir));
  ASSERT_OK(fs()->CreateDir(dir));
  EXPECT_THAT(fs()->FileExists(dir), IsOkAndHolds(true));
  ASSERT_OK(WriteStringToFile(fs(), "x", JoinPath(dir, "f"), false));
  EXPECT_THAT(fs()->RemoveDir(dir),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(dir)));
  ASSERT_OK(fs()->RemoveFile(JoinPath(dir, "f")));
  ASSERT_OK(fs()->RemoveDir(dir));
  EXPECT_THAT(fs()->FileExists(dir), IsOkAndHolds(false));
  EXPECT_THAT(fs()->RemoveDir(dir), StatusIs(absl::StatusCode::kNotFound, HasSubstr(dir)));
}

TEST_P(FileSystemTest, FileInMissingDirectoryIsNotFound) {
  const std::string path = Path("missing/f");
  EXPECT_THAT(fs()->NewWritableFile(path),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(path)));
  EXPECT_THAT(fs()->CreateDir(Path("missing/sub")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing/sub")));
}

TEST_P(FileSystemTest, RenameReplacesTarget) {
  Write("from", "new");
  Write("to", "old");
  ASSERT_OK(fs()->RenameFile(Path("from"), Path("to")));
  EXPECT_THAT(fs()->FileExists(Path("from")), IsOkAndHolds(false));
  EXPECT_EQ(Contents("to"), "new");
  EXPECT_THAT(fs()->RenameFile(Path("from"), Path("to")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(Path("from"))));
}

TEST_P(FileSystemTest, RemoveFileAndFileExists) {
  EXPECT_THAT(fs()->FileExists(Path("f")), IsOkAndHolds(false));
  Write("f", "x");
  EXPECT_THAT(fs()->FileExists(Path("f")), IsOkAndHolds(true));
  ASSERT_OK(fs()->RemoveFile(Path("f")));
  EXPECT_THAT(fs()->FileExists(Path("f")), IsOkAndHolds(false));
  EXPECT_THAT(fs()->RemoveFile(Path("f")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(Path("f"))));
}

// A path under a file (ENOTDIR on POSIX) is absent, not an error.
TEST_P(FileSystemTest, FileExistsIsFalseUnderAFile) {
  Write("f", "x");
  EXPECT_THAT(fs()->FileExists(Path("f/g")), IsOkAndHolds(false));
  EXPECT_THAT(fs()->FileExists(Path("missing/g")), IsOkAndHolds(false));
}

TEST_P(FileSystemTest, GetFileSize) {
  Write("f", "12345");
  ASSERT_OK_AND_ASSIGN(uint64_t size, fs()->GetFileSize(Path("f")));
  EXPECT_EQ(size, 5u);
  Write("empty", "");
  ASSERT_OK_AND_ASSIGN(size, fs()->GetFileSize(Path("empty")));
  EXPECT_EQ(size, 0u);
}

TEST_P(FileSystemTest, TruncateFileShrinksAndZeroExtends) {
  Write("f", "0123456789");
  ASSERT_OK(fs()->TruncateFile(Path("f"), 4));
  EXPECT_EQ(Contents("f"), "0123");
  ASSERT_OK(fs()->TruncateFile(Path("f"), 6));
  EXPECT_EQ(Contents("f"), std::string("0123\0\0", 6));
}

TEST_P(FileSystemTest, SyncDir) {
  ASSERT_OK(fs()->SyncDir(root_));
  EXPECT_THAT(fs()->SyncDir(Path("nodir")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(Path("nodir"))));
}

TEST_P(FileSystemTest, ErrorsNameThePath) {
  const std::string path = Path("does_not_exist");
  EXPECT_THAT(fs()->NewRandomAccessFile(path),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(path)));
  EXPECT_THAT(fs()->NewSequentialFile(path),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(path)));
  EXPECT_THAT(fs()->GetFileSize(path),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(path)));
  EXPECT_THAT(fs()->TruncateFile(path, 0),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(path)));
  EXPECT_THAT(fs()->GetChildren(path),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(path)));
  EXPECT_THAT(ReadFileToString(fs(), path),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(path)));
}

TEST_P(FileSystemTest, UseAfterCloseIsFailedPrecondition) {
  const std::string path = Path("f");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f, fs()->NewWritableFile(path));
  ASSERT_OK(f->Append("x"));
  ASSERT_OK(f->Close());
  const auto kClosed = StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(path));
  EXPECT_THAT(f->Append("y"), kClosed);
  EXPECT_THAT(f->Flush(), kClosed);
  EXPECT_THAT(f->Sync(), kClosed);
  EXPECT_THAT(f->Truncate(0), kClosed);
  EXPECT_THAT(f->Close(), kClosed);
  EXPECT_EQ(Contents("f"), "x");
}

TEST_P(FileSystemTest, LockTwiceIsUnavailableUntilReleased) {
  const std::string path = Path("LOCK");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<FileLock> lock, fs()->LockFile(path));
  EXPECT_EQ(lock->path(), path);
  EXPECT_THAT(fs()->FileExists(path), IsOkAndHolds(true));
  EXPECT_THAT(fs()->LockFile(path),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr(path)));
  lock.reset();
  ASSERT_OK_AND_ASSIGN(lock, fs()->LockFile(path));
  EXPECT_THAT(fs()->LockFile(path), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_P(FileSystemTest, WriteStringToFileAndReadFileToString) {
  const std::string data = Pattern(200000);
  ASSERT_OK(WriteStringToFile(fs(), data, Path("f"), /*sync=*/true));
  EXPECT_EQ(Contents("f"), data);
  ASSERT_OK(WriteStringToFile(fs(), "", Path("f"), /*sync=*/false));
  EXPECT_EQ(Contents("f"), "");
}

// Shared RandomAccessFile reads, and writers of distinct files, from several
// threads at once (run under TSan for the locking).
TEST_P(FileSystemTest, ConcurrentReadersAndWriters) {
  const std::string data = Pattern(8192);
  Write("shared", data);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RandomAccessFile> shared,
                       fs()->NewRandomAccessFile(Path("shared")));
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string name = Path("w" + std::to_string(t));
      absl::StatusOr<std::unique_ptr<WritableFile>> f = fs()->NewWritableFile(name);
      if (!f.ok()) {
        ADD_FAILURE() << f.status();
        return;
      }
      char scratch[100];
      for (int i = 0; i < 50; ++i) {
        uint64_t offset = static_cast<uint64_t>((t * 50 + i) * 37 % 8000);
        absl::StatusOr<absl::string_view> r = shared->Read(offset, 100, scratch);
        EXPECT_OK(r);
        if (r.ok()) {
          EXPECT_EQ(*r, data.substr(offset, 100));
        }
        EXPECT_OK((*f)->Append(std::to_string(i) + ","));
        if (i % 10 == 0) {
          EXPECT_OK((*f)->Sync());
        }
      }
      EXPECT_OK((*f)->Close());
    });
  }
  for (std::thread& t : threads) t.join();
  std::string expected;
  for (int i = 0; i < 50; ++i) expected += std::to_string(i) + ",";
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(Contents("w" + std::to_string(t)), expected);
}

INSTANTIATE_TEST_SUITE_P(AllFileSystems, FileSystemTest,
                         ::testing::Values(FsKind::kPosix, FsKind::kMem,
                                           FsKind::kFaultInjection),
                         KindName);

TEST(JoinPathTest, JoinsWithOneSlash) {
  EXPECT_EQ(JoinPath("dir", "f"), "dir/f");
  EXPECT_EQ(JoinPath("dir/", "f"), "dir/f");
  EXPECT_EQ(JoinPath("/", "f"), "/f");
  EXPECT_EQ(JoinPath("", "f"), "f");
}

TEST(DefaultFileSystemTest, IsOneProcessWideInstance) {
  FileSystem* fs = FileSystem::Default();
  ASSERT_NE(fs, nullptr);
  EXPECT_EQ(fs, FileSystem::Default());
  EXPECT_THAT(fs->FileExists("/"), IsOkAndHolds(true));
}

TEST(MemFileSystemTest, RootAndBareNamesNeedNoCreateDir) {
  std::unique_ptr<FileSystem> fs = NewMemFileSystem();
  ASSERT_OK(WriteStringToFile(fs.get(), "x", "/top", false));
  ASSERT_OK(WriteStringToFile(fs.get(), "y", "bare", false));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> children, fs->GetChildren("/"));
  EXPECT_THAT(children, ElementsAre("top"));
  EXPECT_THAT(fs->CreateDir("/a/b"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("/a/b")));
  ASSERT_OK(fs->CreateDir("/a/"));
  ASSERT_OK(fs->CreateDir("/a/b"));
  ASSERT_OK_AND_ASSIGN(children, fs->GetChildren("/a"));
  EXPECT_THAT(children, ElementsAre("b"));
}

TEST(MemFileSystemTest, MappedFileGrowsAndShrinksInPlace) {
  std::unique_ptr<FileSystem> fs = NewMemFileSystem();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<MappedRegion> m, fs->MapFile("/idx", 64));
  char* const data = m->data();
  std::memset(data, 'x', 64);
  // Growing while mapped keeps the bytes where they are, as mmap does.
  ASSERT_OK(fs->TruncateFile("/idx", 1 << 20));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<MappedRegion> m2, fs->MapFile("/idx", 1 << 20));
  EXPECT_EQ(m2->data(), data);
  EXPECT_EQ(std::string(data, 64), std::string(64, 'x'));
  EXPECT_EQ(data[64], '\0');
  // Shrinking then growing again reads zeros where bytes were cut.
  ASSERT_OK(fs->TruncateFile("/idx", 16));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f, fs->NewAppendableFile("/idx"));
  ASSERT_OK(f->Append("abc"));
  EXPECT_EQ(m->data(), data);
  EXPECT_EQ(std::string(m->data() + 16, 3), "abc");
  ASSERT_OK(fs->TruncateFile("/idx", 64));
  ASSERT_OK_AND_ASSIGN(std::string bytes, ReadFileToString(fs.get(), "/idx"));
  EXPECT_EQ(bytes, std::string(16, 'x') + "abc" + std::string(45, '\0'));
}

TEST(MemFileSystemTest, MappedFileIsLimitedToOneGiB) {
  std::unique_ptr<FileSystem> fs = NewMemFileSystem();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<MappedRegion> m, fs->MapFile("/idx", 64));
  EXPECT_THAT(fs->TruncateFile("/idx", (uint64_t{1} << 30) + 1),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("/idx")));
}

// A capacity makes the in-memory file system a small disk: growth past it is
// ENOSPC naming the file; an append writes the bytes that fit.
TEST(MemFileSystemTest, AppendPastCapacityWritesWhatFitsAndFailsNamingTheFile) {
  std::unique_ptr<FileSystem> fs = NewMemFileSystem(100);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f, fs->NewWritableFile("/a"));
  ASSERT_OK(f->Append(std::string(60, 'a')));
  EXPECT_THAT(f->Append(std::string(50, 'b')),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "/a: write at offset 60: No space left on device"));
  EXPECT_EQ(f->Size(), 60u);  // the failed append did not move the handle
  ASSERT_OK_AND_ASSIGN(std::string bytes, ReadFileToString(fs.get(), "/a"));
  EXPECT_EQ(bytes, std::string(60, 'a') + std::string(40, 'b'));
  // Full: another file cannot take a byte.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> g, fs->NewWritableFile("/g"));
  EXPECT_THAT(g->Append("x"), StatusIs(absl::StatusCode::kResourceExhausted,
                                       "/g: write at offset 0: No space left on device"));
}

TEST(MemFileSystemTest, GrowingTruncateAndMapFilePastCapacityFailWhole) {
  std::unique_ptr<FileSystem> fs = NewMemFileSystem(100);
  ASSERT_OK(WriteStringToFile(fs.get(), std::string(40, 'x'), "/t", false));
  EXPECT_THAT(fs->TruncateFile("/t", 101),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "/t: truncate to 101: No space left on device"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f, fs->NewAppendableFile("/t"));
  EXPECT_THAT(f->Truncate(200), StatusIs(absl::StatusCode::kResourceExhausted,
                                         "/t: truncate to 200: No space left on device"));
  EXPECT_THAT(fs->MapFile("/idx", 61),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "/idx: reserve 61 bytes for mapping: No space left on device"));
  ASSERT_OK_AND_ASSIGN(uint64_t size, fs->GetFileSize("/t"));
  EXPECT_EQ(size, 40u);
  ASSERT_OK_AND_ASSIGN(size, fs->GetFileSize("/idx"));
  EXPECT_EQ(size, 0u);  // created, not grown
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<MappedRegion> m, fs->MapFile("/idx", 60));
  EXPECT_EQ(m->size(), 60u);
}

// Space comes back when a file shrinks or its last reference goes: a removed
// file still open keeps its bytes, as on a disk.
TEST(MemFileSystemTest, SpaceIsFreedByShrinkingAndByTheLastReference) {
  std::unique_ptr<FileSystem> fs = NewMemFileSystem(100);
  ASSERT_OK(WriteStringToFile(fs.get(), std::string(100, 'f'), "/filler", false));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f, fs->NewWritableFile("/a"));
  EXPECT_THAT(f->Append("x"), StatusIs(absl::StatusCode::kResourceExhausted));
  ASSERT_OK(fs->TruncateFile("/filler", 90));
  ASSERT_OK(f->Append(std::string(10, 'x')));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RandomAccessFile> open_filler,
                       fs->NewRandomAccessFile("/filler"));
  ASSERT_OK(fs->RemoveFile("/filler"));
  EXPECT_THAT(f->Append("y"), StatusIs(absl::StatusCode::kResourceExhausted));
  open_filler.reset();
  ASSERT_OK(f->Append(std::string(90, 'y')));
  // Rewriting a file (NewWritableFile truncates it) frees its old bytes first.
  ASSERT_OK(WriteStringToFile(fs.get(), std::string(100, 'z'), "/a", false));
}

// The POSIX file system reserves the blocks of a mapping (posix_fallocate),
// so a store through it never meets a hole the disk has no block for.
TEST(PosixFileSystemTest, MapFileReservesEveryBlockOfTheMappedRange) {
  const ScratchDir scratch("blockwal_map");
  const std::string dir = scratch.str();
  std::unique_ptr<FileSystem> fs = NewPosixFileSystem();
  const std::string fresh = JoinPath(dir, "fresh.index");
  const std::string sparse = JoinPath(dir, "sparse.index");
  constexpr size_t kSize = 1 << 20;
  // An index an older version grew sparsely (ftruncate), one entry written.
  ASSERT_OK(WriteStringToFile(fs.get(), "entry", sparse, false));
  ASSERT_OK(fs->TruncateFile(sparse, kSize));
  for (const std::string& path : {fresh, sparse}) {
    SCOPED_TRACE(path);
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<MappedRegion> m, fs->MapFile(path, kSize));
    struct stat st;
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(static_cast<size_t>(st.st_size), kSize);
    EXPECT_GE(static_cast<uint64_t>(st.st_blocks) * 512, kSize);
  }
  ASSERT_OK_AND_ASSIGN(std::string bytes, ReadFileToString(fs.get(), sparse));
  EXPECT_EQ(bytes.substr(0, 6), std::string("entry") + '\0');
}

// flock excludes other processes: a lock held by a child makes the parent's
// LockFile fail until the child exits.
// When the system cannot tell whether a path exists, FileExists says so
// instead of answering false. A symlink loop (ELOOP) stands for EACCES and
// EIO, which a test running as root cannot provoke.
TEST(PosixFileSystemTest, FileExistsReportsWhatItCannotTell) {
  const ScratchDir scratch("blockwal_exists");
  const std::string dir = scratch.str();
  const std::string loop = JoinPath(dir, "loop");
  ASSERT_EQ(::symlink("loop", loop.c_str()), 0) << std::strerror(errno);
  std::unique_ptr<FileSystem> fs = NewPosixFileSystem();
  EXPECT_THAT(fs->FileExists(loop),
              StatusIs(absl::ErrnoToStatusCode(ELOOP),
                       ::testing::AllOf(HasSubstr(loop + ": stat: "),
                                        HasSubstr(std::strerror(ELOOP)))));
  EXPECT_THAT(fs->FileExists(JoinPath(loop, "index")),
              StatusIs(absl::ErrnoToStatusCode(ELOOP)));
}

TEST(PosixFileSystemTest, LockHeldByAnotherProcessIsUnavailable) {
  const ScratchDir scratch("blockwal_lock");
  const std::string dir = scratch.str();
  const std::string path = JoinPath(dir, "LOCK");
  std::unique_ptr<FileSystem> fs = NewPosixFileSystem();

  int locked_pipe[2], release_pipe[2];
  ASSERT_EQ(::pipe(locked_pipe), 0);
  ASSERT_EQ(::pipe(release_pipe), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: take the lock, report, hold it until told to go.
    absl::StatusOr<std::unique_ptr<FileLock>> lock = fs->LockFile(path);
    char c = lock.ok() ? 'y' : 'n';
    (void)!::write(locked_pipe[1], &c, 1);
    (void)!::read(release_pipe[0], &c, 1);
    ::_exit(lock.ok() ? 0 : 1);
  }
  char c = 0;
  ASSERT_EQ(::read(locked_pipe[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  EXPECT_THAT(fs->LockFile(path),
              StatusIs(absl::StatusCode::kUnavailable,
                       ::testing::AllOf(HasSubstr(path), HasSubstr("another process"))));
  ASSERT_EQ(::write(release_pipe[1], "x", 1), 1);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
  for (int fd : {locked_pipe[0], locked_pipe[1], release_pipe[0], release_pipe[1]}) {
    ::close(fd);
  }
  // The child's exit released the lock.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<FileLock> lock, fs->LockFile(path));
  lock.reset();
}

}  // namespace
}  // namespace blockwal
