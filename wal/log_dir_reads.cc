// The reads of a closed log that need no Log::Open (wal/log_inspector.h):
// FindOffsetRange, ForEachRecord and ReadRecordValue. They write nothing and
// take no lock, so they work beside a writer, on a log Open would refuse,
// and on a backup.
#include <limits>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "blockwal/util/status_macros.h"
#include "blockwal/wal/block_reader.h"
#include "blockwal/wal/index.h"
#include "blockwal/wal/log_dir.h"
#include "blockwal/wal/log_inspector.h"
#include "blockwal/wal/record.h"
#include "blockwal/wal/segment_recovery.h"

namespace blockwal::wal {

namespace {

// Where index entry `rel` of a segment points, when the entry describes the
// record carrying base + rel; nullopt when it does not (or cannot be read:
// the callers then scan the store instead, so an unreadable index only
// costs time).
std::optional<uint64_t> IndexedPosition(FileSystem* fs, const std::string& dir,
                                        uint64_t base, uint64_t rel,
                                        const RandomAccessFile& store,
                                        uint64_t* end) {
  // Relative offsets are 32 bits wide; a larger one has no entry.
  if (rel > std::numeric_limits<uint32_t>::max()) return std::nullopt;
  // A missing index fails to open like an unreadable one.
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> index =
      fs->NewRandomAccessFile(IndexPath(dir, base));
  if (!index.ok()) return std::nullopt;
  char buf[kIndexEntrySize];
  absl::StatusOr<absl::string_view> bytes =
      (*index)->Read(rel * kIndexEntrySize, kIndexEntrySize, buf);
  if (!bytes.ok() || bytes->size() != kIndexEntrySize) return std::nullopt;
  const IndexEntry entry = DecodeIndexEntry(bytes->data());
  if (entry.relative_offset != rel) return std::nullopt;
  std::optional<VerifiedRecord> v =
      VerifyRecordAt(store, entry.position, base + rel);
  if (!v.has_value()) return std::nullopt;
  *end = v->end;
  return entry.position;
}

// Remembers the first damage a BlockReader reports.
class FirstDamage : public BlockReader::Reporter {
 public:
  void Corruption(uint64_t position, uint64_t bytes,
                  absl::string_view reason) override {
    Note(position, reason);
  }
  void Note(uint64_t position, absl::string_view reason) {
    if (!status_.ok()) return;
    status_ = absl::DataLossError(
        absl::StrCat(path_, ": ", reason, " at position ", position,
                     " (damaged records were skipped)"));
  }
  void set_path(const std::string& path) { path_ = path; }
  const absl::Status& status() const { return status_; }

