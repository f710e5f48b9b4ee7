// A fresh directory for one test on the real file system, made by mkdtemp
// under ::testing::TempDir() and removed with everything in it when the
// ScratchDir is destroyed (or kept for inspection if the test failed, when
// asked). The name is unique, so concurrent runs (two build directories, two
// checkouts) and the leftovers of a killed run never meet. Every test that
// needs a directory on the real file system takes it from here.
#ifndef BLOCKWAL_TESTS_SCRATCH_DIR_H_
#define BLOCKWAL_TESTS_SCRATCH_DIR_H_

#include <stdlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "gtest/gtest.h"

namespace blockwal::testing {

class ScratchDir {
 public:
  // What the destructor does with the directory when the test has failed.
  enum class OnFailure {
    kRemove,
    kKeep,  // prints "kept <path> for inspection" and leaves it
  };

  // `prefix` names the test in the directory's name ("<prefix>.XXXXXX").
  explicit ScratchDir(const std::string& prefix,
                      OnFailure on_failure = OnFailure::kRemove)
      : on_failure_(on_failure) {
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
    if (on_failure_ == OnFailure::kKeep && ::testing::Test::HasFailure()) {
      std::printf("kept %s for inspection\n", path_.c_str());
      return;
    }
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  // Empty if mkdtemp failed (the test has failed then).
  const std::filesystem::path& path() const { return path_; }
  // The same, as the file-system API (blockwal/util/file_system.h) takes it.
  std::string str() const { return path_.string(); }

 private:
  const OnFailure on_failure_;
  std::filesystem::path path_;
};

}  // namespace blockwal::testing

#endif  // BLOCKWAL_TESTS_SCRATCH_DIR_H_
