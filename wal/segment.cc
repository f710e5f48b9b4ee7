#include "blockwal/wal/segment.h"

#include <algorithm>
#include <cassert>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "blockwal/util/status_macros.h"
#include "blockwal/wal/block_reader.h"
#include "blockwal/wal/segment_recovery.h"

namespace blockwal::wal {

Segment::Segment(const std::string& dir, uint64_t base_offset,
                 const LogOptions& options)
    : base_offset_(base_offset),
      options_(options),
      store_path_(StorePath(dir, base_offset)),
      index_path_(IndexPath(dir, base_offset)) {}

Segment::~Segment() = default;

absl::StatusOr<std::unique_ptr<Segment>> Segment::Create(
    const std::string& dir, uint64_t base_offset, const LogOptions& options) {
  std::unique_ptr<Segment> seg(new Segment(dir, base_offset, options));
  FileSystem* fs = options.fs;
  BW_ASSIGN_OR_RETURN(const bool store_exists,
                      fs->FileExists(seg->store_path_));
  BW_ASSIGN_OR_RETURN(const bool index_exists,
                      fs->FileExists(seg->index_path_));
  if (store_exists || index_exists) {
    return absl::AlreadyExistsError(
        absl::StrCat(seg->store_path_, ": segment already exists"));
  }
  BW_ASSIGN_OR_RETURN(seg->index_,
                      Index::Open(fs, seg->index_path_, options.max_index_bytes));
  {
    absl::MutexLock lock(&seg->write_mu_);
    BW_ASSIGN_OR_RETURN(seg->store_, fs->NewWritableFile(seg->store_path_));
    seg->writer_ = std::make_unique<BlockWriter>(seg->store_.get(), 0);
  }
  BW_ASSIGN_OR_RETURN(seg->reader_, fs->NewRandomAccessFile(seg->store_path_));
  BW_RETURN_IF_ERROR(seg->OpenActiveReader());
  return seg;
}

std::unique_ptr<Segment> Segment::CreateEmpty(const std::string& dir,
                                               uint64_t base_offset,
                                               const LogOptions& options) {
  std::unique_ptr<Segment> seg(new Segment(dir, base_offset, options));
  seg->index_ = Index::InMemory(options.fs, seg->index_path_);
  seg->sealed_ = true;
  return seg;
}

absl::StatusOr<std::unique_ptr<Segment>> Segment::Open(
    const std::string& dir, uint64_t base_offset, const OpenContext& ctx,
    const LogOptions& options, RecoveryReport* report) {
  BW_ASSIGN_OR_RETURN(std::unique_ptr<Segment> seg,
                      PlanOpen(dir, base_offset, ctx, options, report));
  BW_RETURN_IF_ERROR(seg->ApplyPlan(report));
  return seg;
}

absl::StatusOr<std::unique_ptr<Segment>> Segment::PlanOpen(
    const std::string& dir, uint64_t base_offset, const OpenContext& ctx,
    const LogOptions& options, RecoveryReport* report) {
  std::unique_ptr<Segment> seg(new Segment(dir, base_offset, options));
  BW_RETURN_IF_ERROR(seg->PlanRecovery(ctx, report));
  return seg;
}

std::optional<VerifiedRecord> Segment::VerifyEntry(uint64_t i) const {
  return VerifyIndexEntry(*store_file(), *index_, base_offset_, i);
}

absl::Status Segment::PlanRecovery(const OpenContext& ctx,
                                   RecoveryReport* report) {
  FileSystem* fs = options_.fs;
  BW_ASSIGN_OR_RETURN(const uint64_t store_size, fs->GetFileSize(store_path_));
  BW_ASSIGN_OR_RETURN(const bool index_exists, fs->FileExists(index_path_));
  uint64_t index_file_size = 0;
  if (index_exists) {
    BW_ASSIGN_OR_RETURN(index_file_size, fs->GetFileSize(index_path_));
  }
  BW_ASSIGN_OR_RETURN(reader_, fs->NewRandomAccessFile(store_path_));
  // The index as it is on disk. Nothing on disk changes until recovery has
  // decided that the segment is acceptable (a failed Open leaves the files
  // as it found them).
  if (options_.read_only) {
    BW_ASSIGN_OR_RETURN(index_, Index::Load(fs, index_path_));
  } else {
    BW_ASSIGN_OR_RETURN(index_, Index::Open(fs, index_path_, 0));
  }
  const uint64_t n = index_->size();

  SegmentScanInput in;
  in.base_offset = base_offset_;
  in.store = reader_.get();
  in.store_size = store_size;
  in.index = index_.get();
  in.mode = options_.recovery_mode;
  in.last = ctx.last;
  in.trust_index = ctx.trust_index;
  in.complete_below = ctx.complete_below;
  in.next_base = ctx.next_base;
  in.index_capacity = options_.max_index_bytes / kIndexEntrySize;
  // A sealed segment that was closed cleanly needs one read.
  if (std::optional<VerifiedRecord> last = CleanSealedEnd(in, index_file_size)) {
    plan_ = std::make_unique<SegmentPlan>();
    plan_->clean_sealed = true;
    plan_->n = plan_->final_count = n;
    plan_->store_size = plan_->good_end = store_size;
    plan_->max_ts = last->timestamp_us;
    return absl::OkStatus();
  }
  BW_ASSIGN_OR_RETURN(SegmentFindings findings, ScanSegment(in));
  report->records_scanned += findings.records_scanned;
  report->bytes_scanned += findings.bytes_scanned;
  if (findings.batch_records_cut > 0) {
    report->warnings.push_back(absl::StrCat(
        store_path_, ": removed ", findings.batch_records_cut,
        " records of a batch cut off by the crash, from offset ",
        findings.batch_cut_offset));
  }
  BW_ASSIGN_OR_RETURN(SegmentPlan plan,
                      DecideRecovery(in, std::move(findings), store_path_));
  plan.index_exists = index_exists;
  plan.index_file_size = index_file_size;
  plan_ = std::make_unique<SegmentPlan>(std::move(plan));
  return absl::OkStatus();
}

uint64_t Segment::planned_next_offset() const {
  return plan_ != nullptr ? base_offset_ + plan_->final_count : next_offset();
}

absl::Status Segment::ApplyPlan(RecoveryReport* report) {
  // 5. Apply what PlanRecovery decided.
  std::unique_ptr<SegmentPlan> owned = std::move(plan_);
  const SegmentPlan& plan = *owned;
  if (plan.clean_sealed) {
    store_size_.store(plan.store_size, std::memory_order_release);
    flushed_size_.store(plan.store_size, std::memory_order_release);
    last_timestamp_us_.store(plan.max_ts, std::memory_order_release);
    sealed_ = true;
    MapSealedStore();
    report->segments += 1;
    report->records += plan.n;
    report->store_bytes += plan.store_size;
    return absl::OkStatus();
  }
  const bool rewrite = ReportPlan(plan, report);
  if (options_.read_only) {
    ApplyPlanInMemory(plan, rewrite);
  } else {
    BW_RETURN_IF_ERROR(ApplyPlanOnDisk(plan, rewrite));
  }
  const uint64_t final_count = plan.final_count;
  // (A read-only open may have read records a writer appended after it
  // took the store's size.)
  const uint64_t final_store =
      plan.cut_store ? plan.good_end : std::max(plan.store_size, plan.good_end);
  uint64_t max_ts = plan.max_ts;
  if (final_count > 0) {
    if (std::optional<VerifiedRecord> v = VerifyEntry(final_count - 1)) {
      max_ts = std::max(max_ts, v->timestamp_us);
    }
  }
  store_size_.store(final_store, std::memory_order_release);
  flushed_size_.store(final_store, std::memory_order_release);
  last_timestamp_us_.store(max_ts, std::memory_order_release);
  report->segments += 1;
  report->records += final_count;
  report->store_bytes += final_store;
  // A read-only open never appends: every segment is read as a sealed one.
  if (plan.last && !options_.read_only) return OpenForAppend();
  sealed_ = true;
  MapSealedStore();
  return absl::OkStatus();
}

bool Segment::ReportPlan(const SegmentPlan& plan, RecoveryReport* report) const {
  for (const DamagedRegion& d : plan.damage) report->damage.push_back(d);
  report->records_skipped += plan.skipped;
  report->batches_cut += plan.batches_cut;
  if (plan.cut_store) {
    const uint64_t bytes = plan.store_size - plan.good_end;
    report->torn_bytes_cut += bytes;
    report->warnings.push_back(
        options_.read_only
            ? absl::StrCat(store_path_, ": ", bytes,
                           " bytes after the last valid record at position ",
                           plan.good_end,
                           " left out (a write in progress, or a torn tail "
                           "that a writable open cuts)")
            : absl::StrCat(store_path_, ": cut ", bytes,
                           " bytes after the last valid record at position ",
                           plan.good_end));
  }
  uint64_t changed = 0;
  for (uint64_t i = plan.trusted; i < plan.final_count; ++i) {
    if (i >= plan.n ||
        index_->Position(i) != plan.positions[i - plan.trusted]) {
      ++changed;
    }
  }
  const bool rewrite = changed > 0 || plan.final_count != plan.n;
  if (rewrite) {
    ++report->indexes_rebuilt;
    report->index_entries_added += changed;
  }
  // A read-only open completes the last segment's index in memory without a
  // word: a writer's index runs ahead of or behind its store all the time.
  if (rewrite && !(options_.read_only && plan.last)) {
    report->warnings.push_back(absl::StrCat(
        index_path_,
        options_.read_only ? ": index completed in memory from the store ("
                           : ": index rebuilt from the store (",
        plan.n, " entries found, ", plan.final_count, " now, ", changed,
        options_.read_only ? " added)" : " written)"));
  }
  const bool sealed_as_is =
      plan.index_exists && plan.index_file_size == plan.n * kIndexEntrySize;
  if (rewrite || plan.cut_store || !sealed_as_is) report->clean_shutdown = false;
  return rewrite;
}

void Segment::ApplyPlanInMemory(const SegmentPlan& plan, bool rewrite) {
  if (!rewrite) return;
  // Entries below `trusted` stay; a batch cut may end before them.
  index_->TruncateEntries(std::min(plan.trusted, plan.final_count));
  for (uint64_t position : plan.positions) {
    if (index_->pending() == plan.final_count) break;
    // A loaded index has no capacity limit: Append cannot fail.
    absl::Status s = index_->Append(position);
    assert(s.ok());
    (void)s;
  }
  index_->Publish();
}

absl::Status Segment::ApplyPlanOnDisk(const SegmentPlan& plan, bool rewrite) {
  FileSystem* fs = options_.fs;
  const bool last = plan.last;
  const uint64_t trusted = plan.trusted;
  const uint64_t final_count = plan.final_count;
  const uint64_t index_file_size = plan.index_file_size;
  if (plan.cut_store) {
    BW_ASSIGN_OR_RETURN(auto file, fs->NewAppendableFile(store_path_));
    BW_RETURN_IF_ERROR(file->Truncate(plan.good_end));
    BW_RETURN_IF_ERROR(file->Sync());
    BW_RETURN_IF_ERROR(file->Close());
  }
  const bool sealed_as_is =
      plan.index_exists && index_file_size == plan.n * kIndexEntrySize;
  if (rewrite || last || !sealed_as_is) {
    // Remap with room (unmapping the as-is view first) and write the entries.
    index_.reset();
    const uint64_t capacity =
        last ? std::max({options_.max_index_bytes, index_file_size,
                         (final_count + 1) * kIndexEntrySize})
             : std::max({index_file_size, final_count * kIndexEntrySize,
                         kIndexEntrySize});
    BW_ASSIGN_OR_RETURN(index_, Index::Open(fs, index_path_, capacity));
    if (rewrite) {
      // Entries below `trusted` stay; a batch cut may end before them.
      index_->TruncateEntries(std::min(trusted, final_count));
      for (uint64_t i = trusted; i < final_count; ++i) {
        BW_RETURN_IF_ERROR(index_->Append(plan.positions[i - trusted]));
      }
      index_->Publish();
      index_->ZeroPastEntries();
      BW_RETURN_IF_ERROR(index_->Sync());
    }
    if (!last) BW_RETURN_IF_ERROR(index_->Seal());
  }
  return absl::OkStatus();
}

void Segment::MapSealedStore() {
  if (mapped_.load(std::memory_order_acquire) != nullptr) return;
  // A read-only open shares the files with a writer, which may cut a store in
  // place (its own recovery): a page of a mapping past the new end would
  // SIGBUS. Reads go through reader_ (pread) instead.
  if (options_.read_only) return;
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> mapped =
      options_.fs->NewReadOnlyMappedFile(store_path_);
  // Reads through reader_ work as well, only slower: a failure is no error.
  if (!mapped.ok()) return;
  mapped_owner_ = std::move(*mapped);
  mapped_.store(mapped_owner_.get(), std::memory_order_release);
}

absl::Status Segment::OpenForAppend() {
  absl::MutexLock lock(&write_mu_);
  BW_ASSIGN_OR_RETURN(store_, options_.fs->NewAppendableFile(store_path_));
  writer_ = std::make_unique<BlockWriter>(store_.get(), store_->Size());
  return OpenActiveReader();
}

absl::Status Segment::OpenActiveReader() {
  // Room for a full store plus the records that may overshoot the limit;
  // reads past it still work (through pread).
  BW_ASSIGN_OR_RETURN(active_reader_,
                      options_.fs->NewAppendingReadFile(
                          store_path_, options_.max_store_bytes + (4u << 20)));
  active_reader_->SetReadableSize(flushed_size_.load(std::memory_order_acquire));
  return absl::OkStatus();
}

bool Segment::IsFull() const {
  return store_size() >= options_.max_store_bytes || index_->full();
}

bool Segment::HasIndexRoomFor(uint64_t records) const {
  return index_->capacity() - index_->pending() >= records;
}

absl::StatusOr<uint64_t> Segment::Append(
    absl::Span<const absl::string_view> values, uint64_t timestamp_us,
    uint8_t last_flags) {
  absl::MutexLock lock(&write_mu_);
  if (writer_ == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(store_path_, ": segment is sealed"));
  }
  if (!HasIndexRoomFor(values.size())) {
    return absl::ResourceExhaustedError(absl::StrCat(
        index_path_, ": index has no room for ", values.size(), " records"));
  }
  const uint64_t first = index_->pending() + base_offset_;
  for (size_t i = 0; i < values.size(); ++i) {
    const bool is_last = i + 1 == values.size();
    // The envelope and the value go to the writer as two pieces, so the
    // value is copied once (into the file's buffer).
    char envelope[kEnvelopeSize];
    EncodeEnvelope(first + i, timestamp_us,
                   is_last ? last_flags : kBatchContinues, envelope);
    BW_ASSIGN_OR_RETURN(
        const uint64_t position,
        writer_->AddRecord(absl::string_view(envelope, kEnvelopeSize),
                           values[i]));
    BW_RETURN_IF_ERROR(index_->Append(position));
  }
  // Publish the store size before the index entries that need it.
  store_size_.store(writer_->position(), std::memory_order_release);
  last_timestamp_us_.store(timestamp_us, std::memory_order_release);
  index_->Publish();
  return first;
}

