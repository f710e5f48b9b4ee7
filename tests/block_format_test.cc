// Tests for the block format: BlockWriter, BlockReader and ReadRecordAt.
//
// Every test writes real records with BlockWriter into an in-memory string,
// then edits bytes to produce exactly the damage it is about, so each
// corruption outcome in the table of wal/block_reader.h is pinned down: which
// records come back, and which (position, bytes, reason) reports are made.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "blockwal/util/coding.h"
#include "blockwal/util/crc32c.h"
#include "blockwal/util/file_system.h"
#include "blockwal/wal/block_reader.h"
#include "blockwal/wal/block_writer.h"
#include "blockwal/wal/format.h"

namespace blockwal::wal {
namespace {

using ::blockwal::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr uint64_t kB = kBlockSize;
constexpr uint64_t kH = kHeaderSize;
const std::string kPath = "mem/000007.log";

// Returns exactly n bytes made by repeating `partial`.
std::string BigString(absl::string_view partial, size_t n) {
  std::string result;
  result.reserve(n + partial.size());
  while (result.size() < n) result.append(partial.data(), partial.size());
  result.resize(n);
  return result;
}

std::string NumberString(int n) { return absl::StrCat(n, "."); }

// A payload whose length is skewed towards small values but reaches several
// blocks, with content that differs between records.
std::string RandomSkewedString(int i, std::mt19937* rnd) {
  const int bits = static_cast<int>((*rnd)() % 18);  // up to 4 blocks
  const size_t len = (*rnd)() % (size_t{1} << bits);
  return BigString(NumberString(i), len);
}

// One Reporter::Corruption call.
struct Report {
  uint64_t position;
  uint64_t bytes;
  std::string reason;

  friend bool operator==(const Report& a, const Report& b) {
    return a.position == b.position && a.bytes == b.bytes &&
           a.reason == b.reason;
  }
  friend void PrintTo(const Report& r, std::ostream* os) {
    *os << "{position " << r.position << ", bytes " << r.bytes << ", \""
        << r.reason << "\"}";
  }
};

class RecordingReporter : public BlockReader::Reporter {
 public:
  void Corruption(uint64_t position, uint64_t bytes,
                  absl::string_view reason) override {
    reports.push_back(Report{position, bytes, std::string(reason)});
  }
  std::vector<Report> reports;
};

// Appends to a string the test owns. Append can be made to fail from the Nth
// call on, to test the writer's sticky errors.
class StringDest : public WritableFile {
 public:
  explicit StringDest(std::string* contents) : contents_(contents) {}

  absl::Status Append(absl::string_view data) override {
    ++append_calls_;
    if (fail_from_append_ > 0 && append_calls_ >= fail_from_append_) {
      return absl::ResourceExhaustedError(
          absl::StrCat(kPath, ": no space left on device"));
    }
    contents_->append(data.data(), data.size());
    return absl::OkStatus();
  }
  absl::Status Flush() override {
    ++flush_calls_;
    return absl::OkStatus();
  }
  absl::Status Sync() override {
    ++sync_calls_;
    return absl::OkStatus();
  }
  absl::Status Truncate(uint64_t size) override {
    contents_->resize(size, '\0');
    return absl::OkStatus();
  }
  uint64_t Size() const override { return contents_->size(); }
  absl::Status Close() override { return absl::OkStatus(); }
  const std::string& path() const override { return kPath; }

  // Append call number n (1-based) and every later one fail.
  void FailFromAppend(int n) { fail_from_append_ = n; }
  int flush_calls() const { return flush_calls_; }
  int sync_calls() const { return sync_calls_; }

 private:
  std::string* const contents_;
  int append_calls_ = 0;
  int fail_from_append_ = 0;
  int flush_calls_ = 0;
  int sync_calls_ = 0;
};

// Reads the string front to back, copying into the caller's scratch (as a
// real file does) so a reader that keeps a view past its validity trips ASan.
class StringSource : public SequentialFile {
 public:
  explicit StringSource(const std::string* contents) : contents_(contents) {}

  absl::StatusOr<absl::string_view> Read(size_t n, char* scratch) override {
    ++read_calls_;
    max_read_request_ = std::max(max_read_request_, n);
    if (force_error_) {
      force_error_ = false;
      return absl::UnavailableError(
          absl::StrCat(kPath, ": injected read error at ", pos_));
    }
    const size_t avail =
        pos_ >= contents_->size() ? 0 : contents_->size() - pos_;
    const size_t len = std::min(n, avail);
    std::copy_n(contents_->data() + pos_, len, scratch);
    pos_ += len;
    return absl::string_view(scratch, len);
  }

  absl::Status Skip(uint64_t n) override {
    if (force_skip_error_) {
      return absl::UnavailableError(absl::StrCat(kPath, ": injected skip error"));
    }
    pos_ += n;
    return absl::OkStatus();
  }

  const std::string& path() const override { return kPath; }

  // The next Read fails once.
  void ForceError() { force_error_ = true; }
  void ForceSkipError() { force_skip_error_ = true; }
  int read_calls() const { return read_calls_; }
  size_t max_read_request() const { return max_read_request_; }

 private:
  const std::string* const contents_;
  uint64_t pos_ = 0;
  bool force_error_ = false;
  bool force_skip_error_ = false;
  int read_calls_ = 0;
  size_t max_read_request_ = 0;
};

// Positional reads of the string. In "mapped" mode results point into the
// string itself, like a memory-mapped file; otherwise they are copied into
// scratch.
class StringRandomAccessFile : public RandomAccessFile {
 public:
  explicit StringRandomAccessFile(const std::string* contents, bool mapped)
      : contents_(contents), mapped_(mapped) {}

  absl::StatusOr<absl::string_view> Read(uint64_t offset, size_t n,
                                         char* scratch) const override {
    if (force_error_) {
      return absl::UnavailableError(
          absl::StrCat(kPath, ": injected read error at ", offset));
    }
    if (offset >= contents_->size()) return absl::string_view();
    const size_t len = std::min<uint64_t>(n, contents_->size() - offset);
    if (mapped_) return absl::string_view(contents_->data() + offset, len);
    std::copy_n(contents_->data() + offset, len, scratch);
    return absl::string_view(scratch, len);
  }
  absl::StatusOr<uint64_t> Size() const override { return contents_->size(); }
  const std::string& path() const override { return kPath; }

  void ForceError() { force_error_ = true; }

 private:
  const std::string* const contents_;
  const bool mapped_;
  bool force_error_ = false;
};

class BlockFormatTest : public ::testing::Test {
 protected:
  BlockFormatTest() { Reset(); }

  // Starts over with an empty file, a new writer and no reader.
  void Reset() {
    reader_.reset();
    writer_.reset();
    source_.reset();
    dest_.reset();
    contents_.clear();
    reporter_.reports.clear();
    verify_checksums_ = true;
    initial_offset_ = 0;
    start_ = BlockReader::Start::kResync;
    dest_ = std::make_unique<StringDest>(&contents_);
    writer_ = std::make_unique<BlockWriter>(dest_.get());
    source_ = std::make_unique<StringSource>(&contents_);
  }

  // Appends a record and returns its position.
  uint64_t Write(absl::string_view payload) {
    EXPECT_EQ(reader_, nullptr) << "write after reading started";
    absl::StatusOr<uint64_t> pos = writer_->AddRecord(payload);
    EXPECT_OK(pos);
    return pos.ok() ? *pos : ~uint64_t{0};
  }

  // A new writer continues the file as it is now (a process restart).
  void ReopenForAppend() {
    dest_ = std::make_unique<StringDest>(&contents_);
    writer_ = std::make_unique<BlockWriter>(dest_.get(), contents_.size());
  }

  uint64_t WrittenBytes() const { return contents_.size(); }

