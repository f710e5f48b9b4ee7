// How one raft log entry is stored as the value of one blockwal log record
// (the record's offset is the entry's raft index), and the padding every
// RAFT_COMMAND payload gets before it is handed to raft.
//
// Entry encoding (kEntryHeaderSize + payload bytes):
//   offset 0  term           u64, little-endian
//   offset 8  entry type     u8: RAFT_COMMAND (1), RAFT_BARRIER (2) or
//                            RAFT_CHANGE (3), libraft 0.15's types
//   offset 9  payload        the entry's buffer, byte for byte, exactly
//                            buf.len bytes (no padding added or removed here)
// The record framing (checksums, fragments) is the block format's; nothing
// else is stored per entry.
//
// Command padding (the 8-byte rule, docs/raft.md): libraft's network decoder
// walks a batch of entries assuming every payload length is a multiple of 8,
// so every RAFT_COMMAND payload is padded before raft_apply, here and nowhere
// else. The padding is reversible: 1 to 8 bytes are appended, each holding
// the number of bytes added (as PKCS#7 does with 8-byte blocks), so a command
// whose length is already a multiple of 8 grows by 8. UnpadCommand gives back
// the original bytes.
#ifndef BLOCKWAL_RAFT_ENTRY_CODEC_H_
#define BLOCKWAL_RAFT_ENTRY_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace blockwal::raft {

inline constexpr size_t kEntryHeaderSize = 9;

// Whether `type` is an entry type libraft 0.15 defines.
bool IsValidEntryType(uint8_t type);

// Writes the kEntryHeaderSize header bytes for (term, type) to dst, so a
// record can be written as header + payload without joining them in memory
// (wal::BlockWriter::AddRecord(prefix, payload), Log batches).
void EncodeEntryHeader(uint64_t term, uint8_t type, char* dst);
// The whole record value: header followed by payload.
std::string EncodeEntry(uint64_t term, uint8_t type, absl::string_view payload);

struct DecodedEntry {
  uint64_t term = 0;
  uint8_t type = 0;
  absl::string_view payload;  // points into the decoded value
};

// Decodes a record value written by EncodeEntry. `where` names the record in
// errors (e.g. "raft log /d offset 17"). Errors are kDataLoss: the value was
// read back from storage with its checksum intact, so a bad one means stored
// data that no writer of this encoding produced. Messages:
//   "<where>: raft entry of N bytes is shorter than its 9-byte header"
//   "<where>: raft entry has unknown type T (term X)"
absl::StatusOr<DecodedEntry> DecodeEntry(absl::string_view value,
                                         absl::string_view where);

// The padded length of a command of `n` bytes: the next multiple of 8 that
// is greater than n (n + 1 .. n + 8).
size_t PaddedCommandSize(size_t n);
// Writes `command` followed by its padding to dst, which must hold
// PaddedCommandSize(command.size()) bytes (e.g. a raft_malloc'd raft_buffer).
void PadCommandInto(absl::string_view command, char* dst);
// `command` followed by its padding.
std::string PadCommand(absl::string_view command);
// The command inside a padded payload (a view into `padded`). kDataLoss
// when `padded` is empty, not a multiple of 8 long, or its last byte is not
// 1..8 with that many equal bytes at the end:
//   "<where>: command payload of N bytes is not padded: <reason>"
absl::StatusOr<absl::string_view> UnpadCommand(absl::string_view padded,
                                               absl::string_view where);

}  // namespace blockwal::raft

#endif  // BLOCKWAL_RAFT_ENTRY_CODEC_H_
