// How the file systems (util/posix_file_system.cc, util/mem_file_system.cc)
// make their errors: the same codes and messages from both, so tests assert
// one thing on either, and every message names the file the caller has to
// look at. Internal to util/.
#ifndef BLOCKWAL_UTIL_FILE_ERRORS_H_
#define BLOCKWAL_UTIL_FILE_ERRORS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace blockwal {

// ErrnoToStatus(err, "<path>: <what>").
inline absl::Status FileError(int err, absl::string_view path,
                              absl::string_view what) {
  return absl::ErrnoToStatus(err, absl::StrCat(path, ": ", what));
}

// An operation on a file that was closed.
inline absl::Status ClosedFileError(absl::string_view path) {
  return absl::FailedPreconditionError(absl::StrCat(path, ": file is closed"));
}

}  // namespace blockwal

#endif  // BLOCKWAL_UTIL_FILE_ERRORS_H_
