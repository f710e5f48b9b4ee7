// kv: a command-line client of blockwal's toy key-value store (db/db.h).
//
//   kv [--dir DIR] [--no-sync] [--hex] [--recovery-mode MODE] COMMAND [ARGS]
//
// Commands:
//   get KEY          prints the value; NOT_FOUND (exit 1) when absent
//   put KEY VALUE    prints OK once the write is durable (with sync on)
//   del KEY          prints OK (also when the key was absent)
//   scan [PREFIX]    prints "key<TAB>value" per key, in key order
//   checkpoint       writes a checkpoint and drops the WAL it covers
//   stats            key count, WAL range and size, checkpoint
//   recover          opens the store and prints the recovery report
//   repair [--force] backs the store up beside DIR, recovers it in place
//                    (point-in-time; --force: skipping damaged records) and
//                    prints exactly what was lost (db/repair.h)
//   shell            one command per stdin line (see kShellHelp)
//
// get, scan and stats open the store read-only (db::Options::read_only):
// they change nothing, take no lock (so they work while another kv has the
// store open) and fail on a directory that holds no store. Every warning of
// the open (a torn tail cut, or left alone by a read-only open) goes to
// stderr as "kv: warning: ...", so nothing is ever cut silently.
//
// Exit status: 0 success; 1 the command failed (including get of a missing
// key, and a store that cannot be opened); 2 usage error. Errors go to stderr
// as "kv: <cause>".
#include <cerrno>
#include <cstdio>
#include <cstring>
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
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "blockwal/db/db.h"
#include "blockwal/db/repair.h"

namespace blockwal::tools {
namespace {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,
  kExitUsage = 2,
};

constexpr char kDefaultDir[] = "./blockwal-kv";

constexpr char kUsage[] =
    "usage: kv [--dir DIR] [--no-sync] [--hex] [--recovery-mode MODE] "
    "COMMAND [ARGS]\n"
    "\n"
    "A key-value store on a blockwal write-ahead log (DIR, default "
    "./blockwal-kv).\n"
    "\n"
    "commands (get, scan and stats open the store read-only: they change\n"
    "nothing and work while another process has the store open):\n"
    "  get KEY         print the value (NOT_FOUND and exit 1 when absent)\n"
    "  put KEY VALUE   store a value; prints OK once it is durable\n"
    "  del KEY         delete a key; prints OK\n"
    "  scan [PREFIX]   print key<TAB>value for every key (with PREFIX)\n"
    "  checkpoint      write a checkpoint and drop the WAL it covers\n"
    "  stats           print key count, WAL range and checkpoint\n"
    "  recover         open the store and print the recovery report\n"
    "  repair [--force]\n"
    "                  back the store up (beside DIR), rebuild it from what\n"
    "                  is readable and print exactly what was lost; without\n"
    "                  --force, damage followed by synced writes is refused\n"
    "  shell           read commands from stdin, one per line; answers\n"
    "                  OK, the value, NOT_FOUND or ERR <message> (scan:\n"
    "                  its lines, then END); 'quit' or end of input stops\n"
    "\n"
    "flags:\n"
    "  --dir DIR       the store's directory (created when missing)\n"
    "  --no-sync       do not fdatasync each write (a power loss may lose\n"
    "                  the latest writes; a process crash cannot)\n"
    "  --hex           keys and values are hex, in arguments and output\n"
    "  --recovery-mode MODE\n"
    "                  how opening treats damage: point-in-time (default),\n"
    "                  tolerate-corrupted-tail-records, absolute-consistency\n"
    "                  or skip-any-corrupted-records (docs/recovery.md)\n"
    "  --help          this text\n"
    "\n"
    "exit status: 0 ok, 1 command failed (or key not found), 2 usage\n";

struct Flags {
  std::string dir = kDefaultDir;
  bool sync = true;
  bool hex = false;
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
  std::fprintf(stderr, "kv: %.*s\n", static_cast<int>(message.size()),
               message.data());
}

int UsageError(absl::string_view message) {
  PrintError(message);
  std::fputs("run 'kv --help' for usage\n", stderr);
  return kExitUsage;
}

// Writes text to stdout and flushes it, so each answer reaches a reader
// (a pipe) at once.
bool Answer(absl::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  return std::fflush(stdout) == 0 && !std::ferror(stdout);
}

// Keys and values as given on the command line / shell line: bytes, or hex.
absl::StatusOr<std::string> DecodeArg(const Flags& flags, absl::string_view arg,
                                      absl::string_view what) {
  if (!flags.hex) return std::string(arg);
  if (arg.size() % 2 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " '", arg, "' is not hex: odd number of digits"));
  }
  for (char c : arg) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " '", arg, "' is not hex: bad digit '", std::string(1, c), "'"));
    }
  }
  return absl::HexStringToBytes(arg);
}

