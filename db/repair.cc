// Repair of a damaged store (db/repair.h): choosing the checkpoint to start
// from (salvaged chunk by chunk when none verifies), rewriting the store, and
// the report. Reading and replaying the WAL is in db/repair_wal.cc.
#include "blockwal/db/repair.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "blockwal/db/checkpoint.h"
#include "blockwal/db/db.h"
#include "blockwal/db/memtable.h"
#include "blockwal/db/repair_wal.h"
#include "blockwal/db/write_batch.h"
#include "blockwal/util/backup.h"
#include "blockwal/util/coding.h"
#include "blockwal/util/status_macros.h"
#include "blockwal/wal/block_reader.h"
#include "blockwal/wal/log.h"

namespace blockwal::db {
namespace {

// Salvage: every chunk of the checkpoint at `path` that reads and decodes
// goes into *table; damaged stretches become LostCheckpointRanges.
class CheckpointSalvage {
 public:
  CheckpointSalvage(FileSystem* fs, const std::string& path, MemTable* table,
                    RepairReport* report)
      : fs_(fs), path_(path), table_(table), report_(report) {}

  absl::Status Run() {
    report_->checkpoint_read = path_;
    BW_ASSIGN_OR_RETURN(const uint64_t size, fs_->GetFileSize(path_));
    BW_ASSIGN_OR_RETURN(std::unique_ptr<SequentialFile> file,
                        fs_->NewSequentialFile(path_));
    wal::DamageCollector damage;
    wal::BlockReader reader(file.get(), &damage);
    bool trailer = false;
    size_t regions_seen = 0;
    auto note_regions = [&] {
      for (; regions_seen < damage.regions.size(); ++regions_seen) {
        Damaged(damage.regions[regions_seen]);
      }
    };
    absl::string_view payload;
    std::string scratch;
    while (reader.ReadRecord(&payload, &scratch)) {
      note_regions();
      if (payload.empty()) continue;
      if (NoteCounts(payload)) trailer = true;
      if (static_cast<uint8_t>(payload[0]) != kCheckpointChunk) continue;
      SalvageChunk(payload.substr(1), reader.last_record_offset(),
                   reader.last_record_end() - reader.last_record_offset());
    }
    note_regions();
    BW_RETURN_IF_ERROR(reader.status());
    // A bad fragment drops the rest of its block, the trailer with it; but
    // the trailer is always the file's last fragment, so read it there.
    if (!trailer && size >= kTrailerRecordBytes) {
      BW_ASSIGN_OR_RETURN(trailer, ReadTrailerAtEnd(size));
    }
    const bool damage_to_end =
        !pending_.empty() && pending_.back().region.position +
                                     pending_.back().region.bytes >= size;
    if (!trailer && !damage_to_end) {
      const uint64_t end = reader.last_record_end();
      Damaged({path_, end, size - end,
               "the checkpoint ends without its trailer (cut short)"});
    }
    PlaceRemainingDamage();
    return absl::OkStatus();
  }

 private:
  // A damaged region lies after the last pair kept before it.
  struct Pending {
    wal::DamagedRegion region;
    std::string after_key;
  };

  // A damaged region after the pairs kept so far.
  void Damaged(wal::DamagedRegion region) {
    pending_.push_back({std::move(region), last_key_});
  }

  // The damage noted since the last pair kept lies before before_key (empty:
  // the file's end): it becomes LostCheckpointRanges.
  void ClosePending(absl::string_view before_key) {
    for (Pending& p : pending_) {
      report_->checkpoint_damage.push_back(
          {path_, p.region.position, p.region.bytes, p.region.reason,
           p.after_key, std::string(before_key)});
    }
    pending_.clear();
  }

  // The pair count a format 1 header or either format's trailer records
  // goes into the report. True for a trailer.
  bool NoteCounts(absl::string_view payload) {
    constexpr size_t kMagic = sizeof(kCheckpointMagic) - 1;
    const uint8_t kind = static_cast<uint8_t>(payload[0]);
    if (kind == kCheckpointHeader && payload.size() >= 1 + kMagic + 4 + 8 + 8 &&
        DecodeFixed32(payload.data() + 1 + kMagic) == kCheckpointVersion1) {
      // Format 1 counts its pairs in the header.
      report_->checkpoint_pairs_expected =
          DecodeFixed64(payload.data() + 1 + kMagic + 12);
    }
    if (kind != kCheckpointTrailer) return false;
    if (payload.size() == kTrailerPayloadBytes) {
      report_->checkpoint_pairs_expected = TrailerPairCount(payload);
    }
    return true;  // either format's
  }

