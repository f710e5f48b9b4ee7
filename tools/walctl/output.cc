// How walctl writes (output.h).
#include "tools/walctl/output.h"

#include <unistd.h>

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "tools/cli.h"
#include "tools/json_util.h"
#include "blockwal/util/file_system.h"

namespace blockwal::tools::walctl {

void Write(std::FILE* stream, absl::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stream);
}

void PrintError(absl::string_view message) {
  tools::PrintError(kProgram, message);
}

int FinishOutput(int exit_code) {
  if (!FlushStandardOutput()) {
    return Worse(exit_code, PrintOutputError(kProgram));
  }
  return exit_code;
}

int InspectionFailure(const absl::Status& status, absl::string_view dir) {
  PrintError(MessageNaming(status, dir));
  return ExitStatusFor(status);
}

void WarnIfNoSegments(const wal::LogInspection& inspection) {
  if (inspection.segments.empty() && !inspection.stray_files.empty()) {
    PrintError(absl::StrCat("warning: ", inspection.dir,
                            " holds no log segments; is it a log directory?"));
  }
}

std::string FormatTimestamp(uint64_t timestamp_us) {
  return absl::FormatTime(
      "%Y-%m-%dT%H:%M:%E6SZ",
      absl::FromUnixMicros(static_cast<int64_t>(timestamp_us)),
      absl::UTCTimeZone());
}

std::string EscapeValue(absl::string_view value) {
  return absl::CHexEscape(value);
}

std::string RecordJson(const wal::RecordLocation& loc, const wal::Record& r) {
  return absl::StrCat(
      "{\"offset\":", r.offset, ",\"timestamp_us\":", r.timestamp_us,
      ",\"segment\":", JsonQuote(loc.store_name),
      ",\"position\":", loc.position, ",\"length\":", loc.length,
      ",\"payload_hex\":\"", absl::BytesToHexString(r.value), "\"}\n");
}

std::string ProblemJson(const wal::LogProblem& p) {
  return absl::StrCat("{\"file\":", JsonQuote(p.file),
                      ",\"position\":", p.position, ",\"kind\":\"",
                      wal::ProblemKindName(p.kind), "\",\"problem\":", JsonQuote(p.description), "}\n");
}

std::string ProblemText(const wal::LogProblem& p) {
  return absl::StrCat(p.file, " at position ", p.position, ": ", p.description,
                      "\n");
}

Progress::Progress(absl::string_view label, bool enabled)
    : label_(label), enabled_(enabled && isatty(STDERR_FILENO) == 1) {}

void Progress::Update(uint64_t done, uint64_t total) {
  if (!enabled_ || total == 0) return;
  const int percent =
      static_cast<int>(std::min<uint64_t>(done, total) * 100 / total);
  if (percent == last_percent_) return;
  last_percent_ = percent;
  Write(stderr, absl::StrFormat("\r%s: %3d%%", label_, percent));
  shown_ = true;
}

void Progress::Clear() {
  if (!shown_) return;
  Write(stderr, absl::StrCat("\r", std::string(label_.size() + 6, ' '), "\r"));
  shown_ = false;
  last_percent_ = -1;
}

std::function<void(uint64_t, uint64_t)> Progress::Updater() {
  return [this](uint64_t done, uint64_t total) { Update(done, total); };
}

absl::StatusOr<wal::LogInspection> InspectShowingProgress(
    const std::string& dir, absl::string_view label, bool show_progress,
    wal::InspectOptions options) {
  Progress progress(label, show_progress);
  options.on_progress = progress.Updater();
  absl::StatusOr<wal::LogInspection> inspection =
      wal::InspectLog(FileSystem::Default(), dir, options);
  progress.Clear();
  if (inspection.ok()) WarnIfNoSegments(*inspection);
  return inspection;
}

}  // namespace blockwal::tools::walctl