  void IncrementByte(size_t offset, int delta) {
    contents_.at(offset) = static_cast<char>(contents_.at(offset) + delta);
  }
  void SetByte(size_t offset, char c) { contents_.at(offset) = c; }
  void ShrinkSize(size_t bytes) {
    contents_.resize(contents_.size() - bytes);
  }
  // Recomputes the CRC of the fragment whose header is at header_offset and
  // whose payload is len bytes, so an edit of its type or payload passes the
  // checksum and reaches the later checks.
  void FixChecksum(size_t header_offset, size_t len) {
    const uint32_t crc =
        crc32c::Value(contents_.data() + header_offset + 6, 1 + len);
    EncodeFixed32(&contents_[header_offset], crc32c::Mask(crc));
  }

  void UseChecksums(bool verify) { verify_checksums_ = verify; }
  void StartReadingAt(uint64_t initial_offset,
                      BlockReader::Start start = BlockReader::Start::kResync) {
    initial_offset_ = initial_offset;
    start_ = start;
  }

  BlockReader* reader() {
    if (reader_ == nullptr) {
      reader_ = std::make_unique<BlockReader>(
          source_.get(), &reporter_, verify_checksums_, initial_offset_,
          start_);
    }
    return reader_.get();
  }

  // The next record, or "EOF".
  std::string Read() {
    std::string scratch;
    absl::string_view record;
    if (reader()->ReadRecord(&record, &scratch)) return std::string(record);
    return "EOF";
  }

  // Every remaining record.
  std::vector<std::string> ReadAll() {
    std::vector<std::string> records;
    std::string scratch;
    absl::string_view record;
    while (reader()->ReadRecord(&record, &scratch)) {
      records.emplace_back(record);
    }
    return records;
  }

  const std::vector<Report>& reports() const { return reporter_.reports; }
  uint64_t DroppedBytes() const {
    uint64_t total = 0;
    for (const Report& r : reporter_.reports) total += r.bytes;
    return total;
  }

  // The record at position, or the error as text (for EXPECT_EQ).
  std::string ReadPayloadAt(uint64_t position, bool mapped = false) {
    absl::StatusOr<std::string> record = ReadAt(position, mapped);
    return record.ok() ? *record : record.status().ToString();
  }

  absl::StatusOr<std::string> ReadAt(uint64_t position, bool mapped = false) {
    StringRandomAccessFile file(&contents_, mapped);
    std::string scratch;
    absl::StatusOr<absl::string_view> record =
        ReadRecordAt(file, position, &scratch);
    if (!record.ok()) return record.status();
    return std::string(*record);
  }

  std::string contents_;
  std::unique_ptr<StringDest> dest_;
  std::unique_ptr<BlockWriter> writer_;
  std::unique_ptr<StringSource> source_;
  RecordingReporter reporter_;
  bool verify_checksums_ = true;
  uint64_t initial_offset_ = 0;
  BlockReader::Start start_ = BlockReader::Start::kResync;
  std::unique_ptr<BlockReader> reader_;
};

// ---------------------------------------------------------------------------
// Round trips

TEST_F(BlockFormatTest, EmptyFileReadsNothing) {
  EXPECT_EQ(Read(), "EOF");
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), IsEmpty());
  EXPECT_OK(reader()->status());
  EXPECT_EQ(reader()->last_record_end(), 0u);
}

TEST_F(BlockFormatTest, EmptyRecordIsOneHeader) {
  EXPECT_EQ(Write(""), 0u);
  EXPECT_EQ(WrittenBytes(), kH);
  EXPECT_EQ(writer_->position(), kH);
  EXPECT_EQ(Read(), "");
  EXPECT_EQ(reader()->last_record_offset(), 0u);
  EXPECT_EQ(reader()->last_record_end(), kH);
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), IsEmpty());
}

TEST_F(BlockFormatTest, ReadWriteSmallRecords) {
  Write("foo");
  Write("bar");
  Write("");
  Write("xxxx");
  EXPECT_EQ(Read(), "foo");
  EXPECT_EQ(Read(), "bar");
  EXPECT_EQ(Read(), "");
  EXPECT_EQ(Read(), "xxxx");
  EXPECT_EQ(Read(), "EOF");
  EXPECT_EQ(Read(), "EOF");  // stays at the end
  EXPECT_THAT(reports(), IsEmpty());
}

TEST_F(BlockFormatTest, ManyBlocks) {
  constexpr int kCount = 100000;
  for (int i = 0; i < kCount; ++i) Write(NumberString(i));
  ASSERT_GT(WrittenBytes(), 10 * kB);
  for (int i = 0; i < kCount; ++i) ASSERT_EQ(Read(), NumberString(i));
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), IsEmpty());
}

TEST_F(BlockFormatTest, Fragmentation) {
  Write("small");
  Write(BigString("medium", 50000));
  Write(BigString("large", 100000));
  EXPECT_EQ(Read(), "small");
  EXPECT_EQ(Read(), BigString("medium", 50000));
  EXPECT_EQ(Read(), BigString("large", 100000));
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), IsEmpty());
}

TEST_F(BlockFormatTest, MarginalTrailerTakesEmptyRecord) {
  // Leave exactly one header's worth of space: an empty record fits there.
  const size_t n = kB - 2 * kH;
  EXPECT_EQ(Write(BigString("foo", n)), 0u);
  ASSERT_EQ(WrittenBytes(), kB - kH);
  EXPECT_EQ(Write(""), kB - kH);
  EXPECT_EQ(WrittenBytes(), kB);
  EXPECT_EQ(Write("bar"), kB);
  EXPECT_EQ(static_cast<uint8_t>(contents_[kB - kH + 6]), kFullType);
  EXPECT_EQ(Read(), BigString("foo", n));
  EXPECT_EQ(Read(), "");
  EXPECT_EQ(Read(), "bar");
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), IsEmpty());
}

TEST_F(BlockFormatTest, MarginalTrailerSplitsNextRecordWithEmptyFirst) {
  const size_t n = kB - 2 * kH;
  Write(BigString("foo", n));
  ASSERT_EQ(WrittenBytes(), kB - kH);
  // A non-empty record starts with an empty FIRST in the last 7 bytes.
  EXPECT_EQ(Write("bar"), kB - kH);
  EXPECT_EQ(WrittenBytes(), kB + kH + 3);
  EXPECT_EQ(DecodeFixed16(&contents_[kB - kH + 4]), 0u);
  EXPECT_EQ(static_cast<uint8_t>(contents_[kB - kH + 6]), kFirstType);
  EXPECT_EQ(DecodeFixed16(&contents_[kB + 4]), 3u);
  EXPECT_EQ(static_cast<uint8_t>(contents_[kB + 6]), kLastType);
  EXPECT_EQ(contents_.substr(kB + kH), "bar");

  EXPECT_EQ(Read(), BigString("foo", n));
  EXPECT_EQ(Read(), "bar");
  EXPECT_EQ(reader()->last_record_offset(), kB - kH);
  EXPECT_EQ(reader()->last_record_end(), kB + kH + 3);
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), IsEmpty());
}

TEST_F(BlockFormatTest, ShortTrailerIsZeroFilled) {
  const size_t n = kB - 2 * kH + 4;
  Write(BigString("foo", n));
  ASSERT_EQ(WrittenBytes(), kB - 3);
  // Three bytes left: too few for a header, so they become zeros and the
  // record starts the next block.
  EXPECT_EQ(Write(""), kB);
  EXPECT_EQ(contents_.substr(kB - 3, 3), std::string(3, '\0'));
  EXPECT_EQ(WrittenBytes(), kB + kH);
  EXPECT_EQ(Write("bar"), kB + kH);
  EXPECT_EQ(Read(), BigString("foo", n));
  EXPECT_EQ(Read(), "");
  EXPECT_EQ(reader()->last_record_offset(), kB);
  EXPECT_EQ(Read(), "bar");
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), IsEmpty());
}

TEST_F(BlockFormatTest, EveryShortTrailerLengthIsPadded) {
  for (uint64_t left = 1; left < kH; ++left) {
    SCOPED_TRACE(absl::StrCat(left, " bytes left in the block"));
    Reset();
    Write(BigString("a", kB - kH - left));
    ASSERT_EQ(WrittenBytes(), kB - left);
    EXPECT_EQ(Write("next"), kB);
    EXPECT_EQ(contents_.substr(kB - left, left), std::string(left, '\0'));
    EXPECT_EQ(Read(), BigString("a", kB - kH - left));
    EXPECT_EQ(Read(), "next");
    EXPECT_EQ(reader()->last_record_offset(), kB);
    EXPECT_EQ(Read(), "EOF");
    EXPECT_THAT(reports(), IsEmpty());
  }
}

