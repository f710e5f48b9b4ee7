#include "blockwal/wal/record.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "blockwal/util/coding.h"

namespace blockwal::wal {

void EncodeEnvelope(uint64_t offset, uint64_t timestamp_us, uint8_t flags,
                    char* dst) {
  EncodeFixed64(dst, offset);
  EncodeFixed64(dst + 8, timestamp_us);
  dst[16] = static_cast<char>(flags);
}

void EncodeRecord(uint64_t offset, uint64_t timestamp_us, uint8_t flags,
                  absl::string_view value, std::string* dst) {
  char header[kEnvelopeSize];
  EncodeEnvelope(offset, timestamp_us, flags, header);
  dst->append(header, kEnvelopeSize);
  dst->append(value.data(), value.size());
}

absl::StatusOr<Record> DecodeRecord(absl::string_view payload) {
  if (payload.size() < kEnvelopeSize) {
    return absl::DataLossError(absl::StrCat("record of ", payload.size(),
                                            " bytes is shorter than its ",
                                            kEnvelopeSize, "-byte envelope"));
  }
  Record r;
  r.offset = DecodeFixed64(payload.data());
  r.timestamp_us = DecodeFixed64(payload.data() + 8);
  r.flags = static_cast<uint8_t>(payload[16]);
  if ((r.flags & ~kKnownFlags) != 0) {
    return absl::DataLossError(
        absl::StrCat("record has unknown flag bits 0x",
                     absl::Hex(r.flags & ~kKnownFlags)));
  }
  r.value = payload.substr(kEnvelopeSize);
  return r;
}

}  // namespace blockwal::wal
