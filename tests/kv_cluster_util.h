// A cluster of `kv serve` processes on 127.0.0.1 for the replicated store's
// tests (tests/kv_cluster_test.cc): start, wait for READY, signal, restart,
// wipe; each server's stderr goes to DIR/serverN.log, which a failing test
// prints.
#ifndef BLOCKWAL_TESTS_KV_CLUSTER_UTIL_H_
#define BLOCKWAL_TESTS_KV_CLUSTER_UTIL_H_

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/free_port.h"

extern char** environ;

namespace blockwal::testing {

struct KvServerProcess {
  int id = 0;
  std::string dir;
  std::string log;
  std::string raft_address;
  std::string client_address;
  pid_t pid = -1;
  bool stopped = false;  // SIGSTOPped
};

class KvCluster {
 public:
  // `n` servers under `root`, each with its own ports and directory.
  KvCluster(const std::string& kv_path, const std::string& root, int n,
            std::vector<std::string> extra_args = {})
      : kv_path_(kv_path), extra_args_(std::move(extra_args)) {
    for (int i = 1; i <= n; ++i) {
      KvServerProcess s;
      s.id = i;
      s.dir = absl::StrCat(root, "/server", i);
      s.log = absl::StrCat(root, "/server", i, ".log");
      s.raft_address = absl::StrCat("127.0.0.1:", FreePort());
      s.client_address = absl::StrCat("127.0.0.1:", FreePort());
      servers_.push_back(s);
    }
  }
  ~KvCluster() {
    for (KvServerProcess& s : servers_) Kill(&s, SIGKILL);
  }

  std::vector<KvServerProcess>& servers() { return servers_; }
  KvServerProcess& server(int id) { return servers_[id - 1]; }

  // Every client address, comma-separated (kv client --servers).
  std::string ClientAddresses() const {
    std::vector<std::string> a;
    for (const KvServerProcess& s : servers_) a.push_back(s.client_address);
    return absl::StrJoin(a, ",");
  }

  // Starts server s and waits (up to 30 s) for its READY line.
  ::testing::AssertionResult Start(KvServerProcess* s) {
    std::vector<std::string> peers;
    for (const KvServerProcess& p : servers_) {
      peers.push_back(absl::StrCat(p.id, "=", p.raft_address));
    }
    std::vector<std::string> argv = {kv_path_,   "serve",
                                     "--id",     absl::StrCat(s->id),
                                     "--dir",    s->dir,
                                     "--raft",   s->raft_address,
                                     "--client", s->client_address,
                                     "--peers",  absl::StrJoin(peers, ",")};
    argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) {
      return ::testing::AssertionFailure() << "pipe2: " << strerror(errno);
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_addopen(&actions, 2, s->log.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    const int err = posix_spawn(&s->pid, kv_path_.c_str(), &actions, nullptr,
                                args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    if (err != 0) {
      close(out[0]);
      s->pid = -1;
      return ::testing::AssertionFailure() << "posix_spawn: " << strerror(err);
    }
    s->stopped = false;
    const bool ready = WaitForReady(out[0], std::chrono::seconds(30));
    close(out[0]);  // later output (none expected) would get EPIPE
    if (!ready) {
      return ::testing::AssertionFailure()
             << "server " << s->id << " printed no READY; its log:\n"
             << Log(*s);
    }
    return ::testing::AssertionSuccess();
  }

  // Sends `sig`; for SIGKILL and SIGTERM also waits for the exit and returns
  // the exit status (128 + signal when killed by one), else -1.
  int Kill(KvServerProcess* s, int sig) {
    if (s->pid <= 0) return -1;
    if (s->stopped && sig != SIGCONT) ::kill(s->pid, SIGCONT);
    ::kill(s->pid, sig);
    if (sig == SIGSTOP) s->stopped = true;
    if (sig == SIGCONT) s->stopped = false;
    if (sig != SIGKILL && sig != SIGTERM) return -1;
    int status = 0;
    while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR) {
    }
    s->pid = -1;
    s->stopped = false;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
  }

  // Removes the server's directory (the server must be down).
  void Wipe(KvServerProcess* s) { std::filesystem::remove_all(s->dir); }

  static std::string Log(const KvServerProcess& s) {
    std::ifstream in(s.log);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::string AllLogs() const {
    std::string out;
    for (const KvServerProcess& s : servers_) {
      absl::StrAppend(&out, "---- server ", s.id, " ----\n", Log(s));
    }
    return out;
  }

 private:
  static bool WaitForReady(int fd, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string got;
    while (got.find("READY\n") == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p = {fd, POLLIN, 0};
      const int r = poll(&p, 1, static_cast<int>(left.count()));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      char buf[256];
      const ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) return false;  // exited before READY
      got.append(buf, static_cast<size_t>(n));
    }
    return true;
  }

  const std::string kv_path_;
  const std::vector<std::string> extra_args_;
  std::vector<KvServerProcess> servers_;
};

// One write a ShellWriter sent, and the answer it got ("" when none came:
// the client was stopped first).
struct SentWrite {
  std::string key;
  std::string value;
  std::string answer;
};

// A `kv client shell` that writes `prefix`K = `prefix`-vI for I = 0, 1, ...
// (K = I % keys), one request at a time, each answered before the next is
// sent, until Stop(). A writer that keeps writing while servers are
// killed.
class ShellWriter {
 public:
  ShellWriter(std::string kv_path, std::string servers, std::string prefix,
              int keys)
      : kv_path_(std::move(kv_path)),
        servers_(std::move(servers)),
        prefix_(std::move(prefix)),
        keys_(keys) {}
  ~ShellWriter() { Stop(); }

