#include "blockwal/db/repair.h"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "blockwal/db/checkpoint.h"
#include "blockwal/db/db.h"
#include "blockwal/db/memtable.h"
#include "blockwal/db/write_batch.h"
#include "blockwal/util/backup.h"
#include "blockwal/util/coding.h"
#include "blockwal/util/status_macros.h"
#include "blockwal/wal/block_reader.h"
#include "blockwal/wal/log.h"
#include "blockwal/wal/log_inspector.h"
#include "blockwal/wal/segment.h"

namespace blockwal::db {
namespace {

class RegionCollector : public wal::BlockReader::Reporter {
 public:
  void Corruption(uint64_t position, uint64_t bytes,
                  absl::string_view reason) override {
    regions.push_back({"", position, bytes, std::string(reason)});
  }
  std::vector<wal::DamagedRegion> regions;
};

// Collects the keys a batch touches.
class KeyCollector : public WriteBatch::Handler {
 public:
  void Put(absl::string_view key, absl::string_view) override {
    keys.emplace_back(key);
  }
  void Delete(absl::string_view key) override { keys.emplace_back(key); }
  std::vector<std::string> keys;
};

// The newest checkpoint in dir, or nullopt.
absl::StatusOr<std::optional<uint64_t>> NewestCheckpoint(
    FileSystem* fs, const std::string& dir) {
  BW_ASSIGN_OR_RETURN(std::vector<std::string> children, fs->GetChildren(dir));
  std::optional<uint64_t> newest;
  for (const std::string& name : children) {
    std::optional<uint64_t> n = ParseCheckpointFileName(name);
    if (n.has_value() && (!newest.has_value() || *n > *newest)) newest = n;
  }
  return newest;
}

// Step 2: every chunk of the checkpoint at `path` that reads and decodes goes
// into *table; damaged stretches become LostCheckpointRanges.
absl::Status SalvageCheckpoint(FileSystem* fs, const std::string& path,
                               MemTable* table, RepairReport* report) {
  report->checkpoint_read = path;
  BW_ASSIGN_OR_RETURN(const uint64_t size, fs->GetFileSize(path));
  BW_ASSIGN_OR_RETURN(std::unique_ptr<SequentialFile> file,
                      fs->NewSequentialFile(path));
  RegionCollector damage;
  wal::BlockReader reader(file.get(), &damage);
  // A damaged region lies after the last pair kept before it.
  struct Pending {
    wal::DamagedRegion region;
    std::string after_key;
  };
  std::vector<Pending> pending;
  std::string last_key;
  bool trailer = false;
  size_t regions_seen = 0;
  auto note_regions = [&] {
    for (; regions_seen < damage.regions.size(); ++regions_seen) {
      pending.push_back({damage.regions[regions_seen], last_key});
    }
  };
  auto close_pending = [&](absl::string_view before_key) {
    for (Pending& p : pending) {
      report->checkpoint_damage.push_back(
          {path, p.region.position, p.region.bytes, p.region.reason,
           p.after_key, std::string(before_key)});
    }
    pending.clear();
  };
  absl::string_view payload;
  std::string scratch;
  ChunkPairs pairs;
  while (reader.ReadRecord(&payload, &scratch)) {
    note_regions();
    if (payload.empty()) continue;
    const uint8_t kind = static_cast<uint8_t>(payload[0]);
    if (kind == kCheckpointTrailer && payload.size() == kTrailerPayloadBytes) {
      trailer = true;
      report->checkpoint_pairs_expected =
          DecodeFixed64(payload.data() + 1 + 8 + 4);
    }
    if (kind != kCheckpointChunk) continue;
    std::string error = DecodeChunkPairs(payload.substr(1), &pairs);
    if (error.empty() && !pairs.empty() && !last_key.empty() &&
        pairs.front().first <= last_key) {
      error = "keys out of order with the chunk before";
    }
    if (!error.empty()) {
      pending.push_back({{path, reader.last_record_offset(),
                          reader.last_record_end() - reader.last_record_offset(),
                          absl::StrCat("chunk does not decode: ", error)},
                         last_key});
      continue;
    }
    if (pairs.empty()) continue;
    close_pending(pairs.front().first);
    for (const auto& [key, value] : pairs) table->Put(key, value);
    report->checkpoint_pairs_kept += pairs.size();
    last_key = std::string(pairs.back().first);
  }
  note_regions();
  BW_RETURN_IF_ERROR(reader.status());
  if (!trailer) {
    const uint64_t end = reader.last_record_end();
    pending.push_back({{path, end, size - end,
                        "the checkpoint ends without its trailer (cut short)"},
                       last_key});
  }
  close_pending("");
  return absl::OkStatus();
}

// The keys of every WAL record at or after `from` that reads whole anywhere
// in the WAL's stores (also after damage), by offset; and, in *damage, every
// damaged place of a store the inspector finds (Log::Open checks sealed data
// cheaply, so its report alone would miss damage that only a read meets).
absl::StatusOr<std::map<uint64_t, std::vector<std::string>>> KeysByOffset(
    FileSystem* fs, const std::string& wal_dir, uint64_t from,
    std::vector<wal::DamagedRegion>* damage) {
  std::map<uint64_t, std::vector<std::string>> keys;
  wal::InspectOptions options;
  options.on_record = [&](const wal::RecordLocation&, const wal::Record& r) {
    if (r.offset < from) return;
    KeyCollector collector;
    if (DecodeWriteBatch(r.value, &collector).ok()) {
      keys[r.offset] = std::move(collector.keys);
    }
  };
  BW_ASSIGN_OR_RETURN(wal::LogInspection inspection,
                      wal::InspectLog(fs, wal_dir, options));
  for (const wal::LogProblem& p : inspection.problems) {
    if (absl::EndsWith(p.file, wal::kStoreSuffix)) {
      damage->push_back({p.file, p.position, 0, p.description});
    }
  }
  return keys;
}

// Step 3: replays the WAL from `from` onto *table in memory.
absl::Status ReplayWal(FileSystem* fs, const std::string& dir, uint64_t from,
                       bool force, MemTable* table, RepairReport* report) {
  const std::string wal_dir = JoinPath(dir, kWalDirName);
  wal::LogOptions options;
  options.fs = fs;
  options.read_only = true;
  options.initial_offset = from;
  options.recovery_mode = force ? wal::RecoveryMode::kSkipAnyCorruptedRecords
                                : wal::RecoveryMode::kPointInTime;
  absl::StatusOr<std::unique_ptr<wal::Log>> opened =
      wal::Log::Open(wal_dir, options);
  if (absl::IsNotFound(opened.status())) {
    report->next_offset = from;  // no WAL: the checkpoint is everything
    return absl::OkStatus();
  }
  BW_RETURN_IF_ERROR(opened.status());
  wal::Log& log = **opened;
  const wal::RecoveryReport& recovered = log.recovery_report();
  report->wal_tail_bytes_dropped = recovered.torn_bytes_cut;
  BW_ASSIGN_OR_RETURN(auto keys,
                      KeysByOffset(fs, wal_dir, from, &report->wal_damage));
  auto lose = [&](uint64_t offset, std::string reason) {
    LostRecord lost{offset, offset, false, {}, std::move(reason)};
    if (auto it = keys.find(offset); it != keys.end()) {
      lost.keys_known = true;
      lost.keys = it->second;
    }
    report->records_lost.push_back(std::move(lost));
  };

  const uint64_t lowest = log.LowestOffset();
  const uint64_t next = log.NextOffset();
  if (lowest > from) {
    if (!force) {
      return absl::DataLossError(absl::StrFormat(
          "%s: WAL records %u..%u are missing (the WAL starts at offset %u, "
          "the checkpoint covers offsets below %u)",
          dir, from, lowest - 1, lowest, from));
    }
    report->records_lost.push_back(
        {from, lowest - 1, false, {}, "missing from the WAL"});
  }
  std::unique_ptr<wal::LogIterator> it =
      log.NewIterator(std::max(from, lowest));
  while (true) {
    wal::Record record;
    while (it->Next(&record)) {
      if (absl::Status s = DecodeWriteBatch(record.value, table); !s.ok()) {
        if (!force) {
          return absl::DataLossError(absl::StrCat(
              dir, ": WAL record at offset ", record.offset,
              " is not a valid write batch: ", s.message()));
        }
        lose(record.offset, absl::StrCat("not a write batch: ", s.message()));
        continue;
      }
      ++report->records_replayed;
    }
    if (it->status().ok()) break;
    if (!absl::IsDataLoss(it->status()) || !force) return it->status();
    // Skip mode keeps a damaged record's offset; it reads as data loss.
    lose(it->next_offset(), std::string(it->status().message()));
    it = log.NewIterator(it->next_offset() + 1);
  }
  // A damaged tail was left out: the records it held from `next` on are
  // lost (how many, no reader can tell), and some of them may still be
  // readable past the damage.
  if (recovered.torn_bytes_cut > 0) {
    report->records_lost.push_back(
        {next, kOpenEnded, false, {},
         absl::StrCat("in the ", recovered.torn_bytes_cut,
                      " bytes of the damaged tail left out")});
  }
  for (auto k = keys.lower_bound(next); k != keys.end(); ++k) {
    lose(k->first, "after damage at the end of the WAL (cut)");
  }
  report->next_offset = std::max(from, next);
  return log.Close();
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

  MemTable table;
  BW_ASSIGN_OR_RETURN(std::optional<uint64_t> newest,
                      NewestCheckpoint(fs, dir));
  const uint64_t from = newest.value_or(0);
  if (newest.has_value()) {
    BW_RETURN_IF_ERROR(SalvageCheckpoint(
        fs, JoinPath(dir, CheckpointFileName(*newest)), &table, &report));
  }
  absl::Status replayed =
      ReplayWal(fs, dir, from, options.force, &table, &report);
  if (!replayed.ok()) {
    return absl::Status(
        replayed.code(),
        absl::StrCat(replayed.message(),
                     absl::IsDataLoss(replayed)
                         ? "; nothing was changed ('repair --force' drops the "
                           "damaged records instead); backup: "
                         : "; nothing was changed; backup: ",
                     report.backup_dir));
  }
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
