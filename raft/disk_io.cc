// The disk half of struct raft_io on a LogStore, with a writer thread and
// completions handed back to the loop (raft/disk_io.h).
#include "blockwal/raft/disk_io.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "blockwal/util/status_macros.h"

namespace blockwal::raft {

namespace {

// The most entries one group commit writes (unless one append has more).
constexpr size_t kMaxGroupEntries = 4096;

DiskIo* Impl(struct raft_io* io) { return static_cast<DiskIo*>(io->impl); }

void FreeRaftSnapshot(struct raft_snapshot* s) {
  if (s == nullptr) return;
  raft_configuration_close(&s->configuration);
  if (s->bufs != nullptr) raft_free(s->bufs[0].base);
  raft_free(s->bufs);
  raft_free(s);
}

}  // namespace

struct DiskIo::Request {
  enum Kind { kAppend, kTruncate, kSnapshotPut, kSnapshotGet };
  explicit Request(Kind k) : kind(k) {}

  const Kind kind;
  int status = 0;
  std::string message;  // of a failure: io->errmsg before the callback
  // kAppend
  struct raft_io_append* append = nullptr;
  const struct raft_entry* entries = nullptr;
  unsigned n = 0;
  // kTruncate
  raft_index index = 0;
  // kSnapshotPut
  unsigned trailing = 0;
  struct raft_io_snapshot_put* put = nullptr;
  const struct raft_snapshot* snapshot = nullptr;
  // kSnapshotGet: the result, owned until handed to the callback
  struct raft_io_snapshot_get* get = nullptr;
  struct raft_snapshot* result = nullptr;

  ~Request() { FreeRaftSnapshot(result); }
};

namespace {

// A raft_malloc'd copy of `loaded` with exactly one buffer, as raft frees it.
absl::StatusOr<struct raft_snapshot*> NewRaftSnapshot(
    const LoadedSnapshot& loaded) {
  auto* s = static_cast<struct raft_snapshot*>(
      raft_calloc(1, sizeof(struct raft_snapshot)));
  if (s == nullptr)
    return absl::ResourceExhaustedError("allocating a raft snapshot");
  s->index = loaded.meta.index;
  s->term = loaded.meta.term;
  s->configuration_index = loaded.meta.configuration_index;
  raft_configuration_init(&s->configuration);
  s->bufs = static_cast<struct raft_buffer*>(
      raft_calloc(1, sizeof(struct raft_buffer)));
  if (s->bufs != nullptr) {
    s->n_bufs = 1;
    s->bufs[0].base = raft_malloc(std::max<size_t>(loaded.data.size(), 1));
  }
  if (s->bufs == nullptr || s->bufs[0].base == nullptr) {
    FreeRaftSnapshot(s);
    return absl::ResourceExhaustedError(
        absl::StrCat("allocating snapshot ", loaded.file));
  }
  std::memcpy(s->bufs[0].base, loaded.data.data(), loaded.data.size());
  s->bufs[0].len = loaded.data.size();
  absl::Status st =
      ToRaftConfiguration(loaded.meta.configuration, &s->configuration);
  if (!st.ok()) {
    FreeRaftSnapshot(s);
    return st;
  }
  return s;
}

// The loaded entries as one raft_malloc'd array whose payloads share one
// batch buffer (raft frees the batch once no entry refers to it).
absl::Status NewRaftEntries(const std::vector<StoredEntry>& stored,
                            struct raft_entry** entries, size_t* n) {
  *entries = nullptr;
  *n = 0;
  if (stored.empty()) return absl::OkStatus();
  size_t bytes = 0;
  for (const StoredEntry& e : stored) bytes += e.payload.size();
  auto* array = static_cast<struct raft_entry*>(
      raft_calloc(stored.size(), sizeof(struct raft_entry)));
  char* batch = static_cast<char*>(raft_malloc(std::max<size_t>(bytes, 1)));
  if (array == nullptr || batch == nullptr) {
    raft_free(array);
    raft_free(batch);
    return absl::ResourceExhaustedError(
        absl::StrCat("allocating ", stored.size(), " loaded entries"));
  }
  char* p = batch;
  for (size_t i = 0; i < stored.size(); ++i) {
    array[i].term = stored[i].term;
    array[i].type = stored[i].type;
    array[i].buf.base = p;
    array[i].buf.len = stored[i].payload.size();
    array[i].batch = batch;
    std::memcpy(p, stored[i].payload.data(), stored[i].payload.size());
    p += stored[i].payload.size();
  }
  *entries = array;
  *n = stored.size();
  return absl::OkStatus();
}

SnapshotMeta MetaOf(const struct raft_snapshot& s) {
  return {s.index, s.term, FromRaftConfiguration(s.configuration),
          s.configuration_index};
}

}  // namespace

int DiskIo::RaftCode(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk:
      return 0;
    case absl::StatusCode::kResourceExhausted:
      return RAFT_NOSPACE;
    case absl::StatusCode::kDataLoss:
      return RAFT_CORRUPT;
    case absl::StatusCode::kCancelled:
      return RAFT_CANCELED;
    case absl::StatusCode::kInvalidArgument:
      return RAFT_INVALID;
    default:
      return RAFT_IOERR;
  }
}