TEST_F(BlockFormatTest, EndOfFileInsideTrailerZone) {
  // The file ends 3 bytes short of a block: no padding has been written yet.
  const size_t n = kB - 2 * kH + 4;
  Write(BigString("foo", n));
  ASSERT_EQ(WrittenBytes(), kB - 3);
  EXPECT_EQ(Read(), BigString("foo", n));
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), IsEmpty());
}

TEST_F(BlockFormatTest, AlignedEndOfFile) {
  // A record that fills a block ends exactly on the boundary.
  Write(BigString("foo", kB - kH));
  ASSERT_EQ(WrittenBytes(), kB);
  EXPECT_EQ(static_cast<uint8_t>(contents_[6]), kFullType);
  EXPECT_EQ(Read(), BigString("foo", kB - kH));
  EXPECT_EQ(reader()->last_record_end(), kB);
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), IsEmpty());
}

TEST_F(BlockFormatTest, RecordAfterAlignedEndStartsNextBlock) {
  Write(BigString("foo", kB - kH));
  EXPECT_EQ(Write("bar"), kB);
  EXPECT_EQ(WrittenBytes(), kB + kH + 3);
  EXPECT_EQ(Read(), BigString("foo", kB - kH));
  EXPECT_EQ(Read(), "bar");
  EXPECT_EQ(Read(), "EOF");
}

// A file of exactly `length` bytes of valid FULL records (length is 0 or at
// least kHeaderSize past each block boundary it crosses).
void WriteLogOfLength(BlockWriter* writer, uint64_t length) {
  while (writer->position() < length) {
    const uint64_t left = length - writer->position();
    const uint64_t block_left = kB - writer->position() % kB;
    const uint64_t payload = std::min(left, block_left) - kH;
    ASSERT_OK(writer->AddRecord(BigString("p", payload)));
  }
  ASSERT_EQ(writer->position(), length);
}

TEST_F(BlockFormatTest, OpenForAppendAtEveryInterestingLength) {
  const uint64_t lengths[] = {
      0,      10,     kB - kH - 1, kB - kH, kB - 6,      kB - 5,
      kB - 4, kB - 3, kB - 2,      kB - 1,  kB,          kB + 10,
      kB + kH, 2 * kB - kH, 2 * kB - 1, 2 * kB, 3 * kB + 100,
  };
  for (uint64_t length : lengths) {
    SCOPED_TRACE(absl::StrCat("existing length ", length));
    Reset();
    WriteLogOfLength(writer_.get(), length);
    std::vector<std::string> expected;
    {
      StringSource src(&contents_);
      BlockReader before(&src, nullptr);
      std::string scratch;
      absl::string_view record;
      while (before.ReadRecord(&record, &scratch)) expected.emplace_back(record);
    }

    ReopenForAppend();
    // A record can start anywhere except in a trailer (fewer than 7 bytes
    // left), where the writer first pads to the next block.
    const uint64_t in_block = length % kB;
    const uint64_t first_position =
        in_block > kB - kH ? length + (kB - in_block) : length;
    EXPECT_EQ(Write("world"), first_position);
    const uint64_t big_position = writer_->position();
    EXPECT_EQ(Write(BigString("big", 40000)), big_position);
    expected.push_back("world");
    expected.push_back(BigString("big", 40000));

    EXPECT_EQ(ReadAll(), expected);
    EXPECT_EQ(reader()->last_record_offset(), big_position);
    EXPECT_EQ(reader()->last_record_end(), WrittenBytes());
    EXPECT_THAT(reports(), IsEmpty());
    EXPECT_EQ(ReadPayloadAt(first_position), "world");
  }
}

TEST_F(BlockFormatTest, RandomReadRoundTrip) {
  constexpr int kCount = 500;
  std::mt19937 write_rnd(301);
  std::vector<uint64_t> positions;
  for (int i = 0; i < kCount; ++i) {
    positions.push_back(Write(RandomSkewedString(i, &write_rnd)));
  }
  ASSERT_GT(WrittenBytes(), 20 * kB);
  std::mt19937 read_rnd(301);
  std::string scratch;
  absl::string_view record;
  for (int i = 0; i < kCount; ++i) {
    const std::string expected = RandomSkewedString(i, &read_rnd);
    ASSERT_TRUE(reader()->ReadRecord(&record, &scratch)) << "record " << i;
    ASSERT_EQ(record, expected) << "record " << i;
    ASSERT_EQ(reader()->last_record_offset(), positions[i]) << "record " << i;
    ASSERT_EQ(ReadPayloadAt(positions[i]), expected) << "record " << i;
  }
  EXPECT_FALSE(reader()->ReadRecord(&record, &scratch));
  EXPECT_EQ(reader()->last_record_end(), WrittenBytes());
  EXPECT_THAT(reports(), IsEmpty());
}

// ---------------------------------------------------------------------------
// Golden bytes: the layout LevelDB and RocksDB read.

std::string ExpectedHeader(uint8_t type, absl::string_view payload) {
  std::string typed(1, static_cast<char>(type));
  typed.append(payload.data(), payload.size());
  char header[kHeaderSize];
  EncodeFixed32(header, crc32c::Mask(crc32c::Value(typed)));
  EncodeFixed16(header + 4, static_cast<uint16_t>(payload.size()));
  header[6] = static_cast<char>(type);
  return std::string(header, kHeaderSize);
}

TEST_F(BlockFormatTest, GoldenBytesOfEmptyRecord) {
  Write("");
  EXPECT_EQ(contents_, ExpectedHeader(kFullType, ""));
  // Length and type bytes, literally.
  EXPECT_EQ(contents_.substr(4), std::string("\x00\x00\x01", 3));
}

TEST_F(BlockFormatTest, GoldenBytesOfFoo) {
  Write("foo");
  EXPECT_EQ(contents_, ExpectedHeader(kFullType, "foo") + "foo");
  EXPECT_EQ(contents_.substr(4), std::string("\x03\x00\x01" "foo", 6));
  // The CRC covers the type byte and the payload, not the length.
  EXPECT_EQ(crc32c::Unmask(DecodeFixed32(contents_.data())),
            crc32c::Value(std::string("\x01" "foo", 4)));
}

TEST_F(BlockFormatTest, GoldenBytesOfFragmentedRecord) {
  const std::string payload = BigString("frag", 2 * kB);
  Write(payload);
  const size_t first = kB - kH;
  const size_t middle = kB - kH;
  const size_t last = payload.size() - first - middle;
  const std::string expected =
      ExpectedHeader(kFirstType, payload.substr(0, first)) +
      payload.substr(0, first) +
      ExpectedHeader(kMiddleType, payload.substr(first, middle)) +
      payload.substr(first, middle) +
      ExpectedHeader(kLastType, payload.substr(first + middle)) +
      payload.substr(first + middle);
  ASSERT_EQ(last, 14u);
  EXPECT_EQ(contents_, expected);
}

TEST_F(BlockFormatTest, GoldenPositionsAroundBlockBoundaries) {
  // Block 0: a record leaving 17 bytes, one leaving 7, an empty one at the
  // marginal trailer.
  EXPECT_EQ(Write(BigString("a", kB - kH - 17)), 0u);
  EXPECT_EQ(Write("bcd"), kB - 17);
  EXPECT_EQ(Write(""), kB - kH);
  // Block 1: starts aligned; a record leaving 3 bytes (padded by the next).
  EXPECT_EQ(Write("e"), kB);
  EXPECT_EQ(Write(BigString("f", kB - 2 * kH - 1 - 3)), kB + kH + 1);
  ASSERT_EQ(WrittenBytes(), 2 * kB - 3);
  EXPECT_EQ(Write("g"), 2 * kB);
  // Block 2-4: a record over three blocks.
  EXPECT_EQ(Write(BigString("h", 2 * kB)), 2 * kB + kH + 1);
  const uint64_t h_first = kB - (kH + 1) - kH;  // payload in block 2
  const uint64_t h_last = 2 * kB - h_first - (kB - kH);
  EXPECT_EQ(WrittenBytes(), 4 * kB + kH + h_last);
  EXPECT_EQ(Write("i"), 4 * kB + kH + h_last);

  const std::vector<std::string> expected = {
      BigString("a", kB - kH - 17), "bcd", "", "e",
      BigString("f", kB - 2 * kH - 1 - 3), "g", BigString("h", 2 * kB), "i"};
  EXPECT_EQ(ReadAll(), expected);
  EXPECT_THAT(reports(), IsEmpty());
}

