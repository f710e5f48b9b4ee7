#include "blockwal/wal/log_inspector.h"

#include <algorithm>
#include <limits>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "blockwal/util/coding.h"
#include "blockwal/util/status_macros.h"
#include "blockwal/wal/block_reader.h"
#include "blockwal/wal/format.h"
#include "blockwal/wal/index.h"
#include "blockwal/wal/log.h"
#include "blockwal/wal/log_dir.h"
#include "blockwal/wal/segment.h"
#include "blockwal/wal/segment_recovery.h"

namespace blockwal::wal {

namespace {

// Reads the store at *file from `start` (where a record starts, or 0) and
// calls fn(position, end, payload) for each record until it returns false.
// Damage goes to *reporter. Returns the reader's I/O status.
absl::Status ScanStore(
    SequentialFile* file, uint64_t start, BlockReader::Reporter* reporter,
    absl::FunctionRef<bool(uint64_t, uint64_t, absl::string_view)> fn) {
  BlockReader reader(file, reporter, /*verify_checksums=*/true, start,
                     BlockReader::Start::kAtRecord);
  absl::string_view payload;
  std::string scratch;
  while (reader.ReadRecord(&payload, &scratch)) {
    if (!fn(reader.last_record_offset(), reader.last_record_end(), payload)) {
      break;
    }
  }
  return reader.status();
}

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

// ---- InspectLog ----

// A record the scan decoded, for checking index entries against.
struct SeenRecord {
  uint64_t position;
  uint64_t offset;
  bool in_sequence;  // false: reported as carrying the wrong offset
};

// A stretch of a store already reported as a problem.
struct Interval {
  uint64_t start;
  uint64_t end;
};

class SegmentInspector : public BlockReader::Reporter {
 public:
  SegmentInspector(FileSystem* fs, const std::string& dir, uint64_t base,
                   bool last, const InspectOptions& options,
                   std::vector<LogProblem>* problems)
      : fs_(fs), last_(last), options_(options), problems_(problems) {
    seg_.base_offset = base;
    seg_.store_path = StorePath(dir, base);
    seg_.index_path = IndexPath(dir, base);
    seg_.next_offset = base;
    store_name_ = SegmentFileName(base, kStoreSuffix);
  }

  // Records below `offset` are whole even inside a batch.
  void set_complete_below(std::optional<uint64_t> offset) {
    complete_below_ = offset;
  }

  // Inspects the segment. `progress_base` is the store bytes of the
  // segments before this one, `progress_total` those of all.
  absl::StatusOr<SegmentInspection> Run(uint64_t* previous_timestamp_us,
                                        uint64_t progress_base,
                                        uint64_t progress_total) {
    previous_timestamp_us_ = previous_timestamp_us;
    progress_base_ = progress_base;
    progress_total_ = progress_total;
    BW_ASSIGN_OR_RETURN(seg_.store_bytes, fs_->GetFileSize(seg_.store_path));
    BW_RETURN_IF_ERROR(CheckStore());
    BW_RETURN_IF_ERROR(CheckIndex());
    return std::move(seg_);
  }

  void Damage(uint64_t position, uint64_t bytes, ProblemKind kind,
              absl::string_view reason) override {
    AddProblem(seg_.store_path, position, kind,
               absl::StrCat(reason, " (", bytes, " bytes dropped)"));
    covered_end_ = std::max(covered_end_, position + bytes);
    reported_.push_back({position, position + bytes});
    damage_since_record_ = true;
  }

 private:
  void AddProblem(const std::string& file, uint64_t position,
                  ProblemKind kind, std::string description) {
    problems_->push_back({file, position, kind, std::move(description)});
  }

  void ReportProgress(uint64_t done_in_store, bool force) {
    if (!options_.on_progress) return;
    if (!force && done_in_store / kBlockSize == last_progress_ / kBlockSize) {
      return;
    }
    last_progress_ = done_in_store;
    options_.on_progress(progress_base_ + done_in_store, progress_total_);
  }

  absl::Status CheckStore() {
    BW_ASSIGN_OR_RETURN(std::unique_ptr<SequentialFile> file,
                        fs_->NewSequentialFile(seg_.store_path));
    expected_ = seg_.base_offset;
    BW_RETURN_IF_ERROR(ScanStore(
        file.get(), 0, this,
        [&](uint64_t position, uint64_t end, absl::string_view payload) {
          ReportProgress(end, /*force=*/false);
          CheckRecord(position, end, payload);
          return true;
        }));
    ReportProgress(seg_.store_bytes, /*force=*/true);
    seg_.next_offset = expected_;

    const uint64_t tail = std::max(seg_.valid_end, covered_end_);
    if (tail < seg_.store_bytes) {
      reported_.push_back({tail, seg_.store_bytes});
      AddProblem(seg_.store_path, tail, ProblemKind::kTornTail,
                 absl::StrCat("torn tail: ", seg_.store_bytes - tail,
                              " bytes after the last valid record (a write "
                              "cut off by a crash; Log::Open cuts it)"));
    }
    if (batch_run_ > 0) {
      AddProblem(seg_.store_path, batch_position_,
                 ProblemKind::kIncompleteBatch,
                 absl::StrCat("incomplete batch: the last ", batch_run_,
                              batch_run_ == 1 ? " record" : " records",
                              " (from offset ", batch_offset_,
                              ") say more of their batch follows, but nothing "
                              "ends the batch",
                              last_ ? " (a crash cut it; Log::Open removes it)"
                                    : ""));
    }
    return absl::OkStatus();
  }