  // The pairs of a chunk (its payload after the kind byte, the record at
  // [position, position + bytes) of the file) are kept when it decodes and
  // they follow the pairs kept so far; otherwise the chunk is damage.
  void SalvageChunk(absl::string_view chunk, uint64_t position,
                    uint64_t bytes) {
    ChunkPairs pairs;
    std::string error = DecodeChunkPairs(chunk, &pairs);
    if (error.empty() && !pairs.empty() && !last_key_.empty() &&
        pairs.front().first <= last_key_) {
      error = "keys out of order with the chunk before";
    }
    if (!error.empty()) {
      Damaged({path_, position, bytes,
               absl::StrCat("chunk does not decode: ", error)});
      return;
    }
    if (pairs.empty()) return;
    ClosePending(pairs.front().first);
    for (const auto& [key, value] : pairs) table_->Put(key, value);
    report_->checkpoint_pairs_kept += pairs.size();
    last_key_ = std::string(pairs.back().first);
  }

  // Whether the file's last kTrailerRecordBytes hold a trailer; its pair
  // count goes into the report.
  absl::StatusOr<bool> ReadTrailerAtEnd(uint64_t size) {
    BW_ASSIGN_OR_RETURN(std::unique_ptr<RandomAccessFile> random,
                        fs_->NewRandomAccessFile(path_));
    std::string tail_scratch;
    absl::StatusOr<absl::string_view> last = wal::ReadRecordAt(
        *random, size - kTrailerRecordBytes, &tail_scratch);
    if (!last.ok() || last->size() != kTrailerPayloadBytes ||
        static_cast<uint8_t>((*last)[0]) != kCheckpointTrailer) {
      return false;
    }
    report_->checkpoint_pairs_expected = TrailerPairCount(*last);
    return true;
  }

  // The damage after the last pair kept. When every pair the checkpoint
  // counts was kept it hit the index, trailer or padding: nothing was lost
  // there. Otherwise its keys lay after the last pair kept.
  void PlaceRemainingDamage() {
    if (report_->checkpoint_pairs_expected > 0 &&
        report_->checkpoint_pairs_kept == report_->checkpoint_pairs_expected) {
      for (Pending& p : pending_) {
        p.region.reason +=
            " (no pair lost: every pair the checkpoint counts was kept)";
        report_->checkpoint_other_damage.push_back(p.region);
      }
      pending_.clear();
    }
    ClosePending("");
  }

  // A format 2 trailer's pair count (after the kind, the index's position
  // and its size).
  static uint64_t TrailerPairCount(absl::string_view trailer) {
    return DecodeFixed64(trailer.data() + 1 + 8 + 4);
  }

