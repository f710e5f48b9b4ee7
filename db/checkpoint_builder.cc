// Writing checkpoint files (db/checkpoint.h): CheckpointBuilder and
// WriteCheckpoint.
#include "blockwal/db/checkpoint.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "blockwal/util/coding.h"
#include "blockwal/util/status_macros.h"
#include "blockwal/wal/format.h"

namespace blockwal::db {
namespace {

constexpr size_t kMagicSize = sizeof(kCheckpointMagic) - 1;
// A chunk payload's kind byte and the longest pair count varint.
constexpr size_t kChunkPrefixMax = 1 + 5;

std::string HeaderPayload(uint64_t wal_offset) {
  std::string header;
  header.push_back(static_cast<char>(kCheckpointHeader));
  header.append(kCheckpointMagic, kMagicSize);
  PutFixed32(&header, kCheckpointVersion);
  PutFixed64(&header, wal_offset);
  return header;
}

}  // namespace

CheckpointBuilder::CheckpointBuilder(FileSystem* fs, std::string dir,
                                     uint64_t wal_offset,
                                     std::unique_ptr<WritableFile> file)
    : fs_(fs), dir_(std::move(dir)), file_(std::move(file)),
      writer_(file_.get()) {
  info_.path = JoinPath(dir_, CheckpointFileName(wal_offset));
  info_.wal_offset = wal_offset;
  temp_ = absl::StrCat(info_.path, kCheckpointTempSuffix);
}

CheckpointBuilder::~CheckpointBuilder() {
  if (finished_) return;
  file_.reset();
  const absl::Status s = fs_->RemoveFile(temp_);
  (void)s;  // best effort: Open removes leftovers
}

absl::StatusOr<std::unique_ptr<CheckpointBuilder>> CheckpointBuilder::Create(
    FileSystem* fs, const std::string& dir, uint64_t wal_offset) {
  const std::string temp = absl::StrCat(
      JoinPath(dir, CheckpointFileName(wal_offset)), kCheckpointTempSuffix);
  BW_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file,
                      fs->NewWritableFile(temp));
  std::unique_ptr<CheckpointBuilder> builder(
      new CheckpointBuilder(fs, dir, wal_offset, std::move(file)));
  BW_RETURN_IF_ERROR(
      builder->writer_.AddRecord(HeaderPayload(wal_offset)).status());
  return builder;
}

absl::Status CheckpointBuilder::Add(absl::string_view key,
                                    absl::string_view value) {
  if (info_.keys > 0 && key <= absl::string_view(last_key_)) {
    return absl::InvalidArgumentError(absl::StrCat(
        temp_, ": checkpoint keys must increase; '", key, "' after '",
        last_key_, "'"));
  }
  // A chunk is one FULL record inside one block, so a read of it is one view
  // of the file: it is closed when the next pair would not fit in the block.
  const size_t pair = VarintLength(key.size()) + key.size() +
                      VarintLength(value.size()) + value.size();
  if (chunk_pairs_ > 0 && kChunkPrefixMax + chunk_.size() + pair > chunk_room_) {
    BW_RETURN_IF_ERROR(FlushChunk());
  }
  if (chunk_pairs_ == 0) {
    const uint64_t start = wal::NextFragmentStart(writer_.position());
    chunk_room_ = wal::kBlockSize - start % wal::kBlockSize - wal::kHeaderSize;
    const size_t block_room = wal::kBlockSize - wal::kHeaderSize;
    if (kChunkPrefixMax + pair > chunk_room_ &&
        kChunkPrefixMax + pair <= block_room &&
        chunk_room_ + wal::kHeaderSize <= kCheckpointMaxPadding) {
      // The pair fits a fresh block but not the few bytes left of this one:
      // fill them with padding rather than split the chunk across blocks.
      BW_RETURN_IF_ERROR(PadBlock());
      chunk_room_ = block_room;
    }
    first_key_.assign(key.data(), key.size());
  }
  PutLengthPrefixed(&chunk_, key);
  PutLengthPrefixed(&chunk_, value);
  ++chunk_pairs_;
  ++info_.keys;
  last_key_.assign(key.data(), key.size());
  return absl::OkStatus();
}

absl::Status CheckpointBuilder::PadBlock() {
  const size_t left = wal::kBlockSize - writer_.position() % wal::kBlockSize;
  if (left < wal::kHeaderSize || left == wal::kBlockSize) {
    return absl::OkStatus();  // the writer zero-fills it / nothing to fill
  }
  std::string padding;
  if (left > wal::kHeaderSize) {
    padding.push_back(static_cast<char>(kCheckpointPadding));
    padding.resize(left - wal::kHeaderSize, '\0');
  }
  return writer_.AddRecord(padding).status();
}

absl::Status CheckpointBuilder::FlushChunk() {
  if (chunk_pairs_ == 0) return absl::OkStatus();
  std::string prefix;
  prefix.push_back(static_cast<char>(kCheckpointChunk));
  PutVarint32(&prefix, chunk_pairs_);
  BW_ASSIGN_OR_RETURN(uint64_t position, writer_.AddRecord(prefix, chunk_));
  PutVarint64(&index_, position);
  PutVarint32(&index_, static_cast<uint32_t>(prefix.size() + chunk_.size()));
  PutVarint32(&index_, chunk_pairs_);
  PutLengthPrefixed(&index_, first_key_);
  ++info_.chunks;
  chunk_.clear();
  chunk_pairs_ = 0;
  return absl::OkStatus();
}

absl::StatusOr<CheckpointInfo> CheckpointBuilder::Finish() {
  BW_RETURN_IF_ERROR(FlushChunk());
  std::string index;
  index.push_back(static_cast<char>(kCheckpointIndex));
  PutVarint32(&index, static_cast<uint32_t>(info_.chunks));
  index.append(index_);
  BW_ASSIGN_OR_RETURN(const uint64_t index_position, writer_.AddRecord(index));
  // The trailer must be one FULL fragment ending the file: if it does not
  // fit in this block, fill the block first.
  const size_t left = wal::kBlockSize - writer_.position() % wal::kBlockSize;
  if (left < kTrailerRecordBytes) BW_RETURN_IF_ERROR(PadBlock());
  std::string trailer;
  trailer.push_back(static_cast<char>(kCheckpointTrailer));
  PutFixed64(&trailer, index_position);
  PutFixed32(&trailer, static_cast<uint32_t>(index.size()));
  PutFixed64(&trailer, info_.keys);
  BW_RETURN_IF_ERROR(writer_.AddRecord(trailer).status());
  info_.bytes = writer_.position();
  BW_RETURN_IF_ERROR(writer_.Sync());
  BW_RETURN_IF_ERROR(file_->Close());
  file_.reset();
  BW_RETURN_IF_ERROR(fs_->RenameFile(temp_, info_.path));
  finished_ = true;
  BW_RETURN_IF_ERROR(fs_->SyncDir(dir_));
  return info_;
}

absl::StatusOr<CheckpointInfo> WriteCheckpoint(FileSystem* fs,
                                               const std::string& dir,
                                               uint64_t wal_offset,
                                               const MemTable& table) {
  BW_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointBuilder> builder,
                      CheckpointBuilder::Create(fs, dir, wal_offset));
  for (const auto& [key, value] : table.map()) {
    if (value.has_value()) BW_RETURN_IF_ERROR(builder->Add(key, *value));
  }
  return builder->Finish();
}

}  // namespace blockwal::db
