// DB::Open: recovering a store from its newest usable checkpoint and its
// WAL (docs/kv.md), and the report of what was found and done.
#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "blockwal/db/checkpoint.h"
#include "blockwal/db/db.h"
#include "blockwal/db/memtable.h"
#include "blockwal/db/merge.h"
#include "blockwal/util/status_macros.h"
#include "blockwal/wal/format.h"
#include "blockwal/wal/index.h"
#include "blockwal/wal/record.h"

namespace blockwal::db {
namespace {

// How many times a read-only open looks again after a concurrent writer's
// checkpoint changed the files it chose.
constexpr int kReadOnlyRetries = 3;

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

namespace {

// A writable open creates the directory (when allowed) and locks it; a
// read-only open only checks that it holds a store and takes no lock (null).
absl::StatusOr<std::unique_ptr<FileLock>> PrepareDirectory(
    const Options& options, const std::string& dir) {
  FileSystem* fs = options.fs;
  if (options.read_only) {
    BW_RETURN_IF_ERROR(CheckStoreExists(fs, dir));
    return std::unique_ptr<FileLock>();
  }
  if (options.create_if_missing) {
    BW_RETURN_IF_ERROR(fs->CreateDir(dir));
  }
  return fs->LockFile(JoinPath(dir, kDbLockFileName));
}

// The checkpoints in dir, newest first. A leftover temp file is an
// interrupted checkpoint that never counted: a writable open removes it.
absl::StatusOr<std::vector<uint64_t>> ListCheckpoints(FileSystem* fs,
                                                      const std::string& dir,
                                                      bool read_only) {
  BW_ASSIGN_OR_RETURN(std::vector<std::string> children,
                      fs->GetChildren(dir));
  std::vector<uint64_t> checkpoints;
  for (const std::string& name : children) {
    if (std::optional<uint64_t> n = ParseCheckpointFileName(name)) {
      checkpoints.push_back(*n);
    } else if (!read_only && absl::StartsWith(name, kCheckpointPrefix) &&
               absl::EndsWith(name, kCheckpointTempSuffix)) {
      BW_RETURN_IF_ERROR(fs->RemoveFile(JoinPath(dir, name)));
    }
  }
  std::sort(checkpoints.rbegin(), checkpoints.rend());
  return checkpoints;
}

// Chooses the checkpoint recovery starts from: the newest that verifies, a
// damaged one rejected (in the report and to the warning sink) in favour of
// the next older one.
class CheckpointChooser {
 public:
  // checkpoints: newest first.
  CheckpointChooser(const Options& options, const std::string& dir,
                    std::vector<uint64_t> checkpoints, RecoveryReport* report)
      : options_(options),
        dir_(dir),
        checkpoints_(std::move(checkpoints)),
        report_(report) {}

  // Opens the newest checkpoint not tried yet that verifies (none: base null,
  // replay from 0). A format 1 checkpoint has no index: it is loaded whole
  // into loaded() (the memtable replay starts from) and base stays null.
  absl::Status Next() {
    base_ = nullptr;
    loaded_.Clear();
    replay_from_ = 0;
    report_->checkpoint_path.clear();
    report_->checkpoint_offset = 0;
    report_->checkpoint_keys = 0;
    while (tried_ < checkpoints_.size()) {
      const uint64_t n = checkpoints_[tried_++];
      const std::string path = JoinPath(dir_, CheckpointFileName(n));
      std::shared_ptr<const CheckpointTable> opened;
      absl::StatusOr<CheckpointInfo> info = Open(n, path, &opened);
      if (info.ok()) {
        base_ = std::move(opened);
        report_->checkpoint_path = path;
        report_->checkpoint_offset = n;
        report_->checkpoint_keys = info->keys;
        replay_from_ = n;
        return absl::OkStatus();
      }
      loaded_.Clear();
      if (info.status().code() != absl::StatusCode::kDataLoss) {
        return info.status();
      }
      Reject(info.status());
    }
    return absl::OkStatus();
  }

  void Reject(const absl::Status& s) {
    report_->checkpoints_rejected.push_back(std::string(s.message()));
    if (options_.warning_sink) options_.warning_sink(std::string(s.message()));
  }

  // A rejected checkpoint cannot be used, so it cannot be what explains a WAL
  // that starts late; say so in any gap error.
  std::string GapContext() const {
    std::string context =
        report_->checkpoint_path.empty()
            ? std::string("no usable checkpoint")
            : absl::StrCat("checkpoint ", report_->checkpoint_path,
                           " covers offsets below ", replay_from_);
    if (!report_->checkpoints_rejected.empty()) {
      absl::StrAppend(&context, "; rejected: ",
                      absl::StrJoin(report_->checkpoints_rejected, "; "));
    }
    return context;
  }

  // The chosen checkpoint's table; null when none was chosen or it is of
  // format 1.
  const std::shared_ptr<const CheckpointTable>& base() const { return base_; }
  // A format 1 checkpoint's pairs.
  MemTable* loaded() { return &loaded_; }
  // The chosen checkpoint covers WAL offsets below this one.
  uint64_t replay_from() const { return replay_from_; }

