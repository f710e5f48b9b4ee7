// How walctl writes: its error lines, the check of standard output at exit,
// the progress line, and the text and JSON forms of records, times and
// problems that more than one subcommand prints.
#ifndef BLOCKWAL_TOOLS_WALCTL_OUTPUT_H_
#define BLOCKWAL_TOOLS_WALCTL_OUTPUT_H_

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "blockwal/wal/log_inspector.h"
#include "blockwal/wal/record.h"

namespace blockwal::tools::walctl {

inline constexpr absl::string_view kProgram = "walctl";

// Writes `text` to `stream` as is. Write errors on stdout are detected once,
// at exit (FinishOutput), rather than after every line.
void Write(std::FILE* stream, absl::string_view text);

// Prints "walctl: <message>" on stderr.
void PrintError(absl::string_view message);

// Flushes stdout and turns a failed write (disk full, closed pipe) into an
// error exit, so a truncated dump never ends with status 0.
int FinishOutput(int exit_code);

// Prints a failed inspection and returns its exit status: damage (kDataLoss)
// is kExitDamaged, an offset outside the log kExitNotFound, and a directory
// that vanished or a read that failed kExitFailed.
int InspectionFailure(const absl::Status& status, absl::string_view dir);

// Warns about a directory without segments: probably not a log.
void WarnIfNoSegments(const wal::LogInspection& inspection);

// "2023-11-14T22:13:20.000001Z".
std::string FormatTimestamp(uint64_t timestamp_us);

// A value as one line of text: absl::CHexEscape (printable ASCII as is;
// \n \r \t \\ \" \' escaped; every other byte as \xNN).
std::string EscapeValue(absl::string_view value);

// One record as the JSON line of `dump DIR` and `tail --json`.
std::string RecordJson(const wal::RecordLocation& loc, const wal::Record& r);

// One problem as a line of `dump DIR` and `verify`: JSON, or
// "FILE at position P: PROBLEM".
std::string ProblemJson(const wal::LogProblem& p);
std::string ProblemText(const wal::LogProblem& p);

// A "\r"-updated percentage on stderr for long operations, shown only when
// stderr is a terminal: pipes and log files never see it. Erased before
// anything else is printed (Clear) and when destroyed.
class Progress {
 public:
  // `enabled` lets a caller turn it off, e.g. while stdout shares the
  // terminal with it.
  Progress(absl::string_view label, bool enabled);
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  ~Progress() { Clear(); }

  void Update(uint64_t done, uint64_t total);
  void Clear();
  // Update as a callback, for a progress option (wal::InspectOptions,
  // wal::RepairOptions); valid while this Progress lives.
  std::function<void(uint64_t done, uint64_t total)> Updater();

 private:
  const std::string label_;
  const bool enabled_;
  bool shown_ = false;
  int last_percent_ = -1;
};

// Inspects the log in `dir` (wal::InspectLog) with `options`, showing a
// Progress labelled `label` (when `show_progress`) while it reads, and warns
// when the directory holds no segments (WarnIfNoSegments).
absl::StatusOr<wal::LogInspection> InspectShowingProgress(
    const std::string& dir, absl::string_view label, bool show_progress,
    wal::InspectOptions options);

}  // namespace blockwal::tools::walctl

#endif  // BLOCKWAL_TOOLS_WALCTL_OUTPUT_H_
