#include "blockwal/wal/log.h"

#include <algorithm>
#include <functional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "blockwal/util/coding.h"
#include "blockwal/util/crc32c.h"
#include "blockwal/util/status_macros.h"
#include "blockwal/wal/log_dir.h"
#include "blockwal/wal/segment.h"

namespace blockwal::wal {

namespace {

uint64_t SystemClockMicros() { return absl::ToUnixMicros(absl::Now()); }

// How many times a read-only open looks again after a file it listed
// vanished (a writer's truncation removed it meanwhile).
constexpr int kReadOnlyRetries = 3;

}  // namespace

// ------------------------------------------------------------------------ Log

Log::Log(std::string dir, LogOptions options)
    : dir_(std::move(dir)), options_(std::move(options)) {}

Log::~Log() {
  // Errors cannot be reported from a destructor; callers who care Close().
  absl::Status ignored = Close();
  (void)ignored;
}

absl::StatusOr<std::unique_ptr<Log>> Log::Open(const std::string& dir,
                                               LogOptions options) {
  return OpenWithLock(dir, std::move(options), nullptr);
}

absl::StatusOr<std::unique_ptr<Log>> Log::OpenWithLock(
    const std::string& dir, LogOptions options, std::unique_ptr<FileLock> lock) {
  if (options.fs == nullptr) {
    return absl::InvalidArgumentError("LogOptions.fs must not be null");
  }
  if (options.max_index_bytes < kIndexEntrySize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "LogOptions.max_index_bytes must hold at least one ", kIndexEntrySize,
        "-byte entry, got ", options.max_index_bytes));
  }
  if (options.max_store_bytes == 0) {
    return absl::InvalidArgumentError("LogOptions.max_store_bytes must be > 0");
  }
  if (!options.clock_us) options.clock_us = SystemClockMicros;
  const absl::Time start = absl::Now();
  std::unique_ptr<Log> log(new Log(dir, options));
  log->lock_ = std::move(lock);
  absl::Status recovered = log->Recover();
  // A read-only open races the writer's truncations, which remove files it
  // listed (kNotFound): look again, a few times, at the newer state.
  for (int retry = 0; options.read_only && absl::IsNotFound(recovered) &&
                      retry < kReadOnlyRetries;
       ++retry) {
    if (!options.fs->FileExists(dir).value_or(false)) break;
    log.reset(new Log(dir, options));
    recovered = log->Recover();
  }
  BW_RETURN_IF_ERROR(recovered);
  log->report_.elapsed_us =
      static_cast<uint64_t>(absl::ToInt64Microseconds(absl::Now() - start));
  for (const std::string& w : log->report_.warnings) {
    if (log->options_.warning_sink) log->options_.warning_sink(w);
  }
  if (log->options_.sync_policy == SyncPolicy::kInterval &&
      !log->options_.read_only) {
    log->sync_thread_ = std::thread([l = log.get()] { l->BackgroundSync(); });
  }
  return log;
}

absl::Status Log::CheckWritable() const {
  if (options_.read_only) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir_, ": log is open read-only"));
  }
  if (closed_) {
    return absl::FailedPreconditionError(absl::StrCat(dir_, ": log is closed"));
  }
  if (!sticky_error_.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        dir_, ": log is read-only after an earlier write failure: ",
        sticky_error_.message()));
  }
  return absl::OkStatus();
}

absl::Status Log::SyncStep(absl::Status s) {
  if (!s.ok()) sync_failed_ = true;
  return s;
}

void Log::FailWrite(const absl::Status& s) {
  if (sticky_error_.ok() && !s.ok()) {
    sticky_error_ = s;
    // A full disk met by a write, a create or an index's reservation.
    write_failure_ =
        s.code() == absl::StatusCode::kResourceExhausted && !sync_failed_
            ? WriteFailure::kNoSpace
            : WriteFailure::kOther;
  }
}

