#include "blockwal/wal/log_dir.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "blockwal/util/coding.h"
#include "blockwal/util/crc32c.h"
#include "blockwal/util/status_macros.h"
#include "blockwal/wal/log.h"

namespace blockwal::wal {

namespace {

constexpr int kBaseDigits = 20;

// "<20 digits>.store.tmp" or "<20 digits>.index.tmp".
bool IsSegmentTempFile(absl::string_view name) {
  if (!absl::ConsumeSuffix(&name, kSegmentTempSuffix)) return false;
  uint64_t base;
  return ParseSegmentFileName(name, kStoreSuffix, &base) ||
         ParseSegmentFileName(name, kIndexSuffix, &base);
}

bool IsIntentTempFile(absl::string_view name) {
  return absl::ConsumeSuffix(&name, kTempFileSuffix) &&
         (name == kPrefixIntentFileName || name == kSuffixIntentFileName ||
          name == kResetIntentFileName);
}

}  // namespace

std::string SegmentFileName(uint64_t base_offset, absl::string_view suffix) {
  return absl::StrFormat("%020u%s", base_offset, suffix);
}

bool ParseSegmentFileName(absl::string_view name, absl::string_view suffix,
                          uint64_t* base_offset) {
  if (name.size() != kBaseDigits + suffix.size() ||
      name.substr(kBaseDigits) != suffix) {
    return false;
  }
  uint64_t v = 0;
  for (int i = 0; i < kBaseDigits; ++i) {
    const char c = name[i];
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (~uint64_t{0} - digit) / 10) return false;  // overflow
    v = v * 10 + digit;
  }
  *base_offset = v;
  return true;
}

std::string StorePath(const std::string& dir, uint64_t base_offset) {
  return JoinPath(dir, SegmentFileName(base_offset, kStoreSuffix));
}

std::string IndexPath(const std::string& dir, uint64_t base_offset) {
  return JoinPath(dir, SegmentFileName(base_offset, kIndexSuffix));
}

LogFileKind ClassifyLogFile(absl::string_view name, uint64_t* base) {
  if (ParseSegmentFileName(name, kStoreSuffix, base)) return LogFileKind::kStore;
  if (ParseSegmentFileName(name, kIndexSuffix, base)) return LogFileKind::kIndex;
  if (name == kPrefixIntentFileName) return LogFileKind::kPrefixIntent;
  if (name == kSuffixIntentFileName) return LogFileKind::kSuffixIntent;
  if (name == kResetIntentFileName) return LogFileKind::kResetIntent;
  if (name == kLastTruncationFileName) return LogFileKind::kLastTruncation;
  if (name == kLockFileName) return LogFileKind::kLock;
  if (IsIntentTempFile(name) || IsSegmentTempFile(name)) {
    return LogFileKind::kVoid;
  }
  return LogFileKind::kStray;
}

bool LogDirListing::HasStore(uint64_t base) const {
  return std::binary_search(stores.begin(), stores.end(), base);
}

std::vector<uint64_t> LogDirListing::OrphanIndexes() const {
  std::vector<uint64_t> out;
  for (uint64_t base : indexes) {
    if (!HasStore(base)) out.push_back(base);
  }
  return out;
}

size_t LogDirListing::SegmentFor(uint64_t offset) const {
  const size_t k =
      std::upper_bound(stores.begin(), stores.end(), offset) - stores.begin();
  return k == 0 ? 0 : k - 1;
}

absl::StatusOr<LogDirListing> ListLogDir(FileSystem* fs,
                                         const std::string& dir) {
  BW_ASSIGN_OR_RETURN(const bool exists, fs->FileExists(dir));
  if (!exists) {
    return absl::NotFoundError(
        absl::StrCat(dir, ": log directory does not exist"));
  }
  BW_ASSIGN_OR_RETURN(std::vector<std::string> children, fs->GetChildren(dir));
  std::sort(children.begin(), children.end());
  LogDirListing listing;
  for (std::string& name : children) {
    uint64_t base = 0;
    switch (ClassifyLogFile(name, &base)) {
      case LogFileKind::kStore:
        listing.stores.push_back(base);
        break;
      case LogFileKind::kIndex:
        listing.indexes.push_back(base);
        break;
      case LogFileKind::kPrefixIntent:
        listing.prefix_intent = true;
        break;
      case LogFileKind::kSuffixIntent:
        listing.suffix_intent = true;
        break;
      case LogFileKind::kResetIntent:
        listing.reset_intent = true;
        break;
      case LogFileKind::kLastTruncation:
        listing.last_truncation = true;
        break;
      case LogFileKind::kLock:
        break;
      case LogFileKind::kVoid:
        listing.void_files.push_back(std::move(name));
        break;
      case LogFileKind::kStray:
        listing.strays.push_back(std::move(name));
        break;
    }
  }
  // Names sort as their base offsets do (fixed width).
  return listing;
}

std::string EncodeTruncationFile(uint64_t value) {
  std::string out;
  PutFixed64(&out, value);
  PutFixed32(&out, crc32c::Mask(crc32c::Value(out)));
  return out;
}

absl::StatusOr<uint64_t> ReadTruncationFile(FileSystem* fs,
                                            const std::string& path) {
  BW_ASSIGN_OR_RETURN(std::string data, ReadFileToString(fs, path));
  if (data.size() != 12 ||
      crc32c::Unmask(DecodeFixed32(data.data() + 8)) !=
          crc32c::Value(data.data(), 8)) {
    return absl::DataLossError(
        absl::StrCat(path, ": truncation intent file is damaged (",
                     data.size(), " bytes)"));
  }
  return DecodeFixed64(data.data());
}

}  // namespace blockwal::wal
