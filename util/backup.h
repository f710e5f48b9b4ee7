// Durable copies of a directory, for tools that are about to change it in
// place (walctl repair, kv repair): the copy goes beside the directory, never
// inside it, so the directory's owner (a log, a store) never sees it.
//
//   absl::StatusOr<std::string> backup =
//       BackUpDirectory(fs, "/data/wal", [](uint64_t done, uint64_t total) {});
//   // *backup == "/data/wal.repair-backup-20231114T221320Z"
//
// Contract
//   - Copies every file of `dir`, recursing into subdirectories (a KV store
//     keeps its log in `wal/`), into a new sibling directory named
//     BackupDirectoryName: `<dir>.repair-backup-<UTC time>`, with `-2`, `-3`,
//     ... appended when that name is taken. Nothing in `dir` is changed.
//   - Durable when it returns OK: every copied file is synced, then every
//     directory of the backup, then the parent that holds the backup.
//   - It only reads `dir`: the caller keeps writers out (a log holds its
//     LOCK). LOCK files are copied like any other file (they hold no data).
//   - On an error a partial backup may remain; the error names the file.
//   - What counts as a directory is what FileSystem::GetChildren lists;
//     anything else is copied as a file (a FIFO would block: keep none in
//     directories you back up).
#ifndef BLOCKWAL_UTIL_BACKUP_H_
#define BLOCKWAL_UTIL_BACKUP_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "blockwal/util/file_system.h"

namespace blockwal {

// Bytes copied so far and the total to copy; called after every chunk.
using BackupProgress = std::function<void(uint64_t done, uint64_t total)>;

// The first free backup name for `dir` at `now`:
// `<dir>.repair-backup-<%Y%m%dT%H%M%SZ>`, or that with `-<n>` (n = 2, 3, ...)
// when the name exists. Trailing slashes of `dir` are ignored.
std::string BackupDirectoryName(FileSystem* fs, const std::string& dir,
                                absl::Time now);

// Copies `dir` into BackupDirectoryName(fs, dir, absl::Now()) as the
// contract above says and returns the backup's path. `progress` may be empty.
// kNotFound when dir does not exist; otherwise the file system's errors.
absl::StatusOr<std::string> BackUpDirectory(FileSystem* fs,
                                            const std::string& dir,
                                            const BackupProgress& progress);

}  // namespace blockwal

#endif  // BLOCKWAL_UTIL_BACKUP_H_
