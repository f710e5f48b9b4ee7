// The kill -9 torture test, for the log and for the KV store.
//
// A child process (blockwal_torture_child, torture_child.cc) appends with
// sync on the real POSIX file system and reports each acknowledged call on a
// pipe; this parent SIGKILLs it at a random moment, sometimes while it is
// still opening (so recovery itself is interrupted), usually a random time
// after a random number of acknowledgements. After each kill the parent
// recovers the directory in-process and checks the contract (docs/guarantees.md,
// "The contract") against a model built from the reports, then starts the
// next child on the same directory, whose appends must survive the next kill.
// Half of the checks recover a copy of the crashed directory instead, leaving
// the original for the next child to recover (and perhaps be killed while
// doing so).
//
// Checked after every kill, log (torture.Log):
//   - Open succeeds; LowestOffset is the acknowledged one, or, when a
//     TruncatePrefix was in flight, the one before or the one after it;
//   - NextOffset is the acknowledged end, or that plus the whole batch in
//     flight (when the child had opened): every acknowledged record is there,
//     no record that was never appended, batches all or nothing;
//   - every record in [LowestOffset, NextOffset) reads (by iterator and by
//     Read) with its offset and exactly the bytes appended there, and flags
//     saying where each batch ends (kBatchContinues / kSyncMarker);
//     Read just outside that range is kOutOfRange;
//   - segments are contiguous; the recovery report agrees (records, segments,
//     store bytes), shows no damage and no skipped records, cuts a torn tail
//     or a batch only when the batch in flight is gone, and a clean shutdown
//     cut and rebuilt nothing;
//   - the next child's own open reports exactly the state checked.
// KV store (torture.KvStore):
//   - DB::Open succeeds; the store holds exactly the acknowledged writes'
//     result (every key its last acknowledged value, deleted keys absent,
//     nothing else), or that plus the whole write in flight, with the WAL's
//     next offset matching which; Get agrees for every key of the key space;
//   - the recovery report shows no corruption, no skipped records, no
//     rejected checkpoint, replays exactly the WAL records after the
//     checkpoint, and cuts a torn tail only when the write in flight is gone.
//
// Settings (environment):
//   BLOCKWAL_TORTURE_KILLS  kills per test (default 200, what CI runs; the
//                           long mode is BLOCKWAL_TORTURE_KILLS=1000)
//   BLOCKWAL_TORTURE_SEED   the workload and schedule seed (printed by every
//                           run). Kill moments depend on timing, so a replay
//                           runs the same workload, not the same kills.
// Each test prints its seed first, then one summary line (for the docs),
//   torture log: 200 kills, N acknowledged records verified, M recoveries
//   that cut a torn tail
// ("torture kv: ..." for the KV store, where a record is a write batch), then
// a line of details. A failed run keeps its directories for inspection.
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "blockwal/db/db.h"
#include "gtest/gtest.h"
#include "tests/scratch_dir.h"
#include "tests/status_matchers.h"
#include "tests/torture/torture_workload.h"
#include "blockwal/wal/log.h"
#include "blockwal/wal/record.h"
#include "blockwal/wal/segment.h"

extern char** environ;