std::string EncodeOut(const Flags& flags, absl::string_view bytes) {
  return flags.hex ? absl::BytesToHexString(bytes) : std::string(bytes);
}

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

std::string StatsLines(const db::Stats& s) {
  return absl::StrFormat(
      "keys: %u\ncheckpoint keys: %u\nmemtable entries: %u\n"
      "memtable bytes: %u\nwal offsets: [%u, %u)\nwal segments: %u\n"
      "wal bytes since checkpoint: %u\ncheckpoint: %s\n",
      s.keys, s.checkpoint_keys, s.memtable_entries, s.approximate_bytes,
      s.wal_first_offset, s.wal_next_offset,
      s.wal_segments, s.wal_bytes_since_checkpoint,
      s.last_checkpoint.empty() ? "none" : s.last_checkpoint);
}

std::string StatsLine(const db::Stats& s) {
  return absl::StrFormat(
      "keys=%u checkpoint_keys=%u memtable_entries=%u memtable_bytes=%u "
      "wal_first=%u wal_next=%u wal_segments=%u "
      "wal_bytes_since_checkpoint=%u checkpoint=%s\n",
      s.keys, s.checkpoint_keys, s.memtable_entries, s.approximate_bytes,
      s.wal_first_offset, s.wal_next_offset,
      s.wal_segments, s.wal_bytes_since_checkpoint,
      s.last_checkpoint.empty() ? "none" : s.last_checkpoint);
}

// ---- shell ----

// Runs one shell line; returns the answer (one or more lines, each ending in
// '\n'), or nullopt for an empty line.
std::optional<std::string> RunShellLine(const Flags& flags, db::DB& store,
                                        absl::string_view line) {
  line = absl::StripTrailingAsciiWhitespace(line);
  line = absl::StripLeadingAsciiWhitespace(line);
  if (line.empty()) return std::nullopt;
  // command, key, and for put the rest of the line as the value (it may hold
  // spaces unless --hex).
  std::vector<absl::string_view> parts =
      absl::StrSplit(line, absl::MaxSplits(' ', 2));
  const absl::string_view command = parts[0];
  auto err = [](absl::string_view message) {
    return absl::StrCat("ERR ", message, "\n");
  };
  auto need = [&](size_t args) -> bool { return parts.size() == args + 1; };

  if (command == "get" || command == "del") {
    if (!need(1)) return err(absl::StrCat("usage: ", command, " KEY"));
    absl::StatusOr<std::string> key = DecodeArg(flags, parts[1], "key");
    if (!key.ok()) return err(key.status().message());
    if (command == "del") {
      absl::Status s = store.Delete(*key);
      return s.ok() ? std::string("OK\n") : err(s.message());
    }
    absl::StatusOr<std::string> value = store.Get(*key);
    if (value.ok()) return absl::StrCat(EncodeOut(flags, *value), "\n");
    if (value.status().code() == absl::StatusCode::kNotFound) {
      return std::string("NOT_FOUND\n");
    }
    return err(value.status().message());
  }
  if (command == "put") {
    if (parts.size() != 3) return err("usage: put KEY VALUE");
    absl::StatusOr<std::string> key = DecodeArg(flags, parts[1], "key");
    if (!key.ok()) return err(key.status().message());
    absl::StatusOr<std::string> value = DecodeArg(flags, parts[2], "value");
    if (!value.ok()) return err(value.status().message());
    absl::Status s = store.Put(*key, *value);
    return s.ok() ? std::string("OK\n") : err(s.message());
  }
  if (command == "scan") {
    if (parts.size() > 2) return err("usage: scan [PREFIX]");
    absl::StatusOr<std::string> prefix =
        parts.size() == 2 ? DecodeArg(flags, parts[1], "prefix")
                          : absl::StatusOr<std::string>("");
    if (!prefix.ok()) return err(prefix.status().message());
    absl::StatusOr<std::vector<db::KeyValue>> pairs = store.ScanPrefix(*prefix);
    if (!pairs.ok()) return err(pairs.status().message());
    std::string out;
    for (const auto& [k, v] : *pairs) {
      absl::StrAppend(&out, EncodeOut(flags, k), "\t", EncodeOut(flags, v),
                      "\n");
    }
    return absl::StrCat(out, "END\n");
  }
  if (command == "checkpoint") {
    if (!need(0)) return err("usage: checkpoint");
    absl::StatusOr<db::CheckpointInfo> info = store.Checkpoint();
    return info.ok() ? std::string("OK\n") : err(info.status().message());
  }
  if (command == "stats") {
    if (!need(0)) return err("usage: stats");
    absl::StatusOr<db::Stats> stats = store.GetStats();
    return stats.ok() ? StatsLine(*stats) : err(stats.status().message());
  }
  return err(absl::StrCat("unknown command '", command,
                          "' (commands: get put del scan checkpoint stats "
                          "quit)"));
}

