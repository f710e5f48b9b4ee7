// Log::Open with LogOptions::read_only: it never changes a file, takes no
// lock, sees a consistent prefix and reports damage instead of cutting it.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "blockwal/util/coding.h"
#include "blockwal/util/crc32c.h"
#include "blockwal/util/mem_file_system.h"
#include "blockwal/wal/log.h"
#include "blockwal/wal/segment.h"

namespace blockwal::wal {
namespace {

using ::blockwal::testing::StatusIs;
using ::testing::HasSubstr;

// Every file under dir (recursively) and its bytes.
std::map<std::string, std::string> Snapshot(FileSystem* fs,
                                            const std::string& dir) {
  std::map<std::string, std::string> files;
  absl::StatusOr<std::vector<std::string>> children = fs->GetChildren(dir);
  if (!children.ok()) return files;
  for (const std::string& name : *children) {
    const std::string path = JoinPath(dir, name);
    absl::StatusOr<std::string> data = ReadFileToString(fs, path);
    if (data.ok()) {
      files[path] = *data;
    } else {
      for (auto& [p, d] : Snapshot(fs, path)) files[p] = d;
    }
  }
  return files;
}

class LogReadOnlyTest : public ::testing::Test {
 protected:
  LogReadOnlyTest() : fs_(NewMemFileSystem()) {
    options_.fs = fs_.get();
    options_.clock_us = [this] { return ++now_us_; };
    options_.max_store_bytes = 4096;  // several segments
  }

  // Writes `n` records "value <i>" from offset 0 and closes the log.
  void Fill(int n) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Log> log, Log::Open(dir_, options_));
    for (int i = 0; i < n; ++i) {
      ASSERT_OK(log->Append(Value(i)).status());
    }
    ASSERT_OK(log->Close());
  }

  static std::string Value(int i) {
    return "value " + std::to_string(i) + std::string(100, 'x');
  }

  LogOptions ReadOnly() const {
    LogOptions o = options_;
    o.read_only = true;
    return o;
  }

  std::string LastStore() {
    std::string last;
    const std::vector<std::string> names = fs_->GetChildren(dir_).value();
    for (const std::string& name : names) {
      uint64_t base;
      if (ParseSegmentFileName(name, kStoreSuffix, &base)) {
        last = JoinPath(dir_, name);
      }
    }
    return last;
  }

  void AppendBytes(const std::string& path, const std::string& bytes) {
    ASSERT_OK_AND_ASSIGN(auto file, fs_->NewAppendableFile(path));
    ASSERT_OK(file->Append(bytes));
    ASSERT_OK(file->Close());
  }

  void WriteIntent(const char* name, uint64_t value) {
    std::string data;
    PutFixed64(&data, value);
    PutFixed32(&data, crc32c::Mask(crc32c::Value(data)));
    ASSERT_OK(WriteStringToFile(fs_.get(), data, JoinPath(dir_, name), true));
  }

  std::unique_ptr<FileSystem> fs_;
  LogOptions options_;
  uint64_t now_us_ = 1000;
  const std::string dir_ = "/log";
};

TEST_F(LogReadOnlyTest, MissingDirectoryIsNotFoundAndNothingIsCreated) {
  EXPECT_THAT(Log::Open(dir_, ReadOnly()),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("/log: log directory does not exist")));
  EXPECT_THAT(fs_->FileExists(dir_), ::blockwal::testing::IsOkAndHolds(false));
}

TEST_F(LogReadOnlyTest, EmptyDirectoryIsAnEmptyLogAndStaysEmpty) {
  options_.initial_offset = 7;
  ASSERT_OK(fs_->CreateDir(dir_));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Log> log, Log::Open(dir_, ReadOnly()));
  EXPECT_EQ(log->LowestOffset(), 7u);
  EXPECT_EQ(log->NextOffset(), 7u);
  EXPECT_EQ(log->HighestOffset(), std::nullopt);
  std::string scratch;
  EXPECT_THAT(log->Read(7, &scratch), StatusIs(absl::StatusCode::kOutOfRange));
  ASSERT_OK(log->Close());
  EXPECT_TRUE(fs_->GetChildren(dir_).value().empty());
}