absl::Status Log::Fail(const absl::Status& s) {
  if (sticky_error_.ok() && !s.ok()) {
    sticky_error_ = s;
    write_failure_ = WriteFailure::kOther;
  }
  return s;
}

WriteFailure Log::write_failure() const {
  absl::MutexLock lock(&mu_);
  return write_failure_;
}

uint64_t Log::NextTimestamp() {
  last_timestamp_us_ = std::max(last_timestamp_us_, options_.clock_us());
  return last_timestamp_us_;
}

// One queued request: an append (a batch), a sync, or an exclusive operation.
struct Log::Writer {
  enum class Kind { kAppend, kSync, kExclusive };
  Kind kind = Kind::kAppend;
  absl::Span<const absl::string_view> values;  // kAppend
  uint64_t bytes = 0;                          // kAppend: store bytes
  const std::function<absl::Status()>* op = nullptr;  // kExclusive
  bool done = false;  // under mu_: the writer may return
  absl::Status status;
  // Set by the leader without mu_ (followers read neither until done).
  bool written = false;       // kAppend: its records are in the log
  uint64_t first_offset = 0;  // kAppend: set when written
};

absl::StatusOr<std::shared_ptr<Segment>> Log::SealAndCreateNext(
    Segment& active) {
  // Seal first (store and index synced, index truncated) and make the new
  // segment's files durable before any byte goes to it, so no later segment
  // can outlive data of an earlier one. The store is flushed apart from the
  // seal's syncs, so a full disk met by that write is told from a failed
  // sync (WriteFailure).
  BW_RETURN_IF_ERROR(active.Flush());
  BW_RETURN_IF_ERROR(SyncStep(active.Seal()));
  BW_ASSIGN_OR_RETURN(std::unique_ptr<Segment> created,
                      Segment::Create(dir_, active.next_offset(), options_));
  BW_RETURN_IF_ERROR(SyncStep(options_.fs->SyncDir(dir_)));
  return std::shared_ptr<Segment>(std::move(created));
}

void Log::PublishRolled(std::shared_ptr<Segment> seg) {
  segments_.push_back(std::move(seg));
  ++stats_.rolls;
}

absl::StatusOr<std::shared_ptr<Segment>> Log::Roll(Segment& active) {
  // Meanwhile readers keep reading `active` (sealing does not disturb them)
  // and do not see the new segment: NextOffset() stays where `active` ends.
  BW_ASSIGN_OR_RETURN(std::shared_ptr<Segment> seg, SealAndCreateNext(active));
  absl::MutexLock lock(&mu_);
  PublishRolled(seg);
  return seg;
}

absl::StatusOr<std::shared_ptr<Segment>> Log::RollLocked(Segment& active) {
  BW_ASSIGN_OR_RETURN(std::shared_ptr<Segment> seg, SealAndCreateNext(active));
  PublishRolled(seg);
  return seg;
}

bool Log::NeedsIntervalSync(uint64_t bytes) const {
  return options_.sync_policy == SyncPolicy::kInterval &&
         options_.sync_interval_bytes > 0 &&
         unsynced_bytes_ + bytes >= options_.sync_interval_bytes;
}

bool Log::NeedsRoll(const Segment& active, uint64_t records,
                    uint64_t bytes) const {
  // A segment rolls once its store reaches the limit. A batch goes whole to
  // one segment, so it rolls first when it would cross the limit, unless the
  // segment is empty (a batch larger than a segment still gets one).
  if (active.record_count() == 0) return false;
  return active.IsFull() || !active.HasIndexRoomFor(records) ||
         (records > 1 && active.store_size() + bytes > options_.max_store_bytes);
}

