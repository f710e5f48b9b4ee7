#include "tools/display.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "blockwal/wal/format.h"

namespace blockwal::tools {

std::string PayloadPreview(absl::string_view payload, size_t max_chars) {
  const size_t n = std::min(payload.size(), max_chars);
  std::string out;
  out.reserve(n + 3);
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(payload[i]);
    out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '.');
  }
  if (n < payload.size()) out += "...";
  return out;
}

std::string FragmentLayout(uint64_t position, uint64_t length) {
  using wal::kBlockSize;
  using wal::kHeaderSize;
  uint64_t block_offset = position % kBlockSize;
  uint64_t left = length;
  uint64_t fragments = 0;
  // Mirrors BlockWriter::AddRecord: each fragment takes what its block has
  // room for; a block with fewer than kHeaderSize bytes left gets a trailer.
  // A record of length 0 is one FULL fragment, hence do/while.
  do {
    if (kBlockSize - block_offset < static_cast<uint64_t>(kHeaderSize)) {
      block_offset = 0;
    }
    const uint64_t avail = kBlockSize - block_offset - kHeaderSize;
    const uint64_t fragment = std::min(left, avail);
    left -= fragment;
    block_offset += kHeaderSize + fragment;
    ++fragments;
  } while (left > 0);

  if (fragments == 1) return "FULL";
  const uint64_t middles = fragments - 2;
  if (middles == 0) return "FIRST+LAST";
  if (middles == 1) return "FIRST+MIDDLE+LAST";
  return absl::StrCat("FIRST+MIDDLE*", middles, "+LAST");
}

}  // namespace blockwal::tools
