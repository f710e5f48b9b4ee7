// raft_io's disk half (raft/disk_io.h) on a real libuv loop: completions in
// submission order, on the loop thread, never inside the call; truncate
// between appends; a snapshot installed while appends are queued; a failed
// write failing later appends; close cancelling what is queued; load's and
// snapshot_get's raft_malloc'd results; the error path of each method (the
// raft code, io->errmsg naming the file, what a reopen then loads).
#include <cstring>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "blockwal/raft/disk_io.h"
#include "blockwal/raft/entry_codec.h"
#include "blockwal/raft/snapshot_file.h"
#include "blockwal/util/fault_injection_file_system.h"
#include "blockwal/util/mem_file_system.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/gated_file_system.h"
#include "tests/status_matchers.h"

namespace blockwal::raft {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kDir[] = "/r";

// One request as raft would hold it, with the memory it hands in.
struct Pending {
  void* test = nullptr;  // the DiskIoTest
  int id = 0;
  std::vector<std::string> payloads;
  std::vector<struct raft_entry> entries;
  struct raft_io_append append;
  struct raft_io_snapshot_put put;
  struct raft_io_snapshot_get get;
  struct raft_snapshot snapshot;
  struct raft_buffer snapshot_buf;
  std::string snapshot_data;
  struct raft_snapshot* got = nullptr;
  int status = -1;
  bool done = false;
};

// What the loaded state holds, copied out of raft's structures.
struct Loaded {
  raft_term term = 0;
  raft_id vote = 0;
  raft_index snapshot_index = 0;  // 0: none
  std::string snapshot_data;
  raft_index start_index = 0;
  std::vector<std::string> entries;  // "term:payload"
};

void FreeSnapshot(struct raft_snapshot* s) {
  raft_configuration_close(&s->configuration);
  for (unsigned i = 0; i < s->n_bufs; ++i) raft_free(s->bufs[i].base);
  raft_free(s->bufs);
  raft_free(s);
}

class DiskIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    Open();
  }
  void TearDown() override {
    if (disk_ != nullptr) CloseIo();
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }
  void Open() {
    options_.fs = &fs_;
    ASSERT_OK_AND_ASSIGN(disk_, DiskIo::Open(&loop_, kDir, options_));
    std::memset(&io_, 0, sizeof(io_));
    disk_->Install(&io_);
    io_.data = this;  // raft's field: the test stands in for raft
  }
  void CloseIo() {
    closed_ = false;
    io_.close(&io_, [](struct raft_io* io) {
      static_cast<DiskIoTest*>(io->data)->closed_ = true;
    });
    EXPECT_FALSE(closed_);
    while (!closed_) uv_run(&loop_, UV_RUN_ONCE);
    disk_.reset();
  }
  void Reopen() {
    CloseIo();
    Open();
  }
  // Reopens after a power loss: unsynced data and names not made durable by
  // a directory sync are gone.
  void ReopenAfterPowerLoss() {
    CloseIo();
    ASSERT_OK(fs_.DropUnsyncedData());
    ASSERT_OK(fs_.DeleteFilesCreatedAfterLastDirSync());
    fs_.ResetState();
    Open();
  }
  // Whether a successful `op` on `path` (for a rename, to `path`) was
  // recorded.
  bool Did(FsOp op, const std::string& path) const {
    for (const FsOpRecord& r : fs_.ops()) {
      if (r.op == op && (op == kOpRename ? r.target : r.path) == path)
        return true;
    }
    return false;
  }
  std::string ErrMsg() const { return io_.errmsg; }
  void RunUntilDone(const std::vector<Pending*>& reqs) {
    for (Pending* p : reqs) {
      while (!p->done) uv_run(&loop_, UV_RUN_ONCE);
    }
  }
  // Records a completion: its order, its thread, its status.
  static void Complete(Pending* p, int status) {
    auto* t = static_cast<DiskIoTest*>(p->test);
    EXPECT_EQ(std::this_thread::get_id(), t->loop_thread_);
    p->status = status;
    p->done = true;
    t->order_.push_back(p->id);
  }

  std::unique_ptr<Pending> Append(int id, uint64_t term, int n) {
    auto p = std::make_unique<Pending>();
    p->id = id;
    for (int i = 0; i < n; ++i)
      p->payloads.push_back(  // padded: the 8-byte rule
          PadCommand(absl::StrCat("req ", id, " entry ", i, "....")));
    for (const std::string& s : p->payloads) {
      p->entries.push_back({term,
                            RAFT_COMMAND,
                            {const_cast<char*>(s.data()), s.size()},
                            nullptr});
    }
    p->test = this;
    p->append.data = p.get();
    EXPECT_EQ(io_.append(&io_, &p->append, p->entries.data(), n,
                         [](struct raft_io_append* req, int status) {
                           Complete(static_cast<Pending*>(req->data), status);
                         }),
              0);
    EXPECT_FALSE(p->done);  // never called back inside append
    return p;
  }
  // Appends and waits: the entries must be durable.
  void AppendDurably(int id, uint64_t term, int n) {
    auto p = Append(id, term, n);
    RunUntilDone({p.get()});
    EXPECT_EQ(p->status, 0) << io_.errmsg;
  }
  std::unique_ptr<Pending> SnapshotPut(int id, unsigned trailing,
                                       raft_index index, raft_term term) {
    auto p = std::make_unique<Pending>();
    p->id = id;
    p->snapshot_data = absl::StrCat("snapshot at ", index);
    p->snapshot_buf = {p->snapshot_data.data(), p->snapshot_data.size()};
    std::memset(&p->snapshot, 0, sizeof(p->snapshot));
    p->snapshot.index = index;
    p->snapshot.term = term;
    raft_configuration_init(&p->snapshot.configuration);
    EXPECT_EQ(raft_configuration_add(&p->snapshot.configuration, 1, "a:1",
                                     RAFT_VOTER),
              0);
    p->snapshot.configuration_index = 1;
    p->snapshot.bufs = &p->snapshot_buf;
    p->snapshot.n_bufs = 1;
    p->test = this;
    p->put.data = p.get();
    EXPECT_EQ(
        io_.snapshot_put(&io_, trailing, &p->put, &p->snapshot,
                         [](struct raft_io_snapshot_put* req, int st) {
                           auto* q = static_cast<Pending*>(req->data);
                           raft_configuration_close(&q->snapshot.configuration);
                           Complete(q, st);
                         }),
        0);
    EXPECT_FALSE(p->done);
    return p;
  }
  // Puts snapshot (index, term, id `id`) and expects it to fail in the log
  // step after the snapshot is in place: the first removal (with no older
  // snapshot to remove, a segment file's) fails once the step's intent, the
  // log file `intent`, is durable.
  void FailPutAfterSnapshot(int id, unsigned trailing, raft_index index,
                            raft_term term, const std::string& intent) {
    fs_.ClearOps();
    fs_.FailAfter(kOpRemove, 0, EIO);
    auto s = SnapshotPut(id, trailing, index, term);
    RunUntilDone({s.get()});
    EXPECT_EQ(s->status, RAFT_IOERR);
    EXPECT_THAT(ErrMsg(), AllOf(HasSubstr("/r/log/"),
                                HasSubstr("injected remove failure")));
    EXPECT_TRUE(Did(kOpRename, JoinPath(kDir, SnapshotFileName(index, term))));
    EXPECT_TRUE(Did(kOpRename, JoinPath("/r/log", intent)));
  }
  std::unique_ptr<Pending> SnapshotGet(int id) {
    auto p = std::make_unique<Pending>();
    p->id = id;
    p->test = this;
    p->get.data = p.get();
    EXPECT_EQ(io_.snapshot_get(&io_, &p->get,
                               [](struct raft_io_snapshot_get* req,
                                  struct raft_snapshot* snap, int status) {
                                 auto* q = static_cast<Pending*>(req->data);
                                 q->got = snap;
                                 Complete(q, status);
                               }),
              0);
    EXPECT_FALSE(p->done);
    return p;
  }
  Loaded Load() {
    Loaded l;
    struct raft_snapshot* snap = nullptr;
    struct raft_entry* entries = nullptr;
    size_t n = 0;
    EXPECT_EQ(
        io_.load(&io_, &l.term, &l.vote, &snap, &l.start_index, &entries, &n),
        0)
        << io_.errmsg;
    if (snap != nullptr) {
      EXPECT_EQ(snap->n_bufs, 1u);
      l.snapshot_index = snap->index;
      l.snapshot_data.assign(static_cast<char*>(snap->bufs[0].base),
                             snap->bufs[0].len);
      FreeSnapshot(snap);
    }
    for (size_t i = 0; i < n; ++i) {
      // Commands without their padding (the configuration entry as stored).
      absl::string_view payload(static_cast<char*>(entries[i].buf.base),
                                entries[i].buf.len);
      if (entries[i].type == RAFT_COMMAND) {
        absl::StatusOr<absl::string_view> command =
            UnpadCommand(payload, "loaded entry");
        EXPECT_TRUE(command.ok()) << command.status();
        if (command.ok()) payload = *command;
      }
      l.entries.push_back(absl::StrCat(entries[i].term, ":", payload));
      EXPECT_EQ(entries[i].batch, entries[0].batch);
    }
    if (n > 0) raft_free(entries[0].batch);
    raft_free(entries);
    return l;
  }

  GatedFileSystem fs_;       // a FaultInjectionFileSystem, gate open
  LogStoreOptions options_;  // Open sets fs
  uv_loop_t loop_;
  std::unique_ptr<DiskIo> disk_;
  struct raft_io io_;
  bool closed_ = false;
  std::vector<int> order_;
  const std::thread::id loop_thread_ = std::this_thread::get_id();
};

