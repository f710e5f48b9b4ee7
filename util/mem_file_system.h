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
// A file system made with a capacity models a full disk: the bytes of every
// file that still exists (named, or open through a handle: an unlinked file
// keeps its space until its last handle goes) count against it, and growth
// past it fails with ENOSPC (kResourceExhausted, "<path>: <what>: No space
// left on device"): an append writes the bytes that fit and fails; a
// truncation that grows a file, and MapFile's growth of one (where the POSIX
// file system reserves the blocks), fail whole. Directories cost nothing.
#ifndef BLOCKWAL_UTIL_MEM_FILE_SYSTEM_H_
#define BLOCKWAL_UTIL_MEM_FILE_SYSTEM_H_

#include <cstdint>
#include <memory>

#include "blockwal/util/file_system.h"

namespace blockwal {

std::unique_ptr<FileSystem> NewMemFileSystem();
// An in-memory file system that holds at most `capacity_bytes` of file data.
std::unique_ptr<FileSystem> NewMemFileSystem(uint64_t capacity_bytes);

}  // namespace blockwal

#endif  // BLOCKWAL_UTIL_MEM_FILE_SYSTEM_H_
