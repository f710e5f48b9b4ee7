// The raft server's durable state (raft/log_store.h): load of a new
// directory, bootstrap, append/truncate/reload, both forms of snapshot put,
// reconciling the log with the snapshot at load, sticky failures (fault
// injection), and the crash states of a sequence of operations.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "blockwal/raft/entry_codec.h"
#include "blockwal/raft/log_store.h"
#include "blockwal/util/fault_injection_file_system.h"
#include "blockwal/util/mem_file_system.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/crash/crash_states.h"
#include "tests/status_matchers.h"

namespace blockwal::raft {
namespace {

using ::blockwal::testing::IsOkAndHolds;
using ::blockwal::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kDir[] = "/r";

}  // namespace

void PrintTo(const StoredEntry& e, std::ostream* os) {
  *os << "{term " << e.term << ", type " << int{e.type} << ", payload \""
      << absl::CEscape(e.payload) << "\"}";
}

namespace {

SnapshotMeta Meta(uint64_t index, uint64_t term) {
  return {index, term, {{1, "127.0.0.1:9001", RAFT_VOTER}}, 1};
}
std::string SnapData(uint64_t index) { return absl::StrCat("snap-", index); }
std::string Payload(uint64_t index, uint64_t term) {
  return absl::StrCat("entry ", index, " term ", term);
}

// Appends entries first..last with `term` (payloads from Payload) as one
// batch.
absl::StatusOr<uint64_t> AppendEntries(LogStore* store, uint64_t first,
                                       uint64_t last, uint64_t term) {
  std::vector<std::string> payloads;
  std::vector<EntryRef> refs;
  for (uint64_t i = first; i <= last; ++i) payloads.push_back(Payload(i, term));
  for (const std::string& p : payloads) refs.push_back({term, RAFT_COMMAND, p});
  return store->Append(refs);
}

// Removes the store's log (a closed one).
void RemoveLog(FileSystem* fs) {
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> names,
                       fs->GetChildren("/r/log"));
  for (const std::string& name : names)
    ASSERT_OK(fs->RemoveFile(JoinPath("/r/log", name)));
}

LogStoreOptions SmallSegments(FileSystem* fs) {
  LogStoreOptions o;
  o.fs = fs;
  o.max_store_bytes = 512;  // a few entries per segment
  o.max_index_bytes = 12 * 64;
  return o;
}

class LogStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<LogStore> Open() {
    absl::StatusOr<std::unique_ptr<LogStore>> s =
        LogStore::Open(kDir, SmallSegments(&fs_));
    EXPECT_OK(s);
    return s.ok() ? *std::move(s) : nullptr;
  }
  LoadedState Reload() {
    store_.reset();
    store_ = Open();
    absl::StatusOr<LoadedState> state = store_->Load();
    EXPECT_OK(state);
    return state.ok() ? *std::move(state) : LoadedState();
  }
  // Appends entries first..last with `term` (payloads from Payload).
  void AppendRange(uint64_t first, uint64_t last, uint64_t term) {
    ASSERT_THAT(AppendEntries(store_.get(), first, last, term),
                IsOkAndHolds(first));
  }
  absl::Status PutSnap(unsigned trailing, uint64_t index, uint64_t term) {
    const std::string data = SnapData(index);
    const absl::string_view bufs[] = {data};
    return store_->SnapshotPut(trailing, Meta(index, term), bufs);
  }
  // Entries first..last of s are (term, Payload); s ends at or after last.
  void ExpectEntries(const LoadedState& s, uint64_t first, uint64_t last,
                     uint64_t term) {
    ASSERT_LE(s.start_index, first);
    ASSERT_GE(s.start_index + s.entries.size(), last + 1);
    for (uint64_t i = first; i <= last; ++i) {
      EXPECT_EQ(s.entries[i - s.start_index],
                (StoredEntry{term, RAFT_COMMAND, Payload(i, term)}))
          << "index " << i;
    }
  }

  FaultInjectionFileSystem fs_{NewMemFileSystem()};
  std::unique_ptr<LogStore> store_ = Open();
};

