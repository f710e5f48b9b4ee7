// A fresh directory for one test on the real file system, made by mkdtemp
// under ::testing::TempDir() and removed with everything in it when the
// ScratchDir is destroyed. The name is unique, so concurrent runs (two build
// directories, two checkouts) and the leftovers of a killed run never meet.
#ifndef BLOCKWAL_TESTS_SCRATCH_DIR_H_
#define BLOCKWAL_TESTS_SCRATCH_DIR_H_

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "gtest/gtest.h"

namespace blockwal::testing {

class ScratchDir {
 public:
  // `prefix` names the test in the directory's name ("<prefix>.XXXXXX").
  explicit ScratchDir(const std::string& prefix) {
    std::string tmpl =
        (std::filesystem::path(::testing::TempDir()) / (prefix + ".XXXXXX"))
            .string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp " << tmpl << ": " << std::strerror(errno);
      return;
    }
    path_ = tmpl;
  }
  ~ScratchDir() {
    if (path_.empty()) return;
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  // Empty if mkdtemp failed (the test has failed then).
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace blockwal::testing

#endif  // BLOCKWAL_TESTS_SCRATCH_DIR_H_
