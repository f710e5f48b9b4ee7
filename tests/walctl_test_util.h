// What the tests that run the built walctl (walctl_test, walctl_log_test)
// share: running it with a captured result, and damaging a byte of a file it
// is to read. WALCTL_PATH, the binary's path, is a compile definition set in
// tests/CMakeLists.txt for each test that includes this header.
#ifndef BLOCKWAL_TESTS_WALCTL_TEST_UTIL_H_
#define BLOCKWAL_TESTS_WALCTL_TEST_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/run_command.h"
#include "tests/status_matchers.h"
#include "blockwal/util/file_system.h"

#ifndef WALCTL_PATH
#error "WALCTL_PATH must name the walctl binary"
#endif

namespace blockwal::testing {

// Runs walctl with `args` (without the program name) in the test's working
// directory, with `stdin_data` as its standard input (/dev/null when empty).
inline CommandResult Walctl(std::vector<std::string> args,
                            const std::string& stdin_data = "") {
  args.insert(args.begin(), WALCTL_PATH);
  return RunCommand(args, "", stdin_data);
}

// Flips every bit of the byte at `position` of the file at `path`, which
// must be longer than `position`. A fatal failure if it cannot.
inline void FlipByte(const std::string& path, uint64_t position) {
  ASSERT_OK_AND_ASSIGN(std::string bytes,
                       ReadFileToString(FileSystem::Default(), path));
  ASSERT_LT(position, bytes.size()) << path;
  bytes[position] = static_cast<char>(bytes[position] ^ 0xff);
  ASSERT_OK(WriteStringToFile(FileSystem::Default(), bytes, path,
                              /*sync=*/false));
}

}  // namespace blockwal::testing

#endif  // BLOCKWAL_TESTS_WALCTL_TEST_UTIL_H_
