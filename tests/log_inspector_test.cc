// The read-only log inspector: a clean log has no problems, and each kind of
// damage, produced by editing the files of a log on the in-memory file
// system, is reported exactly once with its file and position.
#include "blockwal/wal/log_inspector.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "blockwal/util/coding.h"
#include "blockwal/util/crc32c.h"
#include "blockwal/util/mem_file_system.h"
#include "blockwal/wal/block_writer.h"
#include "blockwal/wal/index.h"
#include "blockwal/wal/log.h"
#include "blockwal/wal/record.h"
#include "blockwal/wal/segment.h"

namespace blockwal::wal {
namespace {

using ::blockwal::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// Store positions of the records "bb" and "ccc" after "a" in a fresh
// segment: each record takes a 7-byte header, the 17-byte envelope and its
// value.
constexpr uint64_t kPos1 = 25;
constexpr uint64_t kPos2 = 51;

// A record for a hand-made segment.
struct Rec {
  uint64_t offset;
  uint64_t timestamp_us;
  uint8_t flags;
  std::string value;
};

class LogInspectorTest : public ::testing::Test {
 protected:
  LogInspectorTest() : fs_(NewMemFileSystem()) {
    options_.fs = fs_.get();
    options_.clock_us = [this] { return ++now_us_; };
    options_.max_index_bytes = 10 * kIndexEntrySize;
  }

  // Appends `values` through a Log and closes it cleanly.
  void WriteLog(const std::vector<std::string>& values) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Log> log, Log::Open(dir_, options_));
    for (const std::string& v : values) ASSERT_OK(log->Append(v));
    ASSERT_OK(log->Close());
  }

  // Five records in three segments of two: bases 0, 2 and 4.
  void WriteThreeSegments() {
    options_.max_index_bytes = 2 * kIndexEntrySize;
    WriteLog({"a", "b", "c", "d", "e"});
  }

  // Writes a segment by hand: its store and, when `with_index`, a sealed
  // index whose entry i points at records[i]. Returns the positions.
  std::vector<uint64_t> WriteSegment(uint64_t base, const std::vector<Rec>& records,
                                     bool with_index = true) {
    std::vector<uint64_t> positions;
    EXPECT_OK(fs_->CreateDir(dir_));
    auto file = fs_->NewWritableFile(Store(base));
    EXPECT_OK(file);
    if (!file.ok()) return positions;
    BlockWriter writer(file->get());
    std::string index;
    for (const Rec& r : records) {
      std::string payload;
      EncodeRecord(r.offset, r.timestamp_us, r.flags, r.value, &payload);
      absl::StatusOr<uint64_t> position = writer.AddRecord(payload);
      EXPECT_OK(position);
      if (!position.ok()) return positions;
      PutFixed32(&index, static_cast<uint32_t>(positions.size()));
      PutFixed64(&index, *position);
      positions.push_back(*position);
    }
    EXPECT_OK(writer.Flush());
    EXPECT_OK((*file)->Close());
    if (with_index) SetContents(IndexFile(base), index);
    return positions;
  }

  std::string Store(uint64_t base) const {
    return JoinPath(dir_, SegmentFileName(base, kStoreSuffix));
  }
  std::string IndexFile(uint64_t base) const {
    return JoinPath(dir_, SegmentFileName(base, kIndexSuffix));
  }

  std::string Contents(const std::string& path) {
    absl::StatusOr<std::string> data = ReadFileToString(fs_.get(), path);
    EXPECT_OK(data);
    return data.ok() ? *data : "";
  }
  void SetContents(const std::string& path, const std::string& data) {
    EXPECT_OK(WriteStringToFile(fs_.get(), data, path, /*sync=*/false));
  }
  void FlipByte(const std::string& path, uint64_t position) {
    std::string data = Contents(path);
    ASSERT_LT(position, data.size());
    data[position] = static_cast<char>(data[position] ^ 0xff);
    SetContents(path, data);
  }
  void Truncate(const std::string& path, uint64_t size) {
    ASSERT_OK(fs_->TruncateFile(path, size));
  }

