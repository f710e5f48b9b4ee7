// blockwal_kv_demo: shows that the toy KV store (db/db.h) keeps every
// acknowledged write, and nothing else, through two kinds of crash.
//
//   blockwal_kv_demo [--seed N] [DIR]      (DIR defaults to ./blockwal-demo)
//
// DIR must be new, empty, or made by a demo before (tools/demo_dir.h): any
// other path is refused (exit status 2) and left untouched. The demo writes
// only DIR/.blockwal-demo (the marker) and DIR/kill-test/, which it removes
// and recreates on every run.
//
// 1. Process crash: a forked child opens DIR/kill-test with sync on and writes
//    batches in a loop, reporting each acknowledged one to the parent through
//    a pipe; the parent SIGKILLs it at a random moment, reopens the store,
//    prints the recovery report and verifies it.
// 2. Power loss: in this process, over an in-memory file system wrapped in
//    util::FaultInjectionFileSystem: writes with sync on (and one checkpoint
//    in the middle), then from a random moment every mutation fails, then
//    the "machine loses power": unsynced data is dropped except for a torn
//    sector-aligned part, file creations never made durable vanish. Reopen,
//    report, verify.
//
// Write i is one atomic batch: put key-<i> = value(i), put "last" = i. The
// checks after each crash: every acknowledged write is present with its exact
// value; the keys present are exactly key-0..key-k for some k (no write that
// was never made, no hole), where k is the last acknowledged write or the one
// in flight at the crash; "last" == k (so no batch was applied in part).
// Exit status 0 only when every check passed.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "blockwal/db/db.h"
#include "tools/demo_dir.h"
#include "blockwal/util/fault_injection_file_system.h"
#include "blockwal/util/file_system.h"
#include "blockwal/util/mem_file_system.h"

