// Repair's WAL (db/repair_wal.h): opening or salvaging it, and replaying it.
#include "blockwal/db/repair_wal.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "blockwal/db/db.h"
#include "blockwal/db/write_batch.h"
#include "blockwal/util/status_macros.h"
#include "blockwal/wal/log_inspector.h"
#include "blockwal/wal/segment.h"

namespace blockwal::db {
namespace {

// Collects the keys a batch touches.
class KeyCollector : public WriteBatch::Handler {
 public:
  void Put(absl::string_view key, absl::string_view) override {
    keys.emplace_back(key);
  }
  void Delete(absl::string_view key) override { keys.emplace_back(key); }
  std::vector<std::string> keys;
};

// Reads every store with the inspector: keys (and, when salvaging, values)
// of every record that reads, and every damaged place.
absl::Status InspectWal(FileSystem* fs, const std::string& wal_dir,
                        bool salvage, WalSource* wal) {
  // An interrupted suffix truncation was removing offsets from here on.
  std::optional<uint64_t> removed_from;
  if (absl::StatusOr<uint64_t> t = wal::ReadTruncationFile(
          fs, JoinPath(wal_dir, wal::kSuffixIntentFileName));
      t.ok()) {
    removed_from = *t;
  }
  wal::InspectOptions options;
  options.on_record = [&](const wal::RecordLocation&, const wal::Record& r) {
    if (removed_from.has_value() && r.offset >= *removed_from) return;
    KeyCollector collector;
    if (DecodeWriteBatch(r.value, &collector).ok()) {
      wal->keys.emplace(r.offset, std::move(collector.keys));
    }
    if (salvage) wal->salvaged.emplace(r.offset, std::string(r.value));
  };
  BW_ASSIGN_OR_RETURN(wal::LogInspection inspection,
                      wal::InspectLog(fs, wal_dir, options));
  for (const wal::LogProblem& p : inspection.problems) {
    if (absl::EndsWith(p.file, wal::kStoreSuffix)) {
      wal->damage.push_back({p.file, p.position, 0, p.description});
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<WalSource> OpenWal(FileSystem* fs, const std::string& dir,
                                  bool force) {
  const std::string wal_dir = JoinPath(dir, kWalDirName);
  WalSource wal;
  wal::LogOptions options;
  options.fs = fs;
  options.read_only = true;
  options.recovery_mode = force ? wal::RecoveryMode::kSkipAnyCorruptedRecords
                                : wal::RecoveryMode::kPointInTime;
  absl::StatusOr<std::unique_ptr<wal::Log>> opened =
      wal::Log::Open(wal_dir, options);
  if (absl::IsNotFound(opened.status())) return wal;  // no WAL
  wal.exists = true;
  if (opened.ok()) {
    wal.log = *std::move(opened);
    wal.tail_bytes_dropped = wal.log->recovery_report().torn_bytes_cut;
    wal.next = wal.log->NextOffset();
    if (wal.log->LowestOffset() < wal.next) wal.lowest = wal.log->LowestOffset();
    BW_RETURN_IF_ERROR(InspectWal(fs, wal_dir, /*salvage=*/false, &wal));
    return wal;
  }
  if (!force || !absl::IsDataLoss(opened.status())) return opened.status();
  BW_RETURN_IF_ERROR(InspectWal(fs, wal_dir, /*salvage=*/true, &wal));
  if (!wal.salvaged.empty()) {
    wal.lowest = wal.salvaged.begin()->first;
    wal.next = wal.salvaged.rbegin()->first + 1;
  }
  return wal;
}

namespace {

class WalReplay {
 public:
  WalReplay(const std::string& dir, bool force, WalSource& wal,
            MemTable* table, RepairReport* report)
      : dir_(dir), force_(force), wal_(wal), table_(table), report_(report) {}

  absl::Status Run(uint64_t from) {
    report_->wal_damage = wal_.damage;
    report_->wal_tail_bytes_dropped = wal_.tail_bytes_dropped;
    report_->next_offset = std::max(from, wal_.next);
    if (!wal_.exists) return absl::OkStatus();  // the checkpoint is everything
    const uint64_t lowest = wal_.lowest.value_or(wal_.next);
    if (lowest > from) {
      if (!force_) {
        return absl::DataLossError(absl::StrFormat(
            "%s: WAL records %u..%u are missing (the WAL starts at offset %u, "
            "the checkpoint covers offsets below %u)",
            dir_, from, lowest - 1, lowest, from));
      }
      report_->records_lost.push_back(
          {from, lowest - 1, false, {}, "missing from the WAL"});
    }
    if (wal_.log == nullptr) return ReplaySalvaged(std::max(from, lowest));
    BW_RETURN_IF_ERROR(ReplayLog(std::max(from, lowest)));
    NoteLostAfterEnd();
    return absl::OkStatus();
  }

 private:
  // The record at `offset` is lost; its keys are known when a store held it
  // readable.
  void Lose(uint64_t offset, std::string reason) {
    LostRecord lost{offset, offset, false, {}, std::move(reason)};
    if (auto it = wal_.keys.find(offset); it != wal_.keys.end()) {
      lost.keys_known = true;
      lost.keys = it->second;
    }
    report_->records_lost.push_back(std::move(lost));
  }

  // A record that is not a write batch fails the repair, or with --force is
  // lost.
  absl::Status Apply(uint64_t offset, absl::string_view value) {
    if (absl::Status s = DecodeWriteBatch(value, table_); !s.ok()) {
      if (!force_) {
        return absl::DataLossError(absl::StrCat(
            dir_, ": WAL record at offset ", offset,
            " is not a valid write batch: ", s.message()));
      }
      Lose(offset, absl::StrCat("not a write batch: ", s.message()));
      return absl::OkStatus();
    }
    ++report_->records_replayed;
    return absl::OkStatus();
  }

  // Salvaged: every record that reads, in offset order from `expected`; the
  // offsets none of them holds are lost.
  absl::Status ReplaySalvaged(uint64_t expected) {
    for (auto it = wal_.salvaged.lower_bound(expected);
         it != wal_.salvaged.end(); ++it) {
      if (it->first > expected) {
        report_->records_lost.push_back({expected, it->first - 1, false, {},
                                         "missing or damaged in the WAL"});
      }
      BW_RETURN_IF_ERROR(Apply(it->first, it->second));
      expected = it->first + 1;
    }
    return absl::OkStatus();
  }

  // The WAL read through its log from `from`.
  absl::Status ReplayLog(uint64_t from) {
    std::unique_ptr<wal::LogIterator> it = wal_.log->NewIterator(from);
    while (true) {
      wal::Record record;
      while (it->Next(&record)) {
        BW_RETURN_IF_ERROR(Apply(record.offset, record.value));
      }
      if (it->status().ok()) return absl::OkStatus();
      if (!absl::IsDataLoss(it->status()) || !force_) return it->status();
      // Skip mode keeps a damaged record's offset; it reads as data loss.
      Lose(it->next_offset(), std::string(it->status().message()));
      it = wal_.log->NewIterator(it->next_offset() + 1);
    }
  }

  // A damaged tail was left out: the records it held from `next` on are
  // lost (how many, no reader can tell), and some of them may still be
  // readable past the damage.
  void NoteLostAfterEnd() {
    if (wal_.tail_bytes_dropped > 0) {
      report_->records_lost.push_back(
          {wal_.next, kOpenEnded, false, {},
           absl::StrCat("in the ", wal_.tail_bytes_dropped,
                        " bytes of the damaged tail left out")});
    }
    for (auto k = wal_.keys.lower_bound(wal_.next); k != wal_.keys.end(); ++k) {
      Lose(k->first, "after damage at the end of the WAL (cut)");
    }
  }

  const std::string& dir_;
  const bool force_;
  WalSource& wal_;
  MemTable* const table_;
  RepairReport* const report_;
};

}  // namespace

absl::Status ReplayWal(const std::string& dir, uint64_t from, bool force,
                       WalSource& wal, MemTable* table, RepairReport* report) {
  return WalReplay(dir, force, wal, table, report).Run(from);
}

}  // namespace blockwal::db
