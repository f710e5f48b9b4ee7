// `kv client` (kv_client.h): its command line, its commands and its shell.
// Leader following is ClusterSession's (kv_cluster.h); the lines are
// kv_protocol.h's.
#include "tools/kv_client.h"

#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tools/cli.h"
#include "tools/kv_cluster.h"
#include "tools/kv_commands.h"
#include "tools/kv_connection.h"
#include "tools/kv_protocol.h"
#include "tools/kv_shell.h"

namespace blockwal::tools::kv {
namespace {

constexpr absl::string_view kProgram = "kv";

struct ClientFlags {
  std::vector<std::string> servers;
  bool hex = false;
  bool local = false;
  double timeout_seconds = 10;
};

// What a command printed and its exit status.
struct Outcome {
  std::string out;
  int code = kExitOk;
};

Outcome Err(absl::string_view message) {
  return {absl::StrCat("ERR ", message, "\n"), kExitNotFound};
}

// The outcome of an answer other than the ones the caller expects: ERR,
// INDETERMINATE, or a failure to get any answer.
Outcome Failure(const absl::StatusOr<Answer>& answer) {
  if (!answer.ok()) return Err(answer.status().message());
  if (answer->kind == AnswerKind::kIndeterminate) {
    return Err(absl::StrCat("indeterminate: ", answer->message));
  }
  return Err(answer->message);
}

// put and del: OK only on an OK answer.
Outcome Write(ClusterSession& session, const std::string& request) {
  absl::StatusOr<Answer> answer =
      session.Call(request, /*write=*/true, {AnswerKind::kOk});
  if (answer.ok() && answer->kind == AnswerKind::kOk) return {"OK\n"};
  return Failure(answer);
}

// get and local_get: the value as `kv get` prints it, or NOT_FOUND.
Outcome Get(ClusterSession& session, bool hex, const std::string& request) {
  absl::StatusOr<Answer> answer = session.Call(
      request, /*write=*/false, {AnswerKind::kValue, AnswerKind::kNotFound});
  if (answer.ok() && answer->kind == AnswerKind::kValue) {
    return {absl::StrCat(EncodeKvOut(hex, answer->value), "\n")};
  }
  if (answer.ok() && answer->kind == AnswerKind::kNotFound) {
    return {"NOT_FOUND\n", kExitNotFound};
  }
  return Failure(answer);
}

// dump: key<TAB>value lines as `kv scan` prints them, then END applied=I.
// A dump that fails part way prints only the ERR line.
Outcome Dump(ClusterSession& session, bool hex) {
  absl::StatusOr<Answer> answer = session.Call(
      DumpRequest(), /*write=*/false, {AnswerKind::kKv, AnswerKind::kEnd});
  std::string out;
  while (answer.ok() && answer->kind == AnswerKind::kKv) {
    absl::StrAppend(&out, EncodeKvOut(hex, answer->key), "\t",
                    EncodeKvOut(hex, answer->value), "\n");
    answer = session.ReadMore();
  }
  if (answer.ok() && answer->kind == AnswerKind::kEnd) {
    return {absl::StrCat(out, "END applied=", answer->applied, "\n")};
  }
  if (answer.ok() && answer->kind != AnswerKind::kErr) {
    return Err(
        absl::StrCat("unexpected answer in a dump: ", FormatAnswer(*answer)));
  }
  return Failure(answer);
}

// One server's status line, or why there is none.
std::string ServerStatusLine(const std::string& server,
                             std::chrono::duration<double> timeout) {
  const Deadline deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(timeout);
  absl::StatusOr<std::unique_ptr<LineConnection>> conn =
      LineConnection::Connect(
          server, std::min(deadline, Clock::now() + kConnectTimeout));
  absl::Status s =
      conn.ok() ? (*conn)->Send(StatusRequest(), deadline) : conn.status();
  absl::StatusOr<std::string> line =
      s.ok() ? (*conn)->ReadLine(deadline) : absl::StatusOr<std::string>(s);
  absl::StatusOr<Answer> answer =
      line.ok() ? ParseAnswer(*line) : absl::StatusOr<Answer>(line.status());
  std::string why;
  if (!answer.ok()) {
    why = std::string(answer.status().message());
  } else if (answer->kind == AnswerKind::kStatus) {
    return absl::StrCat(*line, "\n");
  } else if (answer->kind == AnswerKind::kErr) {
    why = answer->message;
  } else {
    why = absl::StrCat("unexpected answer '", *line, "'");
  }
  return absl::StrCat("ERR ", server, ": ", why, "\n");
}

// status: every server of the list, one line each; exit 1 if any failed.
Outcome Status(const ClientFlags& flags) {
  Outcome outcome;
  for (const std::string& server : flags.servers) {
    std::string line = ServerStatusLine(
        server, std::chrono::duration<double>(flags.timeout_seconds));
    if (absl::StartsWith(line, "ERR ")) outcome.code = kExitNotFound;
    outcome.out += line;
  }
  return outcome;
}

// A command with its arguments decoded (--hex), for one-shot and shell.
Outcome Run(const ClientFlags& flags, ClusterSession& session,
            absl::string_view command, const std::vector<std::string>& args) {
  if (command == "put") return Write(session, PutRequest(args[0], args[1]));
  if (command == "del") return Write(session, DelRequest(args[0]));
  if (command == "get") return Get(session, flags.hex, GetRequest(args[0]));
  if (command == "local_get") {
    return Get(session, flags.hex, LocalGetRequest(args[0]));
  }
  if (command == "status") return Status(flags);
  return Dump(session, flags.hex);
}

// The number of arguments each command takes, or -1 for an unknown one.
int ArgCount(absl::string_view command) {
  if (command == "put") return 2;
  if (command == "get" || command == "local_get" || command == "del") return 1;
  if (command == "status" || command == "dump") return 0;
  return -1;
}

std::string CommandUsage(absl::string_view command) {
  const int n = ArgCount(command);
  return absl::StrCat("usage: ", command, n > 0 ? " KEY" : "",
                      n > 1 ? " VALUE" : "");
}

// ---- shell ----

// One shell line's outcome, or nullopt for a blank line. VALUE is the rest
// of a put line, as in `kv shell`.
std::optional<Outcome> RunShellLine(const ClientFlags& flags,
                                    ClusterSession& session,
                                    absl::string_view line) {
  absl::StatusOr<std::vector<ShellWord>> words = SplitShellLine(line);
  if (!words.ok()) return Err(words.status().message());
  if (words->empty()) return std::nullopt;
  const std::string& command = (*words)[0].text;
  const int want = ArgCount(command);
  if (want < 0) {
    return Err(absl::StrCat("unknown command '", command,
                            "' (commands: get local_get put del status dump "
                            "quit)"));
  }
  const size_t given = words->size() - 1;
  if (want == 2 ? given < 2 : given != static_cast<size_t>(want)) {
    return Err(CommandUsage(command));
  }
  std::vector<std::string> args;
  for (int i = 0; i < want; ++i) {
    absl::StatusOr<std::string> text =
        i == 1 ? ShellRest(line, *words, 2)
               : absl::StatusOr<std::string>((*words)[i + 1].text);
    if (text.ok())
      text = DecodeKvArg(flags.hex, *text, i == 1 ? "value" : "key");
    if (!text.ok()) return Err(text.status().message());
    args.push_back(*std::move(text));
  }
  return Run(flags, session, command, args);
}

// The shell: each line's output is printed and the shell goes on,
// whatever the exit status a one-shot command would have had.
int RunShell(const ClientFlags& flags, ClusterSession& session) {
  return RunShellLoop(kProgram, [&](absl::string_view line) {
    std::optional<Outcome> outcome = RunShellLine(flags, session, line);
    return outcome.has_value() ? std::optional<std::string>(outcome->out)
                               : std::nullopt;
  });
}

// ---- command line ----

struct ClientLine {
  ClientFlags flags;
  bool help = false;
  std::string command;
  std::vector<std::string> args;
  std::string error;  // the first usage error, or empty
};

// Applies one flag (args[*i], maybe taking the next argument).
void TakeFlag(absl::Span<const std::string> args, size_t* i, ClientLine* cl) {
  auto fail = [&](std::string m) {
    if (cl->error.empty()) cl->error = std::move(m);
  };
  FlagArg flag = SplitFlagArg(args[*i]);
  const absl::string_view name = flag.name;
  const bool takes_value = name == "--servers" || name == "--timeout";
  if (absl::Status s = TakeFlagValue(name, takes_value, args, i, &flag.value);
      !s.ok()) {
    return fail(std::string(s.message()));
  }
  if (name == "--help" || name == "-h") {
    cl->help = true;
  } else if (name == "--hex") {
    cl->flags.hex = true;
  } else if (name == "--local") {
    cl->flags.local = true;
  } else if (name == "--servers") {
    cl->flags.servers = absl::StrSplit(*flag.value, ',');
    for (const std::string& server : cl->flags.servers) {
      if (absl::Status s = CheckAddress(server); !s.ok()) {
        fail(absl::StrCat("--servers: ", s.message()));
      }
    }
  } else if (name == "--timeout") {
    double& t = cl->flags.timeout_seconds;
    if (!absl::SimpleAtod(*flag.value, &t) || !(t > 0) || t > 1e6) {
      fail(absl::StrCat("--timeout '", *flag.value,
                        "' is not a number of seconds above 0"));
    }
  } else {
    fail(absl::StrCat("unknown flag '", name, "'"));
  }
}

// Flags anywhere before "--"; after the command only "--..." and "-h" are
// flags, so arguments may start with '-' (as in kv).
ClientLine ParseClientLine(absl::Span<const std::string> args) {
  ClientLine cl;
  bool options_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const absl::string_view arg = args[i];
    const bool no_command = cl.command.empty();
    if (!options_done && arg == "--") {
      options_done = true;
    } else if (!options_done &&
               (absl::StartsWith(arg, "--") || arg == "-h" ||
                (no_command && arg.size() > 1 && arg[0] == '-'))) {
      TakeFlag(args, &i, &cl);
    } else if (no_command) {
      cl.command = std::string(arg);
    } else {
      cl.args.emplace_back(arg);
    }
  }
  return cl;
}

// The checks after parsing: a usage error's message, or empty.
std::string CheckClientLine(ClientLine& cl) {
  if (!cl.error.empty()) return cl.error;
  if (cl.flags.servers.empty()) return "--servers HOST:PORT[,...] is required";
  if (cl.command.empty()) return "no command given";
  if (cl.command == "local_get" ||
      (ArgCount(cl.command) < 0 && cl.command != "shell")) {
    return absl::StrCat("unknown command '", cl.command, "'");
  }
  if (cl.flags.local && cl.command != "get") return "--local is only for get";
  const size_t want = cl.command == "shell" ? 0 : ArgCount(cl.command);
  if (cl.args.size() < want) {
    return absl::StrCat(cl.command, ": missing ",
                        cl.args.empty() ? "KEY" : "VALUE");
  }
  if (cl.args.size() > want) {
    return absl::StrCat(cl.command, ": unexpected argument '", cl.args[want],
                        "'");
  }
  for (size_t i = 0; i < want; ++i) {
    absl::StatusOr<std::string> d =
        DecodeKvArg(cl.flags.hex, cl.args[i], i == 1 ? "value" : "key");
    if (!d.ok()) return absl::StrCat(cl.command, ": ", d.status().message());
    cl.args[i] = *std::move(d);
  }
  if (cl.flags.local) cl.command = "local_get";
  return "";
}

}  // namespace

int RunClient(absl::Span<const std::string> args) {
  // A server that closes its end must be an error of the send, not a
  // signal that ends the client.
  std::signal(SIGPIPE, SIG_IGN);
  ClientLine cl = ParseClientLine(args);
  if (cl.help && cl.error.empty()) {
    const std::string help = CommandHelp(*FindCommand("client"));
    std::fwrite(help.data(), 1, help.size(), stdout);
    return FlushStandardOutput() ? kExitOk : PrintOutputError(kProgram);
  }
  if (std::string error = CheckClientLine(cl); !error.empty()) {
    return PrintUsageError(kProgram, absl::StrCat("client: ", error),
                           "kv client --help");
  }
  ClusterSession session(cl.flags.servers, std::chrono::duration<double>(
                                               cl.flags.timeout_seconds));
  if (cl.command == "shell") return RunShell(cl.flags, session);
  const Outcome outcome = Run(cl.flags, session, cl.command, cl.args);
  std::fwrite(outcome.out.data(), 1, outcome.out.size(), stdout);
  if (!FlushStandardOutput()) return PrintOutputError(kProgram);
  return outcome.code;
}

}  // namespace blockwal::tools::kv
