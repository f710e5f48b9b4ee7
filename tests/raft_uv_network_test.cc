// UvNetwork (raft/uv_network.h): two network halves on one loop over
// 127.0.0.1 exchange a message through libraft's own TCP transport; raft's
// callbacks get the outer io, the stock io leaves its scratch directory to
// itself, and Close calls back once everything is closed.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "blockwal/raft/uv_network.h"
#include "gtest/gtest.h"
#include "tests/free_port.h"
#include "tests/scratch_dir.h"
#include "tests/status_matchers.h"

namespace blockwal::raft {
namespace {

using ::blockwal::testing::FreePort;

// What raft's callbacks saw, per outer io.
struct Seen {
  int ticks = 0;
  std::vector<struct raft_message> messages;
  // Each message's server_address, copied: the receiver's memory.
  std::vector<std::string> addresses;
};

struct Node {
  struct raft_io outer = {};  // what raft_init would have been given
  Seen seen;
  std::unique_ptr<UvNetwork> net;
  std::string address;
};

void OnTick(struct raft_io* io) { static_cast<Seen*>(io->data)->ticks++; }

void OnRecv(struct raft_io* io, struct raft_message* message) {
  Seen* seen = static_cast<Seen*>(io->data);
  seen->messages.push_back(*message);
  seen->addresses.emplace_back(message->server_address);
  seen->messages.back().server_address = nullptr;
}

class UvNetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    for (int i = 0; i < 2; ++i) {
      Node& n = nodes_[i];
      n.outer.data = &n.seen;
      n.address = absl::StrCat("127.0.0.1:", FreePort());
      ASSERT_OK_AND_ASSIGN(
          n.net,
          UvNetwork::Create(
              &loop_, (scratch_.path() / absl::StrCat("net", i)).string()));
      ASSERT_EQ(n.net->Init(i + 1, n.address.c_str()), 0) << n.net->errmsg();
      ASSERT_EQ(n.net->Start(&n.outer, 20, &OnTick, &OnRecv), 0)
          << n.net->errmsg();
    }
  }

  void TearDown() override {
    int closed = 0;
    for (Node& n : nodes_) {
      if (n.net != nullptr) n.net->Close([&closed] { ++closed; });
    }
    RunUntil([&] { return closed == 2; });
    EXPECT_EQ(closed, 2);
    for (Node& n : nodes_) n.net.reset();
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }

  // Runs the loop until `done` or about 10 s (ticks keep it turning).
  template <typename Done>
  void RunUntil(Done done) {
    for (int i = 0; i < 1000 && !done(); ++i) uv_run(&loop_, UV_RUN_ONCE);
  }

  blockwal::testing::ScratchDir scratch_{"raft_uv_network_test"};
  uv_loop_t loop_;
  Node nodes_[2];
};

TEST_F(UvNetworkTest, MessageArrivesAtTheOuterIoOfTheReceiver) {
  struct raft_message m = {};
  m.type = RAFT_IO_REQUEST_VOTE;
  m.server_id = 2;
  m.server_address = nodes_[1].address.c_str();
  m.request_vote.term = 7;
  m.request_vote.candidate_id = 1;
  m.request_vote.last_log_index = 3;
  m.request_vote.last_log_term = 2;
  m.request_vote.pre_vote = true;
  struct raft_io_send req = {};
  int send_status = -1;
  req.data = &send_status;
  ASSERT_EQ(nodes_[0].net->Send(&req, &m,
                                [](struct raft_io_send* r, int status) {
                                  *static_cast<int*>(r->data) = status;
                                }),
            0);
  const std::vector<struct raft_message>& got = nodes_[1].seen.messages;
  RunUntil([&] { return !got.empty() && send_status != -1; });
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(send_status, 0);
  EXPECT_EQ(got[0].type, RAFT_IO_REQUEST_VOTE);
  EXPECT_EQ(got[0].server_id, 1u);  // the sender
  EXPECT_EQ(nodes_[1].seen.addresses[0], nodes_[0].address);
  EXPECT_EQ(got[0].request_vote.term, 7u);
  EXPECT_EQ(got[0].request_vote.candidate_id, 1u);
  EXPECT_EQ(got[0].request_vote.last_log_index, 3u);
  EXPECT_EQ(got[0].request_vote.last_log_term, 2u);
  EXPECT_TRUE(got[0].request_vote.pre_vote);
  EXPECT_TRUE(nodes_[0].seen.messages.empty());
}

TEST_F(UvNetworkTest, TicksReachEachOuterIoAndTimeAndRandomForward) {
  RunUntil(
      [&] { return nodes_[0].seen.ticks >= 3 && nodes_[1].seen.ticks >= 3; });
  EXPECT_GE(nodes_[0].seen.ticks, 3);
  EXPECT_GE(nodes_[1].seen.ticks, 3);
  const raft_time t0 = nodes_[0].net->Time();
  RunUntil([&] { return nodes_[0].net->Time() > t0; });
  EXPECT_GT(nodes_[0].net->Time(), t0);
  for (int i = 0; i < 100; ++i) {
    const int r = nodes_[0].net->Random(150, 300);
    EXPECT_GE(r, 150);
    EXPECT_LE(r, 300);
  }
}

// The stock io was given a scratch directory of its own: it exists, and
// nothing of it reaches the directory beside it.
TEST_F(UvNetworkTest, ScratchDirectoriesAreCreatedAndSeparate) {
  EXPECT_TRUE(std::filesystem::is_directory(scratch_.path() / "net0"));
  EXPECT_TRUE(std::filesystem::is_directory(scratch_.path() / "net1"));
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(scratch_.path())) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"net0", "net1"}));
}

}  // namespace
}  // namespace blockwal::raft
