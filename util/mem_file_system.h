// An in-memory FileSystem for tests: fast, isolated, and the usual base under
// FaultInjectionFileSystem. Everything is "durable" the moment it is written;
// crashes are simulated by the fault-injecting wrapper, not here.
//
// Paths are plain strings; directories exist once created (CreateDir) and a
// file can only be created in an existing directory (kNotFound otherwise), so
// code that forgets to create its directory fails here as on a real disk.
// The parent of a path is everything before its last '/'; "" (a bare name)
// and "/" always exist; CreateDir makes one level and needs its parent, like
// mkdir(2); trailing slashes on a directory name are ignored. Only files can
// be renamed.
// Open files share the file's bytes, so a file removed or replaced while open
// keeps being readable (and writable) through its handles, as on POSIX.
// Mapped regions alias the file's bytes directly: a write through data() is
// seen at once by readers of the file, and (as with mmap) the file may grow,
// shrink and be mapped again while a region lives. A file that has been mapped
// is limited to 1 GiB (its bytes move to a fixed reserved address range).
// Locks are per path within this object.
#ifndef BLOCKWAL_UTIL_MEM_FILE_SYSTEM_H_
#define BLOCKWAL_UTIL_MEM_FILE_SYSTEM_H_

#include <memory>

#include "util/file_system.h"

namespace blockwal {

std::unique_ptr<FileSystem> NewMemFileSystem();

}  // namespace blockwal

#endif  // BLOCKWAL_UTIL_MEM_FILE_SYSTEM_H_
