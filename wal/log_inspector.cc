// InspectLog (wal/log_inspector.h): reads every file of a closed log and
// reports each problem it finds, with its kind, file and position, and what
// Log::Open would do about it. Reads only; the reads of single records are
// in log_dir_reads.cc.
#include "blockwal/wal/log_inspector.h"

#include <algorithm>
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
  // For an older segment: the next segment's base, where its offsets end.
  void set_next_base(uint64_t base) { next_base_ = base; }

  // Inspects the segment. `progress_base` is the store bytes of the
  // segments before this one, `progress_total` those of all.
  absl::StatusOr<SegmentInspection> Run(uint64_t* previous_timestamp_us,
                                        uint64_t progress_base,
                                        uint64_t progress_total) {
    previous_timestamp_us_ = previous_timestamp_us;
    progress_base_ = progress_base;
    progress_total_ = progress_total;
    BW_ASSIGN_OR_RETURN(seg_.store_bytes, fs_->GetFileSize(seg_.store_path));
    BW_ASSIGN_OR_RETURN(seg_.has_index, fs_->FileExists(seg_.index_path));
    if (seg_.has_index) {
      BW_ASSIGN_OR_RETURN(index_, ReadFileToString(fs_, seg_.index_path));
    }
    BW_ASSIGN_OR_RETURN(store_, fs_->NewRandomAccessFile(seg_.store_path));
    BW_RETURN_IF_ERROR(DecideLikeOpen());
    BW_RETURN_IF_ERROR(CheckStore());
    CheckIndex();
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

  // What Log::Open would do with the segment as it is: the recovery rules
  // (wal/segment_recovery.h) on the same bytes, in options_.recovery_mode.
  absl::Status DecideLikeOpen() {
    const std::unique_ptr<Index> index =
        Index::FromBytes(fs_, seg_.index_path, index_);
    SegmentScanInput in;
    in.base_offset = seg_.base_offset;
    in.store = store_.get();
    in.store_size = seg_.store_bytes;
    in.index = index.get();
    in.mode = options_.recovery_mode;
    in.last = last_;
    in.complete_below = complete_below_;
    in.next_base = next_base_;
    // Only skip mode's filling of a sealed segment's gap depends on it (up to
    // this many lost offsets are always filled): the default is assumed.
    in.index_capacity = LogOptions().max_index_bytes / kIndexEntrySize;
    if (CleanSealedEnd(in, index_.size()).has_value()) {
      seg_.open_keeps = index->size();
      return absl::OkStatus();
    }
    BW_ASSIGN_OR_RETURN(SegmentFindings findings, ScanSegment(in));
    absl::StatusOr<SegmentPlan> plan =
        DecideRecovery(in, std::move(findings), seg_.store_path);
    if (!plan.ok()) {
      seg_.open_verdict = plan.status();
      return absl::OkStatus();
    }
    seg_.open_keeps = plan->final_count;
    seg_.open_cuts = plan->cut_store && plan->store_size > plan->good_end
                         ? plan->store_size - plan->good_end
                         : 0;
    return absl::OkStatus();
  }

  // What the torn tail and incomplete batch problems say Open does.
  const char* OpenCutsIt() const {
    return seg_.open_verdict.ok() ? "Log::Open cuts it"
                                  : "Log::Open refuses the segment";
  }

  absl::Status CheckStore() {
    BW_ASSIGN_OR_RETURN(std::unique_ptr<SequentialFile> file,
                        fs_->NewSequentialFile(seg_.store_path));
    expected_ = seg_.base_offset;
    BW_RETURN_IF_ERROR(ScanRecords(
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
                              "cut off by a crash; ",
                              OpenCutsIt(), ")"));
    }
    if (batch_run_ > 0) {
      AddProblem(seg_.store_path, batch_position_,
                 ProblemKind::kIncompleteBatch,
                 absl::StrCat("incomplete batch: the last ", batch_run_,
                              batch_run_ == 1 ? " record" : " records",
                              " (from offset ", batch_offset_,
                              ") say more of their batch follows, but nothing "
                              "ends the batch",
                              !last_ ? ""
                              : seg_.open_verdict.ok()
                                  ? " (a crash cut it; Log::Open removes it)"
                                  : " (a crash cut it; Log::Open refuses the "
                                    "segment)"));
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

  void CheckIndex() {
    if (!seg_.has_index) {
      AddProblem(seg_.index_path, 0, ProblemKind::kIndexMissing,
                 "index file is missing (Log::Open rebuilds it from the store)");
      return;
    }
    const std::string& index = index_;
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
  std::unique_ptr<RandomAccessFile> store_;
  std::string index_;  // the index file's bytes
  uint64_t next_base_ = 0;
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
    if (k + 1 < listing.stores.size()) {
      inspector.set_next_base(listing.stores[k + 1]);
    }
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

}  // namespace blockwal::wal
