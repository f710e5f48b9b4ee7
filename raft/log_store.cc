// A raft server's durable state: log, term/vote and snapshots in one
// directory (raft/log_store.h).
#include "blockwal/raft/log_store.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "blockwal/raft/entry_codec.h"
#include "blockwal/util/status_macros.h"

namespace blockwal::raft {

namespace {

// libraft 0.15's raft_configuration_encode pads its output to a multiple of 8
// without clearing the padding; this zeroes it so the stored entry is
// deterministic. The encoding (libraft's configuration.c): version u8, server
// count u64, then per server id u64, address with its NUL, role u8.
void ZeroConfigurationPadding(const struct raft_configuration& conf,
                              struct raft_buffer* buf) {
  size_t n = 1 + 8;
  for (unsigned i = 0; i < conf.n; ++i)
    n += 8 + std::strlen(conf.servers[i].address) + 1 + 1;
  if (n < buf->len)
    std::memset(static_cast<char*>(buf->base) + n, 0, buf->len - n);
}

}  // namespace

absl::StatusOr<std::unique_ptr<LogStore>> LogStore::Open(
    const std::string& dir, const LogStoreOptions& options) {
  BW_RETURN_IF_ERROR(options.fs->CreateDir(dir));
  std::unique_ptr<LogStore> store(new LogStore(dir, options.fs));
  wal::LogOptions log_options;
  log_options.fs = options.fs;
  log_options.initial_offset = 1;
  log_options.max_store_bytes = options.max_store_bytes;
  log_options.max_index_bytes = options.max_index_bytes;
  log_options.sync_policy = wal::SyncPolicy::kNone;  // this store syncs
  BW_ASSIGN_OR_RETURN(
      store->log_,
      wal::Log::Open(JoinPath(dir, kRaftLogDirName), std::move(log_options)));
  BW_ASSIGN_OR_RETURN(store->term_vote_, TermVoteStore::Open(options.fs, dir));
  absl::MutexLock lock(&store->mu_);
  store->next_index_ = store->log_->NextOffset();
  return store;
}

LogStore::~LogStore() = default;

std::string LogStore::Where(uint64_t offset) const {
  return absl::StrCat("raft log ", log_->dir(), " offset ", offset);
}

uint64_t LogStore::next_index() const {
  absl::MutexLock lock(&mu_);
  return next_index_;
}

absl::Status LogStore::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

absl::Status LogStore::Fail(absl::Status s) {
  absl::MutexLock lock(&mu_);
  if (status_.ok() && !s.ok()) status_ = s;
  return s;
}

absl::Status LogStore::CheckWritable() const {
  absl::MutexLock lock(&mu_);
  if (status_.ok()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "raft store ", dir_, " failed earlier: ", status_.message()));
}

absl::StatusOr<uint64_t> LogStore::TermAt(uint64_t index) {
  std::string scratch;
  BW_ASSIGN_OR_RETURN(wal::Record r, log_->Read(index, &scratch));
  if (r.offset != index) {
    return absl::DataLossError(absl::StrCat(
        Where(index), ": read returned the record of offset ", r.offset));
  }
  BW_ASSIGN_OR_RETURN(DecodedEntry e, DecodeEntry(r.value, Where(index)));
  return e.term;
}

