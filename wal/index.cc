#include "blockwal/wal/index.h"

#include <algorithm>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "blockwal/util/coding.h"
#include "blockwal/util/status_macros.h"

namespace blockwal::wal {

Index::Index(FileSystem* fs, std::string path)
    : fs_(fs), path_(std::move(path)) {}

Index::~Index() = default;

absl::StatusOr<std::unique_ptr<Index>> Index::Open(FileSystem* fs,
                                                   const std::string& path,
                                                   uint64_t capacity_bytes) {
  std::unique_ptr<Index> index(new Index(fs, path));
  uint64_t file_size = 0;
  BW_ASSIGN_OR_RETURN(const bool exists, fs->FileExists(path));
  if (exists) {
    BW_ASSIGN_OR_RETURN(file_size, fs->GetFileSize(path));
  }
  // A torn index may end in part of an entry: map whole entries only.
  uint64_t map_bytes = std::max(file_size, capacity_bytes);
  map_bytes -= map_bytes % kIndexEntrySize;
  if (map_bytes > 0) {
    BW_ASSIGN_OR_RETURN(index->region_,
                        fs->MapFile(path, static_cast<size_t>(map_bytes)));
  }
  index->capacity_ = capacity_bytes == 0 ? 0 : map_bytes / kIndexEntrySize;

  // Count the well-formed leading entries among the bytes the file had: the
  // zeros of growth would otherwise read as an entry (offset 0, position 0).
  const uint64_t n =
      index->CountValidEntries(std::min(map_bytes, file_size) / kIndexEntrySize);
  index->pending_ = n;
  index->size_.store(n, std::memory_order_release);
  return index;
}

std::unique_ptr<Index> Index::InMemory(FileSystem* fs,
                                       const std::string& path) {
  std::unique_ptr<Index> index(new Index(fs, path));
  index->loaded_ = true;
  index->capacity_ = ~uint64_t{0} / kIndexEntrySize;  // memory is the limit
  return index;
}

absl::StatusOr<std::unique_ptr<Index>> Index::Load(FileSystem* fs,
                                                   const std::string& path) {
  absl::StatusOr<std::string> contents = ReadFileToString(fs, path);
  if (!contents.ok() && !absl::IsNotFound(contents.status())) {
    return contents.status();
  }
  return FromBytes(fs, path, contents.ok() ? *std::move(contents) : "");
}

std::unique_ptr<Index> Index::FromBytes(FileSystem* fs, const std::string& path,
                                        std::string bytes) {
  std::unique_ptr<Index> index = InMemory(fs, path);
  index->memory_ = std::move(bytes);
  // A torn index may end in part of an entry: whole entries only.
  index->memory_.resize(index->memory_.size() -
                        index->memory_.size() % kIndexEntrySize);
  const uint64_t n =
      index->CountValidEntries(index->memory_.size() / kIndexEntrySize);
  index->pending_ = n;
  index->size_.store(n, std::memory_order_release);
  return index;
}

IndexEntry DecodeIndexEntry(const char* p) {
  return IndexEntry{DecodeFixed32(p), DecodeFixed64(p + 4)};
}

uint64_t CountValidIndexEntries(absl::string_view bytes) {
  const uint64_t slots = bytes.size() / kIndexEntrySize;
  uint64_t n = 0;
  uint64_t previous = 0;
  for (; n < slots; ++n) {
    const IndexEntry e = DecodeIndexEntry(bytes.data() + n * kIndexEntrySize);
    if (e.relative_offset != n || (n > 0 && e.position <= previous)) break;
    previous = e.position;
  }
  return n;
}

uint64_t Index::CountValidEntries(uint64_t slots) const {
  return CountValidIndexEntries(
      absl::string_view(bytes(), slots * kIndexEntrySize));
}

absl::Status Index::Grow(uint64_t capacity_bytes) {
  if (loaded_) return absl::OkStatus();  // memory grows with Append
  capacity_bytes -= capacity_bytes % kIndexEntrySize;
  if (capacity_bytes <= capacity_ * kIndexEntrySize) return absl::OkStatus();
  // The new mapping first: if the file system has no room for it, the index
  // stays as it was, mapped and usable.
  BW_ASSIGN_OR_RETURN(std::unique_ptr<MappedRegion> grown,
                      fs_->MapFile(path_, static_cast<size_t>(capacity_bytes)));
  region_ = std::move(grown);
  capacity_ = capacity_bytes / kIndexEntrySize;
  return absl::OkStatus();
}

uint64_t Index::Position(uint64_t i) const {
  return DecodeIndexEntry(bytes() + i * kIndexEntrySize).position;
}

absl::Status Index::Append(uint64_t position) {
  const uint64_t n = pending_;
  if (n >= capacity_) {
    return absl::ResourceExhaustedError(
        absl::StrCat(path_, ": index is full (", capacity_, " entries)"));
  }
  if (loaded_ && memory_.size() < (n + 1) * kIndexEntrySize) {
    memory_.resize((n + 1) * kIndexEntrySize);
  }
  char* p = bytes() + n * kIndexEntrySize;
  EncodeFixed32(p, static_cast<uint32_t>(n));
  EncodeFixed64(p + 4, position);
  pending_ = n + 1;
  return absl::OkStatus();
}

void Index::TruncateEntries(uint64_t n) {
  const uint64_t old = pending_;
  if (n >= old) return;
  pending_ = n;
  size_.store(n, std::memory_order_release);
  std::memset(bytes() + n * kIndexEntrySize, 0,
              (old - n) * kIndexEntrySize);
}

void Index::ZeroPastEntries() {
  if (region_ == nullptr) return;  // nothing mapped, or loaded (memory only)
  char* const data = region_->data();
  const uint64_t begin = pending_ * kIndexEntrySize;
  const uint64_t end = capacity_ * kIndexEntrySize;
  // Only the span that holds non-zero bytes is written: zero pages of the
  // mapping stay clean, so nothing more is written back.
  uint64_t first = end, last = begin;
  for (uint64_t p = begin; p < end; ++p) {
    if (data[p] != 0) {
      first = std::min(first, p);
      last = p + 1;
    }
  }
  if (first < last) std::memset(data + first, 0, last - first);
}

absl::Status Index::Sync() {
  if (region_ == nullptr) return absl::OkStatus();  // nothing on disk to sync
  return region_->Sync();
}

absl::Status Index::Seal() {
  if (loaded_) {
    return absl::FailedPreconditionError(
        absl::StrCat(path_, ": a loaded (read-only) index cannot be sealed"));
  }
  BW_RETURN_IF_ERROR(Sync());
  capacity_ = 0;
  // Truncate through a file handle so the new size can be made durable.
  BW_ASSIGN_OR_RETURN(auto file, fs_->NewAppendableFile(path_));
  BW_RETURN_IF_ERROR(file->Truncate(size() * kIndexEntrySize));
  BW_RETURN_IF_ERROR(file->Sync());
  return file->Close();
}

}  // namespace blockwal::wal
