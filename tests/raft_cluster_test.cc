// Three libraft servers on NodeIo (raft/node_io.h) in one process, over TCP
// on 127.0.0.1: a leader is elected, 1 000 commands are applied in the same
// order on every server, a restarted server catches up from its directory,
// a server wiped clean catches up through a snapshot install, and
// compaction keeps every log bounded.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "blockwal/raft/entry_codec.h"
#include "blockwal/raft/node_io.h"
#include "blockwal/wal/log.h"
#include "gtest/gtest.h"
#include "tests/free_port.h"
#include "tests/raft_test_fsm.h"
#include "tests/scratch_dir.h"
#include "tests/status_matchers.h"

namespace blockwal::raft {
namespace {

using ::blockwal::testing::Commands;
using ::blockwal::testing::FreePort;
using ::blockwal::testing::RecordingFsm;
using ::blockwal::testing::SubmitCommands;

constexpr int kServers = 3;
constexpr unsigned kSnapshotThreshold = 64;
constexpr unsigned kSnapshotTrailing = 16;
constexpr uint64_t kSegmentBytes = 4096;

// A log that applied `applied` entries (plus a configuration entry) holds
// none below this: snapshots come every kSnapshotThreshold entries, keep
// kSnapshotTrailing, and compaction drops whole segments (a segment holds
// fewer than kSegmentBytes / 16 entries).
uint64_t CompactedBelow(uint64_t applied) {
  return applied - kSnapshotThreshold - kSnapshotTrailing - kSegmentBytes / 16;
}

// One server: its io, its raft and its state machine (not movable: raft
// keeps pointers to all three).
struct Server {
  raft_id id = 0;
  std::string dir;
  std::string address;
  std::unique_ptr<NodeIo> node;
  struct raft r = {};
  RecordingFsm fsm;
  bool running = false;
  bool closed = false;
};

class RaftClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    for (int i = 0; i < kServers; ++i) {
      auto s = std::make_unique<Server>();
      s->id = i + 1;
      s->dir = (scratch_.path() / absl::StrCat("server", s->id)).string();
      s->address = absl::StrCat("127.0.0.1:", FreePort());
      servers_.push_back(std::move(s));
    }
    raft_configuration_init(&conf_);
    for (const auto& s : servers_) {
      ASSERT_EQ(
          raft_configuration_add(&conf_, s->id, s->address.c_str(), RAFT_VOTER),
          0);
    }
  }

  void TearDown() override {
    for (auto& s : servers_) {
      if (s->running) Stop(s.get());
    }
    raft_configuration_close(&conf_);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }

  // Opens server s on its directory (bootstrapping the three-voter
  // configuration when asked) and starts it.
  void Start(Server* s, bool bootstrap) {
    LogStoreOptions options;
    options.max_store_bytes = kSegmentBytes;  // compaction shows
    ASSERT_OK_AND_ASSIGN(s->node, NodeIo::Open(&loop_, s->dir, options));
    s->fsm.applied.clear();  // a fresh state machine (fsm.data stays)
    s->fsm.restores = 0;
    s->r = {};
    ASSERT_EQ(
        raft_init(&s->r, s->node->io(), &s->fsm.fsm, s->id, s->address.c_str()),
        0)
        << raft_errmsg(&s->r);
    raft_set_election_timeout(&s->r, 150);
    raft_set_heartbeat_timeout(&s->r, 30);
    raft_set_pre_vote(&s->r, true);
    raft_set_snapshot_threshold(&s->r, kSnapshotThreshold);
    raft_set_snapshot_trailing(&s->r, kSnapshotTrailing);
    if (bootstrap) {
      ASSERT_EQ(raft_bootstrap(&s->r, &conf_), 0) << raft_errmsg(&s->r);
    }
    ASSERT_EQ(raft_start(&s->r), 0) << raft_errmsg(&s->r);
    s->running = true;
    s->closed = false;
  }

  void Stop(Server* s) {
    s->r.data = s;
    raft_close(&s->r, [](struct raft* r) {
      static_cast<Server*>(r->data)->closed = true;
    });
    RunUntil([&] { return s->closed; });
    ASSERT_TRUE(s->closed);
    s->running = false;
    s->node.reset();
  }