  LogInspection Inspect(const InspectOptions& options = InspectOptions()) {
    absl::StatusOr<LogInspection> inspection =
        InspectLog(fs_.get(), dir_, options);
    EXPECT_OK(inspection);
    return inspection.ok() ? *std::move(inspection) : LogInspection();
  }

  // Expects exactly one problem, of `kind`, in `file` at `position`, whose
  // description contains `text`.
  void ExpectOneProblem(const LogInspection& inspection, const std::string& file,
                        uint64_t position, wal::ProblemKind kind,
                        const std::string& text) {
    ASSERT_EQ(inspection.problems.size(), 1u) << Describe(inspection);
    const LogProblem& p = inspection.problems[0];
    EXPECT_EQ(p.file, file);
    EXPECT_EQ(p.position, position);
    EXPECT_EQ(wal::ProblemKindName(p.kind), wal::ProblemKindName(kind));
    EXPECT_THAT(p.description, HasSubstr(text));
  }

  static std::string Describe(const LogInspection& inspection) {
    std::string out;
    for (const LogProblem& p : inspection.problems) {
      absl::StrAppend(&out, p.file, " @", p.position, ": ", p.description, "\n");
    }
    return out;
  }

  // Every file in the directory with its bytes.
  std::vector<std::pair<std::string, std::string>> Snapshot() {
    std::vector<std::pair<std::string, std::string>> files;
    absl::StatusOr<std::vector<std::string>> names = fs_->GetChildren(dir_);
    EXPECT_OK(names);
    if (!names.ok()) return files;
    for (const std::string& name : *names) {
      files.emplace_back(name, Contents(JoinPath(dir_, name)));
    }
    return files;
  }

  std::unique_ptr<FileSystem> fs_;
  LogOptions options_;
  uint64_t now_us_ = 1000;
  const std::string dir_ = "/log";
};

// ---- clean logs ----

TEST_F(LogInspectorTest, CleanLogHasNoProblems) {
  WriteThreeSegments();
  std::vector<std::string> visited;
  uint64_t last_done = 0, last_total = 0;
  InspectOptions options;
  options.on_record = [&](const RecordLocation& loc, const Record& r) {
    visited.push_back(absl::StrCat(r.offset, "@", loc.store_name, ":",
                                   loc.position, "/", loc.length, "=", r.value));
    EXPECT_EQ(loc.store_path, JoinPath(dir_, loc.store_name));
  };
  options.on_progress = [&](uint64_t done, uint64_t total) {
    EXPECT_GE(done, last_done);
    last_done = done;
    last_total = total;
  };
  const LogInspection inspection = Inspect(options);
  EXPECT_TRUE(inspection.clean()) << Describe(inspection);
  EXPECT_THAT(inspection.stray_files, IsEmpty());
  ASSERT_EQ(inspection.segments.size(), 3u);
  const SegmentInspection& s0 = inspection.segments[0];
  EXPECT_EQ(s0.base_offset, 0u);
  EXPECT_EQ(s0.store_path, Store(0));
  EXPECT_EQ(s0.index_path, IndexFile(0));
  EXPECT_EQ(s0.records, 2u);
  EXPECT_EQ(s0.store_bytes, 50u);
  EXPECT_TRUE(s0.has_index);
  EXPECT_EQ(s0.index_bytes, 2 * kIndexEntrySize);
  EXPECT_EQ(s0.index_entries, 2u);
  EXPECT_TRUE(s0.index_sealed);
  EXPECT_EQ(s0.first_offset, 0u);
  EXPECT_EQ(s0.last_offset, 1u);
  EXPECT_EQ(s0.first_timestamp_us, 1001u);
  EXPECT_EQ(s0.last_timestamp_us, 1002u);
  EXPECT_EQ(s0.valid_end, 50u);
  EXPECT_EQ(s0.next_offset, 2u);
  EXPECT_EQ(inspection.segments[2].base_offset, 4u);
  EXPECT_EQ(inspection.segments[2].records, 1u);
  EXPECT_TRUE(inspection.segments[2].index_sealed);  // closed cleanly
  EXPECT_EQ(inspection.records, 5u);
  EXPECT_EQ(inspection.store_bytes, 125u);
  EXPECT_EQ(inspection.index_bytes, 5 * kIndexEntrySize);
  EXPECT_EQ(inspection.first_offset(), 0u);
  EXPECT_EQ(inspection.last_offset(), 4u);
  EXPECT_EQ(inspection.last_timestamp_us(), 1005u);
  EXPECT_THAT(visited,
              ElementsAre("0@00000000000000000000.store:0/1=a",
                          "1@00000000000000000000.store:25/1=b",
                          "2@00000000000000000002.store:0/1=c",
                          "3@00000000000000000002.store:25/1=d",
                          "4@00000000000000000004.store:0/1=e"));
  EXPECT_EQ(last_done, 125u);
  EXPECT_EQ(last_total, 125u);
}