int DiskIo::Report(const absl::Status& s) {
  if (s.ok()) return 0;
  if (io_ != nullptr) {
    std::snprintf(io_->errmsg, sizeof(io_->errmsg), "%s",
                  std::string(s.message()).c_str());
  }
  return RaftCode(s);
}

absl::StatusOr<std::unique_ptr<DiskIo>> DiskIo::Open(
    uv_loop_t* loop, const std::string& dir, const LogStoreOptions& options) {
  std::unique_ptr<DiskIo> d(new DiskIo(loop));
  BW_ASSIGN_OR_RETURN(d->store_, LogStore::Open(dir, options));
  const int rv = uv_async_init(loop, &d->async_, &DiskIo::OnAsync);
  if (rv != 0) {
    return absl::InternalError(
        absl::StrCat("uv_async_init for ", dir, ": ", uv_strerror(rv)));
  }
  d->async_.data = d.get();
  d->writer_ = std::thread([p = d.get()] { p->WriterLoop(); });
  return d;
}

DiskIo::DiskIo(uv_loop_t* loop) : loop_(loop) {}

DiskIo::~DiskIo() {
  if (writer_.joinable()) {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    writer_.join();
  }
}

void DiskIo::Install(struct raft_io* io) {
  io_ = io;
  io->impl = this;
  io->load = &DiskIo::Load;
  io->bootstrap = &DiskIo::Bootstrap;
  io->recover = &DiskIo::Recover;
  io->set_term = &DiskIo::SetTerm;
  io->set_vote = &DiskIo::SetVote;
  io->append = &DiskIo::Append;
  io->truncate = &DiskIo::Truncate;
  io->snapshot_put = &DiskIo::SnapshotPut;
  io->snapshot_get = &DiskIo::SnapshotGet;
  io->close = &DiskIo::Close;
}

// ---- synchronous methods ----

int DiskIo::Load(struct raft_io* io, raft_term* term, raft_id* vote,
                 struct raft_snapshot** snapshot, raft_index* start_index,
                 struct raft_entry** entries, size_t* n_entries) {
  DiskIo* d = Impl(io);
  absl::StatusOr<LoadedState> state = d->store_->Load();
  if (!state.ok()) return d->Report(state.status());
  struct raft_snapshot* snap = nullptr;
  if (state->snapshot) {
    absl::StatusOr<struct raft_snapshot*> s = NewRaftSnapshot(*state->snapshot);
    if (!s.ok()) return d->Report(s.status());
    snap = *s;
  }
  absl::Status s = NewRaftEntries(state->entries, entries, n_entries);
  if (!s.ok()) {
    FreeRaftSnapshot(snap);
    return d->Report(s);
  }
  *term = state->term_vote.term;
  *vote = state->term_vote.vote;
  *snapshot = snap;
  *start_index = state->start_index;
  return 0;
}

int DiskIo::Bootstrap(struct raft_io* io,
                      const struct raft_configuration* conf) {
  DiskIo* d = Impl(io);
  absl::Status s = d->store_->Bootstrap(*conf);
  if (s.code() == absl::StatusCode::kFailedPrecondition &&
      d->store_->status().ok()) {
    d->Report(s);
    return RAFT_CANTBOOTSTRAP;
  }
  return d->Report(s);
}

