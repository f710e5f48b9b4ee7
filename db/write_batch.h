// A WriteBatch is a list of puts and deletes applied to the store atomically:
// the DB appends one batch as one WAL record, so after a crash either every
// op of a batch is there or none is.
//
//   db::WriteBatch batch;
//   batch.Put("apple", "red");
//   batch.Delete("pear");
//   absl::Status s = db->Write(batch);
//
// The encoding is LevelDB's WriteBatch "rep" (db/write_batch.cc there), so a
// blockwal KV WAL record decodes with LevelDB's tools and vice versa:
//
//   +--------------+-----------+----- ... -----+
//   | sequence u64 | count u32 | op * count    |
//   +--------------+-----------+----- ... -----+
//     fixed64 LE     fixed32 LE
//
//   op = kTypeValue    (tag 1): varint32 key length, key,
//                               varint32 value length, value
//      | kTypeDeletion (tag 0): varint32 key length, key
//
// The DB leaves `sequence` 0 when it writes a batch: a batch's sequence number
// is the WAL offset of its record, which the log assigns at append time.
//
// Not thread-safe: a batch is built by one thread, then handed to DB::Write.
#ifndef BLOCKWAL_DB_WRITE_BATCH_H_
#define BLOCKWAL_DB_WRITE_BATCH_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace blockwal::db {

// A key and its value, as scans return them.
using KeyValue = std::pair<std::string, std::string>;

// Header is sequence (8 bytes) and count (4 bytes).
inline constexpr size_t kWriteBatchHeaderSize = 12;

// Op tags, LevelDB's ValueType values.
enum class BatchOpType : uint8_t {
  kDelete = 0,
  kPut = 1,
};

class WriteBatch {
 public:
  // Receives the ops of a batch in order (Iterate).
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void Put(absl::string_view key, absl::string_view value) = 0;
    virtual void Delete(absl::string_view key) = 0;
  };

  WriteBatch();
  WriteBatch(const WriteBatch&) = default;
  WriteBatch& operator=(const WriteBatch&) = default;
  WriteBatch(WriteBatch&&) = default;
  WriteBatch& operator=(WriteBatch&&) = default;

  // Parses an encoded batch (a WAL record), checking every op: kDataLoss
  // naming what is wrong and where (DecodeWriteBatch).
  static absl::StatusOr<WriteBatch> FromContents(absl::string_view contents);

  void Put(absl::string_view key, absl::string_view value);
  void Delete(absl::string_view key);
  // Removes every op (the sequence is kept).
  void Clear();

  uint32_t Count() const;
  uint64_t sequence() const;
  void set_sequence(uint64_t sequence);

  // The encoded batch; valid until the batch is next modified.
  absl::string_view Contents() const { return rep_; }
  size_t ApproximateSize() const { return rep_.size(); }

  // Calls the handler for each op in order. The views passed to it point
  // into this batch. Always OK (the encoding is valid by construction); a
  // Status so callers treat it like DecodeWriteBatch.
  absl::Status Iterate(Handler* handler) const;

 private:
  // Always a valid encoding: built by Put/Delete or checked by FromContents.
  std::string rep_;
};

// Checks `contents` is a well-formed batch: a whole header, exactly `count`
// ops each with a known tag and lengths inside the input, and no bytes after
// the last op. Then, only if all of it is valid, calls handler (when not null)
// for each op, so a damaged batch applies nothing. kDataLoss otherwise, e.g.
// "write batch op 2 of 3 (byte 27): value length 80 runs past the end (5
// bytes left)".
absl::Status DecodeWriteBatch(absl::string_view contents,
                              WriteBatch::Handler* handler);

}  // namespace blockwal::db

#endif  // BLOCKWAL_DB_WRITE_BATCH_H_