  FileSystem* const fs_;
  const std::string& path_;
  MemTable* const table_;
  RepairReport* const report_;
  std::vector<Pending> pending_;
  std::string last_key_;  // of the last pair kept
};

// Step 2: the checkpoint to start from, loaded into *table; returns the
// offset the WAL replay starts at. In order of preference: the newest
// checkpoint that verifies whole and that the WAL continues (nothing lost);
// no checkpoint at all, when the WAL holds every record from offset 0; the
// newest checkpoint the WAL continues, salvaged chunk by chunk; the newest
// checkpoint, salvaged (the WAL's gap after it is then lost too).
absl::StatusOr<uint64_t> ChooseBase(FileSystem* fs, const std::string& dir,
                                    const WalSource& wal, MemTable* table,
                                    RepairReport* report) {
  BW_ASSIGN_OR_RETURN(std::vector<std::string> children, fs->GetChildren(dir));
  std::vector<uint64_t> checkpoints;
  for (const std::string& name : children) {
    if (std::optional<uint64_t> n = ParseCheckpointFileName(name)) {
      checkpoints.push_back(*n);
    }
  }
  std::sort(checkpoints.rbegin(), checkpoints.rend());
  auto continued = [&](uint64_t n) {
    return !wal.exists || wal.lowest.value_or(wal.next) <= n;
  };
  auto path_of = [&](uint64_t n) { return JoinPath(dir, CheckpointFileName(n)); };
  std::vector<std::pair<uint64_t, std::string>> passed_over;
  auto note_passed_over = [&](std::optional<uint64_t> used) {
    for (auto& [n, why] : passed_over) {
      if (n != used) report->checkpoints_passed_over.push_back(why);
    }
  };
  for (uint64_t n : checkpoints) {
    if (!continued(n)) {
      passed_over.push_back(
          {n, absl::StrCat(path_of(n),
                           ": the WAL does not continue it (it starts at "
                           "offset ",
                           wal.lowest.value_or(wal.next), ")")});
      continue;
    }
    absl::StatusOr<CheckpointInfo> info = ReadCheckpoint(fs, path_of(n), table);
    if (info.ok() && info->wal_offset == n) {
      note_passed_over(n);
      report->checkpoint_read = path_of(n);
      report->checkpoint_pairs_kept = report->checkpoint_pairs_expected =
          info->keys;
      return n;
    }
    table->Clear();
    if (!info.ok() && !absl::IsDataLoss(info.status())) return info.status();
    passed_over.push_back(
        {n, info.ok() ? absl::StrCat(path_of(n), ": its header names offset ",
                                     info->wal_offset)
                      : std::string(info.status().message())});
  }
  if ((wal.exists && continued(0)) || checkpoints.empty()) {
    note_passed_over(std::nullopt);
    return 0;
  }
  uint64_t salvage = checkpoints.front();
  for (uint64_t n : checkpoints) {
    if (continued(n)) {
      salvage = n;
      break;
    }
  }
  note_passed_over(salvage);
  BW_RETURN_IF_ERROR(
      CheckpointSalvage(fs, path_of(salvage), table, report).Run());
  return salvage;
}

// Step 4: the recovered pairs become the store.
absl::Status Rewrite(FileSystem* fs, const std::string& dir,
                     const MemTable& table, RepairReport* report) {
  BW_ASSIGN_OR_RETURN(CheckpointInfo info,
                      WriteCheckpoint(fs, dir, report->next_offset, table));
  report->checkpoint_written = info.path;
  BW_ASSIGN_OR_RETURN(std::vector<std::string> children, fs->GetChildren(dir));
  for (const std::string& name : children) {
    std::optional<uint64_t> n = ParseCheckpointFileName(name);
    if (n.has_value() && *n != report->next_offset) {
      BW_RETURN_IF_ERROR(fs->RemoveFile(JoinPath(dir, name)));
    }
  }
  const std::string wal_dir = JoinPath(dir, kWalDirName);
  if (absl::StatusOr<std::vector<std::string>> wal_files =
          fs->GetChildren(wal_dir);
      wal_files.ok()) {
    for (const std::string& name : *wal_files) {
      BW_RETURN_IF_ERROR(fs->RemoveFile(JoinPath(wal_dir, name)));
    }
  }
  BW_RETURN_IF_ERROR(fs->SyncDir(dir));
  wal::LogOptions options;
  options.fs = fs;
  options.initial_offset = report->next_offset;
  BW_ASSIGN_OR_RETURN(std::unique_ptr<wal::Log> log,
                      wal::Log::Open(wal_dir, options));
  return log->Close();
}

std::string Quoted(absl::string_view key) {
  return absl::StrCat("\"", absl::CHexEscape(key), "\"");
}

}  // namespace

std::string RepairReport::ToString() const {
  std::string out = absl::StrCat("backup: ", backup_dir, "\n");
  if (checkpoint_read.empty()) {
    absl::StrAppend(&out, "checkpoint: none\n");
  } else {
    absl::StrAppend(&out, "checkpoint: ", checkpoint_read, " (",
                    checkpoint_pairs_kept, " pairs kept");
    if (checkpoint_pairs_expected > 0) {
      absl::StrAppend(&out, " of ", checkpoint_pairs_expected);
    }
    absl::StrAppend(&out, ")\n");
  }
  for (const std::string& c : checkpoints_passed_over) {
    absl::StrAppend(&out, "checkpoint not used: ", c, "\n");
  }
  for (const wal::DamagedRegion& d : checkpoint_other_damage) {
    absl::StrAppendFormat(&out, "damage: %s bytes [%u, %u): %s\n", d.file,
                          d.position, d.position + d.bytes, d.reason);
  }
  for (const LostCheckpointRange& d : checkpoint_damage) {
    absl::StrAppendFormat(&out, "lost: %s bytes [%u, %u): %s; its keys lay",
                          d.file, d.position, d.position + d.bytes, d.reason);
    if (d.after_key.empty() && d.before_key.empty()) {
      absl::StrAppend(&out, " anywhere\n");
      continue;
    }
    if (!d.after_key.empty()) absl::StrAppend(&out, " after ", Quoted(d.after_key));
    if (!d.after_key.empty() && !d.before_key.empty()) absl::StrAppend(&out, " and");
    if (!d.before_key.empty()) absl::StrAppend(&out, " before ", Quoted(d.before_key));
    absl::StrAppend(&out, "\n");
  }
  absl::StrAppend(&out, "wal records replayed: ", records_replayed, "\n");
  for (const LostRecord& r : records_lost) {
    if (r.last_offset == kOpenEnded) {
      absl::StrAppend(&out, "lost: records from ", r.offset, " on (");
    } else if (r.last_offset > r.offset) {
      absl::StrAppend(&out, "lost: records [", r.offset, ", ",
                      r.last_offset + 1, ") (");
    } else {
      absl::StrAppend(&out, "lost: record ", r.offset, " (");
    }
    if (r.keys_known) {
      std::vector<std::string> quoted;
      for (const std::string& k : r.keys) quoted.push_back(Quoted(k));
      absl::StrAppend(&out, "keys ", absl::StrJoin(quoted, ", "));
    } else {
      absl::StrAppend(&out, "keys unknown");
    }
    absl::StrAppend(&out, "): ", r.reason, "\n");
  }
  for (const wal::DamagedRegion& d : wal_damage) {
    absl::StrAppendFormat(&out, "damage: %s at byte %u: %s\n", d.file,
                          d.position, d.reason);
  }
  if (wal_tail_bytes_dropped > 0) {
    absl::StrAppend(&out, "wal tail bytes dropped: ", wal_tail_bytes_dropped,
                    "\n");
  }
  absl::StrAppend(&out, "repaired: ", keys, keys == 1 ? " key" : " keys",
                  " in ", checkpoint_written, "; the WAL restarts at offset ",
                  next_offset, "\n");
  if (!lost_anything()) absl::StrAppend(&out, "lost: nothing\n");
  return out;
}

absl::StatusOr<RepairReport> RepairStore(const std::string& dir,
                                         const RepairOptions& options) {
  FileSystem* fs = options.fs;
  // A directory that holds no store is refused before anything is made.
  BW_RETURN_IF_ERROR(CheckStoreExists(fs, dir));
  absl::StatusOr<std::unique_ptr<FileLock>> lock =
      fs->LockFile(JoinPath(dir, kDbLockFileName));
  if (!lock.ok()) {
    if (absl::IsUnavailable(lock.status())) {
      return absl::UnavailableError(absl::StrCat(
          dir, ": store is in use by another process (",
          lock.status().message(), ")"));
    }
    return lock.status();
  }
  RepairReport report;
  BW_ASSIGN_OR_RETURN(report.backup_dir, BackUpDirectory(fs, dir, nullptr));
  auto unchanged = [&](const absl::Status& s) {
    return absl::Status(
        s.code(),
        absl::StrCat(s.message(),
                     absl::IsDataLoss(s) && !options.force
                         ? "; nothing was changed ('repair --force' drops the "
                           "damaged records instead); backup: "
                         : "; nothing was changed; backup: ",
                     report.backup_dir));
  };

  absl::StatusOr<WalSource> wal = OpenWal(fs, dir, options.force);
  if (!wal.ok()) return unchanged(wal.status());
  MemTable table;
  absl::StatusOr<uint64_t> from = ChooseBase(fs, dir, *wal, &table, &report);
  if (!from.ok()) return unchanged(from.status());
  if (absl::Status s =
          ReplayWal(dir, *from, options.force, *wal, &table, &report);
      !s.ok()) {
    return unchanged(s);
  }
  if (wal->log != nullptr) BW_RETURN_IF_ERROR(wal->log->Close());
  BW_RETURN_IF_ERROR(Rewrite(fs, dir, table, &report));

  // The store now opens in the default mode and holds what was recovered.
  Options store_options;
  store_options.fs = fs;
  store_options.read_only = true;
  BW_ASSIGN_OR_RETURN(std::unique_ptr<DB> db, DB::Open(dir, store_options));
  report.keys = db->recovery_report().keys;
  if (report.keys != table.live()) {
    return absl::InternalError(absl::StrCat(
        dir, ": the repaired store holds ", report.keys, " keys, not the ",
        table.live(), " recovered; backup: ", report.backup_dir));
  }
  return report;
}

}  // namespace blockwal::db
