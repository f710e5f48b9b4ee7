// Raft snapshot files: one file per snapshot in the server's directory,
// written whole and made durable before anything relies on it; the newest two
// kept.
//
// Name: snapshot-<index, 20 digits>-<term, 20 digits> (both zero-padded, so
// names sort as (index, term)); while written: the same name + ".tmp".
//
// Contents: records in the block format (wal/format.h, written by
// wal::BlockWriter, so every fragment is checksummed):
//   record 1, the header:
//     magic                "bwsnap01" (8 bytes)
//     index                u64 LE, the last entry the snapshot covers
//     term                 u64 LE, that entry's term
//     configuration_index  u64 LE, the index of the configuration below
//     data_length          u64 LE, the snapshot data's length
//     configuration        the rest of the record: raft/configuration_codec.h
//   records 2..n: the data, in chunks of at most kSnapshotChunkBytes; their
//     concatenation is exactly data_length bytes (no records when it is 0).
// A file is valid when it reads with no block-format damage, its header
// parses, its header's index and term match its name, and its data has
// exactly data_length bytes with nothing after it.
//
// Put: write the .tmp file, fdatasync, rename into place, sync the directory;
// only then are the older snapshot files beyond the newest two removed (not
// made durable: a crash may bring one back, and the next Put removes it).
// Stale .tmp files (a crash during an earlier Put) are removed first.
//
// Load: the newest valid file; newer files that are damaged are skipped and
// reported in SnapshotLoad::damaged (so a damaged newest snapshot falls back
// to the one before it). No snapshot file: no snapshot. Files but none valid:
// kDataLoss naming each file and what is wrong with it.
//
// Not thread-safe: one caller at a time per directory.
#ifndef BLOCKWAL_RAFT_SNAPSHOT_FILE_H_
#define BLOCKWAL_RAFT_SNAPSHOT_FILE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "blockwal/raft/configuration_codec.h"
#include "blockwal/util/file_system.h"

namespace blockwal::raft {

inline constexpr size_t kSnapshotChunkBytes = 1 << 20;

struct SnapshotMeta {
  uint64_t index = 0;
  uint64_t term = 0;
  Configuration configuration;
  uint64_t configuration_index = 0;
  friend bool operator==(const SnapshotMeta&, const SnapshotMeta&) = default;
};

struct LoadedSnapshot {
  SnapshotMeta meta;
  std::string data;
  std::string file;  // the path it was read from
};

// A snapshot file Load skipped.
struct SnapshotDamage {
  std::string file;    // its path
  std::string reason;  // what is wrong, with the file position where known
};

struct SnapshotLoad {
  std::optional<LoadedSnapshot> snapshot;  // nullopt: no snapshot file
  std::vector<SnapshotDamage> damaged;     // newest first
};

// "snapshot-<index:020>-<term:020>".
std::string SnapshotFileName(uint64_t index, uint64_t term);
// Parses a name made by SnapshotFileName (not a .tmp name).
bool ParseSnapshotFileName(absl::string_view name, uint64_t* index,
                           uint64_t* term);

// Names of the snapshot files in dir (not the .tmp ones), oldest first.
absl::StatusOr<std::vector<std::string>> ListSnapshotFiles(
    FileSystem* fs, const std::string& dir);

// Writes a snapshot of `data` (the concatenation of the buffers) as described
// above and returns its path. Errors: kFailedPrecondition when a snapshot file
// newer than (meta.index, meta.term) exists (snapshots only move forward;
// the same index and term replaces the file); the file system's errors,
// naming the file. After an error the previous snapshot is still loadable;
// if the error came after the new file was made durable (while removing old
// files) the new one is.
absl::StatusOr<std::string> PutSnapshot(
    FileSystem* fs, const std::string& dir, const SnapshotMeta& meta,
    absl::Span<const absl::string_view> data);

// Loads the newest valid snapshot in dir (see above). Read errors from the
// file system are returned as they are, never taken for damage.
absl::StatusOr<SnapshotLoad> LoadSnapshot(FileSystem* fs,
                                          const std::string& dir);

// Reads and checks one snapshot file: kDataLoss naming the path and what is
// wrong when it is not valid.
absl::StatusOr<LoadedSnapshot> ReadSnapshotFile(FileSystem* fs,
                                                const std::string& path);

}  // namespace blockwal::raft

#endif  // BLOCKWAL_RAFT_SNAPSHOT_FILE_H_
