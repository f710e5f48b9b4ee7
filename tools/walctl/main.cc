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
// summary, its help text and a Run function (subcommands.h; each in its own
// file, dump.cc, verify.cc, ...) that gets the arguments after its name.
// Flags differ per subcommand, so each parses its own argv with ParseArgs
// (args.h: hand parsing, since absl flags are process-global and would make
// every subcommand accept every other subcommand's flags).
//
// Everything but repair and append is read-only and takes no lock (through
// wal/log_inspector.h), so it works on a log another process has open; the
// answer then describes one moment of it.
//
// Exit status: every subcommand follows the table in tools/cli.h
// (kExitStatusHelp, which each --help prints; README.md, "Exit status").
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "tools/cli.h"
#include "tools/walctl/args.h"
#include "tools/walctl/output.h"
#include "tools/walctl/subcommands.h"

namespace blockwal::tools::walctl {
namespace {

// Prints "walctl: <message>" and a hint to the top-level help on stderr.
int TopLevelUsageError(absl::string_view message) {
  return PrintUsageError(kProgram, message, absl::StrCat(kProgram, " --help"));
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
          stderr {"position":P,"dropped_bytes":N,"kind":"K","reason":"..."}

DIR: reads every segment of a blockwal log directory in offset order, without
locking or changing it, and prints every record (offset, append time, segment
store file, position, value length, value preview) and a summary line on
stdout; then every problem 'walctl verify' would report on stderr, as
"FILE at position P: PROBLEM".
  --json: stdout {"offset":O,"timestamp_us":T,"segment":"<base>.store",
                  "position":P,"length":L,"payload_hex":"..."}
          stderr {"file":"...","position":P,"kind":"K","problem":"..."}
  (LENGTH and payload_hex are the record's value, without its envelope;
  K names the kind of problem, e.g. ChecksumMismatch, TornTail.)

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

  --json   one line per problem,
           {"file":"...","position":P,"kind":"K","problem":"..."} (K names
           the kind: ChecksumMismatch, TornTail, IndexBehind, ...), then
           {"segments":N,"records":R,"problems":P}
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
    absl::StrAppend(&usage,
                    absl::StrFormat("  %-8s %s\n", sub.name, sub.summary));
  }
  absl::StrAppend(
      &usage, absl::StrFormat("  %-8s %s\n", "help",
                              "print this help; 'help SUBCOMMAND' for one"));
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
}  // namespace blockwal::tools::walctl

int main(int argc, char** argv) {
  return blockwal::tools::walctl::Main(argc, argv);
}