absl::Status Log::RunWriter(Writer* w) {
  // A lone append that needs no sync and no roll writes buffers only: with
  // nobody queued there is no order to keep, so it skips the queue (mu_
  // stays held, so nobody can queue meanwhile).
  const bool alone =
      writers_.empty() && w->kind == Writer::Kind::kAppend &&
      options_.sync_policy != SyncPolicy::kEveryAppend &&
      !NeedsIntervalSync(w->bytes) &&
      !NeedsRoll(*segments_.back(), w->values.size(), w->bytes);
  if (!alone) {
    writers_.push_back(w);
    struct Turn {
      Log* log;
      Writer* w;
    } turn{this, w};
    mu_.Await(absl::Condition(
        // absl::Mutex evaluates a Condition with mu_ held; the analysis
        // cannot see that through the function pointer.
        +[](Turn* t) ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return t->w->done || t->log->writers_.front() == t->w;
        },
        &turn));
    if (w->done) return w->status;
  }

  // w leads until its work is done and popped from writers_ (all under mu_
  // from here to the return, apart from where WriteGroup lets go of it).
  ThreadRoleScope lead(&leader_);
  // An exclusive operation runs alone, with mu_ held.
  if (w->kind == Writer::Kind::kExclusive) {
    w->status = (*w->op)();
    w->done = true;
    writers_.pop_front();
    return w->status;
  }
  std::vector<Writer*>& group = group_;
  uint64_t group_bytes = 0;
  bool sync = false;
  if (alone) {
    group.assign(1, w);
    group_bytes = w->bytes;
  } else {
    group_bytes = TakeGroup(&sync);
  }

  // A flush a reader did may have failed and broken the store's writer: that
  // is a write failure of the log like any other.
  FailWrite(segments_.back()->WriteStatus());
  absl::Status status = CheckWritable();
  if (status.ok()) {
    status = WriteGroup(sync);
    FailWrite(status);
  }
  uint64_t appends = 0;
  uint64_t value_bytes = 0;
  for (Writer* q : group) {
    // Under kNone/kInterval an append written before a failure is as good as
    // any unsynced append; one that needed the failed sync is not.
    if (!q->written || sync) q->status = status;
    if (q->kind == Writer::Kind::kAppend && q->status.ok()) {
      ++appends;
      stats_.records += q->values.size();
      value_bytes += q->bytes - q->values.size() * (kEnvelopeSize + kHeaderSize);
    }
    q->done = true;
    if (!alone) writers_.pop_front();
  }
  if (status.ok()) {
    unsynced_bytes_ = sync ? 0 : unsynced_bytes_ + group_bytes;
    if (appends > 0) {
      stats_.appends += appends;
      stats_.value_bytes += value_bytes;
      ++stats_.groups;
      stats_.group_size.Add(appends);
    }
  }
  return w->status;
}

uint64_t Log::TakeGroup(bool* sync) {
  group_.clear();
  uint64_t group_bytes = 0;
  for (Writer* q : writers_) {
    if (q->kind == Writer::Kind::kExclusive) break;
    if (!group_.empty() && q->kind == Writer::Kind::kAppend &&
        group_bytes + q->bytes > options_.max_group_bytes) {
      break;
    }
    group_.push_back(q);
    group_bytes += q->bytes;
    if (q->kind == Writer::Kind::kSync) *sync = true;
    if (q->kind == Writer::Kind::kAppend &&
        options_.sync_policy == SyncPolicy::kEveryAppend) {
      *sync = true;
    }
  }
  if (NeedsIntervalSync(group_bytes)) *sync = true;
  return group_bytes;
}

// A group write in progress (WriteGroup and the functions it runs).
struct Log::GroupWrite {
  const std::vector<Writer*>& group;
  bool sync;              // ends with an fdatasync
  Writer* last_append;    // its record carries the sync marker when `sync`
  uint64_t timestamp_us;  // shared by the group's records
  // The last segment; owned by segments_ (only the leader changes it).
  Segment* active;
  size_t next = 0;  // group[0, next) are written
};