 private:
  std::string path_;
  absl::Status status_;
};

}  // namespace

absl::StatusOr<OffsetRange> FindOffsetRange(FileSystem* fs,
                                            const std::string& dir) {
  BW_ASSIGN_OR_RETURN(LogDirListing listing, ListLogDir(fs, dir));
  if (listing.stores.empty()) return OffsetRange{};
  const uint64_t base = listing.stores.back();
  // The records Log::Open would keep, before it cuts an incomplete batch.
  BW_ASSIGN_OR_RETURN(std::unique_ptr<RandomAccessFile> store,
                      fs->NewRandomAccessFile(StorePath(dir, base)));
  BW_ASSIGN_OR_RETURN(std::unique_ptr<Index> index,
                      Index::Load(fs, IndexPath(dir, base)));
  SegmentScanInput in;
  in.base_offset = base;
  in.store = store.get();
  BW_ASSIGN_OR_RETURN(in.store_size, store->Size());
  in.index = index.get();
  // Scanned as an older segment with nothing after it: an incomplete batch
  // at the end still counts.
  in.next_base = ~uint64_t{0};
  BW_ASSIGN_OR_RETURN(const SegmentFindings findings, ScanSegment(in));
  return OffsetRange{listing.stores.front(), base + findings.count()};
}

absl::Status ForEachRecord(
    FileSystem* fs, const std::string& dir, uint64_t from_offset,
    absl::FunctionRef<bool(const RecordLocation&, const Record&)> visitor) {
  BW_ASSIGN_OR_RETURN(LogDirListing listing, ListLogDir(fs, dir));
  if (listing.stores.empty()) return absl::OkStatus();
  FirstDamage damage;
  bool stopped = false;
  for (size_t k = listing.SegmentFor(from_offset);
       k < listing.stores.size() && !stopped; ++k) {
    const uint64_t base = listing.stores[k];
    const std::string store_path = StorePath(dir, base);
    const std::string store_name = SegmentFileName(base, kStoreSuffix);
    uint64_t start = 0;
    if (from_offset > base) {
      BW_ASSIGN_OR_RETURN(std::unique_ptr<RandomAccessFile> store,
                          fs->NewRandomAccessFile(store_path));
      uint64_t end;
      start = IndexedPosition(fs, dir, base, from_offset - base, *store, &end)
                  .value_or(0);
    }
    BW_ASSIGN_OR_RETURN(std::unique_ptr<SequentialFile> file,
                        fs->NewSequentialFile(store_path));
    damage.set_path(store_path);
    BW_RETURN_IF_ERROR(ScanRecords(
        file.get(), start, &damage,
        [&](uint64_t position, uint64_t, absl::string_view payload) {
          absl::StatusOr<Record> r = DecodeRecord(payload);
          if (!r.ok()) {
            damage.Note(position, r.status().message());
            return true;
          }
          if (r->offset < from_offset) return true;
          RecordLocation loc;
          loc.base_offset = base;
          loc.store_name = store_name;
          loc.store_path = store_path;
          loc.position = position;
          loc.length = r->value.size();
          if (!visitor(loc, *r)) stopped = true;
          return !stopped;
        }));
  }
  return damage.status();
}

absl::StatusOr<std::string> ReadRecordValue(FileSystem* fs,
                                            const std::string& dir,
                                            uint64_t offset) {
  BW_ASSIGN_OR_RETURN(LogDirListing listing, ListLogDir(fs, dir));
  if (!listing.stores.empty() && offset >= listing.stores.front()) {
    const uint64_t base = listing.stores[listing.SegmentFor(offset)];
    BW_ASSIGN_OR_RETURN(std::unique_ptr<RandomAccessFile> store,
                        fs->NewRandomAccessFile(StorePath(dir, base)));
    uint64_t end;
    if (std::optional<uint64_t> position =
            IndexedPosition(fs, dir, base, offset - base, *store, &end)) {
      std::string scratch;
      BW_ASSIGN_OR_RETURN(absl::string_view payload,
                          ReadRecordAt(*store, *position, &scratch));
      BW_ASSIGN_OR_RETURN(Record r, DecodeRecord(payload));
      return std::string(r.value);
    }
  }

  // No usable index entry: scan for the record.
  std::optional<std::string> value;
  absl::Status scan = ForEachRecord(
      fs, dir, offset, [&](const RecordLocation&, const Record& r) {
        if (r.offset == offset) value = std::string(r.value);
        return false;  // the first record at or after `offset` decides
      });
  if (value.has_value()) return *std::move(value);
  if (!scan.ok() && scan.code() != absl::StatusCode::kDataLoss) return scan;

  BW_ASSIGN_OR_RETURN(const OffsetRange range, FindOffsetRange(fs, dir));
  if (range.empty()) {
    return absl::OutOfRangeError(absl::StrCat(
        dir, ": offset ", offset, " is not in the log, which is empty"));
  }
  if (offset < range.first || offset >= range.next) {
    return absl::OutOfRangeError(
        absl::StrCat(dir, ": offset ", offset, " is outside the log's range [",
                     range.first, ", ", range.next, ")"));
  }
  return absl::DataLossError(absl::StrCat(
      dir, ": the record at offset ", offset, " is damaged or missing",
      scan.ok() ? "" : absl::StrCat(" (", scan.message(), ")")));
}

}  // namespace blockwal::wal
