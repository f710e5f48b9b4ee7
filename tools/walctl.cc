// walctl: inspects, verifies and repairs blockwal log directories
// (wal/log.h), and dumps any block-format log file (LevelDB and RocksDB
// write-ahead logs use the same framing, wal/format.h).
//
//   walctl dump [--json] FILE|DIR
//   walctl verify [--json] DIR
//   walctl stat DIR
//   walctl repair [--force] DIR
//   walctl append [--sync] DIR
//   walctl read DIR OFFSET
//   walctl tail [--from OFFSET | --from-time TIME] [--json]
//               [--follow [--max-wait-ms N]] DIR
//
// Each subcommand is one entry of kSubcommands below: a name, a one-line
// summary, its help text and a Run function that gets the arguments after
// its name. Flags differ per subcommand, so each parses its own argv with
// ParseArgs (hand parsing: absl flags are process-global and would make every
// subcommand accept every other subcommand's flags).
//
// Everything but repair and append is read-only and takes no lock (through
// wal/log_inspector.h), so it works on a log another process has open; the
// answer then describes one moment of it.
//
// Exit status: every subcommand follows the table in tools/cli.h
// (kExitStatusHelp, which each --help prints; README.md, "Exit status").
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "tools/cli.h"
#include "tools/display.h"
#include "tools/json_util.h"
#include "tools/repair_text.h"
#include "blockwal/util/file_system.h"
#include "blockwal/util/status_macros.h"
#include "blockwal/wal/block_reader.h"
#include "blockwal/wal/log.h"
#include "blockwal/wal/log_inspector.h"
#include "blockwal/wal/log_options.h"
#include "blockwal/wal/repair.h"
#include "blockwal/wal/segment.h"

namespace blockwal::tools {
namespace {

constexpr absl::string_view kProgram = "walctl";

struct Subcommand {
  absl::string_view name;
  absl::string_view summary;  // one line, for `walctl --help`
  absl::string_view help;     // the full text for `walctl NAME --help`
  // Runs the subcommand on the arguments after its name; returns an
  // ExitStatus (tools/cli.h).
  int (*run)(const Subcommand& self, absl::Span<const std::string> args);
};

// ---- output helpers ----

void Write(std::FILE* stream, absl::string_view text) {
  // Write errors on stdout are detected once, at exit (FinishOutput), rather
  // than after every line.
  std::fwrite(text.data(), 1, text.size(), stream);
}

// Prints "walctl: <message>" on stderr.
void PrintError(absl::string_view message) {
  tools::PrintError(kProgram, message);
}

// The status message, prefixed with `path` unless it already names it (the
// file system's messages normally do).
std::string MessageNaming(const absl::Status& status, absl::string_view path) {
  if (absl::StrContains(status.message(), path)) {
    return std::string(status.message());
  }
  return absl::StrCat(path, ": ", status.message());
}

// Flushes stdout and turns a failed write (disk full, closed pipe) into an
// error exit, so a truncated dump never ends with status 0.
int FinishOutput(int exit_code) {
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    PrintError(absl::StrCat("error writing to standard output: ",
                            std::strerror(errno)));
    return Worse(exit_code, kExitFailed);
  }
  return exit_code;
}

// ---- argument parsing shared by the subcommands ----

struct FlagSpec {
  absl::string_view name;  // without the leading "--"
  bool takes_value = false;
};

struct ParsedArgs {
  bool help = false;
  // Flags given, by name; "" for flags without a value. The last one wins.
  std::map<std::string, std::string, std::less<>> flags;
  std::vector<std::string> positional;

  bool Has(absl::string_view flag) const { return flags.count(flag) > 0; }
};

// Accepts --help/-h, the flags in `specs` as --name (and, for flags taking a
// value, --name=VALUE or --name VALUE), and "--" to end the flags. Flags and
// positional arguments may be mixed. Anything else starting with '-' (except
// "-" alone) is an error.
absl::StatusOr<ParsedArgs> ParseArgs(absl::Span<const std::string> args,
                                     absl::Span<const FlagSpec> specs) {
  ParsedArgs parsed;
  bool flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (flags_done || arg.size() < 2 || arg[0] != '-') {
      parsed.positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      parsed.help = true;
      continue;
    }
    if (!absl::StartsWith(arg, "--")) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag '", arg, "'"));
    }
    absl::string_view body = absl::string_view(arg).substr(2);
    std::optional<std::string> value;
    if (const size_t eq = body.find('='); eq != absl::string_view::npos) {
      value = std::string(body.substr(eq + 1));
      body = body.substr(0, eq);
    }
    const FlagSpec* spec = nullptr;
    for (const FlagSpec& s : specs) {
      if (s.name == body) spec = &s;
    }
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag '", arg, "'"));
    }
    if (spec->takes_value && !value.has_value()) {
      if (i + 1 == args.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("flag '--", spec->name, "' needs a value"));
      }
      value = args[++i];
    } else if (!spec->takes_value && value.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("flag '--", spec->name, "' takes no value"));
    }
    parsed.flags[std::string(spec->name)] = value.value_or("");
  }
  return parsed;
}

// Prints "walctl: NAME: <message>" and a hint to the subcommand's help on
// stderr.
int UsageError(const Subcommand& self, absl::string_view message) {
  return PrintUsageError(kProgram, absl::StrCat(self.name, ": ", message),
                         absl::StrCat(kProgram, " ", self.name, " --help"));
}

// Prints "walctl: <message>" and a hint to the top-level help on stderr.
int TopLevelUsageError(absl::string_view message) {
  return PrintUsageError(kProgram, message, absl::StrCat(kProgram, " --help"));
}

// A subcommand's help, then the exit status table, on stdout.
int PrintHelp(const Subcommand& self) {
  Write(stdout, absl::StrCat(self.help, "\n", kExitStatusHelp));
  return FinishOutput(kExitOk);
}


// ---- helpers for log directories ----