TEST_F(DiskIoTest, AppendsCompleteInOrderOnTheLoopThreadOnceDurable) {
  auto a = Append(0, 1, 2);
  auto b = Append(1, 1, 1);
  auto c = Append(2, 2, 3);
  RunUntilDone({a.get(), b.get(), c.get()});
  EXPECT_THAT(order_, ElementsAre(0, 1, 2));
  EXPECT_EQ(a->status, 0);
  EXPECT_EQ(b->status, 0);
  EXPECT_EQ(c->status, 0);
  // Durable: a power loss right now keeps them.
  CloseIo();
  ASSERT_OK(fs_.DropUnsyncedData());
  Open();
  Loaded l = Load();
  EXPECT_EQ(l.start_index, 1u);
  EXPECT_THAT(l.entries,
              ElementsAre("1:req 0 entry 0....", "1:req 0 entry 1....",
                          "1:req 1 entry 0....", "2:req 2 entry 0....",
                          "2:req 2 entry 1....", "2:req 2 entry 2...."));
}

TEST_F(DiskIoTest, AppendsQueuedDuringASyncShareTheNextOne) {
  auto first = Append(0, 1, 1);
  RunUntilDone({first.get()});
  const uint64_t before = fs_.sync_count();
  auto a = Append(1, 1, 1);
  RunUntilDone({a.get()});
  const uint64_t per_append = fs_.sync_count() - before;
  ASSERT_GT(per_append, 0u);
  fs_.CloseGate();
  auto b = Append(2, 1, 1);
  fs_.AwaitBlocked(1);  // the writer is in b's sync
  auto c = Append(3, 1, 2);
  auto d = Append(4, 2, 1);
  const uint64_t group_start = fs_.sync_count();
  fs_.OpenGate();
  RunUntilDone({b.get(), c.get(), d.get()});
  // b's sync, then one group for c and d.
  EXPECT_EQ(fs_.sync_count() - group_start, 2 * per_append);
  EXPECT_THAT(order_, ElementsAre(0, 1, 2, 3, 4));
  Reopen();
  EXPECT_EQ(Load().entries.size(), 6u);
}

