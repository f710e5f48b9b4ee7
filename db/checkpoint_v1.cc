// Format 1 checkpoints (db/checkpoint.h), written before the chunk index
// existed: read whole and verified in one pass, for stores made by earlier
// versions. The next Checkpoint() of such a store writes format 2 and
// removes the old file.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "blockwal/db/checkpoint.h"
#include "blockwal/util/coding.h"
#include "blockwal/util/crc32c.h"
#include "blockwal/util/status_macros.h"
#include "blockwal/wal/block_reader.h"

namespace blockwal::db {
namespace {

constexpr size_t kMagicSize = 8;
// kind, magic, version, wal_offset, key count.
constexpr size_t kHeaderSizeV1 = 1 + kMagicSize + 4 + 8 + 8;
// kind, record count, masked crc.
constexpr size_t kTrailerSizeV1 = 1 + 4 + 4;

class FirstError : public wal::BlockReader::Reporter {
 public:
  void Corruption(uint64_t position, uint64_t bytes,
                  absl::string_view reason) override {
    if (!found_) {
      found_ = true;
      message_ = absl::StrCat(reason, " at byte ", position, " (", bytes,
                              " bytes dropped)");
    }
  }
  bool found() const { return found_; }
  const std::string& message() const { return message_; }

 private:
  bool found_ = false;
  std::string message_;
};

// Checks a format 1 header and reads its WAL offset and key count into
// *info: what is wrong with it, or "".
std::string ParseHeaderV1(absl::string_view payload, CheckpointInfo* info) {
  if (static_cast<uint8_t>(payload[0]) != kCheckpointHeader ||
      payload.size() != kHeaderSizeV1 ||
      payload.substr(1, kMagicSize) !=
          absl::string_view(kCheckpointMagic, kMagicSize)) {
    return "no checkpoint header (bad magic)";
  }
  const uint32_t version = DecodeFixed32(payload.data() + 1 + kMagicSize);
  if (version != kCheckpointVersion1) {
    return absl::StrCat("unsupported format version ", version);
  }
  info->wal_offset = DecodeFixed64(payload.data() + 1 + kMagicSize + 4);
  info->keys = DecodeFixed64(payload.data() + 1 + kMagicSize + 12);
  return "";
}

// Adds the pairs of the chunk that is record number `record` (its payload
// after the kind byte) to *loaded, after its last key *last_key: what is
// wrong with it, or "".
std::string LoadChunkV1(absl::string_view chunk, uint32_t record,
                        MemTable* loaded, std::string* last_key) {
  ChunkPairs pairs;
  if (std::string error = DecodeChunkPairs(chunk, &pairs); !error.empty()) {
    return absl::StrCat("chunk ", record, ": ", error);
  }
  if (!pairs.empty() && loaded->size() > 0 &&
      pairs.front().first <= *last_key) {
    return absl::StrCat("chunk ", record, ": keys out of order");
  }
  for (const auto& [key, value] : pairs) loaded->Put(key, value);
  if (!pairs.empty()) *last_key = std::string(pairs.back().first);
  return "";
}

// Checks the trailer against the records before it (`records` of them,
// checksum `crc`): what is wrong with it, or "".
std::string CheckTrailerV1(absl::string_view payload, uint32_t records,
                           uint32_t crc) {
  if (payload.size() != kTrailerSizeV1) return "bad trailer size";
  const uint32_t want_records = DecodeFixed32(payload.data() + 1);
  const uint32_t want_crc = crc32c::Unmask(DecodeFixed32(payload.data() + 5));
  if (want_records != records) {
    return absl::StrCat("trailer counts ", want_records,
                        " records, the file has ", records);
  }
  if (want_crc != crc) {
    return absl::StrFormat(
        "checksum mismatch: trailer says %08x, contents give %08x", want_crc,
        crc);
  }
  return "";
}

}  // namespace

absl::StatusOr<CheckpointInfo> ReadCheckpointV1(FileSystem* fs,
                                                const std::string& path,
                                                MemTable* table) {
  auto corrupt = [&path](absl::string_view what) {
    return absl::DataLossError(
        absl::StrCat("checkpoint ", path, " is damaged: ", what));
  };
  BW_ASSIGN_OR_RETURN(std::unique_ptr<SequentialFile> file,
                      fs->NewSequentialFile(path));
  FirstError reporter;
  wal::BlockReader reader(file.get(), &reporter);
  CheckpointInfo info;
  info.path = path;
  MemTable loaded;
  uint32_t crc = 0;
  uint32_t records = 0;
  bool trailer_seen = false;
  std::string last_key;
  absl::string_view payload;
  std::string scratch;
  while (reader.ReadRecord(&payload, &scratch)) {
    if (reporter.found()) break;
    if (trailer_seen) return corrupt("records after the trailer");
    if (payload.empty()) return corrupt("empty record");
    const uint8_t kind = static_cast<uint8_t>(payload[0]);
    std::string error;
    if (records == 0) {
      error = ParseHeaderV1(payload, &info);
    } else if (kind == kCheckpointChunk) {
      error = LoadChunkV1(payload.substr(1), records, &loaded, &last_key);
    } else if (kind == kCheckpointTrailer) {
      error = CheckTrailerV1(payload, records, crc);
      trailer_seen = error.empty();
    } else {
      error = absl::StrCat("record ", records, " has unknown kind ", kind);
    }
    if (!error.empty()) return corrupt(error);
    if (trailer_seen) continue;  // the trailer is not part of its own checksum
    crc = crc32c::Extend(crc, payload.data(), payload.size());
    ++records;
  }
  if (reporter.found()) return corrupt(reporter.message());
  BW_RETURN_IF_ERROR(reader.status());
  if (records == 0) return corrupt("empty file (no header)");
  if (!trailer_seen) return corrupt("ends without its trailer (cut off)");
  if (loaded.size() != info.keys) {
    return corrupt(absl::StrCat("header says ", info.keys,
                                " keys, the chunks hold ", loaded.size()));
  }
  BW_ASSIGN_OR_RETURN(info.bytes, fs->GetFileSize(path));
  table->Swap(&loaded);
  return info;
}

}  // namespace blockwal::db