TEST_F(LogInspectorTest, CompleteBatchIsNotAProblem) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Log> log, Log::Open(dir_, options_));
  const std::vector<absl::string_view> batch = {"x", "y", "z"};
  ASSERT_OK(log->AppendBatch(batch));
  ASSERT_OK(log->Close());
  const LogInspection inspection = Inspect();
  EXPECT_TRUE(inspection.clean()) << Describe(inspection);
  EXPECT_EQ(inspection.records, 3u);
}

TEST_F(LogInspectorTest, OpenLogsActiveSegmentIsUnsealedButClean) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Log> log, Log::Open(dir_, options_));
  ASSERT_OK(log->Append("a"));
  ASSERT_OK(log->Append("bb"));
  ASSERT_OK(log->Sync());
  const LogInspection inspection = Inspect();
  EXPECT_TRUE(inspection.clean()) << Describe(inspection);
  ASSERT_EQ(inspection.segments.size(), 1u);
  EXPECT_FALSE(inspection.segments[0].index_sealed);
  EXPECT_EQ(inspection.segments[0].index_entries, 2u);
  EXPECT_EQ(inspection.segments[0].index_bytes, options_.max_index_bytes);
  ASSERT_OK(log->Close());
}

TEST_F(LogInspectorTest, EmptyLogHasNoRecords) {
  options_.initial_offset = 7;
  WriteLog({});
  const LogInspection inspection = Inspect();
  EXPECT_TRUE(inspection.clean()) << Describe(inspection);
  ASSERT_EQ(inspection.segments.size(), 1u);
  EXPECT_EQ(inspection.segments[0].base_offset, 7u);
  EXPECT_FALSE(inspection.has_records());
  ASSERT_OK_AND_ASSIGN(OffsetRange range, FindOffsetRange(fs_.get(), dir_));
  EXPECT_EQ(range.first, 7u);
  EXPECT_TRUE(range.empty());
}