// ---------------------------------------------------------------------------
// Damage

TEST_F(BlockFormatTest, ReadErrorIsReportedAndEndsReading) {
  Write("foo");
  source_->ForceError();
  EXPECT_EQ(Read(), "EOF");
  const std::string message = absl::StrCat(kPath, ": injected read error at 0");
  EXPECT_THAT(reports(), ElementsAre(Report{0, kB, message}));
  EXPECT_THAT(reader()->status(),
              StatusIs(absl::StatusCode::kUnavailable, message));
  EXPECT_EQ(Read(), "EOF");
}

TEST_F(BlockFormatTest, ReadErrorInLaterBlockDropsOpenRecord) {
  Write(BigString("x", kB - kH));  // fills block 0
  Write(BigString("y", kB));       // FIRST in block 1, LAST in block 2
  EXPECT_EQ(Read(), BigString("x", kB - kH));
  source_->ForceError();
  EXPECT_EQ(Read(), "EOF");
  const std::string message =
      absl::StrCat(kPath, ": injected read error at ", kB);
  EXPECT_THAT(reports(), ElementsAre(Report{kB, kB, message}));
  EXPECT_THAT(reader()->status(), StatusIs(absl::StatusCode::kUnavailable));
}

// An I/O error is not damage before the initial offset: the caller must hear
// of it even when it happens while reading the block the offset falls in.
TEST_F(BlockFormatTest, ReadErrorAfterInitialOffsetIsReported) {
  Write("foo");
  Write("bar");
  StartReadingAt(kH + 3);
  source_->ForceError();
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reader()->status(), StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_EQ(reports().size(), 1u);
  EXPECT_EQ(reports()[0].reason,
            absl::StrCat(kPath, ": injected read error at 0"));
}

TEST_F(BlockFormatTest, SkipErrorIsReported) {
  Write(BigString("a", 3 * kB));
  Write("bar");
  StartReadingAt(2 * kB + 100);
  source_->ForceSkipError();
  EXPECT_EQ(Read(), "EOF");
  const std::string message = absl::StrCat(kPath, ": injected skip error");
  EXPECT_THAT(reader()->status(),
              StatusIs(absl::StatusCode::kUnavailable, message));
  ASSERT_EQ(reports().size(), 1u);
  EXPECT_EQ(reports()[0].reason, message);
}

TEST_F(BlockFormatTest, BadRecordTypeIsReported) {
  Write("foo");
  Write("bar");
  SetByte(6, 99);
  FixChecksum(0, 3);
  EXPECT_EQ(Read(), "bar");
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), ElementsAre(Report{0, kH + 3, "unknown record type"}));
}

TEST_F(BlockFormatTest, RecyclableTypesAreUnknown) {
  // RocksDB's recyclable types 5..8 are not part of the format we read; like
  // any other unknown type they are reported and reading goes on. (Type bytes
  // 5 and 6 must not be confused with the reader's own end-of-file and
  // bad-record outcomes.)
  for (int type = 5; type <= 8; ++type) {
    SCOPED_TRACE(absl::StrCat("type ", type));
    Reset();
    Write("foo");
    Write("bar");
    SetByte(6, static_cast<char>(type));
    FixChecksum(0, 3);
    EXPECT_EQ(Read(), "bar");
    EXPECT_EQ(Read(), "EOF");
    EXPECT_THAT(reports(),
                ElementsAre(Report{0, kH + 3, "unknown record type"}));
  }
}

TEST_F(BlockFormatTest, UnknownTypeInsideFragmentDropsBoth) {
  Write(BigString("a", kB));  // FIRST 32761 bytes, LAST 7 bytes at kB
  Write("after");
  SetByte(kB + 6, 77);
  FixChecksum(kB, 7);
  EXPECT_EQ(Read(), "after");
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), ElementsAre(Report{0, kH + 7 + (kB - kH),
                                            "unknown record type"}));
}

TEST_F(BlockFormatTest, TruncatedTrailingRecordIsIgnored) {
  Write("foo");
  ShrinkSize(4);  // all the payload and one header byte
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), IsEmpty());
  EXPECT_OK(reader()->status());
}

TEST_F(BlockFormatTest, TruncatedHeaderAfterRecordsIsIgnored) {
  Write("foo");
  Write("bar");
  ShrinkSize(kH + 3 - 2);  // two bytes of the second header remain
  EXPECT_EQ(Read(), "foo");
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), IsEmpty());
  EXPECT_EQ(reader()->last_record_end(), kH + 3);
}

TEST_F(BlockFormatTest, BadLengthDropsRestOfBlock) {
  Write(BigString("bar", kB - kH));
  Write("foo");
  // The low length byte is header[4]: the first record now runs one byte
  // past its block.
  IncrementByte(4, 1);
  EXPECT_EQ(Read(), "foo");
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), ElementsAre(Report{0, kB, "bad record length"}));
}

TEST_F(BlockFormatTest, BadLengthInMiddleOfBlockDropsOnlyTheRest) {
  Write("one");
  Write("two");
  Write(BigString("x", kB - 3 * kH - 6));  // fills block 0 exactly
  Write("next");
  ASSERT_EQ(WrittenBytes(), kB + kH + 4);
  SetByte(kH + 3 + 5, static_cast<char>(0x80));  // "two" claims 32771 bytes
  EXPECT_EQ(Read(), "one");
  EXPECT_EQ(Read(), "next");
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(),
              ElementsAre(Report{kH + 3, kB - kH - 3, "bad record length"}));
}

TEST_F(BlockFormatTest, BadLengthAtEndIsIgnored) {
  Write("foo");
  ShrinkSize(1);
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), IsEmpty());
}

TEST_F(BlockFormatTest, ChecksumMismatchDropsRestOfBlock) {
  Write("foo");
  Write("bar");
  Write(BigString("x", kB - 3 * kH - 6));  // fills block 0 exactly
  Write("baz");
  ASSERT_EQ(WrittenBytes(), kB + kH + 3);
  IncrementByte(0, 10);
  // "bar" and the filler are good, but lie in the dropped rest of block 0.
  EXPECT_EQ(Read(), "baz");
  EXPECT_EQ(reader()->last_record_offset(), kB);
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), ElementsAre(Report{0, kB, "checksum mismatch"}));
}

TEST_F(BlockFormatTest, ChecksumMismatchInPayloadIsReported) {
  Write("foo");
  IncrementByte(kH + 1, 1);
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), ElementsAre(Report{0, kH + 3, "checksum mismatch"}));
}

TEST_F(BlockFormatTest, UnexpectedMiddleType) {
  Write("foo");
  SetByte(6, kMiddleType);
  FixChecksum(0, 3);
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), ElementsAre(Report{0, kH + 3,
                                            "missing start of fragmented record"}));
}

TEST_F(BlockFormatTest, UnexpectedLastType) {
  Write("foo");
  Write("bar");
  SetByte(6, kLastType);
  FixChecksum(0, 3);
  EXPECT_EQ(Read(), "bar");
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), ElementsAre(Report{0, kH + 3,
                                            "missing start of fragmented record"}));
}