int RunShell(const Flags& flags, db::DB& store) {
  std::string line;
  while (std::getline(std::cin, line)) {
    const absl::string_view trimmed = absl::StripAsciiWhitespace(line);
    if (trimmed == "quit" || trimmed == "exit") break;
    std::optional<std::string> answer = RunShellLine(flags, store, line);
    if (!answer.has_value()) continue;
    if (!Answer(*answer)) {
      PrintError(absl::StrCat("error writing to standard output: ",
                              std::strerror(errno)));
      return kExitFailure;
    }
  }
  if (std::cin.bad()) {
    PrintError("error reading standard input");
    return kExitFailure;
  }
  return kExitOk;
}

// ---- one-shot commands ----

int Fail(const absl::Status& s) {
  PrintError(s.message());
  return kExitFailure;
}

int RunRepair(const Flags& flags, bool force) {
  db::RepairOptions options;
  options.force = force;
  absl::StatusOr<db::RepairReport> report =
      db::RepairStore(flags.dir, options);
  if (!report.ok()) return Fail(report.status());
  if (!Answer(report->ToString())) {
    PrintError(absl::StrCat("error writing to standard output: ",
                            std::strerror(errno)));
    return kExitFailure;
  }
  return kExitOk;
}

int RunCommand(const Flags& flags, absl::string_view command,
               absl::Span<const std::string> args) {
  struct Arity {
    absl::string_view name;
    size_t min_args;
    size_t max_args;
    absl::string_view usage;
  };
  static constexpr Arity kCommands[] = {
      {"get", 1, 1, "get KEY"},         {"put", 2, 2, "put KEY VALUE"},
      {"del", 1, 1, "del KEY"},         {"scan", 0, 1, "scan [PREFIX]"},
      {"checkpoint", 0, 0, "checkpoint"}, {"stats", 0, 0, "stats"},
      {"recover", 0, 0, "recover"},     {"shell", 0, 0, "shell"},
      {"repair", 0, 1, "repair [--force]"},
  };
  const Arity* arity = nullptr;
  for (const Arity& a : kCommands) {
    if (a.name == command) arity = &a;
  }
  if (arity == nullptr) {
    return UsageError(absl::StrCat("unknown command '", command, "'"));
  }
  if (args.size() < arity->min_args || args.size() > arity->max_args) {
    return UsageError(absl::StrCat("usage: kv [flags] ", arity->usage));
  }
  if (command == "repair") {
    if (!args.empty() && args[0] != "--force") {
      return UsageError(absl::StrCat("usage: kv [flags] ", arity->usage));
    }
    return RunRepair(flags, !args.empty());
  }
  std::vector<std::string> decoded;
  if (command != "shell") {
    for (size_t i = 0; i < args.size(); ++i) {
      absl::StatusOr<std::string> d =
          DecodeArg(flags, args[i], i == 1 ? "value" : "key");
      if (!d.ok()) return UsageError(d.status().message());
      decoded.push_back(*std::move(d));
    }
  }

  const bool read_only =
      command == "get" || command == "scan" || command == "stats";
  absl::StatusOr<std::unique_ptr<db::DB>> opened = OpenStore(flags, read_only);
  if (!opened.ok()) return Fail(opened.status());
  db::DB& store = **opened;
  int code = kExitOk;
  std::string out;
  if (command == "get") {
    absl::StatusOr<std::string> value = store.Get(decoded[0]);
    if (value.ok()) {
      out = absl::StrCat(EncodeOut(flags, *value), "\n");
    } else if (value.status().code() == absl::StatusCode::kNotFound) {
      out = "NOT_FOUND\n";
      code = kExitFailure;
    } else {
      code = Fail(value.status());
    }
  } else if (command == "put" || command == "del") {
    absl::Status s = command == "put" ? store.Put(decoded[0], decoded[1])
                                      : store.Delete(decoded[0]);
    if (s.ok()) {
      out = "OK\n";
    } else {
      code = Fail(s);
    }
  } else if (command == "scan") {
    absl::StatusOr<std::vector<db::KeyValue>> pairs =
        store.ScanPrefix(decoded.empty() ? "" : decoded[0]);
    if (pairs.ok()) {
      for (const auto& [k, v] : *pairs) {
        absl::StrAppend(&out, EncodeOut(flags, k), "\t", EncodeOut(flags, v),
                        "\n");
      }
    } else {
      code = Fail(pairs.status());
    }
  } else if (command == "checkpoint") {
    absl::StatusOr<db::CheckpointInfo> info = store.Checkpoint();
    if (info.ok()) {
      out = absl::StrFormat(
          "OK %s (covers WAL offsets below %u, %u keys, %u bytes)\n",
          info->path, info->wal_offset, info->keys, info->bytes);
    } else {
      code = Fail(info.status());
    }
  } else if (command == "stats") {
    absl::StatusOr<db::Stats> stats = store.GetStats();
    if (stats.ok()) {
      out = StatsLines(*stats);
    } else {
      code = Fail(stats.status());
    }
  } else if (command == "recover") {
    out = store.recovery_report().ToString();
  } else {  // shell
    code = RunShell(flags, store);
  }
  if (!out.empty() && !Answer(out)) {
    PrintError(absl::StrCat("error writing to standard output: ",
                            std::strerror(errno)));
    code = kExitFailure;
  }
  absl::Status closed = store.Close();
  if (!closed.ok()) {
    PrintError(closed.message());
    if (code == kExitOk) code = kExitFailure;
  }
  return code;
}

