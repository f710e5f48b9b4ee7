#include "blockwal/util/coding.h"

#include <algorithm>

namespace blockwal {

void PutFixed32(std::string* dst, uint32_t v) {
  char buf[4];
  EncodeFixed32(buf, v);
  dst->append(buf, sizeof(buf));
}

void PutFixed64(std::string* dst, uint64_t v) {
  char buf[8];
  EncodeFixed64(buf, v);
  dst->append(buf, sizeof(buf));
}

char* EncodeVarint64(char* dst, uint64_t v) {
  auto* p = reinterpret_cast<unsigned char*>(dst);
  while (v >= 0x80) {
    *p++ = static_cast<unsigned char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<unsigned char>(v);
  return reinterpret_cast<char*>(p);
}

char* EncodeVarint32(char* dst, uint32_t v) { return EncodeVarint64(dst, v); }

void PutVarint32(std::string* dst, uint32_t v) { PutVarint64(dst, v); }

void PutVarint64(std::string* dst, uint64_t v) {
  char buf[kMaxVarint64Bytes];
  char* end = EncodeVarint64(buf, v);
  dst->append(buf, static_cast<size_t>(end - buf));
}

void PutLengthPrefixed(std::string* dst, absl::string_view value) {
  PutVarint32(dst, static_cast<uint32_t>(value.size()));
  dst->append(value.data(), value.size());
}

int VarintLength(uint64_t v) {
  int len = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++len;
  }
  return len;
}

bool GetFixed32(absl::string_view* input, uint32_t* value) {
  if (input->size() < 4) return false;
  *value = DecodeFixed32(input->data());
  input->remove_prefix(4);
  return true;
}

bool GetFixed64(absl::string_view* input, uint64_t* value) {
  if (input->size() < 8) return false;
  *value = DecodeFixed64(input->data());
  input->remove_prefix(8);
  return true;
}

namespace {

// Decodes up to max_bytes varint bytes; rejects values wider than max_bits.
bool GetVarint(absl::string_view* input, int max_bytes, int max_bits,
               uint64_t* value) {
  uint64_t result = 0;
  const size_t limit = std::min<size_t>(input->size(), static_cast<size_t>(max_bytes));
  for (size_t i = 0; i < limit; ++i) {
    const uint64_t byte = static_cast<unsigned char>((*input)[i]);
    const int shift = static_cast<int>(7 * i);
    const uint64_t bits = byte & 0x7f;
    // The last permitted byte may only carry the bits that remain.
    if (shift + 7 > max_bits && (bits >> (max_bits - shift)) != 0) return false;
    result |= bits << shift;
    if ((byte & 0x80) == 0) {
      *value = result;
      input->remove_prefix(i + 1);
      return true;
    }
  }
  return false;
}

}  // namespace

bool GetVarint32(absl::string_view* input, uint32_t* value) {
  uint64_t v;
  if (!GetVarint(input, kMaxVarint32Bytes, 32, &v)) return false;
  *value = static_cast<uint32_t>(v);
  return true;
}

bool GetVarint64(absl::string_view* input, uint64_t* value) {
  return GetVarint(input, kMaxVarint64Bytes, 64, value);
}

bool GetLengthPrefixed(absl::string_view* input, absl::string_view* result) {
  uint32_t len;
  absl::string_view in = *input;
  if (!GetVarint32(&in, &len) || in.size() < len) return false;
  *result = in.substr(0, len);
  in.remove_prefix(len);
  *input = in;
  return true;
}

}  // namespace blockwal
