// kv: a command-line client of blockwal's toy key-value store (db/db.h).
//
//   kv [FLAGS] COMMAND [ARGS]     (kv --help, kv help COMMAND)
//
// Commands: get, put, del, scan, checkpoint, stats, recover, repair, shell,
// client (tools/kv_client.h: it talks to `kv serve` servers) and serve
// (tools/kv_serve.h: one server of a replicated store); these two take none
// of the flags below; each is one entry of the table in
// tools/kv_commands.cc (its arguments and help).
//
// Flags (--dir, --no-sync, --hex, --recovery-mode, and repair's --force)
// may stand before or after the command; "--" ends them. After the command,
// an argument that starts with "--" (or is "-h") is a flag, never a key
// or a value: `kv put --dir X` is a usage error, not a key named "--dir"
// (write `kv put -- --dir X` for that). Other arguments may start with '-'
// (`kv put t -5`).
//
// get, scan and stats open the store read-only (db::Options::read_only):
// they change nothing, take no lock (so they work while another kv has the
// store open) and fail on a directory that holds no store. Every warning of
// the open (a torn tail cut, or left alone by a read-only open) goes to
// stderr as "kv: warning: ...", so nothing is ever cut silently.
//
// Exit status: the table in tools/cli.h (kExitStatusHelp; README.md, "Exit
// status"), shared with walctl: get of an absent key is 1, a store that
// cannot be opened 4. Errors go to stderr as "kv: <cause>".
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "blockwal/db/db.h"
#include "blockwal/db/repair.h"
#include "tools/cli.h"
#include "tools/kv_client.h"
#include "tools/kv_serve.h"
#include "tools/kv_commands.h"
#include "tools/kv_shell.h"