  Server* Leader() {
    for (auto& s : servers_) {
      if (s->running && raft_state(&s->r) == RAFT_LEADER) return s.get();
    }
    return nullptr;
  }

  Server* AFollower() {
    for (auto& s : servers_) {
      if (s->running && raft_state(&s->r) != RAFT_LEADER) return s.get();
    }
    return nullptr;
  }

  // Applies `commands` through the leader, in one round, and waits for all
  // to be committed and applied there.
  void ApplyThroughLeader(const std::vector<std::string>& commands) {
    Server* leader = nullptr;
    RunUntil([&] { return (leader = Leader()) != nullptr; });
    ASSERT_NE(leader, nullptr) << "no leader elected";
    int done = 0;
    std::vector<std::unique_ptr<struct raft_apply>> reqs;
    SubmitCommands(&leader->r, commands, &done, &reqs);
    RunUntil([&] { return done == static_cast<int>(reqs.size()); });
    ASSERT_EQ(done, static_cast<int>(commands.size()));
  }

  // Waits until every running server applied `n` commands; they must be
  // exactly Commands(0, n), in order.
  void ExpectAllApplied(int n) {
    RunUntil([&] {
      for (auto& s : servers_) {
        if (s->running && s->fsm.applied.size() < static_cast<size_t>(n)) {
          return false;
        }
      }
      return true;
    });
    for (auto& s : servers_) {
      if (s->running) {
        EXPECT_EQ(s->fsm.applied, Commands(0, n)) << "server " << s->id;
      }
    }
  }

  // The lowest offset of server s's raft log (it must be stopped).
  uint64_t LowestLogOffset(const Server& s) {
    wal::LogOptions options;
    options.read_only = true;
    absl::StatusOr<std::unique_ptr<wal::Log>> log =
        wal::Log::Open(JoinPath(s.dir, "log"), options);
    EXPECT_OK(log);
    return log.ok() ? (*log)->LowestOffset() : 0;
  }

  // Runs the loop until `done`, or about 60 s (ticks keep it turning).
  template <typename Done>
  void RunUntil(Done done) {
    for (int i = 0; i < 60000 && !done(); ++i) uv_run(&loop_, UV_RUN_ONCE);
  }

  blockwal::testing::ScratchDir scratch_{"raft_cluster_test"};
  uv_loop_t loop_;
  struct raft_configuration conf_;
  std::vector<std::unique_ptr<Server>> servers_;
};

TEST_F(RaftClusterTest, ReplicatesRestartsAndCatchesUpThroughASnapshot) {
  for (auto& s : servers_) Start(s.get(), /*bootstrap=*/true);
  for (int i = 0; i < 1000; i += 100) ApplyThroughLeader(Commands(i, i + 100));
  ExpectAllApplied(1000);

  // A follower restarted from its directory catches up, also with what was
  // written while it was down.
  Server* f = AFollower();
  ASSERT_NE(f, nullptr);
  Stop(f);
  EXPECT_GT(LowestLogOffset(*f), CompactedBelow(1000))
      << "compaction keeps the log bounded";
  ApplyThroughLeader(Commands(1000, 1100));
  Start(f, /*bootstrap=*/false);
  ExpectAllApplied(1100);
  EXPECT_GE(f->fsm.restores, 1) << "its own snapshot restored at start";

  // A follower wiped clean catches up through the leader's snapshot: the
  // leader's log no longer reaches back to index 1.
  f = AFollower();
  ASSERT_NE(f, nullptr);
  Stop(f);
  std::filesystem::remove_all(f->dir);
  ApplyThroughLeader(Commands(1100, 1200));
  Start(f, /*bootstrap=*/false);
  ExpectAllApplied(1200);
  EXPECT_EQ(f->fsm.restores, 1) << "installed from the leader's snapshot";

  // Every log stays bounded by the snapshots.
  for (auto& s : servers_) {
    Stop(s.get());
    EXPECT_GT(LowestLogOffset(*s), CompactedBelow(1200)) << "server " << s->id;
  }
}

}  // namespace
}  // namespace blockwal::raft
