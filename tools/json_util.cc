#include "tools/json_util.h"

#include <cstddef>
#include <cstdint>

#include "absl/strings/str_format.h"

namespace blockwal::tools {
namespace {

// Length of the valid UTF-8 sequence starting at s[i] (1 to 4), or 0 when
// the bytes there are not valid UTF-8 (stray continuation byte, truncated
// sequence, overlong form, surrogate, or a code point above U+10FFFF).
size_t Utf8SequenceLength(absl::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t b0 = byte(i);
  size_t n;
  uint32_t min_code_point;
  uint32_t cp;
  if (b0 < 0x80) return 1;
  if ((b0 & 0xe0) == 0xc0) {
    n = 2, min_code_point = 0x80, cp = b0 & 0x1f;
  } else if ((b0 & 0xf0) == 0xe0) {
    n = 3, min_code_point = 0x800, cp = b0 & 0x0f;
  } else if ((b0 & 0xf8) == 0xf0) {
    n = 4, min_code_point = 0x10000, cp = b0 & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  if (cp < min_code_point || cp > 0x10ffff) return 0;
  if (cp >= 0xd800 && cp <= 0xdfff) return 0;
  return n;
}

}  // namespace

std::string JsonQuote(absl::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          // DEL is legal JSON but escaping it keeps lines terminal-safe.
          out += absl::StrFormat("\\u%04x", c);
        } else if (c < 0x80) {
          out.push_back(static_cast<char>(c));
        } else {
          const size_t n = Utf8SequenceLength(s, i);
          if (n == 0) {
            out += "\\ufffd";
          } else {
            out.append(s.data() + i, n);
            i += n;
            continue;
          }
        }
        break;
    }
    ++i;
  }
  out.push_back('"');
  return out;
}

}  // namespace blockwal::tools
