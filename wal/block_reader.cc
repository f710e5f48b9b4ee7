#include "blockwal/wal/block_reader.h"

#include <algorithm>
#include <cassert>

#include "absl/strings/str_cat.h"
#include "blockwal/util/coding.h"
#include "blockwal/util/crc32c.h"
#include "blockwal/util/status_macros.h"

namespace blockwal::wal {

BlockReader::BlockReader(SequentialFile* file, Reporter* reporter,
                         bool verify_checksums, uint64_t initial_offset,
                         Start start)
    : file_(file),
      reporter_(reporter),
      verify_checksums_(verify_checksums),
      initial_offset_(initial_offset),
      start_(start),
      backing_store_(new char[kBlockSize]),
      resyncing_(initial_offset > 0 && start == Start::kResync) {}

void BlockReader::ReportCorruption(uint64_t position, uint64_t bytes,
                                   ProblemKind kind, absl::string_view reason) {
  // Damage before the initial offset belongs to records the caller skipped.
  if (reporter_ != nullptr && position >= initial_offset_) {
    reporter_->Damage(position, bytes, kind, reason);
  }
}

bool BlockReader::SkipToInitialBlock() {
  const uint64_t offset_in_block = initial_offset_ % kBlockSize;
  uint64_t block_start = initial_offset_ - offset_in_block;
  // No record starts in a block's trailer: begin at the next block.
  if (offset_in_block > kBlockSize - kHeaderSize) {
    block_start += kBlockSize;
  } else if (start_ == Start::kAtRecord) {
    block_start = initial_offset_;
  }
  end_of_buffer_offset_ = block_start;
  if (block_start > 0) {
    absl::Status s = file_->Skip(block_start);
    if (!s.ok()) {
      status_ = s;
      ReportIoError(0, block_start, s.message());
      return false;
    }
  }
  return true;
}

// Longer than this project's functions usually are, on purpose: it is one
// switch over the fragment types, case for case the state machine of
// LevelDB's log::Reader::ReadRecord, so the two can be checked against each
// other (byte compatibility, the table at the top of block_reader.h).
bool BlockReader::ReadRecord(absl::string_view* record, std::string* scratch) {
  if (!skipped_to_initial_block_) {
    skipped_to_initial_block_ = true;
    if (initial_offset_ > 0 && !SkipToInitialBlock()) return false;
  }

  scratch->clear();
  *record = absl::string_view();
  bool in_fragmented_record = false;
  // Position of the first fragment of the record being assembled.
  uint64_t prospective_record_offset = 0;

  absl::string_view fragment;
  while (true) {
    const unsigned record_type = ReadPhysicalRecord(&fragment);
    if (record_type == kSkipped) continue;
    // ReadPhysicalRecord consumed the fragment; where it began:
    const uint64_t physical_record_offset =
        BufferPosition() - kHeaderSize - fragment.size();

    if (resyncing_) {
      if (record_type == kMiddleType) {
        continue;
      } else if (record_type == kLastType) {
        resyncing_ = false;
        continue;
      } else {
        resyncing_ = false;
      }
    }

    switch (record_type) {
      case kFullType:
        if (in_fragmented_record && !scratch->empty()) {
          ReportCorruption(prospective_record_offset, scratch->size(),
                           ProblemKind::kPartialRecord,
                           "partial record without end");
        }
        // An empty FIRST followed by a FULL drops nothing, so it is not
        // reported (older LevelDB writers could produce that).
        scratch->clear();
        *record = fragment;
        last_record_offset_ = physical_record_offset;
        last_record_end_ = BufferPosition();
        return true;

      case kFirstType:
        if (in_fragmented_record && !scratch->empty()) {
          ReportCorruption(prospective_record_offset, scratch->size(),
                           ProblemKind::kPartialRecord,
                           "partial record without end");
        }
        prospective_record_offset = physical_record_offset;
        scratch->assign(fragment.data(), fragment.size());
        in_fragmented_record = true;
        break;

      case kMiddleType:
      case kLastType:
        if (!in_fragmented_record) {
          ReportCorruption(physical_record_offset,
                           kHeaderSize + fragment.size(),
                           ProblemKind::kMissingStart,
                           "missing start of fragmented record");
          break;
        }
        scratch->append(fragment.data(), fragment.size());
        if (record_type == kLastType) {
          *record = *scratch;
          last_record_offset_ = prospective_record_offset;
          last_record_end_ = BufferPosition();
          return true;
        }
        break;

      case kEof:
        // A fragmented record cut off by the end of the file means the
        // writer died before finishing it: drop it without a report.
        scratch->clear();
        return false;

      case kBadRecord:
        if (in_fragmented_record) {
          ReportCorruption(prospective_record_offset, scratch->size(),
                           ProblemKind::kErrorInRecord, "error in middle of record");
          in_fragmented_record = false;
          scratch->clear();
        }
        break;

      default:
        ReportCorruption(
            in_fragmented_record ? prospective_record_offset
                                 : physical_record_offset,
            kHeaderSize + fragment.size() +
                (in_fragmented_record ? scratch->size() : 0),
            ProblemKind::kUnknownRecordType, "unknown record type");
        in_fragmented_record = false;
        scratch->clear();
        break;
    }
  }
}

unsigned BlockReader::ReadPhysicalRecord(absl::string_view* fragment) {
  *fragment = absl::string_view();
  while (true) {
    if (buffer_.size() < static_cast<size_t>(kHeaderSize)) {
      if (!eof_) {
        // The previous read was a whole block, so what is left is its
        // trailer: skip it and read the next block.
        buffer_ = absl::string_view();
        // Read up to the next block boundary (a whole block, except after
        // starting in the middle of one).
        const size_t want = kBlockSize - end_of_buffer_offset_ % kBlockSize;
        absl::StatusOr<absl::string_view> read =
            file_->Read(want, backing_store_.get());
        if (!read.ok()) {
          status_ = read.status();
          ReportIoError(end_of_buffer_offset_, kBlockSize,
                           read.status().message());
          eof_ = true;
          return kEof;
        }
        buffer_ = *read;
        end_of_buffer_offset_ += buffer_.size();
        if (buffer_.size() < want) eof_ = true;
        continue;
      }
      // A truncated header at the end of the file: the writer died while
      // writing it. Not corruption, just the end.
      buffer_ = absl::string_view();
      return kEof;
    }

    const char* header = buffer_.data();
    const uint32_t length = DecodeFixed16(header + 4);
    const unsigned type = static_cast<unsigned char>(header[6]);
    if (kHeaderSize + length > buffer_.size()) {
      const uint64_t drop_position = BufferPosition();
      const size_t drop_size = buffer_.size();
      buffer_ = absl::string_view();
      if (!eof_) {
        ReportCorruption(drop_position, drop_size,
                         ProblemKind::kBadRecordLength, "bad record length");
        return drop_position < initial_offset_ ? kSkipped : kBadRecord;
      }
      // The end of the file came before `length` payload bytes: the writer
      // died mid-record (a torn tail). Not corruption.
      return kEof;
    }

    if (type == kZeroType && length == 0) {
      // Preallocated, zero-filled space: skip the rest of the block silently.
      buffer_ = absl::string_view();
      return kBadRecord;
    }

    if (verify_checksums_) {
      const uint32_t expected = crc32c::Unmask(DecodeFixed32(header));
      const uint32_t actual = crc32c::Value(header + 6, 1 + length);
      if (actual != expected) {
        // Drop the rest of the block: the length itself may be corrupt, and
        // trusting it could land on bytes that merely look like a record.
        const uint64_t drop_position = BufferPosition();
        const size_t drop_size = buffer_.size();
        buffer_ = absl::string_view();
        ReportCorruption(drop_position, drop_size,
                         ProblemKind::kChecksumMismatch, "checksum mismatch");
        return drop_position < initial_offset_ ? kSkipped : kBadRecord;
      }
    }

    buffer_.remove_prefix(kHeaderSize + length);
    // Skip fragments that start before the initial offset.
    if (BufferPosition() - kHeaderSize - length < initial_offset_) {
      return kSkipped;
    }
    *fragment = absl::string_view(header + kHeaderSize, length);
    return type;
  }
}

namespace {

// One fragment of a record ReadFragments reads: its type and payload, and
// whether the payload lives in the reader's own buffers (the file copied it)
// rather than in memory owned by the file.
struct Fragment {
  unsigned type = 0;
  absl::string_view payload;
  bool in_buffer = false;
};

// Reads and checks the fragment at `pos` of the record at `position`.
class FragmentReader {
 public:
  // `quiet`: errors carry no message (ProbeRecordAt).
  FragmentReader(const RandomAccessFile& file, uint64_t position, bool quiet)
      : file_(file), position_(position), quiet_(quiet) {}

