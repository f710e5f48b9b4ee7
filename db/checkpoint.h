// Checkpoint files: a sorted snapshot of the whole store, so the WAL records
// it covers can be removed. A checkpoint named CHECKPOINT-<N> (N zero-padded
// to 20 digits, so names sort by N) holds the effect of every WAL record at
// an offset below N: recovery opens it and replays the WAL from offset N.
// (N is the last covered offset + 1; using the exclusive bound lets a store
// with no WAL record yet be checkpointed too.)
//
// The file is block-framed (wal/block_writer.h, the WAL's own framing), so
// every fragment carries a masked CRC32C. Its records, by the kind byte that
// starts each payload:
//
//   record 0   header   1 u8 | magic "BWKVCKPT" | version u32 = 2 |
//                       wal_offset N u64
//   records    chunk    2 u8 | pair count varint32 |
//                       (varint32 klen, key, varint32 vlen, value) * count
//   (records   padding  5 u8 | zeros, or an empty record: see below)
//   record     index    4 u8 | chunk count varint32 | per chunk, in order:
//                       position varint64 | payload bytes varint32 |
//                       pair count varint32 | varint32 klen, first key
//   (record    padding)
//   last       trailer  3 u8 | index position u64 | index payload bytes u32 |
//                       key count u64
//
// The trailer is always one FULL fragment that ends the file, i.e. the last
// kTrailerRecordBytes bytes: the writer pads the block first when the trailer
// would not fit in it. So a reader finds the index from the file's end
// without reading the chunks, and a file cut anywhere has no trailer there.
// Integers are little-endian fixed width unless marked varint. Keys are
// strictly increasing across the chunks, which hold exactly `key count` pairs;
// a chunk is closed when the next pair would not fit in the rest of its
// block, so a chunk is one FULL fragment (read as one view of a mapped file)
// unless a single pair is bigger than what the block has left. When a pair
// does not fit in the few bytes left of a block (at most
// kCheckpointMaxPadding) but fits a fresh one, the rest of the block is
// filled with a padding record. Padding is never read for data.
//
// Reading is lazy, as with LevelDB's tables: CheckpointTable::Open verifies
// the trailer, header and index (their checksums, and that the index is
// consistent: positions increasing and inside the file, first keys strictly
// increasing, pair counts summing to the trailer's key count). A chunk is
// verified each time it is read (checksums, length, pair count, first key,
// order against its neighbours); damage there is kDataLoss from the read
// that meets it, naming the file, chunk and position, never a missing key.
// Verify() reads every chunk (DB Options::verify_checkpoint_on_open).
// Format 1 files (below) are still read, whole, by ReadCheckpointV1.
//
// Writing (CheckpointBuilder, WriteCheckpoint): CHECKPOINT-<N>.tmp is written
// and synced, then renamed to CHECKPOINT-<N>, then the directory is synced.
// A crash leaves either no new checkpoint or the complete one (a stray .tmp
// is ignored and removed by the next DB::Open).
#ifndef BLOCKWAL_DB_CHECKPOINT_H_
#define BLOCKWAL_DB_CHECKPOINT_H_

#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "blockwal/db/memtable.h"
#include "blockwal/util/file_system.h"
#include "blockwal/wal/block_writer.h"

namespace blockwal::db {

inline constexpr char kCheckpointPrefix[] = "CHECKPOINT-";
inline constexpr char kCheckpointTempSuffix[] = ".tmp";
inline constexpr char kCheckpointMagic[] = "BWKVCKPT";  // 8 bytes
inline constexpr uint32_t kCheckpointVersion = 2;
// Format 1: no index; read whole (ReadCheckpointV1).
inline constexpr uint32_t kCheckpointVersion1 = 1;
// Record kinds (the first byte of each record's payload).
inline constexpr uint8_t kCheckpointHeader = 1;
inline constexpr uint8_t kCheckpointChunk = 2;
inline constexpr uint8_t kCheckpointTrailer = 3;
inline constexpr uint8_t kCheckpointIndex = 4;
inline constexpr uint8_t kCheckpointPadding = 5;
// The most bytes of a block left to padding so that a chunk starts whole in
// the next block.
inline constexpr size_t kCheckpointMaxPadding = 4 << 10;
// The trailer's payload, and its whole fragment (block header included).
inline constexpr size_t kTrailerPayloadBytes = 1 + 8 + 4 + 8;
inline constexpr size_t kTrailerRecordBytes = 7 + kTrailerPayloadBytes;

// "CHECKPOINT-<N, 20 digits>".
std::string CheckpointFileName(uint64_t wal_offset);
// N for a name made by CheckpointFileName; nullopt for any other name
// (including temp files).
std::optional<uint64_t> ParseCheckpointFileName(absl::string_view name);

struct CheckpointInfo {
  std::string path;
  uint64_t wal_offset = 0;  // covers WAL records below this offset
  uint64_t keys = 0;
  uint64_t chunks = 0;
  uint64_t bytes = 0;       // file size
};

// Writes a checkpoint from pairs added in strictly increasing key order.
class CheckpointBuilder {
 public:
  // Creates DIR/CHECKPOINT-<wal_offset>.tmp and writes the header.
  static absl::StatusOr<std::unique_ptr<CheckpointBuilder>> Create(
      FileSystem* fs, const std::string& dir, uint64_t wal_offset);
  CheckpointBuilder(const CheckpointBuilder&) = delete;
  CheckpointBuilder& operator=(const CheckpointBuilder&) = delete;
  ~CheckpointBuilder();