// raft_recover: a new configuration entry after the last entry, with a term
// no lower than any the log or the snapshot holds.
int DiskIo::Recover(struct raft_io* io, const struct raft_configuration* conf) {
  DiskIo* d = Impl(io);
  absl::StatusOr<LoadedState> state = d->store_->Load();
  if (!state.ok()) return d->Report(state.status());
  uint64_t term = std::max<uint64_t>(state->term_vote.term, 1);
  if (state->snapshot) term = std::max(term, state->snapshot->meta.term);
  if (!state->entries.empty())
    term = std::max(term, state->entries.back().term);
  return d->Report(d->store_->AppendConfiguration(term, *conf).status());
}

int DiskIo::SetTerm(struct raft_io* io, raft_term term) {
  DiskIo* d = Impl(io);
  return d->Report(d->store_->SetTerm(term));
}

int DiskIo::SetVote(struct raft_io* io, raft_id vote) {
  DiskIo* d = Impl(io);
  return d->Report(d->store_->SetVote(vote));
}

// ---- queued requests ----

int DiskIo::Submit(std::unique_ptr<Request> r) {
  if (closing_) return RAFT_CANCELED;
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(r));
  return 0;
}

int DiskIo::Append(struct raft_io* io, struct raft_io_append* req,
                   const struct raft_entry entries[], unsigned n,
                   raft_io_append_cb cb) {
  // The 8-byte wire rule (raft/entry_codec.h): libraft's TCP decoder walks
  // a batch assuming every payload is padded to a multiple of 8, so an
  // unpadded command would reach followers as garbage. Refused here, before
  // it is stored or sent: raft_apply then fails with RAFT_INVALID and raft
  // discards the entries.
  for (unsigned i = 0; i < n; ++i) {
    if (entries[i].type == RAFT_COMMAND && entries[i].buf.len % 8 != 0) {
      return Impl(io)->Report(absl::InvalidArgumentError(absl::StrCat(
          "entry ", i + 1, " of ", n, ": command payload of ",
          entries[i].buf.len,
          " bytes is not padded to a multiple of 8 (PadCommand)")));
    }
  }
  req->cb = cb;
  auto r = std::make_unique<Request>(Request::kAppend);
  r->append = req;
  r->entries = entries;
  r->n = n;
  return Impl(io)->Submit(std::move(r));
}

int DiskIo::Truncate(struct raft_io* io, raft_index index) {
  auto r = std::make_unique<Request>(Request::kTruncate);
  r->index = index;
  return Impl(io)->Submit(std::move(r));
}

int DiskIo::SnapshotPut(struct raft_io* io, unsigned trailing,
                        struct raft_io_snapshot_put* req,
                        const struct raft_snapshot* snapshot,
                        raft_io_snapshot_put_cb cb) {
  req->cb = cb;
  auto r = std::make_unique<Request>(Request::kSnapshotPut);
  r->trailing = trailing;
  r->put = req;
  r->snapshot = snapshot;
  return Impl(io)->Submit(std::move(r));
}

int DiskIo::SnapshotGet(struct raft_io* io, struct raft_io_snapshot_get* req,
                        raft_io_snapshot_get_cb cb) {
  req->cb = cb;
  auto r = std::make_unique<Request>(Request::kSnapshotGet);
  r->get = req;
  return Impl(io)->Submit(std::move(r));
}

// ---- the writer thread ----

void DiskIo::WriterLoop() {
  for (;;) {
    std::deque<std::unique_ptr<Request>> step;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](DiskIo* d) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return d->stopping_ || !d->queue_.empty();
          },
          this));
      if (stopping_) {
        for (auto& r : queue_) {
          r->status = RAFT_CANCELED;
          r->message = absl::StrCat("raft store ", store_->dir(),
                                    ": closed before the request ran");
          done_.push_back(std::move(r));
        }
        queue_.clear();
        return;  // Close drains done_ once the async handle is closed
      }
      // The appends at the front together (up to kMaxGroupEntries entries,
      // so a group fits a segment's index), or one other request.
      size_t entries = 0;
      do {
        entries += queue_.front()->n;
        step.push_back(std::move(queue_.front()));
        queue_.pop_front();
      } while (step.front()->kind == Request::kAppend && !queue_.empty() &&
               queue_.front()->kind == Request::kAppend &&
               entries + queue_.front()->n <= kMaxGroupEntries);
    }
    Run(&step);
    {
      absl::MutexLock lock(&mu_);
      for (auto& r : step) done_.push_back(std::move(r));
    }
    uv_async_send(&async_);
  }
}