  absl::Status DataLoss(uint64_t at, absl::string_view what) const {
    if (quiet_) return absl::DataLossError("");
    return absl::DataLossError(
        absl::StrCat(file_.path(), ": record at position ", position_, ": ",
                     what, " at position ", at));
  }

  // A fragment of type `type` at `pos` where it cannot be.
  absl::Status WrongType(uint64_t pos, unsigned type,
                         absl::string_view where) const {
    if (quiet_) return absl::DataLossError("");
    return DataLoss(pos, absl::StrCat("fragment of type ", type, " ", where));
  }

  absl::StatusOr<Fragment> Read(uint64_t pos, bool first) {
    const uint64_t in_block = pos % kBlockSize;
    if (in_block > static_cast<uint64_t>(kBlockSize - kHeaderSize)) {
      if (first) {
        BW_ASSIGN_OR_RETURN(const uint64_t size, file_.Size());
        if (position_ >= size) return PastEnd();
      }
      return DataLoss(pos, "position in a block trailer");
    }
    const size_t block_left = static_cast<size_t>(kBlockSize - in_block);
    // The first read takes a small record whole in one call, into a buffer
    // on the stack: reading a small record allocates nothing but the copy
    // the caller gets.
    const size_t want = first ? std::min(block_left, kFirstRead) : block_left;
    char* dst = first ? first_buf_ : Grow(want);
    BW_ASSIGN_OR_RETURN(absl::string_view got, file_.Read(pos, want, dst));
    if (first && got.empty()) return PastEnd();
    if (got.size() < static_cast<size_t>(kHeaderSize)) {
      return DataLoss(pos, "header cut off by the end of the file");
    }
    const uint32_t length = DecodeFixed16(got.data() + 4);
    const unsigned type = static_cast<unsigned char>(got[6]);
    if (kHeaderSize + length > block_left) {
      return DataLoss(pos, "bad record length");
    }
    if (kHeaderSize + length > got.size() && got.size() == want) {
      // The first read was short of a large fragment: fetch the rest.
      const size_t need = kHeaderSize + length;
      dst = Grow(need);
      BW_ASSIGN_OR_RETURN(got, file_.Read(pos, need, dst));
    }
    if (kHeaderSize + length > got.size()) {
      return DataLoss(pos, "payload cut off by the end of the file");
    }
    const uint32_t expected = crc32c::Unmask(DecodeFixed32(got.data()));
    if (crc32c::Value(got.data() + 6, 1 + length) != expected) {
      return DataLoss(pos, "checksum mismatch");
    }
    return Fragment{type, got.substr(kHeaderSize, length), got.data() == dst};
  }