  // kInvalidArgument when key is not greater than the previous one.
  absl::Status Add(absl::string_view key, absl::string_view value);
  // Writes the last chunk, the index and the trailer, syncs, renames the
  // temp file to its name and syncs the directory. The checkpoint itself is
  // either absent or complete; a builder destroyed before Finish succeeded
  // removes its temp file (best effort: a crash can still leave one, which
  // DB::Open removes).
  absl::StatusOr<CheckpointInfo> Finish();

 private:
  CheckpointBuilder(FileSystem* fs, std::string dir, uint64_t wal_offset,
                    std::unique_ptr<WritableFile> file);
  absl::Status FlushChunk();
  // Fills the rest of the current block with a padding record.
  absl::Status PadBlock();

  FileSystem* const fs_;
  const std::string dir_;
  CheckpointInfo info_;
  std::string temp_;
  std::unique_ptr<WritableFile> file_;
  wal::BlockWriter writer_;
  std::string chunk_;       // pairs of the open chunk
  uint32_t chunk_pairs_ = 0;
  size_t chunk_room_ = 0;   // payload bytes the open chunk's block can hold
  std::string first_key_;   // of the open chunk
  std::string last_key_;    // the last key added
  std::string index_;       // index entries so far
  bool finished_ = false;   // renamed into place
};

// Writes the live entries of `table` (tombstones are left out) as
// DIR/CHECKPOINT-<wal_offset>.
absl::StatusOr<CheckpointInfo> WriteCheckpoint(FileSystem* fs,
                                               const std::string& dir,
                                               uint64_t wal_offset,
                                               const MemTable& table);

// An open checkpoint: reads served from the file (mapped read-only where the
// file system can), chunk by chunk. Point reads keep the chunks they decoded
// in an LRU cache of at most `cache_bytes` (as LevelDB's block cache): a
// chunk is verified when it is read from the file, and served from memory
// while it stays cached. Scans, counts and Verify read the file and leave the
// cache alone. Immutable apart from the cache, and safe for concurrent use.
class CheckpointTable {
 public:
  static constexpr size_t kDefaultCacheBytes = 8 << 20;
  // Verifies the trailer, header and index (see above). kDataLoss naming the
  // file and what is wrong; the file system's error when it cannot be read.
  static absl::StatusOr<std::shared_ptr<const CheckpointTable>> Open(
      FileSystem* fs, const std::string& path,
      size_t cache_bytes = kDefaultCacheBytes);
  CheckpointTable(const CheckpointTable&) = delete;
  CheckpointTable& operator=(const CheckpointTable&) = delete;

  const CheckpointInfo& info() const { return info_; }
  // Bytes of decoded chunks cached now, and point reads served from the
  // cache / from the file so far.
  struct CacheStats {
    size_t bytes = 0;
    uint64_t hits = 0;
    uint64_t misses = 0;
  };
  CacheStats cache_stats() const;

  // The value of key, nullopt when absent; kDataLoss when the chunk that
  // would hold it is damaged.
  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) const;
  // Calls visit for every pair with start <= key < limit (empty limit: to the
  // end), in key order, stopping at the first error visit returns (which is
  // returned) or at damage (kDataLoss).
  using Visitor =
      absl::FunctionRef<absl::Status(absl::string_view, absl::string_view)>;
  absl::Status Scan(absl::string_view start, absl::string_view limit,
                    Visitor visit) const;
  // How many of `keys` (strictly increasing) are in the table. Reads each
  // chunk that could hold one of them once.
  absl::StatusOr<uint64_t> CountPresent(
      const std::vector<absl::string_view>& keys) const;
  // Reads and verifies every chunk, and that the records follow each other
  // with nothing but padding in between: header, chunks, index, trailer.
  absl::Status Verify() const;