TEST_F(LogStoreTest, EmptyDirectoryLoadsNothing) {
  ASSERT_OK_AND_ASSIGN(LoadedState s, store_->Load());
  EXPECT_EQ(s.term_vote, (TermVote{0, 0}));
  EXPECT_FALSE(s.snapshot.has_value());
  EXPECT_EQ(s.start_index, 1u);
  EXPECT_THAT(s.entries, IsEmpty());
  EXPECT_EQ(s.reconciled, "");
  EXPECT_EQ(store_->next_index(), 1u);
}

struct RaftConf {
  RaftConf() {
    raft_configuration_init(&conf);
    EXPECT_EQ(raft_configuration_add(&conf, 1, "127.0.0.1:9001", RAFT_VOTER),
              0);
    EXPECT_EQ(raft_configuration_add(&conf, 2, "127.0.0.1:9002", RAFT_SPARE),
              0);
  }
  ~RaftConf() { raft_configuration_close(&conf); }
  std::string Encoded() const {
    struct raft_buffer buf;
    EXPECT_EQ(raft_configuration_encode(&conf, &buf), 0);
    std::string s(static_cast<char*>(buf.base), buf.len);
    raft_free(buf.base);
    return s;
  }
  struct raft_configuration conf;
};

TEST_F(LogStoreTest, BootstrapWritesTheConfigurationEntryAndTermOne) {
  RaftConf conf;
  ASSERT_OK(store_->Bootstrap(conf.conf));
  EXPECT_EQ(store_->next_index(), 2u);
  LoadedState s = Reload();
  EXPECT_EQ(s.term_vote, (TermVote{1, 0}));
  EXPECT_FALSE(s.snapshot.has_value());
  ASSERT_EQ(s.start_index, 1u);
  ASSERT_EQ(s.entries.size(), 1u);
  // libraft's encoding, its padding (from byte 57) zeroed.
  std::string encoded = conf.Encoded();
  ASSERT_EQ(encoded.size(), 64u);
  encoded.replace(57, 7, 7, '\0');
  EXPECT_EQ(s.entries[0], (StoredEntry{1, RAFT_CHANGE, encoded}));
  EXPECT_EQ(s.entries[0].payload.size() % 8, 0u);
}

TEST_F(LogStoreTest, BootstrapRefusedWhenAnyStateExists) {
  RaftConf conf;
  ASSERT_OK(store_->Bootstrap(conf.conf));
  EXPECT_THAT(store_->Bootstrap(conf.conf),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("term 1 log entries 1..1")));
  // A term alone.
  store_.reset();
  ASSERT_OK(fs_.RemoveFile("/r/term_vote.0"));
  RemoveLog(&fs_);
  store_ = Open();
  ASSERT_OK(store_->SetTerm(3));
  EXPECT_THAT(
      store_->Bootstrap(conf.conf),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(": term 3")));
  // A snapshot alone.
  store_.reset();
  ASSERT_OK(fs_.RemoveFile("/r/term_vote.0"));
  store_ = Open();
  ASSERT_OK(PutSnap(0, 5, 2));
  EXPECT_THAT(store_->Bootstrap(conf.conf),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr(SnapshotFileName(5, 2))));
}

TEST_F(LogStoreTest, AppendTruncateReload) {
  AppendRange(1, 10, 1);
  EXPECT_EQ(store_->next_index(), 11u);
  ASSERT_OK(store_->Truncate(7));
  EXPECT_EQ(store_->next_index(), 7u);
  AppendRange(7, 8, 2);
  ASSERT_OK(store_->Truncate(20));  // beyond the end: nothing
  ASSERT_OK(store_->SetTerm(2));
  ASSERT_OK(store_->SetVote(3));
  LoadedState s = Reload();
  EXPECT_EQ(s.term_vote, (TermVote{2, 3}));
  ASSERT_EQ(s.start_index, 1u);
  ExpectEntries(s, 1, 6, 1);
  ASSERT_EQ(s.entries.size(), 8u);
  EXPECT_EQ(s.entries[6], (StoredEntry{2, RAFT_COMMAND, Payload(7, 2)}));
  EXPECT_EQ(store_->next_index(), 9u);
  AppendRange(9, 9, 2);
  ASSERT_OK(store_->SetTerm(4));
  EXPECT_EQ(store_->term_vote(), (TermVote{4, 0}));
}

