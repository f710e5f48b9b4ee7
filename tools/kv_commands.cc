// The commands of kv and their help (kv_commands.h).
#include "tools/kv_commands.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/cli.h"
#include "tools/kv_shell.h"

namespace blockwal::tools::kv {
namespace {

constexpr absl::string_view kServeHelp =
    R"(usage: kv serve --id N --dir DIR --raft HOST:PORT --client HOST:PORT
                --peers ID=HOST:PORT[,ID=HOST:PORT...]
                [--snapshot-threshold N] [--snapshot-trailing N]
                [--election-timeout-ms N] [--fault-signals]
                [--storage blockwal|raft-uv]

Runs one server of a replicated store (docs/raft.md): raft on blockwal's
log in DIR, raft traffic on --raft, clients ('kv client') on --client.
--peers lists every server's raft address, this one's included, the same on
every server. The first start in DIR bootstraps that configuration; later
starts restart from DIR. Prints READY on stdout once it serves clients, logs
to stderr, and exits 0 on SIGTERM or SIGINT after a clean close.

flags:
  --id N                    this server's id (> 0, listed in --peers)
  --dir DIR                 its directory (created when missing)
  --raft HOST:PORT          where it talks raft (IPv4)
  --client HOST:PORT        where it serves clients (IPv4)
  --peers LIST              ID=HOST:PORT of every server, comma-separated
  --snapshot-threshold N    a snapshot every N applied entries (4096)
  --snapshot-trailing N     entries kept behind a snapshot (1024)
  --election-timeout-ms N   raft's election timeout (1000; heartbeats
                            every tenth of it)
  --fault-signals           for partition tests: SIGUSR1 cuts this server
                            off from the others (raft messages dropped both
                            ways; clients still served), SIGUSR2 reconnects
  --storage KIND            blockwal (default): raft's log on blockwal's
                            log in DIR; raft-uv: libraft's own storage in
                            DIR/raft-uv instead, for comparison (not
                            with --fault-signals)

Exit status:
  0  closed cleanly after SIGTERM or SIGINT
  2  usage error
  4  failed (the directory, the ports, raft)
)";

constexpr absl::string_view kClientHelp =
    R"(usage: kv client --servers HOST:PORT[,HOST:PORT...] [--hex]
                 [--timeout SECONDS] COMMAND [ARGS]

Talks to the servers of a replicated store ('kv serve'; docs/raft.md, "The
client protocol"). Writes and gets go to the leader: the client starts with
the first server, follows its REDIRECT answers, and on NO_LEADER or a
server it cannot reach moves on to the next one (pausing 100 ms after a
whole round of the list) until the timeout passes.

commands:
  put KEY VALUE      store a value; prints OK once committed and applied
  del KEY            delete a key; prints OK likewise
  get [--local] KEY  print the value (NOT_FOUND and exit 1 when absent),
                     read linearizably on the leader; with --local from the
                     applied state of the first server that answers
  status             one line per server of --servers: its status, or
                     ERR SERVER: WHY for one that does not answer
  dump               key<TAB>value for every key in key order, then
                     END applied=I
  shell              read commands from stdin, one per line, in the 'kv
                     shell' grammar: put KEY VALUE, get KEY, local_get KEY,
                     del KEY, status, dump, quit; one answer each (OK, the
                     value, NOT_FOUND, ERR ...), flushed; requests go over
                     one kept connection to the leader (local_get reads
                     the server it is connected to)

A write that may or may not have been applied (the server answered
INDETERMINATE, or the connection broke or the timeout passed after the
request was sent) prints "ERR indeterminate: WHY" and is never sent again.
Other failures print "ERR WHY". Both exit 1.

flags (before or after the command; "--" ends them):
  --servers LIST     the servers' client addresses, comma-separated
                     (required)
  --timeout SECONDS  how long one request may take (default 10)
  --hex              keys and values are hex, in arguments and output
  --local            get: read a server's applied state (see get)
  --help, -h         this text

Exit status:
  0  success
  1  NOT_FOUND, or ERR (the request failed, or a write is indeterminate)
  2  usage error: a bad command line; nothing was sent
  4  standard output could not be written
)";

