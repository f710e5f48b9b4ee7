// The block format: how blockwal frames records on disk. Byte-identical to the
// write-ahead logs of LevelDB (db/log_format.h) and RocksDB (with its default,
// non-recyclable records), so each can read the other's files.
//
// Using it
//   Write logical records (any bytes, any length including zero) with a
//   BlockWriter (wal/block_writer.h); it returns the byte position where each
//   record starts. Read them back in order with a BlockReader
//   (wal/block_reader.h), which reports damaged regions through a callback
//   and carries on after them, or read one record at a known position with
//   ReadRecordAt.
//
// Wire format
//   A file is a sequence of 32 KiB blocks; only the last may be partial. Each
//   block holds physical records ("fragments") back to back:
//
//     +---------+-----------+-----------+--- ... ---+
//     |CRC (4B) | Length(2B)| Type (1B) | Payload   |
//     +---------+-----------+-----------+--- ... ---+
//      little-endian u32, u16    u8       `Length` bytes
//
//   CRC    masked CRC32C (util/crc32c.h Mask) of the type byte followed by the
//          payload; the length is not covered (a bad length is caught because
//          the CRC then covers the wrong bytes, or the length runs past the
//          block).
//   Type   kFullType: a whole logical record. A logical record that does not
//          fit the rest of the block is split: kFirstType, zero or more
//          kMiddleType, kLastType, one per block. kZeroType is what
//          preallocated (zero-filled) space decodes to and is skipped.
//
//   A fragment never starts in the last kHeaderSize - 1 bytes of a block: when
//   fewer than kHeaderSize bytes remain, they are zero-filled (the trailer)
//   and the next fragment starts the next block. With exactly kHeaderSize bytes
//   left, a kFirstType fragment with an empty payload is written there.
//
//     block 0                                 block 1
//     |FULL a|FULL b|FIRST c.............|   |LAST c|FULL d|..|000000|
//                                                   trailer ^ (< 7 bytes)
//
// Recyclable types (RocksDB's 5..8, 11-byte header with a log number) are not
// written and are reported as unknown types when read.
#ifndef BLOCKWAL_WAL_FORMAT_H_
#define BLOCKWAL_WAL_FORMAT_H_

#include <cstdint>

namespace blockwal::wal {

enum RecordType : uint8_t {
  // Zero is reserved for preallocated files.
  kZeroType = 0,
  kFullType = 1,
  // For fragments.
  kFirstType = 2,
  kMiddleType = 3,
  kLastType = 4,
};
inline constexpr uint8_t kMaxRecordType = kLastType;

inline constexpr int kBlockSize = 32768;

// Header is checksum (4 bytes), length (2 bytes), type (1 byte).
inline constexpr int kHeaderSize = 4 + 2 + 1;

// The 2-byte length can describe every payload that fits a block.
static_assert(kBlockSize - kHeaderSize <= 0xffff);

// Where the fragment after one ending at `position` starts: `position`
// itself, or the next block when fewer than kHeaderSize bytes are left in
// this one (the writer zero-fills them as the block's trailer).
inline constexpr uint64_t NextFragmentStart(uint64_t position) {
  const uint64_t left = kBlockSize - position % kBlockSize;
  return left < static_cast<uint64_t>(kHeaderSize) ? position + left
                                                    : position;
}

}  // namespace blockwal::wal

#endif  // BLOCKWAL_WAL_FORMAT_H_
