#include "blockwal/util/crc32c.h"

#include <isa-l/crc.h>

#include <algorithm>
#include <climits>

namespace blockwal::crc32c {

uint32_t Extend(uint32_t init_crc, const char* data, size_t n) {
  // crc32_iscsi works on the raw (pre/post-inverted) register and takes an
  // int length, so invert around it and feed large inputs in chunks.
  uint32_t crc = init_crc ^ 0xffffffffu;
  auto* p = reinterpret_cast<unsigned char*>(const_cast<char*>(data));
  while (n > 0) {
    const size_t chunk = std::min<size_t>(n, size_t{1} << 30);
    static_assert((size_t{1} << 30) <= INT_MAX);
    crc = crc32_iscsi(p, static_cast<int>(chunk), crc);
    p += chunk;
    n -= chunk;
  }
  return crc ^ 0xffffffffu;
}

}  // namespace blockwal::crc32c