constexpr Command kCommands[] = {
    {"get", {"KEY"}, 1, 1, true, false,
     "print the value (NOT_FOUND and exit 1 when absent)",
     "Prints the value of KEY and a newline. An absent key prints NOT_FOUND\n"
     "and exits 1. Opens the store read-only: changes nothing, takes no lock.\n"},
    {"put", {"KEY", "VALUE"}, 2, 2, false, false,
     "store a value; prints OK once it is durable",
     "Stores VALUE under KEY and prints OK once the write is durable (with\n"
     "--no-sync: once it is in the WAL file). A KEY or VALUE that starts with\n"
     "\"--\" goes after \"--\": kv put -- --key value.\n"},
    {"del", {"KEY"}, 1, 1, false, false, "delete a key; prints OK",
     "Deletes KEY (also when absent) and prints OK once durable.\n"},
    {"scan", {"[PREFIX]"}, 0, 1, true, false,
     "print key<TAB>value for every key (with PREFIX)",
     "Prints key<TAB>value for every key, or every key starting with PREFIX,\n"
     "in key order. Opens the store read-only.\n"},
    {"checkpoint", {}, 0, 0, false, false,
     "write a checkpoint and drop the WAL it covers",
     "Writes every key to a new checkpoint file, drops the WAL it covers and\n"
     "prints OK PATH (covers WAL offsets below N, K keys, B bytes).\n"},
    {"stats", {}, 0, 0, true, false,
     "print key count, WAL offsets and checkpoint",
     "Prints the key count, the memtable, the WAL's offsets as [FIRST, NEXT)\n"
     "and its segments, and the newest checkpoint. Opens the store read-only.\n"},
    {"recover", {}, 0, 0, false, false,
     "open the store and print the recovery report",
     "Opens the store as a writer does (cutting what the recovery mode cuts,\n"
     "each cut printed on stderr) and prints the recovery report.\n"},
    {"repair", {}, 0, 0, false, true,
     "back the store up, rebuild it, print exactly what was lost",
     "Backs the store up beside DIR (DIR.repair-backup-<UTC time>), rebuilds\n"
     "it from what is readable and prints exactly what was lost. Without\n"
     "--force, damage that point-in-time recovery refuses (synced writes\n"
     "after it) is refused: exit 3, nothing changed but the backup.\n"
     "\n"
     "  --force          skip damaged WAL records instead (and report each)\n"},
    {"shell", {}, 0, 0, false, false,
     "read commands from stdin, one per line (kv shell --help)",
     kShellHelp},
    {"client", {"COMMAND"}, 1, 1, false, false,
     "talk to a replicated store's servers (kv client --help)", kClientHelp,
     /*remote=*/true},
    {"serve", {}, 0, 0, false, false,
     "run one server of a replicated store (kv serve --help)", kServeHelp,
     /*remote=*/true},
};

constexpr absl::string_view kOptionsHelp =
    R"(flags (before or after the command; "--" ends them):
  --dir DIR        the store's directory (default ./blockwal-kv; put, del,
                   checkpoint, recover and shell create it when missing, in
                   an existing parent directory)
  --no-sync        do not fdatasync each write (a power loss may lose the
                   latest writes; a process crash cannot)
  --hex            keys and values are hex, in arguments and output
  --recovery-mode MODE
                   how opening treats damage: point-in-time (default),
                   tolerate-corrupted-tail-records, absolute-consistency or
                   skip-any-corrupted-records (docs/recovery.md)
  --help, -h       this text; 'kv COMMAND --help' or 'kv help COMMAND' for
                   one command
After the command, an argument starting with "--" is a flag, never a key
or value: put such a key or value after "--" (kv put -- --k v).
)";

// The command as its usage line shows it: "put KEY VALUE",
// "repair [--force]".
std::string CommandCall(const Command& c) {
  std::string call(c.name);
  if (c.takes_force) absl::StrAppend(&call, " [--force]");
  for (absl::string_view arg : c.args) {
    if (!arg.empty()) absl::StrAppend(&call, " ", arg);
  }
  return call;
}

std::string CommandUsage(const Command& c) {
  return absl::StrCat("usage: kv [FLAGS] ", CommandCall(c), "\n");
}

}  // namespace

const Command* FindCommand(absl::string_view name) {
  for (const Command& c : kCommands) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::string TopLevelHelp() {
  std::string help =
      "usage: kv [FLAGS] COMMAND [ARGS]\n"
      "\n"
      "A key-value store on a blockwal write-ahead log (DIR, default "
      "./blockwal-kv).\n"
      "get, scan and stats open the store read-only: they change nothing and\n"
      "work while another process has the store open.\n"
      "\n"
      "commands:\n";
  for (const Command& c : kCommands) {
    absl::StrAppend(&help,
                    absl::StrFormat("  %-16s %s\n", CommandCall(c), c.summary));
  }
  absl::StrAppend(&help, "\n", kOptionsHelp, "\n", kExitStatusHelp);
  return help;
}

std::string CommandHelp(const Command& c) {
  if (c.remote) return std::string(c.help);
  return absl::StrCat(CommandUsage(c), "\n", c.help, "\n", kOptionsHelp, "\n",
                      kExitStatusHelp);
}

}  // namespace blockwal::tools::kv