TEST_F(LogInspectorTest, MissingDirectoryIsNotFound) {
  EXPECT_THAT(InspectLog(fs_.get(), "/nowhere", InspectOptions()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nowhere")));
}

TEST_F(LogInspectorTest, StrayFilesAreListedNotProblems) {
  WriteLog({"a"});
  SetContents(JoinPath(dir_, "notes.txt"), "hi");
  ASSERT_OK(fs_->CreateDir(JoinPath(dir_, "repair-backup-x")));
  const LogInspection inspection = Inspect();
  EXPECT_TRUE(inspection.clean()) << Describe(inspection);
  EXPECT_THAT(inspection.stray_files, ElementsAre("notes.txt", "repair-backup-x"));
}

TEST_F(LogInspectorTest, InspectionChangesNothingAndTakesNoLock) {
  WriteThreeSegments();
  ASSERT_OK(fs_->RemoveFile(JoinPath(dir_, "LOCK")));
  // Damage Log::Open would repair: a torn tail, a short index.
  Truncate(Store(4), 10);
  Truncate(IndexFile(2), kIndexEntrySize);
  const auto before = Snapshot();
  EXPECT_FALSE(Inspect().clean());
  ASSERT_OK(FindOffsetRange(fs_.get(), dir_));
  ASSERT_OK(ForEachRecord(fs_.get(), dir_, 0,
                          [](const RecordLocation&, const Record&) { return true; }));
  ASSERT_OK(ReadRecordValue(fs_.get(), dir_, 3));
  EXPECT_EQ(Snapshot(), before);
}

// ---- store damage ----

TEST_F(LogInspectorTest, ChecksumMismatchIsReportedOnce) {
  WriteLog({"a", "bb", "ccc"});
  FlipByte(Store(0), kPos2 + kHeaderSize + kEnvelopeSize + 1);
  const LogInspection inspection = Inspect();
  ExpectOneProblem(inspection, Store(0), kPos2, wal::ProblemKind::kChecksumMismatch, "checksum mismatch");
  EXPECT_EQ(inspection.segments[0].records, 2u);
  // The index entry pointing at the damaged record is explained by it.
  EXPECT_EQ(inspection.segments[0].index_entries, 3u);
}

TEST_F(LogInspectorTest, EnvelopeThatDoesNotDecode) {
  const std::vector<uint64_t> pos =
      WriteSegment(0, {{0, 1, 0, "a"}, {1, 2, 0x80, "b"}, {2, 3, 0, "c"}});
  ExpectOneProblem(Inspect(), Store(0), pos[1], wal::ProblemKind::kBadEnvelope, "unknown flag bits");
}

TEST_F(LogInspectorTest, OffsetsNotContiguousWithinASegment) {
  const std::vector<uint64_t> pos =
      WriteSegment(0, {{0, 1, 0, "a"}, {1, 2, 0, "b"}, {5, 3, 0, "c"}});
  ExpectOneProblem(Inspect(), Store(0), pos[2],
                   wal::ProblemKind::kWrongOffset,
                   "record carries offset 5, expected 2");
}

TEST_F(LogInspectorTest, TimestampGoingBackwards) {
  const std::vector<uint64_t> pos =
      WriteSegment(0, {{0, 10, 0, "a"}, {1, 5, 0, "b"}});
  ExpectOneProblem(Inspect(), Store(0), pos[1],
                   wal::ProblemKind::kTimestampBackwards,
                   "timestamp 5, earlier than the previous record's 10");
}

TEST_F(LogInspectorTest, TornTailIsReportedOnce) {
  WriteLog({"a", "bb", "ccc"});
  Truncate(Store(0), kPos2 + 10);
  const LogInspection inspection = Inspect();
  ExpectOneProblem(inspection, Store(0), kPos2,
                   wal::ProblemKind::kTornTail,
                   "torn tail: 10 bytes after the last valid record");
  EXPECT_EQ(inspection.segments[0].records, 2u);
  EXPECT_EQ(inspection.segments[0].valid_end, kPos2);
}

// The inspector's verdict on what Log::Open does comes from Open's own rules
// (wal/segment_recovery.h): a torn tail of the newest segment is cut, the
// same one in an older segment fails the open, and Open then does exactly
// what the verdict said.
TEST_F(LogInspectorTest, OpenVerdictAgreesWithLogOpen) {
  WriteLog({"a", "bb", "ccc"});
  Truncate(Store(0), kPos2 + 10);
  const LogInspection newest = Inspect();
  ASSERT_EQ(newest.segments.size(), 1u);
  EXPECT_OK(newest.segments[0].open_verdict);
  EXPECT_EQ(newest.segments[0].open_keeps, 2u);
  EXPECT_EQ(newest.segments[0].open_cuts, 10u);
  EXPECT_THAT(newest.problems[0].description,
              HasSubstr("Log::Open cuts it"));
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Log> log, Log::Open(dir_, options_));
    EXPECT_EQ(log->NextOffset(), 2u);
    EXPECT_EQ(log->recovery_report().torn_bytes_cut, 10u);
    ASSERT_OK(log->Close());
  }

  // The same tail in a segment that is no longer the newest.
  const std::string torn = Contents(Store(0)) + std::string(10, 'x');
  WriteSegment(2, {{2, 100, 0, "d"}});
  SetContents(Store(0), torn);
  const LogInspection older = Inspect();
  ASSERT_EQ(older.segments.size(), 2u);
  EXPECT_EQ(older.segments[0].open_verdict.code(),
            absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(older.segments[0].open_verdict.message()),
              HasSubstr(Store(0)));
  EXPECT_OK(older.segments[1].open_verdict);
  EXPECT_EQ(older.segments[1].open_keeps, 1u);
  EXPECT_THAT(older.problems[0].description,
              HasSubstr("Log::Open refuses the segment"));
  absl::StatusOr<std::unique_ptr<Log>> refused = Log::Open(dir_, options_);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(refused.status().message(), older.segments[0].open_verdict.message());

  // Skip mode accepts it, cutting nothing from the older segment.
  InspectOptions skip;
  skip.recovery_mode = RecoveryMode::kSkipAnyCorruptedRecords;
  const LogInspection skipped = Inspect(skip);
  EXPECT_OK(skipped.segments[0].open_verdict);
  EXPECT_EQ(skipped.segments[0].open_keeps, 2u);
}

