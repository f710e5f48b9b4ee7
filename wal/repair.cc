#include "blockwal/wal/repair.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "blockwal/util/status_macros.h"
#include "blockwal/wal/log.h"
#include "blockwal/wal/segment.h"

namespace blockwal::wal {

// Log::OpenWithLock is private: RepairLog is its only user.
class RepairAccess {
 public:
  static absl::StatusOr<std::unique_ptr<Log>> Open(
      const std::string& dir, LogOptions options,
      std::unique_ptr<FileLock> lock) {
    return Log::OpenWithLock(dir, std::move(options), std::move(lock));
  }
};

namespace {

// What the Log gets instead of the lock RepairLog holds: the Log drops it at
// Close, while the real lock stays held until the verification is done.
class BorrowedLock final : public FileLock {
 public:
  explicit BorrowedLock(std::string path) : path_(std::move(path)) {}
  const std::string& path() const override { return path_; }

 private:
  const std::string path_;
};

// The log as the inspector reads it, with the offsets its stores hold.
struct Survey {
  LogInspection inspection;
  OffsetRange offsets;  // see RepairResult::before
  // The last store's records as a reader finds them: offset, position.
  std::vector<std::pair<uint64_t, uint64_t>> last_store_records;
};

absl::StatusOr<Survey> SurveyLog(FileSystem* fs, const std::string& dir) {
  uint64_t next = 0;
  uint64_t last_base = 0;
  std::vector<std::pair<uint64_t, uint64_t>> records;  // of store last_base
  InspectOptions options;
  options.on_record = [&](const RecordLocation& loc, const Record& record) {
    next = std::max(next, record.offset + 1);
    if (loc.base_offset != last_base) records.clear();
    last_base = loc.base_offset;
    records.emplace_back(record.offset, loc.position);
  };
  BW_ASSIGN_OR_RETURN(LogInspection inspection, InspectLog(fs, dir, options));
  Survey survey;
  if (!inspection.segments.empty()) {
    survey.offsets.first = inspection.segments.front().base_offset;
    if (last_base == inspection.segments.back().base_offset) {
      survey.last_store_records = std::move(records);
    }
  }
  // Records a damaged block hides from the reader still count when the last
  // segment's index vouches for them (its last entry that verifies).
  if (absl::StatusOr<OffsetRange> indexed = FindOffsetRange(fs, dir);
      indexed.ok()) {
    next = std::max(next, indexed->next);
  }
  survey.offsets.next = std::max(survey.offsets.first, next);
  survey.inspection = std::move(inspection);
  return survey;
}

// Whether point-in-time recovery may read the last store without its index:
// it then cuts the store's one damaged region and what follows unless it
// sees a synced record after it. That is safe only when no record it would
// not see (the rest of the damaged 32 KiB block, which only the index can
// reach) is synced: so the records after the damaged one are read from its
// index entry onwards, and none may carry the sync marker.
bool LastStoreCanBeRescanned(FileSystem* fs, const std::string& dir,
                             const Survey& survey) {
  const SegmentInspection& last = survey.inspection.segments.back();
  const LogProblem* damage = nullptr;
  for (const LogProblem& p : survey.inspection.problems) {
    if (p.file != last.store_path) continue;
    if (damage != nullptr) return false;  // two regions: keep it simple
    damage = &p;
  }
  if (damage == nullptr) return false;
  uint64_t damaged = last.base_offset;  // the first record the damage hides
  for (const auto& [offset, position] : survey.last_store_records) {
    if (position < damage->position) damaged = std::max(damaged, offset + 1);
  }
  for (const auto& [offset, position] : survey.last_store_records) {
    if (offset == damaged) return false;  // no record hidden: not damage here
  }
  if (damaged + 1 >= survey.offsets.next) return true;  // nothing after it
  bool reached = false, synced = false;
  const absl::Status s = ForEachRecord(
      fs, dir, damaged + 1, [&](const RecordLocation& loc, const Record& r) {
        if (!reached)
          reached = r.offset == damaged + 1 && loc.position > damage->position;
        synced |= (r.flags & kSyncMarker) != 0;
        return reached && !synced;
      });
  if (!s.ok() && s.code() != absl::StatusCode::kDataLoss) return false;
  return reached && !synced;
}

// Step 3 of the contract: the indexes to remove before recovery.
std::vector<std::string> IndexesToRemove(FileSystem* fs, const std::string& dir,
                                         const Survey& survey, bool force) {
  const LogInspection& inspection = survey.inspection;
  std::set<std::string> files_with_problems;
  for (const LogProblem& p : inspection.problems)
    files_with_problems.insert(p.file);
  std::vector<std::string> remove;
  for (const SegmentInspection& s : inspection.segments) {
    if (!s.has_index) continue;
    const bool last = &s == &inspection.segments.back();
    if (files_with_problems.count(s.store_path) > 0) {
      if (!force && last && LastStoreCanBeRescanned(fs, dir, survey)) {
        remove.push_back(s.index_path);
      }
    } else if (files_with_problems.count(s.index_path) > 0) {
      remove.push_back(s.index_path);
    }
  }
  return remove;
}

// The copy in the backup of `path`, a file directly in the log directory.
std::string InBackup(const std::string& backup, const std::string& path) {
  return JoinPath(backup, path.substr(path.rfind('/') + 1));
}

// Puts the removed indexes back from the backup, durably.
absl::Status RestoreIndexes(FileSystem* fs, const std::string& dir,
                            const RepairResult& r) {
  for (const std::string& index : r.indexes_removed) {
    BW_ASSIGN_OR_RETURN(std::string data,
                        ReadFileToString(fs, InBackup(r.backup, index)));
    BW_RETURN_IF_ERROR(WriteStringToFile(fs, data, index, /*sync=*/true));
  }
  return r.indexes_removed.empty() ? absl::OkStatus() : fs->SyncDir(dir);
}

// Step 5: reads every offset of the open log, then closes it.
absl::Status CountAndClose(Log& log, RepairResult* r) {
  r->after.first = log.LowestOffset();
  r->after.next = log.NextOffset();
  std::string scratch;
  for (uint64_t o = r->after.first; o < r->after.next; ++o) {
    absl::StatusOr<Record> record = log.Read(o, &scratch);
    if (record.ok()) {
      ++r->records_kept;
    } else if (record.status().code() == absl::StatusCode::kDataLoss) {
      ++r->records_skipped;
    } else {
      return record.status();
    }
  }
  return log.Close();
}

RemainingProblem Explain(const LogProblem& p, const RepairResult& r) {
  const std::string mode = RecoveryModeName(r.mode);
  if (!r.recovery.ok()) {
    return {p, RemainingReason::kRecoveryRefused,
            absl::StrCat(r.recovery.code() == absl::StatusCode::kDataLoss
                             ? "recovery in " + mode + " mode refused the log"
                             : "recovery failed",
                         ", so nothing was repaired: ", r.recovery.message())};
  }
  if (!r.status.ok()) {
    return {p, RemainingReason::kNotRepaired,
            absl::StrCat("the repair stopped: ", r.status.message())};
  }
  if (r.mode == RecoveryMode::kSkipAnyCorruptedRecords &&
      absl::EndsWith(p.file, kStoreSuffix)) {
    return {p, RemainingReason::kRecordsSkipped,
            "damaged records keep their offsets, which read as data loss "
            "(removing them would renumber every later record)"};
  }
  if (absl::EndsWith(p.file, kStoreSuffix)) {
    return {p, RemainingReason::kNotRepaired,
            "point-in-time recovery cuts only damage that no synced record "
            "follows, and records after this damage were, or may have been, "
            "synced (a sealed segment holds only synced data); the damaged "
            "records read as data loss"};
  }
  return {p, RemainingReason::kNotRepaired,
          absl::StrCat("recovery in ", mode, " mode accepted the log with it")};
}

// Step 6 (and the end of every path after the backup).
void Verify(FileSystem* fs, const std::string& dir, const Survey& before,
            RepairResult* r) {
  absl::StatusOr<Survey> after = SurveyLog(fs, dir);
  if (!after.ok()) {
    if (r->status.ok()) r->status = after.status();
    return;
  }
  for (const SegmentInspection& old : before.inspection.segments) {
    for (const SegmentInspection& now : after->inspection.segments) {
      if (now.store_path == old.store_path &&
          now.store_bytes < old.store_bytes) {
        r->bytes_cut.push_back(
            {now.store_path, now.store_bytes, old.store_bytes});
      }
    }
  }
  for (const LogProblem& p : after->inspection.problems) {
    r->remaining.push_back(Explain(p, *r));
  }
}

}  // namespace

const char* RemainingReasonName(RemainingReason reason) {
  switch (reason) {
    case RemainingReason::kRecoveryRefused:
      return "recovery refused";
    case RemainingReason::kRecordsSkipped:
      return "records skipped";
    case RemainingReason::kNotRepaired:
      return "not repaired";
  }
  return "unknown";
}

absl::StatusOr<RepairResult> RepairLog(const std::string& dir,
                                       const RepairOptions& options) {
  FileSystem* fs = options.log_options.fs;
  BW_ASSIGN_OR_RETURN(const bool exists, fs->FileExists(dir));
  if (!exists) {
    return absl::NotFoundError(
        absl::StrCat(dir, ": log directory does not exist"));
  }
  absl::StatusOr<std::unique_ptr<FileLock>> lock =
      fs->LockFile(JoinPath(dir, kLockFileName));
  if (!lock.ok()) {
    if (lock.status().code() != absl::StatusCode::kUnavailable) {
      return lock.status();
    }
    return absl::UnavailableError(
        absl::StrCat(dir, ": log is in use by another process or Log (",
                     lock.status().message(), ")"));
  }
  BW_ASSIGN_OR_RETURN(const Survey before, SurveyLog(fs, dir));
  RepairResult r;
  r.mode = options.force ? RecoveryMode::kSkipAnyCorruptedRecords
                         : RecoveryMode::kPointInTime;
  r.before = r.after = before.offsets;
  BW_ASSIGN_OR_RETURN(r.backup,
                      BackUpDirectory(fs, dir, options.on_backup_progress));
  if (options.on_backup_done) options.on_backup_done(r.backup);

  for (const std::string& index :
       IndexesToRemove(fs, dir, before, options.force)) {
    r.status = fs->RemoveFile(index);
    if (!r.status.ok()) break;
    r.indexes_removed.push_back(index);
  }
  if (r.status.ok()) r.status = fs->SyncDir(dir);
  bool opened = false;
  if (r.status.ok()) {
    LogOptions log_options = options.log_options;
    log_options.recovery_mode = r.mode;
    log_options.create_if_missing = false;
    absl::StatusOr<std::unique_ptr<Log>> log =
        RepairAccess::Open(dir, std::move(log_options),
                           std::make_unique<BorrowedLock>((*lock)->path()));
    r.recovery = log.status();
    opened = log.ok();
    if (opened) {
      r.report = (*log)->recovery_report();
      r.status = CountAndClose(**log, &r);
      r.records_cut =
          r.before.next > r.after.next ? r.before.next - r.after.next : 0;
    }
  }
  if (!opened) {
    // Recovery changed no store (it decides before it cuts), or never ran:
    // put the indexes it was to rebuild back as they were.
    absl::Status restored = RestoreIndexes(fs, dir, r);
    if (r.status.ok()) r.status = restored;
  }
  Verify(fs, dir, before, &r);
  return r;
}

}  // namespace blockwal::wal