TEST_F(LogStoreTest, SnapshotPutWithTrailingKeepsTheTrailingEntries) {
  for (uint64_t i = 1; i <= 60; i += 5)
    AppendRange(i, i + 4, 1);  // a batch never spans segments
  ASSERT_OK(PutSnap(10, 50, 1));
  LoadedState s = Reload();
  ASSERT_TRUE(s.snapshot.has_value());
  EXPECT_EQ(s.snapshot->meta, Meta(50, 1));
  EXPECT_EQ(s.snapshot->data, SnapData(50));
  // Whole segments below 41 went; 41..60 stayed.
  EXPECT_GT(s.start_index, 1u);
  ExpectEntries(s, 41, 60, 1);
  EXPECT_EQ(s.reconciled, "");
  ASSERT_OK_AND_ASSIGN(std::optional<LoadedSnapshot> got,
                       store_->SnapshotGet());
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->meta, Meta(50, 1));
}

TEST_F(LogStoreTest, DamagedNewestSnapshotFallsBackAndIsReported) {
  for (uint64_t i = 1; i <= 60; i += 5) AppendRange(i, i + 4, 1);
  ASSERT_OK(PutSnap(100, 30, 1));  // trailing 100: no entry removed
  ASSERT_OK(PutSnap(100, 50, 1));
  store_.reset();
  const std::string newest = JoinPath(kDir, SnapshotFileName(50, 1));
  ASSERT_OK_AND_ASSIGN(std::string bytes, ReadFileToString(&fs_, newest));
  bytes[bytes.size() / 2] ^= 1;
  ASSERT_OK(WriteStringToFile(&fs_, bytes, newest, true));
  LoadedState s = Reload();
  ASSERT_TRUE(s.snapshot.has_value());
  EXPECT_EQ(s.snapshot->meta, Meta(30, 1));
  ASSERT_EQ(s.damaged_snapshots.size(), 1u);
  EXPECT_EQ(s.damaged_snapshots[0].file, newest);
  EXPECT_EQ(s.start_index, 1u);
  ExpectEntries(s, 1, 60, 1);
}

TEST_F(LogStoreTest, InstalledSnapshotDropsTheLog) {
  AppendRange(1, 5, 1);
  ASSERT_OK(PutSnap(0, 20, 3));
  EXPECT_EQ(store_->next_index(), 21u);
  AppendRange(21, 22, 3);
  LoadedState s = Reload();
  EXPECT_EQ(s.snapshot->meta, Meta(20, 3));
  EXPECT_EQ(s.start_index, 21u);
  ExpectEntries(s, 21, 22, 3);
}

TEST_F(LogStoreTest, ReconcileResetsALogEndingBeforeTheSnapshot) {
  AppendRange(1, 3, 1);
  const std::string data = SnapData(9);
  const absl::string_view bufs[] = {data};
  ASSERT_OK(PutSnapshot(&fs_, kDir, Meta(9, 2), bufs).status());  // no reset
  LoadedState s = Reload();
  EXPECT_EQ(s.reconciled,
            "log ended at 3, before snapshot index 9: reset to 10");
  EXPECT_EQ(s.start_index, 10u);
  EXPECT_THAT(s.entries, IsEmpty());
  EXPECT_EQ(store_->next_index(), 10u);
  EXPECT_EQ(Reload().reconciled, "");  // durable
}

TEST_F(LogStoreTest, ReconcileResetsALogWithAnotherTermAtTheSnapshotIndex) {
  AppendRange(1, 6, 1);
  const std::string data = SnapData(4);
  const absl::string_view bufs[] = {data};
  ASSERT_OK(PutSnapshot(&fs_, kDir, Meta(4, 2), bufs).status());
  LoadedState s = Reload();
  EXPECT_EQ(s.reconciled,
            "log has term 1 at snapshot index 4, snapshot term 2: reset to 5");
  EXPECT_EQ(s.start_index, 5u);
  EXPECT_THAT(s.entries, IsEmpty());
}

