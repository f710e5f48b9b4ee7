// The segmented log's API, after proglog's tests (append/read, out of range,
// init with existing segments, reader, truncate, index full -> new segment),
// on the in-memory file system and on disk.
#include "blockwal/wal/log.h"

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/scratch_dir.h"
#include "tests/status_matchers.h"
#include "blockwal/util/coding.h"
#include "blockwal/util/mem_file_system.h"
#include "blockwal/wal/segment.h"

namespace blockwal::wal {
namespace {

using ::blockwal::testing::IsOkAndHolds;
using ::blockwal::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class LogTest : public ::testing::Test {
 protected:
  LogTest() : fs_(NewMemFileSystem()) {
    options_.fs = fs_.get();
    options_.clock_us = [this] { return ++now_us_; };
  }

  std::unique_ptr<Log> OpenLog() {
    absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(dir_, options_);
    EXPECT_OK(log);
    return log.ok() ? std::move(*log) : nullptr;
  }

  std::string ReadValue(Log& log, uint64_t offset) {
    std::string scratch;
    absl::StatusOr<Record> r = log.Read(offset, &scratch);
    if (!r.ok()) return "error: " + r.status().ToString();
    return std::string(r->value);
  }

  std::unique_ptr<FileSystem> fs_;
  LogOptions options_;
  uint64_t now_us_ = 1000;
  const std::string dir_ = "/log";
};

TEST_F(LogTest, AppendReadReturnsOffsetsAndValues) {
  auto log = OpenLog();
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(uint64_t off, log->Append("hello " + std::to_string(i)));
    EXPECT_EQ(off, static_cast<uint64_t>(i));
  }
  EXPECT_EQ(ReadValue(*log, 0), "hello 0");
  EXPECT_EQ(ReadValue(*log, 2), "hello 2");
  std::string scratch;
  ASSERT_OK_AND_ASSIGN(Record r, log->Read(1, &scratch));
  EXPECT_EQ(r.offset, 1u);
  EXPECT_EQ(r.timestamp_us, 1002u);
  EXPECT_EQ(log->LowestOffset(), 0u);
  EXPECT_EQ(log->HighestOffset(), std::optional<uint64_t>(2));
  EXPECT_EQ(log->NextOffset(), 3u);
}

TEST_F(LogTest, EmptyLogHasNoHighestOffset) {
  options_.initial_offset = 16;
  auto log = OpenLog();
  EXPECT_EQ(log->HighestOffset(), std::nullopt);
  EXPECT_EQ(log->LowestOffset(), 16u);
  EXPECT_EQ(log->NextOffset(), 16u);
  std::string scratch;
  EXPECT_THAT(log->Read(16, &scratch),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("empty")));
  ASSERT_OK_AND_ASSIGN(uint64_t off, log->Append("x"));
  EXPECT_EQ(off, 16u);
}

TEST_F(LogTest, ReadOutOfRangeNamesTheRange) {
  auto log = OpenLog();
  ASSERT_OK(log->Append("a"));
  ASSERT_OK(log->Append("b"));
  std::string scratch;
  EXPECT_THAT(log->Read(2, &scratch),
              StatusIs(absl::StatusCode::kOutOfRange,
                       HasSubstr("is outside the log's range [0, 2)")));
}