TEST_F(BlockFormatTest, UnexpectedFullTypeInsideFragment) {
  Write("foo");
  Write("bar");
  SetByte(6, kFirstType);
  FixChecksum(0, 3);
  EXPECT_EQ(Read(), "bar");
  EXPECT_EQ(reader()->last_record_offset(), kH + 3);
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(),
              ElementsAre(Report{0, 3, "partial record without end"}));
}

TEST_F(BlockFormatTest, UnexpectedFirstTypeInsideFragment) {
  Write("foo");
  Write(BigString("bar", 100000));
  SetByte(6, kFirstType);
  FixChecksum(0, 3);
  EXPECT_EQ(Read(), BigString("bar", 100000));
  EXPECT_EQ(reader()->last_record_offset(), kH + 3);
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(),
              ElementsAre(Report{0, 3, "partial record without end"}));
}

TEST_F(BlockFormatTest, EmptyFirstBeforeFullIsNotReported) {
  // Older LevelDB writers could leave an empty FIRST at a block's end and
  // start the record over in the next block.
  Write(BigString("a", kB - 2 * kH));
  Write("");  // FULL, empty, at the marginal trailer
  Write("bar");
  SetByte(kB - kH + 6, kFirstType);
  FixChecksum(kB - kH, 0);
  EXPECT_EQ(Read(), BigString("a", kB - 2 * kH));
  EXPECT_EQ(Read(), "bar");
  EXPECT_EQ(reader()->last_record_offset(), kB);
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), IsEmpty());
}

TEST_F(BlockFormatTest, MissingLastIsIgnored) {
  Write(BigString("bar", kB));
  ShrinkSize(kH + 7);  // the LAST fragment, header included
  ASSERT_EQ(WrittenBytes(), kB);
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), IsEmpty());
  EXPECT_OK(reader()->status());
}

TEST_F(BlockFormatTest, MissingLastThenMoreRecords) {
  // The writer died after the FIRST fragment; a new writer appended after it.
  Write(BigString("bar", kB));
  ShrinkSize(kH + 7);
  ReopenForAppend();
  EXPECT_EQ(Write("more"), kB);
  EXPECT_EQ(Write("and more"), kB + kH + 4);
  EXPECT_EQ(Read(), "more");
  EXPECT_EQ(reader()->last_record_offset(), kB);
  EXPECT_EQ(Read(), "and more");
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(),
              ElementsAre(Report{0, kB - kH, "partial record without end"}));
}

TEST_F(BlockFormatTest, PartialLastIsIgnored) {
  Write(BigString("bar", kB));
  ShrinkSize(1);  // the LAST fragment's length now runs past the end
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), IsEmpty());
}

TEST_F(BlockFormatTest, ErrorJoinsRecords) {
  // Two fragmented records: first(R1) last(R1) first(R2) last(R2). If the
  // middle two fragments are lost, first(R1) and last(R2) must not be joined.
  Write(BigString("foo", kB));  // FIRST at 0, LAST (7 bytes) at kB
  Write(BigString("bar", kB));  // FIRST at kB + 14, LAST at 2 * kB
  Write("correct");
  for (uint64_t offset = kB; offset < 2 * kB; ++offset) SetByte(offset, 'x');

  EXPECT_EQ(Read(), "correct");
  EXPECT_EQ(Read(), "EOF");
  const uint64_t bar_first = kB - 2 * kH - kH;  // FIRST(R2) starts at kB + 14
  const uint64_t bar_last = kB - bar_first;     // 21 bytes
  EXPECT_THAT(
      reports(),
      ElementsAre(Report{kB, kB, "checksum mismatch"},
                  Report{0, kB - kH, "error in middle of record"},
                  Report{2 * kB, kH + bar_last,
                         "missing start of fragmented record"}));
  EXPECT_GE(DroppedBytes(), 2 * kB);
  EXPECT_LE(DroppedBytes(), 2 * kB + 100);
}

TEST_F(BlockFormatTest, ZeroPaddingIsSkippedSilently) {
  // Preallocated space decodes as type 0, length 0: the rest of the block is
  // skipped without a report and reading resumes at the next block.
  Write("foo");
  contents_.append(kB - (kH + 3), '\0');
  contents_.append(kB, '\0');  // a whole preallocated block
  ReopenForAppend();
  EXPECT_EQ(Write("bar"), 2 * kB);
  contents_.append(1000, '\0');  // preallocated tail
  EXPECT_EQ(Read(), "foo");
  EXPECT_EQ(Read(), "bar");
  EXPECT_EQ(reader()->last_record_offset(), 2 * kB);
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), IsEmpty());
}

TEST_F(BlockFormatTest, UncheckedReadAcceptsBadChecksum) {
  Write("foo");
  Write("bar");
  IncrementByte(0, 1);
  IncrementByte(kH + 3 + kH, 1);  // payload of "bar" -> "car"
  UseChecksums(false);
  EXPECT_EQ(Read(), "foo");
  EXPECT_EQ(Read(), "car");
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), IsEmpty());
}

TEST_F(BlockFormatTest, UncheckedReadStillChecksLength) {
  Write(BigString("bar", kB - kH));
  Write("foo");
  IncrementByte(4, 1);
  UseChecksums(false);
  EXPECT_EQ(Read(), "foo");
  EXPECT_THAT(reports(), ElementsAre(Report{0, kB, "bad record length"}));
}

// ---------------------------------------------------------------------------
// Initial offsets

class BlockFormatInitialOffsetTest : public BlockFormatTest {
 protected:
  // Records whose boundaries fall at every interesting place.
  static constexpr uint64_t kSizes[] = {
      10000,            // two sizable records in block 0
      10000,
      2 * kB - 1000,    // FIRST in block 0, MIDDLE in 1, LAST in 2
      1,
      13716,            // leaves a 2-byte trailer at the end of block 2
      kB - kH,          // fills block 3 exactly
  };
  static constexpr uint64_t kOffsets[] = {
      0,
      kH + 10000,
      2 * (kH + 10000),
      2 * (kH + 10000) + (2 * kB - 1000) + 3 * kH,
      2 * (kH + 10000) + (2 * kB - 1000) + 3 * kH + kH + 1,
      3 * kB,
  };
  static constexpr int kCount = 6;

  static std::string Payload(int i) {
    return std::string(kSizes[i], static_cast<char>('a' + i));
  }

  void WriteLog() {
    for (int i = 0; i < kCount; ++i) ASSERT_EQ(Write(Payload(i)), kOffsets[i]);
    ASSERT_EQ(WrittenBytes(), 4 * kB);
  }

  // Reading from initial_offset returns records first..kCount-1 at their
  // offsets.
  void CheckFirstRecord(uint64_t initial_offset, int first) {
    SCOPED_TRACE(absl::StrCat("initial offset ", initial_offset));
    Reset();
    WriteLog();
    StartReadingAt(initial_offset);
    for (int i = first; i < kCount; ++i) {
      ASSERT_EQ(Read(), Payload(i)) << "record " << i;
      EXPECT_EQ(reader()->last_record_offset(), kOffsets[i]);
    }
    EXPECT_EQ(Read(), "EOF");
  }
};

TEST_F(BlockFormatInitialOffsetTest, LayoutIsAsPlanned) {
  WriteLog();
  // 2 bytes of trailer between record 4 and record 5.
  EXPECT_EQ(kOffsets[4] + kH + kSizes[4], 3 * kB - 2);
  EXPECT_EQ(contents_.substr(3 * kB - 2, 2), std::string(2, '\0'));
}