absl::Status Segment::FlushUpTo(uint64_t end) const {
  if (flushed_size_.load(std::memory_order_acquire) >= end) {
    return absl::OkStatus();
  }
  absl::MutexLock lock(&write_mu_);
  if (writer_ != nullptr) {
    absl::Status s = writer_->Flush();
    if (!s.ok()) {
      reader_flush_failed_.store(true, std::memory_order_release);
      return s;
    }
    PublishFlushed(writer_->position());
  }
  return absl::OkStatus();
}

absl::StatusOr<Record> Segment::Read(uint64_t offset,
                                     std::string* scratch) const {
  const uint64_t count = index_->size();
  if (offset < base_offset_ || offset - base_offset_ >= count) {
    return absl::OutOfRangeError(absl::StrCat(
        store_path_, ": offset ", offset, " is outside [", base_offset_, ", ",
        base_offset_ + count, ")"));
  }
  const uint64_t i = offset - base_offset_;
  const uint64_t position = index_->Position(i);
  const uint64_t end = i + 1 < count ? index_->Position(i + 1) : store_size();
  BW_RETURN_IF_ERROR(FlushUpTo(end));
  absl::StatusOr<absl::string_view> payload =
      ReadRecordAt(*store_file(), position, scratch, nullptr,
                   end > position ? end - position : 0);
  if (!payload.ok() && offset - base_offset_ >= index_->size()) {
    // A TruncateSuffix retracted the record while it was being read.
    return absl::OutOfRangeError(absl::StrCat(
        store_path_, ": offset ", offset, " was removed by a truncation"));
  }
  absl::Status error;
  if (!payload.ok()) {
    error = payload.status().code() == absl::StatusCode::kOutOfRange
                // The index points past the end of the store.
                ? absl::DataLossError(absl::StrCat(
                      store_path_, ": record ", offset, " at position ",
                      position, " is past the end of the store"))
                : payload.status();
  } else {
    absl::StatusOr<Record> r = DecodeRecord(*payload);
    if (!r.ok()) {
      error = absl::DataLossError(absl::StrCat(
          store_path_, ": record at position ", position, ": ",
          r.status().message()));
    } else if (r->offset != offset) {
      error = absl::DataLossError(absl::StrCat(
          store_path_, ": record at position ", position, " carries offset ",
          r->offset, ", expected ", offset));
    } else {
      return *r;
    }
  }
  if (error.code() != absl::StatusCode::kDataLoss) return error;
  // The entry may be what is damaged, not the record.
  absl::StatusOr<Record> found = ReadByWalking(i, scratch);
  if (found.ok()) return found;
  return error;
}

