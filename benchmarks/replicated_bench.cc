// Replicated synced writes: a cluster of three `kv serve` processes
// (tools/kv_serve.h) on 127.0.0.1, driven through the client protocol
// (docs/raft.md, "The client protocol"), on each storage:
//
//   BM_ReplicatedPut/blockwal   the servers on blockwal's storage half
//                               (kv serve --storage blockwal, the default)
//   BM_ReplicatedPut/raft_uv    the same servers on libraft's stock storage
//                               (kv serve --storage raft-uv: raft_uv in
//                               DIR/raft-uv, its own directory)
//
// at 1, 8 and 64 clients (threads:N). Each client is a benchmark thread
// with its own connection to the leader, sending one `put KEY VALUE` at a
// time (16-byte keys, a bounded key set per client so the state stays
// small; 100-byte values) and waiting for its OK: the write is then in a
// majority's synced raft log and applied on the leader. A run (one
// repetition of one configuration) starts a fresh cluster in a fresh
// directory, waits for every server's READY and for a leader, lets the
// clients write for a warm-up (not counted), then counts the writes that
// complete in the measured window (kWindowSeconds, times
// $BLOCKWAL_BENCH_TIME_SCALE), and stops the cluster (SIGTERM, then SIGKILL
// after kStopSeconds). Time is manual (the window), one iteration per run:
// items_per_second is writes acknowledged per second over all clients;
// p50_us / p99_us are the per-write latencies of every client, merged
// (util/histogram.h buckets, so a percentile is its bucket's upper edge).
//
// The three servers and the clients share this machine: one disk (every
// server fdatasyncs its own log on it) and its cores. The single-node
// figure, synced puts into one db::DB, is kv_bench's BM_PutSync/blockwal.
//
// Compare the storages in one sitting, repetitions interleaved:
//   replicated_bench --benchmark_repetitions=5
//                    --benchmark_enable_random_interleaving=true
//
// Servers run with PR_SET_PDEATHSIG, so none outlives this program even when
// it is killed. Files live under $BLOCKWAL_BENCH_DIR (default $TMPDIR, then
// /tmp), removed when each run ends; a run that fails says why, with the
// end of the failing server's stderr.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "benchmark/benchmark.h"
#include "benchmarks/bench_util.h"
#include "blockwal/util/file_system.h"
#include "blockwal/util/histogram.h"
#include "blockwal/util/status_macros.h"
#include "tools/kv_connection.h"
#include "tools/kv_protocol.h"

#ifndef KV_PATH
#error "KV_PATH (the kv binary) must be defined"
#endif

namespace blockwal {
namespace {

using bench::FreshPath;
using bench::RemoveTree;
using tools::kv::Answer;
using tools::kv::AnswerKind;
using tools::kv::LineConnection;
using Clock = std::chrono::steady_clock;

constexpr int kServers = 3;
constexpr size_t kKeySize = 16;
constexpr size_t kValueSize = 100;
constexpr uint64_t kKeysPerClient = 256;
constexpr double kWindowSeconds = 5.0;
constexpr double kWarmupSeconds = 1.0;
constexpr auto kReadyTimeout = std::chrono::seconds(30);
constexpr auto kLeaderTimeout = std::chrono::seconds(30);
constexpr auto kRequestTimeout = std::chrono::seconds(10);
constexpr int kStopSeconds = 10;

absl::Status PosixError(absl::string_view what) {
  return absl::ErrnoToStatus(errno, what);
}

// A TCP port on 127.0.0.1 that nothing listens on right now (bound to port
// 0, then released; another process may take it before the server does,
// and the run then fails saying so).
absl::StatusOr<int> FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return PosixError("socket");
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  absl::Status s;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    s = PosixError("bind 127.0.0.1:0");
  } else if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    s = PosixError("getsockname");
  }
  ::close(fd);
  if (!s.ok()) return s;
  return static_cast<int>(ntohs(addr.sin_port));
}

// The last `n` bytes of the file at `path` ("" when it cannot be read).
std::string TailOf(const std::string& path, size_t n = 2000) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const std::string all = text.str();
  return all.size() <= n ? all : all.substr(all.size() - n);
}

// ----------------------------------------------------------- one server

// One `kv serve` child: its stdout on a pipe (for READY), its stderr in
// `log_path`. Stopped (SIGTERM, then SIGKILL) by Stop or the destructor.
class ServerProcess {
 public:
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Spawn(
      const std::vector<std::string>& args, const std::string& log_path);
  ~ServerProcess() { (void)Stop(); }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Waits for the line READY on stdout.
  absl::Status WaitReady(Clock::time_point deadline);
  // SIGTERM, then SIGKILL after kStopSeconds; OK when it exited 0 on
  // SIGTERM. Idempotent.
  absl::Status Stop();

