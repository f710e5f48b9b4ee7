// CRC32C (Castagnoli), computed by ISA-L's crc32_iscsi, plus the masking that
// LevelDB-format logs store on disk.
#ifndef BLOCKWAL_UTIL_CRC32C_H_
#define BLOCKWAL_UTIL_CRC32C_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace blockwal::crc32c {

// Returns the CRC32C of concat(A, data[0..n-1]) where init_crc is the CRC32C
// of some string A. Extend(Extend(0, a), b) == Value(a + b).
uint32_t Extend(uint32_t init_crc, const char* data, size_t n);

// Returns the standard CRC32C of data[0..n-1]; Value("123456789") == 0xE3069283.
inline uint32_t Value(const char* data, size_t n) { return Extend(0, data, n); }
inline uint32_t Value(absl::string_view data) {
  return Value(data.data(), data.size());
}

// A CRC stored next to the data it covers is masked: computing the CRC of a
// string that itself contains embedded CRCs is otherwise degenerate.
inline constexpr uint32_t kMaskDelta = 0xa282ead8u;

// Returns a masked representation of crc (rotate right by 15, add a constant).
inline constexpr uint32_t Mask(uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + kMaskDelta;
}

// Returns the crc whose masked representation is masked_crc.
inline constexpr uint32_t Unmask(uint32_t masked_crc) {
  const uint32_t rot = masked_crc - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace blockwal::crc32c

#endif  // BLOCKWAL_UTIL_CRC32C_H_