absl::StatusOr<Record> Segment::ReadByWalking(uint64_t i,
                                              std::string* scratch) const {
  BW_RETURN_IF_ERROR(FlushUpTo(store_size()));
  // Bounded: the walk looks back at most kMaxWalk entries and so walks at
  // most that many records. Unbounded, reading a run of k damaged entries
  // (skip mode keeps thousands of lost offsets taken) cost O(k^2) reads.
  constexpr uint64_t kMaxWalk = 32;
  uint64_t j = 0, position = 0;  // the record of entry j starts at position
  bool found = i < kMaxWalk;     // else the walk from the start is too long
  for (uint64_t k = i; k > 0 && i - k < kMaxWalk; --k) {
    if (std::optional<VerifiedRecord> v = VerifyEntry(k - 1)) {
      j = k;
      position = v->end;
      found = true;
      break;
    }
  }
  if (!found) {
    return absl::DataLossError("no entry verifies near the damaged one");
  }
  while (true) {
    position = NextFragmentStart(position);
    uint64_t end = 0;
    BW_ASSIGN_OR_RETURN(absl::string_view payload,
                        ReadRecordAt(*store_file(), position, scratch, &end));
    BW_ASSIGN_OR_RETURN(Record r, DecodeRecord(payload));
    if (r.offset != base_offset_ + j) {
      return absl::DataLossError("walk found another record");
    }
    if (j == i) return r;
    ++j;
    position = end;
  }
}

