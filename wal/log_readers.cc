// The log's readers: iterators (LogIterator, WaitFor), the byte stream of
// NewReader (LogByteReader), and finding an offset by time.
#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "blockwal/util/status_macros.h"
#include "blockwal/wal/log.h"
#include "blockwal/wal/log_dir.h"
#include "blockwal/wal/segment.h"

namespace blockwal::wal {

// ---------------------------------------------------------------- LogIterator

bool LogIterator::Next(Record* record) {
  if (!status_.ok()) return false;
  if (log_->suffix_epoch_.load(std::memory_order_acquire) != epoch_) {
    // A TruncateSuffix happened since the last call: if it removed records
    // this iterator already returned, their offsets may now hold others.
    status_ = log_->CheckTruncationsSince(&epoch_, next_);
    if (!status_.ok()) return false;
  }
  if (segment_ == nullptr || next_ >= segment_->next_offset()) {
    // Move to the segment holding next_ (or stop at the end of the log).
    segment_ = log_->SegmentFor(next_);
    if (segment_ == nullptr) {
      if (next_ < log_->LowestOffset()) {
        status_ = absl::OutOfRangeError(absl::StrCat(
            log_->dir(), ": offset ", next_, " was truncated; the log starts at ",
            log_->LowestOffset()));
      }
      return false;
    }
  }
  absl::StatusOr<Record> r = segment_->Read(next_, &scratch_);
  if (!r.ok()) {
    status_ = r.status();
    return false;
  }
  *record = *r;
  ++next_;
  return true;
}

bool LogIterator::WaitNext(Record* record, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (cancelled_.load(std::memory_order_acquire)) {
      status_ = absl::CancelledError(
          absl::StrCat(log_->dir(), ": follow cancelled"));
      return false;
    }
    if (Next(record)) return true;
    if (!status_.ok()) return false;
    absl::Status s = log_->WaitFor(next_, deadline, &cancelled_);
    if (absl::IsDeadlineExceeded(s)) return false;  // a timeout, not an error
    if (!s.ok()) {
      status_ = s;
      return false;
    }
  }
}

void LogIterator::Cancel() {
  cancelled_.store(true, std::memory_order_release);
  // absl::Mutex re-evaluates wait conditions when it is released.
  absl::MutexLock lock(&log_->mu_);
}

// ------------------------------------------------------------- LogByteReader

namespace {

// proglog's whole-log Reader: every store's bytes, oldest segment first.
class LogByteReader : public SequentialFile {
 public:
  LogByteReader(std::vector<std::shared_ptr<Segment>> segments,
                std::string name)
      : segments_(std::move(segments)), name_(std::move(name)) {}

  absl::StatusOr<absl::string_view> Read(size_t n, char* scratch) override {
    while (current_ < segments_.size()) {
      Segment& seg = *segments_[current_];
      const uint64_t size = seg.store_size();
      if (position_ < size) {
        const size_t want =
            static_cast<size_t>(std::min<uint64_t>(n, size - position_));
        BW_ASSIGN_OR_RETURN(absl::string_view got,
                            seg.ReadStoreBytes(position_, want, scratch));
        if (got.empty()) {
          return absl::DataLossError(absl::StrCat(
              seg.store_path(), ": store ended at position ", position_,
              " before its recorded size ", size));
        }
        position_ += got.size();
        return got;
      }
      ++current_;
      position_ = 0;
    }
    return absl::string_view();
  }

  absl::Status Skip(uint64_t n) override {
    while (n > 0 && current_ < segments_.size()) {
      const uint64_t left = segments_[current_]->store_size() - position_;
      if (n < left) {
        position_ += n;
        return absl::OkStatus();
      }
      n -= left;
      ++current_;
      position_ = 0;
    }
    return absl::OkStatus();
  }

  const std::string& path() const override { return name_; }

 private:
  // Holding the segments keeps their files readable after a truncation.
  const std::vector<std::shared_ptr<Segment>> segments_;
  const std::string name_;
  size_t current_ = 0;
  uint64_t position_ = 0;
};

}  // namespace

// ------------------------------------------------------------ Log's readers

absl::Status Log::WaitFor(uint64_t offset, absl::Time deadline,
                          const std::atomic<bool>* cancel) const {
  struct Wait {
    const Log* log;
    uint64_t offset;
    const std::atomic<bool>* cancel;
  } wait{this, offset, cancel};
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithDeadline(
      absl::Condition(
          // Evaluated by absl::Mutex with mu_ held; the analysis cannot see
          // that through the function pointer.
          +[](Wait* w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return w->log->closed_ || w->log->stopping_ ||
                   w->cancel->load(std::memory_order_acquire) ||
                   w->log->segments_.back()->next_offset() > w->offset;
          },
          &wait),
      deadline);
  if (cancel->load(std::memory_order_acquire)) {
    return absl::CancelledError(absl::StrCat(dir_, ": wait cancelled"));
  }
  if (segments_.back()->next_offset() > offset) return absl::OkStatus();
  if (closed_ || stopping_) {
    return absl::FailedPreconditionError(absl::StrCat(dir_, ": log is closed"));
  }
  return absl::DeadlineExceededError(
      absl::StrCat(dir_, ": no record at offset ", offset, " yet"));
}

absl::StatusOr<uint64_t> Log::OffsetForTime(uint64_t timestamp_us) const {
  std::vector<std::shared_ptr<const Segment>> segments = Segments();
  // Timestamps never decrease along the log: the first segment whose newest
  // record is at or after the time holds the answer.
  auto seg = std::find_if(
      segments.begin(), segments.end(),
      [&](const std::shared_ptr<const Segment>& s) {
        return s->record_count() > 0 && s->last_timestamp_us() >= timestamp_us;
      });
  if (seg == segments.end()) {
    return absl::NotFoundError(absl::StrCat(
        dir_, ": no record at or after time ", timestamp_us,
        " µs (every record is older, or the log is empty)"));
  }
  uint64_t lo = (*seg)->base_offset();
  uint64_t hi = (*seg)->next_offset() - 1;  // its timestamp is >= the time
  std::string scratch;
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    BW_ASSIGN_OR_RETURN(Record r, (*seg)->Read(mid, &scratch));
    if (r.timestamp_us >= timestamp_us) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo;
}

std::unique_ptr<LogIterator> Log::NewIterator(uint64_t from) const {
  auto it = std::unique_ptr<LogIterator>(new LogIterator(this, from));
  it->epoch_ = suffix_epoch_.load(std::memory_order_acquire);
  return it;
}

std::unique_ptr<SequentialFile> Log::NewReader() const {
  absl::ReaderMutexLock lock(&mu_);
  return std::make_unique<LogByteReader>(segments_, JoinPath(dir_, "<log>"));
}

}  // namespace blockwal::wal
