// Helpers for the full-disk tests: fill a file system with a filler file,
// free part of it again.
#ifndef BLOCKWAL_TESTS_FULL_DISK_UTIL_H_
#define BLOCKWAL_TESTS_FULL_DISK_UTIL_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "blockwal/util/file_system.h"

namespace blockwal::testing {

// Appends to `path` (created) until the file system is full and returns the
// file's size. Anything but ENOSPC (kResourceExhausted) is an error.
inline absl::StatusOr<uint64_t> FillDisk(FileSystem* fs, const std::string& path) {
  absl::StatusOr<std::unique_ptr<WritableFile>> file = fs->NewWritableFile(path);
  if (!file.ok()) return file.status();
  const std::string chunk(64 << 10, 'F');
  absl::Status s;
  while (s.ok()) {
    s = (*file)->Append(chunk);
    if (s.ok()) s = (*file)->Flush();
  }
  // Close writes nothing more that fits; the descriptor goes either way.
  (*file)->Close().IgnoreError();
  if (s.code() != absl::StatusCode::kResourceExhausted) {
    return absl::InternalError(absl::StrCat("filling ", path, ": ", s.ToString()));
  }
  return fs->GetFileSize(path);
}

// Fills the file system, then gives `free_bytes` back by shortening the
// filler.
inline absl::Status FillDiskLeaving(FileSystem* fs, const std::string& path,
                                    uint64_t free_bytes) {
  absl::StatusOr<uint64_t> size = FillDisk(fs, path);
  if (!size.ok()) return size.status();
  if (*size < free_bytes) {
    return absl::InternalError(absl::StrCat(path, ": filled only ", *size, " bytes"));
  }
  return fs->TruncateFile(path, *size - free_bytes);
}

}  // namespace blockwal::testing

#endif  // BLOCKWAL_TESTS_FULL_DISK_UTIL_H_