TEST_F(BlockFormatInitialOffsetTest, FirstRecordReadForEachOffset) {
  struct Case {
    uint64_t initial_offset;
    int first;
  };
  const Case cases[] = {
      {.initial_offset = 0, .first = 0},
      {.initial_offset = 1, .first = 1},
      {.initial_offset = kOffsets[1] - 1, .first = 1},
      {.initial_offset = kOffsets[1], .first = 1},
      {.initial_offset = kOffsets[1] + 1, .first = 2},
      {.initial_offset = kOffsets[2], .first = 2},
      {.initial_offset = kOffsets[2] + 1, .first = 3},  // inside record 2's FIRST
      {.initial_offset = kB - kH, .first = 3},  // last header position of block 0
      {.initial_offset = kB - 4, .first = 3},  // block 0's tail (record 2's payload)
      {.initial_offset = kB, .first = 3},  // record 2's MIDDLE
      {.initial_offset = kB + 1, .first = 3},
      {.initial_offset = 2 * kB, .first = 3},  // record 2's LAST
      {.initial_offset = 2 * kB + 1, .first = 3},
      {.initial_offset = kOffsets[3], .first = 3},
      {.initial_offset = kOffsets[3] + 1, .first = 4},
      {.initial_offset = kOffsets[4], .first = 4},
      {.initial_offset = kOffsets[4] + 1, .first = 5},
      {.initial_offset = 3 * kB - kH, .first = 5},  // last header position of block 2
      {.initial_offset = 3 * kB - 2, .first = 5},  // in the 2-byte trailer
      {.initial_offset = 3 * kB - 1, .first = 5},
      {.initial_offset = 3 * kB, .first = 5},
  };
  for (const Case& c : cases) CheckFirstRecord(c.initial_offset, c.first);
}

TEST_F(BlockFormatInitialOffsetTest, OffsetPastLastRecordReadsNothing) {
  for (uint64_t offset : {3 * kB + 1, 4 * kB - 1, 4 * kB, 4 * kB + 1,
                          5 * kB + 17}) {
    SCOPED_TRACE(absl::StrCat("initial offset ", offset));
    Reset();
    WriteLog();
    StartReadingAt(offset);
    EXPECT_EQ(Read(), "EOF");
    EXPECT_THAT(reports(), IsEmpty());
    EXPECT_OK(reader()->status());
  }
}

// The tail fragments of a record that began before the initial offset are
// not damage: they are skipped without a report, wherever the offset falls
// inside the record.
TEST_F(BlockFormatInitialOffsetTest, InsideSpanningRecordReportsNothing) {
  for (uint64_t offset : {kOffsets[2], kOffsets[2] + 1, kB - 4, kB, kB + 1,
                          2 * kB - 1, 2 * kB, 2 * kB + 1}) {
    SCOPED_TRACE(absl::StrCat("initial offset ", offset));
    Reset();
    WriteLog();
    StartReadingAt(offset);
    ReadAll();
    EXPECT_THAT(reports(), IsEmpty());
  }
}

TEST_F(BlockFormatTest, SkipIntoMultiRecord) {
  // first(R1) middle(R1) middle(R1) last(R1) "correct": starting at block 1
  // lands on R1's tail, which must be skipped silently.
  Write(BigString("foo", 3 * kB));
  Write("correct");
  StartReadingAt(kB);
  EXPECT_EQ(Read(), "correct");
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), IsEmpty());
}

TEST_F(BlockFormatTest, SkipIntoMultiRecordPastFragmentStart) {
  // As above, but the offset is one byte into R1's first MIDDLE fragment.
  Write(BigString("foo", 3 * kB));
  Write("correct");
  StartReadingAt(kB + 1);
  EXPECT_EQ(Read(), "correct");
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), IsEmpty());
}

TEST_F(BlockFormatTest, DamageBeforeInitialOffsetIsNotReported) {
  Write("foo");
  const uint64_t bar = Write("bar");
  Write(BigString("x", kB - 3 * kH - 6));  // fills block 0
  const uint64_t baz = Write("baz");
  ASSERT_EQ(baz, kB);
  IncrementByte(0, 1);  // "foo", before the offset, fails its checksum
  StartReadingAt(bar);
  // The mismatch drops the rest of block 0 (LevelDB does the same), but it
  // lies before the offset, so it is not reported.
  EXPECT_EQ(Read(), "baz");
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), IsEmpty());
}

TEST_F(BlockFormatTest, DamageInEarlierBlockIsNotRead) {
  Write("foo");
  Write(BigString("x", kB - 2 * kH - 3));  // fills block 0
  const uint64_t bar = Write("bar");
  SetByte(6, 99);
  StartReadingAt(bar);
  EXPECT_EQ(Read(), "bar");
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), IsEmpty());
  EXPECT_EQ(source_->read_calls(), 1);  // block 1 only: it is short
}

TEST_F(BlockFormatTest, DamageAfterInitialOffsetIsReported) {
  const uint64_t foo = Write("foo");
  const uint64_t bar = Write("bar");
  Write("baz");
  SetByte(bar + 6, 99);
  FixChecksum(bar, 3);
  StartReadingAt(foo + 1);
  EXPECT_EQ(Read(), "baz");
  EXPECT_THAT(reports(), ElementsAre(Report{bar, kH + 3, "unknown record type"}));
}

// Start::kAtRecord: the offset is a known fragment start.

TEST_F(BlockFormatTest, AtRecordStartIgnoresDamageEarlierInBlock) {
  Write("foo");
  const uint64_t bar = Write("bar");
  Write("baz");
  IncrementByte(0, 1);  // would drop the whole block if the block were read
  StartReadingAt(bar, BlockReader::Start::kAtRecord);
  EXPECT_EQ(Read(), "bar");
  EXPECT_EQ(reader()->last_record_offset(), bar);
  EXPECT_EQ(reader()->last_record_end(), bar + kH + 3);
  EXPECT_EQ(Read(), "baz");
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), IsEmpty());
}

TEST_F(BlockFormatTest, AtRecordStartReadsSpanningRecordAndRest) {
  Write("foo");
  const uint64_t big = Write(BigString("big", 3 * kB));
  const uint64_t after = Write("after");
  StartReadingAt(big, BlockReader::Start::kAtRecord);
  EXPECT_EQ(Read(), BigString("big", 3 * kB));
  EXPECT_EQ(reader()->last_record_offset(), big);
  EXPECT_EQ(Read(), "after");
  EXPECT_EQ(reader()->last_record_offset(), after);
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), IsEmpty());
  // The first read stops at the block boundary; later ones take whole blocks.
  EXPECT_EQ(source_->max_read_request(), kB);
}

TEST_F(BlockFormatTest, AtRecordStartInTrailerBeginsAtNextBlock) {
  Write(BigString("a", kB - kH - 3));
  const uint64_t b = Write("b");
  ASSERT_EQ(b, kB);
  for (uint64_t offset : {kB - 3, kB - 1, kB}) {
    SCOPED_TRACE(absl::StrCat("initial offset ", offset));
    reader_.reset();
    source_ = std::make_unique<StringSource>(&contents_);
    reporter_.reports.clear();
    StartReadingAt(offset, BlockReader::Start::kAtRecord);
    EXPECT_EQ(Read(), "b");
    EXPECT_EQ(reader()->last_record_offset(), kB);
    EXPECT_EQ(Read(), "EOF");
    EXPECT_THAT(reports(), IsEmpty());
  }
}

TEST_F(BlockFormatTest, AtRecordStartOnMiddleFragmentIsReported) {
  // Unlike kResync, there is no tail to skip: a MIDDLE at the offset has no
  // FIRST, which is damage at the offset.
  Write(BigString("big", 3 * kB));
  Write("after");
  StartReadingAt(kB, BlockReader::Start::kAtRecord);
  EXPECT_EQ(Read(), "after");
  EXPECT_THAT(reports(),
              ElementsAre(Report{kB, kB, "missing start of fragmented record"},
                          Report{2 * kB, kB, "missing start of fragmented record"},
                          Report{3 * kB, kH + 21,
                                 "missing start of fragmented record"}));
}

TEST_F(BlockFormatTest, AtRecordStartPastEndReadsNothing) {
  Write("foo");
  StartReadingAt(kH + 3, BlockReader::Start::kAtRecord);
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), IsEmpty());
  EXPECT_OK(reader()->status());
}

// ---------------------------------------------------------------------------
// last_record_offset / last_record_end

