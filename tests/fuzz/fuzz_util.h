// Helpers shared by the fuzz targets of tests/fuzz/ (docs/fuzzing.md).
#ifndef BLOCKWAL_TESTS_FUZZ_FUZZ_UTIL_H_
#define BLOCKWAL_TESTS_FUZZ_FUZZ_UTIL_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "blockwal/util/coding.h"
#include "blockwal/util/crc32c.h"
#include "blockwal/wal/format.h"

// Reports a broken invariant and abort()s, which libFuzzer (and the replay
// program's ctest) treats as a crash: the input is saved as crash-<sha1>.
// `target` names the fuzzer, `what` the invariant; a and b are values worth
// seeing (an offset, a size, a status code).
[[noreturn]] inline void FuzzFail(const char* target, const char* what,
                                  uint64_t a, uint64_t b) {
  std::fprintf(stderr, "%s: invariant violated: %s (%llu, %llu)\n", target,
               what, static_cast<unsigned long long>(a),
               static_cast<unsigned long long>(b));
  std::abort();
}

// FUZZ_CHECK(cond, a, b) needs kFuzzTarget (a const char*) in scope.
#define FUZZ_CHECK(cond, a, b)                                 \
  do {                                                         \
    if (!(cond)) {                                             \
      FuzzFail(kFuzzTarget, #cond, static_cast<uint64_t>(a),   \
               static_cast<uint64_t>(b));                      \
    }                                                          \
  } while (0)

// As FuzzFail, for an unexpected status: prints it whole.
[[noreturn]] inline void FuzzFailStatus(const char* target, const char* what,
                                        const absl::Status& status,
                                        uint64_t a) {
  std::fprintf(stderr, "%s: invariant violated: %s (%llu): %s\n", target, what,
               static_cast<unsigned long long>(a), status.ToString().c_str());
  std::abort();
}

// FUZZ_CHECK_STATUS(cond, status, a): cond is about `status` (an
// absl::Status), which is printed when cond is false.
#define FUZZ_CHECK_STATUS(cond, status, a)                              \
  do {                                                                  \
    if (!(cond)) {                                                      \
      FuzzFailStatus(kFuzzTarget, #cond, (status), static_cast<uint64_t>(a)); \
    }                                                                   \
  } while (0)

// Rewrites the CRC of the fragment whose header starts at p (its payload
// must follow in memory).
inline void FixFragmentChecksum(char* p) {
  const uint64_t length = blockwal::DecodeFixed16(p + 4);
  const uint32_t crc = blockwal::crc32c::Extend(
      blockwal::crc32c::Value(p + 6, 1), p + blockwal::wal::kHeaderSize, length);
  blockwal::EncodeFixed32(p, blockwal::crc32c::Mask(crc));
}

// Rewrites the CRC of every fragment of a block-format file (wal/format.h)
// that fits its block, walking the blocks as the reader does, so that the
// fuzzer's mutations of record contents get past the checksums (libFuzzer
// cannot compute one). A fragment whose length runs past its block ends the
// walk of that block; zero-type padding is left as it is (the reader skips
// it to the end of the block).
inline void FixBlockChecksums(std::string* file) {
  using blockwal::wal::kBlockSize;
  using blockwal::wal::kHeaderSize;
  uint64_t pos = 0;
  while (pos + kHeaderSize <= file->size()) {
    const uint64_t block_left = kBlockSize - pos % kBlockSize;
    char* p = file->data() + pos;
    const uint64_t length = blockwal::DecodeFixed16(p + 4);
    if (block_left < static_cast<uint64_t>(kHeaderSize) ||
        kHeaderSize + length > block_left ||
        pos + kHeaderSize + length > file->size() ||
        (p[6] == blockwal::wal::kZeroType && length == 0)) {
      pos += block_left;
      continue;
    }
    FixFragmentChecksum(p);
    pos += kHeaderSize + length;
  }
}

#endif  // BLOCKWAL_TESTS_FUZZ_FUZZ_UTIL_H_