  // Checks one record the scan returned at [position, end).
  void CheckRecord(uint64_t position, uint64_t end, absl::string_view payload) {
    absl::StatusOr<Record> r = DecodeRecord(payload);
    if (!r.ok()) {
      AddProblem(seg_.store_path, position, ProblemKind::kBadEnvelope,
                 std::string(r.status().message()));
      covered_end_ = std::max(covered_end_, end);
      reported_.push_back({position, end});
      damage_since_record_ = true;
      return;
    }
    // Offsets skipped right after reported damage were lost in it; any other
    // jump, and any step back, is a problem of its own.
    const bool in_sequence = r->offset == expected_ ||
                             (r->offset > expected_ && damage_since_record_);
    if (!in_sequence) {
      AddProblem(seg_.store_path, position, ProblemKind::kWrongOffset,
                 absl::StrCat("record carries offset ", r->offset,
                              ", expected ", expected_));
    }
    damage_since_record_ = false;
    expected_ = std::max(expected_, r->offset + 1);
    if (r->timestamp_us < *previous_timestamp_us_) {
      AddProblem(seg_.store_path, position, ProblemKind::kTimestampBackwards,
                 absl::StrCat("record ", r->offset, " has timestamp ",
                              r->timestamp_us,
                              ", earlier than the previous record's ",
                              *previous_timestamp_us_));
    }
    *previous_timestamp_us_ = std::max(*previous_timestamp_us_, r->timestamp_us);
    if (seg_.records == 0) {
      seg_.first_offset = r->offset;
      seg_.first_timestamp_us = r->timestamp_us;
    }
    ++seg_.records;
    seg_.last_offset = r->offset;
    seg_.last_timestamp_us = r->timestamp_us;
    seg_.valid_end = end;
    seen_.push_back({position, r->offset, in_sequence});
    if (InIncompleteBatch(r->offset, r->flags, complete_below_)) {
      if (batch_run_ == 0) {
        batch_position_ = position;
        batch_offset_ = r->offset;
      }
      ++batch_run_;
    } else {
      batch_run_ = 0;
    }
    if (options_.on_record) {
      RecordLocation loc;
      loc.base_offset = seg_.base_offset;
      loc.store_name = store_name_;
      loc.store_path = seg_.store_path;
      loc.position = position;
      loc.length = r->value.size();
      options_.on_record(loc, *r);
    }
  }

  enum class EntryCheck {
    kValid,      // a valid record carrying the expected offset
    kExplained,  // a record or region already reported as a store problem
    kInvalid,    // anything else; *why says what
  };

  // Checks an index entry: does the store hold a valid record carrying
  // `offset` at `position`?
  EntryCheck CheckEntry(uint64_t position, uint64_t offset, std::string* why) {
    auto it = std::lower_bound(
        seen_.begin(), seen_.end(), position,
        [](const SeenRecord& r, uint64_t p) { return r.position < p; });
    if (it != seen_.end() && it->position == position) {
      if (it->offset == offset) return EntryCheck::kValid;
      if (!it->in_sequence) return EntryCheck::kExplained;
      *why = absl::StrCat("it points at position ", position,
                          ", the record carrying offset ", it->offset);
      return EntryCheck::kInvalid;
    }
    for (const Interval& d : reported_) {
      if (position >= d.start && position < d.end) {
        return EntryCheck::kExplained;
      }
    }
    // The scan did not return a record there; one may still be intact
    // (dropped with the rest of a block whose damage started before it), so
    // read it directly.
    if (store_ == nullptr) {
      absl::StatusOr<std::unique_ptr<RandomAccessFile>> store =
          fs_->NewRandomAccessFile(seg_.store_path);
      if (!store.ok()) {
        *why = std::string(store.status().message());
        return EntryCheck::kInvalid;
      }
      store_ = std::move(*store);
    }
    std::string scratch;
    absl::StatusOr<absl::string_view> payload =
        ReadRecordAt(*store_, position, &scratch);
    absl::StatusOr<Record> r = absl::DataLossError("not read");
    if (payload.ok()) r = DecodeRecord(*payload);
    if (!r.ok()) {
      *why = absl::StrCat("it points at position ", position,
                          ", where no valid record starts");
      return EntryCheck::kInvalid;
    }
    if (r->offset != offset) {
      *why = absl::StrCat("it points at position ", position,
                          ", the record carrying offset ", r->offset);
      return EntryCheck::kInvalid;
    }
    return EntryCheck::kValid;
  }

