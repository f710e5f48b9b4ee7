// Appends logical records to a file in the block format (wal/format.h).
#ifndef BLOCKWAL_WAL_BLOCK_WRITER_H_
#define BLOCKWAL_WAL_BLOCK_WRITER_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "blockwal/util/file_system.h"
#include "blockwal/wal/format.h"

namespace blockwal::wal {

// Not thread-safe: one writer per file, externally synchronized.
//
// Records go to the file through WritableFile::Append, which buffers in user
// space; nothing is guaranteed to reach the OS until Flush or the durable
// medium until Sync. After any failed Append/Flush/Sync the writer is broken:
// every later call returns that first error (the file may hold a partial
// record, which a reader sees as a torn tail).
class BlockWriter {
 public:
  // Appends to *dest, which holds `dest_length` bytes already (any length: a
  // partial last block is continued, a short trailer is padded first).
  // "*dest" must remain live while this BlockWriter is in use.
  explicit BlockWriter(WritableFile* dest, uint64_t dest_length = 0);
  BlockWriter(const BlockWriter&) = delete;
  BlockWriter& operator=(const BlockWriter&) = delete;

  // Appends one logical record; returns the position of its first fragment's
  // header (after any trailer padding the record caused).
  absl::StatusOr<uint64_t> AddRecord(absl::string_view payload);
  // Appends one logical record made of `prefix` followed by `payload`,
  // without joining them in memory first (a header and a value).
  absl::StatusOr<uint64_t> AddRecord(absl::string_view prefix,
                                     absl::string_view payload);

  absl::Status Flush();
  absl::Status Sync();

  // The file length once everything added so far is written.
  uint64_t position() const { return position_; }
  // The first error the writer hit, or OK.
  const absl::Status& status() const { return status_; }

 private:
  // Writes one fragment whose data is `a` followed by `b`.
  absl::Status EmitPhysicalRecord(RecordType type, absl::string_view a,
                                  absl::string_view b);
  absl::Status Fail(absl::Status s);

  WritableFile* const dest_;
  uint64_t position_;  // absolute file offset of the next byte
  int block_offset_;   // offset of the next byte inside the current block
  absl::Status status_;
  // CRC32C of each type byte, so a fragment's CRC is one Extend over its data.
  uint32_t type_crc_[kMaxRecordType + 1];
};

}  // namespace blockwal::wal

#endif  // BLOCKWAL_WAL_BLOCK_WRITER_H_
