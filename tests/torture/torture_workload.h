// The workload of the kill -9 torture test, shared by the child that runs it
// (torture_child.cc) and the parent that kills the child and checks what
// survived (torture_test.cc).
//
// Contract: everything the child writes is a pure function of the seed and a
// position (the log offset of a record, or the number of a KV op), so the
// parent can compute the exact bytes of any record or write, including one
// that was in flight, appended but not acknowledged, when the child died.
//
//   log mode: the batch starting at offset o has LogBatchSize(seed, o) records
//             (1: Append, 2..5: AppendBatch) and the record at offset o holds
//             LogValue(seed, o). The child always appends at NextOffset(),
//             which after any recovery is a batch boundary, so batches have
//             the same extent whichever child writes them.
//   kv mode:  op number n is KvOpFor(seed, n): a Put, a Delete, a Write of a
//             batch of puts and deletes, or a Checkpoint. The parent passes
//             the number of the first op to run to each child.
//
// Pipe protocol, child to parent: one line per event, each written with one
// write() of fewer than PIPE_BUF bytes (atomic), always *after* the call it
// reports returned OK, except "S" and "t" which announce a call:
//   S                     started; about to open
//   O <a> <b>             opened: log: LowestOffset NextOffset;
//                                 kv: WAL next offset, number of keys
//   A <first> <count>     log: Append/AppendBatch of [first, first+count) OK
//   t <old> <new>         log: calling TruncatePrefix; LowestOffset is <old>
//                         now and will be <new> after it
//   T <new>               log: TruncatePrefix OK; LowestOffset is <new>
//   A <op>                kv: op <op> OK (for a Checkpoint too)
// A child that finds anything wrong prints it to stderr and exits with
// kChildFailed; the parent only ever expects it to die of SIGKILL.
#ifndef BLOCKWAL_TESTS_TORTURE_TORTURE_WORKLOAD_H_
#define BLOCKWAL_TESTS_TORTURE_TORTURE_WORKLOAD_H_

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "blockwal/db/db.h"
#include "blockwal/db/write_batch.h"
#include "blockwal/wal/log_options.h"

namespace blockwal::torture {

inline constexpr int kChildFailed = 3;
// The descriptor the child writes its reports to (the parent dup2's the pipe
// there; argv says so too).
inline constexpr int kReportFd = 100;

// Small segments, so rolls (and prefix truncations removing segments) happen
// every few appends. A 100-entry index also rolls on runs of small records.
inline constexpr uint64_t kSegmentBytes = 64 << 10;
inline constexpr uint64_t kIndexBytes = 100 * 12;

// splitmix64's finaliser: a bijective 64-bit mix.
inline uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

inline uint64_t Hash(uint64_t seed, uint64_t a, uint64_t b = 0) {
  return Mix(Mix(Mix(seed) ^ a) ^ b);
}

// Record lengths: 48% tiny (0..63, including empty), 40% up to 4 KiB, 12%
// 32..80 KiB (they span blocks, and the POSIX file's 64 KiB write buffer, so
// a kill between two of their writes can tear them).
inline size_t LengthFor(uint64_t h) {
  const uint64_t r = h % 100;
  h >>= 8;
  if (r < 48) return h % 64;
  if (r < 88) return 64 + h % (4096 - 64);
  return (32 << 10) + h % (48 << 10);
}

// `length` bytes derived from `key`, after `prefix` (which counts in the
// length when it fits).
inline std::string DerivedBytes(uint64_t key, size_t length,
                                const std::string& prefix = "") {
  std::string out = prefix.substr(0, length);
  uint64_t state = key;
  while (out.size() < length) {
    state = Mix(state);
    const size_t n = std::min<size_t>(8, length - out.size());
    char bytes[8];
    std::memcpy(bytes, &state, 8);
    out.append(bytes, n);
  }
  return out;
}

// ---- log mode ----

inline size_t LogBatchSize(uint64_t seed, uint64_t first_offset) {
  const uint64_t h = Hash(seed, first_offset, 1);
  return h % 10 < 6 ? 1 : 2 + (h >> 8) % 4;
}

inline std::string LogValue(uint64_t seed, uint64_t offset) {
  const uint64_t h = Hash(seed, offset, 2);
  return DerivedBytes(h, LengthFor(h >> 4));
}

// Whether the child truncates the prefix after a batch that ends at `next`
// (about one batch in ten), and to where: half of what the log holds, so
// it keeps a few segments.
inline bool LogTruncatesAt(uint64_t seed, uint64_t next) {
  return Hash(seed, next, 3) % 10 == 0;
}
inline uint64_t LogTruncationTarget(uint64_t lowest, uint64_t next) {
  return lowest + (next - lowest) / 2;
}

inline wal::LogOptions TortureLogOptions() {
  wal::LogOptions options;
  options.sync_policy = wal::SyncPolicy::kEveryAppend;
  options.max_store_bytes = kSegmentBytes;
  options.max_index_bytes = kIndexBytes;
  return options;
}

// ---- kv mode ----

inline constexpr int kKvKeys = 48;

inline std::string KvKey(uint64_t i) {
  return absl::StrFormat("key-%02d", i % kKvKeys);
}

struct KvOp {
  enum class Kind { kPut, kDelete, kWrite, kCheckpoint };
  struct Edit {
    bool put = false;
    std::string key;
    std::string value;  // for a put
  };
  Kind kind = Kind::kPut;
  // kPut and kDelete: one edit; kWrite: 2..6 edits; kCheckpoint: none.
  std::vector<Edit> edits;