absl::Status LogStore::Reconcile(const LoadedSnapshot* snapshot,
                                 std::string* what) {
  const uint64_t lowest = log_->LowestOffset();
  const uint64_t next = log_->NextOffset();
  if (snapshot == nullptr) {
    if (lowest != 1) {
      return absl::DataLossError(
          absl::StrCat("raft log ", log_->dir(), " starts at index ", lowest,
                       " (next ", next, ") but ", dir_, " holds no snapshot"));
    }
    return absl::OkStatus();
  }
  const uint64_t index = snapshot->meta.index;
  if (lowest > index + 1) {
    return absl::DataLossError(absl::StrCat(
        "raft log ", log_->dir(), " starts at index ", lowest, " (next ", next,
        "), after snapshot ", snapshot->file, " at index ", index, ": entries ",
        index + 1, "..", lowest - 1, " are missing"));
  }
  if (next <= index) {
    *what = absl::StrCat("log ended at ", next - 1, ", before snapshot index ",
                         index, ": reset to ", index + 1);
  } else if (lowest <= index) {
    BW_ASSIGN_OR_RETURN(uint64_t term, TermAt(index));
    if (term == snapshot->meta.term) return absl::OkStatus();
    *what = absl::StrCat("log has term ", term, " at snapshot index ", index,
                         ", snapshot term ", snapshot->meta.term, ": reset to ",
                         index + 1);
  } else {
    return absl::OkStatus();  // the log starts right after the snapshot
  }
  return Fail(log_->Reset(index + 1));
}

absl::Status LogStore::ReadEntries(LoadedState* state) {
  const uint64_t lowest = log_->LowestOffset();
  const uint64_t next = log_->NextOffset();
  state->start_index = lowest;
  state->entries.clear();
  state->entries.reserve(next - lowest);
  std::unique_ptr<wal::LogIterator> it = log_->NewIterator(lowest);
  wal::Record r;
  for (uint64_t expected = lowest; expected < next; ++expected) {
    if (!it->Next(&r)) {
      BW_RETURN_IF_ERROR(it->status());
      return absl::DataLossError(absl::StrCat(
          Where(expected), ": log ended before its next offset ", next));
    }
    if (r.offset != expected) {
      return absl::DataLossError(absl::StrCat(
          Where(expected), ": the log returned offset ", r.offset));
    }
    BW_ASSIGN_OR_RETURN(DecodedEntry e, DecodeEntry(r.value, Where(expected)));
    state->entries.push_back({e.term, e.type, std::string(e.payload)});
  }
  return absl::OkStatus();
}

absl::StatusOr<LoadedState> LogStore::Load() {
  LoadedState state;
  state.term_vote = term_vote_->current();
  {
    absl::MutexLock lock(&snapshot_mu_);
    BW_ASSIGN_OR_RETURN(SnapshotLoad snap, LoadSnapshot(fs_, dir_));
    state.snapshot = std::move(snap.snapshot);
    state.damaged_snapshots = std::move(snap.damaged);
  }
  BW_RETURN_IF_ERROR(Reconcile(state.snapshot ? &*state.snapshot : nullptr,
                               &state.reconciled));
  BW_RETURN_IF_ERROR(ReadEntries(&state));
  absl::MutexLock lock(&mu_);
  next_index_ = log_->NextOffset();
  return state;
}

absl::Status LogStore::Bootstrap(const struct raft_configuration& conf) {
  BW_RETURN_IF_ERROR(CheckWritable());
  std::string state;
  if (term_vote_->term() != 0)
    absl::StrAppend(&state, " term ", term_vote_->term());
  BW_ASSIGN_OR_RETURN(std::vector<std::string> snapshots,
                      ListSnapshotFiles(fs_, dir_));
  if (!snapshots.empty())
    absl::StrAppend(&state, " snapshot ", snapshots.back());
  if (std::optional<uint64_t> last = log_->HighestOffset())
    absl::StrAppend(&state, " log entries ", log_->LowestOffset(), "..", *last);
  if (!state.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot bootstrap raft store ", dir_, ": it has state:", state));
  }
  BW_RETURN_IF_ERROR(AppendConfiguration(1, conf).status());
  return SetTerm(1);
}

