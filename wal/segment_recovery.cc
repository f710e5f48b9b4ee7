// One segment's recovery rules: the scan and the decision
// (wal/segment_recovery.h).
#include "blockwal/wal/segment_recovery.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "blockwal/util/status_macros.h"
#include "blockwal/wal/block_reader.h"
#include "blockwal/wal/record.h"

namespace blockwal::wal {

namespace {

// Where the damage since the last accepted record begins: none.
constexpr uint64_t kNoDamage = ~uint64_t{0};

// Reads a RandomAccessFile from the front, for a BlockReader.
class SequentialView : public SequentialFile {
 public:
  explicit SequentialView(const RandomAccessFile& file) : file_(file) {}
  absl::StatusOr<absl::string_view> Read(size_t n, char* scratch) override {
    BW_ASSIGN_OR_RETURN(absl::string_view got,
                        file_.Read(position_, n, scratch));
    position_ += got.size();
    return got;
  }
  absl::Status Skip(uint64_t n) override {
    position_ += n;
    return absl::OkStatus();
  }
  const std::string& path() const override { return file_.path(); }

 private:
  const RandomAccessFile& file_;
  uint64_t position_ = 0;
};

// Runs the scan's steps over one segment, filling in its findings.
class SegmentScanner {
 public:
  explicit SegmentScanner(const SegmentScanInput& in)
      : in_(in), index_(*in.index) {}

  absl::StatusOr<SegmentFindings> Run() {
    TrustIndex();
    BW_RETURN_IF_ERROR(ScanStore());
    if (!in_.last && in_.mode == RecoveryMode::kSkipAnyCorruptedRecords &&
        expected_ < in_.next_base) {
      FillSealedGap();
    }
    if (in_.last) CutIncompleteBatch();
    f_.damage = std::move(damage_.regions);
    return std::move(f_);
  }

 private:
  std::optional<VerifiedRecord> EntryVerifies(uint64_t i) const {
    return VerifyIndexEntry(*in_.store, index_, in_.base_offset, i);
  }

  // 1. Which index entries to take as they are.
  void TrustIndex() {
    f_.index_entries = index_.size();
    if (in_.trust_index) {
      f_.trusted = index_.size();
      f_.good_end = in_.store_size;
    } else {
      const TrustedPrefix prefix =
          FindTrustedPrefix(*in_.store, index_, in_.base_offset, in_.mode);
      f_.trusted = prefix.entries;
      f_.good_end = prefix.end;
      // The newest timestamp is the floor for later appends; a damaged last
      // record must not lower it.
      f_.max_timestamp_us = prefix.timestamp_us;
    }
    expected_ = in_.base_offset + f_.trusted;
  }

  // 2. Reads the store from the end of the trusted records: the records the
  //    index lacks and where the valid data ends.
  absl::Status ScanStore() {
    const uint64_t scan_from = f_.good_end;
    if (scan_from >= in_.store_size) return absl::OkStatus();
    SequentialView file(*in_.store);
    const absl::Status read = ScanRecords(
        &file, scan_from, &damage_,
        [&](uint64_t position, uint64_t end, absl::string_view payload) {
          ++f_.records_scanned;
          Judge(position, end, DecodeRecord(payload));
          return true;
        });
    if (!damage_.regions.empty()) f_.damaged = true;
    f_.bytes_scanned += in_.store_size - scan_from;
    return read;
  }

  // Notes damage the reader reported since the last record.
  void TakeReaderReports() {
    if (damage_.regions.size() == regions_seen_) return;
    if (damage_start_ == kNoDamage) {
      damage_start_ = damage_.regions[regions_seen_].position;
    }
    regions_seen_ = damage_.regions.size();
    f_.damaged = true;
  }

  void AddDamage(uint64_t position, uint64_t bytes, ProblemKind kind,
                 std::string reason) {
    damage_.regions.push_back({"", position, bytes, std::move(reason), kind});
    regions_seen_ = damage_.regions.size();
    f_.damaged = true;
  }

  void Accept(uint64_t position, uint64_t end, uint8_t flags) {
    f_.positions.push_back(position);
    f_.flags.push_back(flags);
    ++expected_;
    f_.good_end = end;
  }