int Main(int argc, char** argv) {
  Flags flags;
  std::vector<std::string> rest;
  bool flags_done = false;
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (flags_done || !rest.empty() || arg.size() < 2 || arg[0] != '-') {
      // Flags come before the command; after it everything is an argument
      // (so values may start with '-').
      rest.emplace_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    } else if (arg == "--no-sync") {
      flags.sync = false;
    } else if (arg == "--hex") {
      flags.hex = true;
    } else if (arg == "--dir") {
      if (i + 1 == argc) return UsageError("flag '--dir' needs a value");
      flags.dir = argv[++i];
    } else if (absl::StartsWith(arg, "--dir=")) {
      flags.dir = std::string(arg.substr(6));
    } else if (arg == "--recovery-mode" ||
               absl::StartsWith(arg, "--recovery-mode=")) {
      absl::string_view name;
      if (arg == "--recovery-mode") {
        if (i + 1 == argc) {
          return UsageError("flag '--recovery-mode' needs a value");
        }
        name = argv[++i];
      } else {
        name = arg.substr(strlen("--recovery-mode="));
      }
      std::optional<wal::RecoveryMode> mode = ParseRecoveryMode(name);
      if (!mode.has_value()) {
        return UsageError(absl::StrCat(
            "unknown recovery mode '", name,
            "' (one of point-in-time, tolerate-corrupted-tail-records, "
            "absolute-consistency, skip-any-corrupted-records)"));
      }
      flags.recovery_mode = *mode;
    } else {
      return UsageError(absl::StrCat("unknown flag '", arg, "'"));
    }
  }
  if (flags.dir.empty()) return UsageError("--dir must not be empty");
  if (rest.empty()) return UsageError("no command given");
  return RunCommand(flags, rest[0],
                    absl::Span<const std::string>(rest).subspan(1));
}

}  // namespace
}  // namespace blockwal::tools

int main(int argc, char** argv) { return blockwal::tools::Main(argc, argv); }
