// Helpers shared by the benchmark programs: a scratch directory per process
// (under $BLOCKWAL_BENCH_DIR, else $TMPDIR, else /tmp, removed at exit by
// RemoveScratchDir), fresh paths in it, deterministic payloads, and minimum
// run times that a quick look can shorten ($BLOCKWAL_BENCH_TIME_SCALE), and
// the programs' main (RunBenchmarkMain).
#ifndef BLOCKWAL_BENCHMARKS_BENCH_UTIL_H_
#define BLOCKWAL_BENCHMARKS_BENCH_UTIL_H_

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <system_error>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "benchmark/benchmark.h"
#include "blockwal/util/file_system.h"

namespace blockwal::bench {

inline std::string& ScratchDirStorage() {
  static std::string* dir = new std::string;
  return *dir;
}

// The process's scratch directory, made on first use.
inline absl::StatusOr<std::string> ScratchDir() {
  std::string& dir = ScratchDirStorage();
  if (!dir.empty()) return dir;
  const char* parent = std::getenv("BLOCKWAL_BENCH_DIR");
  if (parent == nullptr) parent = std::getenv("TMPDIR");
  if (parent == nullptr) parent = "/tmp";
  std::string path = JoinPath(parent, "blockwal_bench_XXXXXX");
  if (mkdtemp(path.data()) == nullptr) {
    return absl::ErrnoToStatus(errno, absl::StrCat("mkdtemp ", path));
  }
  dir = path;
  return dir;
}

// A path under the scratch directory not used before in this process. Not
// thread-safe: call it from one thread (thread 0 of a benchmark).
inline absl::StatusOr<std::string> FreshPath(absl::string_view prefix) {
  static int counter = 0;
  absl::StatusOr<std::string> dir = ScratchDir();
  if (!dir.ok()) return dir.status();
  return JoinPath(*dir, absl::StrCat(prefix, "_", counter++));
}

inline absl::Status RemoveTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) return absl::ErrnoToStatus(ec.value(), absl::StrCat("remove ", path));
  return absl::OkStatus();
}

// Removes the scratch directory (if one was made); false, with a message
// naming `program`, when that fails.
inline bool RemoveScratchDir(const char* program) {
  const std::string& dir = ScratchDirStorage();
  if (dir.empty()) return true;
  const absl::Status s = RemoveTree(dir);
  if (!s.ok()) {
    std::fprintf(stderr, "%s: cannot remove %s: %s\n", program, dir.c_str(),
                 s.ToString().c_str());
    return false;
  }
  return true;
}

// The minimum time of a benchmark that sets its own (->MinTime): `seconds`
// times $BLOCKWAL_BENCH_TIME_SCALE when that is a positive number, else
// `seconds`. Google Benchmark's --benchmark_min_time applies only to
// benchmarks without a MinTime of their own, so this is how
// `scripts/bench-report.sh --short` shortens those too. Read once, at
// registration (static initialization).
inline double ScaledMinTime(double seconds) {
  static const double scale = [] {
    const char* text = std::getenv("BLOCKWAL_BENCH_TIME_SCALE");
    if (text == nullptr || *text == '\0') return 1.0;
    char* end = nullptr;
    const double value = std::strtod(text, &end);
    if (*end != '\0' || !(value > 0)) {
      std::fprintf(stderr,
                   "ignoring BLOCKWAL_BENCH_TIME_SCALE=%s (not a positive "
                   "number)\n",
                   text);
      return 1.0;
    }
    return value;
  }();
  return seconds * scale;
}

// n pseudo-random bytes, the same for the same (n, seed).
inline std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}
inline std::string RandomBytes(size_t n) {
  return RandomBytes(n, static_cast<uint32_t>(n));
}

// The main of a benchmark program: runs the benchmarks the command line
// selects, then `release` (whatever the program kept open across them), then
// removes the scratch directory; exit 1 on a bad argument or a directory left
// behind. `measure_mutexes_as_release`: Debian builds Abseil without NDEBUG,
// which leaves absl::Mutex's deadlock detection on (every Lock updates a
// global lock graph); release builds of Abseil have it off, and so do the
// programs that measure blockwal's locking (docs/benchmarks.md).
inline int RunBenchmarkMain(int argc, char** argv, const char* program,
                            bool measure_mutexes_as_release,
                            void (*release)() = nullptr) {
  if (measure_mutexes_as_release) {
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (release != nullptr) release();
  return RemoveScratchDir(program) ? 0 : 1;
}

}  // namespace blockwal::bench

#endif  // BLOCKWAL_BENCHMARKS_BENCH_UTIL_H_
