// Little-endian fixed-width and varint encodings, the byte order of every
// on-disk structure in blockwal (and of LevelDB's WriteBatch).
//
// Decoders are bounds-checked: Get* functions consume from the front of
// `*input` and return false (leaving *input unspecified) when it is too short
// or malformed; they never read past input->end().
#ifndef BLOCKWAL_UTIL_CODING_H_
#define BLOCKWAL_UTIL_CODING_H_

#include <cstdint>
#include <cstring>
#include <string>

#include "absl/base/internal/endian.h"
#include "absl/strings/string_view.h"

namespace blockwal {

inline constexpr int kMaxVarint32Bytes = 5;
inline constexpr int kMaxVarint64Bytes = 10;

inline void EncodeFixed16(char* dst, uint16_t v) { absl::little_endian::Store16(dst, v); }
inline void EncodeFixed32(char* dst, uint32_t v) { absl::little_endian::Store32(dst, v); }
inline void EncodeFixed64(char* dst, uint64_t v) { absl::little_endian::Store64(dst, v); }
inline uint16_t DecodeFixed16(const char* p) { return absl::little_endian::Load16(p); }
inline uint32_t DecodeFixed32(const char* p) { return absl::little_endian::Load32(p); }
inline uint64_t DecodeFixed64(const char* p) { return absl::little_endian::Load64(p); }

void PutFixed32(std::string* dst, uint32_t v);
void PutFixed64(std::string* dst, uint64_t v);

// Writes v as a varint at dst (which must have room for kMaxVarint64Bytes)
// and returns a pointer just past the last byte written.
char* EncodeVarint32(char* dst, uint32_t v);
char* EncodeVarint64(char* dst, uint64_t v);
void PutVarint32(std::string* dst, uint32_t v);
void PutVarint64(std::string* dst, uint64_t v);
// Appends varint32(value.size()) followed by value.
void PutLengthPrefixed(std::string* dst, absl::string_view value);

// Number of bytes the varint encoding of v takes.
int VarintLength(uint64_t v);

bool GetFixed32(absl::string_view* input, uint32_t* value);
bool GetFixed64(absl::string_view* input, uint64_t* value);
// A varint32 whose value does not fit 32 bits, or that runs past the input,
// or that is longer than kMaxVarint32Bytes, is malformed.
bool GetVarint32(absl::string_view* input, uint32_t* value);
bool GetVarint64(absl::string_view* input, uint64_t* value);
// *result points into the original input bytes.
bool GetLengthPrefixed(absl::string_view* input, absl::string_view* result);

}  // namespace blockwal

#endif  // BLOCKWAL_UTIL_CODING_H_