  // What a record the scan returned at [position, end) means.
  void Judge(uint64_t position, uint64_t end, absl::StatusOr<Record> r) {
    TakeReaderReports();
    if (r.ok() && !in_.last && r->offset >= in_.next_base) {
      // Not a record of this sealed segment: its offsets end where the next
      // segment's begin (a stale record, or damage that decodes).
      AddDamage(position, end - position, ProblemKind::kWrongOffset,
                absl::StrCat("record carries offset ", r->offset,
                             ", but the next segment starts at offset ",
                             in_.next_base));
      if (damage_start_ == kNoDamage) damage_start_ = position;
      return;
    }
    if (r.ok()) {
      f_.max_timestamp_us = std::max(f_.max_timestamp_us, r->timestamp_us);
    }
    if (r.ok() && r->offset == expected_ && !f_.damaged) {
      Accept(position, end, r->flags);
      return;
    }
    if (r.ok() && r->offset > expected_ && !f_.damaged) {
      // Records are missing and the reader reported nothing: it skipped
      // zeros it took for preallocated space. They are the damage; this
      // record is judged below like any other found after damage.
      AddDamage(f_.good_end, position - f_.good_end,
                ProblemKind::kMissingRecords,
                absl::StrCat("records ", expected_, " to ", r->offset - 1,
                             " missing (zeroed)"));
      damage_start_ = f_.good_end;
    }
    if (!r.ok() || r->offset < expected_ || !f_.damaged ||
        (r->offset > expected_ &&
         (damage_start_ == kNoDamage ||
          r->offset - expected_ > position - damage_start_))) {
      // Not a record of this log at this place (a bad envelope, a stale or
      // impossible offset): damage too.
      AddDamage(position, end - position,
                r.ok() ? ProblemKind::kWrongOffset : ProblemKind::kBadEnvelope,
                r.ok() ? absl::StrCat("record carries offset ", r->offset,
                                      ", expected ", expected_)
                       : std::string(r.status().message()));
      if (damage_start_ == kNoDamage) damage_start_ = position;
      return;
    }
    // A valid record after damage.
    f_.valid_after_damage = true;
    if (r->flags & kSyncMarker) f_.synced_after_damage = true;
    if (in_.mode == RecoveryMode::kSkipAnyCorruptedRecords) {
      FillSkipped(r->offset, damage_start_);
      Accept(position, end, r->flags);
      damage_start_ = kNoDamage;
    }
  }

  // kSkipAnyCorruptedRecords keeps lost offsets taken: they point into the
  // damaged region (reads there fail with kDataLoss) at distinct, increasing
  // positions.
  // (A position at the top of the range leaves no room: the offsets stay
  // unfilled, and the chain check of Log::Recover refuses the gap.)
  void FillSkipped(uint64_t up_to_offset, uint64_t from_position) {
    constexpr uint64_t kTop = ~uint64_t{0};
    uint64_t filler = from_position;
    if (!f_.positions.empty() || f_.trusted > 0) {
      const uint64_t prev = !f_.positions.empty()
                                ? f_.positions.back()
                                : index_.Position(f_.trusted - 1);
      if (prev == kTop) return;
      filler = std::max(filler, prev + 1);
    }
    while (expected_ < up_to_offset && filler != kTop) {
      f_.positions.push_back(filler++);
      f_.flags.push_back(0);
      ++expected_;
      ++f_.skipped;
    }
  }

  // The damaged end of a sealed segment in skip mode: its lost offsets run
  // up to the next segment's base, and the store keeps its bytes (sealed
  // data is never cut). The lost offsets must be backed by what is on disk:
  // the segment's own index entries (a store cut short keeps its index), or
  // a byte each of the damaged end, as in the scan. A gap neither can hold is
  // missing segments, not damaged records: it is left to the chain check of
  // Log::Recover (kDataLoss). Filling it would take memory and index space
  // without bound. (A segment never holds more records than an index of the
  // configured size, so up to that many are always accepted: a store cut
  // short whose index was removed too still keeps its lost offsets taken.)
  void FillSealedGap() {
    const uint64_t from =
        damage_start_ != kNoDamage ? damage_start_ : f_.good_end;
    const uint64_t damaged_bytes =
        in_.store_size > from ? in_.store_size - from : 0;
    if (in_.next_base - in_.base_offset <=
        std::max({f_.index_entries,
                  expected_ - in_.base_offset + damaged_bytes,
                  in_.index_capacity})) {
      FillSkipped(in_.next_base, from);
    }
  }

  // 3. A batch cut off by the crash (its last records all say more follow)
  //    is removed whole, so batches stay all-or-nothing. Batches never span
  //    segments and sealed segments hold whole batches.
  void CutIncompleteBatch() {
    // Dropping a damaged record the cut exposed may expose the rest of an
    // earlier batch: the log must not end inside one either.
    while (CutTrailingBatch() &&
           in_.mode != RecoveryMode::kSkipAnyCorruptedRecords &&
           DropUnverifiedEnd()) {
    }
  }