absl::StatusOr<absl::string_view> Segment::ReadStoreBytes(
    uint64_t position, size_t n, char* scratch) const {
  BW_RETURN_IF_ERROR(FlushUpTo(std::min(position + n, store_size())));
  return store_file()->Read(position, n, scratch);
}

absl::Status Segment::Flush() {
  absl::MutexLock lock(&write_mu_);
  if (writer_ == nullptr) return absl::OkStatus();
  BW_RETURN_IF_ERROR(writer_->Flush());
  PublishFlushed(writer_->position());
  return absl::OkStatus();
}

absl::Status Segment::Sync() {
  {
    absl::MutexLock lock(&write_mu_);
    if (writer_ == nullptr) return absl::OkStatus();
    // Flush apart from the fdatasync: when only the fdatasync fails, the
    // records are still in the OS and must stay readable.
    BW_RETURN_IF_ERROR(writer_->Flush());
    PublishFlushed(writer_->position());
    BW_RETURN_IF_ERROR(writer_->Sync());
  }
  // The index is not synced here: it is derived data, which recovery checks
  // against the store and rebuilds, and one fdatasync per group commit
  // instead of two doubles the synced append rate. Seal syncs it.
  return absl::OkStatus();
}

absl::Status Segment::WriteStatus() const {
  // Every other writer call is the log's own, which sees its error at once;
  // so without a failed reader flush there is nothing to report (and no lock
  // to take on every group).
  if (!reader_flush_failed_.load(std::memory_order_acquire)) {
    return absl::OkStatus();
  }
  absl::MutexLock lock(&write_mu_);
  return writer_ != nullptr ? writer_->status() : absl::OkStatus();
}