namespace blockwal::tools {
namespace {

constexpr char kDefaultDir[] = "./blockwal-demo";
// The store of the process-crash part, inside the demo's directory.
constexpr char kKillTestName[] = "kill-test";
constexpr uint32_t kMutations = kOpAppend | kOpFlush | kOpSync | kOpTruncate |
                                kOpCreate | kOpRename | kOpRemove |
                                kOpSyncDir | kOpMapSync;

std::string Key(uint64_t i) { return absl::StrFormat("key-%06u", i); }
// Distinct per write and long enough to span block boundaries now and then.
std::string Value(uint64_t i) {
  return absl::StrCat("value-", i, "-", std::string(i % 97, 'a' + i % 26));
}

absl::Status WriteOne(db::DB& store, uint64_t i) {
  db::WriteBatch batch;
  batch.Put(Key(i), Value(i));
  batch.Put("last", absl::StrCat(i));
  return store.Write(batch);
}

// Prints "    FAILED: WHAT: MESSAGE", a step of a crash that went wrong;
// returns false, that part's result.
bool Failed(absl::string_view what, absl::string_view message) {
  absl::PrintF("    FAILED: %s: %s\n", what, message);
  return false;
}

void Indented(absl::string_view text) {
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    absl::PrintF("      %.*s\n", static_cast<int>(line.size()), line.data());
  }
}

// Checks the recovered store against the acknowledged writes 0..acked-1
// (acked == 0: none). Prints what it verified; false on any failure.
bool Verify(const db::DB& store, uint64_t acked) {
  bool ok = true;
  auto fail = [&](const std::string& what) {
    absl::PrintF("    FAILED: %s\n", what.c_str());
    ok = false;
  };
  for (uint64_t i = 0; i < acked; ++i) {
    absl::StatusOr<std::string> v = store.Get(Key(i));
    if (!v.ok()) {
      fail(absl::StrCat("acknowledged ", Key(i), ": ", v.status().message()));
    } else if (*v != Value(i)) {
      fail(absl::StrCat("acknowledged ", Key(i), " has a wrong value"));
    }
  }
  // Every key present: "last" or key-i with the right value, no holes.
  uint64_t present = 0;
  absl::StatusOr<std::vector<db::KeyValue>> pairs = store.ScanPrefix("key-");
  if (!pairs.ok()) fail(absl::StrCat("scan: ", pairs.status().message()));
  for (const auto& [k, v] : pairs.ok() ? *pairs : std::vector<db::KeyValue>()) {
    if (k != Key(present)) {
      fail(absl::StrCat("unexpected key ", k, " (expected ", Key(present),
                        ")"));
      break;
    }
    if (v != Value(present)) fail(absl::StrCat(k, " has a wrong value"));
    ++present;
  }
  if (present < acked || present > acked + 1) {
    fail(absl::StrCat(present, " writes present, ", acked,
                      " acknowledged: at most one in flight may differ"));
  }
  absl::StatusOr<db::Stats> stats = store.GetStats();
  if (!stats.ok()) {
    fail(absl::StrCat("stats: ", stats.status().message()));
  } else if (stats->keys != present + (present > 0 ? 1 : 0)) {
    fail(absl::StrCat("the store holds ", stats->keys, " keys, expected ",
                      present, " + \"last\""));
  }
  if (present > 0) {
    absl::StatusOr<std::string> last = store.Get("last");
    if (!last.ok() || *last != absl::StrCat(present - 1)) {
      fail("\"last\" does not name the newest write: a batch was split");
    }
  }
  if (ok) {
    absl::PrintF(
        "    verified: all %u acknowledged writes present with exact values;\n"
        "              %s; no other key; every batch whole (\"last\" = %s)\n",
        acked,
        present > acked ? "the write in flight at the crash made it"
                        : "nothing unacknowledged",
        present > 0 ? absl::StrCat(present - 1).c_str() : "absent");
  }
  return ok;
}

// ---- 1. process crash ----

[[noreturn]] void RunChild(const std::string& dir, int report_fd) {
  db::Options options;
  options.sync = true;
  absl::StatusOr<std::unique_ptr<db::DB>> store = db::DB::Open(dir, options);
  if (!store.ok()) {
    std::fprintf(stderr, "child: %s\n", std::string(store.status().message()).c_str());
    _exit(3);
  }
  for (uint64_t i = 0; i < 10'000'000; ++i) {
    absl::Status s = WriteOne(**store, i);
    if (!s.ok()) {
      std::fprintf(stderr, "child: write %u: %s\n", static_cast<unsigned>(i),
                   std::string(s.message()).c_str());
      _exit(3);
    }
    if (write(report_fd, &i, sizeof(i)) != sizeof(i)) _exit(4);
  }
  _exit(0);
}

// Reopens the store after a crash, prints its recovery report and verifies
// it against the acknowledged writes.
bool ReopenAndVerify(const std::string& dir, const db::Options& options,
                     uint64_t acked) {
  absl::StatusOr<std::unique_ptr<db::DB>> store = db::DB::Open(dir, options);
  if (!store.ok()) return Failed("reopen", store.status().message());
  absl::PrintF("    recovery report:\n");
  Indented((*store)->recovery_report().ToString());
  return Verify(**store, acked);
}

bool ProcessCrash(const std::string& root, std::mt19937_64& rng) {
  const std::string dir = JoinPath(root, kKillTestName);
  const int delay_ms = std::uniform_int_distribution<int>(50, 500)(rng);
  absl::PrintF("[1] process crash: a child process writes with sync on in %s;\n"
              "    SIGKILL after %d ms\n",
              dir.c_str(), delay_ms);
  std::fflush(stdout);
  int fds[2];
  if (pipe(fds) != 0) return Failed("pipe", std::strerror(errno));
  const pid_t pid = fork();
  if (pid < 0) return Failed("fork", std::strerror(errno));
  if (pid == 0) {
    close(fds[0]);
    RunChild(dir, fds[1]);
  }
  close(fds[1]);
  std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
  kill(pid, SIGKILL);
  // Everything the child reported before it died is still in the pipe.
  uint64_t acked = 0;
  uint64_t i;
  ssize_t n;
  while ((n = read(fds[0], &i, sizeof(i))) == sizeof(i) ||
         (n < 0 && errno == EINTR)) {
    if (n < 0) continue;
    if (i != acked) {
      absl::PrintF("    FAILED: child reported write %u out of order\n",
                  static_cast<unsigned>(i));
      return false;
    }
    ++acked;
  }
  close(fds[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
    absl::PrintF("    FAILED: the child ended on its own (status %d)\n", status);
    return false;
  }
  absl::PrintF("    child acknowledged %u writes before it was killed\n",
              static_cast<unsigned>(acked));
  return ReopenAndVerify(dir, {}, acked);
}

// ---- 2. power loss ----

bool PowerLoss(std::mt19937_64& rng) {
  FaultInjectionFileSystem fs(NewMemFileSystem());
  const std::string dir = "/demo";
  db::Options options;
  options.sync = true;
  options.fs = &fs;
  options.wal_segment_bytes = 16 << 10;  // so the checkpoint frees segments
  const uint64_t total = std::uniform_int_distribution<uint64_t>(400, 800)(rng);
  const uint64_t fail_at =
      std::uniform_int_distribution<uint64_t>(total / 2, total - 1)(rng);
  const uint64_t checkpoint_at =
      std::uniform_int_distribution<uint64_t>(50, fail_at - 1)(rng);
  const uint64_t fail_after = std::uniform_int_distribution<uint64_t>(0, 8)(rng);
  const double keep = std::uniform_real_distribution<double>(0, 1)(rng);
  absl::PrintF(
      "[2] power loss: in-memory file system with fault injection; writes with\n"
      "    sync on and a checkpoint after write %u; from write %u on, every\n"
      "    file-system mutation after the next %u fails\n",
      checkpoint_at, fail_at, fail_after);
  uint64_t acked = 0;
  std::string first_error;
  {
    absl::StatusOr<std::unique_ptr<db::DB>> store = db::DB::Open(dir, options);
    if (!store.ok()) return Failed("open", store.status().message());
    for (uint64_t i = 0; i < total; ++i) {
      if (i == fail_at) fs.FailAfter(kMutations, fail_after, EIO, true);
      absl::Status s = WriteOne(**store, i);
      if (!s.ok()) {
        if (first_error.empty()) first_error = std::string(s.message());
        break;  // the store refuses further writes (sticky)
      }
      if (acked != i) {
        absl::PrintF("    FAILED: write %u succeeded after a failed one\n",
                    static_cast<unsigned>(i));
        return false;
      }
      acked = i + 1;
      if (i == checkpoint_at) {
        absl::StatusOr<db::CheckpointInfo> info = (*store)->Checkpoint();
        if (!info.ok()) return Failed("checkpoint", info.status().message());
        absl::PrintF("    checkpoint %s: %u keys, WAL below offset %u dropped\n",
                    info->path.c_str(), static_cast<unsigned>(info->keys),
                    static_cast<unsigned>(info->wal_offset));
      }
    }
    absl::Status closed = (*store)->Close();
    absl::PrintF("    %u writes acknowledged; first failure: %s\n"
                "    close: %s\n",
                static_cast<unsigned>(acked),
                first_error.empty() ? "none" : first_error.c_str(),
                std::string(closed.message()).c_str());
  }
  // Power loss: each file keeps its synced bytes plus a sector-aligned part
  // of what followed; names never made durable by a directory sync vanish.
  fs.ClearFailures();
  absl::Status s = fs.TearUnsyncedData(keep);
  if (s.ok()) s = fs.DeleteFilesCreatedAfterLastDirSync();
  if (!s.ok()) return Failed("simulating the crash", s.message());
  fs.ResetState();
  absl::PrintF("    power lost: unsynced data torn (%.0f%% of it kept, cut at "
              "512-byte sectors)\n",
              keep * 100);
  return ReopenAndVerify(dir, options, acked);
}

int Main(int argc, char** argv) {
  std::string root = kDefaultDir;
  uint64_t seed = std::random_device{}();
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      absl::PrintF("usage: blockwal_kv_demo [--seed N] [DIR]\n"
                  "Crashes the KV store twice (SIGKILL, simulated power loss)"
                  " and verifies\nwhat it recovers. DIR defaults to %s; it"
                  " must be new, empty, or made by\na demo before (marked"
                  " by a %s file). The demo writes only the marker and\n"
                  "DIR/%s/, which it recreates on every run.\n",
                  kDefaultDir, kDemoMarkerName, kKillTestName);
      return 0;
    }
    if (arg == "--seed" && i + 1 < argc) {
      if (!absl::SimpleAtoi(argv[++i], &seed)) {
        std::fprintf(stderr, "blockwal_kv_demo: bad seed '%s'\n", argv[i]);
        return 2;
      }
    } else if (!arg.empty() && arg[0] == '-') {
      std::fprintf(stderr, "blockwal_kv_demo: unknown flag '%s'\n", argv[i]);
      return 2;
    } else {
      root = std::string(arg);
    }
  }
  if (std::optional<int> exit_status =
          ClaimDemoDirectoryOrExit("blockwal_kv_demo", root)) {
    return *exit_status;
  }
  // The demo's own store from an earlier run (the directory is the demo's).
  std::error_code ec;
  std::filesystem::remove_all(JoinPath(root, kKillTestName), ec);
  if (ec) {
    std::fprintf(stderr, "blockwal_kv_demo: %s: %s\n",
                 JoinPath(root, kKillTestName).c_str(), ec.message().c_str());
    return 1;
  }
  absl::PrintF("blockwal KV store crash demo (seed %u, directory %s)\n"
              "each write i is one batch: key-<i> = value(i), \"last\" = i\n\n",
              seed, root);
  std::mt19937_64 rng(seed);
  const bool kill_ok = ProcessCrash(root, rng);
  absl::PrintF("\n");
  const bool power_ok = PowerLoss(rng);
  absl::PrintF("\n%s\n", kill_ok && power_ok
                            ? "RESULT: every check passed"
                            : "RESULT: FAILED (see above)");
  return kill_ok && power_ok ? 0 : 1;
}

}  // namespace
}  // namespace blockwal::tools

int main(int argc, char** argv) { return blockwal::tools::Main(argc, argv); }
