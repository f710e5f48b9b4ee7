// The log's truncations (TruncatePrefix, TruncateSuffix) and the intent
// files that make them crash-safe: an intent is durable before anything is
// removed, and Open (wal/log_recover.cc) finishes what a crash interrupted.
#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "blockwal/util/status_macros.h"
#include "blockwal/wal/log.h"
#include "blockwal/wal/log_dir.h"
#include "blockwal/wal/segment.h"

namespace blockwal::wal {

namespace {

constexpr const char* kPrefixIntent = kPrefixIntentFileName;
constexpr const char* kSuffixIntent = kSuffixIntentFileName;

}  // namespace

absl::Status Log::CheckTruncationsSince(uint64_t* epoch, uint64_t next) const {
  absl::MutexLock lock(&mu_);
  const uint64_t now = suffix_epoch_.load(std::memory_order_relaxed);
  bool seen_all = suffix_truncations_.empty()
                      ? false
                      : suffix_truncations_.front().epoch <= *epoch + 1;
  for (const SuffixTruncation& t : suffix_truncations_) {
    if (t.epoch > *epoch && t.first_removed < next) {
      return absl::AbortedError(absl::StrCat(
          dir_, ": the log was truncated from offset ", t.first_removed,
          ", below this iterator's next offset ", next,
          "; records it returned may have been replaced"));
    }
  }
  if (!seen_all) {
    return absl::AbortedError(absl::StrCat(
        dir_, ": too many truncations since this iterator last read to tell "
              "whether they removed records it returned"));
  }
  *epoch = now;
  return absl::OkStatus();
}

void Log::NoteSuffixRemoved(uint64_t first_removed) {
  suffix_truncations_.push_back({++suffix_epoch_, first_removed});
  if (suffix_truncations_.size() > kSuffixHistory) {
    suffix_truncations_.pop_front();
  }
}

absl::Status Log::WriteIntent(const std::string& name, uint64_t value) {
  FileSystem* fs = options_.fs;
  const std::string path = JoinPath(dir_, name);
  const std::string tmp = path + kTempFileSuffix;
  // Written apart from the syncs, so a full disk met by the write is told
  // from a failed sync (WriteFailure); a leftover temp file is void.
  BW_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, fs->NewWritableFile(tmp));
  BW_RETURN_IF_ERROR(file->Append(EncodeTruncationFile(value)));
  BW_RETURN_IF_ERROR(file->Flush());
  BW_RETURN_IF_ERROR(SyncStep(file->Sync()));
  BW_RETURN_IF_ERROR(file->Close());
  BW_RETURN_IF_ERROR(fs->RenameFile(tmp, path));
  return SyncStep(fs->SyncDir(dir_));
}

absl::Status Log::RemoveIntent(const std::string& name) {
  BW_RETURN_IF_ERROR(options_.fs->RemoveFile(JoinPath(dir_, name)));
  return options_.fs->SyncDir(dir_);
}

absl::Status Log::TruncatePrefix(uint64_t lowest) {
  return RunExclusive([&]() -> absl::Status {
    mu_.AssertHeld();
    leader_.AssertHeld();
    BW_RETURN_IF_ERROR(CheckWritable());
    const uint64_t next = segments_.back()->next_offset();
    if (lowest > next) {
      return absl::OutOfRangeError(absl::StrCat(
          dir_, ": cannot truncate below offset ", lowest,
          ", past the next offset ", next));
    }
    // The active segment is never removed; when everything goes, a new empty
    // one takes over first.
    if (lowest == next && segments_.back()->record_count() > 0) {
      absl::StatusOr<std::shared_ptr<Segment>> rolled =
          RollLocked(*segments_.back());
      if (!rolled.ok()) {
        // A roll, as a group write's: classified by its step.
        FailWrite(rolled.status());
        return rolled.status();
      }
    }
    size_t victims = 0;
    while (victims + 1 < segments_.size() &&
           segments_[victims]->next_offset() <= lowest) {
      ++victims;
    }
    if (victims == 0) return absl::OkStatus();
    return FinishPrefixTruncation(segments_[victims]->base_offset());
  });
}

absl::Status Log::FinishPrefixTruncation(uint64_t first_kept_base) {
  // Intent first: after a crash, Open finishes the removal, so the log is
  // never seen with some of the segments gone. Until it is in place nothing
  // changed: a full disk met by its write leaves a whole log (kNoSpace).
  absl::Status s = WriteIntent(kPrefixIntent, first_kept_base);
  if (!s.ok()) {
    FailWrite(s);
    return s;
  }
  size_t removed = 0;
  while (s.ok() && removed < segments_.size() &&
         segments_[removed]->base_offset() < first_kept_base) {
    s = segments_[removed]->RemoveFiles();
    if (s.ok()) ++removed;
  }
  segments_.erase(segments_.begin(), segments_.begin() + removed);
  if (s.ok()) s = options_.fs->SyncDir(dir_);
  if (s.ok()) s = RemoveIntent(kPrefixIntent);
  return s.ok() ? s : Fail(s);
}