  // Removes the trailing records that say more of their batch follows;
  // whether there were any.
  bool CutTrailingBatch() {
    const uint64_t count = f_.count();
    uint64_t cut_to = count;
    while (cut_to > 0) {
      const uint64_t i = cut_to - 1;
      uint8_t flags = 0;
      if (i >= f_.trusted) {
        flags = f_.flags[i - f_.trusted];
      } else if (std::optional<VerifiedRecord> v = EntryVerifies(i)) {
        flags = v->flags;
      } else {
        break;
      }
      if (!InIncompleteBatch(in_.base_offset + i, flags, in_.complete_below)) {
        break;
      }
      --cut_to;
    }
    if (cut_to == count) return false;
    f_.batch_records_cut += count - cut_to;
    f_.batch_cut_offset = in_.base_offset + cut_to;
    // Cut where the last kept record ends: a zero trailer may lie between
    // it and the first removed one.
    f_.good_end = f_.PositionOf(index_, cut_to);
    if (cut_to > 0) {
      std::string scratch;
      uint64_t end = 0;
      if (ReadRecordAt(*in_.store, f_.PositionOf(index_, cut_to - 1), &scratch,
                       &end)
              .ok()) {
        f_.good_end = end;
      }
    }
    Shorten(cut_to);
    return true;
  }

  // Keeps the first `count` records.
  void Shorten(uint64_t count) {
    if (count < f_.trusted) {
      f_.trusted = count;
      f_.positions.clear();
      f_.flags.clear();
    } else {
      f_.positions.resize(count - f_.trusted);
      f_.flags.resize(count - f_.trusted);
    }
  }

  // What the cut leaves last must verify, as the last record of every
  // segment does (a sealed segment's cheap check reads it). A record that
  // does not was inside the trusted prefix, where damage is not looked for;
  // at the end now, it is a damaged tail and is cut as one (skip mode keeps
  // its offset taken, reading kDataLoss). Whether it dropped any.
  bool DropUnverifiedEnd() {
    bool dropped = false;
    while (f_.count() > 0 && f_.count() - 1 < f_.trusted) {
      const uint64_t i = f_.count() - 1;
      if (std::optional<VerifiedRecord> v = EntryVerifies(i)) {
        // Where this record ends, whatever the dropped one's entry said
        // (an entry inside this record would otherwise cut it).
        f_.good_end = v->end;
        break;
      }
      const uint64_t position = index_.Position(i);
      AddDamage(position, f_.good_end - position,
                ProblemKind::kDamagedBeforeCut,
                "damaged record before a cut-off batch");
      f_.good_end = position;
      f_.trusted = i;
      dropped = true;
    }
    return dropped;
  }

  const SegmentScanInput& in_;
  const Index& index_;
  SegmentFindings f_;
  DamageCollector damage_;
  size_t regions_seen_ = 0;
  uint64_t expected_ = 0;  // the offset the next record should carry
  uint64_t damage_start_ = kNoDamage;
};

}  // namespace

std::optional<VerifiedRecord> VerifyRecordAt(const RandomAccessFile& store,
                                             uint64_t position,
                                             uint64_t offset) {
  std::string scratch;
  VerifiedRecord v;
  absl::StatusOr<absl::string_view> payload =
      ProbeRecordAt(store, position, &scratch, &v.end);
  if (!payload.ok()) return std::nullopt;
  absl::StatusOr<Record> r = DecodeRecord(*payload);
  if (!r.ok() || r->offset != offset) return std::nullopt;
  v.timestamp_us = r->timestamp_us;
  v.flags = r->flags;
  return v;
}

std::optional<VerifiedRecord> VerifyIndexEntry(const RandomAccessFile& store,
                                               const Index& index,
                                               uint64_t base_offset,
                                               uint64_t i) {
  return VerifyRecordAt(store, index.Position(i), base_offset + i);
}

std::optional<VerifiedRecord> CleanSealedEnd(const SegmentScanInput& in,
                                             uint64_t index_file_size) {
  const uint64_t n = in.index->size();
  if (in.last || in.mode == RecoveryMode::kAbsoluteConsistency || n == 0 ||
      index_file_size != n * kIndexEntrySize) {
    return std::nullopt;
  }
  std::optional<VerifiedRecord> v =
      VerifyIndexEntry(*in.store, *in.index, in.base_offset, n - 1);
  if (!v.has_value() || v->end != in.store_size) return std::nullopt;
  return v;
}

TrustedPrefix FindTrustedPrefix(const RandomAccessFile& store,
                                const Index& index, uint64_t base_offset,
                                RecoveryMode mode) {
  const uint64_t n = index.size();
  if (mode == RecoveryMode::kAbsoluteConsistency || n == 0) return {};
  auto verifies = [&](uint64_t i) {
    return VerifyIndexEntry(store, index, base_offset, i);
  };
  if (std::optional<VerifiedRecord> v = verifies(n - 1)) {
    return {n, v->end, v->timestamp_us};
  }
  uint64_t lo = 0, hi = n - 1;  // the count of trusted entries is in [lo, hi]
  if (mode == RecoveryMode::kSkipAnyCorruptedRecords) {
    // Skip mode gives lost offsets filler entries, which never verify and
    // may sit before records an earlier open trusted: the binary search
    // below, which takes entries to verify up to a point and not after,
    // could then trust less than that open did, losing records it returned.
    // Search down from the end instead (the fillers are at most one per
    // store byte).
    lo = hi;
    while (lo > 0 && !verifies(lo - 1)) --lo;
  }
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    if (verifies(mid)) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == 0) return {};
  if (std::optional<VerifiedRecord> v = verifies(lo - 1)) {
    return {lo, v->end, v->timestamp_us};
  }
  return {};
}