TEST_F(LogInspectorTest, IncompleteBatchAtTheEnd) {
  const std::vector<uint64_t> pos = WriteSegment(
      0, {{0, 1, 0, "a"}, {1, 2, kBatchContinues, "b"}, {2, 2, kBatchContinues, "c"}});
  ExpectOneProblem(Inspect(), Store(0), pos[1],
                   wal::ProblemKind::kIncompleteBatch,
                   "incomplete batch: the last 2 records (from offset 1)");
}

// ---- index trouble ----

TEST_F(LogInspectorTest, IndexPointingPastTheStore) {
  WriteLog({"a", "bb", "ccc"});
  Truncate(Store(0), kPos2);  // the last record is gone entirely
  ExpectOneProblem(Inspect(), IndexFile(0), 2 * kIndexEntrySize,
                   wal::ProblemKind::kIndexMismatch,
                   "index entry 2 does not match the store: it points at "
                   "position 51, where no valid record starts");
}

TEST_F(LogInspectorTest, IndexBehindTheStore) {
  WriteLog({"a", "bb", "ccc"});
  Truncate(IndexFile(0), 2 * kIndexEntrySize);
  const LogInspection inspection = Inspect();
  ExpectOneProblem(inspection, IndexFile(0), 2 * kIndexEntrySize,
                   wal::ProblemKind::kIndexBehind,
                   "index has 2 entries but the store holds 3 records");
  EXPECT_TRUE(inspection.segments[0].index_sealed);
}

TEST_F(LogInspectorTest, IndexEntryWithWrongRelativeOffset) {
  WriteLog({"a", "bb", "ccc"});
  std::string index = Contents(IndexFile(0));
  EncodeFixed32(index.data() + kIndexEntrySize, 7);
  SetContents(IndexFile(0), index);
  ExpectOneProblem(Inspect(), IndexFile(0), kIndexEntrySize,
                   wal::ProblemKind::kIndexMismatch,
                   "index entry 1 does not match the store: it holds relative "
                   "offset 7");
}

TEST_F(LogInspectorTest, IndexEntryPointingAtTheWrongRecord) {
  WriteLog({"a", "bb", "ccc"});
  std::string index = Contents(IndexFile(0));
  EncodeFixed64(index.data() + kIndexEntrySize + 4, kPos2);
  SetContents(IndexFile(0), index);
  ExpectOneProblem(Inspect(), IndexFile(0), kIndexEntrySize,
                   wal::ProblemKind::kIndexMismatch,
                   "it points at position 51, the record carrying offset 2");
}

