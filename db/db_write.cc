// DB's write path: group commit (the writer at the front of the queue
// appends the queued batches as one WAL write), the sticky write error, and
// resuming writes after a full disk (db/db.h).
#include <cassert>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "blockwal/db/db.h"
#include "blockwal/db/memtable.h"
#include "blockwal/util/status_macros.h"

namespace blockwal::db {

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
        FailQueuedLocked(s);
        return s;
      }
    }
    CommitGroupLocked();
    checkpoint = StartAutoCheckpointLocked();
    if (!w.status.ok()) return w.status;
  }
  if (checkpoint) RunAutoCheckpoint();
  return absl::OkStatus();
}

void DB::FailQueuedLocked(const absl::Status& s) {
  for (PendingWrite* pw : writers_) {
    pw->status = s;
    pw->done = true;
  }
  writers_.clear();
}

void DB::CommitGroupLocked() {
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
  const absl::StatusOr<uint64_t> offset = AppendGroupLocked(group);
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
}

absl::StatusOr<uint64_t> DB::AppendGroupLocked(
    absl::Span<const absl::string_view> group) {
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
  return offset;
}

bool DB::StartAutoCheckpointLocked() {
  if (options_.auto_checkpoint_bytes > 0 &&
      bytes_since_checkpoint_ >= options_.auto_checkpoint_bytes &&
      !auto_checkpoint_running_) {
    auto_checkpoint_running_ = true;
    return true;
  }
  return false;
}

void DB::RunAutoCheckpoint() {
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

}  // namespace blockwal::db