TEST_F(LogStoreTest, ReconcileKeepsALogAgreeingWithTheSnapshot) {
  AppendRange(1, 6, 1);
  const std::string data = SnapData(4);
  const absl::string_view bufs[] = {data};
  ASSERT_OK(PutSnapshot(&fs_, kDir, Meta(4, 1), bufs).status());
  LoadedState s = Reload();
  EXPECT_EQ(s.reconciled, "");
  ExpectEntries(s, 1, 6, 1);
}

// A log made directly, starting at `first` (the old one removed).
void WriteLogAt(FileSystem* fs, uint64_t first, uint64_t n) {
  RemoveLog(fs);
  wal::LogOptions o;
  o.fs = fs;
  o.initial_offset = first;
  ASSERT_OK_AND_ASSIGN(auto log, wal::Log::Open("/r/log", o));
  for (uint64_t i = 0; i < n; ++i)
    ASSERT_OK(log->Append(EncodeEntry(1, RAFT_COMMAND, "x")).status());
  ASSERT_OK(log->Close());
}

TEST_F(LogStoreTest, GapAfterTheSnapshotIsDataLossNamingBoth) {
  store_.reset();
  WriteLogAt(&fs_, 20, 3);
  const std::string data = SnapData(9);
  const absl::string_view bufs[] = {data};
  ASSERT_OK(PutSnapshot(&fs_, kDir, Meta(9, 1), bufs).status());
  store_ = Open();
  EXPECT_THAT(store_->Load(),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("raft log /r/log starts at index 20 (next "
                                 "23), after snapshot /r/" +
                                 SnapshotFileName(9, 1) +
                                 " at index 9: entries 10..19 are missing")));
}

TEST_F(LogStoreTest, LogNotStartingAtOneWithoutSnapshotIsDataLoss) {
  store_.reset();
  WriteLogAt(&fs_, 0, 2);  // offsets 0 and 1: not raft indexes
  store_ = Open();
  EXPECT_THAT(store_->Load(),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("raft log /r/log starts at index 0 (next 2) "
                                 "but /r holds no snapshot")));
}

TEST_F(LogStoreTest, DamagedEntryIsDataLossNamingTheOffset) {
  store_.reset();
  RemoveLog(&fs_);
  {
    wal::LogOptions o;
    o.fs = &fs_;
    o.initial_offset = 1;
    ASSERT_OK_AND_ASSIGN(auto log, wal::Log::Open("/r/log", o));
    ASSERT_OK(log->Append(EncodeEntry(1, RAFT_COMMAND, "x")).status());
    ASSERT_OK(log->Append("short").status());
    ASSERT_OK(log->Close());
  }
  store_ = Open();
  EXPECT_THAT(store_->Load(),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("raft log /r/log offset 2: raft entry of 5 "
                                 "bytes is shorter")));
}