 private:
  ServerProcess(pid_t pid, int out, std::string log_path)
      : pid_(pid), out_(out), log_path_(std::move(log_path)) {}
  absl::Status Failure(absl::string_view what) const {
    return absl::InternalError(absl::StrCat("kv serve (", log_path_,
                                            "): ", what, "; its stderr ends:\n",
                                            TailOf(log_path_)));
  }

  pid_t pid_;
  int out_;
  const std::string log_path_;
  std::string stdout_;
};

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Spawn(
    const std::vector<std::string>& args, const std::string& log_path) {
  std::vector<char*> argv;
  for (const std::string& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const int log =
      ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log < 0) return PosixError(absl::StrCat("open ", log_path));
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(log);
    return PosixError("pipe2");
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    // The child: async-signal-safe calls only, then exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    const int null = ::open("/dev/null", O_RDONLY);
    if (null < 0 || ::dup2(null, 0) < 0 || ::dup2(out[1], 1) < 0 ||
        ::dup2(log, 2) < 0) {
      ::_exit(127);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  const int fork_errno = errno;
  ::close(out[1]);
  ::close(log);
  if (pid < 0) {
    ::close(out[0]);
    errno = fork_errno;
    return PosixError("fork");
  }
  return std::unique_ptr<ServerProcess>(
      new ServerProcess(pid, out[0], log_path));
}

absl::Status ServerProcess::WaitReady(Clock::time_point deadline) {
  while (stdout_.find("READY\n") == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - Clock::now());
    if (left.count() <= 0) return Failure("no READY in time");
    pollfd p = {out_, POLLIN, 0};
    const int rv = ::poll(&p, 1, static_cast<int>(left.count()));
    if (rv < 0 && errno != EINTR) return PosixError("poll");
    if (rv <= 0) continue;
    char buf[256];
    const ssize_t n = ::read(out_, buf, sizeof buf);
    if (n == 0) return Failure("exited before READY");
    if (n < 0 && errno != EINTR) return PosixError("read");
    if (n > 0) stdout_.append(buf, static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status ServerProcess::Stop() {
  if (pid_ <= 0) return absl::OkStatus();
  const pid_t pid = pid_;
  pid_ = 0;
  ::kill(pid, SIGTERM);
  int status = 0;
  bool exited = false;
  for (int i = 0; i < kStopSeconds * 100 && !exited; ++i) {
    exited = ::waitpid(pid, &status, WNOHANG) == pid;
    if (!exited) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  bool killed = false;
  if (!exited) {
    ::kill(pid, SIGKILL);
    killed = ::waitpid(pid, &status, 0) == pid;
  }
  ::close(out_);
  if (killed) return Failure("did not exit on SIGTERM; killed");
  if (!exited) return Failure("lost track of the process");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Failure(
        absl::StrCat("exited with wait status ", status, " after SIGTERM"));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------- the cluster

// Three servers in a fresh directory, up and with a leader. The destructor
// stops them (when Stop was not called) and removes the directory.
class Cluster {
 public:
  static absl::StatusOr<std::unique_ptr<Cluster>> Start(
      absl::string_view storage);
  ~Cluster() {
    servers_.clear();
    (void)RemoveTree(dir_);
  }

  const std::string& leader_address() const { return leader_address_; }
  // Stops every server; the first failure.
  absl::Status Stop();

 private:
  explicit Cluster(std::string dir) : dir_(std::move(dir)) {}
  absl::Status Spawn(absl::string_view storage);
  absl::Status FindLeader();

  const std::string dir_;
  std::vector<std::string> client_addresses_;
  std::vector<std::unique_ptr<ServerProcess>> servers_;
  std::string leader_address_;
};

absl::StatusOr<std::unique_ptr<Cluster>> Cluster::Start(
    absl::string_view storage) {
  BW_ASSIGN_OR_RETURN(std::string dir, FreshPath("cluster"));
  BW_RETURN_IF_ERROR(FileSystem::Default()->CreateDir(dir));
  std::unique_ptr<Cluster> cluster(new Cluster(std::move(dir)));
  BW_RETURN_IF_ERROR(cluster->Spawn(storage));
  const Clock::time_point deadline = Clock::now() + kReadyTimeout;
  for (auto& server : cluster->servers_) {
    BW_RETURN_IF_ERROR(server->WaitReady(deadline));
  }
  BW_RETURN_IF_ERROR(cluster->FindLeader());
  return cluster;
}

absl::Status Cluster::Spawn(absl::string_view storage) {
  std::vector<std::string> raft_addresses, peers;
  for (int i = 1; i <= kServers; ++i) {
    BW_ASSIGN_OR_RETURN(const int raft_port, FreePort());
    BW_ASSIGN_OR_RETURN(const int client_port, FreePort());
    raft_addresses.push_back(absl::StrCat("127.0.0.1:", raft_port));
    client_addresses_.push_back(absl::StrCat("127.0.0.1:", client_port));
    peers.push_back(absl::StrCat(i, "=", raft_addresses.back()));
  }
  for (int i = 1; i <= kServers; ++i) {
    const std::vector<std::string> args = {
        KV_PATH,     "serve",
        "--id",      absl::StrCat(i),
        "--dir",     JoinPath(dir_, absl::StrCat("node", i)),
        "--raft",    raft_addresses[i - 1],
        "--client",  client_addresses_[i - 1],
        "--peers",   absl::StrJoin(peers, ","),
        "--storage", std::string(storage)};
    BW_ASSIGN_OR_RETURN(
        std::unique_ptr<ServerProcess> server,
        ServerProcess::Spawn(args,
                             JoinPath(dir_, absl::StrCat("node", i, ".log"))));
    servers_.push_back(std::move(server));
  }
  return absl::OkStatus();
}

// Asks each server for its status until one says it leads.
absl::Status Cluster::FindLeader() {
  const Clock::time_point deadline = Clock::now() + kLeaderTimeout;
  std::string last = "no answer";
  while (Clock::now() < deadline) {
    for (const std::string& address : client_addresses_) {
      const Clock::time_point step = Clock::now() + std::chrono::seconds(1);
      absl::StatusOr<std::unique_ptr<LineConnection>> conn =
          LineConnection::Connect(address, step);
      if (!conn.ok()) {
        last = absl::StrCat(address, ": ", conn.status().message());
        continue;
      }
      absl::StatusOr<std::string> line;
      absl::Status sent = (*conn)->Send(tools::kv::StatusRequest(), step);
      if (sent.ok()) line = (*conn)->ReadLine(step);
      absl::StatusOr<Answer> answer =
          !sent.ok()   ? absl::StatusOr<Answer>(sent)
          : !line.ok() ? absl::StatusOr<Answer>(line.status())
                       : tools::kv::ParseAnswer(*line);
      if (answer.ok() && answer->kind == AnswerKind::kStatus &&
          answer->status.role == "leader") {
        leader_address_ = address;
        return absl::OkStatus();
      }
      last = absl::StrCat(address, ": ",
                          answer.ok() ? *line : answer.status().ToString());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "no leader in ", kLeaderTimeout.count(), "s (last: ", last, ")"));
}

absl::Status Cluster::Stop() {
  absl::Status first;
  for (auto& server : servers_) first.Update(server->Stop());
  return first;
}

// ------------------------------------------------------------ the run

// What the clients of one run share: the cluster (thread 0 starts it
// before the timed loop, where Google Benchmark holds the other threads at
// a barrier, and stops it after the loop's closing barrier), the window,
// and the latencies each client adds inside the loop.
class SharedRun {
 public:
  struct Window {
    std::string leader;
    Clock::time_point start;  // writes completing from here on count
    Clock::time_point end;    // no write starts after this
  };

  // Thread 0, before the loop.
  absl::Status Begin(absl::string_view storage) {
    absl::StatusOr<std::unique_ptr<Cluster>> cluster = Cluster::Start(storage);
    absl::MutexLock lock(&mu_);
    latency_.Clear();
    window_.reset();
    if (!cluster.ok()) return cluster.status();
    cluster_ = *std::move(cluster);
    const Clock::time_point start =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(
                           std::chrono::duration<double>(kWarmupSeconds));
    const auto window = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(bench::ScaledMinTime(kWindowSeconds)));
    window_ = std::make_unique<Window>(
        Window{cluster_->leader_address(), start, start + window});
    return absl::OkStatus();
  }

  // Any thread, inside the loop: null when Begin failed.
  const Window* window() {
    absl::MutexLock lock(&mu_);
    return window_.get();
  }

  void AddLatencies(const Histogram& latency) {
    absl::MutexLock lock(&mu_);
    latency_.Merge(latency);
  }

  // Thread 0, after the loop (every client has added its latencies):
  // the merged latencies, and how stopping the cluster went.
  std::pair<Histogram, absl::Status> End() {
    absl::MutexLock lock(&mu_);
    absl::Status stopped =
        cluster_ == nullptr ? absl::OkStatus() : cluster_->Stop();
    cluster_.reset();
    return {latency_, stopped};
  }

 private:
  absl::Mutex mu_;
  std::unique_ptr<Cluster> cluster_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Window> window_ ABSL_GUARDED_BY(mu_);
  Histogram latency_ ABSL_GUARDED_BY(mu_);
};

SharedRun& TheRun() {
  static SharedRun* run = new SharedRun;
  return *run;
}

// ------------------------------------------------------------ a client

// Sixteen hex digits: the client in the first two, then one of its
// kKeysPerClient keys.
std::string KeyFor(int client, uint64_t seq) {
  static constexpr char kDigits[] = "0123456789abcdef";
  uint64_t n = (static_cast<uint64_t>(client) << 56) | (seq % kKeysPerClient);
  std::string key(kKeySize, '0');
  for (int i = static_cast<int>(kKeySize) - 1; i >= 0; --i) {
    key[i] = kDigits[n & 0xf];
    n >>= 4;
  }
  return key;
}

// kValueSize letters, varying with seq (protocol words need no quoting).
absl::string_view ValueFor(uint64_t seq) {
  static const std::string* pool = [] {
    std::string bytes = bench::RandomBytes(4096, 7);
    for (char& c : bytes) c = static_cast<char>('a' + (c & 0xff) % 26);
    return new std::string(std::move(bytes));
  }();
  const size_t offset = (seq * 61) % (pool->size() - kValueSize);
  return absl::string_view(*pool).substr(offset, kValueSize);
}

struct ClientResult {
  uint64_t writes = 0;   // completed inside the window
  double seconds = 0;    // window start to the last of them
  Histogram latency_us;  // of those writes
};

// One client: puts on its own connection to the leader until the window
// ends. Any answer but OK is an error naming it.
absl::StatusOr<ClientResult> RunClient(const SharedRun::Window& w, int client) {
  BW_ASSIGN_OR_RETURN(
      std::unique_ptr<LineConnection> conn,
      LineConnection::Connect(w.leader, Clock::now() + kRequestTimeout));
  ClientResult r;
  Clock::time_point last = w.start;
  for (uint64_t seq = 0;; ++seq) {
    const Clock::time_point begin = Clock::now();
    if (begin >= w.end) break;
    const Clock::time_point deadline = begin + kRequestTimeout;
    BW_RETURN_IF_ERROR(conn->Send(
        tools::kv::PutRequest(KeyFor(client, seq), ValueFor(seq)), deadline));
    BW_ASSIGN_OR_RETURN(const std::string line, conn->ReadLine(deadline));
    const Clock::time_point done = Clock::now();
    absl::StatusOr<Answer> answer = tools::kv::ParseAnswer(line);
    if (!answer.ok() || answer->kind != AnswerKind::kOk) {
      return absl::InternalError(
          absl::StrCat(w.leader, " answered a put with '", line, "'"));
    }
    if (done < w.start) continue;  // warm-up
    ++r.writes;
    r.latency_us.Add(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(done - begin)
            .count()));
    last = done;
  }
  r.seconds = std::chrono::duration<double>(last - w.start).count();
  return r;
}

void SkipWith(benchmark::State& state, const absl::Status& s) {
  if (!state.error_occurred()) state.SkipWithError(s.ToString().c_str());
}

void BM_ReplicatedPut(benchmark::State& state, const char* storage) {
  SharedRun& run = TheRun();
  if (state.thread_index() == 0) {
    if (absl::Status s = run.Begin(storage); !s.ok()) SkipWith(state, s);
  }
  uint64_t writes = 0;
  for (auto _ : state) {  // one iteration: the whole window
    const SharedRun::Window* window = run.window();
    if (window == nullptr) {
      SkipWith(state, absl::InternalError("no cluster (see thread 0)"));
      continue;
    }
    absl::StatusOr<ClientResult> r = RunClient(*window, state.thread_index());
    if (!r.ok()) {
      SkipWith(state, r.status());
      continue;
    }
    run.AddLatencies(r->latency_us);
    writes = r->writes;
    state.SetIterationTime(r->seconds);
  }
  state.SetItemsProcessed(static_cast<int64_t>(writes));
  if (state.thread_index() == 0) {
    auto [latency, stopped] = run.End();
    state.counters["p50_us"] = static_cast<double>(latency.Percentile(50));
    state.counters["p99_us"] = static_cast<double>(latency.Percentile(99));
    if (!stopped.ok()) SkipWith(state, stopped);
  }
}

void Clients(benchmark::internal::Benchmark* b) {
  b->Iterations(1)->UseManualTime()->Threads(1)->Threads(8)->Threads(64);
}

BENCHMARK_CAPTURE(BM_ReplicatedPut, blockwal, "blockwal")->Apply(Clients);
BENCHMARK_CAPTURE(BM_ReplicatedPut, raft_uv, "raft-uv")->Apply(Clients);

}  // namespace
}  // namespace blockwal

int main(int argc, char** argv) {
  return blockwal::bench::RunBenchmarkMain(argc, argv, "replicated_bench",
                                           /*measure_mutexes_as_release=*/true);
}