absl::Status Log::TruncateSuffix(uint64_t last_kept) {
  return RunExclusive([&]() -> absl::Status {
    mu_.AssertHeld();
    leader_.AssertHeld();
    BW_RETURN_IF_ERROR(CheckWritable());
    const uint64_t lowest = segments_.front()->base_offset();
    const uint64_t next = segments_.back()->next_offset();
    if (last_kept + 1 < lowest) {
      return absl::OutOfRangeError(absl::StrCat(
          dir_, ": cannot keep up to offset ", last_kept,
          ": the log starts at offset ", lowest));
    }
    // last_kept + 1 wraps to 0 for "keep nothing" of a log starting at 0.
    const uint64_t first_removed = last_kept + 1;
    if (first_removed >= next) return absl::OkStatus();
    // The kept records are durable before the intent says they end the log
    // whole: a crash cannot then leave part of a batch below the cut. Until
    // the intent is in place nothing changed (see TruncatePrefix).
    absl::Status s = segments_.back()->Flush();
    if (s.ok()) s = SyncStep(segments_.back()->Sync());
    if (s.ok()) s = WriteIntent(kSuffixIntent, first_removed);
    if (!s.ok()) {
      FailWrite(s);
      return s;
    }
    complete_below_ = first_removed;
    s = DoTruncateSuffix(first_removed);
    return s.ok() ? s : Fail(s);
  });
}

absl::Status Log::DoTruncateSuffix(uint64_t first_removed) {
  FileSystem* fs = options_.fs;
  if (first_removed < segments_.back()->next_offset()) {
    // Iterators past the cut must not go on as if nothing happened.
    NoteSuffixRemoved(first_removed);
    // Newest first, so a crash leaves the log a prefix of itself; the intent
    // makes the next Open finish the job.
    while (segments_.size() > 1 &&
           segments_.back()->base_offset() >= first_removed) {
      BW_RETURN_IF_ERROR(segments_.back()->Seal());
      segments_.back()->Retract(0);
      BW_RETURN_IF_ERROR(segments_.back()->RemoveFiles());
      segments_.pop_back();
    }
    BW_RETURN_IF_ERROR(fs->SyncDir(dir_));
    std::shared_ptr<Segment> target = segments_.back();
    const uint64_t keep =
        std::max(first_removed, target->base_offset()) - target->base_offset();
    if (keep < target->record_count()) {
      // Sealed first, so every byte of the store is in its file.
      BW_RETURN_IF_ERROR(target->Seal());
      const uint64_t store_end =
          target->StoreEndBefore(target->base_offset() + keep);
      target->Retract(keep);
      BW_RETURN_IF_ERROR(Segment::TruncateFiles(fs, dir_, target->base_offset(),
                                                keep, store_end));
    } else {
      BW_RETURN_IF_ERROR(target->Seal());
    }
    // Reopen it as the active segment (readers keep the old object). The
    // files are exactly what TruncateFiles left; the kept records end the
    // log whole, even inside a batch.
    RecoveryReport ignored;
    Segment::OpenContext ctx;
    ctx.complete_below = first_removed;
    ctx.trust_index = true;
    BW_ASSIGN_OR_RETURN(std::unique_ptr<Segment> reopened,
                        Segment::Open(dir_, target->base_offset(), ctx,
                                      options_, &ignored));
    segments_.back() = std::move(reopened);
    // Skip mode may have kept lost offsets whose filler positions lie past
    // the end of the store: appends there would land below them, and the
    // next open would drop them with the index's order. Such a segment
    // stays sealed; the next one takes the appends.
    Segment& kept = *segments_.back();
    if (kept.record_count() > 0 &&
        kept.PositionOf(kept.next_offset() - 1) >= kept.store_size()) {
      BW_RETURN_IF_ERROR(RollLocked(kept).status());
    }
  }
  // Commit: the intent becomes the record of the last truncation, which
  // later opens need (see complete_below_).
  BW_RETURN_IF_ERROR(fs->RenameFile(JoinPath(dir_, kSuffixIntent),
                                    JoinPath(dir_, kLastTruncationFileName)));
  return fs->SyncDir(dir_);
}

}  // namespace blockwal::wal