// True when `path` names a directory. Asked through the FileSystem (listing
// only succeeds on a directory) so that tools stay on the public API.
bool IsDirectory(const std::string& path) {
  return FileSystem::Default()->GetChildren(path).ok();
}

// Checks that `dir` is an existing directory; otherwise prints why it cannot
// be opened and returns false (the caller exits with kExitFailed).
bool CheckLogDirectory(const std::string& dir) {
  if (std::optional<std::string> why =
          CheckDirectoryArgument(dir, /*create=*/false)) {
    PrintError(*why);
    return false;
  }
  return true;
}

// Prints a failed inspection and returns its exit status: damage (kDataLoss)
// is kExitDamaged, an offset outside the log kExitNotFound, and a directory
// that vanished or a read that failed kExitFailed.
int InspectionFailure(const absl::Status& status, absl::string_view dir) {
  PrintError(MessageNaming(status, dir));
  return ExitStatusFor(status);
}

// Warns about a directory without segments: probably not a log.
void WarnIfNoSegments(const wal::LogInspection& inspection) {
  if (inspection.segments.empty() && !inspection.stray_files.empty()) {
    PrintError(absl::StrCat("warning: ", inspection.dir,
                            " holds no log segments; is it a log directory?"));
  }
}

// "2023-11-14T22:13:20.000001Z".
std::string FormatTimestamp(uint64_t timestamp_us) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ",
                          absl::FromUnixMicros(static_cast<int64_t>(timestamp_us)),
                          absl::UTCTimeZone());
}

// A value as one line of text: absl::CHexEscape (printable ASCII as is;
// \n \r \t \\ \" \' escaped; every other byte as \xNN).
std::string EscapeValue(absl::string_view value) {
  return absl::CHexEscape(value);
}

// One record as the JSON line of `dump DIR` and `tail --json`.
std::string RecordJson(const wal::RecordLocation& loc, const wal::Record& r) {
  return absl::StrCat("{\"offset\":", r.offset,
                      ",\"timestamp_us\":", r.timestamp_us,
                      ",\"segment\":", JsonQuote(loc.store_name),
                      ",\"position\":", loc.position, ",\"length\":", loc.length,
                      ",\"payload_hex\":\"", absl::BytesToHexString(r.value),
                      "\"}\n");
}

std::string ProblemJson(const wal::LogProblem& p) {
  return absl::StrCat("{\"file\":", JsonQuote(p.file), ",\"position\":",
                      p.position, ",\"problem\":", JsonQuote(p.description),
                      "}\n");
}

std::string ProblemText(const wal::LogProblem& p) {
  return absl::StrCat(p.file, " at position ", p.position, ": ", p.description,
                      "\n");
}

// A "\r"-updated percentage on stderr for long operations, shown only when
// stderr is a terminal: pipes and log files never see it. Erased before
// anything else is printed (Clear) and when destroyed.
class Progress {
 public:
  // `enabled` lets a caller turn it off, e.g. while stdout shares the
  // terminal with it.
  Progress(absl::string_view label, bool enabled)
      : label_(label), enabled_(enabled && isatty(STDERR_FILENO) == 1) {}
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  ~Progress() { Clear(); }

  void Update(uint64_t done, uint64_t total) {
    if (!enabled_ || total == 0) return;
    const int percent =
        static_cast<int>(std::min<uint64_t>(done, total) * 100 / total);
    if (percent == last_percent_) return;
    last_percent_ = percent;
    Write(stderr, absl::StrFormat("\r%s: %3d%%", label_, percent));
    shown_ = true;
  }

  void Clear() {
    if (!shown_) return;
    Write(stderr, absl::StrCat("\r", std::string(label_.size() + 6, ' '), "\r"));
    shown_ = false;
    last_percent_ = -1;
  }

 private:
  const std::string label_;
  const bool enabled_;
  bool shown_ = false;
  int last_percent_ = -1;
};

// Parses a decimal offset.
bool ParseOffset(absl::string_view text, uint64_t* offset) {
  return !text.empty() && text[0] != '+' && text[0] != '-' &&
         absl::SimpleAtoi(text, offset);
}

// Handles --help and the count of positional arguments shared by the
// directory subcommands. Returns an exit code to return at once, or nullopt
// to go on.
std::optional<int> CheckCommonArgs(const Subcommand& self,
                                   const absl::StatusOr<ParsedArgs>& parsed,
                                   size_t positional,
                                   absl::string_view missing_message) {
  if (!parsed.ok()) return UsageError(self, parsed.status().message());
  if (parsed->help) return PrintHelp(self);
  if (parsed->positional.size() < positional) {
    return UsageError(self, missing_message);
  }
  if (parsed->positional.size() > positional) {
    return UsageError(self, absl::StrCat("unexpected argument '",
                                         parsed->positional[positional], "'"));
  }
  return std::nullopt;
}

// ---- dump ----

// Receives what a BlockReader produces and prints it in one output format.
// Counting lives here so every format gets the same summary and exit status.
class DumpPrinter : public wal::BlockReader::Reporter {
 public:
  struct Totals {
    uint64_t records = 0;
    uint64_t payload_bytes = 0;
    uint64_t corruptions = 0;
    uint64_t dropped_bytes = 0;
  };

  void AddRecord(uint64_t position, absl::string_view payload) {
    PrintRecord(totals_.records, position, payload);
    ++totals_.records;
    totals_.payload_bytes += payload.size();
  }

  void Corruption(uint64_t position, uint64_t bytes,
                  absl::string_view reason) final {
    ++totals_.corruptions;
    totals_.dropped_bytes += bytes;
    PrintCorruption(position, bytes, reason);
  }

  virtual void Begin() {}
  virtual void End() {}
  const Totals& totals() const { return totals_; }

 protected:
  virtual void PrintRecord(uint64_t index, uint64_t position,
                           absl::string_view payload) = 0;
  virtual void PrintCorruption(uint64_t position, uint64_t bytes,
                               absl::string_view reason) = 0;