absl::Status Log::WriteGroup(bool sync) {
  // The last append of a synced group carries the sync marker: recovery
  // takes a marked record after damage as proof the damage hit data that was
  // acknowledged as durable.
  Writer* last_append = nullptr;
  for (Writer* q : group_) {
    if (q->kind == Writer::Kind::kAppend) last_append = q;
  }
  // One clock read per group: its appends share the timestamp. The active
  // segment stays in segments_ while the group runs: only exclusive
  // operations remove segments, and they wait their turn.
  GroupWrite g{.group = group_,
               .sync = sync,
               .last_append = last_append,
               .timestamp_us = last_append != nullptr ? NextTimestamp() : 0,
               .active = segments_.back().get()};
  if (!sync) {
    // Buffered writes only: cheaper under mu_ than letting go of it.
    BW_RETURN_IF_ERROR(AppendUntilRoll(&g));
    if (g.next == g.group.size()) return absl::OkStatus();
  }
  // An fdatasync, or a roll (its seal syncs the store and the index, its new
  // files and the directory are synced), happens without mu_, so readers and
  // new writers are not held up: new writers queue behind the group and form
  // the next.
  mu_.Unlock();
  absl::Status status = FinishGroupUnlocked(&g);
  mu_.Lock();
  return status;
}

absl::Status Log::AppendUntilRoll(GroupWrite* g) {
  for (; g->next < g->group.size(); ++g->next) {
    Writer* q = g->group[g->next];
    if (q->kind != Writer::Kind::kAppend) continue;
    if (NeedsRoll(*g->active, q->values.size(), q->bytes)) break;
    const uint8_t flags = (g->sync && q == g->last_append) ? kSyncMarker : 0;
    BW_ASSIGN_OR_RETURN(q->first_offset,
                        g->active->Append(q->values, g->timestamp_us, flags));
    q->written = true;
  }
  return absl::OkStatus();
}

absl::Status Log::FinishGroupUnlocked(GroupWrite* g) {
  while (true) {
    BW_RETURN_IF_ERROR(AppendUntilRoll(g));
    if (g->next == g->group.size()) break;
    BW_ASSIGN_OR_RETURN(std::shared_ptr<Segment> rolled, Roll(*g->active));
    g->active = rolled.get();  // owned by segments_ from now on
  }
  if (g->sync) {
    // Written apart from the fdatasync, so a full disk met by the write is
    // told from a failed sync (WriteFailure).
    BW_RETURN_IF_ERROR(g->active->Flush());
    const absl::Time start = absl::Now();
    BW_RETURN_IF_ERROR(SyncStep(g->active->Sync()));
    const uint64_t us =
        static_cast<uint64_t>(absl::ToInt64Microseconds(absl::Now() - start));
    absl::MutexLock lock(&mu_);
    ++stats_.syncs;
    stats_.sync_latency_us.Add(us);
  }
  return absl::OkStatus();
}

absl::Status Log::RunExclusive(const std::function<absl::Status()>& op) {
  Writer w;
  w.kind = Writer::Kind::kExclusive;
  w.op = &op;
  absl::MutexLock lock(&mu_);
  return RunWriter(&w);
}

absl::StatusOr<uint64_t> Log::Append(absl::string_view value) {
  return AppendBatch(absl::MakeConstSpan(&value, 1));
}

absl::StatusOr<uint64_t> Log::AppendBatch(
    absl::Span<const absl::string_view> values) {
  if (values.empty()) {
    return absl::InvalidArgumentError("AppendBatch needs at least one value");
  }
  const uint64_t max_records = options_.max_index_bytes / kIndexEntrySize;
  if (values.size() > max_records) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a batch of ", values.size(), " records does not fit one segment's "
        "index (", max_records, " entries)"));
  }
  Writer w;
  w.values = values;
  for (absl::string_view v : values) {
    w.bytes += v.size() + kEnvelopeSize + kHeaderSize;
  }
  absl::MutexLock lock(&mu_);
  BW_RETURN_IF_ERROR(RunWriter(&w));
  return w.first_offset;
}

