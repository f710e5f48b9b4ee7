#include "db/checkpoint.h"

#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "util/coding.h"
#include "util/crc32c.h"
#include "util/status_macros.h"
#include "wal/block_reader.h"
#include "wal/block_writer.h"

namespace blockwal::db {
namespace {

constexpr size_t kMagicSize = 8;
static_assert(sizeof(kCheckpointMagic) == kMagicSize + 1);
// kind, magic, version, wal_offset, key count.
constexpr size_t kHeaderSize = 1 + kMagicSize + 4 + 8 + 8;
// kind, record count, masked crc.
constexpr size_t kTrailerSize = 1 + 4 + 4;
constexpr size_t kNameDigits = 20;

// Writes records and keeps the running CRC and count the trailer needs.
class CheckpointWriter {
 public:
  explicit CheckpointWriter(WritableFile* file) : writer_(file) {}

  absl::Status Add(absl::string_view payload) {
    crc_ = crc32c::Extend(crc_, payload.data(), payload.size());
    ++records_;
    return writer_.AddRecord(payload).status();
  }
  absl::Status Finish() {
    std::string trailer;
    trailer.push_back(static_cast<char>(kCheckpointTrailer));
    PutFixed32(&trailer, records_);
    PutFixed32(&trailer, crc32c::Mask(crc_));
    BW_RETURN_IF_ERROR(writer_.AddRecord(trailer).status());
    return writer_.Sync();
  }
  uint64_t position() const { return writer_.position(); }

 private:
  wal::BlockWriter writer_;
  uint32_t crc_ = 0;
  uint32_t records_ = 0;
};

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

}  // namespace

std::string CheckpointFileName(uint64_t wal_offset) {
  return absl::StrFormat("%s%020u", kCheckpointPrefix, wal_offset);
}

std::optional<uint64_t> ParseCheckpointFileName(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, kCheckpointPrefix)) return std::nullopt;
  if (name.size() != kNameDigits) return std::nullopt;
  for (char c : name) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return std::nullopt;
    }
  }
  uint64_t value;
  if (!absl::SimpleAtoi(name, &value)) return std::nullopt;  // > 2^64 - 1
  return value;
}

absl::StatusOr<CheckpointInfo> WriteCheckpoint(FileSystem* fs,
                                               const std::string& dir,
                                               uint64_t wal_offset,
                                               const MemTable& table) {
  CheckpointInfo info;
  info.path = JoinPath(dir, CheckpointFileName(wal_offset));
  info.wal_offset = wal_offset;
  info.keys = table.size();
  const std::string temp = absl::StrCat(info.path, kCheckpointTempSuffix);

  BW_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file,
                      fs->NewWritableFile(temp));
  CheckpointWriter writer(file.get());
  std::string record;
  record.push_back(static_cast<char>(kCheckpointHeader));
  record.append(kCheckpointMagic, kMagicSize);
  PutFixed32(&record, kCheckpointVersion);
  PutFixed64(&record, wal_offset);
  PutFixed64(&record, table.size());
  BW_RETURN_IF_ERROR(writer.Add(record));

  std::string pairs;
  uint32_t count = 0;
  auto flush_chunk = [&]() -> absl::Status {
    if (count == 0) return absl::OkStatus();
    record.clear();
    record.push_back(static_cast<char>(kCheckpointChunk));
    PutVarint32(&record, count);
    record.append(pairs);
    pairs.clear();
    count = 0;
    return writer.Add(record);
  };
  for (const auto& [key, value] : table.map()) {
    PutLengthPrefixed(&pairs, key);
    PutLengthPrefixed(&pairs, value);
    ++count;
    if (pairs.size() >= kCheckpointChunkBytes) {
      BW_RETURN_IF_ERROR(flush_chunk());
    }
  }
  BW_RETURN_IF_ERROR(flush_chunk());
  BW_RETURN_IF_ERROR(writer.Finish());
  info.bytes = writer.position();
  BW_RETURN_IF_ERROR(file->Close());
  file.reset();
  BW_RETURN_IF_ERROR(fs->RenameFile(temp, info.path));
  BW_RETURN_IF_ERROR(fs->SyncDir(dir));
  return info;
}

absl::StatusOr<CheckpointInfo> ReadCheckpoint(FileSystem* fs,
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
    if (records == 0) {
      if (kind != kCheckpointHeader || payload.size() != kHeaderSize ||
          payload.substr(1, kMagicSize) !=
              absl::string_view(kCheckpointMagic, kMagicSize)) {
        return corrupt("no checkpoint header (bad magic)");
      }
      const uint32_t version = DecodeFixed32(payload.data() + 1 + kMagicSize);
      if (version != kCheckpointVersion) {
        return corrupt(absl::StrCat("unsupported format version ", version));
      }
      info.wal_offset = DecodeFixed64(payload.data() + 1 + kMagicSize + 4);
      info.keys = DecodeFixed64(payload.data() + 1 + kMagicSize + 12);
    } else if (kind == kCheckpointChunk) {
      absl::string_view input = payload.substr(1);
      uint32_t count;
      if (!GetVarint32(&input, &count)) {
        return corrupt(absl::StrCat("chunk ", records, ": bad pair count"));
      }
      for (uint32_t i = 0; i < count; ++i) {
        absl::string_view key;
        absl::string_view value;
        if (!GetLengthPrefixed(&input, &key) ||
            !GetLengthPrefixed(&input, &value)) {
          return corrupt(absl::StrCat("chunk ", records, ": pair ", i + 1,
                                      " of ", count, " is cut off"));
        }
        if (loaded.size() > 0 && key <= last_key) {
          return corrupt(absl::StrCat("chunk ", records,
                                      ": keys out of order"));
        }
        last_key.assign(key.data(), key.size());
        loaded.Put(key, value);
      }
      if (!input.empty()) {
        return corrupt(absl::StrCat("chunk ", records, ": ", input.size(),
                                    " bytes after its last pair"));
      }
    } else if (kind == kCheckpointTrailer) {
      if (payload.size() != kTrailerSize) return corrupt("bad trailer size");
      const uint32_t want_records = DecodeFixed32(payload.data() + 1);
      const uint32_t want_crc = crc32c::Unmask(DecodeFixed32(payload.data() + 5));
      if (want_records != records) {
        return corrupt(absl::StrCat("trailer counts ", want_records,
                                    " records, the file has ", records));
      }
      if (want_crc != crc) {
        return corrupt(absl::StrFormat(
            "checksum mismatch: trailer says %08x, contents give %08x",
            want_crc, crc));
      }
      trailer_seen = true;
      continue;  // the trailer is not part of its own checksum
    } else {
      return corrupt(absl::StrCat("record ", records, " has unknown kind ",
                                  kind));
    }
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
