// The replicated key-value store end to end: three `kv serve` processes on
// 127.0.0.1 driven by `kv client` (docs/raft.md). Each test is bounded in
// time; the kill test's rounds are BLOCKWAL_KV_KILL_ROUNDS (20 in CI; the
// long setting in README.md is 200).
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "blockwal/raft/log_store.h"
#include "blockwal/wal/log.h"
#include "gtest/gtest.h"
#include "tests/kv_cluster_util.h"
#include "tests/run_command.h"
#include "tests/scratch_dir.h"
#include "tests/status_matchers.h"

namespace blockwal::testing {
namespace {

using Pairs = std::map<std::string, std::string>;

// A server's applied state as `kv client dump` prints it.
struct Dumped {
  Pairs pairs;
  uint64_t applied = 0;
};

// One line of `kv client status`.
struct Status {
  int id = 0;
  std::string role;
  uint64_t term = 0, applied = 0, commit = 0, last = 0, leader = 0;
  uint64_t restores = 0;
};

int KillRounds() {
  const char* v = std::getenv("BLOCKWAL_KV_KILL_ROUNDS");
  int n = 0;
  return v != nullptr && absl::SimpleAtoi(v, &n) && n > 0 ? n : 20;
}

// Waits up to 60 s for `done`.
template <typename Done>
bool WaitUntil(Done done) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

class KvClusterTest : public ::testing::Test {
 protected:
  void StartCluster(std::vector<std::string> extra = {}) {
    extra.insert(extra.end(), {"--election-timeout-ms", "500"});
    cluster_.emplace(KV_PATH, dir_.path().string(), 3, extra);
    for (KvServerProcess& s : cluster_->servers()) {
      ASSERT_TRUE(cluster_->Start(&s));
    }
  }

  void TearDown() override {
    if (HasFailure() && cluster_.has_value()) {
      std::fprintf(stderr, "%s", cluster_->AllLogs().c_str());
    }
  }

  CommandResult Client(const std::string& servers,
                       std::vector<std::string> args,
                       const std::string& stdin_data = "") {
    std::vector<std::string> argv = {KV_PATH, "client",    "--servers",
                                     servers, "--timeout", "30"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, "", stdin_data);
  }

  std::optional<Status> StatusOf(const KvServerProcess& s) {
    CommandResult r = Client(s.client_address, {"status"});
    if (r.exit_code != 0) return std::nullopt;
    Status st;
    for (absl::string_view word :
         absl::StrSplit(absl::StripTrailingAsciiWhitespace(r.out), ' ')) {
      std::pair<absl::string_view, absl::string_view> kv =
          absl::StrSplit(word, absl::MaxSplits('=', 1));
      uint64_t n = 0;
      const bool number = absl::SimpleAtoi(kv.second, &n);
      if (kv.first == "id") st.id = static_cast<int>(n);
      if (kv.first == "role") st.role = std::string(kv.second);
      if (kv.first == "term") st.term = n;
      if (kv.first == "applied") st.applied = n;
      if (kv.first == "commit") st.commit = n;
      if (kv.first == "last") st.last = n;
      if (kv.first == "leader") st.leader = n;
      if (kv.first == "restores") st.restores = n;
      if (!number && kv.first != "role") return std::nullopt;
    }
    return st;
  }