TEST_F(DiskIoTest, TruncateTakesEffectBetweenAppends) {
  auto a = Append(0, 1, 3);  // indexes 1..3
  ASSERT_EQ(io_.truncate(&io_, 2), 0);
  auto b = Append(1, 2, 2);  // indexes 2..3 again
  RunUntilDone({a.get(), b.get()});
  EXPECT_THAT(order_, ElementsAre(0, 1));
  Reopen();
  EXPECT_THAT(Load().entries,
              ElementsAre("1:req 0 entry 0....", "2:req 1 entry 0....",
                          "2:req 1 entry 1...."));
}

TEST_F(DiskIoTest, SnapshotInstalledWhileAppendsAreQueued) {
  auto a = Append(0, 1, 3);
  auto s = SnapshotPut(1, 0, 10, 2);
  auto b = Append(2, 2, 2);  // indexes 11, 12
  RunUntilDone({a.get(), s.get(), b.get()});
  EXPECT_THAT(order_, ElementsAre(0, 1, 2));
  EXPECT_EQ(s->status, 0);
  EXPECT_EQ(b->status, 0);
  Reopen();
  Loaded l = Load();
  EXPECT_EQ(l.snapshot_index, 10u);
  EXPECT_EQ(l.snapshot_data, "snapshot at 10");
  EXPECT_EQ(l.start_index, 11u);
  EXPECT_THAT(l.entries,
              ElementsAre("2:req 2 entry 0....", "2:req 2 entry 1...."));
}