TEST_F(LogTest, ReopenContinuesAtNextOffset) {
  options_.max_store_bytes = 200;  // several segments
  {
    auto log = OpenLog();
    for (int i = 0; i < 20; ++i) ASSERT_OK(log->Append("record-" + std::to_string(i)));
    ASSERT_OK(log->Close());
  }
  auto log = OpenLog();
  EXPECT_TRUE(log->recovery_report().clean_shutdown);
  EXPECT_GT(log->recovery_report().segments, 2u);
  EXPECT_EQ(log->recovery_report().records, 20u);
  EXPECT_EQ(log->NextOffset(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(ReadValue(*log, i), "record-" + std::to_string(i));
  ASSERT_OK_AND_ASSIGN(uint64_t off, log->Append("after"));
  EXPECT_EQ(off, 20u);
  EXPECT_EQ(ReadValue(*log, 20), "after");
}

TEST_F(LogTest, IndexFullRollsToNewSegment) {
  options_.max_index_bytes = 3 * kIndexEntrySize;
  auto log = OpenLog();
  for (int i = 0; i < 7; ++i) ASSERT_OK(log->Append("v" + std::to_string(i)));
  auto segs = log->Segments();
  ASSERT_EQ(segs.size(), 3u);
  EXPECT_EQ(segs[0]->base_offset(), 0u);
  EXPECT_EQ(segs[1]->base_offset(), 3u);
  EXPECT_EQ(segs[2]->base_offset(), 6u);
  EXPECT_TRUE(segs[0]->sealed());
  EXPECT_FALSE(segs[2]->sealed());
  ASSERT_OK_AND_ASSIGN(uint64_t sealed_index_size,
                       fs_->GetFileSize(segs[0]->index_path()));
  EXPECT_EQ(sealed_index_size, 3 * kIndexEntrySize);
  for (int i = 0; i < 7; ++i) EXPECT_EQ(ReadValue(*log, i), "v" + std::to_string(i));
}

TEST_F(LogTest, IteratorCrossesSegments) {
  options_.max_index_bytes = 2 * kIndexEntrySize;
  auto log = OpenLog();
  for (int i = 0; i < 5; ++i) ASSERT_OK(log->Append("v" + std::to_string(i)));
  auto it = log->NewIterator(1);
  Record r;
  std::vector<std::string> seen;
  while (it->Next(&r)) seen.emplace_back(r.value);
  ASSERT_OK(it->status());
  EXPECT_THAT(seen, ElementsAre("v1", "v2", "v3", "v4"));
  ASSERT_OK(log->Append("v5"));
  ASSERT_TRUE(it->Next(&r));
  EXPECT_EQ(r.value, "v5");
}

TEST_F(LogTest, ReaderStreamsEveryStoreByte) {
  options_.max_index_bytes = 2 * kIndexEntrySize;
  auto log = OpenLog();
  for (int i = 0; i < 5; ++i) ASSERT_OK(log->Append("v" + std::to_string(i)));
  std::string expected;
  for (const auto& seg : log->Segments()) {
    ASSERT_OK(log->Sync());
    ASSERT_OK_AND_ASSIGN(std::string bytes, ReadFileToString(fs_.get(), seg->store_path()));
    expected += bytes;
  }
  auto reader = log->NewReader();
  std::string got;
  char buf[7];
  while (true) {
    ASSERT_OK_AND_ASSIGN(absl::string_view chunk, reader->Read(sizeof(buf), buf));
    if (chunk.empty()) break;
    got.append(chunk.data(), chunk.size());
  }
  EXPECT_EQ(got, expected);
  EXPECT_EQ(got.size(), 5 * (kHeaderSize + kEnvelopeSize + 2));
}

TEST_F(LogTest, TruncatePrefixRemovesWholeSegmentsBelow) {
  options_.max_index_bytes = 2 * kIndexEntrySize;
  auto log = OpenLog();
  for (int i = 0; i < 7; ++i) ASSERT_OK(log->Append("v" + std::to_string(i)));
  ASSERT_OK(log->TruncatePrefix(3));  // segment [2,4) holds 3: kept
  EXPECT_EQ(log->LowestOffset(), 2u);
  std::string scratch;
  EXPECT_THAT(log->Read(1, &scratch), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_EQ(ReadValue(*log, 2), "v2");
  EXPECT_THAT(fs_->FileExists("/log/00000000000000000000.store"),
              IsOkAndHolds(false));
  EXPECT_THAT(fs_->FileExists("/log/00000000000000000000.index"),
              IsOkAndHolds(false));
  ASSERT_OK(log->TruncatePrefix(7));  // everything
  EXPECT_EQ(log->LowestOffset(), 7u);
  EXPECT_EQ(log->HighestOffset(), std::nullopt);
  ASSERT_OK_AND_ASSIGN(uint64_t off, log->Append("v7"));
  EXPECT_EQ(off, 7u);
  EXPECT_THAT(log->TruncatePrefix(9), StatusIs(absl::StatusCode::kOutOfRange));
}

TEST_F(LogTest, TruncateSuffixRemovesEverythingAfter) {
  options_.max_index_bytes = 2 * kIndexEntrySize;
  auto log = OpenLog();
  for (int i = 0; i < 7; ++i) ASSERT_OK(log->Append("v" + std::to_string(i)));
  ASSERT_OK(log->TruncateSuffix(2));
  EXPECT_EQ(log->NextOffset(), 3u);
  std::string scratch;
  EXPECT_THAT(log->Read(3, &scratch), StatusIs(absl::StatusCode::kOutOfRange));
  ASSERT_OK_AND_ASSIGN(uint64_t off, log->Append("new3"));
  EXPECT_EQ(off, 3u);
  EXPECT_EQ(ReadValue(*log, 2), "v2");
  EXPECT_EQ(ReadValue(*log, 3), "new3");
  ASSERT_OK(log->Close());
  auto reopened = OpenLog();
  EXPECT_EQ(reopened->NextOffset(), 4u);
  EXPECT_EQ(ReadValue(*reopened, 3), "new3");
}

TEST_F(LogTest, AppendBatchIsContiguous) {
  auto log = OpenLog();
  ASSERT_OK(log->Append("a"));
  std::vector<absl::string_view> batch = {"b", "c", "d"};
  ASSERT_OK_AND_ASSIGN(uint64_t first, log->AppendBatch(batch));
  EXPECT_EQ(first, 1u);
  EXPECT_EQ(ReadValue(*log, 3), "d");
  EXPECT_THAT(log->AppendBatch({}), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(LogTest, SecondOpenOfSameDirectoryIsRefused) {
  auto log = OpenLog();
  EXPECT_THAT(Log::Open(dir_, options_),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("/log")));
  ASSERT_OK(log->Close());
  EXPECT_OK(Log::Open(dir_, options_));
}

TEST_F(LogTest, StrayFilesAreIgnoredWithAWarning) {
  ASSERT_OK(fs_->CreateDir(dir_));
  ASSERT_OK(WriteStringToFile(fs_.get(), "hi", "/log/notes.txt", false));
  ASSERT_OK(WriteStringToFile(fs_.get(), "x", "/log/123.tmp", false));
  ASSERT_OK(WriteStringToFile(fs_.get(), "x", "/log/123.store", false));
  std::vector<std::string> warnings;
  options_.warning_sink = [&](const std::string& w) { warnings.push_back(w); };
  auto log = OpenLog();
  EXPECT_EQ(log->NextOffset(), 0u);
  EXPECT_THAT(warnings, ::testing::UnorderedElementsAre(
                            HasSubstr("/log/123.store"), HasSubstr("/log/123.tmp"),
                            HasSubstr("/log/notes.txt")));
}

// ---- how long a read value stays valid, on disk (POSIX mappings) ----

// A log in a fresh directory under the test's temp dir, on the POSIX file
// system: sealed stores are read through read-only mappings there, which the
// in-memory file system does not have (its reads always copy).
class LogOnDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.fs = FileSystem::Default();
    options_.clock_us = [this] { return ++now_us_; };
    options_.max_store_bytes = 200;  // several records per segment, 4+ segments
  }

  // 20 records "record-<i>", closed cleanly; returns the offset segment 1
  // starts at.
  uint64_t WriteClosedLog() {
    absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(dir_, options_);
    EXPECT_OK(log);
    if (!log.ok()) return 0;
    for (int i = 0; i < 20; ++i) {
      EXPECT_OK((*log)->Append("record-" + std::to_string(i)));
    }
    const uint64_t second_base = (*log)->Segments().at(1)->base_offset();
    EXPECT_OK((*log)->Close());
    return second_base;
  }

  // Moves index entry `entry` of segment 0 one byte on: still well-formed
  // (positions keep increasing), so Open accepts the sealed segment, but the
  // record is not there, so Read finds it by walking the store, which returns
  // the payload as a view into the store's mapping.
  void MisplaceIndexEntry(uint64_t entry) {
    const std::string path = JoinPath(dir_, SegmentFileName(0, kIndexSuffix));
    ASSERT_OK_AND_ASSIGN(std::string index,
                         ReadFileToString(options_.fs, path));
    char* position = index.data() + entry * kIndexEntrySize + 4;
    EncodeFixed64(position, DecodeFixed64(position) + 1);
    ASSERT_OK(WriteStringToFile(options_.fs, index, path, /*sync=*/true));
  }

  const ::blockwal::testing::ScratchDir scratch_{"log_test"};
  const std::string dir_ = JoinPath(scratch_.str(), "log");
  LogOptions options_;
  uint64_t now_us_ = 1000;
};

// Log::Read promises the value lives until *scratch changes or the log is
// destroyed, so it must not point into a segment the log may drop: here the
// record's segment is truncated away (its mapping unmapped) before the value
// is used.
TEST_F(LogOnDiskTest, ReadValueOutlivesTruncationOfItsSegment) {
  const uint64_t second_base = WriteClosedLog();
  ASSERT_GE(second_base, 3u);  // entry 1 is not segment 0's last
  MisplaceIndexEntry(1);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Log> log, Log::Open(dir_, options_));
  std::string scratch;
  ASSERT_OK_AND_ASSIGN(Record r, log->Read(1, &scratch));
  ASSERT_OK(log->TruncatePrefix(second_base));  // destroys segment 0
  ASSERT_EQ(log->LowestOffset(), second_base);
  EXPECT_EQ(std::string(r.value), "record-1");
  EXPECT_EQ(r.offset, 1u);
}

// An iterator holds its current segment: the value it returned stays valid
// until its next call, even when that segment is truncated away meanwhile.
TEST_F(LogOnDiskTest, IteratorValueOutlivesTruncationUntilNextCall) {
  const uint64_t second_base = WriteClosedLog();
  ASSERT_GE(second_base, 3u);
  MisplaceIndexEntry(1);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Log> log, Log::Open(dir_, options_));
  std::unique_ptr<LogIterator> it = log->NewIterator(1);
  Record r;
  ASSERT_TRUE(it->Next(&r)) << it->status();
  ASSERT_OK(log->TruncatePrefix(second_base));
  EXPECT_EQ(std::string(r.value), "record-1");
  EXPECT_EQ(r.offset, 1u);
}

}  // namespace
}  // namespace blockwal::wal
