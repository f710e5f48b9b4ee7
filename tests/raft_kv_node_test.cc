// Three KvNodes (raft/kv_node.h) in one process over 127.0.0.1: writes
// through the leader are applied everywhere (on blockwal's storage and on
// libraft's stock storage), a follower refuses writes and
// knows the leader's client address, barriers, a restart from the
// directories, and a close that ends pending writes.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "blockwal/raft/kv_node.h"
#include "gtest/gtest.h"
#include "tests/free_port.h"
#include "tests/scratch_dir.h"
#include "tests/status_matchers.h"

namespace blockwal::raft {
namespace {

using ::blockwal::testing::FreePort;

constexpr int kNodes = 3;

class KvNodeTest : public ::testing::Test {
 protected:
  virtual KvNodeOptions::Storage storage() const {
    return KvNodeOptions::Storage::kBlockwal;
  }

  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    for (int i = 1; i <= kNodes; ++i) {
      KvNodeOptions o;
      o.id = i;
      o.dir = (scratch_.path() / absl::StrCat("node", i)).string();
      o.raft_address = absl::StrCat("127.0.0.1:", FreePort());
      o.client_address = absl::StrCat("client-of-", i);
      o.election_timeout_ms = 150;
      o.heartbeat_timeout_ms = 30;
      o.snapshot_threshold = 64;
      o.snapshot_trailing = 16;
      o.storage = storage();
      options_.push_back(o);
    }
    for (KvNodeOptions& o : options_) {
      for (const KvNodeOptions& p : options_) {
        o.voters.push_back({p.id, p.raft_address});
      }
    }
    nodes_.resize(kNodes);
  }

  void TearDown() override {
    for (int i = 0; i < kNodes; ++i) StopNode(i);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }

  void StartNode(int i) {
    ASSERT_OK_AND_ASSIGN(nodes_[i], KvNode::Start(&loop_, options_[i]));
  }
  void StopNode(int i) {
    if (nodes_[i] == nullptr) return;
    bool closed = false;
    nodes_[i]->Close([&closed] { closed = true; });
    RunUntil([&] { return closed; });
    ASSERT_TRUE(closed);
    nodes_[i].reset();
  }

  template <typename Done>
  void RunUntil(Done done) {
    for (int i = 0; i < 50000 && !done(); ++i) uv_run(&loop_, UV_RUN_ONCE);
  }

  KvNode* Leader() {
    KvNode* leader = nullptr;
    RunUntil([&] {
      for (auto& n : nodes_) {
        if (n != nullptr && n->status().role == RAFT_LEADER) leader = n.get();
      }
      return leader != nullptr;
    });
    return leader;
  }

  // Writes key=value through the leader and waits for the outcome.
  KvOutcome Put(KvNode* leader, const std::string& key,
                const std::string& value) {
    db::WriteBatch batch;
    batch.Put(key, value);
    bool done = false;
    KvOutcome outcome;
    absl::Status s = leader->Write(batch, [&](const KvOutcome& r) {
      outcome = r;
      done = true;
    });
    EXPECT_OK(s);
    EXPECT_FALSE(done);  // never inside Write
    RunUntil([&] { return done; });
    EXPECT_TRUE(done);
    return outcome;
  }

  void ExpectEverywhere(const std::string& key, const std::string& value) {
    RunUntil([&] {
      for (auto& n : nodes_) {
        const std::string* v = n == nullptr ? nullptr : n->fsm().Get(key);
        if (n != nullptr && (v == nullptr || *v != value)) return false;
      }
      return true;
    });
    for (auto& n : nodes_) {
      if (n == nullptr) continue;
      const std::string* v = n->fsm().Get(key);
      ASSERT_NE(v, nullptr) << "node " << n->id();
      EXPECT_EQ(*v, value) << "node " << n->id();
    }
  }