namespace {

// Whether `view` lies within `s`'s bytes. std::less: a total order even for
// pointers into different objects, which `<` does not promise.
bool PointsInto(absl::string_view view, const std::string& s) {
  const std::less<const char*> before;
  return !before(view.data(), s.data()) &&
         !before(s.data() + s.size(), view.data() + view.size());
}

}  // namespace

std::shared_ptr<Segment> Log::SegmentFor(uint64_t offset) const {
  absl::ReaderMutexLock lock(&mu_);
  // Segments are sorted by base offset: find the last with base <= offset.
  auto it = std::upper_bound(
      segments_.begin(), segments_.end(), offset,
      [](uint64_t o, const std::shared_ptr<Segment>& s) {
        return o < s->base_offset();
      });
  if (it == segments_.begin()) return nullptr;
  --it;
  if (offset >= (*it)->next_offset()) return nullptr;
  return *it;
}

absl::StatusOr<Record> Log::Read(uint64_t offset, std::string* scratch) const {
  std::shared_ptr<Segment> seg = SegmentFor(offset);
  if (seg == nullptr) {
    const uint64_t lo = LowestOffset(), next = NextOffset();
    return absl::OutOfRangeError(
        lo == next ? absl::StrCat(dir_, ": offset ", offset,
                                  " is not in the log, which is empty (next "
                                  "offset ", next, ")")
                   : absl::StrCat(dir_, ": offset ", offset,
                                  " is outside the log's range [", lo, ", ",
                                  next, ")"));
  }
  // The segment may return a view of its own memory (a read-only mapping,
  // after a walk past a damaged index entry), which lives only as long as
  // the segment: `seg` is released on return and a truncation may then
  // destroy it. Copy such a value into *scratch, as the contract says.
  BW_ASSIGN_OR_RETURN(Record r, seg->Read(offset, scratch));
  if (!PointsInto(r.value, *scratch)) {
    scratch->assign(r.value.data(), r.value.size());
    r.value = *scratch;
  }
  return r;
}

uint64_t Log::LowestOffset() const {
  absl::ReaderMutexLock lock(&mu_);
  return segments_.front()->base_offset();
}

uint64_t Log::NextOffset() const {
  absl::ReaderMutexLock lock(&mu_);
  return segments_.back()->next_offset();
}

std::optional<uint64_t> Log::HighestOffset() const {
  absl::ReaderMutexLock lock(&mu_);
  const uint64_t next = segments_.back()->next_offset();
  if (next == segments_.front()->base_offset()) return std::nullopt;
  return next - 1;
}

std::vector<std::shared_ptr<const Segment>> Log::Segments() const {
  absl::ReaderMutexLock lock(&mu_);
  return std::vector<std::shared_ptr<const Segment>>(segments_.begin(),
                                                     segments_.end());
}

absl::Status Log::Sync() {
  Writer w;
  w.kind = Writer::Kind::kSync;
  absl::MutexLock lock(&mu_);
  return RunWriter(&w);
}

absl::Status Log::Close() {
  {
    absl::MutexLock lock(&mu_);
    if (closed_ || stopping_) {
      return absl::FailedPreconditionError(
          absl::StrCat(dir_, ": log is closed"));
    }
    stopping_ = true;
  }
  if (sync_thread_.joinable()) sync_thread_.join();
  return RunExclusive([&]() -> absl::Status {
    mu_.AssertHeld();
    leader_.AssertHeld();
    closed_ = true;
    absl::Status s = sticky_error_;
    if (s.ok() && !segments_.empty()) s = segments_.back()->Seal();
    lock_.reset();
    return s;
  });
}

void Log::BackgroundSync() {
  absl::MutexLock lock(&mu_);
  while (true) {
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.sync_interval);
    if (stopping_) return;
    if (unsynced_bytes_ == 0 || !sticky_error_.ok()) continue;
    Writer w;
    w.kind = Writer::Kind::kSync;
    // An error is sticky and reported to the appenders; nothing to do here.
    RunWriter(&w).IgnoreError();
  }
}

LogStats Log::GetStats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace blockwal::wal