 private:
  struct Chunk {
    uint64_t position = 0;  // of its record's first fragment
    uint32_t bytes = 0;     // payload bytes
    uint32_t pairs = 0;
    absl::string_view first_key;  // into index_data_
  };
  using Pairs = std::vector<std::pair<absl::string_view, absl::string_view>>;
  // A chunk read and verified: its pairs point into `scratch` (a copy, when
  // the file system copies reads) or into the file's mapping (which lives as
  // long as the table; scratch is then empty).
  struct DecodedChunk {
    std::string scratch;
    Pairs pairs;
    size_t charge = 0;  // bytes it holds, for the cache's budget
  };
  // The decoded chunk i, from the cache or read and cached.
  absl::StatusOr<std::shared_ptr<const DecodedChunk>> CachedChunk(
      size_t i) const;

  CheckpointTable() = default;
  absl::Status ParseIndex();
  // The chunk that would hold key: the last whose first key <= key, or -1.
  int64_t ChunkFor(absl::string_view key) const;
  // Reads chunk i into *pairs (views into *scratch or the mapping); *end, if
  // not null, receives the position just past its record.
  absl::Status ReadChunk(size_t i, std::string* scratch, Pairs* pairs,
                         uint64_t* end = nullptr) const;
  absl::Status Damaged(absl::string_view what) const;
  // Steps *at over padding records up to `until`, where `what` starts;
  // kDataLoss when anything else lies in between.
  absl::Status SkipPadding(uint64_t* at, uint64_t until,
                           absl::string_view what) const;

  CheckpointInfo info_;
  std::unique_ptr<RandomAccessFile> file_;
  uint64_t index_position_ = 0;
  uint64_t index_end_ = 0;  // just past the index record
  std::string index_data_;
  std::vector<Chunk> chunks_;

  // The cache: chunk index -> decoded chunk, least recently used first.
  size_t cache_capacity_ = 0;
  mutable absl::Mutex cache_mu_;
  mutable std::list<size_t> lru_ ABSL_GUARDED_BY(cache_mu_);
  struct CacheEntry {
    std::shared_ptr<const DecodedChunk> chunk;
    std::list<size_t>::iterator lru;
  };
  mutable absl::flat_hash_map<size_t, CacheEntry> cache_
      ABSL_GUARDED_BY(cache_mu_);
  mutable size_t cache_bytes_ ABSL_GUARDED_BY(cache_mu_) = 0;
  mutable uint64_t cache_hits_ ABSL_GUARDED_BY(cache_mu_) = 0;
  mutable uint64_t cache_misses_ ABSL_GUARDED_BY(cache_mu_) = 0;
};

// Decodes a chunk record's payload after its kind byte: pair count varint32,
// then the pairs, keys strictly increasing, nothing after them. On success
// *pairs holds views into `input` and the result is empty; otherwise it says
// what is wrong ("bad pair count", "pair 3 of 10 is cut off", "keys out of
// order", "5 bytes after its last pair"). Every reader of chunks uses it.
using ChunkPairs = std::vector<std::pair<absl::string_view, absl::string_view>>;
std::string DecodeChunkPairs(absl::string_view input, ChunkPairs* pairs);

// The format version in the header of the checkpoint at path. kDataLoss
// when the file has no checkpoint header (bad magic, damaged, empty).
absl::StatusOr<uint32_t> ReadCheckpointVersion(FileSystem* fs,
                                               const std::string& path);

// Format 1, written before the index existed (db/checkpoint_v1.cc):
//   record 0   header   1 u8 | magic | version u32 = 1 | wal_offset u64 |
//                       key count u64
//   records    chunk    as in format 2
//   last       trailer  3 u8 | records before it u32 | masked CRC32C of the
//                       payloads of all records before it, in order u32
// Reads all of it, verifies it (block checksums, header, key order and
// counts, trailer CRC, nothing after the trailer) and loads its pairs into
// *table (replacing its contents; untouched on error). kDataLoss naming the
// file and what is wrong.
absl::StatusOr<CheckpointInfo> ReadCheckpointV1(FileSystem* fs,
                                                const std::string& path,
                                                MemTable* table);

// Opens the checkpoint at path (either format), verifies all of it and loads
// its pairs into *table (replacing its contents; untouched on error). For
// tools and tests that want the whole snapshot in memory.
absl::StatusOr<CheckpointInfo> ReadCheckpoint(FileSystem* fs,
                                              const std::string& path,
                                              MemTable* table);

}  // namespace blockwal::db

#endif  // BLOCKWAL_DB_CHECKPOINT_H_