TEST_F(LogInspectorTest, IndexEndingInAPartialEntry) {
  WriteLog({"a", "bb", "ccc"});
  SetContents(IndexFile(0), Contents(IndexFile(0)) + "\x01\x02\x03");
  ExpectOneProblem(Inspect(), IndexFile(0), 3 * kIndexEntrySize,
                   wal::ProblemKind::kIndexPartialEntry,
                   "partial entry of 3 bytes");
}

TEST_F(LogInspectorTest, MissingIndex) {
  WriteLog({"a", "bb", "ccc"});
  ASSERT_OK(fs_->RemoveFile(IndexFile(0)));
  const LogInspection inspection = Inspect();
  ExpectOneProblem(inspection, IndexFile(0), 0, wal::ProblemKind::kIndexMissing, "index file is missing");
  EXPECT_FALSE(inspection.segments[0].has_index);
}

TEST_F(LogInspectorTest, OlderSegmentWithUnsealedIndex) {
  WriteThreeSegments();
  SetContents(IndexFile(0),
              Contents(IndexFile(0)) + std::string(kIndexEntrySize, '\0'));
  ExpectOneProblem(Inspect(), IndexFile(0), 2 * kIndexEntrySize,
                   wal::ProblemKind::kIndexNotSealed,
                   "index is not sealed");
}

TEST_F(LogInspectorTest, IndexWithoutStore) {
  WriteLog({"a"});
  const std::string stray = JoinPath(dir_, SegmentFileName(42, kIndexSuffix));
  SetContents(stray, std::string(kIndexEntrySize, '\0'));
  ExpectOneProblem(Inspect(), stray, 0, wal::ProblemKind::kOrphanIndex, "index without a store");
}

// ---- the directory ----

TEST_F(LogInspectorTest, GapBetweenSegments) {
  WriteThreeSegments();
  ASSERT_OK(fs_->RemoveFile(Store(2)));
  ASSERT_OK(fs_->RemoveFile(IndexFile(2)));
  ExpectOneProblem(Inspect(), Store(4), 0, wal::ProblemKind::kOffsetGap, "offsets 2 to 3 are missing");
}

TEST_F(LogInspectorTest, OverlappingSegments) {
  WriteSegment(0, {{0, 1, 0, "a"}, {1, 2, 0, "b"}});
  WriteSegment(1, {{1, 3, 0, "b"}});
  ExpectOneProblem(Inspect(), Store(1), 0,
                   wal::ProblemKind::kOffsetOverlap,
                   "segment starts at offset 1 but the previous segment holds "
                   "offsets up to 1");
}

// A truncation file as Log writes it: the offset and its masked CRC32C.
std::string TruncationFile(uint64_t offset) {
  std::string data;
  PutFixed64(&data, offset);
  PutFixed32(&data, crc32c::Mask(crc32c::Value(data)));
  return data;
}

TEST_F(LogInspectorTest, InterruptedTruncation) {
  WriteLog({"a"});
  SetContents(JoinPath(dir_, "TRUNCATE_SUFFIX"), TruncationFile(0));
  ExpectOneProblem(Inspect(), JoinPath(dir_, "TRUNCATE_SUFFIX"), 0,
                   wal::ProblemKind::kInterruptedTruncation,
                   "truncation was interrupted");
}

