// Tiny JSON helpers for the command-line tools' machine-readable output. The
// tools only ever emit flat objects of numbers and strings, one per line, so
// a string escaper is all that is needed (no JSON library dependency).
#ifndef BLOCKWAL_TOOLS_JSON_UTIL_H_
#define BLOCKWAL_TOOLS_JSON_UTIL_H_

#include <string>

#include "absl/strings/string_view.h"

namespace blockwal::tools {

// Returns `s` as a JSON string literal, quotes included. `"`, `\` and control
// characters are escaped. Valid UTF-8 passes through unchanged; each byte
// that is not part of a valid UTF-8 sequence becomes \ufffd, because a
// reason string may carry arbitrary bytes (a file name, an OS message) and
// the output line must stay valid JSON.
std::string JsonQuote(absl::string_view s);

}  // namespace blockwal::tools

#endif  // BLOCKWAL_TOOLS_JSON_UTIL_H_
