// blockwal_torture_child: the process torture_test.cc kills with SIGKILL.
//
//   blockwal_torture_child log <dir> <report fd> <seed>
//   blockwal_torture_child kv  <dir> <report fd> <seed> <first op>
//
// Opens (recovering) a wal::Log with SyncPolicy::kEveryAppend, or a db::DB
// with sync on, in <dir> on the real POSIX file system, then runs the
// workload of torture_workload.h forever, reporting on <report fd> each call
// after it returned OK (the protocol is described there). It never exits on
// its own unless something is wrong: then it says what on stderr and exits
// with kChildFailed. It dies with its parent (PR_SET_PDEATHSIG).
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "blockwal/db/db.h"
#include "tests/torture/torture_workload.h"
#include "blockwal/wal/log.h"
#include "blockwal/wal/segment.h"

namespace blockwal::torture {
namespace {

int report_fd = -1;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "blockwal_torture_child: %s\n", what.c_str());
  std::fflush(stderr);
  std::_Exit(kChildFailed);
}

void CheckOk(const absl::Status& s, absl::string_view what) {
  if (!s.ok()) Fail(absl::StrCat(what, ": ", s.ToString()));
}

// One line, one write(): under PIPE_BUF bytes, so the parent never sees half
// a line from a child killed mid-report.
void Report(const std::string& line) {
  const std::string text = line + "\n";
  for (;;) {
    const ssize_t n = write(report_fd, text.data(), text.size());
    if (n == static_cast<ssize_t>(text.size())) return;
    if (n < 0 && errno == EINTR) continue;
    Fail(absl::StrCat("report write failed (n=", n, ", errno ", errno, ")"));
  }
}

// The LowestOffset TruncatePrefix(target) leaves: it removes the segments
// all of whose records are below target, never the active (last) one.
uint64_t LowestAfterTruncation(const wal::Log& log, uint64_t target) {
  const auto segments = log.Segments();
  for (size_t i = 0; i + 1 < segments.size(); ++i) {
    if (segments[i]->next_offset() > target) return segments[i]->base_offset();
  }
  return segments.back()->base_offset();
}

[[noreturn]] void RunLog(const std::string& dir, uint64_t seed) {
  Report("S");
  absl::StatusOr<std::unique_ptr<wal::Log>> opened =
      wal::Log::Open(dir, TortureLogOptions());
  CheckOk(opened.status(), "Log::Open");
  wal::Log& log = **opened;
  Report(absl::StrCat("O ", log.LowestOffset(), " ", log.NextOffset()));
  for (;;) {
    const uint64_t first = log.NextOffset();
    const size_t count = LogBatchSize(seed, first);
    std::vector<std::string> values;
    for (size_t i = 0; i < count; ++i) values.push_back(LogValue(seed, first + i));
    absl::StatusOr<uint64_t> offset;
    if (count == 1) {
      offset = log.Append(values[0]);
    } else {
      const std::vector<absl::string_view> views(values.begin(), values.end());
      offset = log.AppendBatch(views);
    }
    CheckOk(offset.status(), absl::StrCat("append at offset ", first));
    if (*offset != first) {
      Fail(absl::StrCat("append expected at offset ", first, " got ", *offset));
    }
    Report(absl::StrCat("A ", first, " ", count));

    const uint64_t next = first + count;
    if (!LogTruncatesAt(seed, next)) continue;
    const uint64_t old_lowest = log.LowestOffset();
    const uint64_t target = LogTruncationTarget(old_lowest, next);
    const uint64_t new_lowest = LowestAfterTruncation(log, target);
    Report(absl::StrCat("t ", old_lowest, " ", new_lowest));
    CheckOk(log.TruncatePrefix(target), absl::StrCat("TruncatePrefix(", target, ")"));
    if (log.LowestOffset() != new_lowest) {
      Fail(absl::StrCat("TruncatePrefix(", target, ") left lowest offset ",
                        log.LowestOffset(), ", expected ", new_lowest));
    }
    Report(absl::StrCat("T ", new_lowest));
  }
}

[[noreturn]] void RunKv(const std::string& dir, uint64_t seed, uint64_t first_op) {
  Report("S");
  absl::StatusOr<std::unique_ptr<db::DB>> opened =
      db::DB::Open(dir, TortureDbOptions());
  CheckOk(opened.status(), "DB::Open");
  db::DB& store = **opened;
  absl::StatusOr<db::Stats> stats_or = store.GetStats();
  CheckOk(stats_or.status(), "DB::GetStats");
  const db::Stats& stats = *stats_or;
  Report(absl::StrCat("O ", stats.wal_next_offset, " ", stats.keys));
  for (uint64_t n = first_op;; ++n) {
    const KvOp op = KvOpFor(seed, n);
    const std::string what = absl::StrCat("op ", n);
    switch (op.kind) {
      case KvOp::Kind::kPut:
        CheckOk(store.Put(op.edits[0].key, op.edits[0].value), what);
        break;
      case KvOp::Kind::kDelete:
        CheckOk(store.Delete(op.edits[0].key), what);
        break;
      case KvOp::Kind::kWrite:
        CheckOk(store.Write(op.ToBatch()), what);
        break;
      case KvOp::Kind::kCheckpoint:
        CheckOk(store.Checkpoint().status(), what);
        break;
    }
    Report(absl::StrCat("A ", n));
  }
}

int Main(int argc, char** argv) {
  // A test that dies must not leave children appending forever.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  const absl::string_view mode = argc > 1 ? argv[1] : "";
  uint64_t seed = 0, first_op = 0;
  if (!((mode == "log" && argc == 5) || (mode == "kv" && argc == 6)) ||
      !absl::SimpleAtoi(argv[3], &report_fd) ||
      !absl::SimpleAtoi(argv[4], &seed) ||
      (mode == "kv" && !absl::SimpleAtoi(argv[5], &first_op))) {
    std::fprintf(stderr,
                 "usage: blockwal_torture_child log <dir> <fd> <seed>\n"
                 "       blockwal_torture_child kv <dir> <fd> <seed> <first op>\n");
    return 2;
  }
  if (mode == "log") RunLog(argv[2], seed);
  RunKv(argv[2], seed, first_op);
}

}  // namespace
}  // namespace blockwal::torture

int main(int argc, char** argv) { return blockwal::torture::Main(argc, argv); }