  // Whether it appends one WAL record (every op but a checkpoint does).
  bool writes() const { return kind != Kind::kCheckpoint; }
  db::WriteBatch ToBatch() const {
    db::WriteBatch batch;
    for (const Edit& e : edits) {
      if (e.put) {
        batch.Put(e.key, e.value);
      } else {
        batch.Delete(e.key);
      }
    }
    return batch;
  }
};

// Puts 40%, deletes 15%, batches 40%, checkpoints 5%. A value starts with
// "op <n>.<i> " so a wrong one names its origin when printed.
inline KvOp KvOpFor(uint64_t seed, uint64_t n) {
  KvOp op;
  const uint64_t r = Hash(seed, n, 4) % 100;
  auto edit = [&](uint64_t i, bool put) {
    const uint64_t h = Hash(seed, n, 100 + i);
    KvOp::Edit e;
    e.put = put;
    e.key = KvKey(h >> 40);
    if (put) {
      e.value = DerivedBytes(h, std::max<size_t>(16, LengthFor(h >> 4)),
                             absl::StrFormat("op %d.%d ", n, i));
    }
    return e;
  };
  if (r < 40) {
    op.kind = KvOp::Kind::kPut;
    op.edits.push_back(edit(0, true));
  } else if (r < 55) {
    op.kind = KvOp::Kind::kDelete;
    op.edits.push_back(edit(0, false));
  } else if (r < 95) {
    op.kind = KvOp::Kind::kWrite;
    const uint64_t count = 2 + Hash(seed, n, 5) % 5;
    for (uint64_t i = 0; i < count; ++i) {
      op.edits.push_back(edit(i, Hash(seed, n, 200 + i) % 10 < 7));
    }
  } else {
    op.kind = KvOp::Kind::kCheckpoint;
  }
  return op;
}

// What the store holds after `op` on `state`.
inline void ApplyKvOp(const KvOp& op, std::map<std::string, std::string>* state) {
  for (const KvOp::Edit& e : op.edits) {
    if (e.put) {
      (*state)[e.key] = e.value;
    } else {
      state->erase(e.key);
    }
  }
}

inline db::Options TortureDbOptions() {
  db::Options options;
  options.sync = true;
  options.wal_segment_bytes = kSegmentBytes;
  return options;
}

}  // namespace blockwal::torture

#endif  // BLOCKWAL_TESTS_TORTURE_TORTURE_WORKLOAD_H_