bool InIncompleteBatch(uint64_t offset, uint8_t flags,
                       std::optional<uint64_t> complete_below) {
  if (!(flags & kBatchContinues)) return false;
  return !complete_below.has_value() || offset >= *complete_below;
}

absl::StatusOr<SegmentFindings> ScanSegment(const SegmentScanInput& in) {
  return SegmentScanner(in).Run();
}

namespace {

// kDataLoss for a segment the mode refuses: the first damage, or else what
// is missing at the end, and why the mode refuses it.
absl::Status Refuse(const SegmentScanInput& in, const SegmentFindings& f,
                    const std::string& store_path, bool short_sealed,
                    absl::string_view why) {
  std::string what;
  if (!f.damage.empty()) {
    const DamagedRegion& first = f.damage.front();
    what = absl::StrCat(first.reason, " at position ", first.position, " (",
                        first.bytes, " bytes)");
  } else if (f.good_end == in.store_size && short_sealed) {
    what = absl::StrCat("the store ends at position ", f.good_end, " after ",
                        f.count(),
                        " records, but the next segment starts at offset ",
                        in.next_base);
  } else {
    what = absl::StrCat("incomplete record at position ", f.good_end, " (",
                        in.store_size - f.good_end, " bytes before the end)");
  }
  return absl::DataLossError(absl::StrCat(store_path, ": ", what, "; ", why,
                                          " (recovery mode ",
                                          RecoveryModeName(in.mode), ")"));
}

}  // namespace

absl::StatusOr<SegmentPlan> DecideRecovery(const SegmentScanInput& in,
                                           SegmentFindings f,
                                           const std::string& store_path) {
  // A sealed segment holds every offset up to the next segment's base (skip
  // mode keeps the missing ones taken).
  const bool short_sealed =
      !in.last && in.base_offset + f.count() < in.next_base;
  const bool tail_bad = f.good_end < in.store_size;
  if (f.damaged || tail_bad || f.batch_records_cut > 0 || short_sealed) {
    auto refuse = [&](absl::string_view why) {
      return Refuse(in, f, store_path, short_sealed, why);
    };
    switch (in.mode) {
      case RecoveryMode::kAbsoluteConsistency:
        return refuse("any damage fails this mode");
      case RecoveryMode::kTolerateCorruptedTailRecords:
        if (!in.last) return refuse("a sealed segment holds only synced data");
        if (f.valid_after_damage) {
          return refuse("valid records follow the damage");
        }
        break;
      case RecoveryMode::kPointInTime:
        if (!in.last) return refuse("a sealed segment holds only synced data");
        if (f.synced_after_damage) {
          return refuse("records synced before the crash follow the damage");
        }
        break;
      case RecoveryMode::kSkipAnyCorruptedRecords:
        break;
    }
  }
  SegmentPlan plan;
  plan.last = in.last;
  plan.n = f.index_entries;
  plan.trusted = f.trusted;
  plan.final_count = f.count();
  plan.positions = std::move(f.positions);
  plan.good_end = f.good_end;
  plan.store_size = in.store_size;
  plan.cut_store = in.last && f.good_end < in.store_size;
  plan.max_ts = f.max_timestamp_us;
  plan.skipped = f.skipped;
  plan.batches_cut = f.batch_records_cut > 0 ? 1 : 0;
  plan.damage = std::move(f.damage);
  for (DamagedRegion& d : plan.damage) d.file = store_path;
  return plan;
}

}  // namespace blockwal::wal
