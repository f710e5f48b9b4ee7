// A test-only codec for the payload LevelDB (and RocksDB, for plain puts and
// deletes in the default column family) writes as each WAL record: a
// WriteBatch "rep". The interop tests use it to check what those databases
// logged and to produce logs they must accept. db/ will get the real one.
//
// Layout (all integers little-endian):
//
//   sequence  fixed64   sequence number of the first op; op i gets sequence+i
//   count     fixed32   number of ops that follow
//   op*       tag (1 byte), then
//               kTypeValue    (1): varint32 key length, key,
//                                  varint32 value length, value
//               kTypeDeletion (0): varint32 key length, key
#ifndef BLOCKWAL_TESTS_WRITE_BATCH_CODEC_H_
#define BLOCKWAL_TESTS_WRITE_BATCH_CODEC_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "blockwal/util/coding.h"

namespace blockwal::testing {

struct BatchOp {
  // The tag byte values LevelDB uses (db/dbformat.h ValueType).
  enum Kind : uint8_t { kDelete = 0, kPut = 1 };

  static BatchOp Put(std::string key, std::string value) {
    return BatchOp{kPut, std::move(key), std::move(value)};
  }
  static BatchOp Delete(std::string key) {
    return BatchOp{kDelete, std::move(key), std::string()};
  }

  Kind kind;
  std::string key;
  std::string value;  // empty for a delete

  friend bool operator==(const BatchOp&, const BatchOp&) = default;
  // Large values are summarized so a failure message stays readable.
  friend std::ostream& operator<<(std::ostream& os, const BatchOp& op) {
    os << (op.kind == kPut ? "Put(" : "Delete(") << '"' << op.key << '"';
    if (op.kind == kPut) {
      if (op.value.size() <= 32) {
        os << ", \"" << op.value << '"';
      } else {
        os << ", <" << op.value.size() << " bytes>";
      }
    }
    return os << ')';
  }
};

struct WriteBatchContents {
  uint64_t sequence = 0;
  std::vector<BatchOp> ops;

  friend bool operator==(const WriteBatchContents&,
                         const WriteBatchContents&) = default;
  friend std::ostream& operator<<(std::ostream& os,
                                  const WriteBatchContents& b) {
    os << "{seq " << b.sequence << ":";
    for (const BatchOp& op : b.ops) os << ' ' << op;
    return os << '}';
  }
};

// Bytes of the fixed header (sequence + count).
inline constexpr size_t kWriteBatchHeaderSize = 8 + 4;

inline std::string EncodeWriteBatch(const WriteBatchContents& batch) {
  std::string rep;
  PutFixed64(&rep, batch.sequence);
  PutFixed32(&rep, static_cast<uint32_t>(batch.ops.size()));
  for (const BatchOp& op : batch.ops) {
    rep.push_back(static_cast<char>(op.kind));
    PutLengthPrefixed(&rep, op.key);
    if (op.kind == BatchOp::kPut) PutLengthPrefixed(&rep, op.value);
  }
  return rep;
}

// kDataLoss for anything that is not exactly one well-formed batch: a short
// header, an unknown tag, a truncated op, a count that disagrees with the ops
// present, or bytes after the last op.
inline absl::StatusOr<WriteBatchContents> DecodeWriteBatch(
    absl::string_view rep) {
  WriteBatchContents batch;
  uint32_t count = 0;
  if (!GetFixed64(&rep, &batch.sequence) || !GetFixed32(&rep, &count)) {
    return absl::DataLossError("write batch shorter than its 12-byte header");
  }
  while (!rep.empty()) {
    const auto tag = static_cast<uint8_t>(rep[0]);
    rep.remove_prefix(1);
    absl::string_view key, value;
    switch (tag) {
      case BatchOp::kPut:
        if (!GetLengthPrefixed(&rep, &key) || !GetLengthPrefixed(&rep, &value)) {
          return absl::DataLossError(
              absl::StrCat("bad put at op ", batch.ops.size()));
        }
        batch.ops.push_back(BatchOp::Put(std::string(key), std::string(value)));
        break;
      case BatchOp::kDelete:
        if (!GetLengthPrefixed(&rep, &key)) {
          return absl::DataLossError(
              absl::StrCat("bad delete at op ", batch.ops.size()));
        }
        batch.ops.push_back(BatchOp::Delete(std::string(key)));
        break;
      default:
        // RocksDB uses further tags (column families, merges, ...); the tests
        // never write them, so seeing one means the payload is not what we
        // think it is.
        return absl::DataLossError(absl::StrCat(
            "unknown write batch tag ", tag, " at op ", batch.ops.size()));
    }
  }
  if (batch.ops.size() != count) {
    return absl::DataLossError(absl::StrCat("write batch header counts ", count,
                                            " ops, found ", batch.ops.size()));
  }
  return batch;
}

}  // namespace blockwal::testing

#endif  // BLOCKWAL_TESTS_WRITE_BATCH_CODEC_H_