TEST_F(BlockFormatTest, LastRecordOffsetAndEndTrackEachRecord) {
  struct Written {
    std::string payload;
    uint64_t position;
    uint64_t end;
  };
  std::vector<Written> written;
  auto write = [&](std::string payload) {
    const uint64_t pos = Write(payload);
    written.push_back({std::move(payload), pos, writer_->position()});
  };
  write("a");
  write(BigString("b", kB - 2 * kH - 1 - 2));  // leaves a 2-byte trailer
  ASSERT_EQ(WrittenBytes(), kB - 2);
  write("c");  // after the padded trailer
  write(BigString("d", kB));  // spans block 1 and 2
  write("");
  ASSERT_EQ(WrittenBytes(), 2 * kB + 29);
  write(BigString("e", kB - 43));  // leaves exactly one header's room
  ASSERT_EQ(WrittenBytes(), 3 * kB - kH);
  write("f");  // empty FIRST at the marginal trailer, LAST in the next block

  EXPECT_EQ(written[2].position, kB);
  EXPECT_EQ(written.back().position, 3 * kB - kH);
  for (const Written& w : written) {
    ASSERT_EQ(Read(), w.payload);
    EXPECT_EQ(reader()->last_record_offset(), w.position);
    EXPECT_EQ(reader()->last_record_end(), w.end);
  }
  EXPECT_EQ(Read(), "EOF");
  // End of file changes neither.
  EXPECT_EQ(reader()->last_record_offset(), written.back().position);
  EXPECT_EQ(reader()->last_record_end(), WrittenBytes());
  EXPECT_THAT(reports(), IsEmpty());
}

TEST_F(BlockFormatTest, LastRecordEndIsWhereATornFileIsCut) {
  Write("foo");
  Write(BigString("bar", 2 * kB));
  ShrinkSize(5);  // tear the last fragment
  EXPECT_EQ(Read(), "foo");
  EXPECT_EQ(Read(), "EOF");
  EXPECT_EQ(reader()->last_record_end(), kH + 3);
  // Cutting there and appending gives a clean log.
  contents_.resize(reader()->last_record_end());
  reader_.reset();
  source_ = std::make_unique<StringSource>(&contents_);
  ReopenForAppend();
  Write("baz");
  EXPECT_EQ(ReadAll(), (std::vector<std::string>{"foo", "baz"}));
  EXPECT_THAT(reports(), IsEmpty());
}

// ---------------------------------------------------------------------------
// ReadRecordAt

TEST_F(BlockFormatTest, ReadRecordAtEveryRecordOfMultiBlockLog) {
  std::vector<std::pair<uint64_t, std::string>> records;
  for (int i = 0; i < 40; ++i) {
    // Sizes cycle through small, block-sized and multi-block records.
    const size_t size = (i % 5 == 4) ? 2 * kB + i : (i % 3 == 2) ? kB - 9 : 37 * i;
    std::string payload = BigString(NumberString(i), size);
    records.emplace_back(Write(payload), std::move(payload));
  }
  ASSERT_GT(WrittenBytes(), 20 * kB);
  for (bool mapped : {false, true}) {
    for (const auto& [position, payload] : records) {
      EXPECT_EQ(ReadPayloadAt(position, mapped), payload)
          << "position " << position << (mapped ? " mapped" : "");
    }
  }
}

TEST_F(BlockFormatTest, ReadRecordAtMappedFullRecordPointsIntoFile) {
  Write("foo");
  const uint64_t bar = Write("bar");
  StringRandomAccessFile file(&contents_, /*mapped=*/true);
  std::string scratch;
  absl::StatusOr<absl::string_view> record = ReadRecordAt(file, bar, &scratch);
  ASSERT_OK(record);
  EXPECT_EQ(*record, "bar");
  EXPECT_EQ(record->data(), contents_.data() + bar + kH);
}