TEST_F(LogReadOnlyTest, ReadsEverythingAndRefusesEveryWrite) {
  Fill(100);
  const auto before = Snapshot(fs_.get(), dir_);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Log> log, Log::Open(dir_, ReadOnly()));
  EXPECT_TRUE(log->recovery_report().read_only);
  EXPECT_GT(log->Segments().size(), 2u);
  EXPECT_EQ(log->NextOffset(), 100u);
  std::string scratch;
  for (int i = 0; i < 100; ++i) {
    ASSERT_OK_AND_ASSIGN(Record r, log->Read(i, &scratch));
    EXPECT_EQ(r.value, Value(i));
  }
  std::unique_ptr<LogIterator> it = log->NewIterator(50);
  Record r;
  int seen = 0;
  while (it->Next(&r)) EXPECT_EQ(r.value, Value(50 + seen++));
  EXPECT_OK(it->status());
  EXPECT_EQ(seen, 50);

  const auto read_only = StatusIs(absl::StatusCode::kFailedPrecondition,
                                  HasSubstr("/log: log is open read-only"));
  EXPECT_THAT(log->Append("x"), read_only);
  const absl::string_view batch[] = {"a", "b"};
  EXPECT_THAT(log->AppendBatch(batch), read_only);
  EXPECT_THAT(log->Sync(), read_only);
  EXPECT_THAT(log->TruncatePrefix(50), read_only);
  EXPECT_THAT(log->TruncateSuffix(50), read_only);
  ASSERT_OK(log->Close());
  EXPECT_EQ(Snapshot(fs_.get(), dir_), before);
}

TEST_F(LogReadOnlyTest, WorksWhileAWriterHasTheLogOpen) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Log> writer, Log::Open(dir_, options_));
  for (int i = 0; i < 30; ++i) ASSERT_OK(writer->Append(Value(i)).status());
  ASSERT_OK(writer->Sync());
  // A second writable open is refused; a read-only one is not.
  EXPECT_THAT(Log::Open(dir_, options_),
              StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Log> reader, Log::Open(dir_, ReadOnly()));
  EXPECT_EQ(reader->NextOffset(), 30u);
  // The reader keeps the state it opened; the writer goes on.
  ASSERT_OK(writer->Append(Value(30)).status());
  ASSERT_OK(writer->Sync());
  EXPECT_EQ(reader->NextOffset(), 30u);
  std::string scratch;
  ASSERT_OK_AND_ASSIGN(Record r, reader->Read(29, &scratch));
  EXPECT_EQ(r.value, Value(29));
  ASSERT_OK(reader->Close());
  ASSERT_OK(writer->Close());
}

TEST_F(LogReadOnlyTest, TornTailIsReportedAndLeftOnDisk) {
  Fill(40);
  const std::string store = LastStore();
  const std::string garbage(3000, '\x5a');
  AppendBytes(store, garbage);
  const uint64_t size_before = fs_->GetFileSize(store).value();
  const auto before = Snapshot(fs_.get(), dir_);

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Log> log, Log::Open(dir_, ReadOnly()));
  const RecoveryReport& report = log->recovery_report();
  EXPECT_EQ(report.torn_bytes_cut, garbage.size());
  EXPECT_EQ(log->NextOffset(), 40u);
  EXPECT_THAT(report.warnings,
              ::testing::Contains(HasSubstr(absl::StrCat(
                  store, ": 3000 bytes after the last valid record at position ",
                  size_before - garbage.size(),
                  " left as they are (read-only open; a writable open cuts "
                  "them)"))));
  ASSERT_OK(log->Close());
  EXPECT_EQ(Snapshot(fs_.get(), dir_), before);

  // A writable open cuts it, and says so.
  ASSERT_OK_AND_ASSIGN(log, Log::Open(dir_, options_));
  EXPECT_EQ(log->recovery_report().torn_bytes_cut, garbage.size());
  EXPECT_EQ(fs_->GetFileSize(store).value(), size_before - garbage.size());
}