 private:
  Totals totals_;
};

// One JSON object per line, so the output can be fed to line-oriented JSON
// tools as is. The one exception: an I/O error that stops reading also gets
// a plain "walctl: ..." line on stderr (after its JSON report).
class JsonDumpPrinter final : public DumpPrinter {
 protected:
  void PrintRecord(uint64_t index, uint64_t position,
                   absl::string_view payload) override {
    Write(stdout,
          absl::StrCat("{\"index\":", index, ",\"position\":", position,
                       ",\"length\":", payload.size(), ",\"payload_hex\":\"",
                       absl::BytesToHexString(payload), "\"}\n"));
  }
  void PrintCorruption(uint64_t position, uint64_t bytes,
                       absl::string_view reason) override {
    Write(stderr, absl::StrCat("{\"position\":", position,
                               ",\"dropped_bytes\":", bytes,
                               ",\"reason\":", JsonQuote(reason), "}\n"));
  }
};

class TableDumpPrinter final : public DumpPrinter {
 public:
  void Begin() override {
    Write(stdout, absl::StrFormat("%12s  %-22s  %10s  %s\n", "POSITION",
                                  "FRAGMENTS", "LENGTH", "PAYLOAD"));
  }
  void End() override {
    const Totals& t = totals();
    std::string summary =
        absl::StrCat(t.records, t.records == 1 ? " record, " : " records, ",
                     t.payload_bytes, " payload bytes, ", t.corruptions,
                     t.corruptions == 1 ? " corruption" : " corruptions");
    if (t.corruptions > 0) {
      absl::StrAppend(&summary, " (", t.dropped_bytes, " bytes dropped)");
    }
    Write(stdout, absl::StrCat(summary, "\n"));
  }

 protected:
  void PrintRecord(uint64_t /*index*/, uint64_t position,
                   absl::string_view payload) override {
    Write(stdout, absl::StrFormat("%12d  %-22s  %10d  %s\n", position,
                                  FragmentLayout(position, payload.size()),
                                  payload.size(), PayloadPreview(payload)));
  }
  void PrintCorruption(uint64_t position, uint64_t bytes,
                       absl::string_view reason) override {
    // stdout is flushed first so that on a terminal the report appears
    // between the records around the damage, not before the whole table.
    std::fflush(stdout);
    Write(stderr, absl::StrCat("corruption at position ", position, ": ", bytes,
                               " bytes dropped (", reason, ")\n"));
  }
};

// Reads every record of the block-format file at `path` into *printer.
int DumpFile(const std::string& path, DumpPrinter* printer) {
  absl::StatusOr<std::unique_ptr<SequentialFile>> file =
      FileSystem::Default()->NewSequentialFile(path);
  if (!file.ok()) {
    PrintError(absl::StrCat("cannot open ", MessageNaming(file.status(), path)));
    return kExitFailed;
  }
  wal::BlockReader reader(file->get(), printer);
  printer->Begin();
  absl::string_view record;
  std::string scratch;
  while (reader.ReadRecord(&record, &scratch)) {
    printer->AddRecord(reader.last_record_offset(), record);
  }
  printer->End();

  int exit_code = printer->totals().corruptions > 0 ? kExitDamaged : kExitOk;
  if (!reader.status().ok()) {
    // The reader also reported the error as dropped bytes; this line says
    // that reading stopped early rather than that the file is damaged.
    std::fflush(stdout);
    PrintError(absl::StrCat("read error, stopped early: ",
                            MessageNaming(reader.status(), path)));
    return kExitFailed;
  }
  if (printer->totals().records == 0 && exit_code == kExitOk) {
    // The reader ends quietly at bytes it cannot take for a record (that is
    // how a torn tail looks), so a file that is not a log at all reads as an
    // empty one. Only an empty file is an empty log.
    absl::StatusOr<uint64_t> size = FileSystem::Default()->GetFileSize(path);
    if (!size.ok()) {
      PrintError(MessageNaming(size.status(), path));
      return kExitFailed;
    }
    if (*size > 0) {
      std::fflush(stdout);
      PrintError(absl::StrCat(path, ": no record found in ",
                              Count(*size, "byte", "bytes"),
                              "; is it a block-format log?"));
      exit_code = kExitDamaged;
    }
  }
  return exit_code;
}

// Prints every record of the log in `dir`, then its problems on stderr.
int DumpDirectory(const std::string& dir, bool json) {
  // The table goes to stdout; a progress line on the same terminal would
  // mangle it.
  Progress progress("reading", isatty(STDOUT_FILENO) != 1);
  uint64_t value_bytes = 0;
  wal::InspectOptions options;
  if (!json) {
    Write(stdout, absl::StrFormat("%12s  %-27s  %-26s  %12s  %10s  %s\n",
                                  "OFFSET", "TIME", "SEGMENT", "POSITION",
                                  "LENGTH", "VALUE"));
  }
  options.on_record = [&](const wal::RecordLocation& loc,
                          const wal::Record& r) {
    value_bytes += r.value.size();
    if (json) {
      Write(stdout, RecordJson(loc, r));
    } else {
      Write(stdout, absl::StrFormat("%12d  %-27s  %-26s  %12d  %10d  %s\n",
                                    r.offset, FormatTimestamp(r.timestamp_us),
                                    loc.store_name, loc.position, loc.length,
                                    PayloadPreview(r.value)));
    }
  };
  options.on_progress = [&](uint64_t done, uint64_t total) {
    progress.Update(done, total);
  };
  absl::StatusOr<wal::LogInspection> inspection =
      wal::InspectLog(FileSystem::Default(), dir, options);
  progress.Clear();
  if (!inspection.ok()) {
    std::fflush(stdout);
    return InspectionFailure(inspection.status(), dir);
  }
  WarnIfNoSegments(*inspection);
  const uint64_t problems = inspection->problems.size();
  if (!json) {
    Write(stdout, absl::StrCat(
                      inspection->records,
                      inspection->records == 1 ? " record, " : " records, ",
                      value_bytes, " value bytes, ", problems,
                      problems == 1 ? " problem\n" : " problems\n"));
  }
  std::fflush(stdout);
  for (const wal::LogProblem& p : inspection->problems) {
    Write(stderr, json ? ProblemJson(p) : ProblemText(p));
  }
  return problems > 0 ? kExitDamaged : kExitOk;
}

