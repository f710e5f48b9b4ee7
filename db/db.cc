#include "blockwal/db/db.h"

#include <algorithm>
#include <cassert>
#include <functional>
#include <optional>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "blockwal/db/checkpoint.h"
#include "blockwal/db/memtable.h"
#include "blockwal/util/status_macros.h"
#include "blockwal/wal/format.h"
#include "blockwal/wal/index.h"
#include "blockwal/wal/record.h"

namespace blockwal::db {
namespace {

// How many times a read-only open looks again after a concurrent writer's
// checkpoint changed the files it chose.
constexpr int kReadOnlyRetries = 3;

// An entry of the in-memory layers: a key and its value, or nullopt when it
// was deleted.
using Entry = std::pair<absl::string_view, const std::optional<std::string>*>;

// The entries of `upper` over those of `lower` (may be null; upper wins on
// equal keys) with start <= key < limit (empty limit: no bound), in order.
std::vector<Entry> Overlay(const MemTable::Map& upper, const MemTable* lower,
                           absl::string_view start, absl::string_view limit) {
  std::vector<Entry> out;
  auto in_range = [&](const MemTable::Map& map) {
    auto first = map.lower_bound(start);
    auto last = limit.empty() ? map.end() : map.lower_bound(limit);
    return std::make_pair(first, last);
  };
  auto [u, u_end] = in_range(upper);
  if (lower == nullptr) {
    for (; u != u_end; ++u) out.emplace_back(u->first, &u->second);
    return out;
  }
  auto [l, l_end] = in_range(lower->map());
  while (u != u_end || l != l_end) {
    if (l == l_end || (u != u_end && u->first <= l->first)) {
      if (l != l_end && l->first == u->first) ++l;  // shadowed
      out.emplace_back(u->first, &u->second);
      ++u;
    } else {
      out.emplace_back(l->first, &l->second);
      ++l;
    }
  }
  return out;
}

// Calls emit for every live pair of the overlay merged over base (may be
// null; the overlay wins on equal keys and its deletions hide base pairs),
// start <= key < limit, in key order.
absl::Status MergeWithBase(const std::vector<Entry>& overlay,
                           const CheckpointTable* base,
                           absl::string_view start, absl::string_view limit,
                           CheckpointTable::Visitor emit) {
  size_t j = 0;
  auto emit_overlay = [&]() -> absl::Status {
    const Entry& e = overlay[j++];
    return e.second->has_value() ? emit(e.first, **e.second)
                                 : absl::OkStatus();
  };
  if (base != nullptr) {
    BW_RETURN_IF_ERROR(base->Scan(
        start, limit,
        [&](absl::string_view key, absl::string_view value) -> absl::Status {
          while (j < overlay.size() && overlay[j].first < key) {
            BW_RETURN_IF_ERROR(emit_overlay());
          }
          if (j < overlay.size() && overlay[j].first == key) {
            return emit_overlay();
          }
          return emit(key, value);
        }));
  }
  while (j < overlay.size()) BW_RETURN_IF_ERROR(emit_overlay());
  return absl::OkStatus();
}

// Live keys of mem over imm (may be null) over base (may be null).
absl::StatusOr<uint64_t> CountKeys(const MemTable& mem, const MemTable* imm,
                                   const CheckpointTable* base) {
  if (imm == nullptr && base == nullptr) return mem.live();
  const std::vector<Entry> overlay = Overlay(mem.map(), imm, "", "");
  uint64_t live = 0;
  for (const Entry& e : overlay) live += e.second->has_value() ? 1 : 0;
  if (base == nullptr) return live;
  // A key the overlay holds counts once whether or not base holds it too; a
  // deleted one not at all.
  std::vector<absl::string_view> keys;
  keys.reserve(overlay.size());
  for (const Entry& e : overlay) keys.push_back(e.first);
  BW_ASSIGN_OR_RETURN(const uint64_t shadowed, base->CountPresent(keys));
  return base->info().keys + live - shadowed;
}

}  // namespace

std::string RecoveryReport::ToString() const {
  std::string out;
  if (checkpoint_path.empty()) {
    absl::StrAppend(&out, "checkpoint: none\n");
  } else {
    absl::StrAppendFormat(&out,
                          "checkpoint: %s (covers WAL offsets below %u, %u "
                          "keys)\n",
                          checkpoint_path, checkpoint_offset, checkpoint_keys);
  }
  for (const std::string& r : checkpoints_rejected) {
    absl::StrAppend(&out, "checkpoint rejected: ", r, "\n");
  }
  absl::StrAppendFormat(&out, "wal: %u %s, offsets [%u, %u)\n", wal_segments,
                        wal_segments == 1 ? "segment" : "segments",
                        wal_first_offset, wal_next_offset);
  absl::StrAppendFormat(&out, "replayed: %u %s, %u %s\n", records_replayed,
                        records_replayed == 1 ? "record" : "records",
                        bytes_replayed, bytes_replayed == 1 ? "byte" : "bytes");
  absl::StrAppendFormat(&out,
                        "torn bytes cut: %u\nbatches cut: %u\nrecords "
                        "skipped: %u\n",
                        torn_bytes_cut, batches_cut, records_skipped);
  if (corruption.empty()) {
    absl::StrAppend(&out, "corruption: none\n");
  } else {
    for (const wal::DamagedRegion& d : corruption) {
      absl::StrAppendFormat(&out, "corruption: %s at byte %u (%u bytes): %s\n",
                            d.file, d.position, d.bytes, d.reason);
    }
  }
  absl::StrAppendFormat(&out, "keys: %u\n", keys);
  absl::StrAppendFormat(&out, "time: %.3f ms\n", elapsed_us / 1000.0);
  return out;
}

DB::DB(std::string dir, Options options)
    : dir_(std::move(dir)),
      options_(std::move(options)),
      mem_(std::make_unique<MemTable>()) {}

DB::~DB() {
  // Errors cannot be returned from here; callers who care call Close().
  const absl::Status s = Close();
  (void)s;
}

absl::StatusOr<std::unique_ptr<DB>> DB::Open(const std::string& dir,
                                             Options options) {
  const absl::Time start = absl::Now();
  std::unique_ptr<DB> db(new DB(dir, options));
  absl::Status recovered = db->Recover();
  // A read-only open races the writer's checkpoints, which remove the
  // checkpoint and WAL segments it may have chosen (kNotFound, or a WAL that
  // no longer continues the checkpoint): look again at the newer state.
  // Only those two: real damage fails at once, reported once.
  auto raced = [](const absl::Status& s) {
    return absl::IsNotFound(s) ||
           (absl::IsDataLoss(s) && absl::StrContains(s.message(), " are missing"));
  };
  for (int retry = 0;
       options.read_only && retry < kReadOnlyRetries && raced(recovered);
       ++retry) {
    if (!CheckStoreExists(options.fs, dir).ok()) break;
    db.reset(new DB(dir, options));
    recovered = db->Recover();
  }
  BW_RETURN_IF_ERROR(recovered);
  db->report_.elapsed_us =
      static_cast<uint64_t>(absl::ToInt64Microseconds(absl::Now() - start));
  return db;
}

absl::Status CheckStoreExists(FileSystem* fs, const std::string& dir) {
  absl::StatusOr<std::vector<std::string>> children = fs->GetChildren(dir);
  if (!children.ok()) {
    if (!absl::IsNotFound(children.status())) return children.status();
    return absl::NotFoundError(
        absl::StrCat(dir, ": no store here (the directory does not exist)"));
  }
  for (const std::string& name : *children) {
    if (name == kWalDirName || ParseCheckpointFileName(name).has_value()) {
      return absl::OkStatus();
    }
  }
  return absl::NotFoundError(absl::StrCat(
      dir, ": no store here (no ", kWalDirName,
      "/ directory and no checkpoint)"));
}

absl::Status DB::Recover() {
  FileSystem* fs = options_.fs;
  const bool read_only = options_.read_only;
  if (read_only) {
    BW_RETURN_IF_ERROR(CheckStoreExists(fs, dir_));
  } else {
    if (options_.create_if_missing) {
      BW_RETURN_IF_ERROR(fs->CreateDir(dir_));
    }
    BW_ASSIGN_OR_RETURN(lock_, fs->LockFile(JoinPath(dir_, kDbLockFileName)));
  }
  BW_ASSIGN_OR_RETURN(std::vector<std::string> children,
                      fs->GetChildren(dir_));

  // Newest checkpoint first; a leftover temp file is an interrupted
  // checkpoint that never counted.
  std::vector<uint64_t> checkpoints;
  for (const std::string& name : children) {
    if (std::optional<uint64_t> n = ParseCheckpointFileName(name)) {
      checkpoints.push_back(*n);
    } else if (!read_only && absl::StartsWith(name, kCheckpointPrefix) &&
               absl::EndsWith(name, kCheckpointTempSuffix)) {
      BW_RETURN_IF_ERROR(fs->RemoveFile(JoinPath(dir_, name)));
    }
  }
  std::sort(checkpoints.rbegin(), checkpoints.rend());

  auto reject = [&](const absl::Status& s) {
    report_.checkpoints_rejected.push_back(std::string(s.message()));
    if (options_.warning_sink) options_.warning_sink(std::string(s.message()));
  };
  // Opens the newest checkpoint not tried yet that verifies (none: base null,
  // replay from 0). A format 1 checkpoint has no index: it is loaded whole
  // into `loaded` (the memtable replay starts from) and base stays null.
  std::shared_ptr<const CheckpointTable> base;
  MemTable loaded;
  uint64_t replay_from = 0;
  size_t tried = 0;
  auto choose_checkpoint = [&]() -> absl::Status {
    base = nullptr;
    loaded.Clear();
    replay_from = 0;
    report_.checkpoint_path.clear();
    report_.checkpoint_offset = 0;
    report_.checkpoint_keys = 0;
    while (tried < checkpoints.size()) {
      const uint64_t n = checkpoints[tried++];
      const std::string path = JoinPath(dir_, CheckpointFileName(n));
      absl::StatusOr<uint32_t> version = ReadCheckpointVersion(fs, path);
      absl::Status s = version.status();
      std::shared_ptr<const CheckpointTable> opened;
      CheckpointInfo info;
      if (s.ok() && *version == kCheckpointVersion1) {
        absl::StatusOr<CheckpointInfo> read = ReadCheckpointV1(fs, path, &loaded);
        s = read.status();
        if (s.ok()) info = *std::move(read);
      } else if (s.ok()) {
        absl::StatusOr<std::shared_ptr<const CheckpointTable>> table =
            CheckpointTable::Open(fs, path, options_.checkpoint_cache_bytes);
        s = table.status();
        if (s.ok()) {
          opened = *std::move(table);
          info = opened->info();
          if (options_.verify_checkpoint_on_open) s = opened->Verify();
        }
      }
      if (s.ok() && info.wal_offset != n) {
        s = absl::DataLossError(absl::StrCat(
            "checkpoint ", path,
            " is damaged: its header covers offsets below ", info.wal_offset,
            ", its name says ", n));
      }
      if (s.ok()) {
        base = std::move(opened);
        report_.checkpoint_path = path;
        report_.checkpoint_offset = n;
        report_.checkpoint_keys = info.keys;
        replay_from = n;
        return absl::OkStatus();
      }
      loaded.Clear();
      if (s.code() != absl::StatusCode::kDataLoss) return s;
      reject(s);
    }
    return absl::OkStatus();
  };
  BW_RETURN_IF_ERROR(choose_checkpoint());
  // A rejected checkpoint cannot be used, so it cannot be what explains a WAL
  // that starts late; say so in any gap error.
  auto gap_context = [&]() -> std::string {
    std::string context =
        report_.checkpoint_path.empty()
            ? std::string("no usable checkpoint")
            : absl::StrCat("checkpoint ", report_.checkpoint_path,
                           " covers offsets below ", replay_from);
    if (!report_.checkpoints_rejected.empty()) {
      absl::StrAppend(&context, "; rejected: ",
                      absl::StrJoin(report_.checkpoints_rejected, "; "));
    }
    return context;
  };

  wal::LogOptions log_options;
  log_options.fs = fs;
  log_options.recovery_mode = options_.recovery_mode;
  log_options.sync_policy =
      options_.sync ? wal::SyncPolicy::kEveryAppend : wal::SyncPolicy::kNone;
  log_options.max_store_bytes = options_.wal_segment_bytes;
  // One index entry per record, and every write is one record of at least a
  // header and an envelope: a small segment needs no 10 MiB index.
  const uint64_t max_records =
      options_.wal_segment_bytes / (wal::kHeaderSize + wal::kEnvelopeSize) + 2;
  log_options.max_index_bytes = std::min<uint64_t>(
      log_options.max_index_bytes, max_records * wal::kIndexEntrySize);
  // A write group is one AppendBatch, which goes whole into one segment: keep
  // it within the log's own group bound, small beside a segment (so segments
  // still roll near their size) and within one index.
  max_group_batches_ = static_cast<size_t>(std::min<uint64_t>(
      kMaxGroupBatches, log_options.max_index_bytes / wal::kIndexEntrySize));
  max_group_bytes_ = static_cast<size_t>(std::min<uint64_t>(
      log_options.max_group_bytes, options_.wal_segment_bytes / 8));
  // Only used for a new log: one that was removed with everything the
  // checkpoint covers continues after it.
  log_options.initial_offset = replay_from;
  log_options.warning_sink = options_.warning_sink;
  log_options.read_only = read_only;
  // The WAL of a store always exists (a writable open creates it): a
  // read-only open does not make one up.
  log_options.create_if_missing = !read_only;
  log_options_ = log_options;
  absl::MutexLock log_lock(&log_mu_);
  BW_ASSIGN_OR_RETURN(log_, wal::Log::Open(JoinPath(dir_, kWalDirName),
                                           std::move(log_options)));
  const wal::RecoveryReport& wal_report = log_->recovery_report();
  report_.wal = wal_report;
  report_.wal_segments = wal_report.segments;
  report_.torn_bytes_cut = wal_report.torn_bytes_cut;
  report_.batches_cut = wal_report.batches_cut;
  report_.corruption = wal_report.damage;
  report_.records_skipped = wal_report.records_skipped;
  report_.wal_first_offset = log_->LowestOffset();
  report_.wal_next_offset = log_->NextOffset();

  // Replay onto the chosen checkpoint, then count the keys, which reads the
  // checkpoint chunks the replayed batches touch. A damaged one rejects the
  // checkpoint: try the next older one (the WAL may still continue it).
  MemTable table;
  for (;;) {
    MemTable initial(/*keep_tombstones=*/base != nullptr);
    if (base == nullptr) initial.Swap(&loaded);  // a format 1 checkpoint's
    BW_RETURN_IF_ERROR(
        ReplayWal(std::move(initial), replay_from, gap_context(), &table));
    absl::StatusOr<uint64_t> keys = CountKeys(table, nullptr, base.get());
    if (keys.ok()) {
      report_.keys = *keys;
      break;
    }
    if (base == nullptr || keys.status().code() != absl::StatusCode::kDataLoss) {
      return keys.status();
    }
    reject(keys.status());
    BW_RETURN_IF_ERROR(choose_checkpoint());
  }
  absl::MutexLock l(&mu_);
  mem_->Swap(&table);
  base_ = std::move(base);
  next_apply_ = report_.wal_next_offset;
  bytes_since_checkpoint_ = report_.bytes_replayed;
  if (!report_.checkpoint_path.empty()) {
    last_checkpoint_ = report_.checkpoint_path;
  }
  return absl::OkStatus();
}

absl::Status DB::ReplayWal(MemTable table, uint64_t replay_from,
                           const std::string& gap_context, MemTable* out) {
  if (report_.wal_first_offset > replay_from) {
    return absl::DataLossError(absl::StrFormat(
        "%s: records %u..%u are missing: the WAL starts at offset %u but %s",
        dir_, replay_from, report_.wal_first_offset - 1,
        report_.wal_first_offset, gap_context));
  }
  if (report_.wal_next_offset < replay_from) {
    return absl::DataLossError(absl::StrFormat(
        "%s: records %u..%u are missing: the WAL ends before offset %u but "
        "%s",
        dir_, report_.wal_next_offset, replay_from - 1,
        report_.wal_next_offset, gap_context));
  }

  // Replay. Over a checkpoint the memtable keeps deletions, which must hide
  // the checkpoint's pairs. In kSkipAnyCorruptedRecords a damaged record
  // reads as kDataLoss and is stepped over; in every other mode it fails
  // Open.
  const bool skip = options_.recovery_mode ==
                    wal::RecoveryMode::kSkipAnyCorruptedRecords;
  report_.records_replayed = 0;
  report_.bytes_replayed = 0;
  report_.records_skipped = report_.wal.records_skipped;
  uint64_t from = replay_from;
  while (from < report_.wal_next_offset) {
    std::unique_ptr<wal::LogIterator> it = log_->NewIterator(from);
    wal::Record record;
    while (it->Next(&record)) {
      absl::Status s = DecodeWriteBatch(record.value, &table);
      if (!s.ok()) {
        if (!skip) {
          return absl::DataLossError(absl::StrCat(
              dir_, ": WAL record at offset ", record.offset,
              " is not a valid write batch: ", s.message()));
        }
        ++report_.records_skipped;
        continue;
      }
      ++report_.records_replayed;
      report_.bytes_replayed += record.value.size();
    }
    from = it->next_offset();
    if (it->status().ok()) break;
    if (!skip || it->status().code() != absl::StatusCode::kDataLoss) {
      return it->status();
    }
    ++from;  // the damaged record (already counted by the WAL's report)
  }

  out->Swap(&table);
  return absl::OkStatus();
}

absl::Status DB::Put(absl::string_view key, absl::string_view value) {
  WriteBatch batch;
  batch.Put(key, value);
  return Write(batch);
}

absl::Status DB::Delete(absl::string_view key) {
  WriteBatch batch;
  batch.Delete(key);
  return Write(batch);
}

void DB::ApplyLocked(const WriteBatch& batch) {
  // Iterate fails only on a malformed encoding, which a WriteBatch never
  // holds (built by Put/Delete or checked by FromContents).
  const absl::Status s = batch.Iterate(mem_.get());
  assert(s.ok());
  (void)s;
  ++next_apply_;
  ++writes_;
  bytes_since_checkpoint_ += batch.Contents().size();
}

absl::Status DB::Write(const WriteBatch& batch) {
  if (batch.Count() == 0) return absl::OkStatus();
  PendingWrite w;
  w.batch = &batch;
  bool checkpoint = false;
  {
    absl::MutexLock l(&mu_);
    if (options_.read_only || closed_) return CheckWritable();
    // A full disk's error is left to the front writer, which resumes.
    if (!error_.ok() && !error_resumable_) return error_;
    // Group commit: the writer at the front of the queue appends the batches
    // of the writers queued behind it as one AppendBatch (one write, one
    // fdatasync with sync on), applies them to the memtable in offset order
    // and hands each writer its result. A writer that is not at the front
    // sleeps until it is done or at the front (absl::Mutex wakes it only
    // then).
    writers_.push_back(&w);
    w.front = writers_.size() == 1;
    mu_.Await(absl::Condition(
        +[](PendingWrite* pw) { return pw->done || pw->front; }, &w));
    if (w.done) return w.status;
    if (!error_.ok()) {
      // A group before this one failed. After a full disk this writer, now
      // the only one to touch the WAL, tries to resume; otherwise (or if
      // that fails) so do this writer and those queued behind it.
      const absl::Status s = error_resumable_ ? ResumeWritesLocked() : error_;
      if (!s.ok()) {
        for (PendingWrite* pw : writers_) {
          pw->status = s;
          pw->done = true;
        }
        writers_.clear();
        return s;
      }
    }
    absl::InlinedVector<absl::string_view, 16> group;
    size_t group_bytes = 0;
    for (PendingWrite* pw : writers_) {
      const size_t bytes = pw->batch->Contents().size();
      if (!group.empty() && (group.size() == max_group_batches_ ||
                             group_bytes + bytes > max_group_bytes_)) {
        break;
      }
      group.push_back(pw->batch->Contents());
      group_bytes += bytes;
    }
    // Outside mu_: readers and the next writers queue meanwhile.
    mu_.Unlock();
    absl::StatusOr<uint64_t> offset;
    wal::WriteFailure failure = wal::WriteFailure::kNone;
    {
      absl::ReaderMutexLock log_lock(&log_mu_);
      offset = log_->AppendBatch(group);
      if (!offset.ok()) failure = log_->write_failure();
    }
    mu_.Lock();
    if (!offset.ok()) {
      // A log closed under the write (failure kNone) is sticky as well.
      SetWriteErrorLocked(offset.status(), failure == wal::WriteFailure::kNoSpace
                                               ? failure
                                               : wal::WriteFailure::kOther);
    }
    for (size_t i = 0; i < group.size(); ++i) {
      PendingWrite* pw = writers_.front();
      writers_.pop_front();
      if (offset.ok()) {
        ApplyLocked(*pw->batch);
      } else {
        pw->status = offset.status();
      }
      pw->done = true;
    }
    if (!writers_.empty()) writers_.front()->front = true;
    if (options_.auto_checkpoint_bytes > 0 &&
        bytes_since_checkpoint_ >= options_.auto_checkpoint_bytes &&
        !auto_checkpoint_running_) {
      auto_checkpoint_running_ = true;
      checkpoint = true;
    }
    if (!w.status.ok()) return w.status;
  }
  if (checkpoint) {
    // The write itself is done and durable; a failed automatic checkpoint
    // does not undo it, so its error goes to Stats instead.
    absl::StatusOr<CheckpointInfo> info = Checkpoint();
    absl::MutexLock l(&mu_);
    auto_checkpoint_running_ = false;
    auto_checkpoint_status_ = info.status();
    if (!info.ok() && options_.warning_sink) {
      options_.warning_sink(
          absl::StrCat("automatic checkpoint failed: ", info.status().message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> DB::Get(absl::string_view key) const {
  auto not_found = [key] {
    return absl::NotFoundError(absl::StrCat("key '", key, "' not found"));
  };
  std::shared_ptr<const MemTable> imm;
  std::shared_ptr<const CheckpointTable> base;
  {
    absl::ReaderMutexLock l(&mu_);
    if (const std::optional<std::string>* e = mem_->Find(key)) {
      if (!e->has_value()) return not_found();  // deleted
      return **e;
    }
    imm = imm_;
    base = base_;
  }
  // imm and base no longer change: read them without mu_.
  if (imm != nullptr) {
    if (const std::optional<std::string>* e = imm->Find(key)) {
      if (!e->has_value()) return not_found();
      return **e;
    }
  }
  if (base != nullptr) {
    BW_ASSIGN_OR_RETURN(std::optional<std::string> value, base->Get(key));
    if (value.has_value()) return *std::move(value);
  }
  return not_found();
}

absl::StatusOr<std::vector<KeyValue>> DB::Scan(absl::string_view start,
                                               absl::string_view limit) const {
  std::vector<KeyValue> out;
  if (!limit.empty() && limit <= start) return out;
  MemTable::Map mem;  // the memtable's pairs in range, copied under mu_
  std::shared_ptr<const MemTable> imm;
  std::shared_ptr<const CheckpointTable> base;
  {
    absl::ReaderMutexLock l(&mu_);
    const MemTable::Map& map = mem_->map();
    mem.insert(map.lower_bound(start),
               limit.empty() ? map.end() : map.lower_bound(limit));
    imm = imm_;
    base = base_;
  }
  BW_RETURN_IF_ERROR(MergeWithBase(
      Overlay(mem, imm.get(), start, limit), base.get(), start, limit,
      [&out](absl::string_view key, absl::string_view value) {
        out.emplace_back(key, value);
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<std::vector<KeyValue>> DB::ScanPrefix(
    absl::string_view prefix) const {
  return Scan(prefix, PrefixLimit(prefix));
}

void DB::SetWriteErrorLocked(const absl::Status& s, wal::WriteFailure failure) {
  if (!error_.ok() || failure == wal::WriteFailure::kNone) return;
  error_resumable_ = failure == wal::WriteFailure::kNoSpace;
  error_ = error_resumable_
               ? absl::ResourceExhaustedError(absl::StrCat(
                     dir_, ": a WAL write found the disk full (the next "
                           "write resumes once there is space): ",
                     s.message()))
               : absl::FailedPreconditionError(
                     absl::StrCat(dir_, ": a WAL write failed: ", s.message()));
}

absl::Status DB::CheckpointWalStep(absl::Status s) {
  if (s.ok()) return s;
  const wal::WriteFailure failure = log_->write_failure();
  absl::MutexLock l(&mu_);
  SetWriteErrorLocked(s, failure);
  return s;
}

absl::Status DB::ResumeWritesLocked() {
  const uint64_t applied = next_apply_;
  mu_.Unlock();  // log_mu_ comes first
  absl::Status s;
  {
    // Exclusive: no Checkpoint, Sync, GetStats or Close uses the WAL
    // meanwhile, and no write group runs (this writer leads).
    absl::MutexLock log_lock(&log_mu_);
    bool closed;
    {
      absl::MutexLock l(&mu_);
      closed = closed_;
    }
    absl::StatusOr<std::unique_ptr<wal::Log>> reopened =
        closed ? absl::FailedPreconditionError(dir_ + ": DB is closed")
               : ReopenWal(applied);
    absl::MutexLock l(&mu_);
    s = reopened.status();
    if (s.ok()) {
      log_ = *std::move(reopened);
      error_ = absl::OkStatus();
      error_resumable_ = false;
      ++wal_reopens_;
    } else if (!closed && s.code() != absl::StatusCode::kResourceExhausted) {
      error_resumable_ = false;
      error_ = absl::FailedPreconditionError(absl::StrCat(
          dir_, ": writes cannot resume after a full disk: ", s.message()));
    }
  }
  mu_.Lock();
  return s;
}

absl::StatusOr<std::unique_ptr<wal::Log>> DB::ReopenWal(uint64_t applied) {
  // The old log goes first, whole: closing its files writes what they still
  // buffer, which must happen before the new log reads them.
  log_.reset();
  BW_ASSIGN_OR_RETURN(
      std::unique_ptr<wal::Log> log,
      wal::Log::Open(JoinPath(dir_, kWalDirName), log_options_));
  const uint64_t next = log->NextOffset();
  if (next < applied) {
    return absl::DataLossError(absl::StrFormat(
        "%s: the WAL reopened after a full disk ends at offset %u, but the "
        "writes at offsets %u..%u were acknowledged (with sync off they were "
        "still buffered when the disk filled, and could not be written); "
        "reopen the store to go on without them",
        dir_, next, next, applied - 1));
  }
  // Records of the failed group that reached the file whole were reported
  // failed and never applied: they go (last_kept wraps for "keep none").
  if (next > applied) BW_RETURN_IF_ERROR(log->TruncateSuffix(applied - 1));
  return log;
}

void DB::UnfreezeLocked() {
  if (imm_ == nullptr) return;
  for (const auto& [key, value] : imm_->map()) {
    if (mem_->Find(key) != nullptr) continue;  // newer
    if (value.has_value()) {
      mem_->Put(key, *value);
    } else {
      mem_->Delete(key);  // mem_ keeps tombstones while imm_ exists
    }
  }
  imm_.reset();
}

absl::StatusOr<CheckpointInfo> DB::Checkpoint() {
  absl::MutexLock checkpoint_lock(&checkpoint_mu_);
  // Shared for the whole checkpoint: the WAL is not replaced under it.
  absl::ReaderMutexLock log_lock(&log_mu_);
  std::shared_ptr<const MemTable> frozen;
  std::shared_ptr<const CheckpointTable> base;
  uint64_t offset;
  uint64_t bytes_at_snapshot;
  {
    absl::MutexLock l(&mu_);
    BW_RETURN_IF_ERROR(CheckWritable());
    // Freeze the memtable (no copy): it holds exactly the records below
    // `offset` on top of base_. New writes go to a fresh one, which keeps
    // deletions since there is now something below it.
    frozen = std::make_shared<const MemTable>(std::move(*mem_));
    *mem_ = MemTable(/*keep_tombstones=*/true);
    imm_ = frozen;
    base = base_;
    offset = next_apply_;
    bytes_at_snapshot = bytes_since_checkpoint_;
  }
  // Until the new checkpoint is in place, a failure puts the frozen entries
  // back under the memtable.
  absl::Cleanup unfreeze = [this] {
    absl::MutexLock l(&mu_);
    UnfreezeLocked();
  };
  // Step 1: the WAL records the checkpoint covers become durable, so after a
  // crash the WAL never ends before the newest checkpoint's offset (new
  // appends would otherwise reuse offsets the checkpoint claims).
  BW_RETURN_IF_ERROR(CheckpointWalStep(log_->Sync()));
  // Step 2: CHECKPOINT-<offset>.tmp holds base merged with the frozen
  // memtable; sync, rename, sync the directory.
  BW_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointBuilder> builder,
                      CheckpointBuilder::Create(options_.fs, dir_, offset));
  BW_RETURN_IF_ERROR(MergeWithBase(
      Overlay(frozen->map(), nullptr, "", ""), base.get(), "", "",
      [&builder](absl::string_view key, absl::string_view value) {
        return builder->Add(key, value);
      }));
  BW_ASSIGN_OR_RETURN(CheckpointInfo info, builder->Finish());
  BW_ASSIGN_OR_RETURN(std::shared_ptr<const CheckpointTable> written,
                      CheckpointTable::Open(options_.fs, info.path,
                                            options_.checkpoint_cache_bytes));
  {
    // From here the new checkpoint is the store's: the bookkeeping says so
    // even if removing what it made redundant fails below (the next
    // Checkpoint removes it then).
    absl::MutexLock l(&mu_);
    base_ = std::move(written);
    imm_.reset();
    bytes_since_checkpoint_ -=
        std::min(bytes_since_checkpoint_, bytes_at_snapshot);
    ++checkpoints_;
    last_checkpoint_ = info.path;
  }
  std::move(unfreeze).Cancel();
  // Step 3: the WAL segments wholly below the offset go.
  BW_RETURN_IF_ERROR(CheckpointWalStep(log_->TruncatePrefix(offset)));
  // Step 4: older checkpoints go (a damaged newer one too: this one is
  // newer than anything it covered).
  BW_RETURN_IF_ERROR(RemoveCheckpointsExcept(offset));
  return info;
}

absl::Status DB::RemoveCheckpointsExcept(uint64_t keep) {
  BW_ASSIGN_OR_RETURN(std::vector<std::string> children,
                      options_.fs->GetChildren(dir_));
  bool removed = false;
  for (const std::string& name : children) {
    std::optional<uint64_t> n = ParseCheckpointFileName(name);
    if (!n.has_value() || *n == keep) continue;
    BW_RETURN_IF_ERROR(options_.fs->RemoveFile(JoinPath(dir_, name)));
    removed = true;
  }
  if (!removed) return absl::OkStatus();
  return options_.fs->SyncDir(dir_);
}

absl::Status DB::CheckWritable() const {
  if (options_.read_only) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir_, ": store is open read-only"));
  }
  if (closed_) return absl::FailedPreconditionError(dir_ + ": DB is closed");
  return error_;
}

absl::Status DB::Sync() {
  absl::ReaderMutexLock log_lock(&log_mu_);
  {
    absl::ReaderMutexLock l(&mu_);
    if (options_.read_only) return CheckWritable();
    if (closed_) return absl::FailedPreconditionError(dir_ + ": DB is closed");
    if (log_ == nullptr) return error_;
  }
  return log_->Sync();
}

absl::Status DB::Close() {
  {
    absl::MutexLock l(&mu_);
    if (closed_) {
      return absl::FailedPreconditionError(dir_ + ": DB is already closed");
    }
    closed_ = true;
  }
  absl::Status s;
  {
    absl::ReaderMutexLock log_lock(&log_mu_);
    if (log_ != nullptr) {
      s = log_->Close();
    } else {
      absl::ReaderMutexLock l(&mu_);
      s = error_;  // a reopen after a full disk failed: no WAL is open
    }
  }
  lock_.reset();
  return s;
}

absl::StatusOr<Stats> DB::GetStats() const {
  Stats stats;
  absl::ReaderMutexLock log_lock(&log_mu_);
  if (log_ != nullptr) {  // else a reopen after a full disk failed: zeros
    stats.wal_first_offset = log_->LowestOffset();
    stats.wal_next_offset = log_->NextOffset();
    stats.wal_segments = log_->Segments().size();
  }
  absl::ReaderMutexLock l(&mu_);
  BW_ASSIGN_OR_RETURN(stats.keys, CountKeys(*mem_, imm_.get(), base_.get()));
  stats.checkpoint_keys = base_ != nullptr ? base_->info().keys : 0;
  stats.memtable_entries = mem_->size() + (imm_ != nullptr ? imm_->size() : 0);
  stats.approximate_bytes =
      mem_->ApproximateBytes() + (imm_ != nullptr ? imm_->ApproximateBytes() : 0);
  stats.wal_bytes_since_checkpoint = bytes_since_checkpoint_;
  stats.writes = writes_;
  stats.wal_reopens = wal_reopens_;
  stats.checkpoints = checkpoints_;
  stats.last_checkpoint = last_checkpoint_;
  stats.auto_checkpoint_status = auto_checkpoint_status_;
  return stats;
}

}  // namespace blockwal::db