  ::testing::AssertionResult Start() {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
      return ::testing::AssertionFailure() << "pipe2: " << strerror(errno);
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    std::vector<std::string> argv = {
        kv_path_, "client", "--servers", servers_, "--timeout", "30", "shell"};
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    const int err = posix_spawn(&pid_, kv_path_.c_str(), &actions, nullptr,
                                args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(in[0]);
    close(out[1]);
    to_client_ = in[1];
    from_client_ = out[0];
    if (err != 0) {
      return ::testing::AssertionFailure() << "posix_spawn: " << strerror(err);
    }
    thread_ = std::thread([this] { Loop(); });
    return ::testing::AssertionSuccess();
  }

  // Stops after the write in flight is answered; returns every write sent.
  std::vector<SentWrite> Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (to_client_ >= 0) close(to_client_);
    if (from_client_ >= 0) close(from_client_);
    to_client_ = from_client_ = -1;
    if (pid_ > 0) {
      int status;
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      pid_ = -1;
    }
    return sent_;
  }

  size_t acknowledged() const { return acknowledged_; }

 private:
  void Loop() {
    std::string pending;
    for (int i = 0; !stop_; ++i) {
      SentWrite w{absl::StrCat(prefix_, i % keys_),
                  absl::StrCat(prefix_, "-v", i), ""};
      const std::string line = absl::StrCat("put ", w.key, " ", w.value, "\n");
      if (write(to_client_, line.data(), line.size()) !=
          static_cast<ssize_t>(line.size())) {
        sent_.push_back(w);
        return;
      }
      std::string answer;
      if (!ReadLine(&pending, &answer)) {
        sent_.push_back(w);
        return;
      }
      w.answer = answer;
      if (answer == "OK") ++acknowledged_;
      sent_.push_back(std::move(w));
    }
  }

  bool ReadLine(std::string* pending, std::string* line) {
    while (true) {
      const size_t nl = pending->find('\n');
      if (nl != std::string::npos) {
        *line = pending->substr(0, nl);
        pending->erase(0, nl + 1);
        return true;
      }
      char buf[4096];
      const ssize_t n = read(from_client_, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      pending->append(buf, static_cast<size_t>(n));
    }
  }

  const std::string kv_path_;
  const std::string servers_;
  const std::string prefix_;
  const int keys_;
  pid_t pid_ = -1;
  int to_client_ = -1;
  int from_client_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> acknowledged_{0};
  std::vector<SentWrite> sent_;
};

}  // namespace blockwal::testing

#endif  // BLOCKWAL_TESTS_KV_CLUSTER_UTIL_H_