TEST_F(LogStoreTest, FailedSyncFailsTheAppendAndEveryLaterWrite) {
  AppendRange(1, 2, 1);
  fs_.FailAfter(kOpSync, 0, EIO);
  const EntryRef e{1, RAFT_COMMAND, "x"};
  EXPECT_THAT(store_->Append({&e, 1}),
              StatusIs(absl::StatusCode::kUnknown, HasSubstr("injected")));
  EXPECT_THAT(
      store_->Append({&e, 1}),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("injected")));
  EXPECT_THAT(store_->SetTerm(2),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(store_->Truncate(2),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(PutSnap(0, 5, 1),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(store_->next_index(), 3u);
}

TEST_F(LogStoreTest, FailedTermWriteFailsLaterAppends) {
  fs_.FailAfter(kOpSync, 0, EIO);
  EXPECT_THAT(store_->SetTerm(2), StatusIs(absl::StatusCode::kUnknown));
  const EntryRef e{1, RAFT_COMMAND, "x"};
  EXPECT_THAT(store_->Append({&e, 1}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("injected sync failure")));
  EXPECT_THAT(store_->status(), StatusIs(absl::StatusCode::kUnknown));
}

TEST_F(LogStoreTest, FailedSnapshotPutFailsLaterWrites) {
  AppendRange(1, 3, 1);
  fs_.FailAfter(kOpRename, 0, EIO);
  EXPECT_THAT(PutSnap(0, 5, 1), StatusIs(absl::StatusCode::kUnknown));
  EXPECT_THAT(store_->SetVote(1),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  LoadedState s = Reload();
  EXPECT_FALSE(s.snapshot.has_value());
  ExpectEntries(s, 1, 3, 1);
}

// ---- crash states ----
// A sequence of operations runs on a fault-injecting file system that takes
// a snapshot of what a crash could leave after every mutating call; after
// each acknowledged operation the harshest state (power loss) is taken too.
// Every state must load, and load as the model after the operations
// acknowledged so far or after the one in progress as well.

// What the store must hold: every entry neither truncated nor reset away
// (entries a trailing snapshot covers stay: the log may keep them).
struct Model {
  TermVote term_vote;
  std::optional<std::pair<uint64_t, uint64_t>> snapshot;  // index, term
  std::map<uint64_t, StoredEntry> entries;
  uint64_t next = 1;
};

// "" when `s` is what `m` says, else the first difference.
std::string Mismatch(const LoadedState& s, const Model& m) {
  if (!(s.term_vote == m.term_vote)) {
    return absl::StrCat("term/vote ", s.term_vote.term, "/", s.term_vote.vote);
  }
  std::optional<std::pair<uint64_t, uint64_t>> snap;
  if (s.snapshot) snap = {s.snapshot->meta.index, s.snapshot->meta.term};
  if (snap != m.snapshot)
    return absl::StrCat("snapshot ", snap ? snap->first : 0);
  if (s.snapshot && s.snapshot->data != SnapData(snap->first))
    return "snapshot data";
  if (s.start_index + s.entries.size() != m.next)
    return absl::StrCat("next index ", s.start_index + s.entries.size());
  for (size_t i = 0; i < s.entries.size(); ++i) {
    auto it = m.entries.find(s.start_index + i);
    if (it == m.entries.end() || !(it->second == s.entries[i]))
      return absl::StrCat("entry ", s.start_index + i);
  }
  return "";
}

using Op = std::function<absl::Status(LogStore*, Model*)>;

Op AppendOp(uint64_t first, uint64_t last, uint64_t term) {
  return [=](LogStore* store, Model* m) -> absl::Status {
    absl::StatusOr<uint64_t> got = AppendEntries(store, first, last, term);
    if (!got.ok() || *got != first)
      return absl::InternalError(absl::StrCat("append at ", first));
    for (uint64_t i = first; i <= last; ++i)
      m->entries[i] = {term, RAFT_COMMAND, Payload(i, term)};
    m->next = last + 1;
    return absl::OkStatus();
  };
}

Op SnapshotOp(unsigned trailing, uint64_t index, uint64_t term) {
  return [=](LogStore* store, Model* m) {
    const std::string data = SnapData(index);
    const absl::string_view bufs[] = {data};
    m->snapshot = {{index, term}};
    if (trailing == 0) {
      m->entries.clear();
      m->next = index + 1;
    }
    return store->SnapshotPut(trailing, Meta(index, term), bufs);
  };
}

std::vector<Op> CrashSequence() {
  return {
      [](LogStore* s, Model* m) {
        m->term_vote = {2, 0};
        return s->SetTerm(2);
      },
      [](LogStore* s, Model* m) {
        m->term_vote.vote = 1;
        return s->SetVote(1);
      },
      AppendOp(2, 4, 2),
      AppendOp(5, 9, 2),
      [](LogStore* s, Model* m) {
        m->entries.erase(m->entries.find(7), m->entries.end());
        m->next = 7;
        return s->Truncate(7);
      },
      [](LogStore* s, Model* m) {
        m->term_vote = {3, 0};
        return s->SetTerm(3);
      },
      AppendOp(7, 9, 3),
      AppendOp(10, 14, 3),
      SnapshotOp(2, 12, 3),  // compaction: entries up to 10 may go
      AppendOp(15, 16, 3),
      SnapshotOp(0, 30, 4),  // installed, beyond the log's end
      [](LogStore* s, Model* m) {
        m->term_vote = {5, 0};
        return s->SetTerm(5);
      },
      AppendOp(31, 33, 4),
      SnapshotOp(0, 32, 5),  // installed, another term at its index
      AppendOp(33, 34, 5),
  };
}

struct ObservedCrash {
  size_t acknowledged;  // operations acknowledged when it was taken
  bool after_ack;       // taken right after an acknowledgement
  CrashSnapshot snapshot;
};

// Loads `state` on a fresh file system; "" when it matches one of `allowed`.
std::string CheckState(const crash::CrashState& state,
                       const std::vector<const Model*>& allowed) {
  absl::StatusOr<std::unique_ptr<FileSystem>> fs =
      crash::Materialize(state, {kDir, JoinPath(kDir, kRaftLogDirName)});
  if (!fs.ok()) return fs.status().ToString();
  LogStoreOptions options = SmallSegments(fs->get());
  absl::StatusOr<std::unique_ptr<LogStore>> store =
      LogStore::Open(kDir, options);
  if (!store.ok()) return store.status().ToString();
  absl::StatusOr<LoadedState> loaded = (*store)->Load();
  if (!loaded.ok()) return loaded.status().ToString();
  std::string why;
  for (const Model* m : allowed) {
    const std::string w = Mismatch(*loaded, *m);
    if (w.empty()) return "";
    absl::StrAppend(&why, why.empty() ? "" : "; ", w);
  }
  return why;
}

TEST(LogStoreCrashTest, EveryCrashStateLoadsTheAcknowledgedState) {
  FaultInjectionFileSystem fs(NewMemFileSystem());
  ASSERT_OK_AND_ASSIGN(auto store, LogStore::Open(kDir, SmallSegments(&fs)));
  RaftConf conf;
  ASSERT_OK(store->Bootstrap(conf.conf));
  std::vector<Model> models(1);
  models[0].term_vote = {1, 0};
  ASSERT_OK_AND_ASSIGN(LoadedState first, store->Load());
  ASSERT_EQ(first.entries.size(), 1u);
  models[0].entries[1] = first.entries[0];  // the configuration entry
  models[0].next = 2;
  std::vector<ObservedCrash> crashes;
  size_t acknowledged = 0;
  fs.SetCrashObserver([&](const CrashSnapshot& snap) {
    crashes.push_back({acknowledged, false, snap});
  });
  for (const Op& op : CrashSequence()) {
    models.push_back(models.back());
    ASSERT_OK(op(store.get(), &models.back()));
    ++acknowledged;
    fs.SetCrashObserver(nullptr);
    crashes.push_back({acknowledged, true, fs.Snapshot()});
    fs.SetCrashObserver([&](const CrashSnapshot& snap) {
      crashes.push_back({acknowledged, false, snap});
    });
  }
  fs.SetCrashObserver(nullptr);
  size_t states = 0;
  for (const ObservedCrash& c : crashes) {
    std::vector<const Model*> allowed = {&models[c.acknowledged]};
    if (!c.after_ack && c.acknowledged + 1 < models.size())
      allowed.push_back(&models[c.acknowledged + 1]);
    std::vector<crash::CrashState> all =
        c.after_ack
            ? std::vector<crash::CrashState>{crash::PowerLossState(c.snapshot)}
            : crash::EnumerateCrashStates(c.snapshot, {4});
    for (const crash::CrashState& state : all) {
      ++states;
      EXPECT_EQ(CheckState(state, allowed), "")
          << "after " << c.acknowledged << " operations: " << state.description;
    }
  }
  EXPECT_GT(states, crashes.size());
}

}  // namespace
}  // namespace blockwal::raft