constexpr FlagSpec kDumpFlags[] = {{"json"}};

int RunDump(const Subcommand& self, absl::Span<const std::string> args) {
  absl::StatusOr<ParsedArgs> parsed = ParseArgs(args, kDumpFlags);
  if (!parsed.ok()) return UsageError(self, parsed.status().message());
  if (parsed->help) return PrintHelp(self);
  if (parsed->positional.size() != 1) {
    return UsageError(self, parsed->positional.empty()
                                ? "missing FILE or DIR"
                                : "expected exactly one FILE or DIR");
  }
  const std::string& path = parsed->positional[0];
  const bool json = parsed->Has("json");

  if (IsDirectory(path)) return FinishOutput(DumpDirectory(path, json));

  std::unique_ptr<DumpPrinter> printer;
  if (json) {
    printer = std::make_unique<JsonDumpPrinter>();
  } else {
    printer = std::make_unique<TableDumpPrinter>();
  }
  return FinishOutput(DumpFile(path, printer.get()));
}

// ---- verify ----

constexpr FlagSpec kVerifyFlags[] = {{"json"}};

int RunVerify(const Subcommand& self, absl::Span<const std::string> args) {
  const absl::StatusOr<ParsedArgs> parsed = ParseArgs(args, kVerifyFlags);
  if (std::optional<int> done = CheckCommonArgs(self, parsed, 1, "missing DIR")) {
    return *done;
  }
  const std::string& dir = parsed->positional[0];
  const bool json = parsed->Has("json");
  if (!CheckLogDirectory(dir)) return kExitFailed;

  Progress progress("verifying", true);
  wal::InspectOptions options;
  options.on_progress = [&](uint64_t done, uint64_t total) {
    progress.Update(done, total);
  };
  absl::StatusOr<wal::LogInspection> inspection =
      wal::InspectLog(FileSystem::Default(), dir, options);
  progress.Clear();
  if (!inspection.ok()) return InspectionFailure(inspection.status(), dir);
  WarnIfNoSegments(*inspection);

  const size_t segments = inspection->segments.size();
  const size_t problems = inspection->problems.size();
  for (const wal::LogProblem& p : inspection->problems) {
    Write(stdout, json ? ProblemJson(p) : ProblemText(p));
  }
  if (json) {
    Write(stdout, absl::StrCat("{\"segments\":", segments, ",\"records\":",
                               inspection->records, ",\"problems\":", problems,
                               "}\n"));
  } else {
    Write(stdout, absl::StrCat(Count(segments, "segment", "segments"), ", ",
                               Count(inspection->records, "record", "records"),
                               ", ", Count(problems, "problem", "problems"),
                               "\n"));
  }
  return FinishOutput(problems > 0 ? kExitDamaged : kExitOk);
}

// ---- stat ----

int RunStat(const Subcommand& self, absl::Span<const std::string> args) {
  const absl::StatusOr<ParsedArgs> parsed = ParseArgs(args, {});
  if (std::optional<int> done = CheckCommonArgs(self, parsed, 1, "missing DIR")) {
    return *done;
  }
  const std::string& dir = parsed->positional[0];
  if (!CheckLogDirectory(dir)) return kExitFailed;

  Progress progress("reading", true);
  wal::InspectOptions options;
  options.on_progress = [&](uint64_t done, uint64_t total) {
    progress.Update(done, total);
  };
  absl::StatusOr<wal::LogInspection> inspection =
      wal::InspectLog(FileSystem::Default(), dir, options);
  progress.Clear();
  if (!inspection.ok()) return InspectionFailure(inspection.status(), dir);
  WarnIfNoSegments(*inspection);

  const wal::LogInspection& log = *inspection;
  std::string out = absl::StrCat("segments: ", log.segments.size(), "\n");
  for (size_t i = 0; i < log.segments.size(); ++i) {
    const wal::SegmentInspection& s = log.segments[i];
    const char* state = s.index_sealed                  ? "sealed"
                        : i + 1 == log.segments.size() ? "active"
                                                        : "unsealed";
    absl::StrAppend(&out, absl::StrFormat(
        "  %020d  %d %s  %d store bytes  %d index bytes  %s\n", s.base_offset,
        s.records, s.records == 1 ? "record" : "records", s.store_bytes,
        s.index_bytes, state));
  }
  if (log.has_records()) {
    absl::StrAppend(&out, "offsets: [", log.first_offset(), ", ",
                    log.last_offset() + 1, ")\n");
  } else {
    absl::StrAppend(&out, "offsets: empty\n");
  }
  absl::StrAppend(&out, "records: ", log.records, "\n");
  absl::StrAppend(&out, "store bytes: ", log.store_bytes, "\n");
  absl::StrAppend(&out, "index bytes: ", log.index_bytes, "\n");
  absl::StrAppend(&out, "last append: ",
                  log.has_records() ? FormatTimestamp(log.last_timestamp_us())
                                    : "never",
                  "\n");
  if (!log.stray_files.empty()) {
    absl::StrAppend(&out, "stray files: ", absl::StrJoin(log.stray_files, ", "),
                    "\n");
  }
  if (!log.problems.empty()) {
    absl::StrAppend(&out, "problems: ", log.problems.size(),
                    " (run 'walctl verify ", dir, "' for the list)\n");
  }
  Write(stdout, out);
  return FinishOutput(log.problems.empty() ? kExitOk : kExitDamaged);
}

// ---- repair ----