void DiskIo::Run(std::deque<std::unique_ptr<Request>>* step) {
  Request& first = *step->front();
  absl::Status s;
  switch (first.kind) {
    case Request::kAppend: {
      std::vector<EntryRef> refs;
      for (const auto& r : *step) {
        for (unsigned i = 0; i < r->n; ++i) {
          const struct raft_entry& e = r->entries[i];
          refs.push_back(
              {e.term, static_cast<uint8_t>(e.type),
               absl::string_view(static_cast<const char*>(e.buf.base),
                                 e.buf.len)});
        }
      }
      s = store_->Append(refs).status();
      break;
    }
    case Request::kTruncate:
      s = store_->Truncate(first.index);
      break;
    case Request::kSnapshotPut: {
      std::vector<absl::string_view> data;
      for (unsigned i = 0; i < first.snapshot->n_bufs; ++i) {
        const struct raft_buffer& b = first.snapshot->bufs[i];
        data.emplace_back(static_cast<const char*>(b.base), b.len);
      }
      s = store_->SnapshotPut(first.trailing, MetaOf(*first.snapshot), data);
      break;
    }
    case Request::kSnapshotGet: {
      absl::StatusOr<std::optional<LoadedSnapshot>> got = store_->SnapshotGet();
      if (!got.ok()) {
        s = got.status();
      } else if (!got->has_value()) {
        s = absl::NotFoundError(absl::StrCat("no snapshot in ", store_->dir()));
      } else {
        absl::StatusOr<struct raft_snapshot*> snap = NewRaftSnapshot(**got);
        s = snap.status();
        if (snap.ok()) first.result = *snap;
      }
      break;
    }
  }
  const int code =
      s.code() == absl::StatusCode::kNotFound ? RAFT_NOTFOUND : RaftCode(s);
  for (auto& r : *step) {
    r->status = code;
    if (!s.ok()) r->message = std::string(s.message());
  }
}

// ---- completions on the loop ----

void DiskIo::DrainCompletions() {
  std::deque<std::unique_ptr<Request>> done;
  {
    absl::MutexLock lock(&mu_);
    done.swap(done_);
  }
  for (auto& r : done) {
    // As for a synchronous failure: raft reads io->errmsg in the callback.
    if (r->status != 0 && io_ != nullptr) {
      std::snprintf(io_->errmsg, sizeof(io_->errmsg), "%s",
                    r->message.c_str());
    }
    switch (r->kind) {
      case Request::kAppend:
        r->append->cb(r->append, r->status);
        break;
      case Request::kTruncate:
        break;  // no callback; a failure is the store's sticky error
      case Request::kSnapshotPut:
        r->put->cb(r->put, r->status);
        break;
      case Request::kSnapshotGet: {
        struct raft_snapshot* result = std::exchange(r->result, nullptr);
        r->get->cb(r->get, result, r->status);
        break;
      }
    }
  }
}

void DiskIo::OnAsync(uv_async_t* handle) {
  static_cast<DiskIo*>(handle->data)->DrainCompletions();
}

void DiskIo::Close(struct raft_io* io, raft_io_close_cb cb) {
  DiskIo* d = Impl(io);
  d->closing_ = true;
  d->close_cb_ = cb;
  {
    absl::MutexLock lock(&d->mu_);
    d->stopping_ = true;
  }
  d->writer_.join();  // waits for the step in progress at most
  uv_close(reinterpret_cast<uv_handle_t*>(&d->async_), &DiskIo::OnAsyncClosed);
}

void DiskIo::OnAsyncClosed(uv_handle_t* handle) {
  DiskIo* d = static_cast<DiskIo*>(handle->data);
  d->DrainCompletions();  // finished requests, then the cancelled ones
  if (d->close_cb_ != nullptr) d->close_cb_(d->io_);
}

}  // namespace blockwal::raft