TEST_F(DiskIoTest, SnapshotGetGivesOneRaftMallocdBuffer) {
  auto a = Append(0, 1, 5);
  auto s = SnapshotPut(1, 2, 4, 1);
  auto g = SnapshotGet(2);
  RunUntilDone({a.get(), s.get(), g.get()});
  ASSERT_EQ(g->status, 0);
  ASSERT_NE(g->got, nullptr);
  EXPECT_EQ(g->got->index, 4u);
  EXPECT_EQ(g->got->term, 1u);
  ASSERT_EQ(g->got->n_bufs, 1u);
  EXPECT_EQ(std::string(static_cast<char*>(g->got->bufs[0].base),
                        g->got->bufs[0].len),
            "snapshot at 4");
  ASSERT_EQ(g->got->configuration.n, 1u);
  EXPECT_STREQ(g->got->configuration.servers[0].address, "a:1");
  FreeSnapshot(g->got);
}

TEST_F(DiskIoTest, FailedWriteFailsThatAppendAndLaterOnes) {
  auto a = Append(0, 1, 1);
  RunUntilDone({a.get()});
  fs_.FailAfter(kOpSync, 0, EIO);
  auto b = Append(1, 1, 1);
  RunUntilDone({b.get()});
  auto c = Append(2, 1, 1);
  RunUntilDone({c.get()});
  EXPECT_EQ(a->status, 0);
  EXPECT_EQ(b->status, RAFT_IOERR);
  EXPECT_EQ(c->status, RAFT_IOERR);
  EXPECT_EQ(io_.set_term(&io_, 5), RAFT_IOERR);
  EXPECT_THAT(std::string(io_.errmsg), ::testing::HasSubstr("injected"));
}

TEST_F(DiskIoTest, CloseFinishesOrCancelsEveryQueuedRequestFirst) {
  std::vector<std::unique_ptr<Pending>> reqs;
  for (int i = 0; i < 20; ++i) reqs.push_back(Append(i, 1, 1));
  CloseIo();  // runs the loop until the close callback
  std::vector<int> expected;
  bool cancelled = false;
  for (const auto& p : reqs) {
    expected.push_back(p->id);
    ASSERT_TRUE(p->done);
    if (p->status == RAFT_CANCELED)
      cancelled = true;
    else
      EXPECT_FALSE(cancelled) << p->id << " finished after a cancelled one";
    EXPECT_TRUE(p->status == 0 || p->status == RAFT_CANCELED) << p->status;
  }
  EXPECT_EQ(order_, expected);
  Open();
  size_t ok = 0;
  for (const auto& p : reqs) ok += p->status == 0;
  EXPECT_EQ(Load().entries.size(), ok);
}

TEST_F(DiskIoTest, BootstrapTermAndVote) {
  struct raft_configuration conf;
  raft_configuration_init(&conf);
  ASSERT_EQ(raft_configuration_add(&conf, 1, "a:1", RAFT_VOTER), 0);
  ASSERT_EQ(io_.bootstrap(&io_, &conf), 0) << io_.errmsg;
  EXPECT_EQ(io_.bootstrap(&io_, &conf), RAFT_CANTBOOTSTRAP);
  raft_configuration_close(&conf);
  ASSERT_EQ(io_.set_term(&io_, 3), 0);
  ASSERT_EQ(io_.set_vote(&io_, 2), 0);
  Reopen();
  Loaded l = Load();
  EXPECT_EQ(l.term, 3u);
  EXPECT_EQ(l.vote, 2u);
  EXPECT_EQ(l.start_index, 1u);
  ASSERT_EQ(l.entries.size(), 1u);
  auto a = Append(0, 3, 1);  // follows entry 1
  RunUntilDone({a.get()});
  Reopen();
  EXPECT_EQ(Load().entries.size(), 2u);
}