constexpr FlagSpec kRepairFlags[] = {{"force"}};

// kExitOk when the log verifies clean; kExitDamaged when recovery refused
// for damage or problems remain; kExitFailed when a step failed (recovery
// for another reason than damage, an index put back, the close, the
// verification).
int RepairExitStatus(const wal::RepairResult& r) {
  if (r.clean()) return kExitOk;
  if (!r.status.ok()) return kExitFailed;
  if (!r.recovery.ok()) return Worse(ExitStatusFor(r.recovery), kExitDamaged);
  return kExitDamaged;
}

// A printer of wal::RepairLog (wal/repair.h), which does the work.
int RunRepair(const Subcommand& self, absl::Span<const std::string> args) {
  const absl::StatusOr<ParsedArgs> parsed = ParseArgs(args, kRepairFlags);
  if (std::optional<int> done = CheckCommonArgs(self, parsed, 1, "missing DIR")) {
    return *done;
  }
  const std::string& dir = parsed->positional[0];
  if (!CheckLogDirectory(dir)) return kExitFailed;

  Progress progress("backing up", true);
  const bool tty = isatty(STDERR_FILENO) == 1;
  wal::RepairOptions options;
  options.force = parsed->Has("force");
  options.on_backup_progress = [&](uint64_t done, uint64_t total) {
    progress.Update(done, total);
  };
  options.on_backup_done = [&](const std::string& backup) {
    progress.Clear();
    Write(stdout, absl::StrCat("backup: ", backup, "\n"));
    std::fflush(stdout);
    if (tty) Write(stderr, "recovering...\r");
  };
  const absl::StatusOr<wal::RepairResult> result = wal::RepairLog(dir, options);
  progress.Clear();
  if (tty) Write(stderr, "             \r");
  if (!result.ok()) {
    PrintError(absl::StrCat("repair: ", MessageNaming(result.status(), dir),
                            "; nothing was changed"));
    return ExitStatusFor(result.status());
  }
  const RepairText text = FormatRepair(dir, *result);
  Write(stdout, text.out);
  std::fflush(stdout);
  Write(stderr, text.err);
  return FinishOutput(RepairExitStatus(*result));
}

// ---- append ----

constexpr FlagSpec kAppendFlags[] = {{"sync"}};

int RunAppend(const Subcommand& self, absl::Span<const std::string> args) {
  const absl::StatusOr<ParsedArgs> parsed = ParseArgs(args, kAppendFlags);
  if (std::optional<int> done = CheckCommonArgs(self, parsed, 1, "missing DIR")) {
    return *done;
  }
  const std::string& dir = parsed->positional[0];
  const bool sync = parsed->Has("sync");

  if (std::optional<std::string> why =
          CheckDirectoryArgument(dir, /*create=*/true)) {
    PrintError(*why);
    return kExitFailed;
  }
  wal::LogOptions options;
  options.warning_sink = [](const std::string& w) {
    PrintError(absl::StrCat("warning: ", w));
  };
  absl::StatusOr<std::unique_ptr<wal::Log>> log = wal::Log::Open(dir, options);
  if (!log.ok()) {
    PrintError(absl::StrCat(
        "cannot open ", MessageNaming(log.status(), dir),
        log.status().code() == absl::StatusCode::kDataLoss
            ? absl::StrCat(" (see 'walctl verify ", dir, "' and 'walctl repair ",
                           dir, "')")
            : ""));
    // Damage recovery refuses to cut is kExitDamaged; a lock held
    // elsewhere, a full disk or an I/O error kExitFailed.
    return ExitStatusFor(log.status());
  }

  std::string line;
  while (std::getline(std::cin, line)) {
    absl::StatusOr<uint64_t> offset = (*log)->Append(line);
    if (!offset.ok()) {
      PrintError(absl::StrCat("append failed: ", MessageNaming(offset.status(), dir)));
      return FinishOutput(kExitFailed);
    }
    if (sync) {
      if (absl::Status s = (*log)->Sync(); !s.ok()) {
        PrintError(absl::StrCat("sync failed: ", MessageNaming(s, dir)));
        return FinishOutput(kExitFailed);
      }
    }
    Write(stdout, absl::StrCat(*offset, "\n"));
    if (std::fflush(stdout) != 0) return FinishOutput(kExitFailed);
  }
  if (std::cin.bad()) {
    PrintError("error reading standard input");
    return FinishOutput(kExitFailed);
  }
  if (absl::Status s = (*log)->Close(); !s.ok()) {
    PrintError(absl::StrCat("closing the log failed: ", MessageNaming(s, dir)));
    return FinishOutput(kExitFailed);
  }
  return FinishOutput(kExitOk);
}

// ---- read ----

int RunRead(const Subcommand& self, absl::Span<const std::string> args) {
  const absl::StatusOr<ParsedArgs> parsed = ParseArgs(args, {});
  if (std::optional<int> done = CheckCommonArgs(
          self, parsed, 2,
          parsed.ok() && parsed->positional.empty() ? "missing DIR and OFFSET"
                                                    : "missing OFFSET")) {
    return *done;
  }
  const std::string& dir = parsed->positional[0];
  uint64_t offset;
  if (!ParseOffset(parsed->positional[1], &offset)) {
    return UsageError(self, absl::StrCat("bad OFFSET '", parsed->positional[1],
                                         "': expected a decimal number"));
  }
  if (!CheckLogDirectory(dir)) return kExitFailed;
  absl::StatusOr<std::string> value =
      wal::ReadRecordValue(FileSystem::Default(), dir, offset);
  if (!value.ok()) return InspectionFailure(value.status(), dir);
  Write(stdout, *value);
  return FinishOutput(kExitOk);
}

// ---- tail ----

// Records shown when neither --from nor --from-time is given.
constexpr uint64_t kDefaultTailRecords = 10;
// How often --follow looks for new records.
constexpr absl::Duration kFollowPollInterval = absl::Milliseconds(100);

