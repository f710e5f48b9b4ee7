// Checkpoint files: a snapshot of the whole store, so the WAL records it
// covers can be removed. A checkpoint named CHECKPOINT-<N> (N zero-padded to
// 20 digits, so names sort by N) holds the effect of every WAL record at an
// offset below N: recovery loads it and replays the WAL from offset N.
// (N is the last covered offset + 1; using the exclusive bound lets a store
// with no WAL record yet be checkpointed too.)
//
// The file is block-framed (wal/block_writer.h, the WAL's own framing), so
// every record carries a masked CRC32C, and is made of:
//
//   record 0   header   kind=1 u8 | magic "BWKVCKPT" | version u32 |
//                       wal_offset N u64 | key count u64
//   record 1.. chunk    kind=2 u8 | pair count varint32 |
//                       (varint32 klen, key, varint32 vlen, value) * count
//   last       trailer  kind=3 u8 | records before it u32 |
//                       CRC32C (masked) of the payloads of all records before
//                       it, in order u32
//
// All integers are little-endian fixed width unless marked varint. Keys are
// strictly increasing across the chunks; the chunks hold exactly `key count`
// pairs. The trailer proves the file is complete: a file that ends before it
// (a torn write of an unsynced file) is rejected, never loaded partially.
//
// Writing (WriteCheckpoint): CHECKPOINT-<N>.tmp is written and synced, then
// renamed to CHECKPOINT-<N>, then the directory is synced. A crash leaves
// either no new checkpoint or the complete one (a stray .tmp is ignored and
// removed by the next DB::Open).
#ifndef BLOCKWAL_DB_CHECKPOINT_H_
#define BLOCKWAL_DB_CHECKPOINT_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "db/memtable.h"
#include "util/file_system.h"

namespace blockwal::db {

inline constexpr char kCheckpointPrefix[] = "CHECKPOINT-";
inline constexpr char kCheckpointTempSuffix[] = ".tmp";
inline constexpr char kCheckpointMagic[] = "BWKVCKPT";  // 8 bytes
inline constexpr uint32_t kCheckpointVersion = 1;
// Record kinds (the first byte of each record's payload).
inline constexpr uint8_t kCheckpointHeader = 1;
inline constexpr uint8_t kCheckpointChunk = 2;
inline constexpr uint8_t kCheckpointTrailer = 3;
// A chunk is closed once its pairs reach this many bytes.
inline constexpr size_t kCheckpointChunkBytes = 64 << 10;

// "CHECKPOINT-<N, 20 digits>".
std::string CheckpointFileName(uint64_t wal_offset);
// N for a name made by CheckpointFileName; nullopt for any other name
// (including temp files).
std::optional<uint64_t> ParseCheckpointFileName(absl::string_view name);

struct CheckpointInfo {
  std::string path;
  uint64_t wal_offset = 0;  // covers WAL records below this offset
  uint64_t keys = 0;
  uint64_t bytes = 0;       // file size
};

// Writes `table` as DIR/CHECKPOINT-<wal_offset> crash-safely (see above).
// On error the temp file may remain; the checkpoint itself is either absent
// or complete.
absl::StatusOr<CheckpointInfo> WriteCheckpoint(FileSystem* fs,
                                               const std::string& dir,
                                               uint64_t wal_offset,
                                               const MemTable& table);

// Reads and verifies the checkpoint at path, replacing *table's contents
// (untouched on error). kDataLoss naming the file and what is wrong (a bad
// block checksum with its position, a bad header, a missing trailer, a CRC or
// count mismatch, keys out of order); the file system's error when it cannot
// be read.
absl::StatusOr<CheckpointInfo> ReadCheckpoint(FileSystem* fs,
                                              const std::string& path,
                                              MemTable* table);

}  // namespace blockwal::db

#endif  // BLOCKWAL_DB_CHECKPOINT_H_