  Dumped Dump(const KvServerProcess& s) {
    CommandResult r = Client(s.client_address, {"dump"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    Dumped d;
    for (absl::string_view line : absl::StrSplit(r.out, '\n')) {
      if (line.empty()) continue;
      if (absl::ConsumePrefix(&line, "END applied=")) {
        EXPECT_TRUE(absl::SimpleAtoi(line, &d.applied)) << line;
        continue;
      }
      std::pair<std::string, std::string> kv =
          absl::StrSplit(line, absl::MaxSplits('\t', 1));
      d.pairs.insert(kv);
    }
    return d;
  }

  // The leader's server, waiting (up to 30 s) for one all running servers
  // agree on.
  KvServerProcess* Leader() {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      for (KvServerProcess& s : cluster_->servers()) {
        if (s.pid <= 0 || s.stopped) continue;
        std::optional<Status> st = StatusOf(s);
        if (st.has_value() && st->role == "leader") return &s;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "no leader within 30 s";
    return nullptr;
  }

  // Waits (up to 60 s) until every running server has applied the same
  // index, all of what its leader committed; returns their dumps.
  std::vector<Dumped> Converged() {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      std::set<uint64_t> applied, commit;
      bool leader = false, all = true;
      for (KvServerProcess& s : cluster_->servers()) {
        if (s.pid <= 0) continue;
        std::optional<Status> st = StatusOf(s);
        if (!st.has_value()) {
          all = false;
          break;
        }
        applied.insert(st->applied);
        commit.insert(st->commit);
        leader |= st->role == "leader";
      }
      if (all && leader && applied.size() == 1 && commit.size() == 1 &&
          *applied.begin() == *commit.begin()) {
        std::vector<Dumped> dumps;
        for (KvServerProcess& s : cluster_->servers()) {
          if (s.pid > 0) dumps.push_back(Dump(s));
        }
        bool same = true;
        for (const Dumped& d : dumps) {
          same &= d.applied == dumps[0].applied && d.pairs == dumps[0].pairs;
        }
        if (same) return dumps;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "the servers did not converge within 60 s";
    return {};
  }

  // Every acknowledged write is there with its newest value, or a newer one
  // whose outcome was not known; nothing else is.
  static void ExpectAcknowledgedWrites(const std::vector<SentWrite>& sent,
                                       const std::string& prefix,
                                       const Pairs& pairs) {
    std::map<std::string, std::set<std::string>> allowed;
    std::map<std::string, bool> must_exist;
    std::set<std::string> never;  // values of writes that definitely failed
    for (const SentWrite& w : sent) {
      if (w.answer == "OK") {
        allowed[w.key] = {w.value};
        must_exist[w.key] = true;
      } else if (w.answer.empty() ||
                 absl::StartsWith(w.answer, "ERR indeterminate")) {
        allowed[w.key].insert(w.value);
      } else {
        never.insert(w.value);
      }
    }
    size_t checked = 0;
    for (const auto& [key, values] : allowed) {
      auto it = pairs.find(key);
      if (it == pairs.end()) {
        EXPECT_FALSE(must_exist[key]) << key << " was acknowledged, is gone";
        continue;
      }
      EXPECT_TRUE(values.count(it->second) > 0)
          << key << " holds " << it->second << ", not its newest write";
      ++checked;
    }
    for (const auto& [key, value] : pairs) {
      if (!absl::StartsWith(key, prefix)) continue;
      EXPECT_TRUE(allowed.count(key) > 0) << key << " was never written";
      EXPECT_EQ(never.count(value), 0u) << value << " failed, yet is there";
    }
    EXPECT_GT(checked, 0u);
  }

  ScratchDir dir_{"kv_cluster_test"};
  std::optional<KvCluster> cluster_;
};

TEST_F(KvClusterTest, TwoThousandWritesThroughOneClientLeaveIdenticalDumps) {
  StartCluster();
  std::string input;
  Pairs expected;
  for (int i = 0; i < 2000; ++i) {
    const std::string key = absl::StrCat("k", i % 500);
    const std::string value = absl::StrCat("v", i);
    absl::StrAppend(&input, "put ", key, " ", value, "\n");
    expected[key] = value;
  }
  CommandResult r = Client(cluster_->ClientAddresses(), {"shell"}, input);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string oks;
  for (int i = 0; i < 2000; ++i) oks += "OK\n";
  EXPECT_EQ(r.out, oks);
  std::vector<Dumped> dumps = Converged();
  ASSERT_EQ(dumps.size(), 3u);
  for (const Dumped& d : dumps) EXPECT_EQ(d.pairs, expected);
}

TEST_F(KvClusterTest, LeaderKilledRepeatedlyLosesNoAcknowledgedWrite) {
  StartCluster();
  std::mt19937 rng(::testing::UnitTest::GetInstance()->random_seed());
  ShellWriter a(KV_PATH, cluster_->ClientAddresses(), "a", 50);
  ShellWriter b(KV_PATH, cluster_->ClientAddresses(), "b", 50);
  ASSERT_TRUE(a.Start());
  ASSERT_TRUE(b.Start());
  const int rounds = KillRounds();
  for (int round = 0; round < rounds; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(
        std::uniform_int_distribution<int>(200, 800)(rng)));
    KvServerProcess* leader = Leader();
    ASSERT_NE(leader, nullptr);
    EXPECT_EQ(cluster_->Kill(leader, SIGKILL), 128 + SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(
        std::uniform_int_distribution<int>(500, 2000)(rng)));
    ASSERT_TRUE(cluster_->Start(leader)) << "round " << round;
  }
  const std::vector<SentWrite> sent_a = a.Stop();
  const std::vector<SentWrite> sent_b = b.Stop();
  std::vector<Dumped> dumps = Converged();
  ASSERT_EQ(dumps.size(), 3u);
  ExpectAcknowledgedWrites(sent_a, "a", dumps[0].pairs);
  ExpectAcknowledgedWrites(sent_b, "b", dumps[0].pairs);
  EXPECT_GT(a.acknowledged() + b.acknowledged(), static_cast<size_t>(rounds));
}

TEST_F(KvClusterTest, AllThreeKilledAtOnceKeepEveryAcknowledgedWrite) {
  StartCluster();
  ShellWriter w(KV_PATH, cluster_->ClientAddresses(), "w", 100);
  ASSERT_TRUE(w.Start());
  ASSERT_TRUE(WaitUntil([&] { return w.acknowledged() >= 300; }));
  for (KvServerProcess& s : cluster_->servers()) ::kill(s.pid, SIGKILL);
  for (KvServerProcess& s : cluster_->servers()) {
    EXPECT_EQ(cluster_->Kill(&s, SIGKILL), 128 + SIGKILL);
  }
  // The writer keeps going: its write in flight is indeterminate, the next
  // ones wait for the restarted cluster.
  const size_t before_restart = w.acknowledged();
  for (KvServerProcess& s : cluster_->servers()) {
    ASSERT_TRUE(cluster_->Start(&s));
  }
  ASSERT_TRUE(
      WaitUntil([&] { return w.acknowledged() >= before_restart + 100; }));
  const std::vector<SentWrite> sent = w.Stop();
  std::vector<Dumped> dumps = Converged();
  ASSERT_EQ(dumps.size(), 3u);
  ExpectAcknowledgedWrites(sent, "w", dumps[0].pairs);
}

// The follower is down while more than threshold + trailing entries are
// written, so the leader has compacted away what it lacks. It had taken no
// snapshot of its own (it stopped below the threshold: its directory holds
// no snapshot file), so the restores its status counts once it has caught
// up (restores=1 or more) can only be of the snapshot its leader sent.
TEST_F(KvClusterTest, AFollowerFarBehindCatchesUpThroughASnapshotInstall) {
  StartCluster({"--snapshot-threshold", "64", "--snapshot-trailing", "16"});
  std::string input;
  for (int i = 0; i < 10; ++i) absl::StrAppend(&input, "put e", i, " x\n");
  ASSERT_EQ(Client(cluster_->ClientAddresses(), {"shell"}, input).exit_code, 0);
  KvServerProcess* leader = Leader();
  ASSERT_NE(leader, nullptr);
  KvServerProcess* follower = &cluster_->server(leader->id == 1 ? 2 : 1);
  EXPECT_EQ(cluster_->Kill(follower, SIGKILL), 128 + SIGKILL);
  input.clear();
  for (int i = 0; i < 300; ++i)
    absl::StrAppend(&input, "put f", i, " y", i, "\n");
  ASSERT_EQ(Client(cluster_->ClientAddresses(), {"shell"}, input).exit_code, 0);
  // No snapshot of its own to load: any restore it does is an install.
  for (const auto& entry : std::filesystem::directory_iterator(follower->dir)) {
    EXPECT_FALSE(
        absl::StartsWith(entry.path().filename().string(), "snapshot-"))
        << entry.path();
  }
  ASSERT_TRUE(cluster_->Start(follower));
  std::vector<Dumped> dumps = Converged();
  ASSERT_EQ(dumps.size(), 3u);
  EXPECT_EQ(dumps[0].pairs.size(), 310u);
  std::optional<Status> caught_up = StatusOf(*follower);
  ASSERT_TRUE(caught_up.has_value());
  EXPECT_GE(caught_up->restores, 1u);
}

TEST_F(KvClusterTest, APausedLeaderIsReplacedAndRejoinsWithoutLoss) {
  StartCluster();
  std::string input;
  for (int i = 0; i < 50; ++i) absl::StrAppend(&input, "put p", i, " before\n");
  ASSERT_EQ(Client(cluster_->ClientAddresses(), {"shell"}, input).exit_code, 0);
  KvServerProcess* old_leader = Leader();
  ASSERT_NE(old_leader, nullptr);
  cluster_->Kill(old_leader, SIGSTOP);  // longer than the election timeout
  // Until the others have elected one, they send clients to the paused
  // leader, where a write can only time out (indeterminate).
  KvServerProcess* new_leader = Leader();
  ASSERT_NE(new_leader, nullptr);
  EXPECT_NE(new_leader, old_leader);
  std::string others;
  for (KvServerProcess& s : cluster_->servers()) {
    if (&s != old_leader)
      absl::StrAppend(&others, others.empty() ? "" : ",", s.client_address);
  }
  input.clear();
  for (int i = 0; i < 50; ++i) absl::StrAppend(&input, "put p", i, " after\n");
  CommandResult r = Client(others, {"shell"}, input);
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 50);
  EXPECT_EQ(r.out.find("ERR"), std::string::npos) << r.out;
  cluster_->Kill(old_leader, SIGCONT);
  std::vector<Dumped> dumps = Converged();
  ASSERT_EQ(dumps.size(), 3u);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(dumps[0].pairs[absl::StrCat("p", i)], "after");
  }
}

// The leader cut off from the others (kv serve --fault-signals: raft
// messages dropped both ways) still takes a client's write: it appends it to
// its own log, cannot commit it, steps down, and the write ends
// indeterminate. The others elect a leader and take writes. Once
// reconnected, the old leader follows the new one, whose log replaces its
// uncommitted entries: the cut-off writes appear nowhere.
TEST_F(KvClusterTest, ACutOffLeadersUncommittedWritesAreDropped) {
  StartCluster({"--fault-signals"});
  std::string input;
  for (int i = 0; i < 20; ++i) absl::StrAppend(&input, "put q", i, " before\n");
  ASSERT_EQ(Client(cluster_->ClientAddresses(), {"shell"}, input).exit_code, 0);
  KvServerProcess* old_leader = Leader();
  ASSERT_NE(old_leader, nullptr);
  cluster_->Kill(old_leader, SIGUSR1);
  CommandResult cut =
      RunCommand({KV_PATH, "client", "--servers", old_leader->client_address,
                  "--timeout", "5", "put", "cut", "lost"});
  EXPECT_EQ(cut.exit_code, 1);
  EXPECT_TRUE(absl::StartsWith(cut.out, "ERR indeterminate: ")) << cut.out;
  old_leader->stopped = true;  // Leader() looks at the others only
  KvServerProcess* new_leader = Leader();
  old_leader->stopped = false;
  ASSERT_NE(new_leader, nullptr);
  EXPECT_NE(new_leader, old_leader);
  std::string others;
  for (KvServerProcess& s : cluster_->servers()) {
    if (&s != old_leader) {
      absl::StrAppend(&others, others.empty() ? "" : ",", s.client_address);
    }
  }
  input.clear();
  for (int i = 0; i < 20; ++i) absl::StrAppend(&input, "put q", i, " after\n");
  CommandResult r = Client(others, {"shell"}, input);
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.find("ERR"), std::string::npos) << r.out;
  cluster_->Kill(old_leader, SIGUSR2);
  std::vector<Dumped> dumps = Converged();
  ASSERT_EQ(dumps.size(), 3u);
  EXPECT_EQ(dumps[0].pairs.count("cut"), 0u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(dumps[0].pairs[absl::StrCat("q", i)], "after");
  }
}

// Log matching, read from the servers' own logs once they are closed: at
// every committed index, every server that holds the entry holds the same
// bytes.
TEST_F(KvClusterTest, CommittedEntriesAreTheSameOnEveryServer) {
  StartCluster();
  std::string input;
  for (int i = 0; i < 300; ++i)
    absl::StrAppend(&input, "put m", i % 40, " ", i, "\n");
  ASSERT_EQ(Client(cluster_->ClientAddresses(), {"shell"}, input).exit_code, 0);
  KvServerProcess* leader = Leader();
  ASSERT_NE(leader, nullptr);
  EXPECT_EQ(cluster_->Kill(leader, SIGKILL), 128 + SIGKILL);  // a new term
  ASSERT_EQ(Client(cluster_->ClientAddresses(), {"shell"}, input).exit_code, 0);
  ASSERT_TRUE(cluster_->Start(leader));
  ASSERT_EQ(Converged().size(), 3u);
  uint64_t commit = ~uint64_t{0};
  for (KvServerProcess& s : cluster_->servers()) {
    std::optional<Status> st = StatusOf(s);
    ASSERT_TRUE(st.has_value());
    commit = std::min(commit, st->commit);
  }
  for (KvServerProcess& s : cluster_->servers()) {
    EXPECT_EQ(cluster_->Kill(&s, SIGTERM), 0) << "server " << s.id;
  }
  std::map<uint64_t, std::map<int, std::string>> entries;  // index, server
  for (KvServerProcess& s : cluster_->servers()) {
    wal::LogOptions o;
    o.read_only = true;
    ASSERT_OK_AND_ASSIGN(
        auto log,
        wal::Log::Open(absl::StrCat(s.dir, "/", raft::kRaftLogDirName), o));
    std::string scratch;
    for (uint64_t i = log->LowestOffset(); i < log->NextOffset() && i <= commit;
         ++i) {
      ASSERT_OK_AND_ASSIGN(wal::Record r, log->Read(i, &scratch));
      entries[i][s.id] = std::string(r.value);
    }
  }
  size_t compared = 0;
  for (const auto& [index, by_server] : entries) {
    for (const auto& [id, bytes] : by_server) {
      EXPECT_EQ(bytes, by_server.begin()->second)
          << "index " << index << ": server " << id << " differs from server "
          << by_server.begin()->first;
    }
    compared += by_server.size() > 1;
  }
  EXPECT_GT(compared, 100u);
}

}  // namespace
}  // namespace blockwal::testing