  absl::Status CheckIndex() {
    BW_ASSIGN_OR_RETURN(seg_.has_index, fs_->FileExists(seg_.index_path));
    if (!seg_.has_index) {
      AddProblem(seg_.index_path, 0, ProblemKind::kIndexMissing,
                 "index file is missing (Log::Open rebuilds it from the store)");
      return absl::OkStatus();
    }
    BW_ASSIGN_OR_RETURN(const std::string index,
                        ReadFileToString(fs_, seg_.index_path));
    seg_.index_bytes = index.size();
    const uint64_t slots = index.size() / kIndexEntrySize;
    uint64_t i = 0;
    std::string why;
    // Position of the last entry that is consistent with the store.
    std::optional<uint64_t> last_position;
    for (; i < slots; ++i) {
      const IndexEntry entry = DecodeIndexEntry(index.data() + i * kIndexEntrySize);
      if (entry.relative_offset != i) {
        why = absl::StrCat("it holds relative offset ", entry.relative_offset);
        break;
      }
      const uint64_t position = entry.position;
      if (CheckEntry(position, seg_.base_offset + i, &why) ==
          EntryCheck::kInvalid) {
        break;
      }
      last_position = position;
    }
    // The store holds a record the index has no entry for.
    bool behind = false;
    for (auto it = seen_.rbegin(); it != seen_.rend(); ++it) {
      if (it->in_sequence) {
        behind = !last_position.has_value() || it->position > *last_position;
        break;
      }
    }
    seg_.index_entries = i;
    seg_.index_sealed = index.size() == i * kIndexEntrySize;

    // After the valid entries, only zeros may follow: the unused part of an
    // index that was not sealed.
    const size_t rest = i * kIndexEntrySize;
    const bool rest_zero =
        std::all_of(index.begin() + rest, index.end(),
                    [](char c) { return c == '\0'; });
    if (!rest_zero && i == slots) {
      AddProblem(seg_.index_path, rest, ProblemKind::kIndexPartialEntry,
                 absl::StrCat("index ends in a partial entry of ",
                              index.size() - rest, " bytes"));
    } else if (!rest_zero) {
      AddProblem(seg_.index_path, rest, ProblemKind::kIndexMismatch,
                 absl::StrCat("index entry ", i, " does not match the store: ",
                              why, "; expected relative offset ", i,
                              " and the position of offset ",
                              seg_.base_offset + i,
                              " (Log::Open rebuilds the index from here)"));
    } else if (behind) {
      AddProblem(seg_.index_path, rest, ProblemKind::kIndexBehind,
                 absl::StrCat("index has ", i, " entries but the store holds ",
                              seg_.records,
                              " records (Log::Open adds the missing entries)"));
    } else if (!seg_.index_sealed && !last_) {
      AddProblem(seg_.index_path, rest, ProblemKind::kIndexNotSealed,
                 absl::StrCat("index is not sealed: ", index.size(),
                              " bytes for ", i, " entries, but only the "
                              "newest segment may be unsealed"));
    }
    return absl::OkStatus();
  }

  FileSystem* const fs_;
  const bool last_;
  const InspectOptions& options_;
  std::vector<LogProblem>* const problems_;
  SegmentInspection seg_;
  std::string store_name_;
  std::vector<SeenRecord> seen_;  // positions ascending
  // Regions and records already reported as store problems: index entries
  // pointing into them are not reported again.
  std::vector<Interval> reported_;
  std::unique_ptr<RandomAccessFile> store_;  // opened when needed
  // End of the furthest damage reported (bytes accounted for).
  uint64_t covered_end_ = 0;
  // Damage was reported after the last record that decoded.
  bool damage_since_record_ = false;
  uint64_t expected_ = 0;  // the offset the next record should carry
  // The trailing run of records that say more of their batch follows.
  uint64_t batch_run_ = 0;
  uint64_t batch_position_ = 0;
  uint64_t batch_offset_ = 0;
  uint64_t* previous_timestamp_us_ = nullptr;
  uint64_t progress_base_ = 0;
  uint64_t progress_total_ = 0;
  uint64_t last_progress_ = 0;
  std::optional<uint64_t> complete_below_;
};

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

uint64_t LogInspection::first_offset() const {
  for (const SegmentInspection& s : segments) {
    if (s.records > 0) return s.first_offset;
  }
  return 0;
}

uint64_t LogInspection::last_offset() const {
  for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
    if (it->records > 0) return it->last_offset;
  }
  return 0;
}

uint64_t LogInspection::last_timestamp_us() const {
  for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
    if (it->records > 0) return it->last_timestamp_us;
  }
  return 0;
}

