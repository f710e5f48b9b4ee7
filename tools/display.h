// Human-readable renderings of records shared by walctl and the demo.
#ifndef BLOCKWAL_TOOLS_DISPLAY_H_
#define BLOCKWAL_TOOLS_DISPLAY_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace blockwal::tools {

// Up to `max_chars` leading bytes of `payload`: printable ASCII as is, every
// other byte as '.', followed by "..." when the payload was cut.
std::string PayloadPreview(absl::string_view payload, size_t max_chars = 40);

// The fragments a BlockWriter emits for a logical record of `length` bytes
// whose first header is at file position `position`, e.g. "FULL", "FIRST+LAST",
// "FIRST+MIDDLE+LAST", "FIRST+MIDDLE*3+LAST". Derived from the format's
// rules (wal/format.h), not read from the file: BlockReader hands out logical
// records only, and for any record it returned the rules fix the layout.
std::string FragmentLayout(uint64_t position, uint64_t length);

}  // namespace blockwal::tools

#endif  // BLOCKWAL_TOOLS_DISPLAY_H_
