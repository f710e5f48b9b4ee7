// Checkpoint files (db/checkpoint.h): their names, reading one lazily
// (CheckpointTable), and reading one whole (ReadCheckpoint). Writing one is
// in checkpoint_builder.cc.
#include "blockwal/db/checkpoint.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "blockwal/util/coding.h"
#include "blockwal/util/status_macros.h"
#include "blockwal/wal/block_reader.h"
#include "blockwal/wal/format.h"

namespace blockwal::db {
namespace {

constexpr size_t kMagicSize = 8;
static_assert(sizeof(kCheckpointMagic) == kMagicSize + 1);
// kind, magic, version, wal_offset.
constexpr size_t kHeaderSize = 1 + kMagicSize + 4 + 8;
constexpr size_t kNameDigits = 20;

absl::Status DamagedCheckpoint(const std::string& path,
                               absl::string_view what) {
  return absl::DataLossError(
      absl::StrCat("checkpoint ", path, " is damaged: ", what));
}

// A failed read of the record `what` of the checkpoint at path: kDataLoss as
// damage to it (without the block reader's own "<path>: " prefix), any other
// error as it is.
absl::Status ReadError(const std::string& path, absl::string_view what,
                       const absl::Status& s) {
  if (s.code() != absl::StatusCode::kDataLoss) return s;
  return DamagedCheckpoint(
      path, absl::StrCat(what, ": ",
                         absl::StripPrefix(s.message(),
                                           absl::StrCat(path, ": "))));
}

// A header record of either format: kind, magic, then the version u32.
bool IsCheckpointHeader(absl::string_view header) {
  return header.size() >= 1 + kMagicSize + 4 &&
         static_cast<uint8_t>(header[0]) == kCheckpointHeader &&
         header.substr(1, kMagicSize) ==
             absl::string_view(kCheckpointMagic, kMagicSize);
}

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

absl::Status CheckpointTable::Damaged(absl::string_view what) const {
  return DamagedCheckpoint(info_.path, what);
}

absl::StatusOr<std::shared_ptr<const CheckpointTable>> CheckpointTable::Open(
    FileSystem* fs, const std::string& path, size_t cache_bytes) {
  std::shared_ptr<CheckpointTable> table(new CheckpointTable());
  table->info_.path = path;
  table->cache_capacity_ = cache_bytes;
  BW_ASSIGN_OR_RETURN(table->file_, fs->NewReadOnlyMappedFile(path));
  BW_ASSIGN_OR_RETURN(const uint64_t size, table->file_->Size());
  table->info_.bytes = size;
  if (size == 0) return table->Damaged("empty file (no header)");
  std::string scratch;

  // The trailer: one FULL fragment, the last bytes of the file.
  if (size < kTrailerRecordBytes) {
    return table->Damaged(absl::StrCat("ends without its trailer (", size,
                                       " bytes: cut off)"));
  }
  const uint64_t trailer_position = size - kTrailerRecordBytes;
  uint64_t end = 0;
  absl::StatusOr<absl::string_view> trailer = wal::ReadRecordViewAt(
      *table->file_, trailer_position, &scratch, &end, kTrailerRecordBytes);
  if (!trailer.ok() && trailer.status().code() != absl::StatusCode::kDataLoss) {
    return trailer.status();
  }
  if (!trailer.ok() || end != size || trailer->size() != kTrailerPayloadBytes ||
      static_cast<uint8_t>((*trailer)[0]) != kCheckpointTrailer) {
    return table->Damaged(absl::StrCat(
        "ends without its trailer (no trailer record in its last ",
        kTrailerRecordBytes, " bytes, at byte ", trailer_position,
        ": cut off?)"));
  }
  table->index_position_ = DecodeFixed64(trailer->data() + 1);
  const uint32_t index_bytes = DecodeFixed32(trailer->data() + 9);
  table->info_.keys = DecodeFixed64(trailer->data() + 13);

  // The header.
  absl::StatusOr<absl::string_view> header = wal::ReadRecordViewAt(
      *table->file_, 0, &scratch, nullptr, kHeaderSize + wal::kHeaderSize);
  if (!header.ok()) return ReadError(path, "header", header.status());
  if (header->size() != kHeaderSize || !IsCheckpointHeader(*header)) {
    return table->Damaged("no checkpoint header (bad magic)");
  }
  const uint32_t version = DecodeFixed32(header->data() + 1 + kMagicSize);
  if (version != kCheckpointVersion) {
    return table->Damaged(absl::StrCat("unsupported format version ", version));
  }
  table->info_.wal_offset = DecodeFixed64(header->data() + 1 + kMagicSize + 4);

  // The index.
  if (table->index_position_ < kHeaderSize + wal::kHeaderSize ||
      table->index_position_ >= trailer_position) {
    return table->Damaged(absl::StrCat("the trailer puts the index at byte ",
                                       table->index_position_,
                                       ", outside the file's body"));
  }
  // A big index is fragmented and assembled in index_data_ itself.
  absl::StatusOr<absl::string_view> index = wal::ReadRecordViewAt(
      *table->file_, table->index_position_, &table->index_data_, &end,
      trailer_position - table->index_position_);
  if (!index.ok()) return ReadError(path, "index", index.status());
  if (index->size() != index_bytes || end > trailer_position ||
      index->empty() || static_cast<uint8_t>((*index)[0]) != kCheckpointIndex) {
    return table->Damaged(absl::StrCat("no index record at byte ",
                                       table->index_position_,
                                       " where the trailer puts it"));
  }
  table->index_end_ = end;
  // Own the index bytes: the chunks' first keys point into them.
  if (index->data() == table->index_data_.data()) {
    table->index_data_.resize(index->size());
  } else {
    table->index_data_ = std::string(*index);
  }
  BW_RETURN_IF_ERROR(table->ParseIndex());
  return std::shared_ptr<const CheckpointTable>(std::move(table));
}

absl::Status CheckpointTable::ParseIndex() {
  absl::string_view input(index_data_);
  input.remove_prefix(1);
  uint32_t count;
  if (!GetVarint32(&input, &count)) return Damaged("index: bad chunk count");
  // Each entry takes at least 4 bytes: do not trust a huge count.
  if (count > input.size() / 4) {
    return Damaged(
        absl::StrCat("index: ", count, " chunks in ", input.size(), " bytes"));
  }
  chunks_.reserve(count);
  uint64_t pairs = 0;
  for (uint32_t i = 0; i < count; ++i) {
    Chunk c;
    uint64_t position;
    if (!GetVarint64(&input, &position) || !GetVarint32(&input, &c.bytes) ||
        !GetVarint32(&input, &c.pairs) ||
        !GetLengthPrefixed(&input, &c.first_key)) {
      return Damaged(
          absl::StrCat("index: entry ", i, " of ", count, " is cut off"));
    }
    c.position = position;
    const uint64_t lowest = i == 0 ? kHeaderSize + wal::kHeaderSize
                                   : chunks_.back().position + 1;
    if (c.position < lowest || c.position >= index_position_ || c.bytes < 2 ||
        c.pairs == 0) {
      return Damaged(absl::StrCat("index: entry ", i, " (chunk at byte ",
                                  c.position, ", ", c.bytes, " bytes, ",
                                  c.pairs, " pairs) is impossible"));
    }
    if (i > 0 && c.first_key <= chunks_.back().first_key) {
      return Damaged(absl::StrCat("index: entry ", i, ": keys out of order"));
    }
    pairs += c.pairs;
    chunks_.push_back(c);
  }
  if (!input.empty()) {
    return Damaged(
        absl::StrCat("index: ", input.size(), " bytes after its last entry"));
  }
  if (pairs != info_.keys) {
    return Damaged(absl::StrCat("the trailer says ", info_.keys,
                                " keys, the index's chunks hold ", pairs));
  }
  info_.chunks = chunks_.size();
  return absl::OkStatus();
}

int64_t CheckpointTable::ChunkFor(absl::string_view key) const {
  auto it = std::upper_bound(
      chunks_.begin(), chunks_.end(), key,
      [](absl::string_view k, const Chunk& c) { return k < c.first_key; });
  return static_cast<int64_t>(it - chunks_.begin()) - 1;
}

absl::Status CheckpointTable::ReadChunk(size_t i, std::string* scratch,
                                        Pairs* pairs, uint64_t* end) const {
  const Chunk& c = chunks_[i];
  const uint64_t next =
      i + 1 < chunks_.size() ? chunks_[i + 1].position : index_position_;
  auto bad = [&](absl::string_view what) {
    return Damaged(
        absl::StrCat("chunk ", i, " at byte ", c.position, ": ", what));
  };
  absl::StatusOr<absl::string_view> payload = wal::ReadRecordViewAt(
      *file_, c.position, scratch, end, next - c.position);
  if (!payload.ok()) {
    return ReadError(info_.path, absl::StrCat("chunk ", i), payload.status());
  }
  if (payload->size() != c.bytes ||
      static_cast<uint8_t>((*payload)[0]) != kCheckpointChunk) {
    return bad(absl::StrCat("not the chunk the index names (", payload->size(),
                            " bytes, the index says ", c.bytes, ")"));
  }
  absl::string_view input = payload->substr(1);
  uint32_t count;
  if (absl::string_view peek = input;
      !GetVarint32(&peek, &count) || count != c.pairs) {
    return bad(
        absl::StrCat("pair count does not match the index's ", c.pairs));
  }
  if (std::string error = DecodeChunkPairs(input, pairs); !error.empty()) {
    return bad(error);
  }
  if (pairs->empty() || pairs->front().first != c.first_key) {
    return bad("its first key is not the index's");
  }
  if (i + 1 < chunks_.size() &&
      pairs->back().first >= chunks_[i + 1].first_key) {
    return bad("its last key is not below the next chunk's first key");
  }
  return absl::OkStatus();
}

namespace {
// Where key is, or would be, in a chunk's sorted pairs.
template <typename Pairs>
auto LowerBound(const Pairs& pairs, absl::string_view key) {
  return std::lower_bound(
      pairs.begin(), pairs.end(), key,
      [](const auto& p, absl::string_view k) { return p.first < k; });
}
}  // namespace

absl::StatusOr<std::shared_ptr<const CheckpointTable::DecodedChunk>>
CheckpointTable::CachedChunk(size_t i) const {
  {
    absl::MutexLock l(&cache_mu_);
    auto it = cache_.find(i);
    if (it != cache_.end()) {
      ++cache_hits_;
      lru_.splice(lru_.end(), lru_, it->second.lru);  // most recently used
      return it->second.chunk;
    }
    ++cache_misses_;
  }
  // Read outside the lock; two readers of the same chunk may both read it.
  // A mapped file hands out views of its pages: the chunk then owns only its
  // pair list. Otherwise the bytes land in this thread's read buffer (reused,
  // so not cleared again for every read) and the chunk keeps a copy.
  thread_local std::string read_buffer;
  auto chunk = std::make_shared<DecodedChunk>();
  BW_RETURN_IF_ERROR(ReadChunk(i, &read_buffer, &chunk->pairs));
  const auto buffer_begin = reinterpret_cast<uintptr_t>(read_buffer.data());
  const auto first = reinterpret_cast<uintptr_t>(chunk->pairs[0].first.data());
  if (first >= buffer_begin && first < buffer_begin + read_buffer.size()) {
    // Copy just the pairs' bytes (the buffer may be far bigger).
    const absl::string_view last_value = chunk->pairs.back().second;
    const uintptr_t last =
        reinterpret_cast<uintptr_t>(last_value.data()) + last_value.size();
    chunk->scratch.assign(reinterpret_cast<const char*>(first), last - first);
    const uintptr_t base = reinterpret_cast<uintptr_t>(chunk->scratch.data());
    auto rebase = [&](absl::string_view v) {
      return absl::string_view(
          reinterpret_cast<const char*>(
              base + (reinterpret_cast<uintptr_t>(v.data()) - first)),
          v.size());
    };
    for (auto& [key, value] : chunk->pairs) {
      key = rebase(key);
      value = rebase(value);
    }
  }
  chunk->charge = sizeof(DecodedChunk) + chunk->scratch.capacity() +
                  chunk->pairs.capacity() * sizeof(Pairs::value_type);
  if (chunk->charge > cache_capacity_) return chunk;
  absl::MutexLock l(&cache_mu_);
  auto [it, inserted] = cache_.try_emplace(i);
  if (!inserted) return it->second.chunk;  // another reader cached it first
  it->second.chunk = chunk;
  it->second.lru = lru_.insert(lru_.end(), i);
  cache_bytes_ += chunk->charge;
  while (cache_bytes_ > cache_capacity_) {
    auto victim = cache_.find(lru_.front());
    cache_bytes_ -= victim->second.chunk->charge;
    cache_.erase(victim);
    lru_.pop_front();
  }
  return chunk;
}

CheckpointTable::CacheStats CheckpointTable::cache_stats() const {
  absl::MutexLock l(&cache_mu_);
  return CacheStats{cache_bytes_, cache_hits_, cache_misses_};
}

absl::StatusOr<std::optional<std::string>> CheckpointTable::Get(
    absl::string_view key) const {
  const int64_t i = ChunkFor(key);
  if (i < 0) return std::nullopt;
  BW_ASSIGN_OR_RETURN(std::shared_ptr<const DecodedChunk> chunk,
                      CachedChunk(static_cast<size_t>(i)));
  auto it = LowerBound(chunk->pairs, key);
  if (it == chunk->pairs.end() || it->first != key) return std::nullopt;
  return std::string(it->second);
}

absl::Status CheckpointTable::Scan(absl::string_view start,
                                   absl::string_view limit,
                                   Visitor visit) const {
  std::string scratch;
  Pairs pairs;
  for (size_t i = static_cast<size_t>(std::max<int64_t>(ChunkFor(start), 0));
       i < chunks_.size(); ++i) {
    if (!limit.empty() && chunks_[i].first_key >= limit) break;
    BW_RETURN_IF_ERROR(ReadChunk(i, &scratch, &pairs));
    for (auto it = LowerBound(pairs, start); it != pairs.end(); ++it) {
      if (!limit.empty() && it->first >= limit) return absl::OkStatus();
      BW_RETURN_IF_ERROR(visit(it->first, it->second));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> CheckpointTable::CountPresent(
    const std::vector<absl::string_view>& keys) const {
  std::string scratch;
  Pairs pairs;
  int64_t loaded = -1;
  uint64_t present = 0;
  for (absl::string_view key : keys) {
    const int64_t i = ChunkFor(key);
    if (i < 0) continue;
    if (i != loaded) {
      BW_RETURN_IF_ERROR(ReadChunk(static_cast<size_t>(i), &scratch, &pairs));
      loaded = i;
    }
    auto it = LowerBound(pairs, key);
    if (it != pairs.end() && it->first == key) ++present;
  }
  return present;
}

absl::Status CheckpointTable::SkipPadding(uint64_t* at, uint64_t until,
                                          absl::string_view what) const {
  const uint64_t from = *at;
  std::string scratch;
  while (*at < until) {
    uint64_t end = 0;
    absl::StatusOr<absl::string_view> padding =
        wal::ReadRecordViewAt(*file_, *at, &scratch, &end);
    if (!padding.ok() || wal::NextFragmentStart(end) > until ||
        (!padding->empty() &&
         static_cast<uint8_t>((*padding)[0]) != kCheckpointPadding)) {
      break;
    }
    *at = wal::NextFragmentStart(end);
  }
  if (*at == until) return absl::OkStatus();
  return Damaged(absl::StrCat(what, " is at byte ", until,
                              ", the record before it ends at byte ", from));
}

absl::Status CheckpointTable::Verify() const {
  std::string scratch;
  Pairs pairs;
  uint64_t expected = wal::NextFragmentStart(wal::kHeaderSize + kHeaderSize);
  for (size_t i = 0; i < chunks_.size(); ++i) {
    BW_RETURN_IF_ERROR(SkipPadding(&expected, chunks_[i].position,
                                   absl::StrCat("chunk ", i)));
    uint64_t end = 0;
    BW_RETURN_IF_ERROR(ReadChunk(i, &scratch, &pairs, &end));
    expected = wal::NextFragmentStart(end);
  }
  BW_RETURN_IF_ERROR(SkipPadding(&expected, index_position_, "the index"));
  expected = wal::NextFragmentStart(index_end_);
  return SkipPadding(&expected, info_.bytes - kTrailerRecordBytes,
                     "the trailer");
}

std::string DecodeChunkPairs(absl::string_view input, ChunkPairs* pairs) {
  uint32_t count;
  if (!GetVarint32(&input, &count)) return "bad pair count";
  pairs->clear();
  // The count is untrusted: every pair takes at least two bytes (its two
  // length prefixes), so no more can follow than that allows.
  pairs->reserve(std::min<size_t>(count, input.size() / 2));
  for (uint32_t n = 0; n < count; ++n) {
    absl::string_view key;
    absl::string_view value;
    if (!GetLengthPrefixed(&input, &key) ||
        !GetLengthPrefixed(&input, &value)) {
      return absl::StrCat("pair ", n + 1, " of ", count, " is cut off");
    }
    if (n > 0 && key <= pairs->back().first) return "keys out of order";
    pairs->emplace_back(key, value);
  }
  if (!input.empty()) {
    return absl::StrCat(input.size(), " bytes after its last pair");
  }
  return "";
}

absl::StatusOr<uint32_t> ReadCheckpointVersion(FileSystem* fs,
                                               const std::string& path) {
  BW_ASSIGN_OR_RETURN(std::unique_ptr<RandomAccessFile> file,
                      fs->NewRandomAccessFile(path));
  BW_ASSIGN_OR_RETURN(const uint64_t size, file->Size());
  if (size == 0) return DamagedCheckpoint(path, "empty file (no header)");
  std::string scratch;
  absl::StatusOr<absl::string_view> header =
      wal::ReadRecordViewAt(*file, 0, &scratch, nullptr, wal::kBlockSize);
  if (!header.ok()) return ReadError(path, "header", header.status());
  if (!IsCheckpointHeader(*header)) {
    return DamagedCheckpoint(path, "no checkpoint header (bad magic)");
  }
  return DecodeFixed32(header->data() + 1 + kMagicSize);
}

absl::StatusOr<CheckpointInfo> ReadCheckpoint(FileSystem* fs,
                                              const std::string& path,
                                              MemTable* table) {
  BW_ASSIGN_OR_RETURN(const uint32_t version, ReadCheckpointVersion(fs, path));
  if (version == kCheckpointVersion1) {
    return ReadCheckpointV1(fs, path, table);
  }
  BW_ASSIGN_OR_RETURN(std::shared_ptr<const CheckpointTable> checkpoint,
                      CheckpointTable::Open(fs, path));
  BW_RETURN_IF_ERROR(checkpoint->Verify());
  MemTable loaded;
  BW_RETURN_IF_ERROR(checkpoint->Scan(
      "", "", [&](absl::string_view key, absl::string_view value) {
        loaded.Put(key, value);
        return absl::OkStatus();
      }));
  table->Swap(&loaded);
  return checkpoint->info();
}

}  // namespace blockwal::db