namespace {

// Reports the intents of interrupted truncations and Resets and damaged
// truncation files; returns where a suffix truncation ended the log (the one
// in progress, if any).
absl::StatusOr<std::optional<uint64_t>> InspectTruncationFiles(
    FileSystem* fs, const std::string& dir, const LogDirListing& listing,
    std::vector<LogProblem>* problems) {
  for (const auto& [exists, name] :
       {std::pair{listing.prefix_intent, kPrefixIntentFileName},
        std::pair{listing.suffix_intent, kSuffixIntentFileName}}) {
    if (!exists) continue;
    problems->push_back(
        {JoinPath(dir, name), 0, ProblemKind::kInterruptedTruncation,
         "a truncation was interrupted by a crash; the next Log::Open "
         "finishes it"});
  }
  if (listing.reset_intent) {
    // With the offset Open continues the log at; the segments are still
    // inspected as they are on disk.
    const std::string path = JoinPath(dir, kResetIntentFileName);
    absl::StatusOr<uint64_t> next = ReadTruncationFile(fs, path);
    problems->push_back(
        {path, 0, ProblemKind::kInterruptedTruncation,
         absl::StrCat("a reset was interrupted by a crash; the next Log::Open "
                      "finishes it: it drops every record",
                      next.ok() ? absl::StrCat(" and the log continues at "
                                               "offset ", *next)
                                : "")});
    if (!next.ok()) {
      problems->push_back({path, 0, ProblemKind::kBadTruncationFile,
                           std::string(next.status().message())});
    }
  }

  std::optional<uint64_t> complete_below;
  for (const char* name : {kLastTruncationFileName, kSuffixIntentFileName}) {
    const std::string path = JoinPath(dir, name);
    BW_ASSIGN_OR_RETURN(const bool exists, fs->FileExists(path));
    if (!exists) continue;
    absl::StatusOr<uint64_t> v = ReadTruncationFile(fs, path);
    if (v.ok()) {
      complete_below = *v;
    } else {
      problems->push_back({path, 0, ProblemKind::kBadTruncationFile,
                           std::string(v.status().message())});
    }
  }
  return complete_below;
}

}  // namespace

absl::StatusOr<LogInspection> InspectLog(FileSystem* fs, const std::string& dir,
                                         const InspectOptions& options) {
  BW_ASSIGN_OR_RETURN(LogDirListing listing, ListLogDir(fs, dir));
  LogInspection result;
  result.dir = dir;
  result.stray_files = std::move(listing.strays);
  result.void_files = std::move(listing.void_files);

  for (uint64_t base : listing.OrphanIndexes()) {
    result.problems.push_back({IndexPath(dir, base), 0,
                               ProblemKind::kOrphanIndex,
                               "index without a store (Log::Open removes it)"});
  }
  BW_ASSIGN_OR_RETURN(
      const std::optional<uint64_t> complete_below,
      InspectTruncationFiles(fs, dir, listing, &result.problems));

  uint64_t total = 0;
  for (uint64_t base : listing.stores) {
    BW_ASSIGN_OR_RETURN(const uint64_t size,
                        fs->GetFileSize(StorePath(dir, base)));
    total += size;
  }
  uint64_t done = 0;
  uint64_t previous_timestamp_us = 0;
  for (size_t k = 0; k < listing.stores.size(); ++k) {
    const uint64_t base = listing.stores[k];
    if (!result.segments.empty()) {
      const SegmentInspection& prev = result.segments.back();
      if (prev.next_offset != base) {
        result.problems.push_back(
            {StorePath(dir, base), 0,
             prev.next_offset < base ? ProblemKind::kOffsetGap
                                     : ProblemKind::kOffsetOverlap,
             prev.next_offset < base
                 ? absl::StrCat("offsets ", prev.next_offset, " to ", base - 1,
                                " are missing: the previous segment ends "
                                "before offset ",
                                prev.next_offset)
                 : absl::StrCat("segment starts at offset ", base,
                                " but the previous segment holds offsets up "
                                "to ",
                                prev.next_offset - 1)});
      }
    }
    SegmentInspector inspector(fs, dir, base, k + 1 == listing.stores.size(),
                               options, &result.problems);
    inspector.set_complete_below(complete_below);
    BW_ASSIGN_OR_RETURN(SegmentInspection seg,
                        inspector.Run(&previous_timestamp_us, done, total));
    done += seg.store_bytes;
    result.records += seg.records;
    result.store_bytes += seg.store_bytes;
    result.index_bytes += seg.index_bytes;
    result.segments.push_back(std::move(seg));
  }
  return result;
}

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
    BW_RETURN_IF_ERROR(ScanStore(
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