absl::Status Segment::Seal() {
  if (sealed_) return absl::OkStatus();
  BW_RETURN_IF_ERROR(Sync());
  {
    absl::MutexLock lock(&write_mu_);
    BW_RETURN_IF_ERROR(store_->Close());
    writer_.reset();
    store_.reset();
  }
  BW_RETURN_IF_ERROR(index_->Seal());
  sealed_ = true;
  MapSealedStore();
  return absl::OkStatus();
}

void Segment::Hide(uint64_t keep_records) {
  if (keep_records >= record_count()) return;
  const uint64_t end = StoreEndBefore(base_offset_ + keep_records);
  Retract(keep_records);
  store_size_.store(end, std::memory_order_release);
  flushed_size_.store(end, std::memory_order_release);
}

uint64_t Segment::StoreEndBefore(uint64_t offset) const {
  const uint64_t i = offset - base_offset_;
  const uint64_t position = index_->Position(i);
  if (i > 0) {
    std::optional<VerifiedRecord> v = VerifyEntry(i - 1);
    if (v.has_value() && v->end <= position) return v->end;
  }
  return position;
}

absl::Status Segment::RemoveFiles() {
  BW_RETURN_IF_ERROR(options_.fs->RemoveFile(index_path_));
  return options_.fs->RemoveFile(store_path_);
}