// A Reset's intent is a file of the log, not a stray: an interrupted Reset,
// with the offset the log continues at; damaged, it says so too.
TEST_F(LogInspectorTest, InterruptedReset) {
  WriteLog({"a"});
  const std::string path = JoinPath(dir_, "RESET");
  SetContents(path, TruncationFile(7));
  LogInspection inspection = Inspect();
  EXPECT_THAT(inspection.stray_files, IsEmpty());
  EXPECT_EQ(inspection.records, 1u);
  ExpectOneProblem(inspection, path, 0, wal::ProblemKind::kInterruptedTruncation,
                   "a reset was interrupted by a crash; the next Log::Open "
                   "finishes it: it drops every record and the log continues "
                   "at offset 7");
  SetContents(path, "garbage");
  inspection = Inspect();
  ASSERT_EQ(inspection.problems.size(), 2u);
  EXPECT_EQ(inspection.problems[1].kind, wal::ProblemKind::kBadTruncationFile);
  EXPECT_EQ(inspection.problems[1].file, path);
  EXPECT_THAT(inspection.problems[1].description,
              HasSubstr("truncation intent file is damaged (7 bytes)"));
}

TEST_F(LogInspectorTest, DamagedTruncationFile) {
  WriteLog({"a"});
  SetContents(JoinPath(dir_, "LAST_TRUNCATION"), std::string(12, '\0'));
  ExpectOneProblem(Inspect(), JoinPath(dir_, "LAST_TRUNCATION"), 0,
                   wal::ProblemKind::kBadTruncationFile,
                   "truncation intent file is damaged (12 bytes)");
}

TEST_F(LogInspectorTest, BatchEndedByTruncationIsWhole) {
  // Records 0..2 carry kBatchContinues (a batch of 5 cut by TruncateSuffix(2)):
  // with LAST_TRUNCATION at 3 (the first offset removed) they are whole;
  // without it, an incomplete batch.
  ASSERT_OK(fs_->CreateDir(dir_));
  ASSERT_OK_AND_ASSIGN(auto file, fs_->NewWritableFile(JoinPath(dir_, SegmentFileName(0, kStoreSuffix))));
  wal::BlockWriter writer(file.get());
  for (uint64_t i = 0; i < 3; ++i) {
    std::string payload;
    EncodeRecord(i, 1000, kBatchContinues, "v", &payload);
    ASSERT_OK(writer.AddRecord(payload));
  }
  ASSERT_OK(file->Close());
  ASSERT_OK_AND_ASSIGN(LogInspection before, InspectLog(fs_.get(), dir_, InspectOptions()));
  bool incomplete = false;
  for (const LogProblem& p : before.problems) {
    incomplete |= p.kind == wal::ProblemKind::kIncompleteBatch;
  }
  EXPECT_TRUE(incomplete);
  SetContents(JoinPath(dir_, "LAST_TRUNCATION"), TruncationFile(3));
  ASSERT_OK_AND_ASSIGN(LogInspection after, InspectLog(fs_.get(), dir_, InspectOptions()));
  for (const LogProblem& p : after.problems) {
    EXPECT_NE(wal::ProblemKindName(p.kind),
              wal::ProblemKindName(wal::ProblemKind::kIncompleteBatch));
  }
}

// ---- ForEachRecord, ReadRecordValue, FindOffsetRange ----

std::vector<std::string> Visit(FileSystem* fs, const std::string& dir,
                               uint64_t from, size_t limit, absl::Status* status) {
  std::vector<std::string> seen;
  *status = ForEachRecord(fs, dir, from,
                          [&](const RecordLocation& loc, const Record& r) {
                            seen.push_back(absl::StrCat(r.offset, "@",
                                                        loc.base_offset, ":",
                                                        loc.position, "=",
                                                        r.value));
                            return seen.size() < limit;
                          });
  return seen;
}

TEST_F(LogInspectorTest, ForEachRecordStartsAtTheOffsetAndCrossesSegments) {
  WriteThreeSegments();
  absl::Status s;
  EXPECT_THAT(Visit(fs_.get(), dir_, 1, 100, &s),
              ElementsAre("1@0:25=b", "2@2:0=c", "3@2:25=d", "4@4:0=e"));
  EXPECT_OK(s);
  EXPECT_THAT(Visit(fs_.get(), dir_, 3, 100, &s), ElementsAre("3@2:25=d", "4@4:0=e"));
  EXPECT_THAT(Visit(fs_.get(), dir_, 5, 100, &s), IsEmpty());
  EXPECT_THAT(Visit(fs_.get(), dir_, 0, 2, &s), ElementsAre("0@0:0=a", "1@0:25=b"));
  EXPECT_OK(s);
}

