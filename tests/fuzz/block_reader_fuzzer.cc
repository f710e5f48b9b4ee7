// Fuzz target for the block format reader: the input is a whole log file.
//
// It reads the file with BlockReader three ways (checksums verified from the
// start, not verified, and verified from an initial offset taken from the
// input's first bytes), calls ReadRecordAt at every record the verified
// reader returned and at a few arbitrary positions, and abort()s when one of
// these invariants breaks:
//
//   1. A report names bytes inside the file (position + bytes <= size) with
//      one of the reasons of wal/block_reader.h, at or after the initial
//      offset; there is no I/O error, so status() stays OK.
//   2. Records do not overlap and lie inside the file:
//        previous end <= last_record_offset,
//        last_record_offset + kHeaderSize + size <= last_record_end <= size.
//   3. End of file is final: once ReadRecord returns false it keeps doing so.
//   4. ReadRecordAt(last_record_offset) returns exactly the record the
//      verifying reader returned (both read the same fragment chain and
//      check the same CRCs); for the non-verifying reader, it returns that
//      record or an error.
//   5. A reader started at offset X returns exactly the records (offsets and
//      ends too) that the reader started at 0 returns at or after X: both
//      parse each block from its start, so they see the same fragments.
//      Started with Start::kAtRecord at the offset of a record the reader
//      from 0 returned, it returns that record and every later one.
//   6. ReadRecordAt returns OK, kOutOfRange or kDataLoss; kOutOfRange only
//      for positions at or past the end, and never OK there.
//
// Built with -DBLOCKWAL_LIBFUZZER for libFuzzer; otherwise replay_main.cc
// replays the files and directories named on the command line.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "blockwal/util/coding.h"
#include "blockwal/util/file_system.h"
#include "blockwal/wal/block_reader.h"
#include "blockwal/wal/format.h"