absl::Status Segment::TruncateFiles(FileSystem* fs, const std::string& dir,
                                    uint64_t base_offset, uint64_t entries,
                                    uint64_t store_end) {
  const std::string store = StorePath(dir, base_offset);
  const std::string index = IndexPath(dir, base_offset);
  // The files are replaced, not cut in place: readers may still hold the old
  // Segment, whose mappings of the old files must stay whole (a mapped page
  // past the end of a shortened file is a SIGBUS). Store first: if a crash
  // leaves the old, longer index, open re-verifies it against the store.
  for (const auto& [path, size] :
       {std::pair<std::string, uint64_t>{store, store_end},
        std::pair<std::string, uint64_t>{index, entries * kIndexEntrySize}}) {
    BW_ASSIGN_OR_RETURN(const uint64_t old_size, fs->GetFileSize(path));
    if (old_size <= size) continue;
    const std::string tmp = path + kSegmentTempSuffix;
    BW_ASSIGN_OR_RETURN(auto in, fs->NewRandomAccessFile(path));
    BW_ASSIGN_OR_RETURN(auto out, fs->NewWritableFile(tmp));
    // Copied in pieces of at most 1 MiB (no bigger than the copy).
    std::string buf(static_cast<size_t>(std::min<uint64_t>(size, 1 << 20)),
                    '\0');
    for (uint64_t pos = 0; pos < size;) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - pos));
      BW_ASSIGN_OR_RETURN(absl::string_view got, in->Read(pos, want, buf.data()));
      if (got.size() != want) {
        return absl::DataLossError(absl::StrCat(
            path, ": ended at position ", pos + got.size(), " while copying its first ",
            size, " bytes"));
      }
      BW_RETURN_IF_ERROR(out->Append(got));
      pos += got.size();
    }
    BW_RETURN_IF_ERROR(out->Sync());
    BW_RETURN_IF_ERROR(out->Close());
    BW_RETURN_IF_ERROR(fs->RenameFile(tmp, path));
    BW_RETURN_IF_ERROR(fs->SyncDir(dir));
  }
  return absl::OkStatus();
}

}  // namespace blockwal::wal