TEST_F(LogInspectorTest, ForEachRecordWithoutIndexScans) {
  WriteThreeSegments();
  ASSERT_OK(fs_->RemoveFile(IndexFile(2)));
  absl::Status s;
  EXPECT_THAT(Visit(fs_.get(), dir_, 3, 100, &s), ElementsAre("3@2:25=d", "4@4:0=e"));
  EXPECT_OK(s);
}

TEST_F(LogInspectorTest, ForEachRecordSkipsDamageAndReportsIt) {
  WriteThreeSegments();
  FlipByte(Store(0), kPos1 + kHeaderSize + 3);
  absl::Status s;
  EXPECT_THAT(Visit(fs_.get(), dir_, 0, 100, &s),
              ElementsAre("0@0:0=a", "2@2:0=c", "3@2:25=d", "4@4:0=e"));
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kDataLoss,
                          HasSubstr(Store(0) + ": checksum mismatch at position 25")));
}

std::string ValueOrError(const absl::StatusOr<std::string>& value) {
  return value.ok() ? *value : "error: " + value.status().ToString();
}

TEST_F(LogInspectorTest, ReadRecordValueThroughIndexOrScan) {
  WriteThreeSegments();
  EXPECT_EQ(ValueOrError(ReadRecordValue(fs_.get(), dir_, 3)), "d");
  ASSERT_OK(fs_->RemoveFile(IndexFile(2)));
  EXPECT_EQ(ValueOrError(ReadRecordValue(fs_.get(), dir_, 3)), "d");
  EXPECT_EQ(ValueOrError(ReadRecordValue(fs_.get(), dir_, 0)), "a");
}

TEST_F(LogInspectorTest, ReadRecordValueOutOfRangeNamesTheRange) {
  WriteThreeSegments();
  EXPECT_THAT(ReadRecordValue(fs_.get(), dir_, 5),
              StatusIs(absl::StatusCode::kOutOfRange,
                       HasSubstr("is outside the log's range [0, 5)")));
}

TEST_F(LogInspectorTest, ReadRecordValueOfEmptyLogSaysEmpty) {
  WriteLog({});
  EXPECT_THAT(ReadRecordValue(fs_.get(), dir_, 0),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("empty")));
}

TEST_F(LogInspectorTest, ReadRecordValueOfDamagedRecordIsDataLoss) {
  WriteThreeSegments();
  FlipByte(Store(0), kPos1 + kHeaderSize + 3);
  EXPECT_THAT(ReadRecordValue(fs_.get(), dir_, 1),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("offset 1")));
}

TEST_F(LogInspectorTest, FindOffsetRangeCountsTheLastSegment) {
  WriteThreeSegments();
  ASSERT_OK_AND_ASSIGN(OffsetRange range, FindOffsetRange(fs_.get(), dir_));
  EXPECT_EQ(range.first, 0u);
  EXPECT_EQ(range.next, 5u);
  // The index is not trusted past the store: a torn last record is not counted.
  Truncate(Store(4), 10);
  ASSERT_OK_AND_ASSIGN(range, FindOffsetRange(fs_.get(), dir_));
  EXPECT_EQ(range.next, 4u);
}

TEST_F(LogInspectorTest, FindOffsetRangeCountsRecordsTheIndexMisses) {
  WriteLog({"a", "bb", "ccc"});
  Truncate(IndexFile(0), kIndexEntrySize);
  ASSERT_OK_AND_ASSIGN(OffsetRange range, FindOffsetRange(fs_.get(), dir_));
  EXPECT_EQ(range.next, 3u);
}

}  // namespace
}  // namespace blockwal::wal