constexpr FlagSpec kTailFlags[] = {{"from", /*takes_value=*/true},
                                   {"from-time", /*takes_value=*/true},
                                   {"json"},
                                   {"follow"},
                                   {"max-wait-ms", /*takes_value=*/true}};

// Parses --from-time: microseconds since the Unix epoch, or an ISO-8601 /
// RFC 3339 time ("2023-11-14T22:13:20Z", "...20.000001Z", "...+01:00"; UTC
// when it names no zone).
bool ParseTimeFlag(absl::string_view text, uint64_t* timestamp_us) {
  if (ParseOffset(text, timestamp_us)) return true;
  absl::Time t;
  std::string ignored;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &ignored) &&
      !absl::ParseTime("%Y-%m-%d%ET%H:%M:%E*S", text, absl::UTCTimeZone(), &t,
                       &ignored)) {
    return false;
  }
  if (t < absl::UnixEpoch()) return false;
  // Round a fraction of a microsecond up: a record at 1 µs is not at or
  // after 1.5 µs.
  int64_t us = absl::ToUnixMicros(t);
  if (absl::FromUnixMicros(us) < t) ++us;
  *timestamp_us = static_cast<uint64_t>(us);
  return true;
}

// The first record at or after `offset` (its offset and timestamp), or
// nullopt when there is none.
struct RecordStamp {
  uint64_t offset = 0;
  uint64_t timestamp_us = 0;
};
absl::StatusOr<std::optional<RecordStamp>> FirstRecordFrom(
    FileSystem* fs, const std::string& dir, uint64_t offset) {
  std::optional<RecordStamp> found;
  BW_RETURN_IF_ERROR(wal::ForEachRecord(
      fs, dir, offset, [&](const wal::RecordLocation&, const wal::Record& r) {
        found = RecordStamp{r.offset, r.timestamp_us};
        return false;
      }));
  return found;
}

// The first offset in `range` whose record's timestamp is at or after
// `timestamp_us`, or range.next when every record is older. Timestamps never
// decrease along a log, so a binary search over offsets finds it with
// O(log n) cheap reads (each starts at the offset's index entry).
absl::StatusOr<uint64_t> FindOffsetForTime(FileSystem* fs,
                                           const std::string& dir,
                                           const wal::OffsetRange& range,
                                           uint64_t timestamp_us) {
  uint64_t lo = range.first;
  uint64_t hi = range.next;  // the answer is in [lo, hi]
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    BW_ASSIGN_OR_RETURN(std::optional<RecordStamp> r,
                        FirstRecordFrom(fs, dir, mid));
    if (!r.has_value() || r->timestamp_us >= timestamp_us) {
      hi = mid;
    } else {
      lo = r->offset + 1;
    }
  }
  return lo;
}

// Prints the records at and after *next whose timestamp is at least
// min_timestamp_us; sets *next past the last one printed and counts them in
// *printed. With skip_seen, records below *next are not printed even if the
// store presents them (a damaged log may repeat offsets), so a follower never
// prints one twice.
absl::Status PrintRecordsFrom(FileSystem* fs, const std::string& dir, bool json,
                              uint64_t min_timestamp_us, bool skip_seen,
                              uint64_t* next, uint64_t* printed) {
  const uint64_t from = *next;
  return wal::ForEachRecord(
      fs, dir, from, [&](const wal::RecordLocation& loc, const wal::Record& r) {
        if (r.timestamp_us < min_timestamp_us) return true;
        if (skip_seen && r.offset < *next) return true;
        Write(stdout, json ? RecordJson(loc, r)
                           : absl::StrCat(r.offset, "\t", EscapeValue(r.value),
                                          "\n"));
        *next = std::max(*next, r.offset + 1);
        ++*printed;
        return true;
      });
}