absl::StatusOr<uint64_t> LogStore::AppendConfiguration(
    uint64_t term, const struct raft_configuration& conf) {
  struct raft_buffer buf = {nullptr, 0};
  if (raft_configuration_encode(&conf, &buf) != 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("raft store ", dir_, ": encoding the configuration"));
  }
  ZeroConfigurationPadding(conf, &buf);
  const EntryRef entry{
      term, RAFT_CHANGE,
      absl::string_view(static_cast<char*>(buf.base), buf.len)};
  absl::StatusOr<uint64_t> index = Append({&entry, 1});
  raft_free(buf.base);
  return index;
}

absl::Status LogStore::SetTerm(uint64_t term) {
  BW_RETURN_IF_ERROR(CheckWritable());
  return Fail(term_vote_->SetTerm(term));
}

absl::Status LogStore::SetVote(uint64_t vote) {
  BW_RETURN_IF_ERROR(CheckWritable());
  return Fail(term_vote_->SetVote(vote));
}

absl::StatusOr<uint64_t> LogStore::Append(absl::Span<const EntryRef> entries) {
  BW_RETURN_IF_ERROR(CheckWritable());
  const uint64_t expected = next_index();
  if (entries.empty()) return expected;
  std::vector<std::string> values;
  std::vector<absl::string_view> views;
  values.reserve(entries.size());
  views.reserve(entries.size());
  for (const EntryRef& e : entries) {
    values.push_back(EncodeEntry(e.term, e.type, e.payload));
    views.push_back(values.back());
  }
  absl::StatusOr<uint64_t> first = log_->AppendBatch(views);
  if (!first.ok()) return Fail(first.status());
  if (*first != expected) {
    return Fail(absl::InternalError(
        absl::StrCat(Where(*first), ": append of ", entries.size(),
                     " entries expected to start at index ", expected)));
  }
  BW_RETURN_IF_ERROR(Fail(log_->Sync()));
  absl::MutexLock lock(&mu_);
  next_index_ = expected + entries.size();
  return expected;
}

absl::Status LogStore::Truncate(uint64_t index) {
  BW_RETURN_IF_ERROR(CheckWritable());
  if (index >= next_index()) return absl::OkStatus();
  if (index == 0 || index < log_->LowestOffset()) {
    return absl::OutOfRangeError(
        absl::StrCat("raft log ", log_->dir(), ": truncate at index ", index,
                     " below its first entry ", log_->LowestOffset()));
  }
  BW_RETURN_IF_ERROR(Fail(log_->TruncateSuffix(index - 1)));
  if (log_->NextOffset() != index) {
    return Fail(absl::InternalError(
        absl::StrCat("raft log ", log_->dir(), ": truncate at index ", index,
                     " left next offset ", log_->NextOffset())));
  }
  absl::MutexLock lock(&mu_);
  next_index_ = index;
  return absl::OkStatus();
}

absl::Status LogStore::SnapshotPut(unsigned trailing, const SnapshotMeta& meta,
                                   absl::Span<const absl::string_view> data) {
  BW_RETURN_IF_ERROR(CheckWritable());
  {
    absl::MutexLock lock(&snapshot_mu_);
    BW_RETURN_IF_ERROR(Fail(PutSnapshot(fs_, dir_, meta, data).status()));
  }
  if (trailing == 0) {
    BW_RETURN_IF_ERROR(Fail(log_->Reset(meta.index + 1)));
    absl::MutexLock lock(&mu_);
    next_index_ = meta.index + 1;
    return absl::OkStatus();
  }
  if (meta.index < trailing) return absl::OkStatus();
  const uint64_t lowest =
      std::min(meta.index - trailing + 1, log_->NextOffset());
  if (lowest <= log_->LowestOffset()) return absl::OkStatus();
  return Fail(log_->TruncatePrefix(lowest));
}

absl::StatusOr<std::optional<LoadedSnapshot>> LogStore::SnapshotGet() {
  absl::MutexLock lock(&snapshot_mu_);
  BW_ASSIGN_OR_RETURN(SnapshotLoad snap, LoadSnapshot(fs_, dir_));
  return std::move(snap.snapshot);
}

}  // namespace blockwal::raft
