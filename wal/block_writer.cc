#include "blockwal/wal/block_writer.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "blockwal/util/coding.h"
#include "blockwal/util/crc32c.h"
#include "blockwal/util/status_macros.h"

namespace blockwal::wal {

BlockWriter::BlockWriter(WritableFile* dest, uint64_t dest_length)
    : dest_(dest),
      position_(dest_length),
      block_offset_(static_cast<int>(dest_length % kBlockSize)) {
  for (int i = 0; i <= kMaxRecordType; ++i) {
    const char t = static_cast<char>(i);
    type_crc_[i] = crc32c::Value(&t, 1);
  }
}

absl::Status BlockWriter::Fail(absl::Status s) {
  if (status_.ok()) status_ = std::move(s);
  return status_;
}

absl::StatusOr<uint64_t> BlockWriter::AddRecord(absl::string_view payload) {
  return AddRecord(absl::string_view(), payload);
}

absl::StatusOr<uint64_t> BlockWriter::AddRecord(absl::string_view prefix,
                                                absl::string_view payload) {
  if (!status_.ok()) return status_;
  // What remains to be written of each piece.
  absl::string_view a = prefix;
  absl::string_view b = payload;
  size_t left = a.size() + b.size();
  uint64_t start = 0;

  // Fragment the record if necessary and emit it. An empty record still
  // emits one zero-length FULL fragment.
  bool begin = true;
  do {
    const int leftover = kBlockSize - block_offset_;
    assert(leftover >= 0);
    if (leftover < kHeaderSize) {
      // Switch to a new block, zero-filling the trailer.
      if (leftover > 0) {
        static_assert(kHeaderSize == 7, "trailer literal below has 6 bytes");
        absl::Status s = dest_->Append(
            absl::string_view("\x00\x00\x00\x00\x00\x00", leftover));
        if (!s.ok()) return Fail(std::move(s));
        position_ += leftover;
      }
      block_offset_ = 0;
    }
    // Invariant: we never leave < kHeaderSize bytes in a block.
    assert(kBlockSize - block_offset_ >= kHeaderSize);
    if (begin) start = position_;

    const size_t avail = kBlockSize - block_offset_ - kHeaderSize;
    const size_t fragment_length = std::min(left, avail);
    const bool end = (left == fragment_length);
    RecordType type;
    if (begin && end) {
      type = kFullType;
    } else if (begin) {
      type = kFirstType;
    } else if (end) {
      type = kLastType;
    } else {
      type = kMiddleType;
    }
    // The fragment takes what is left of the prefix first.
    const absl::string_view fa = a.substr(0, std::min(a.size(), fragment_length));
    const absl::string_view fb = b.substr(0, fragment_length - fa.size());
    absl::Status s = EmitPhysicalRecord(type, fa, fb);
    if (!s.ok()) return Fail(std::move(s));
    a.remove_prefix(fa.size());
    b.remove_prefix(fb.size());
    left -= fragment_length;
    begin = false;
  } while (left > 0);
  return start;
}

absl::Status BlockWriter::EmitPhysicalRecord(RecordType type,
                                             absl::string_view a,
                                             absl::string_view b) {
  const size_t length = a.size() + b.size();
  assert(length <= 0xffff);  // Must fit in two bytes.
  assert(block_offset_ + kHeaderSize + length <= kBlockSize);

  char header[kHeaderSize];
  EncodeFixed16(header + 4, static_cast<uint16_t>(length));
  header[6] = static_cast<char>(type);
  uint32_t crc = crc32c::Extend(type_crc_[type], a.data(), a.size());
  crc = crc32c::Extend(crc, b.data(), b.size());
  EncodeFixed32(header, crc32c::Mask(crc));

  BW_RETURN_IF_ERROR(dest_->Append(absl::string_view(header, kHeaderSize)));
  if (!a.empty()) BW_RETURN_IF_ERROR(dest_->Append(a));
  if (!b.empty()) BW_RETURN_IF_ERROR(dest_->Append(b));
  block_offset_ += static_cast<int>(kHeaderSize + length);
  position_ += kHeaderSize + length;
  return absl::OkStatus();
}

absl::Status BlockWriter::Flush() {
  if (!status_.ok()) return status_;
  absl::Status s = dest_->Flush();
  return s.ok() ? s : Fail(std::move(s));
}

absl::Status BlockWriter::Sync() {
  if (!status_.ok()) return status_;
  absl::Status s = dest_->Sync();
  return s.ok() ? s : Fail(std::move(s));
}

}  // namespace blockwal::wal