TEST_F(BlockFormatTest, ReadRecordAtEndIsOutOfRange) {
  Write("foo");
  EXPECT_THAT(ReadAt(kH + 3), StatusIs(absl::StatusCode::kOutOfRange,
                                       HasSubstr(kPath)));
  EXPECT_THAT(ReadAt(kH + 4), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(ReadAt(10 * kB), StatusIs(absl::StatusCode::kOutOfRange));
}

TEST_F(BlockFormatTest, ReadRecordAtEmptyFileIsOutOfRange) {
  EXPECT_THAT(ReadAt(0), StatusIs(absl::StatusCode::kOutOfRange));
}

TEST_F(BlockFormatTest, ReadRecordAtEndInsideTrailerZoneIsOutOfRange) {
  // The file ends 3 bytes short of a block boundary; positions at or past
  // its end are out of range even though they fall where a trailer would be.
  Write(BigString("a", kB - kH - 3));
  ASSERT_EQ(WrittenBytes(), kB - 3);
  EXPECT_THAT(ReadAt(kB - 3), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(ReadAt(kB - 1), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(ReadAt(2 * kB - 2), StatusIs(absl::StatusCode::kOutOfRange));
}

TEST_F(BlockFormatTest, ReadRecordAtTrailerIsDataLoss) {
  Write(BigString("a", kB - kH - 3));
  Write("b");  // pads the 3-byte trailer
  // Inside the zero-filled trailer, and in the last 6 bytes of the block
  // where a header could never start.
  for (uint64_t pos : {kB - 6, kB - 4, kB - 3, kB - 2, kB - 1}) {
    EXPECT_THAT(ReadAt(pos), StatusIs(absl::StatusCode::kDataLoss,
                                      HasSubstr(absl::StrCat(pos))))
        << "position " << pos;
  }
}

TEST_F(BlockFormatTest, ReadRecordAtBadChecksumNamesFileAndPosition) {
  Write("foo");
  const uint64_t bar = Write("bar");
  Write("baz");
  IncrementByte(bar + kH, 1);
  EXPECT_THAT(ReadAt(bar),
              StatusIs(absl::StatusCode::kDataLoss,
                       ::testing::AllOf(HasSubstr(kPath),
                                        HasSubstr(absl::StrCat(bar)),
                                        HasSubstr("checksum mismatch"))));
  EXPECT_EQ(ReadPayloadAt(0), "foo");
  EXPECT_EQ(ReadPayloadAt(bar + kH + 3), "baz");
}

TEST_F(BlockFormatTest, ReadRecordAtBadChecksumInLaterFragment) {
  const uint64_t big = Write(BigString("big", 2 * kB));
  IncrementByte(2 * kB + kH + 3, 1);  // payload of the LAST fragment
  EXPECT_THAT(ReadAt(big),
              StatusIs(absl::StatusCode::kDataLoss,
                       ::testing::AllOf(HasSubstr(kPath),
                                        HasSubstr(absl::StrCat(2 * kB)))));
}

TEST_F(BlockFormatTest, ReadRecordAtMiddleFragmentIsDataLoss) {
  Write(BigString("big", 3 * kB));
  EXPECT_THAT(ReadAt(kB), StatusIs(absl::StatusCode::kDataLoss));   // MIDDLE
  EXPECT_THAT(ReadAt(3 * kB), StatusIs(absl::StatusCode::kDataLoss));  // LAST
}

TEST_F(BlockFormatTest, ReadRecordAtMisalignedPositionIsDataLoss) {
  Write("foo");
  Write("barbarbarbar");
  // Inside a record: its payload does not parse as a fragment.
  EXPECT_THAT(ReadAt(1), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(ReadAt(kH + 3 + 2), StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(BlockFormatTest, ReadRecordAtCutOffRecordIsDataLoss) {
  Write("foo");
  const uint64_t big = Write(BigString("big", 2 * kB));
  const uint64_t full = WrittenBytes();
  // Cut inside the LAST fragment, exactly before it, and inside the FIRST.
  for (uint64_t cut : {full - 1, 2 * kB + 3, 2 * kB, kB + 1, big + 3}) {
    SCOPED_TRACE(absl::StrCat("cut at ", cut));
    contents_.resize(cut);
    EXPECT_THAT(ReadAt(big), StatusIs(absl::StatusCode::kDataLoss,
                                      HasSubstr(kPath)));
    EXPECT_THAT(ReadAt(big, /*mapped=*/true),
                StatusIs(absl::StatusCode::kDataLoss));
  }
  EXPECT_EQ(ReadPayloadAt(0), "foo");
}

TEST_F(BlockFormatTest, ReadRecordAtPassesReadErrorThrough) {
  Write("foo");
  StringRandomAccessFile file(&contents_, /*mapped=*/false);
  file.ForceError();
  std::string scratch;
  EXPECT_THAT(ReadRecordAt(file, 0, &scratch),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("injected read error")));
}

// ---------------------------------------------------------------------------
// Writer errors and reader buffering

TEST_F(BlockFormatTest, WriterErrorIsSticky) {
  EXPECT_EQ(Write("foo"), 0u);
  dest_->FailFromAppend(3);  // the next record's header Append fails
  absl::StatusOr<uint64_t> pos = writer_->AddRecord("bar");
  EXPECT_THAT(pos, StatusIs(absl::StatusCode::kResourceExhausted,
                            HasSubstr(kPath)));
  const absl::Status first = pos.status();
  EXPECT_EQ(writer_->status(), first);
  // Later calls return the same error without touching the file.
  dest_->FailFromAppend(0);
  EXPECT_EQ(writer_->AddRecord("baz").status(), first);
  EXPECT_EQ(writer_->Flush(), first);
  EXPECT_EQ(writer_->Sync(), first);
  EXPECT_EQ(dest_->flush_calls(), 0);
  EXPECT_EQ(dest_->sync_calls(), 0);
  EXPECT_EQ(contents_.size(), kH + 3);
}

TEST_F(BlockFormatTest, WriterErrorMidRecordLeavesTornTail) {
  Write("foo");
  dest_->FailFromAppend(6);  // the payload of the next record's MIDDLE
  EXPECT_THAT(writer_->AddRecord(BigString("big", 3 * kB)),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(writer_->AddRecord("x"),
              StatusIs(absl::StatusCode::kResourceExhausted));
  // The reader sees "foo" and drops the unfinished record silently.
  EXPECT_EQ(ReadAll(), std::vector<std::string>{"foo"});
  EXPECT_THAT(reports(), IsEmpty());
}

TEST_F(BlockFormatTest, FlushAndSyncReachTheFile) {
  Write("foo");
  EXPECT_OK(writer_->Flush());
  EXPECT_OK(writer_->Sync());
  EXPECT_EQ(dest_->flush_calls(), 1);
  EXPECT_EQ(dest_->sync_calls(), 1);
  EXPECT_OK(writer_->status());
}

TEST_F(BlockFormatTest, ReaderNeverAsksForMoreThanABlock) {
  for (int i = 0; i < 5; ++i) Write(BigString(NumberString(i), 30000));
  Write(BigString("big", 4 * kB));
  const uint64_t size = WrittenBytes();
  ASSERT_GT(size, 8 * kB);
  ASSERT_NE(size % kB, 0u);
  EXPECT_EQ(ReadAll().size(), 6u);
  EXPECT_EQ(source_->max_read_request(), kB);
  // One read per block; the short last block tells the reader it is done.
  EXPECT_EQ(source_->read_calls(), static_cast<int>(size / kB + 1));
}

TEST_F(BlockFormatTest, ReaderOfBlockAlignedFileReadsOnceMoreForEnd) {
  for (int i = 0; i < 4; ++i) Write(BigString("x", kB - kH));
  ASSERT_EQ(WrittenBytes(), 4 * kB);
  EXPECT_EQ(ReadAll().size(), 4u);
  EXPECT_EQ(source_->max_read_request(), kB);
  EXPECT_EQ(source_->read_calls(), 5);
}

// ---------------------------------------------------------------------------
// Parameterised over record sizes

class BlockFormatSizeTest : public BlockFormatTest,
                            public ::testing::WithParamInterface<uint64_t> {};

TEST_P(BlockFormatSizeTest, RoundTrip) {
  const uint64_t n = GetParam();
  std::vector<uint64_t> positions;
  std::vector<uint64_t> ends;
  std::vector<std::string> payloads;
  auto write = [&](std::string payload) {
    positions.push_back(Write(payload));
    ends.push_back(writer_->position());
    payloads.push_back(std::move(payload));
  };
  // Start at several block offsets, so the record meets boundaries at
  // different places.
  for (const uint64_t lead : {uint64_t{0}, uint64_t{1}, kB - 2 * kH - 1}) {
    write(BigString("lead", lead));
    write(BigString(absl::StrCat("rec", lead), n));
  }
  for (size_t i = 0; i < payloads.size(); ++i) {
    ASSERT_EQ(Read(), payloads[i]) << "record " << i;
    EXPECT_EQ(reader()->last_record_offset(), positions[i]) << "record " << i;
    EXPECT_EQ(reader()->last_record_end(), ends[i]) << "record " << i;
  }
  EXPECT_EQ(Read(), "EOF");
  EXPECT_THAT(reports(), IsEmpty());
}

TEST_P(BlockFormatSizeTest, ReadRecordAt) {
  const uint64_t n = GetParam();
  std::vector<uint64_t> positions;
  std::vector<std::string> payloads;
  for (const uint64_t lead : {uint64_t{0}, uint64_t{5}, kB - 2 * kH}) {
    payloads.push_back(BigString("lead", lead));
    positions.push_back(Write(payloads.back()));
    payloads.push_back(BigString(absl::StrCat("rec", lead), n));
    positions.push_back(Write(payloads.back()));
  }
  for (bool mapped : {false, true}) {
    for (size_t i = 0; i < payloads.size(); ++i) {
      EXPECT_EQ(ReadPayloadAt(positions[i], mapped), payloads[i])
          << "record " << i << (mapped ? " mapped" : "");
    }
  }
}

TEST_P(BlockFormatSizeTest, ReadRecordAtCutOffIsDataLoss) {
  const uint64_t n = GetParam();
  Write("foo");
  const uint64_t pos = Write(BigString("rec", n));
  ShrinkSize(1);
  EXPECT_THAT(ReadAt(pos), StatusIs(absl::StatusCode::kDataLoss));
  // The sequential reader treats the same tail as a torn write.
  EXPECT_EQ(ReadAll(), std::vector<std::string>{"foo"});
  EXPECT_THAT(reports(), IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(
    RecordSizes, BlockFormatSizeTest,
    ::testing::Values(0, 1, 100, kB - kH - 1, kB - kH, kB, 3 * kB + 17,
                      100000),
    [](const ::testing::TestParamInfo<uint64_t>& info) {
      return absl::StrCat("Size", info.param);
    });

// AddRecord(prefix, payload) writes exactly the bytes of
// AddRecord(prefix + payload), wherever the pieces' boundary falls relative to
// fragment and block boundaries.
TEST(BlockWriterPiecesTest, TwoPiecesWriteTheSameBytesAsOne) {
  std::mt19937 rng(301);
  const size_t kSizes[] = {0, 1, 17, kBlockSize - 2 * kHeaderSize,
                           kBlockSize - kHeaderSize, kBlockSize,
                           2 * kBlockSize + 5};
  for (size_t start_fill : {size_t{0}, size_t{100},
                            size_t{kBlockSize - kHeaderSize - 3}}) {
    for (size_t prefix_len : kSizes) {
      for (size_t payload_len : kSizes) {
        std::string prefix(prefix_len, '\0'), payload(payload_len, '\0');
        for (char& c : prefix) c = static_cast<char>(rng());
        for (char& c : payload) c = static_cast<char>(rng());
        std::string one, two;
        StringDest one_dest(&one), two_dest(&two);
        BlockWriter one_writer(&one_dest), two_writer(&two_dest);
        const std::string filler(start_fill, 'f');
        ASSERT_OK(one_writer.AddRecord(filler));
        ASSERT_OK(two_writer.AddRecord(filler));
        ASSERT_OK_AND_ASSIGN(uint64_t p1, one_writer.AddRecord(prefix + payload));
        ASSERT_OK_AND_ASSIGN(uint64_t p2, two_writer.AddRecord(prefix, payload));
        EXPECT_EQ(p1, p2);
        ASSERT_EQ(one, two) << "fill " << start_fill << " prefix " << prefix_len
                            << " payload " << payload_len;
      }
    }
  }
}

}  // namespace
}  // namespace blockwal::wal
