// The envelope every logical record of a segmented log carries inside its
// block-format payload, so the store alone can rebuild and verify the index
// and OffsetForTime can binary-search by time.
//
//   +-------------+-----------------+---------+------ ... ------+
//   | offset (8B) | timestamp (8B)  | flags   | value           |
//   +-------------+-----------------+---------+------ ... ------+
//     u64 LE        u64 LE, µs since   u8
//     absolute      the Unix epoch,
//     log offset    never decreasing
//
// flags bit 0 (kSyncMarker): this record is the last of a group that was
// synced before the append was acknowledged. Recovery uses it to tell a torn
// tail (only unmarked records after a bad region: cut it) from damage to
// acknowledged data (a marked record after the bad region: kDataLoss).
// flags bit 1 (kBatchContinues): more records of the same AppendBatch follow.
// A store whose last records all carry it ends in a batch that was cut off
// by a crash; recovery removes those records so batches stay all-or-nothing.
// Other bits are reserved and must be zero.
#ifndef BLOCKWAL_WAL_RECORD_H_
#define BLOCKWAL_WAL_RECORD_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace blockwal::wal {

inline constexpr size_t kEnvelopeSize = 8 + 8 + 1;
inline constexpr uint8_t kSyncMarker = 0x01;
inline constexpr uint8_t kBatchContinues = 0x02;
inline constexpr uint8_t kKnownFlags = kSyncMarker | kBatchContinues;

// A record of the log. `value` points into memory owned by whoever returned
// it; the returning function says how long it stays valid.
struct Record {
  uint64_t offset = 0;
  uint64_t timestamp_us = 0;
  uint8_t flags = 0;
  absl::string_view value;
};

// Writes the kEnvelopeSize bytes of an envelope to dst.
void EncodeEnvelope(uint64_t offset, uint64_t timestamp_us, uint8_t flags,
                    char* dst);
// Appends the envelope and the value to *dst.
void EncodeRecord(uint64_t offset, uint64_t timestamp_us, uint8_t flags,
                  absl::string_view value, std::string* dst);

// Parses a payload read from a store. kDataLoss when it is shorter than an
// envelope or has unknown flag bits. The result's value points into payload.
absl::StatusOr<Record> DecodeRecord(absl::string_view payload);

}  // namespace blockwal::wal

#endif  // BLOCKWAL_WAL_RECORD_H_
