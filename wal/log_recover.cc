// Log::Open's recovery: list the directory (wal/log_dir.h), finish what a
// crash interrupted (void temp files, an interrupted truncation or Reset
// (wal/log_reset.cc), indexes without a store), then plan every segment
// (wal/segment.h) and apply the plans only once all of them are acceptable
// and their offsets chain up.
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "blockwal/util/status_macros.h"
#include "blockwal/wal/log.h"
#include "blockwal/wal/log_dir.h"
#include "blockwal/wal/segment.h"

namespace blockwal::wal {

absl::Status Log::Recover() {
  report_.read_only = options_.read_only;
  BW_ASSIGN_OR_RETURN(LogDirListing listing, LockAndList());
  // A Reset in progress overrides everything else in the directory.
  std::optional<uint64_t> reset_to;
  if (listing.reset_intent) {
    BW_ASSIGN_OR_RETURN(reset_to, FinishResetIntent(&listing));
  }
  BW_RETURN_IF_ERROR(SortOutFiles(&listing));

  // Nobody else can use the log yet: Recover holds mu_ and leads.
  absl::MutexLock lock_mu(&mu_);
  ThreadRoleScope lead(&leader_);
  // Records up to the end of the last suffix truncation are whole, even in
  // the middle of a batch (the truncation in progress, if any, is newer).
  FileSystem* fs = options_.fs;
  std::optional<uint64_t> suffix_target;  // the first offset to remove
  if (listing.suffix_intent) {
    BW_ASSIGN_OR_RETURN(suffix_target, ReadTruncationFile(
                                           fs, JoinPath(dir_, kSuffixIntentFileName)));
    complete_below_ = suffix_target;
  } else if (listing.last_truncation) {
    BW_ASSIGN_OR_RETURN(complete_below_,
                        ReadTruncationFile(fs, JoinPath(dir_, kLastTruncationFileName)));
  }
  BW_RETURN_IF_ERROR(OpenSegments(
      listing.stores, reset_to.value_or(options_.initial_offset)));
  if (suffix_target.has_value()) {
    BW_RETURN_IF_ERROR(FinishSuffixIntent(*suffix_target));
  }
  if (listing.prefix_intent && !options_.read_only) {
    BW_RETURN_IF_ERROR(RemoveIntent(kPrefixIntentFileName));
  }
  // Last: the empty segment at the reset's offset is durable (OpenSegments
  // created it), so the log knows where it continues without the intent.
  if (reset_to.has_value() && !options_.read_only) {
    BW_RETURN_IF_ERROR(RemoveIntent(kResetIntentFileName));
  }
  return absl::OkStatus();
}

absl::StatusOr<LogDirListing> Log::LockAndList() {
  FileSystem* fs = options_.fs;
  const bool read_only = options_.read_only;
  BW_ASSIGN_OR_RETURN(const bool dir_exists, fs->FileExists(dir_));
  if (!dir_exists) {
    if (!options_.create_if_missing || read_only) {
      return absl::NotFoundError(
          absl::StrCat(dir_, ": log directory does not exist"));
    }
    BW_RETURN_IF_ERROR(fs->CreateDir(dir_));
  }
  // A read-only open takes no lock: it changes nothing, and must not keep a
  // writer out. RepairLog opens with the lock it already holds.
  if (!read_only && lock_ == nullptr) {
    absl::StatusOr<std::unique_ptr<FileLock>> lock =
        fs->LockFile(JoinPath(dir_, kLockFileName));
    if (!lock.ok()) {
      if (lock.status().code() == absl::StatusCode::kUnavailable) {
        return absl::UnavailableError(absl::StrCat(
            dir_, ": log is in use by another process or Log (",
            lock.status().message(), ")"));
      }
      return lock.status();
    }
    lock_ = std::move(*lock);
  }
  return ListLogDir(fs, dir_);
}

absl::Status Log::SortOutFiles(LogDirListing* listing) {
  FileSystem* fs = options_.fs;
  const bool read_only = options_.read_only;
  // An intent, or a rewritten segment file, never committed by its rename:
  // void (a read-only open leaves it to the next writable one).
  for (const std::string& name : listing->void_files) {
    if (!read_only) BW_RETURN_IF_ERROR(fs->RemoveFile(JoinPath(dir_, name)));
  }
  for (const std::string& name : listing->strays) {
    report_.warnings.push_back(absl::StrCat(
        JoinPath(dir_, name), ": not a file of the log; ignored"));
  }
  if (listing->prefix_intent) BW_RETURN_IF_ERROR(FinishPrefixIntent(listing));

  // Indexes without a store are leftovers of a removal: the store is the
  // truth, so they go.
  for (uint64_t base : listing->OrphanIndexes()) {
    const std::string path = IndexPath(dir_, base);
    report_.warnings.push_back(absl::StrCat(
        path, ": index without a store; ", read_only ? "ignored" : "removed"));
    if (!read_only) BW_RETURN_IF_ERROR(fs->RemoveFile(path));
  }
  return absl::OkStatus();
}

absl::Status Log::FinishPrefixIntent(LogDirListing* listing) {
  // A truncation of the prefix that a crash interrupted: finish it by
  // removing every segment below the first one it keeps (a read-only open
  // only leaves them out).
  FileSystem* fs = options_.fs;
  const bool read_only = options_.read_only;
  BW_ASSIGN_OR_RETURN(const uint64_t first_kept,
                      ReadTruncationFile(fs, JoinPath(dir_, kPrefixIntentFileName)));
  std::vector<uint64_t>& stores = listing->stores;
  std::vector<uint64_t>& indexes = listing->indexes;
  for (uint64_t base : stores) {
    if (base >= first_kept || read_only) break;
    const std::string index = IndexPath(dir_, base);
    BW_ASSIGN_OR_RETURN(const bool index_exists, fs->FileExists(index));
    if (index_exists) BW_RETURN_IF_ERROR(fs->RemoveFile(index));
    BW_RETURN_IF_ERROR(fs->RemoveFile(StorePath(dir_, base)));
  }
  auto below = [&](uint64_t b) { return b < first_kept; };
  // The indexes of the stores just removed are gone too. An index below
  // first_kept without a store stays listed: SortOutFiles removes it (left
  // on disk, it would make the roll onto its base fail).
  indexes.erase(std::remove_if(indexes.begin(), indexes.end(),
                               [&](uint64_t b) {
                                 return below(b) && listing->HasStore(b);
                               }),
                indexes.end());
  stores.erase(std::remove_if(stores.begin(), stores.end(), below),
               stores.end());
  report_.warnings.push_back(absl::StrCat(
      dir_,
      read_only ? ": a prefix truncation interrupted by a crash leaves out "
                  "the segments below the first one it keeps: "
                : ": finished a prefix truncation interrupted by a crash "
                  "(first segment kept: ",
      first_kept, read_only ? "" : ")"));
  return absl::OkStatus();
}

absl::Status Log::OpenSegments(const std::vector<uint64_t>& stores,
                               uint64_t empty_base) {
  // Plan every segment and check that their offsets chain up before any file
  // changes: an Open that fails leaves the segments as it found them.
  report_.clean_shutdown = true;
  std::vector<std::unique_ptr<Segment>> planned;
  for (size_t i = 0; i < stores.size(); ++i) {
    Segment::OpenContext ctx;
    ctx.last = i + 1 == stores.size();
    ctx.next_base = ctx.last ? 0 : stores[i + 1];
    ctx.complete_below = complete_below_;
    BW_ASSIGN_OR_RETURN(
        std::unique_ptr<Segment> seg,
        Segment::PlanOpen(dir_, stores[i], ctx, options_, &report_));
    if (!planned.empty() &&
        planned.back()->planned_next_offset() != seg->base_offset()) {
      return absl::DataLossError(absl::StrCat(
          seg->store_path(), ": segment starts at offset ", seg->base_offset(),
          " but the previous segment ends at offset ",
          planned.back()->planned_next_offset(),
          " (segments missing or damaged)"));
    }
    planned.push_back(std::move(seg));
  }
  for (std::unique_ptr<Segment>& seg : planned) {
    BW_RETURN_IF_ERROR(seg->ApplyPlan(&report_));
    segments_.push_back(std::move(seg));
  }
  if (segments_.empty() && options_.read_only) {
    // An empty log, as a writable open would create it, but only in memory.
    segments_.push_back(Segment::CreateEmpty(dir_, empty_base, options_));
  } else if (segments_.empty()) {
    BW_ASSIGN_OR_RETURN(
        std::unique_ptr<Segment> seg,
        Segment::Create(dir_, empty_base, options_));
    segments_.push_back(std::move(seg));
    BW_RETURN_IF_ERROR(options_.fs->SyncDir(dir_));
  }
  // Timestamps never decrease, even when a crash emptied the last segment.
  for (const auto& seg : segments_) {
    last_timestamp_us_ = std::max(last_timestamp_us_, seg->last_timestamp_us());
  }
  return absl::OkStatus();
}

absl::Status Log::FinishSuffixIntent(uint64_t first_removed) {
  if (options_.read_only) {
    report_.warnings.push_back(absl::StrCat(
        dir_, ": a suffix truncation interrupted by a crash leaves out offsets "
              "from ", first_removed));
    HideSuffix(first_removed);
    return absl::OkStatus();
  }
  report_.warnings.push_back(absl::StrCat(
      dir_, ": finished a suffix truncation interrupted by a crash (first "
            "offset removed: ", first_removed, ")"));
  return DoTruncateSuffix(first_removed);
}

void Log::HideSuffix(uint64_t first_removed) {
  while (segments_.size() > 1 &&
         segments_.back()->base_offset() >= first_removed) {
    segments_.pop_back();
  }
  Segment& target = *segments_.back();
  target.Hide(std::max(first_removed, target.base_offset()) -
              target.base_offset());
}

}  // namespace blockwal::wal