namespace blockwal::torture {
namespace {

using ::blockwal::testing::ScratchDir;
using ::blockwal::testing::StatusIs;

// ---------------------------------------------------------------- settings

struct Settings {
  int kills = 200;
  uint64_t seed = 20240611;
};

Settings GetSettings() {
  Settings s;
  if (const char* env = std::getenv("BLOCKWAL_TORTURE_KILLS")) {
    EXPECT_TRUE(absl::SimpleAtoi(env, &s.kills) && s.kills > 0)
        << "BLOCKWAL_TORTURE_KILLS=" << env;
  }
  if (const char* env = std::getenv("BLOCKWAL_TORTURE_SEED")) {
    EXPECT_TRUE(absl::SimpleAtoi(env, &s.seed)) << "BLOCKWAL_TORTURE_SEED=" << env;
  }
  return s;
}

// Copies the crashed directory `dir` for an in-process recovery that leaves
// the original alone. On tmpfs when there is one: the KV store's index is
// sparse 10 MiB, which a copy fills in. A child killed before it created
// `dir` leaves nothing to copy (and the check opens an empty one).
std::string CopyForCheck(const std::string& dir, const std::string& fallback_root,
                         int kill) {
  std::filesystem::path root = fallback_root;
  std::error_code ec;
  if (std::filesystem::is_directory("/dev/shm", ec)) root = "/dev/shm";
  const std::filesystem::path copy =
      root / absl::StrFormat("blockwal_torture_check.%d.%d", getpid(), kill);
  std::filesystem::remove_all(copy, ec);
  if (!std::filesystem::exists(dir, ec)) return copy.string();
  std::filesystem::copy(dir, copy, std::filesystem::copy_options::recursive, ec);
  EXPECT_FALSE(ec) << "copy " << dir << " to " << copy << ": " << ec.message();
  return copy.string();
}

// Runs check(recovered_dir) on the killed store: half the time (chosen by
// rng) on a copy, removed afterwards unless the check failed fatally, so the
// next child recovers the crash itself; otherwise in place.
template <typename Check>
void CheckOnCopyOrInPlace(const std::string& dir, const std::string& scratch_root,
                          int kill, std::mt19937_64* rng, int* on_copy,
                          Check check) {
  const bool copy = (*rng)() % 2 == 0;
  const std::string check_dir = copy ? CopyForCheck(dir, scratch_root, kill) : dir;
  *on_copy += copy;
  SCOPED_TRACE("recovered in " + check_dir);
  check(check_dir);
  if (::testing::Test::HasFatalFailure()) return;
  if (copy) std::filesystem::remove_all(check_dir);
}

// ---------------------------------------------------------------- the child

// A running blockwal_torture_child and the lines it reported, with the time
// each one was read.
class Child {
 public:
  explicit Child(const std::vector<std::string>& args) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe2: " << std::strerror(errno);
      return;
    }
    read_fd_ = fds[0];
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    // dup2 clears close-on-exec on the copy only.
    posix_spawn_file_actions_adddup2(&actions, fds[1], kReportFd);
    std::vector<std::string> argv = {TORTURE_CHILD_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (std::string& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    const int err = posix_spawn(&pid_, cargv[0], &actions, nullptr,
                                cargv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (err != 0) {
      ADD_FAILURE() << "posix_spawn " << cargv[0] << ": " << std::strerror(err);
      pid_ = -1;
    }
  }
  ~Child() {
    if (pid_ > 0) KillAndReap();
    if (read_fd_ >= 0) close(read_fd_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  bool started() const { return pid_ > 0; }
  const std::vector<std::string>& lines() const { return lines_; }
  const std::vector<absl::Time>& times() const { return times_; }
  bool eof() const { return eof_; }

  // Waits until a report arrives or `deadline` passes, and reads what came;
  // with `all`, keeps reading until the deadline (or EOF).
  void ReadUntil(absl::Time deadline, bool all) {
    while (!eof_) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return;
      const timespec ts = absl::ToTimespec(left);
      pollfd p = {read_fd_, POLLIN, 0};
      const int r = ppoll(&p, 1, &ts, nullptr);
      if (r < 0 && errno != EINTR) {
        ADD_FAILURE() << "ppoll: " << std::strerror(errno);
        return;
      }
      if (r > 0) {
        ReadAvailable();
        if (!all) return;
      }
    }
  }

  // SIGKILL (a no-op if it is already dead), then the reports it wrote before
  // dying, then its wait status.
  int KillAndReap() {
    kill(pid_, SIGKILL);
    while (!eof_) ReadAvailable();
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status;
  }

 private:
  void ReadAvailable() {
    char buf[4096];
    const ssize_t n = read(read_fd_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) return;
    if (n <= 0) {
      eof_ = true;
      return;
    }
    const absl::Time now = absl::Now();
    partial_.append(buf, static_cast<size_t>(n));
    size_t nl;
    while ((nl = partial_.find('\n')) != std::string::npos) {
      lines_.push_back(partial_.substr(0, nl));
      times_.push_back(now);
      partial_.erase(0, nl + 1);
    }
  }

  pid_t pid_ = -1;
  int read_fd_ = -1;
  bool eof_ = false;
  std::string partial_;
  std::vector<std::string> lines_;
  std::vector<absl::Time> times_;
};

std::string DescribeWaitStatus(int status) {
  if (WIFSIGNALED(status)) return absl::StrCat("killed by signal ", WTERMSIG(status));
  if (WIFEXITED(status)) return absl::StrCat("exited with code ", WEXITSTATUS(status));
  return absl::StrCat("wait status ", status);
}

// How long the child takes to open and between acknowledgements (moving
// averages, so kill moments adapt to slow sanitizer builds).
struct Pace {
  double open_us = 2000;
  double ack_us = 3000;
};

// Runs the child until a random moment, kills it and reaps it. One kill in
// five comes while it opens (a random time after "S", up to the usual
// open's duration); the others a random time after a random number (0..8)
// of acknowledgements: up to 1.2 times the usual gap between them, or, half
// the time, up to 300 us, about when the next append is being written (a
// kill between two writes of one group tears it; SIGKILL never splits one
// write, so torn tails are rare). Counts the kills that came before "O" in
// *during_open.
void RunAndKill(Child* child, std::mt19937_64* rng, Pace* pace, int* during_open) {
  ASSERT_TRUE(child->started());
  const bool in_open = (*rng)() % 5 == 0;
  const size_t target_acks = (*rng)() % 9;
  const double fraction = std::uniform_real_distribution<double>(0, 1)(*rng);
  const double after_ack_us = (*rng)() % 2 == 0 ? 300 : 1.2 * pace->ack_us;
  const absl::Time give_up = absl::Now() + absl::Seconds(120);
  std::optional<absl::Time> kill_at;
  while (!kill_at.has_value()) {
    ASSERT_FALSE(child->eof())
        << "the child ended before it was killed; its reports:\n"
        << absl::StrJoin(child->lines(), "\n");
    ASSERT_LT(absl::Now(), give_up) << "the child reported nothing for 120 s";
    child->ReadUntil(absl::Now() + absl::Milliseconds(50), /*all=*/false);
    size_t acks = 0;
    for (size_t i = 0; i < child->lines().size() && !kill_at; ++i) {
      const char kind = child->lines()[i][0];
      if (in_open && kind == 'S') {
        kill_at = child->times()[i] +
                  absl::Microseconds(fraction * pace->open_us);
      } else if (!in_open && (kind == 'A' || kind == 'T') &&
                 ++acks == target_acks) {
        kill_at = child->times()[i] + absl::Microseconds(fraction * after_ack_us);
      } else if (!in_open && target_acks == 0 && kind == 'O') {
        kill_at = child->times()[i] + absl::Microseconds(fraction * after_ack_us);
      }
    }
  }
  child->ReadUntil(*kill_at, /*all=*/true);
  const int status = child->KillAndReap();
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the child was " << DescribeWaitStatus(status)
      << ", not killed by SIGKILL; its reports:\n"
      << absl::StrJoin(child->lines(), "\n");

  // Learn the pace from this child's reports.
  std::optional<absl::Time> started, last;
  for (size_t i = 0; i < child->lines().size(); ++i) {
    const char kind = child->lines()[i][0];
    const absl::Time t = child->times()[i];
    if (kind == 'S') started = t;
    if (kind == 'O' && started) {
      pace->open_us = 0.8 * pace->open_us +
                      0.2 * absl::ToDoubleMicroseconds(t - *started);
    }
    if ((kind == 'A' || kind == 'T') && last) {
      pace->ack_us = 0.9 * pace->ack_us + 0.1 * absl::ToDoubleMicroseconds(t - *last);
    }
    if (kind == 'O' || kind == 'A' || kind == 'T') last = t;
  }
  if (!last.has_value()) ++*during_open;
}

// Splits a report line into its kind and numbers.
std::vector<uint64_t> Numbers(const std::string& line, size_t count) {
  std::vector<uint64_t> out;
  std::vector<std::string> parts = absl::StrSplit(line, ' ');
  for (size_t i = 1; i < parts.size(); ++i) {
    uint64_t v;
    EXPECT_TRUE(absl::SimpleAtoi(parts[i], &v)) << "bad report: " << line;
    out.push_back(v);
  }
  EXPECT_EQ(out.size(), count) << "bad report: " << line;
  out.resize(count);
  return out;
}

// Where two byte strings first differ, for a failure message.
std::string FirstDifference(absl::string_view got, absl::string_view want) {
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  return absl::StrFormat("%u bytes, expected %u; first difference at byte %u",
                         got.size(), want.size(), i);
}

// ---------------------------------------------------------------- the log

// What the parent knows of the log: [lowest, next) is acknowledged (by the
// child, or by a check that recovered it and found it whole).
struct LogModel {
  uint64_t lowest = 0;
  uint64_t next = 0;
};

// What a child's reports leave in doubt at the kill.
struct LogInFlight {
  bool opened = false;  // so an append may have been in flight
  std::optional<uint64_t> truncating;  // new lowest of an unacknowledged TruncatePrefix
};

struct LogCounts {
  uint64_t verified = 0;     // acknowledged records found intact by a check
  uint64_t torn_cuts = 0;    // checks whose recovery cut bytes off a store
  uint64_t batches_cut = 0;  // checks whose recovery removed a cut-off batch
  uint64_t kept_in_flight = 0;  // checks that found the batch in flight whole
  uint64_t truncations = 0;     // acknowledged TruncatePrefix calls
  uint64_t truncations_in_flight = 0;
};

// Applies a killed child's reports to *model, checking each against it.
void ReplayLogReports(const std::vector<std::string>& lines, uint64_t seed,
                      LogModel* model, LogInFlight* in_flight, LogCounts* counts) {
  for (const std::string& line : lines) {
    SCOPED_TRACE("child report: " + line);
    ASSERT_FALSE(line.empty());
    switch (line[0]) {
      case 'S':
        break;
      case 'O': {
        const std::vector<uint64_t> v = Numbers(line, 2);
        ASSERT_EQ(v[0], model->lowest) << "the child opened another lowest offset";
        ASSERT_EQ(v[1], model->next) << "the child opened another next offset";
        in_flight->opened = true;
        break;
      }
      case 'A': {
        const std::vector<uint64_t> v = Numbers(line, 2);
        ASSERT_EQ(v[0], model->next) << "append not at the next offset";
        ASSERT_EQ(v[1], LogBatchSize(seed, v[0])) << "batch size at offset " << v[0];
        model->next += v[1];
        break;
      }
      case 't': {
        const std::vector<uint64_t> v = Numbers(line, 2);
        ASSERT_EQ(v[0], model->lowest);
        ASSERT_GE(v[1], v[0]);
        ASSERT_LT(v[1], model->next);
        in_flight->truncating = v[1];
        break;
      }
      case 'T': {
        const std::vector<uint64_t> v = Numbers(line, 1);
        ASSERT_TRUE(in_flight->truncating.has_value());
        ASSERT_EQ(v[0], *in_flight->truncating);
        model->lowest = v[0];
        in_flight->truncating.reset();
        ++counts->truncations;
        break;
      }
      default:
        FAIL() << "unknown report";
    }
  }
}

// Recovers the log in `dir` in-process and checks it against the model and
// what was in flight; then makes the model the recovered state.
void CheckRecoveredLog(const std::string& dir, uint64_t seed,
                       const LogInFlight& in_flight, uint64_t round_start,
                       LogModel* model, LogCounts* counts) {
  absl::StatusOr<std::unique_ptr<wal::Log>> opened =
      wal::Log::Open(dir, TortureLogOptions());
  ASSERT_OK(opened.status());
  wal::Log& log = **opened;
  const uint64_t lowest = log.LowestOffset();
  const uint64_t next = log.NextOffset();

  // TruncatePrefix: old or new, never anything else.
  if (in_flight.truncating.has_value()) {
    ASSERT_TRUE(lowest == model->lowest || lowest == *in_flight.truncating)
        << "recovered lowest offset " << lowest << "; expected " << model->lowest
        << " (before the TruncatePrefix in flight) or " << *in_flight.truncating
        << " (after it)";
    ++counts->truncations_in_flight;
  } else {
    ASSERT_EQ(lowest, model->lowest) << "recovered lowest offset";
  }
  // Every acknowledged record; at most the one batch in flight more.
  const uint64_t in_flight_end = model->next + LogBatchSize(seed, model->next);
  if (in_flight.opened && !in_flight.truncating.has_value()) {
    ASSERT_TRUE(next == model->next || next == in_flight_end)
        << "recovered next offset " << next << "; expected " << model->next
        << " (the acknowledged end) or " << in_flight_end
        << " (with the whole batch in flight)";
  } else {
    ASSERT_EQ(next, model->next) << "recovered next offset (nothing was in flight)";
  }
  if (next == in_flight_end && next != model->next) ++counts->kept_in_flight;

  // Every record, by iterator and by Read: offset, exact bytes, and flags
  // ending each batch (whole batches only, on the workload's boundaries,
  // which every segment base is one of).
  std::unique_ptr<wal::LogIterator> it = log.NewIterator(lowest);
  wal::Record record;
  std::string scratch;
  uint64_t offset = lowest;
  uint64_t batch_start = lowest, batch_end = lowest;
  while (it->Next(&record)) {
    ASSERT_LT(offset, next) << "the iterator went past the next offset";
    ASSERT_EQ(record.offset, offset) << "iterator record at offset " << offset;
    const std::string want = LogValue(seed, offset);
    ASSERT_TRUE(record.value == want)
        << "iterator value at offset " << offset << ": "
        << FirstDifference(record.value, want);
    if (offset == batch_end) {
      batch_start = offset;
      batch_end = offset + LogBatchSize(seed, offset);
    }
    const uint8_t want_flags =
        offset + 1 == batch_end ? wal::kSyncMarker : wal::kBatchContinues;
    ASSERT_EQ(static_cast<int>(record.flags), static_cast<int>(want_flags))
        << "flags at offset " << offset << " (batch ends at " << batch_end << ")";
    absl::StatusOr<wal::Record> read = log.Read(offset, &scratch);
    ASSERT_OK(read.status());
    ASSERT_EQ(read->offset, offset);
    ASSERT_TRUE(read->value == want)
        << "Read value at offset " << offset << ": "
        << FirstDifference(read->value, want);
    ++offset;
  }
  ASSERT_OK(it->status());
  ASSERT_EQ(offset, next) << "the iterator ended early";
  ASSERT_EQ(batch_end, next) << "the log ends inside the batch [" << batch_start
                             << ", " << batch_end << ") (not all or nothing)";
  if (lowest > 0) {
    EXPECT_THAT(log.Read(lowest - 1, &scratch),
                StatusIs(absl::StatusCode::kOutOfRange))
        << "offset " << lowest - 1;
  }
  EXPECT_THAT(log.Read(next, &scratch), StatusIs(absl::StatusCode::kOutOfRange))
      << "offset " << next;
  if (next > lowest) {
    EXPECT_EQ(log.HighestOffset(), std::optional<uint64_t>(next - 1));
  } else {
    EXPECT_EQ(log.HighestOffset(), std::nullopt);
  }

  // Segments chain up; the report agrees and is sane for a process kill.
  const auto segments = log.Segments();
  ASSERT_FALSE(segments.empty());
  EXPECT_EQ(segments.front()->base_offset(), lowest);
  EXPECT_EQ(segments.back()->next_offset(), next);
  uint64_t store_bytes = 0;
  for (size_t i = 0; i < segments.size(); ++i) {
    store_bytes += segments[i]->store_size();
    if (i > 0) {
      EXPECT_EQ(segments[i]->base_offset(), segments[i - 1]->next_offset())
          << "segment " << i;
    }
  }
  const wal::RecoveryReport& report = log.recovery_report();
  EXPECT_EQ(report.records, next - lowest);
  EXPECT_EQ(report.segments, segments.size());
  EXPECT_EQ(report.store_bytes, store_bytes);
  EXPECT_TRUE(report.damage.empty())
      << "damage reported after a process kill: " << report.damage[0].file
      << " at " << report.damage[0].position << ": " << report.damage[0].reason;
  EXPECT_EQ(report.records_skipped, 0u);
  EXPECT_LE(report.batches_cut, 1u);
  if (report.torn_bytes_cut > 0 || report.batches_cut > 0) {
    EXPECT_EQ(next, model->next)
        << "recovery cut " << report.torn_bytes_cut << " bytes / "
        << report.batches_cut << " batches but kept the batch in flight";
  }
  if (report.batches_cut > 0) {
    EXPECT_GT(report.torn_bytes_cut, 0u);
  }
  if (report.clean_shutdown) {
    EXPECT_EQ(report.torn_bytes_cut, 0u);
    EXPECT_EQ(report.batches_cut, 0u);
    EXPECT_EQ(report.indexes_rebuilt, 0u);
  }
  if (report.torn_bytes_cut > 0) ++counts->torn_cuts;
  if (report.batches_cut > 0) ++counts->batches_cut;
  ASSERT_OK(log.Close());

  // The acknowledged records of this round that the check saw.
  const uint64_t from = std::max(lowest, round_start);
  if (model->next > from) counts->verified += model->next - from;
  model->lowest = lowest;
  model->next = next;
}

TEST(torture, Log) {
  const Settings settings = GetSettings();
  std::printf("torture log seed %llu (replay with BLOCKWAL_TORTURE_SEED=%llu), "
              "%d kills\n",
              static_cast<unsigned long long>(settings.seed),
              static_cast<unsigned long long>(settings.seed), settings.kills);
  // Kept for inspection if the test fails.
  const ScratchDir scratch("blockwal_torture_log", ScratchDir::OnFailure::kKeep);
  const std::string dir = scratch.str() + "/log";
  std::mt19937_64 rng(Hash(settings.seed, 1));
  LogModel model;
  LogCounts counts;
  Pace pace;
  int kills = 0, during_open = 0, on_copy = 0;
  const absl::Time start = absl::Now();
  for (int kill = 1; kill <= settings.kills; ++kill) {
    SCOPED_TRACE(absl::StrFormat("seed %u, kill %d of %d, dir %s", settings.seed,
                                 kill, settings.kills, dir));
    const uint64_t round_start = model.next;
    Child child({"log", dir, absl::StrCat(kReportFd), absl::StrCat(settings.seed)});
    ASSERT_NO_FATAL_FAILURE(RunAndKill(&child, &rng, &pace, &during_open));
    ++kills;
    LogInFlight in_flight;
    ASSERT_NO_FATAL_FAILURE(
        ReplayLogReports(child.lines(), settings.seed, &model, &in_flight, &counts));
    ASSERT_NO_FATAL_FAILURE(CheckOnCopyOrInPlace(
        dir, scratch.str(), kill, &rng, &on_copy, [&](const std::string& d) {
          CheckRecoveredLog(d, settings.seed, in_flight, round_start, &model,
                            &counts);
        }));
    ASSERT_FALSE(::testing::Test::HasFailure());
  }
  EXPECT_EQ(kills, settings.kills);
  std::printf("torture log: %d kills, %llu acknowledged records verified, %llu "
              "recoveries that cut a torn tail\n",
              kills, static_cast<unsigned long long>(counts.verified),
              static_cast<unsigned long long>(counts.torn_cuts));
  std::printf("torture log details: %d kills while opening, %d checks on a copy "
              "(the next child recovered the crash itself), %llu recoveries "
              "removed a cut-off batch, %llu kept the batch in flight, %llu "
              "TruncatePrefix acknowledged, %llu in flight at the kill, final "
              "offsets [%llu, %llu), open %.0f us, ack %.0f us, %.1f s\n",
              during_open, on_copy,
              static_cast<unsigned long long>(counts.batches_cut),
              static_cast<unsigned long long>(counts.kept_in_flight),
              static_cast<unsigned long long>(counts.truncations),
              static_cast<unsigned long long>(counts.truncations_in_flight),
              static_cast<unsigned long long>(model.lowest),
              static_cast<unsigned long long>(model.next), pace.open_us,
              pace.ack_us, absl::ToDoubleSeconds(absl::Now() - start));
}

// ---------------------------------------------------------------- the KV store

using KvState = std::map<std::string, std::string>;

// What the parent knows of the store: the result of ops [0, next_op) (the
// acknowledged ones, and any in-flight one a check found applied).
struct KvModel {
  KvState state;
  uint64_t wal_next = 0;  // one WAL record per write op
  uint64_t next_op = 0;
  std::vector<uint64_t> op_at;  // the op number of each WAL offset
};

struct KvCounts {
  uint64_t verified = 0;        // acknowledged writes checked by a check
  uint64_t torn_cuts = 0;
  uint64_t kept_in_flight = 0;  // checks that found the write in flight applied
  uint64_t checkpoints = 0;     // acknowledged checkpoints
};

// Applies a killed child's reports to *model, checking each against it.
// Returns through *opened whether the child got to run ops.
void ReplayKvReports(const std::vector<std::string>& lines, uint64_t seed,
                     KvModel* model, bool* opened, KvCounts* counts) {
  for (const std::string& line : lines) {
    SCOPED_TRACE("child report: " + line);
    ASSERT_FALSE(line.empty());
    switch (line[0]) {
      case 'S':
        break;
      case 'O': {
        const std::vector<uint64_t> v = Numbers(line, 2);
        ASSERT_EQ(v[0], model->wal_next) << "the child opened another WAL end";
        ASSERT_EQ(v[1], model->state.size()) << "the child opened another key count";
        *opened = true;
        break;
      }
      case 'A': {
        const std::vector<uint64_t> v = Numbers(line, 1);
        ASSERT_EQ(v[0], model->next_op) << "ops out of order";
        const KvOp op = KvOpFor(seed, v[0]);
        ApplyKvOp(op, &model->state);
        if (op.writes()) model->op_at.push_back(v[0]);
        model->wal_next += op.writes();
        ++model->next_op;
        if (op.writes()) {
          ++counts->verified;  // the check below fails the test otherwise
        } else {
          ++counts->checkpoints;
        }
        break;
      }
      default:
        FAIL() << "unknown report";
    }
  }
}

std::string Describe(const std::string* value) {
  if (value == nullptr) return "absent";
  return absl::StrFormat("\"%s...\" (%u bytes)",
                         absl::CHexEscape(value->substr(0, 16)), value->size());
}

// The first key where `got` differs from `want`, for a failure message.
std::string FirstKeyDifference(const KvState& got, const KvState& want) {
  for (int i = 0; i < kKvKeys; ++i) {
    const std::string key = KvKey(i);
    auto g = got.find(key), w = want.find(key);
    const std::string* gv = g == got.end() ? nullptr : &g->second;
    const std::string* wv = w == want.end() ? nullptr : &w->second;
    if ((gv == nullptr) != (wv == nullptr) || (gv != nullptr && *gv != *wv)) {
      return absl::StrCat(key, " is ", Describe(gv), ", expected ", Describe(wv));
    }
  }
  return got.size() == want.size() ? "none" : "a key outside the key space";
}

// Recovers the store in `dir` in-process and checks it holds the model's
// state, or (when the child had opened) that plus the op in flight; then
// makes the model the recovered state.
void CheckRecoveredKv(const std::string& dir, uint64_t seed, bool opened,
                      KvModel* model, KvCounts* counts) {
  absl::StatusOr<std::unique_ptr<db::DB>> open =
      db::DB::Open(dir, TortureDbOptions());
  ASSERT_OK(open.status());
  db::DB& store = **open;
  const db::RecoveryReport& report = store.recovery_report();
  KvState got;
  ASSERT_OK_AND_ASSIGN(std::vector<db::KeyValue> pairs, store.Scan("", ""));
  for (const db::KeyValue& kv : pairs) got.insert(kv);
  const uint64_t wal_next = report.wal_next_offset;

  const KvOp op = KvOpFor(seed, model->next_op);
  KvState with_op = model->state;
  ApplyKvOp(op, &with_op);
  const uint64_t wal_next_with_op = model->wal_next + op.writes();
  bool applied;
  if (got == model->state && wal_next == model->wal_next) {
    applied = false;
  } else if (opened && got == with_op && wal_next == wal_next_with_op) {
    applied = true;
  } else {
    FAIL() << "recovered store (" << got.size() << " keys, WAL next offset "
           << wal_next << ") is neither the acknowledged state ("
           << model->state.size() << " keys, WAL next offset " << model->wal_next
           << "; differs at " << FirstKeyDifference(got, model->state) << ")"
           << (opened ? absl::StrCat(" nor that plus op ", model->next_op,
                                     " in flight (", with_op.size(),
                                     " keys, WAL next offset ", wal_next_with_op,
                                     "; differs at ",
                                     FirstKeyDifference(got, with_op), ")")
                      : std::string(" (no op was in flight)"));
  }
  const KvState& want = applied ? with_op : model->state;
  for (int i = 0; i < kKvKeys; ++i) {
    const std::string key = KvKey(i);
    absl::StatusOr<std::string> value = store.Get(key);
    auto w = want.find(key);
    if (w == want.end()) {
      EXPECT_THAT(value, StatusIs(absl::StatusCode::kNotFound)) << key;
    } else {
      ASSERT_OK(value.status()) << key;
      EXPECT_TRUE(*value == w->second)
          << key << ": " << FirstDifference(*value, w->second);
    }
  }

  EXPECT_TRUE(report.corruption.empty())
      << "corruption reported after a process kill: " << report.corruption[0].file
      << " at " << report.corruption[0].position << ": "
      << report.corruption[0].reason;
  EXPECT_TRUE(report.checkpoints_rejected.empty())
      << "checkpoint rejected after a process kill: "
      << report.checkpoints_rejected[0];
  EXPECT_EQ(report.records_skipped, 0u);
  EXPECT_EQ(report.keys, got.size());
  EXPECT_LE(report.wal_first_offset, report.checkpoint_offset);
  EXPECT_LE(report.checkpoint_offset, wal_next);
  EXPECT_EQ(report.records_replayed, wal_next - report.checkpoint_offset);
  if (report.torn_bytes_cut > 0) {
    EXPECT_FALSE(applied && op.writes())
        << "recovery cut " << report.torn_bytes_cut
        << " bytes but kept the write in flight (op " << model->next_op << ")";
    ++counts->torn_cuts;
  }
  const uint64_t wal_first = report.wal_first_offset;
  ASSERT_OK(store.Close());

  if (applied) {
    if (op.writes()) model->op_at.push_back(model->next_op);
    model->state = std::move(with_op);
    model->wal_next = wal_next_with_op;
    ++model->next_op;
    ++counts->kept_in_flight;
  }

  // The WAL itself: each record left is exactly the batch of its op.
  ASSERT_EQ(model->op_at.size(), wal_next);
  wal::LogOptions log_options;
  log_options.max_store_bytes = kSegmentBytes;
  log_options.create_if_missing = false;
  absl::StatusOr<std::unique_ptr<wal::Log>> log =
      wal::Log::Open(dir + "/" + db::kWalDirName, log_options);
  ASSERT_OK(log.status());
  ASSERT_EQ((*log)->LowestOffset(), wal_first);
  ASSERT_EQ((*log)->NextOffset(), wal_next);
  std::unique_ptr<wal::LogIterator> it = (*log)->NewIterator(wal_first);
  wal::Record record;
  uint64_t offset = wal_first;
  while (it->Next(&record)) {
    ASSERT_LT(offset, wal_next);
    const db::WriteBatch batch = KvOpFor(seed, model->op_at[offset]).ToBatch();
    ASSERT_TRUE(record.value == batch.Contents())
        << "WAL record at offset " << offset << " (op " << model->op_at[offset]
        << "): " << FirstDifference(record.value, batch.Contents());
    ++offset;
  }
  ASSERT_OK(it->status());
  ASSERT_EQ(offset, wal_next);
  ASSERT_OK((*log)->Close());
}

TEST(torture, KvStore) {
  const Settings settings = GetSettings();
  std::printf("torture kv seed %llu (replay with BLOCKWAL_TORTURE_SEED=%llu), "
              "%d kills\n",
              static_cast<unsigned long long>(settings.seed),
              static_cast<unsigned long long>(settings.seed), settings.kills);
  // Kept for inspection if the test fails.
  const ScratchDir scratch("blockwal_torture_kv", ScratchDir::OnFailure::kKeep);
  const std::string dir = scratch.str() + "/kv";
  std::mt19937_64 rng(Hash(settings.seed, 2));
  KvModel model;
  KvCounts counts;
  Pace pace;
  int kills = 0, during_open = 0, on_copy = 0;
  const absl::Time start = absl::Now();
  for (int kill = 1; kill <= settings.kills; ++kill) {
    SCOPED_TRACE(absl::StrFormat("seed %u, kill %d of %d, dir %s, first op %u",
                                 settings.seed, kill, settings.kills, dir,
                                 model.next_op));
    Child child({"kv", dir, absl::StrCat(kReportFd), absl::StrCat(settings.seed),
                 absl::StrCat(model.next_op)});
    ASSERT_NO_FATAL_FAILURE(RunAndKill(&child, &rng, &pace, &during_open));
    ++kills;
    bool opened = false;
    ASSERT_NO_FATAL_FAILURE(
        ReplayKvReports(child.lines(), settings.seed, &model, &opened, &counts));
    ASSERT_NO_FATAL_FAILURE(CheckOnCopyOrInPlace(
        dir, scratch.str(), kill, &rng, &on_copy, [&](const std::string& d) {
          CheckRecoveredKv(d, settings.seed, opened, &model, &counts);
        }));
    ASSERT_FALSE(::testing::Test::HasFailure());
  }
  EXPECT_EQ(kills, settings.kills);
  std::printf("torture kv: %d kills, %llu acknowledged records verified, %llu "
              "recoveries that cut a torn tail\n",
              kills, static_cast<unsigned long long>(counts.verified),
              static_cast<unsigned long long>(counts.torn_cuts));
  std::printf("torture kv details: %d kills while opening, %d checks on a copy "
              "(the next child recovered the crash itself), %llu kept the write "
              "in flight, %llu checkpoints acknowledged, %llu ops, %zu keys at "
              "the end, open %.0f us, ack %.0f us, %.1f s\n",
              during_open, on_copy,
              static_cast<unsigned long long>(counts.kept_in_flight),
              static_cast<unsigned long long>(counts.checkpoints),
              static_cast<unsigned long long>(model.next_op), model.state.size(),
              pace.open_us, pace.ack_us, absl::ToDoubleSeconds(absl::Now() - start));
}

}  // namespace
}  // namespace blockwal::torture
