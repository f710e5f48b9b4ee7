// The raft entry record encoding and command padding (raft/entry_codec.h).
#include "blockwal/raft/entry_codec.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "blockwal/raft/raft_c.h"
#include "blockwal/util/coding.h"

namespace blockwal::raft {

namespace {
constexpr size_t kPadUnit = 8;
}  // namespace

bool IsValidEntryType(uint8_t type) {
  return type == RAFT_COMMAND || type == RAFT_BARRIER || type == RAFT_CHANGE;
}

void EncodeEntryHeader(uint64_t term, uint8_t type, char* dst) {
  EncodeFixed64(dst, term);
  dst[8] = static_cast<char>(type);
}

std::string EncodeEntry(uint64_t term, uint8_t type,
                        absl::string_view payload) {
  std::string out(kEntryHeaderSize, '\0');
  EncodeEntryHeader(term, type, out.data());
  out.append(payload.data(), payload.size());
  return out;
}

absl::StatusOr<DecodedEntry> DecodeEntry(absl::string_view value,
                                         absl::string_view where) {
  if (value.size() < kEntryHeaderSize) {
    return absl::DataLossError(absl::StrCat(
        where, ": raft entry of ", value.size(), " bytes is shorter than its ",
        kEntryHeaderSize, "-byte header"));
  }
  DecodedEntry entry;
  entry.term = DecodeFixed64(value.data());
  entry.type = static_cast<uint8_t>(value[8]);
  if (!IsValidEntryType(entry.type)) {
    return absl::DataLossError(
        absl::StrCat(where, ": raft entry has unknown type ", entry.type,
                     " (term ", entry.term, ")"));
  }
  entry.payload = value.substr(kEntryHeaderSize);
  return entry;
}

size_t PaddedCommandSize(size_t n) { return (n / kPadUnit + 1) * kPadUnit; }

void PadCommandInto(absl::string_view command, char* dst) {
  const size_t padded = PaddedCommandSize(command.size());
  if (!command.empty()) std::memcpy(dst, command.data(), command.size());
  const size_t pad = padded - command.size();
  std::memset(dst + command.size(), static_cast<int>(pad), pad);
}

std::string PadCommand(absl::string_view command) {
  std::string out(PaddedCommandSize(command.size()), '\0');
  PadCommandInto(command, out.data());
  return out;
}

absl::StatusOr<absl::string_view> UnpadCommand(absl::string_view padded,
                                               absl::string_view where) {
  auto bad = [&](absl::string_view reason) {
    return absl::DataLossError(absl::StrCat(where, ": command payload of ",
                                            padded.size(),
                                            " bytes is not padded: ", reason));
  };
  if (padded.empty() || padded.size() % kPadUnit != 0) {
    return bad("length is not a non-zero multiple of 8");
  }
  const size_t pad = static_cast<unsigned char>(padded.back());
  if (pad < 1 || pad > kPadUnit) {
    return bad(absl::StrCat("last byte ", pad, " is not a pad length 1..8"));
  }
  for (size_t i = padded.size() - pad; i < padded.size(); ++i) {
    if (static_cast<unsigned char>(padded[i]) != pad) {
      return bad(absl::StrCat("byte ", i, " is not the pad byte ", pad));
    }
  }
  return padded.substr(0, padded.size() - pad);
}

}  // namespace blockwal::raft