TEST_F(DiskIoTest, RecoverAppendsAConfigurationWithTheCurrentTerm) {
  struct raft_configuration conf;
  raft_configuration_init(&conf);
  ASSERT_EQ(raft_configuration_add(&conf, 1, "a:1", RAFT_VOTER), 0);
  ASSERT_EQ(io_.bootstrap(&io_, &conf), 0) << io_.errmsg;
  ASSERT_EQ(io_.set_term(&io_, 4), 0);
  ASSERT_EQ(raft_configuration_add(&conf, 2, "b:2", RAFT_VOTER), 0);
  ASSERT_EQ(io_.recover(&io_, &conf), 0) << io_.errmsg;
  raft_configuration_close(&conf);
  Reopen();
  Loaded l = Load();
  ASSERT_EQ(l.entries.size(), 2u);
  EXPECT_EQ(l.entries[0].substr(0, 2), "1:");
  EXPECT_EQ(l.entries[1].substr(0, 2), "4:");
  EXPECT_NE(l.entries[1].find("b:2"), std::string::npos);
}

// ---- error paths ----

// A truncate has no callback: its failure is the store's sticky error, which
// the next append reports. Here the truncation fails once its intent is
// durable, so a reopen finishes it.
TEST_F(DiskIoTest, TruncateFailingAfterItsIntentFailsLaterWritesAndIsFinished) {
  AppendDurably(0, 1, 4);  // indexes 1..4
  fs_.ClearOps();
  fs_.FailAfter(kOpTruncate, 0, EIO);
  ASSERT_EQ(io_.truncate(&io_, 3), 0);  // queued: nothing to report yet
  auto b = Append(1, 2, 1);
  RunUntilDone({b.get()});
  EXPECT_EQ(b->status, RAFT_IOERR);
  EXPECT_THAT(ErrMsg(), AllOf(HasSubstr("raft store /r failed earlier"),
                              HasSubstr("/r/log/"),
                              HasSubstr("injected truncate failure")));
  EXPECT_TRUE(Did(kOpRename, "/r/log/TRUNCATE_SUFFIX"));  // the intent
  EXPECT_EQ(io_.set_term(&io_, 2), RAFT_IOERR);
  EXPECT_THAT(ErrMsg(), HasSubstr("injected truncate failure"));
  ReopenAfterPowerLoss();
  Loaded l = Load();
  EXPECT_EQ(l.term, 0u);
  EXPECT_EQ(l.start_index, 1u);
  EXPECT_THAT(l.entries,
              ElementsAre("1:req 0 entry 0....", "1:req 0 entry 1...."));
  AppendDurably(2, 2, 1);  // index 3 again
  Reopen();
  EXPECT_THAT(Load().entries,
              ElementsAre("1:req 0 entry 0....", "1:req 0 entry 1....",
                          "2:req 2 entry 0...."));
}

// The truncation fails at its first step, the sync of the entries it keeps:
// nothing changed, and a reopen has every entry.
TEST_F(DiskIoTest, TruncateFailingBeforeItsIntentLeavesTheLogWhole) {
  AppendDurably(0, 1, 4);
  fs_.ClearOps();
  fs_.FailAfter(kOpSync | kOpMapSync, 0, EIO);
  ASSERT_EQ(io_.truncate(&io_, 3), 0);
  auto b = Append(1, 2, 1);
  RunUntilDone({b.get()});
  EXPECT_EQ(b->status, RAFT_IOERR);
  EXPECT_THAT(ErrMsg(), AllOf(HasSubstr("raft store /r failed earlier"),
                              HasSubstr("/r/log/"), HasSubstr("injected")));
  EXPECT_FALSE(Did(kOpRename, "/r/log/TRUNCATE_SUFFIX"));
  ReopenAfterPowerLoss();
  EXPECT_THAT(Load().entries,
              ElementsAre("1:req 0 entry 0....", "1:req 0 entry 1....",
                          "1:req 0 entry 2....", "1:req 0 entry 3...."));
}

// A failure while the snapshot file is written, synced, renamed into place
// or its directory synced.
struct PersistFailure {
  FsOp op;
  unsigned trailing;
};

const char* StepName(FsOp op) {
  switch (op) {
    case kOpAppend:
      return "Write";
    case kOpSync:
      return "Sync";
    case kOpRename:
      return "Rename";
    default:
      return "DirSync";
  }
}

void PrintTo(const PersistFailure& f, std::ostream* os) {
  *os << StepName(f.op) << " failure, trailing " << f.trailing;
}

class DiskIoSnapshotPersistFailureTest
    : public DiskIoTest,
      public ::testing::WithParamInterface<PersistFailure> {};