TEST_F(LogReadOnlyTest, MissingIndexIsCompletedInMemoryOnly) {
  Fill(40);
  const std::string store = LastStore();
  const std::string index =
      store.substr(0, store.size() - strlen(kStoreSuffix)) + kIndexSuffix;
  ASSERT_OK(fs_->RemoveFile(index));
  const auto before = Snapshot(fs_.get(), dir_);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Log> log, Log::Open(dir_, ReadOnly()));
  EXPECT_EQ(log->recovery_report().indexes_rebuilt, 1u);
  EXPECT_EQ(log->NextOffset(), 40u);
  std::string scratch;
  ASSERT_OK_AND_ASSIGN(Record r, log->Read(39, &scratch));
  EXPECT_EQ(r.value, Value(39));
  ASSERT_OK(log->Close());
  EXPECT_THAT(fs_->FileExists(index), ::blockwal::testing::IsOkAndHolds(false));
  EXPECT_EQ(Snapshot(fs_.get(), dir_), before);
}

TEST_F(LogReadOnlyTest, InterruptedSuffixTruncationIsHiddenNotFinished) {
  Fill(60);
  WriteIntent(kSuffixIntentFileName, 25);
  const auto before = Snapshot(fs_.get(), dir_);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Log> log, Log::Open(dir_, ReadOnly()));
  EXPECT_EQ(log->NextOffset(), 25u);
  std::string scratch;
  ASSERT_OK_AND_ASSIGN(Record r, log->Read(24, &scratch));
  EXPECT_EQ(r.value, Value(24));
  EXPECT_THAT(log->Read(25, &scratch), StatusIs(absl::StatusCode::kOutOfRange));
  ASSERT_OK(log->Close());
  EXPECT_EQ(Snapshot(fs_.get(), dir_), before);

  ASSERT_OK_AND_ASSIGN(log, Log::Open(dir_, options_));  // finishes it
  EXPECT_EQ(log->NextOffset(), 25u);
  EXPECT_THAT(fs_->FileExists(JoinPath(dir_, kSuffixIntentFileName)),
              ::blockwal::testing::IsOkAndHolds(false));
}

TEST_F(LogReadOnlyTest, InterruptedPrefixTruncationIsHiddenNotFinished) {
  Fill(100);
  std::vector<uint64_t> bases;
  const std::vector<std::string> names = fs_->GetChildren(dir_).value();
  for (const std::string& name : names) {
    uint64_t base;
    if (ParseSegmentFileName(name, kStoreSuffix, &base)) bases.push_back(base);
  }
  ASSERT_GE(bases.size(), 3u);
  WriteIntent(kPrefixIntentFileName, bases[2]);
  const auto before = Snapshot(fs_.get(), dir_);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Log> log, Log::Open(dir_, ReadOnly()));
  EXPECT_EQ(log->LowestOffset(), bases[2]);
  EXPECT_EQ(log->NextOffset(), 100u);
  ASSERT_OK(log->Close());
  EXPECT_EQ(Snapshot(fs_.get(), dir_), before);
}

TEST_F(LogReadOnlyTest, DamageTheModeRefusesFailsWithoutChangingFiles) {
  Fill(40);
  // A byte flipped in the middle of the first (sealed) store.
  const std::string first = JoinPath(dir_, SegmentFileName(0, kStoreSuffix));
  std::string data = ReadFileToString(fs_.get(), first).value();
  data[200] ^= 0x40;
  ASSERT_OK(WriteStringToFile(fs_.get(), data, first, true));
  const auto before = Snapshot(fs_.get(), dir_);
  // Absolute consistency reads every record at open.
  LogOptions strict = ReadOnly();
  strict.recovery_mode = RecoveryMode::kAbsoluteConsistency;
  EXPECT_THAT(Log::Open(dir_, strict),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr(first)));
  EXPECT_EQ(Snapshot(fs_.get(), dir_), before);

  // Point-in-time checks a sealed segment cheaply at open; the damaged
  // record reads kDataLoss, the others read as written.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Log> log, Log::Open(dir_, ReadOnly()));
  EXPECT_EQ(log->NextOffset(), 40u);
  std::string scratch;
  EXPECT_THAT(log->Read(1, &scratch), StatusIs(absl::StatusCode::kDataLoss));
  ASSERT_OK_AND_ASSIGN(Record r, log->Read(39, &scratch));
  EXPECT_EQ(r.value, Value(39));
  ASSERT_OK(log->Close());
  EXPECT_EQ(Snapshot(fs_.get(), dir_), before);
}

}  // namespace
}  // namespace blockwal::wal
