// What a written checkpoint is (DB::Checkpoint's result); the file format is
// in db/checkpoint.h.
#ifndef BLOCKWAL_DB_CHECKPOINT_INFO_H_
#define BLOCKWAL_DB_CHECKPOINT_INFO_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace blockwal::db {

// The default budget of the cache of decoded checkpoint chunks
// (Options::checkpoint_cache_bytes, CheckpointTable).
inline constexpr size_t kDefaultCheckpointCacheBytes = 8 << 20;

struct CheckpointInfo {
  std::string path;
  uint64_t wal_offset = 0;  // covers WAL records below this offset
  uint64_t keys = 0;
  uint64_t chunks = 0;
  uint64_t bytes = 0;       // file size
};

}  // namespace blockwal::db

#endif  // BLOCKWAL_DB_CHECKPOINT_INFO_H_
