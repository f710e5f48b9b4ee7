// walctl dump: every record and every problem of a block-format log file
// (the records a BlockReader returns and the damage it skips) or of a blockwal
// log directory (through wal/log_inspector.h).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "tools/cli.h"
#include "tools/display.h"
#include "tools/json_util.h"
#include "tools/walctl/args.h"
#include "tools/walctl/output.h"
#include "tools/walctl/subcommands.h"
#include "blockwal/util/file_system.h"
#include "blockwal/wal/block_reader.h"
#include "blockwal/wal/log_inspector.h"

namespace blockwal::tools::walctl {
namespace {

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

  void Damage(uint64_t position, uint64_t bytes, wal::ProblemKind kind,
              absl::string_view reason) final {
    ++totals_.corruptions;
    totals_.dropped_bytes += bytes;
    PrintCorruption(position, bytes, kind, reason);
  }

  virtual void Begin() {}
  virtual void End() {}
  const Totals& totals() const { return totals_; }

 protected:
  virtual void PrintRecord(uint64_t index, uint64_t position,
                           absl::string_view payload) = 0;
  virtual void PrintCorruption(uint64_t position, uint64_t bytes,
                               wal::ProblemKind kind,
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
                       wal::ProblemKind kind,
                       absl::string_view reason) override {
    Write(stderr,
          absl::StrCat("{\"position\":", position, ",\"dropped_bytes\":", bytes,
                       ",\"kind\":\"", wal::ProblemKindName(kind),
                       "\",\"reason\":", JsonQuote(reason), "}\n"));
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
                       wal::ProblemKind /*kind*/,
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
    PrintError(
        absl::StrCat("cannot open ", MessageNaming(file.status(), path)));
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
  uint64_t value_bytes = 0;
  wal::InspectOptions options;
  if (!json) {
    Write(stdout,
          absl::StrFormat("%12s  %-27s  %-26s  %12s  %10s  %s\n", "OFFSET",
                          "TIME", "SEGMENT", "POSITION", "LENGTH", "VALUE"));
  }
  options.on_record = [&](const wal::RecordLocation& loc,
                          const wal::Record& r) {
    value_bytes += r.value.size();
    if (json) {
      Write(stdout, RecordJson(loc, r));
    } else {
      Write(stdout,
            absl::StrFormat("%12d  %-27s  %-26s  %12d  %10d  %s\n", r.offset,
                            FormatTimestamp(r.timestamp_us), loc.store_name,
                            loc.position, loc.length, PayloadPreview(r.value)));
    }
  };
  // The table goes to stdout; a progress line on the same terminal would
  // mangle it.
  absl::StatusOr<wal::LogInspection> inspection = InspectShowingProgress(
      dir, "reading", /*show_progress=*/isatty(STDOUT_FILENO) != 1, options);
  if (!inspection.ok()) {
    std::fflush(stdout);
    return InspectionFailure(inspection.status(), dir);
  }
  const uint64_t problems = inspection->problems.size();
  if (!json) {
    Write(stdout,
          absl::StrCat(inspection->records,
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

}  // namespace

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

}  // namespace blockwal::tools::walctl