int RunTail(const Subcommand& self, absl::Span<const std::string> args) {
  const absl::StatusOr<ParsedArgs> parsed = ParseArgs(args, kTailFlags);
  if (std::optional<int> done = CheckCommonArgs(self, parsed, 1, "missing DIR")) {
    return *done;
  }
  const std::string& dir = parsed->positional[0];
  const bool json = parsed->Has("json");
  const bool follow = parsed->Has("follow");
  auto flag = [&](absl::string_view name) -> const std::string& {
    return parsed->flags.find(name)->second;
  };
  uint64_t from = 0;
  const bool has_from = parsed->Has("from");
  if (has_from && !ParseOffset(flag("from"), &from)) {
    return UsageError(self, absl::StrCat("bad --from '", flag("from"),
                                         "': expected a decimal offset"));
  }
  uint64_t from_time_us = 0;
  const bool has_from_time = parsed->Has("from-time");
  if (has_from_time && !ParseTimeFlag(flag("from-time"), &from_time_us)) {
    return UsageError(
        self, absl::StrCat("bad --from-time '", flag("from-time"),
                           "': expected microseconds since the epoch or a "
                           "time like 2023-11-14T22:13:20Z"));
  }
  if (has_from && has_from_time) {
    return UsageError(self, "--from and --from-time exclude each other");
  }
  std::optional<absl::Duration> max_wait;
  if (parsed->Has("max-wait-ms")) {
    uint64_t ms;
    if (!ParseOffset(flag("max-wait-ms"), &ms) || ms > (uint64_t{1} << 40)) {
      return UsageError(self, absl::StrCat("bad --max-wait-ms '",
                                           flag("max-wait-ms"),
                                           "': expected milliseconds"));
    }
    if (!follow) return UsageError(self, "--max-wait-ms needs --follow");
    max_wait = absl::Milliseconds(static_cast<int64_t>(ms));
  }
  if (!CheckLogDirectory(dir)) return kExitFailed;
  FileSystem* fs = FileSystem::Default();
  absl::StatusOr<wal::OffsetRange> range = wal::FindOffsetRange(fs, dir);
  if (!range.ok()) return InspectionFailure(range.status(), dir);
  std::string start;  // what --from or --from-time asked for, for messages
  if (has_from) {
    start = absl::StrCat("offset ", from);
  } else if (has_from_time) {
    absl::StatusOr<uint64_t> found =
        FindOffsetForTime(fs, dir, *range, from_time_us);
    if (!found.ok()) return InspectionFailure(found.status(), dir);
    from = *found;
    start = absl::StrCat(FormatTimestamp(from_time_us), " (", from_time_us,
                         " us)");
  } else {
    from = range->next - range->first > kDefaultTailRecords
               ? range->next - kDefaultTailRecords
               : range->first;
  }
  // A start past the last record is "not found" whichever way it was given
  // (--follow waits for it instead).
  if (!start.empty() && from >= range->next && !follow) {
    PrintError(absl::StrCat(
        dir, ": no record at or after ", start, "; ",
        range->empty()  ? std::string("the log is empty")
        : has_from_time ? std::string("every record is older")
                        : absl::StrCat("the log holds offsets [", range->first,
                                       ", ", range->next, ")")));
    return kExitNotFound;
  }
  uint64_t next = from;
  uint64_t printed = 0;
  absl::Status s = PrintRecordsFrom(fs, dir, json, from_time_us,
                                    /*skip_seen=*/false, &next, &printed);
  if (!s.ok()) {
    std::fflush(stdout);
    return FinishOutput(InspectionFailure(s, dir));
  }
  if (!follow) return FinishOutput(kExitOk);

  // Follow: poll for records after the last one printed, flushing each batch
  // so that a pipe sees them at once. A failed poll is retried once: a
  // writer's truncation may remove a file between listing and reading it.
  absl::Time last_record = absl::Now();
  int failures = 0;
  while (true) {
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
      return FinishOutput(kExitOk);  // reports the write error
    }
    absl::Duration wait = kFollowPollInterval;
    if (max_wait.has_value()) {
      const absl::Duration left = last_record + *max_wait - absl::Now();
      if (left <= absl::ZeroDuration()) return FinishOutput(kExitOk);
      wait = std::min(wait, left);
    }
    absl::SleepFor(wait);
    printed = 0;
    s = PrintRecordsFrom(fs, dir, json, from_time_us, /*skip_seen=*/true, &next,
                         &printed);
    if (printed > 0) last_record = absl::Now();
    if (s.ok()) {
      failures = 0;
    } else if (++failures >= 2) {
      std::fflush(stdout);
      return FinishOutput(InspectionFailure(s, dir));
    }
  }
}

// ---- the subcommand table ----