TEST_P(DiskIoSnapshotPersistFailureTest, PutFailsAndThePreviousSnapshotStays) {
  const PersistFailure f = GetParam();
  auto a = Append(0, 1, 5);           // indexes 1..5
  auto s1 = SnapshotPut(1, 2, 3, 1);  // the previous snapshot
  auto b = Append(2, 1, 3);           // indexes 6..8
  RunUntilDone({a.get(), s1.get(), b.get()});
  ASSERT_EQ(s1->status, 0);
  ASSERT_EQ(b->status, 0);
  const std::string path = JoinPath(kDir, SnapshotFileName(7, 1));
  fs_.ClearOps();
  fs_.FailAfter(f.op, 0, EIO);
  auto s2 = SnapshotPut(3, f.trailing, 7, 1);
  RunUntilDone({s2.get()});
  EXPECT_EQ(s2->status, RAFT_IOERR);
  // The directory sync is the directory's; the rest are the temporary file's.
  EXPECT_THAT(ErrMsg(),
              AllOf(HasSubstr(f.op == kOpSyncDir ? "/r: " : path + ".tmp: "),
                    HasSubstr("injected")));
  EXPECT_EQ(Did(kOpRename, path), f.op == kOpSyncDir);
  auto c = Append(4, 1, 1);  // the error is sticky
  RunUntilDone({c.get()});
  EXPECT_EQ(c->status, RAFT_IOERR);
  ReopenAfterPowerLoss();
  Loaded l = Load();
  EXPECT_EQ(l.snapshot_index, 3u);
  EXPECT_EQ(l.snapshot_data, "snapshot at 3");
  EXPECT_EQ(l.start_index, 1u);
  ASSERT_EQ(l.entries.size(), 8u);
  EXPECT_EQ(l.entries.front(), "1:req 0 entry 0....");
  EXPECT_EQ(l.entries.back(), "1:req 2 entry 2....");
}

INSTANTIATE_TEST_SUITE_P(
    Steps, DiskIoSnapshotPersistFailureTest,
    ::testing::Values(PersistFailure{kOpAppend, 0}, PersistFailure{kOpSync, 0},
                      PersistFailure{kOpRename, 0},
                      PersistFailure{kOpSyncDir, 0},
                      PersistFailure{kOpAppend, 2}, PersistFailure{kOpSync, 2},
                      PersistFailure{kOpRename, 2},
                      PersistFailure{kOpSyncDir, 2}),
    [](const ::testing::TestParamInfo<PersistFailure>& info) {
      return absl::StrCat(StepName(info.param.op), "Trailing",
                          info.param.trailing);
    });

// trailing == 0 (a leader's snapshot installed): the snapshot is in place and
// the log's reset has its intent durable when removing a segment fails; a
// reopen finishes the reset.
TEST_F(DiskIoTest, SnapshotPutFailingToResetTheLog) {
  AppendDurably(0, 1, 5);
  FailPutAfterSnapshot(1, 0, 7, 2, "RESET");
  ReopenAfterPowerLoss();
  Loaded l = Load();
  EXPECT_EQ(l.snapshot_index, 7u);
  EXPECT_EQ(l.snapshot_data, "snapshot at 7");
  EXPECT_EQ(l.start_index, 8u);
  EXPECT_TRUE(l.entries.empty());
  AppendDurably(1, 2, 1);  // index 8
  Reopen();
  l = Load();
  EXPECT_EQ(l.start_index, 8u);
  EXPECT_THAT(l.entries, ElementsAre("2:req 1 entry 0...."));
}

// trailing > 0: the snapshot is in place and the prefix truncation's intent
// durable when removing a segment fails; a reopen finishes the truncation
// and keeps every entry from the first kept segment on.
TEST_F(DiskIoTest, SnapshotPutFailingToTruncateTheLogPrefix) {
  options_.max_index_bytes = 2 * 12;  // two entries per segment
  Reopen();
  // One at a time (a group goes in one segment): segments 1-2, ..., 9-10.
  for (int i = 0; i < 10; ++i) AppendDurably(i, 1, 1);
  FailPutAfterSnapshot(10, 2, 8, 1, "TRUNCATE_PREFIX");  // keeps 7 on
  ReopenAfterPowerLoss();
  Loaded l = Load();
  EXPECT_EQ(l.snapshot_index, 8u);
  EXPECT_EQ(l.start_index, 7u);
  EXPECT_THAT(l.entries,
              ElementsAre("1:req 6 entry 0....", "1:req 7 entry 0....",
                          "1:req 8 entry 0....", "1:req 9 entry 0...."));
}