 private:
  // Opens CHECKPOINT-<n> at `path` and verifies it as far as the options
  // ask: its info, or why it cannot be used (kDataLoss: damaged). Format 1
  // is read whole into loaded_; format 2 is opened into *opened.
  absl::StatusOr<CheckpointInfo> Open(
      uint64_t n, const std::string& path,
      std::shared_ptr<const CheckpointTable>* opened) {
    BW_ASSIGN_OR_RETURN(const uint32_t version,
                        ReadCheckpointVersion(options_.fs, path));
    CheckpointInfo info;
    if (version == kCheckpointVersion1) {
      BW_ASSIGN_OR_RETURN(info, ReadCheckpointV1(options_.fs, path, &loaded_));
    } else {
      BW_ASSIGN_OR_RETURN(
          *opened, CheckpointTable::Open(options_.fs, path,
                                         options_.checkpoint_cache_bytes));
      info = (*opened)->info();
      if (options_.verify_checkpoint_on_open) {
        BW_RETURN_IF_ERROR((*opened)->Verify());
      }
    }
    if (info.wal_offset != n) {
      return absl::DataLossError(absl::StrCat(
          "checkpoint ", path,
          " is damaged: its header covers offsets below ", info.wal_offset,
          ", its name says ", n));
    }
    return info;
  }

  const Options& options_;
  const std::string& dir_;
  const std::vector<uint64_t> checkpoints_;
  RecoveryReport* const report_;
  size_t tried_ = 0;  // checkpoints_[0, tried_) were tried
  std::shared_ptr<const CheckpointTable> base_;
  MemTable loaded_;
  uint64_t replay_from_ = 0;
};

// The options of the store's WAL.
wal::LogOptions WalOptions(const Options& options, uint64_t replay_from) {
  wal::LogOptions log_options;
  log_options.fs = options.fs;
  log_options.recovery_mode = options.recovery_mode;
  log_options.sync_policy =
      options.sync ? wal::SyncPolicy::kEveryAppend : wal::SyncPolicy::kNone;
  log_options.max_store_bytes = options.wal_segment_bytes;
  // One index entry per record, and every write is one record of at least a
  // header and an envelope: a small segment needs no 10 MiB index.
  const uint64_t max_records =
      options.wal_segment_bytes / (wal::kHeaderSize + wal::kEnvelopeSize) + 2;
  log_options.max_index_bytes = std::min<uint64_t>(
      log_options.max_index_bytes, max_records * wal::kIndexEntrySize);
  // Only used for a new log: one that was removed with everything the
  // checkpoint covers continues after it.
  log_options.initial_offset = replay_from;
  log_options.warning_sink = options.warning_sink;
  log_options.read_only = options.read_only;
  // The WAL of a store always exists (a writable open creates it): a
  // read-only open does not make one up.
  log_options.create_if_missing = !options.read_only;
  return log_options;
}

// What the WAL's own recovery found, into the store's report.
void NoteWalRecovery(const wal::Log& log, RecoveryReport* report) {
  const wal::RecoveryReport& wal_report = log.recovery_report();
  report->wal = wal_report;
  report->wal_segments = wal_report.segments;
  report->torn_bytes_cut = wal_report.torn_bytes_cut;
  report->batches_cut = wal_report.batches_cut;
  report->corruption = wal_report.damage;
  report->records_skipped = wal_report.records_skipped;
  report->wal_first_offset = log.LowestOffset();
  report->wal_next_offset = log.NextOffset();
}

}  // namespace

absl::Status DB::Recover() {
  BW_ASSIGN_OR_RETURN(lock_, PrepareDirectory(options_, dir_));
  BW_ASSIGN_OR_RETURN(std::vector<uint64_t> checkpoints,
                      ListCheckpoints(options_.fs, dir_, options_.read_only));
  CheckpointChooser chooser(options_, dir_, std::move(checkpoints), &report_);
  BW_RETURN_IF_ERROR(chooser.Next());

  wal::LogOptions log_options = WalOptions(options_, chooser.replay_from());
  // A write group is one AppendBatch, which goes whole into one segment: keep
  // it within the log's own group bound, small beside a segment (so segments
  // still roll near their size) and within one index.
  max_group_batches_ = static_cast<size_t>(std::min<uint64_t>(
      kMaxGroupBatches, log_options.max_index_bytes / wal::kIndexEntrySize));
  max_group_bytes_ = static_cast<size_t>(std::min<uint64_t>(
      log_options.max_group_bytes, options_.wal_segment_bytes / 8));
  log_options_ = log_options;
  absl::MutexLock log_lock(&log_mu_);
  BW_ASSIGN_OR_RETURN(log_, wal::Log::Open(JoinPath(dir_, kWalDirName),
                                           std::move(log_options)));
  NoteWalRecovery(*log_, &report_);

  // Replay onto the chosen checkpoint, then count the keys, which reads the
  // checkpoint chunks the replayed batches touch. A damaged one rejects the
  // checkpoint: try the next older one (the WAL may still continue it).
  MemTable table;
  for (;;) {
    const CheckpointTable* base = chooser.base().get();
    MemTable initial(/*keep_tombstones=*/base != nullptr);
    if (base == nullptr) initial.Swap(chooser.loaded());  // a format 1 one's
    BW_RETURN_IF_ERROR(ReplayWal(std::move(initial), chooser.replay_from(),
                                 chooser.GapContext(), &table));
    absl::StatusOr<uint64_t> keys = CountKeys(table, nullptr, base);
    if (keys.ok()) {
      report_.keys = *keys;
      break;
    }
    if (base == nullptr || keys.status().code() != absl::StatusCode::kDataLoss) {
      return keys.status();
    }
    chooser.Reject(keys.status());
    BW_RETURN_IF_ERROR(chooser.Next());
  }
  absl::MutexLock l(&mu_);
  mem_->Swap(&table);
  base_ = chooser.base();
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

}  // namespace blockwal::db