  blockwal::testing::ScratchDir scratch_{"raft_kv_node_test"};
  uv_loop_t loop_;
  std::vector<KvNodeOptions> options_;
  std::vector<std::unique_ptr<KvNode>> nodes_;
};

class KvNodeStorageTest
    : public KvNodeTest,
      public ::testing::WithParamInterface<KvNodeOptions::Storage> {
 protected:
  KvNodeOptions::Storage storage() const override { return GetParam(); }
};

INSTANTIATE_TEST_SUITE_P(
    Storages, KvNodeStorageTest,
    ::testing::Values(KvNodeOptions::Storage::kBlockwal,
                      KvNodeOptions::Storage::kRaftUv),
    [](const ::testing::TestParamInfo<KvNodeOptions::Storage>& info) {
      return info.param == KvNodeOptions::Storage::kBlockwal ? "Blockwal"
                                                             : "RaftUv";
    });

TEST_P(KvNodeStorageTest, WritesThroughTheLeaderAreAppliedEverywhere) {
  for (int i = 0; i < kNodes; ++i) StartNode(i);
  KvNode* leader = Leader();
  ASSERT_NE(leader, nullptr);
  for (int i = 0; i < 200; ++i) {
    const KvOutcome r =
        Put(leader, absl::StrCat("k", i % 50), absl::StrCat("v", i));
    ASSERT_EQ(r.kind, KvOutcome::kApplied) << r.message;
  }
  for (int k = 0; k < 50; ++k) {
    ExpectEverywhere(absl::StrCat("k", k), absl::StrCat("v", 150 + k));
  }
  for (auto& n : nodes_) {
    EXPECT_EQ(n->fsm().malformed(), 0u);
    EXPECT_EQ(n->fsm().table().live(), 50u);
  }
  // The stock io keeps its metadata files in DIR/raft-uv; blockwal's
  // storage never makes that directory.
  for (const KvNodeOptions& o : options_) {
    EXPECT_EQ(std::filesystem::exists(std::filesystem::path(o.dir) / "raft-uv" /
                                      "metadata1"),
              GetParam() == KvNodeOptions::Storage::kRaftUv)
        << o.dir;
    EXPECT_EQ(std::filesystem::exists(std::filesystem::path(o.dir) / "raft-uv"),
              GetParam() == KvNodeOptions::Storage::kRaftUv)
        << o.dir;
  }
}

TEST_F(KvNodeTest, AFollowerRefusesWritesAndKnowsTheLeadersClientAddress) {
  for (int i = 0; i < kNodes; ++i) StartNode(i);
  KvNode* leader = Leader();
  ASSERT_NE(leader, nullptr);
  KvNode* follower = nodes_[leader->id() == 1 ? 1 : 0].get();
  RunUntil([&] { return !follower->LeaderClientAddress().empty(); });
  EXPECT_EQ(follower->LeaderClientAddress(),
            absl::StrCat("client-of-", leader->id()));
  EXPECT_EQ(follower->status().leader, leader->id());
  db::WriteBatch batch;
  batch.Put("k", "v");
  bool called = false;
  absl::Status s =
      follower->Write(batch, [&](const KvOutcome&) { called = true; });
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "not the leader");
  EXPECT_EQ(follower->Barrier([&](const KvOutcome&) { called = true; }).code(),
            absl::StatusCode::kFailedPrecondition);
  uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_FALSE(called);
}

TEST_F(KvNodeTest, BarrierRunsOnceEverythingBeforeItIsApplied) {
  for (int i = 0; i < kNodes; ++i) StartNode(i);
  KvNode* leader = Leader();
  ASSERT_NE(leader, nullptr);
  db::WriteBatch batch;
  batch.Put("k", "before the barrier");
  bool written = false, barrier = false;
  ASSERT_OK(leader->Write(batch, [&](const KvOutcome&) { written = true; }));
  ASSERT_OK(leader->Barrier([&](const KvOutcome& r) {
    EXPECT_EQ(r.kind, KvOutcome::kApplied);
    EXPECT_TRUE(written);
    ASSERT_NE(leader->fsm().Get("k"), nullptr);
    EXPECT_EQ(*leader->fsm().Get("k"), "before the barrier");
    barrier = true;
  }));
  RunUntil([&] { return barrier; });
  EXPECT_TRUE(barrier);
}

TEST_F(KvNodeTest, RestartedClusterHasEveryAppliedWrite) {
  for (int i = 0; i < kNodes; ++i) StartNode(i);
  KvNode* leader = Leader();
  ASSERT_NE(leader, nullptr);
  for (int i = 0; i < 150; ++i) {  // past the snapshot threshold
    ASSERT_EQ(Put(leader, absl::StrCat("k", i), absl::StrCat("v", i)).kind,
              KvOutcome::kApplied);
  }
  for (int i = 0; i < kNodes; ++i) StopNode(i);
  for (int i = 0; i < kNodes; ++i) StartNode(i);
  ASSERT_NE(Leader(), nullptr);
  for (int i = 0; i < 150; i += 7) {
    ExpectEverywhere(absl::StrCat("k", i), absl::StrCat("v", i));
  }
}

TEST_F(KvNodeTest, CloseEndsAPendingWriteAsIndeterminate) {
  for (int i = 0; i < kNodes; ++i) StartNode(i);
  KvNode* leader = Leader();
  ASSERT_NE(leader, nullptr);
  const int l = static_cast<int>(leader->id()) - 1;
  for (int i = 0; i < kNodes; ++i) {
    if (i != l) StopNode(i);  // no quorum left: nothing commits
  }
  db::WriteBatch batch;
  batch.Put("k", "v");
  bool done = false;
  KvOutcome outcome;
  absl::Status s = nodes_[l]->Write(batch, [&](const KvOutcome& r) {
    outcome = r;
    done = true;
  });
  // Well inside the election timeout: it still leads.
  ASSERT_OK(s);
  EXPECT_FALSE(done);
  StopNode(l);
  ASSERT_TRUE(done);
  EXPECT_EQ(outcome.kind, KvOutcome::kIndeterminate);
  EXPECT_FALSE(outcome.message.empty());
}

}  // namespace
}  // namespace blockwal::raft