constexpr Subcommand kSubcommands[] = {
    {"dump", "print every record and every problem of a log file or directory",
     R"help(usage: walctl dump [--json] FILE
       walctl dump [--json] DIR

FILE: reads any block-format log (a blockwal store, a LevelDB or RocksDB
.log file) and prints every logical record and every damaged region the
reader skips.
  Default output: a table of records (position of the first header, fragment
  layout, payload length, payload preview) and a summary line on stdout;
  damage as "corruption at position P: N bytes dropped (REASON)" on stderr.
  --json: stdout {"index":N,"position":P,"length":L,"payload_hex":"..."}
          stderr {"position":P,"dropped_bytes":N,"reason":"..."}

DIR: reads every segment of a blockwal log directory in offset order, without
locking or changing it, and prints every record (offset, append time, segment
store file, position, value length, value preview) and a summary line on
stdout; then every problem 'walctl verify' would report on stderr, as
"FILE at position P: PROBLEM".
  --json: stdout {"offset":O,"timestamp_us":T,"segment":"<base>.store",
                  "position":P,"length":L,"payload_hex":"..."}
          stderr {"file":"...","position":P,"problem":"..."}
  (LENGTH and payload_hex are the record's value, without its envelope.)

  --json   one JSON object per line, as above
  --help   print this help

Damage or problems reported (every readable record is still printed), or a
non-empty FILE in which no record was found, exit 3; a FILE or DIR that
cannot be opened, or a read that fails, exit 4.
)help",
     RunDump},
    {"verify", "check every segment of a log directory",
     R"help(usage: walctl verify [--json] DIR

Reads every segment of the log in DIR without locking or changing it and
checks: every record's checksums and envelope, that offsets are contiguous
within and across segments, that every index entry points at the record it
names, that the log does not end in a torn write or an incomplete batch.
Prints each problem as "FILE at position P: PROBLEM" and a summary line
"N segments, R records, P problems". A log that crashed usually shows a torn
tail or an index behind its store: Log::Open (or 'walctl repair') fixes them.
Run it on a closed log: with a writer active, its unflushed records can
look like problems.

  --json   one line per problem, {"file":"...","position":P,"problem":"..."},
           then {"segments":N,"records":R,"problems":P}
  --help   print this help

Problems found exit 3; a DIR that cannot be opened, or a read that fails,
exit 4.
)help",
     RunVerify},
    {"stat", "summarize a log directory",
     R"help(usage: walctl stat DIR

Reads the log in DIR without locking or changing it and prints one line per
segment (base offset, records, store bytes, index bytes, and "sealed" or
"active"), then the offset range ("offsets: [FIRST, NEXT)", half-open: NEXT
is the offset the next append gets; or "offsets: empty"), the record count, the total store and index bytes, the time of the
last append (UTC, ISO 8601), any files that do not belong to the log, and the
number of problems when there are any.

  --help   print this help

Problems found ('walctl verify DIR' lists them) exit 3; a DIR that cannot
be opened, or a read that fails, exit 4.
)help",
     RunStat},
    {"repair", "back up a damaged log and recover it in place",
     R"help(usage: walctl repair [--force] DIR

Holds the log's LOCK throughout. Copies every file of DIR into a new
directory beside it, DIR.repair-backup-<UTC time> (with -2, -3, ... when
taken), and prints "backup: PATH". Then removes the indexes that must be
rebuilt (one that verify finds wrong while its store is fine; without
--force, also the index of a damaged store, so that recovery reads that store
in full) and opens the log as a writer would, in recovery mode
point-in-time: indexes are rebuilt from the stores, a damaged or torn tail
that no synced record follows and an incomplete batch at the end are cut.
Damage that synced records follow, or in a sealed segment, is not cut (that
would lose acknowledged data): recovery refuses, the removed indexes are put
back and no store is changed. Then closes the log cleanly, counts the
records kept, skipped (they read as data loss) and cut, and verifies the
result as 'walctl verify' does.

Prints what recovery did and the counts, then "result: repaired; the log
verifies clean", or "result: N problems remain" with each problem that
remains, and why, on standard error.

  --force  use recovery mode skip-any-corrupted-records instead: damaged
           records are skipped; their offsets stay taken and read as data
           loss, so verify keeps reporting them and the repair exits 3
           naming them. Indexes of damaged stores are kept, so intact records
           beside the damage stay readable.
  --help   print this help

Exits 0 only when the log verifies clean; 3 when recovery refused for damage
or problems remain (listed); 4 when DIR cannot be opened, the log is in use
or a step failed (the backup, an I/O error).
)help",
     RunRepair},
    {"append", "append one record per line of standard input",
     R"help(usage: walctl append [--sync] DIR

Opens the log in DIR (creating it if missing; recovering it as a writer
does) and appends each line of standard input, without its newline, as one
record. Prints each record's offset on its own line as soon as it is
appended.

  --sync   make each record durable (Log::Sync) before printing its offset
  --help   print this help

Exits 0 when every line was appended and the log closed cleanly; 3 when
recovery refuses damage in the log ('walctl verify', 'walctl repair'); 4
when the log cannot be opened (in use, not a directory, a missing parent
directory) or an append, a sync or the close failed (a full disk included).
)help",
     RunAppend},
    {"read", "write one record's value to standard output",
     R"help(usage: walctl read DIR OFFSET

Writes the value of the record at OFFSET, byte for byte (no newline added),
to standard output. Reads without locking or changing the log.

  --help   print this help

OFFSET outside the log's offsets (the message names them, as [FIRST, NEXT))
exits 1; a damaged record 3; a DIR that cannot be opened, or a read that
fails, 4.
)help",
     RunRead},
    {"tail", "print the newest records of a log directory",
     R"help(usage: walctl tail [--from OFFSET | --from-time TIME] [--json]
                   [--follow [--max-wait-ms N]] DIR

Prints the last 10 records of the log in DIR, or every record from OFFSET or
TIME on, one per line: the offset, a tab, and the value with non-printable
bytes escaped (\n, \t, \r, \\, \", \', \xNN). Reads without locking or changing the
log, so it works while a writer has the log open.

  --from OFFSET     start at OFFSET instead of 10 records before the end
  --from-time TIME  start at the first record appended at or after TIME:
                    microseconds since the Unix epoch, or an ISO-8601 time
                    such as 2023-11-14T22:13:20Z, 2023-11-14T22:13:20.5Z or
                    2023-11-14T23:13:20+01:00 (UTC when no zone is given)
  --json            print records as 'walctl dump --json DIR' does
  --follow          after printing, look for new records every 100 ms and
                    print them as they appear (as they reach the files: a
                    writer's buffered records show up once it flushes or
                    syncs). Runs until killed (e.g. Ctrl-C)
  --max-wait-ms N   with --follow: exit 0 once N ms pass without a new record
  --help            print this help

Without --follow (which waits for one), no record at or after OFFSET or
TIME prints nothing on standard output, says so on standard error and exits
1, whichever flag asked. Damage found (the records around it are still
printed) exits 3; a DIR that cannot be opened, or a read that fails, 4.
)help",
     RunTail},
};

std::string TopLevelUsage() {
  std::string usage = absl::StrCat(
      "usage: ", kProgram, " SUBCOMMAND [FLAGS] ARGS...\n\n",
      "Inspects, verifies and repairs blockwal log directories; dumps any "
      "block-format\n(LevelDB, RocksDB) log file.\n\nsubcommands:\n");
  for (const Subcommand& sub : kSubcommands) {
    absl::StrAppend(&usage, absl::StrFormat("  %-8s %s\n", sub.name, sub.summary));
  }
  absl::StrAppend(&usage, absl::StrFormat(
      "  %-8s %s\n", "help", "print this help; 'help SUBCOMMAND' for one"));
  absl::StrAppend(&usage, "\nRun '", kProgram,
                  " SUBCOMMAND --help' for a subcommand's flags.\n\n",
                  kExitStatusHelp);
  return usage;
}

const Subcommand* FindSubcommand(absl::string_view name) {
  for (const Subcommand& sub : kSubcommands) {
    if (sub.name == name) return &sub;
  }
  return nullptr;
}

int Main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return TopLevelUsageError("missing subcommand");
  const std::string& first = args[0];
  if (first == "--help" || first == "-h" || first == "help") {
    // `walctl help dump` is the same as `walctl dump --help`.
    if (first == "help" && args.size() > 1) {
      const Subcommand* sub = FindSubcommand(args[1]);
      if (sub == nullptr) {
        return TopLevelUsageError(
            absl::StrCat("unknown subcommand '", args[1], "'"));
      }
      return PrintHelp(*sub);
    }
    Write(stdout, TopLevelUsage());
    return FinishOutput(kExitOk);
  }
  if (absl::StartsWith(first, "-")) {
    return TopLevelUsageError(absl::StrCat("unknown flag '", first, "'"));
  }
  const Subcommand* sub = FindSubcommand(first);
  if (sub == nullptr) {
    return TopLevelUsageError(absl::StrCat("unknown subcommand '", first, "'"));
  }
  return sub->run(*sub, absl::MakeConstSpan(args).subspan(1));
}

}  // namespace
}  // namespace blockwal::tools

int main(int argc, char** argv) { return blockwal::tools::Main(argc, argv); }
