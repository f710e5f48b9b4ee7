// Log::Reset, which empties the log and moves its next offset, and the
// recovery of a Reset a crash interrupted. The RESET intent (the new next
// offset) is durable before anything is removed and is removed only once the
// empty segment based at the new offset is durable: while it exists, Open
// drops every segment and starts the log at the offset it holds.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "blockwal/util/status_macros.h"
#include "blockwal/wal/log.h"
#include "blockwal/wal/log_dir.h"
#include "blockwal/wal/segment.h"

namespace blockwal::wal {

absl::Status Log::Reset(uint64_t next_offset) {
  return RunExclusive([&]() -> absl::Status {
    mu_.AssertHeld();
    leader_.AssertHeld();
    BW_RETURN_IF_ERROR(CheckWritable());
    // Intent first: from here on a crash leaves the empty log. Until it is
    // in place nothing changed: a full disk met by its write leaves a whole
    // log (kNoSpace, as for the truncations).
    absl::Status s = WriteIntent(kResetIntentFileName, next_offset);
    if (!s.ok()) {
      FailWrite(s);
      return s;
    }
    s = DoReset(next_offset);
    return s.ok() ? s : Fail(s);
  });
}

absl::Status Log::DoReset(uint64_t next_offset) {
  FileSystem* fs = options_.fs;
  // The files go first, in any order (the intent makes Open finish the
  // job); the segments stay in segments_ until the new one exists, so
  // readers meanwhile see the old log, whose files they hold. The active
  // segment is sealed so that nothing writes to its store any more.
  for (const std::shared_ptr<Segment>& seg : segments_) {
    BW_RETURN_IF_ERROR(seg->Seal());
    BW_RETURN_IF_ERROR(seg->RemoveFiles());
  }
  // Records of the new log below the last suffix truncation's offset are not
  // whole by its say-so: that record goes with the records it was about.
  const std::string last_truncation = JoinPath(dir_, kLastTruncationFileName);
  BW_ASSIGN_OR_RETURN(const bool has_last_truncation,
                      fs->FileExists(last_truncation));
  if (has_last_truncation) BW_RETURN_IF_ERROR(fs->RemoveFile(last_truncation));
  BW_ASSIGN_OR_RETURN(std::unique_ptr<Segment> fresh,
                      Segment::Create(dir_, next_offset, options_));
  BW_RETURN_IF_ERROR(fs->SyncDir(dir_));

  // Iterators past next_offset must not go on as if nothing happened (their
  // offsets will hold other records); the others find their segment gone.
  if (next_offset < segments_.back()->next_offset()) {
    NoteSuffixRemoved(next_offset);
  }
  for (const std::shared_ptr<Segment>& seg : segments_) seg->Retract(0);
  segments_.clear();
  segments_.push_back(std::move(fresh));
  complete_below_.reset();
  unsynced_bytes_ = 0;
  // Commit: the empty segment says where the log continues.
  return RemoveIntent(kResetIntentFileName);
}

absl::StatusOr<uint64_t> Log::FinishResetIntent(LogDirListing* listing) {
  FileSystem* fs = options_.fs;
  const bool read_only = options_.read_only;
  BW_ASSIGN_OR_RETURN(
      const uint64_t next_offset,
      ReadTruncationFile(fs, JoinPath(dir_, kResetIntentFileName)));
  if (!read_only) {
    std::vector<std::string> doomed;
    for (uint64_t base : listing->stores)
      doomed.push_back(StorePath(dir_, base));
    for (uint64_t base : listing->indexes)
      doomed.push_back(IndexPath(dir_, base));
    for (const auto& [exists, name] :
         {std::pair{listing->prefix_intent, kPrefixIntentFileName},
          std::pair{listing->suffix_intent, kSuffixIntentFileName},
          std::pair{listing->last_truncation, kLastTruncationFileName}}) {
      if (exists) doomed.push_back(JoinPath(dir_, name));
    }
    for (const std::string& path : doomed) {
      BW_RETURN_IF_ERROR(fs->RemoveFile(path));
    }
  }
  listing->stores.clear();
  listing->indexes.clear();
  listing->prefix_intent = false;
  listing->suffix_intent = false;
  listing->last_truncation = false;
  report_.warnings.push_back(absl::StrCat(
      dir_,
      read_only ? ": a reset interrupted by a crash leaves out every record; "
                  "the log continues at offset "
                : ": finished a reset interrupted by a crash (the log "
                  "continues at offset ",
      next_offset, read_only ? "" : ")"));
  return next_offset;
}

}  // namespace blockwal::wal