namespace blockwal::tools::kv {
namespace {

constexpr absl::string_view kProgram = "kv";
constexpr char kDefaultDir[] = "./blockwal-kv";

struct Flags {
  std::string dir = kDefaultDir;
  bool sync = true;
  bool hex = false;
  bool force = false;
  wal::RecoveryMode recovery_mode = wal::RecoveryMode::kPointInTime;
};

// The recovery mode named as RecoveryModeName prints it.
std::optional<wal::RecoveryMode> ParseRecoveryMode(absl::string_view name) {
  for (wal::RecoveryMode mode :
       {wal::RecoveryMode::kTolerateCorruptedTailRecords,
        wal::RecoveryMode::kAbsoluteConsistency,
        wal::RecoveryMode::kPointInTime,
        wal::RecoveryMode::kSkipAnyCorruptedRecords}) {
    if (name == wal::RecoveryModeName(mode)) return mode;
  }
  return std::nullopt;
}

void PrintError(absl::string_view message) {
  tools::PrintError(kProgram, message);
}

// "kv: MESSAGE" and a hint to the help of `command` (or of kv, when null).
int UsageError(const Command* command, absl::string_view message) {
  if (command == nullptr) {
    return PrintUsageError(kProgram, message, "kv --help");
  }
  return PrintUsageError(kProgram, absl::StrCat(command->name, ": ", message),
                         absl::StrCat("kv ", command->name, " --help"));
}

// Writes text to stdout and flushes it, so each answer reaches a reader
// (a pipe) at once.
bool Answer(absl::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  return FlushStandardOutput();
}

// Prints that stdout could not be written; returns kExitFailed.
int OutputFailed() { return PrintOutputError(kProgram); }

absl::StatusOr<std::unique_ptr<db::DB>> OpenStore(const Flags& flags,
                                                  bool read_only) {
  db::Options options;
  options.sync = flags.sync;
  options.recovery_mode = flags.recovery_mode;
  options.read_only = read_only;
  options.warning_sink = [](const std::string& w) {
    PrintError(absl::StrCat("warning: ", w));
  };
  return db::DB::Open(flags.dir, options);
}

// One figure of db::Stats, named as `kv stats` prints it ("NAME: VALUE",
// one a line) and as the shell's `stats` does (NAME=VALUE, all on one
// line). An empty name leaves the figure out of that form: the WAL's offsets
// are one figure, "[FIRST, NEXT)", in the first and two in the second.
struct StatsFigure {
  absl::string_view line_name;
  absl::string_view pair_name;
  std::string value;
};

std::vector<StatsFigure> StatsFigures(const db::Stats& s) {
  return {
      {"keys", "keys", absl::StrCat(s.keys)},
      {"checkpoint keys", "checkpoint_keys", absl::StrCat(s.checkpoint_keys)},
      {"memtable entries", "memtable_entries",
       absl::StrCat(s.memtable_entries)},
      {"memtable bytes", "memtable_bytes", absl::StrCat(s.approximate_bytes)},
      {"wal offsets", "",
       absl::StrCat("[", s.wal_first_offset, ", ", s.wal_next_offset, ")")},
      {"", "wal_first", absl::StrCat(s.wal_first_offset)},
      {"", "wal_next", absl::StrCat(s.wal_next_offset)},
      {"wal segments", "wal_segments", absl::StrCat(s.wal_segments)},
      {"wal bytes since checkpoint", "wal_bytes_since_checkpoint",
       absl::StrCat(s.wal_bytes_since_checkpoint)},
      {"checkpoint", "checkpoint",
       s.last_checkpoint.empty() ? "none" : s.last_checkpoint},
  };
}

// `kv stats`: one "NAME: VALUE" line per figure.
std::string StatsLines(const db::Stats& s) {
  std::string out;
  for (const StatsFigure& f : StatsFigures(s)) {
    if (!f.line_name.empty()) {
      absl::StrAppend(&out, f.line_name, ": ", f.value, "\n");
    }
  }
  return out;
}

// The shell's `stats`: NAME=VALUE pairs on one line.
std::string StatsLine(const db::Stats& s) {
  std::vector<std::string> pairs;
  for (const StatsFigure& f : StatsFigures(s)) {
    if (!f.pair_name.empty()) {
      pairs.push_back(absl::StrCat(f.pair_name, "=", f.value));
    }
  }
  return absl::StrCat(absl::StrJoin(pairs, " "), "\n");
}

// Keys and values as given on the command line / shell line: bytes, or hex.
absl::StatusOr<std::string> DecodeArg(const Flags& flags, absl::string_view arg,
                                      absl::string_view what) {
  return DecodeKvArg(flags.hex, arg, what);
}

std::string EncodeOut(const Flags& flags, absl::string_view bytes) {
  return EncodeKvOut(flags.hex, bytes);
}

// What get prints for a value: the value and a newline.
std::string ValueLine(const Flags& flags, absl::string_view value) {
  return absl::StrCat(EncodeOut(flags, value), "\n");
}

// What scan prints for its pairs: key<TAB>value lines.
std::string ScanLines(const Flags& flags,
                      const std::vector<db::KeyValue>& pairs) {
  std::string out;
  for (const auto& [k, v] : pairs) {
    absl::StrAppend(&out, EncodeOut(flags, k), "\t", EncodeOut(flags, v),
                    "\n");
  }
  return out;
}

// ---- shell ----

// Runs one shell line (grammar: tools/kv_shell.h); returns the answer (one
// or more lines, each ending in '\n'), or nullopt for a blank line.
std::optional<std::string> RunShellLine(const Flags& flags, db::DB& store,
                                        absl::string_view line) {
  auto err = [](absl::string_view message) {
    return absl::StrCat("ERR ", message, "\n");
  };
  absl::StatusOr<std::vector<ShellWord>> words = SplitShellLine(line);
  if (!words.ok()) return err(words.status().message());
  if (words->empty()) return std::nullopt;
  const std::string& command = (*words)[0].text;
  const size_t args = words->size() - 1;
  auto arg = [&](size_t i, absl::string_view what) {
    return DecodeArg(flags, (*words)[i + 1].text, what);
  };

  if (command == "get" || command == "del") {
    if (args != 1) return err(absl::StrCat("usage: ", command, " KEY"));
    absl::StatusOr<std::string> key = arg(0, "key");
    if (!key.ok()) return err(key.status().message());
    if (command == "del") {
      absl::Status s = store.Delete(*key);
      return s.ok() ? std::string("OK\n") : err(s.message());
    }
    absl::StatusOr<std::string> value = store.Get(*key);
    if (value.ok()) return ValueLine(flags, *value);
    if (value.status().code() == absl::StatusCode::kNotFound) {
      return std::string("NOT_FOUND\n");
    }
    return err(value.status().message());
  }
  if (command == "put") {
    if (args < 2) return err("usage: put KEY VALUE");
    absl::StatusOr<std::string> key = arg(0, "key");
    if (!key.ok()) return err(key.status().message());
    // VALUE: the rest of the line from its first word, spaces kept.
    absl::StatusOr<std::string> rest = ShellRest(line, *words, 2);
    if (!rest.ok()) return err(rest.status().message());
    absl::StatusOr<std::string> value = DecodeArg(flags, *rest, "value");
    if (!value.ok()) return err(value.status().message());
    absl::Status s = store.Put(*key, *value);
    return s.ok() ? std::string("OK\n") : err(s.message());
  }
  if (command == "scan") {
    if (args > 1) return err("usage: scan [PREFIX]");
    absl::StatusOr<std::string> prefix =
        args == 1 ? arg(0, "prefix") : absl::StatusOr<std::string>("");
    if (!prefix.ok()) return err(prefix.status().message());
    absl::StatusOr<std::vector<db::KeyValue>> pairs = store.ScanPrefix(*prefix);
    if (!pairs.ok()) return err(pairs.status().message());
    return absl::StrCat(ScanLines(flags, *pairs), "END\n");
  }
  if (command == "checkpoint") {
    if (args != 0) return err("usage: checkpoint");
    absl::StatusOr<db::CheckpointInfo> info = store.Checkpoint();
    return info.ok() ? std::string("OK\n") : err(info.status().message());
  }
  if (command == "stats") {
    if (args != 0) return err("usage: stats");
    absl::StatusOr<db::Stats> stats = store.GetStats();
    return stats.ok() ? StatsLine(*stats) : err(stats.status().message());
  }
  return err(absl::StrCat("unknown command '", command,
                          "' (commands: get put del scan checkpoint stats "
                          "quit)"));
}

int RunShell(const Flags& flags, db::DB& store) {
  return RunShellLoop(kProgram, [&](absl::string_view line) {
    return RunShellLine(flags, store, line);
  });
}

// ---- one-shot commands ----

// Prints the error (its message: it names the file and the cause) and
// returns its exit status.
int Fail(const absl::Status& s) {
  PrintError(s.message());
  return ExitStatusFor(s);
}

int RunRepair(const Flags& flags) {
  db::RepairOptions options;
  options.force = flags.force;
  absl::StatusOr<db::RepairReport> report =
      db::RepairStore(flags.dir, options);
  if (!report.ok()) return Fail(report.status());
  if (!Answer(report->ToString())) return OutputFailed();
  return kExitOk;
}

// Runs `command` on its decoded arguments against an open store; returns
// the exit status and sets *out to what goes to stdout.
int RunOnStore(const Flags& flags, const Command& command,
               const std::vector<std::string>& args, db::DB& store,
               std::string* out) {
  const absl::string_view name = command.name;
  if (name == "get") {
    absl::StatusOr<std::string> value = store.Get(args[0]);
    if (value.ok()) {
      *out = ValueLine(flags, *value);
      return kExitOk;
    }
    if (value.status().code() == absl::StatusCode::kNotFound) {
      *out = "NOT_FOUND\n";
      return kExitNotFound;
    }
    return Fail(value.status());
  }
  if (name == "put" || name == "del") {
    absl::Status s =
        name == "put" ? store.Put(args[0], args[1]) : store.Delete(args[0]);
    if (!s.ok()) return Fail(s);
    *out = "OK\n";
    return kExitOk;
  }
  if (name == "scan") {
    absl::StatusOr<std::vector<db::KeyValue>> pairs =
        store.ScanPrefix(args.empty() ? "" : args[0]);
    if (!pairs.ok()) return Fail(pairs.status());
    *out = ScanLines(flags, *pairs);
    return kExitOk;
  }
  if (name == "checkpoint") {
    absl::StatusOr<db::CheckpointInfo> info = store.Checkpoint();
    if (!info.ok()) return Fail(info.status());
    *out = absl::StrFormat(
        "OK %s (covers WAL offsets below %u, %u keys, %u bytes)\n", info->path,
        info->wal_offset, info->keys, info->bytes);
    return kExitOk;
  }
  if (name == "stats") {
    absl::StatusOr<db::Stats> stats = store.GetStats();
    if (!stats.ok()) return Fail(stats.status());
    *out = StatsLines(*stats);
    return kExitOk;
  }
  if (name == "recover") {
    *out = store.recovery_report().ToString();
    return kExitOk;
  }
  return RunShell(flags, store);  // shell
}

int RunCommand(const Flags& flags, const Command& command,
               absl::Span<const std::string> args) {
  if (flags.force && !command.takes_force) {
    return UsageError(&command, "unknown flag '--force'");
  }
  if (args.size() < command.min_args) {
    return UsageError(&command,
                      absl::StrCat("missing ", command.args[args.size()]));
  }
  if (args.size() > command.max_args) {
    return UsageError(&command, absl::StrCat("unexpected argument '",
                                             args[command.max_args], "'"));
  }
  std::vector<std::string> decoded;
  for (size_t i = 0; i < args.size(); ++i) {
    absl::StatusOr<std::string> d =
        DecodeArg(flags, args[i], i == 1 ? "value" : "key");
    if (!d.ok()) return UsageError(&command, d.status().message());
    decoded.push_back(*std::move(d));
  }
  // Checked here, before the store is opened, so that a file or a missing
  // parent is named as walctl names it, and nothing is created.
  if (std::optional<std::string> why = CheckDirectoryArgument(
          flags.dir, /*create=*/!command.read_only && command.name != "repair")) {
    PrintError(*why);
    return kExitFailed;
  }
  if (command.name == "repair") return RunRepair(flags);

  absl::StatusOr<std::unique_ptr<db::DB>> opened =
      OpenStore(flags, command.read_only);
  if (!opened.ok()) return Fail(opened.status());
  db::DB& store = **opened;
  std::string out;
  int code = RunOnStore(flags, command, decoded, store, &out);
  if (!out.empty() && !Answer(out)) code = Worse(code, OutputFailed());
  absl::Status closed = store.Close();
  if (!closed.ok()) {
    PrintError(closed.message());
    code = Worse(code, kExitFailed);
  }
  return code;
}

// The command line: flags anywhere before "--", the command, its
// arguments. The first mistake found is kept and reported once the command
// is known, so that its hint names that command's help.
struct CommandLine {
  Flags flags;
  bool help = false;
  std::string command;
  std::vector<std::string> args;
  std::string error;  // a usage error, or empty
};

// `args` are the arguments after the program's name.
CommandLine ParseCommandLine(absl::Span<const std::string> args) {
  CommandLine cl;
  auto fail = [&](std::string message) {
    if (cl.error.empty()) cl.error = std::move(message);
  };
  bool options_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const absl::string_view arg = args[i];
    const bool no_command = cl.command.empty();
    const bool is_flag =
        !options_done && (absl::StartsWith(arg, "--") || arg == "-h" ||
                          (no_command && arg.size() > 1 && arg[0] == '-'));
    if (!is_flag) {
      if (no_command) {
        cl.command = std::string(arg);
      } else {
        cl.args.emplace_back(arg);
      }
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    // --name or --name=value.
    FlagArg flag = SplitFlagArg(arg);
    const absl::string_view name = flag.name;
    const bool takes_value = name == "--dir" || name == "--recovery-mode";
    if (const absl::Status s =
            TakeFlagValue(name, takes_value, args, &i, &flag.value);
        !s.ok()) {
      fail(std::string(s.message()));
      continue;
    }
    const std::optional<std::string>& value = flag.value;
    if (name == "--help" || name == "-h") {
      cl.help = true;
    } else if (name == "--no-sync") {
      cl.flags.sync = false;
    } else if (name == "--hex") {
      cl.flags.hex = true;
    } else if (name == "--force") {
      cl.flags.force = true;
    } else if (name == "--dir") {
      if (value->empty()) fail("--dir must not be empty");
      cl.flags.dir = *value;
    } else if (name == "--recovery-mode") {
      std::optional<wal::RecoveryMode> mode = ParseRecoveryMode(*value);
      if (!mode.has_value()) {
        fail(absl::StrCat(
            "unknown recovery mode '", *value,
            "' (one of point-in-time, tolerate-corrupted-tail-records, "
            "absolute-consistency, skip-any-corrupted-records)"));
      } else {
        cl.flags.recovery_mode = *mode;
      }
    } else {
      fail(absl::StrCat("unknown flag '", name, "'"));
    }
  }
  return cl;
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const CommandLine cl = ParseCommandLine(args);
  if (cl.command == "client") {  // its own flags (tools/kv_client.h)
    args.erase(std::find(args.begin(), args.end(), "client"));
    return RunClient(args);
  }
  if (cl.command == "serve" && !cl.help) {  // its own flags (kv_serve.h)
    args.erase(std::find(args.begin(), args.end(), "serve"));
    return RunServe(args);
  }
  // `kv help [COMMAND]` is `kv [COMMAND] --help`.
  const bool help = cl.help || cl.command == "help";
  std::string named = cl.command;
  if (cl.command == "help") named = cl.args.empty() ? "" : cl.args[0];
  const Command* command = named.empty() ? nullptr : FindCommand(named);
  if (!named.empty() && command == nullptr) {
    return UsageError(nullptr, absl::StrCat("unknown command '", named, "'"));
  }
  if (!cl.error.empty()) return UsageError(command, cl.error);
  if (help) {
    if (cl.command == "help" && cl.args.size() > 1) {
      return UsageError(nullptr, absl::StrCat("help: unexpected argument '",
                                              cl.args[1], "'"));
    }
    if (!Answer(command == nullptr ? TopLevelHelp() : CommandHelp(*command))) {
      return OutputFailed();
    }
    return kExitOk;
  }
  if (command == nullptr) return UsageError(nullptr, "no command given");
  return RunCommand(cl.flags, *command, cl.args);
}

}  // namespace
}  // namespace blockwal::tools::kv

int main(int argc, char** argv) {
  return blockwal::tools::kv::Main(argc, argv);
}