// A read error is the error it is (not damage, not "no snapshot"), and not
// sticky.
TEST_F(DiskIoTest, SnapshotGetFailingToReadTheFile) {
  auto a = Append(0, 1, 5);
  auto s = SnapshotPut(1, 2, 4, 1);
  RunUntilDone({a.get(), s.get()});
  ASSERT_EQ(s->status, 0);
  fs_.FailAfter(kOpRead, 0, EIO);
  auto g = SnapshotGet(2);
  RunUntilDone({g.get()});
  EXPECT_EQ(g->status, RAFT_IOERR);
  EXPECT_EQ(g->got, nullptr);
  EXPECT_THAT(ErrMsg(),
              AllOf(HasSubstr(JoinPath(kDir, SnapshotFileName(4, 1)) + ": "),
                    HasSubstr("injected read failure")));
  auto b = Append(3, 1, 1);
  auto g2 = SnapshotGet(4);
  RunUntilDone({b.get(), g2.get()});
  EXPECT_EQ(b->status, 0);
  ASSERT_EQ(g2->status, 0);
  ASSERT_NE(g2->got, nullptr);
  EXPECT_EQ(g2->got->index, 4u);
  FreeSnapshot(g2->got);
}

TEST_F(DiskIoTest, SnapshotGetWithoutASnapshotIsNotFound) {
  auto g = SnapshotGet(0);
  RunUntilDone({g.get()});
  EXPECT_EQ(g->status, RAFT_NOTFOUND);
  EXPECT_EQ(g->got, nullptr);
  EXPECT_THAT(ErrMsg(), HasSubstr("no snapshot in /r"));
}

// The term/vote slot written in place (both exist) fails its sync: the error
// is sticky, and after a power loss the previous term and vote are loaded.
TEST_F(DiskIoTest, SetTermFailingToSyncKeepsThePreviousTermAndVote) {
  ASSERT_EQ(io_.set_term(&io_, 3), 0);  // slot 0
  ASSERT_EQ(io_.set_vote(&io_, 2), 0);  // slot 1
  fs_.FailAfter(kOpSync, 0, EIO);
  EXPECT_EQ(io_.set_term(&io_, 4), RAFT_IOERR);  // slot 0, the older
  EXPECT_THAT(ErrMsg(), HasSubstr("/r/term_vote.0: injected sync failure"));
  EXPECT_EQ(io_.set_vote(&io_, 3), RAFT_IOERR);
  EXPECT_THAT(ErrMsg(), AllOf(HasSubstr("raft store /r failed earlier"),
                              HasSubstr("/r/term_vote.0")));
  auto a = Append(0, 3, 1);
  RunUntilDone({a.get()});
  EXPECT_EQ(a->status, RAFT_IOERR);
  ReopenAfterPowerLoss();
  Loaded l = Load();
  EXPECT_EQ(l.term, 3u);
  EXPECT_EQ(l.vote, 2u);
  EXPECT_TRUE(l.entries.empty());
}

// The first write of slot 1 goes to a temporary file, renamed into place:
// a failed write leaves no trace, even without a power loss.
TEST_F(DiskIoTest, SetVoteFailingToWriteKeepsThePreviousVote) {
  ASSERT_EQ(io_.set_term(&io_, 3), 0);  // slot 0
  fs_.FailAfter(kOpAppend, 0, EIO);
  EXPECT_EQ(io_.set_vote(&io_, 2), RAFT_IOERR);
  EXPECT_THAT(ErrMsg(),
              HasSubstr("/r/term_vote.1.tmp: injected append failure"));
  EXPECT_EQ(io_.set_term(&io_, 4), RAFT_IOERR);
  EXPECT_THAT(ErrMsg(), HasSubstr("raft store /r failed earlier"));
  Reopen();
  Loaded l = Load();
  EXPECT_EQ(l.term, 3u);
  EXPECT_EQ(l.vote, 0u);
  ASSERT_EQ(io_.set_vote(&io_, 2), 0);  // writable again after the reopen
  ReopenAfterPowerLoss();
  EXPECT_EQ(Load().vote, 2u);
}

}  // namespace
}  // namespace blockwal::raft
