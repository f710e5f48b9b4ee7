// The POSIX implementation of FileSystem (FileSystem::Default()).
#ifndef BLOCKWAL_UTIL_POSIX_FILE_SYSTEM_H_
#define BLOCKWAL_UTIL_POSIX_FILE_SYSTEM_H_

#include <memory>

#include "blockwal/util/file_system.h"

namespace blockwal {

// Writable files buffer appends in user space (kWritableFileBufferSize) so a
// writer of small records makes no system call per record; Sync is fdatasync.
// Locks are flock(LOCK_EX | LOCK_NB), which excludes other processes and other
// open file descriptions in this one, plus an in-process set of locked paths
// so a second lock in this process fails with a message saying so.
inline constexpr size_t kWritableFileBufferSize = 64 * 1024;

std::unique_ptr<FileSystem> NewPosixFileSystem();

}  // namespace blockwal

#endif  // BLOCKWAL_UTIL_POSIX_FILE_SYSTEM_H_
