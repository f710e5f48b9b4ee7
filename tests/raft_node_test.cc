// Raft on blockwal (raft/node_io.h): a single libraft server whose io is
// NodeIo elects itself, applies commands in order, and after a restart from
// its directory applies them again from the log (and from a snapshot once
// the log was compacted).
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
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

class RaftNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    address_ = absl::StrCat("127.0.0.1:", FreePort());
  }
  void TearDown() override { EXPECT_EQ(uv_loop_close(&loop_), 0); }

  // Starts server 1 on dir_ (bootstrapping a one-voter cluster when
  // `bootstrap`), runs `body` once it leads, then closes it.
  void RunServer(bool bootstrap, RecordingFsm* fsm, unsigned snapshot_threshold,
                 const std::function<void(struct raft*)>& body) {
    // Small segments, so that compaction (which drops whole segments)
    // shows within a few hundred entries.
    LogStoreOptions options;
    options.max_store_bytes = 2048;
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<NodeIo> node,
                         NodeIo::Open(&loop_, dir_.str(), options));
    struct raft r = {};
    ASSERT_EQ(raft_init(&r, node->io(), &fsm->fsm, 1, address_.c_str()), 0)
        << raft_errmsg(&r);
    raft_set_election_timeout(&r, 100);
    raft_set_heartbeat_timeout(&r, 20);
    raft_set_pre_vote(&r, true);
    if (snapshot_threshold > 0) {
      raft_set_snapshot_threshold(&r, snapshot_threshold);
      raft_set_snapshot_trailing(&r, 2);
    }
    if (bootstrap) {
      struct raft_configuration conf;
      raft_configuration_init(&conf);
      ASSERT_EQ(raft_configuration_add(&conf, 1, address_.c_str(), RAFT_VOTER),
                0);
      ASSERT_EQ(raft_bootstrap(&r, &conf), 0) << raft_errmsg(&r);
      raft_configuration_close(&conf);
    }
    ASSERT_EQ(raft_start(&r), 0) << raft_errmsg(&r);
    RunUntil([&] { return raft_state(&r) == RAFT_LEADER; });
    ASSERT_EQ(raft_state(&r), RAFT_LEADER);
    body(&r);
    bool closed = false;
    r.data = &closed;
    raft_close(&r,
               [](struct raft* rr) { *static_cast<bool*>(rr->data) = true; });
    RunUntil([&] { return closed; });
    ASSERT_TRUE(closed);
    node.reset();
  }

  // Applies `commands` through raft and waits until all are applied.
  void ApplyAll(struct raft* r, const std::vector<std::string>& commands) {
    int done = 0;
    std::vector<std::unique_ptr<struct raft_apply>> reqs;
    SubmitCommands(r, commands, &done, &reqs);
    RunUntil([&] { return done == static_cast<int>(reqs.size()); });
    EXPECT_EQ(done, static_cast<int>(commands.size()));
  }

  template <typename Done>
  void RunUntil(Done done) {
    for (int i = 0; i < 20000 && !done(); ++i) uv_run(&loop_, UV_RUN_ONCE);
  }

  blockwal::testing::ScratchDir dir_{"raft_node_test"};
  std::string address_;
  uv_loop_t loop_;
};

TEST_F(RaftNodeTest, AppliesInOrderAndAgainAfterARestart) {
  RecordingFsm fsm;
  RunServer(/*bootstrap=*/true, &fsm, 0,
            [&](struct raft* r) { ApplyAll(r, Commands(0, 200)); });
  EXPECT_EQ(fsm.applied, Commands(0, 200));

  // A restart replays the log into a fresh state machine.
  RecordingFsm again;
  RunServer(/*bootstrap=*/false, &again, 0, [&](struct raft* r) {
    RunUntil([&] { return again.applied.size() >= 200; });
    ApplyAll(r, Commands(200, 250));
  });
  EXPECT_EQ(again.applied, Commands(0, 250));
  EXPECT_EQ(again.restores, 0);
}

// Commands must be padded to 8 bytes (the wire rule, raft/entry_codec.h):
// an unpadded one is refused by the io, so raft_apply fails and raft
// discards it; padded ones before and after it are applied.
TEST_F(RaftNodeTest, UnpaddedCommandIsRefused) {
  RecordingFsm fsm;
  RunServer(/*bootstrap=*/true, &fsm, 0, [&](struct raft* r) {
    ApplyAll(r, Commands(0, 3));
    struct raft_buffer buf;
    buf.len = 5;  // "hello", not padded
    buf.base = raft_malloc(buf.len);
    std::memcpy(buf.base, "hello", buf.len);
    struct raft_apply req = {};
    EXPECT_EQ(raft_apply(r, &req, &buf, 1, nullptr), RAFT_INVALID);
    EXPECT_NE(std::string(raft_errmsg(r))
                  .find("command payload of 5 bytes is not padded"),
              std::string::npos)
        << raft_errmsg(r);
    raft_free(buf.base);  // refused: still the caller's
    ApplyAll(r, Commands(3, 6));
  });
  EXPECT_EQ(fsm.applied, Commands(0, 6));
}

TEST_F(RaftNodeTest, SnapshotsCompactTheLogAndRestoreAfterARestart) {
  RecordingFsm fsm;
  // In rounds: raft considers a snapshot after applying, one at a time.
  RunServer(/*bootstrap=*/true, &fsm, /*snapshot_threshold=*/32,
            [&](struct raft* r) {
              for (int i = 0; i < 300; i += 30)
                ApplyAll(r, Commands(i, i + 30));
            });
  EXPECT_EQ(fsm.applied, Commands(0, 300));
  int snapshots = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
    snapshots += absl::StartsWith(e.path().filename().string(), "snapshot-");
  }
  EXPECT_GE(snapshots, 1);
  {
    // The log was compacted behind the snapshot (2 trailing entries kept,
    // whole segments dropped).
    wal::LogOptions options;
    options.read_only = true;
    ASSERT_OK_AND_ASSIGN(
        std::unique_ptr<wal::Log> log,
        wal::Log::Open((dir_.path() / "log").string(), options));
    EXPECT_GT(log->LowestOffset(), 200u);
  }

  RecordingFsm again;
  RunServer(/*bootstrap=*/false, &again, 32, [&](struct raft* r) {
    RunUntil([&] { return again.applied.size() >= 300; });
  });
  EXPECT_EQ(again.applied, Commands(0, 300));
  EXPECT_EQ(again.restores, 1);  // from the snapshot, then the log after it
}

}  // namespace
}  // namespace blockwal::raft