namespace blockwal::wal {
namespace {

const std::string kFuzzPath = "fuzz.log";

[[noreturn]] void Fail(const char* invariant, uint64_t a, uint64_t b) {
  std::fprintf(stderr, "block_reader_fuzzer: invariant violated: %s (%llu, %llu)\n",
               invariant, static_cast<unsigned long long>(a),
               static_cast<unsigned long long>(b));
  std::abort();
}

#define FUZZ_CHECK(cond, a, b) \
  do {                         \
    if (!(cond)) Fail(#cond, (a), (b)); \
  } while (0)

// Copies into the caller's scratch, as a file read does, so ASan catches a
// reader that keeps a view of the buffer too long.
class InputSequentialFile : public SequentialFile {
 public:
  explicit InputSequentialFile(absl::string_view data) : data_(data) {}
  absl::StatusOr<absl::string_view> Read(size_t n, char* scratch) override {
    FUZZ_CHECK(n <= static_cast<size_t>(kBlockSize), n, 0);
    const size_t len = pos_ >= data_.size() ? 0 : std::min(n, data_.size() - pos_);
    if (len > 0) std::memcpy(scratch, data_.data() + pos_, len);
    pos_ += len;
    return absl::string_view(scratch, len);
  }
  absl::Status Skip(uint64_t n) override {
    pos_ = pos_ + n > data_.size() ? data_.size() : pos_ + n;
    return absl::OkStatus();
  }
  const std::string& path() const override { return kFuzzPath; }

 private:
  const absl::string_view data_;
  size_t pos_ = 0;
};

// Copies, or (mapped) returns views of the input, like a mapped file.
class InputRandomAccessFile : public RandomAccessFile {
 public:
  InputRandomAccessFile(absl::string_view data, bool mapped)
      : data_(data), mapped_(mapped) {}
  absl::StatusOr<absl::string_view> Read(uint64_t offset, size_t n,
                                         char* scratch) const override {
    if (offset >= data_.size()) return absl::string_view();
    const size_t len = std::min<uint64_t>(n, data_.size() - offset);
    if (mapped_) return data_.substr(offset, len);
    std::memcpy(scratch, data_.data() + offset, len);
    return absl::string_view(scratch, len);
  }
  absl::StatusOr<uint64_t> Size() const override { return data_.size(); }
  const std::string& path() const override { return kFuzzPath; }

 private:
  const absl::string_view data_;
  const bool mapped_;
};

class CheckingReporter : public BlockReader::Reporter {
 public:
  CheckingReporter(uint64_t file_size, uint64_t initial_offset)
      : file_size_(file_size), initial_offset_(initial_offset) {}
  void Corruption(uint64_t position, uint64_t bytes,
                  absl::string_view reason) override {
    FUZZ_CHECK(position <= file_size_ && bytes <= file_size_ - position,
               position, bytes);
    FUZZ_CHECK(position >= initial_offset_, position, initial_offset_);
    FUZZ_CHECK(reason == "checksum mismatch" || reason == "bad record length" ||
                   reason == "partial record without end" ||
                   reason == "error in middle of record" ||
                   reason == "missing start of fragmented record" ||
                   reason == "unknown record type",
               position, bytes);
  }

 private:
  const uint64_t file_size_;
  const uint64_t initial_offset_;
};

struct Record {
  uint64_t offset;
  uint64_t end;
  std::string payload;
};

// Reads every record, checking invariants 1-3.
std::vector<Record> ReadAllChecked(
    absl::string_view data, bool verify, uint64_t initial_offset,
    BlockReader::Start start = BlockReader::Start::kResync) {
  InputSequentialFile file(data);
  CheckingReporter reporter(data.size(), initial_offset);
  BlockReader reader(&file, &reporter, verify, initial_offset, start);
  std::vector<Record> records;
  std::string scratch;
  absl::string_view record;
  uint64_t previous_end = 0;
  while (reader.ReadRecord(&record, &scratch)) {
    const uint64_t offset = reader.last_record_offset();
    const uint64_t end = reader.last_record_end();
    FUZZ_CHECK(offset >= previous_end, offset, previous_end);
    FUZZ_CHECK(offset >= initial_offset, offset, initial_offset);
    FUZZ_CHECK(offset + kHeaderSize + record.size() <= end, offset, end);
    FUZZ_CHECK(end <= data.size(), end, data.size());
    records.push_back(Record{offset, end, std::string(record)});
    previous_end = end;
  }
  FUZZ_CHECK(reader.status().ok(), 0, 0);
  for (int i = 0; i < 2; ++i) {
    FUZZ_CHECK(!reader.ReadRecord(&record, &scratch), records.size(), i);
  }
  return records;
}

void CheckReadRecordAt(absl::string_view data, uint64_t position) {
  for (bool mapped : {false, true}) {
    InputRandomAccessFile file(data, mapped);
    std::string scratch;
    absl::StatusOr<absl::string_view> r = ReadRecordAt(file, position, &scratch);
    const absl::StatusCode code = r.status().code();
    FUZZ_CHECK(code == absl::StatusCode::kOk ||
                   code == absl::StatusCode::kOutOfRange ||
                   code == absl::StatusCode::kDataLoss,
               position, static_cast<uint64_t>(code));
    if (position < data.size()) {
      FUZZ_CHECK(code != absl::StatusCode::kOutOfRange, position, data.size());
    } else {
      FUZZ_CHECK(code != absl::StatusCode::kOk, position, data.size());
    }
    if (r.ok()) FUZZ_CHECK(r->size() <= data.size(), r->size(), data.size());
  }
}

void FuzzOne(absl::string_view data) {
  const std::vector<Record> verified = ReadAllChecked(data, true, 0);
  const std::vector<Record> unverified = ReadAllChecked(data, false, 0);

  // Invariant 4.
  for (bool mapped : {false, true}) {
    InputRandomAccessFile file(data, mapped);
    std::string scratch;
    for (const Record& rec : verified) {
      absl::StatusOr<absl::string_view> r =
          ReadRecordAt(file, rec.offset, &scratch);
      FUZZ_CHECK(r.ok(), rec.offset, static_cast<uint64_t>(r.status().code()));
      FUZZ_CHECK(*r == rec.payload, rec.offset, r->size());
    }
    for (const Record& rec : unverified) {
      absl::StatusOr<absl::string_view> r =
          ReadRecordAt(file, rec.offset, &scratch);
      if (r.ok()) FUZZ_CHECK(*r == rec.payload, rec.offset, r->size());
    }
  }

  // Invariant 5, from an offset taken from the input's first bytes (for a
  // real log, its first CRC: an arbitrary position), and from each of the
  // first few record boundaries and the byte after.
  std::vector<uint64_t> offsets;
  if (data.size() >= 4) {
    offsets.push_back(DecodeFixed32(data.data()) % (data.size() + kBlockSize));
  }
  for (size_t i = 0; i < verified.size() && i < 4; ++i) {
    offsets.push_back(verified[i].offset);
    offsets.push_back(verified[i].offset + 1);
  }
  for (uint64_t x : offsets) {
    const std::vector<Record> from_x = ReadAllChecked(data, true, x);
    size_t j = 0;
    for (const Record& rec : verified) {
      if (rec.offset < x) continue;
      FUZZ_CHECK(j < from_x.size(), x, rec.offset);
      FUZZ_CHECK(from_x[j].offset == rec.offset, x, from_x[j].offset);
      FUZZ_CHECK(from_x[j].end == rec.end, x, from_x[j].end);
      FUZZ_CHECK(from_x[j].payload == rec.payload, x, rec.offset);
      ++j;
    }
    FUZZ_CHECK(j == from_x.size(), x, from_x.size());
    // Any offset is safe for kAtRecord too (invariants 1-3 only).
    ReadAllChecked(data, true, x, BlockReader::Start::kAtRecord);
  }
  for (size_t i = 0; i < verified.size() && i < 4; ++i) {
    const std::vector<Record> at = ReadAllChecked(
        data, true, verified[i].offset, BlockReader::Start::kAtRecord);
    FUZZ_CHECK(at.size() == verified.size() - i, i, at.size());
    for (size_t k = 0; k < at.size(); ++k) {
      const Record& want = verified[i + k];
      FUZZ_CHECK(at[k].offset == want.offset && at[k].end == want.end &&
                     at[k].payload == want.payload,
                 i, k);
    }
  }

  // Invariant 6 at arbitrary positions: from the input's bytes 4..11, the
  // end of the file, and just past it.
  if (data.size() >= 12) {
    CheckReadRecordAt(data, DecodeFixed32(data.data() + 4) % (data.size() + 8));
    CheckReadRecordAt(data, DecodeFixed32(data.data() + 8) % (data.size() + 8));
  }
  CheckReadRecordAt(data, 0);
  CheckReadRecordAt(data, data.size());
  CheckReadRecordAt(data, data.size() + 1);
}

}  // namespace
}  // namespace blockwal::wal

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  blockwal::wal::FuzzOne(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