 private:
  static constexpr size_t kFirstRead = 4096;

  absl::Status PastEnd() const {
    if (quiet_) return absl::OutOfRangeError("");
    return absl::OutOfRangeError(
        absl::StrCat(file_.path(), ": position ", position_,
                     " is at or past the end of the file"));
  }
  // The heap buffer, at least n bytes (grown only, never cleared: the read
  // overwrites what it returns).
  char* Grow(size_t n) {
    if (buf_size_ < n) {
      buf_.reset(new char[n]);
      buf_size_ = n;
    }
    return buf_.get();
  }

  const RandomAccessFile& file_;
  const uint64_t position_;
  const bool quiet_;
  char first_buf_[kFirstRead];
  // Larger fragments, when the file copies.
  std::unique_ptr<char[]> buf_;
  size_t buf_size_ = 0;
};

// ReadRecordAt for any record: reads fragment by fragment.
absl::StatusOr<absl::string_view> ReadFragments(const RandomAccessFile& file,
                                                uint64_t position,
                                                std::string* scratch,
                                                uint64_t* end_position,
                                                bool quiet) {
  scratch->clear();
  FragmentReader reader(file, position, quiet);
  uint64_t pos = position;
  for (bool first = true;; first = false) {
    BW_ASSIGN_OR_RETURN(const Fragment f, reader.Read(pos, first));
    const uint64_t end = pos + kHeaderSize + f.payload.size();
    if (first && f.type == kFullType) {
      if (end_position != nullptr) *end_position = end;
      if (!f.in_buffer) return f.payload;  // memory owned by the file
      // The bytes live in a local buffer: hand them over via scratch.
      scratch->assign(f.payload.data(), f.payload.size());
      return absl::string_view(*scratch);
    }
    if (first && f.type != kFirstType) {
      return reader.WrongType(pos, f.type, "where a record should start");
    }
    if (!first && f.type != kMiddleType && f.type != kLastType) {
      return reader.WrongType(pos, f.type, "inside a fragmented record");
    }
    scratch->append(f.payload.data(), f.payload.size());
    if (f.type == kLastType) {
      if (end_position != nullptr) *end_position = end;
      return absl::string_view(*scratch);
    }
    // The next fragment starts the next block (a FIRST/MIDDLE fills its block
    // up to a trailer the writer zero-filled).
    pos = NextFragmentStart(end);
  }
}

}  // namespace

namespace {

absl::StatusOr<absl::string_view> ReadRecordAtImpl(
    const RandomAccessFile& file, uint64_t position, std::string* scratch,
    uint64_t* end_position, uint64_t length_hint, bool view_file_memory,
    bool quiet = false) {
  // The common case in one read, straight into *scratch: a FULL record whose
  // extent the caller knows (the index gives where the next record starts).
  const uint64_t in_block = position % kBlockSize;
  if (length_hint >= static_cast<uint64_t>(kHeaderSize) &&
      in_block <= static_cast<uint64_t>(kBlockSize - kHeaderSize)) {
    const size_t want = static_cast<size_t>(
        std::min<uint64_t>(length_hint, kBlockSize - in_block));
    // Grow only: a reused scratch is not cleared again for every read.
    if (scratch->size() < want) scratch->resize(want);
    absl::StatusOr<absl::string_view> read =
        file.Read(position, want, scratch->data());
    if (!read.ok()) return read.status();
    const absl::string_view got = *read;
    if (got.size() >= static_cast<size_t>(kHeaderSize)) {
      const uint32_t length = DecodeFixed16(got.data() + 4);
      const unsigned type = static_cast<unsigned char>(got[6]);
      if (type == kFullType && kHeaderSize + length <= got.size() &&
          crc32c::Unmask(DecodeFixed32(got.data())) ==
              crc32c::Value(got.data() + 6, 1 + length)) {
        if (end_position != nullptr) {
          *end_position = position + kHeaderSize + length;
        }
        const absl::string_view payload = got.substr(kHeaderSize, length);
        if (payload.data() == scratch->data() + kHeaderSize ||
            view_file_memory) {
          return payload;
        }
        scratch->assign(payload.data(), payload.size());
        return absl::string_view(*scratch);
      }
    }
    // Anything else (fragments, damage, a wrong hint) takes the general path,
    // which reports exactly what is wrong.
  }
  return ReadFragments(file, position, scratch, end_position, quiet);
}

}  // namespace

absl::StatusOr<absl::string_view> ReadRecordAt(const RandomAccessFile& file,
                                               uint64_t position,
                                               std::string* scratch,
                                               uint64_t* end_position,
                                               uint64_t length_hint) {
  return ReadRecordAtImpl(file, position, scratch, end_position, length_hint,
                          /*view_file_memory=*/false);
}

absl::StatusOr<absl::string_view> ReadRecordViewAt(
    const RandomAccessFile& file, uint64_t position, std::string* scratch,
    uint64_t* end_position, uint64_t length_hint) {
  return ReadRecordAtImpl(file, position, scratch, end_position, length_hint,
                          /*view_file_memory=*/true);
}

absl::StatusOr<absl::string_view> ProbeRecordAt(const RandomAccessFile& file,
                                                uint64_t position,
                                                std::string* scratch,
                                                uint64_t* end_position) {
  return ReadRecordAtImpl(file, position, scratch, end_position,
                          /*length_hint=*/0, /*view_file_memory=*/false,
                          /*quiet=*/true);
}

absl::Status ScanRecords(
    SequentialFile* file, uint64_t start, BlockReader::Reporter* reporter,
    absl::FunctionRef<bool(uint64_t, uint64_t, absl::string_view)> fn) {
  BlockReader reader(file, reporter, /*verify_checksums=*/true, start,
                     BlockReader::Start::kAtRecord);
  absl::string_view payload;
  std::string scratch;
  while (reader.ReadRecord(&payload, &scratch)) {
    if (!fn(reader.last_record_offset(), reader.last_record_end(), payload)) {
      break;
    }
  }
  return reader.status();
}

}  // namespace blockwal::wal
