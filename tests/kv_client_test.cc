// Drives the built `kv client` against scripted servers in the test process
// (tests/kv_fake_server.h): leader following, indeterminate writes, each
// command's exact output and exit status, the shell's one connection, and
// usage errors.
#include <mutex>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/free_port.h"
#include "tests/kv_fake_server.h"
#include "tests/run_command.h"
#include "tools/cli.h"

namespace blockwal::testing {
namespace {

using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using tools::kExitNotFound;
using tools::kExitUsage;

constexpr char kStatusLine[] =
    "id=1 role=leader term=3 applied=7 commit=7 last=7 leader=1";

// Runs `kv client ARGS` with `in` as its stdin.
CommandResult Client(std::vector<std::string> args,
                     const std::string& in = "") {
  std::vector<std::string> argv = {KV_PATH, "client"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, "", in);
}

// A script answering `answer` to every line.
FakeKvServer::Script Always(std::string answer) {
  return [answer](const std::string&, int) { return answer; };
}

// An address that refuses connections (nothing listens on it).
std::string DownAddress() { return absl::StrCat("127.0.0.1:", FreePort()); }

TEST(KvClientTest, PutPrintsOkOnOk) {
  FakeKvServer server(Always("OK\n"));
  CommandResult r = Client({"--servers", server.address(), "put", "k", "v 1"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "OK\n");
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(server.lines(), ElementsAre("put k \"v 1\""));
  r = Client({"--servers", server.address(), "del", "k"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "OK\n");
  EXPECT_THAT(server.lines(), ElementsAre("put k \"v 1\"", "del k"));
}

TEST(KvClientTest, FollowsRedirectToTheLeader) {
  FakeKvServer leader(Always("OK\n"));
  FakeKvServer follower(Always("REDIRECT 2 " + leader.address() + "\n"));
  CommandResult r = Client(
      {"--servers", follower.address() + "," + DownAddress(), "put", "k", "v"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "OK\n");
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(follower.lines(), ElementsAre("put k v"));
  EXPECT_THAT(leader.lines(), ElementsAre("put k v"));
}

TEST(KvClientTest, RetriesAfterNoLeader) {
  FakeKvServer server([](const std::string&, int n) {
    return n == 0 ? std::string("NO_LEADER\n") : std::string("OK\n");
  });
  CommandResult r = Client({"--servers", server.address(), "put", "k", "v"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "OK\n");
  EXPECT_THAT(server.lines(), ElementsAre("put k v", "put k v"));
  EXPECT_EQ(server.connections(), 2);
}

TEST(KvClientTest, RefusedConnectionTriesTheNextServer) {
  FakeKvServer server(Always("OK\n"));
  CommandResult r =
      Client({"--servers", DownAddress() + "," + server.address(), "del", "k"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "OK\n");
  EXPECT_THAT(server.lines(), ElementsAre("del k"));
}

TEST(KvClientTest, WriteWhoseConnectionClosesIsIndeterminateAndNotResent) {
  FakeKvServer server(Always(FakeKvServer::kClose));
  CommandResult r = Client({"--servers", server.address(), "put", "k", "v"});
  EXPECT_EQ(r.exit_code, kExitNotFound);
  EXPECT_EQ(r.out, "ERR indeterminate: " + server.address() +
                       ": connection closed after the request was sent\n");
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(server.lines(), ElementsAre("put k v"));
  EXPECT_EQ(server.connections(), 1);
}

TEST(KvClientTest, WriteWithoutAnswerInTimeIsIndeterminate) {
  FakeKvServer server(Always(""));
  CommandResult r =
      Client({"--servers", server.address(), "--timeout", "0.2", "del", "k"});
  EXPECT_EQ(r.exit_code, kExitNotFound);
  EXPECT_EQ(r.out, "ERR indeterminate: " + server.address() +
                       ": no answer within the 0.2s timeout after the "
                       "request was sent\n");
  EXPECT_THAT(server.lines(), ElementsAre("del k"));
}

TEST(KvClientTest, IndeterminateErrAndMalformedAnswers) {
  FakeKvServer lost(Always("INDETERMINATE \"leadership lost\"\n"));
  CommandResult r = Client({"--servers", lost.address(), "put", "k", "v"});
  EXPECT_EQ(r.exit_code, kExitNotFound);
  EXPECT_EQ(r.out, "ERR indeterminate: leadership lost\n");
  FakeKvServer err(Always("ERR \"disk full\"\n"));
  r = Client({"--servers", err.address(), "put", "k", "v"});
  EXPECT_EQ(r.exit_code, kExitNotFound);
  EXPECT_EQ(r.out, "ERR disk full\n");
  FakeKvServer bogus(Always("BOGUS\n"));
  r = Client({"--servers", bogus.address(), "put", "k", "v"});
  EXPECT_EQ(r.exit_code, kExitNotFound);
  EXPECT_EQ(r.out, "ERR indeterminate: " + bogus.address() +
                       ": malformed answer 'BOGUS': unknown answer 'BOGUS'\n");
  EXPECT_THAT(bogus.lines(), ElementsAre("put k v"));
  r = Client({"--servers", bogus.address(), "get", "k"});
  EXPECT_EQ(r.exit_code, kExitNotFound);
  EXPECT_EQ(r.out, "ERR " + bogus.address() +
                       ": malformed answer 'BOGUS': unknown answer 'BOGUS'\n");
}

TEST(KvClientTest, NoLeaderUntilTheTimeout) {
  FakeKvServer server(Always("NO_LEADER\n"));
  CommandResult r = Client(
      {"--servers", server.address(), "--timeout", "0.3", "put", "k", "v"});
  EXPECT_EQ(r.exit_code, kExitNotFound);
  EXPECT_EQ(r.out, "ERR no leader answered in 0.3s (last: " + server.address() +
                       ": no leader known)\n");
  EXPECT_THAT(server.lines(), Each(std::string("put k v")));
}

TEST(KvClientTest, RedirectLoopIsCutAndRetriedUntilTheTimeout) {
  std::mutex mu;
  std::string to_a;
  FakeKvServer b([&](const std::string&, int) {
    std::lock_guard<std::mutex> lock(mu);
    return to_a;
  });
  FakeKvServer a(Always("REDIRECT 2 " + b.address() + "\n"));
  {
    std::lock_guard<std::mutex> lock(mu);
    to_a = "REDIRECT 1 " + a.address() + "\n";
  }
  CommandResult r =
      Client({"--servers", a.address(), "--timeout", "0.3", "get", "k"});
  EXPECT_EQ(r.exit_code, kExitNotFound);
  EXPECT_EQ(r.out, "ERR no leader answered in 0.3s (last: " + a.address() +
                       ": redirected again to " + b.address() + ")\n");
}

TEST(KvClientTest, GetPrintsTheValueAsKvGetDoes) {
  FakeKvServer server(Always("VALUE \"\\x00\\xff\\n\"\n"));
  CommandResult r =
      Client({"--servers", server.address(), "--hex", "get", "6b"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "00ff0a\n");
  EXPECT_EQ(r.err, "");
  r = Client({"--servers", server.address(), "get", "--local", "k 2"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, std::string("\0\xff\n\n", 4));
  EXPECT_THAT(server.lines(), ElementsAre("get k", "local_get \"k 2\""));
  FakeKvServer absent(Always("NOT_FOUND\n"));
  r = Client({"--servers", absent.address(), "get", "k"});
  EXPECT_EQ(r.exit_code, kExitNotFound);
  EXPECT_EQ(r.out, "NOT_FOUND\n");
  EXPECT_EQ(r.err, "");
}

TEST(KvClientTest, StatusAsksEveryServer) {
  FakeKvServer up(Always(std::string(kStatusLine) + "\n"));
  const std::string down = DownAddress();
  CommandResult r = Client({"--servers", up.address() + "," + down, "status"});
  EXPECT_EQ(r.exit_code, kExitNotFound);
  EXPECT_EQ(r.out, std::string(kStatusLine) + "\nERR " + down +
                       ": cannot connect: Connection refused\n");
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(up.lines(), ElementsAre("status"));
  r = Client({"--servers", up.address(), "status"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, std::string(kStatusLine) + "\n");
}

TEST(KvClientTest, DumpPrintsKeyTabValueThenEnd) {
  FakeKvServer server(Always("KV a 1\nKV \"b c\" \"\\x00\"\nEND applied=7\n"));
  CommandResult r = Client({"--servers", server.address(), "dump"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, std::string("a\t1\nb c\t\0\nEND applied=7\n", 24));
  r = Client({"--servers", server.address(), "--hex", "dump"});
  EXPECT_EQ(r.out, "61\t31\n622063\t00\nEND applied=7\n");
  EXPECT_THAT(server.lines(), ElementsAre("dump", "dump"));
}

TEST(KvClientTest, ShellSendsThousandsOfWritesOverOneConnection) {
  FakeKvServer server(Always("OK\n"));
  std::string in;
  std::string want;
  for (int i = 0; i < 1000; ++i) {
    in += absl::StrCat("put k", i, " v ", i, "\n");
    want += "OK\n";
  }
  CommandResult r = Client({"--servers", server.address(), "shell"}, in);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, want);
  ASSERT_EQ(server.lines().size(), 1000u);
  EXPECT_EQ(server.lines()[999], "put k999 \"v 999\"");
  EXPECT_EQ(server.connections(), 1);
}

TEST(KvClientTest, ShellAnswersEachCommand) {
  FakeKvServer server([](const std::string& line, int) -> std::string {
    if (line == "get a") return "VALUE 1\n";
    if (line == "local_get a") return "VALUE \"one 1\"\n";
    if (line == "get zz") return "NOT_FOUND\n";
    if (line == "status") return std::string(kStatusLine) + "\n";
    if (line == "dump") return "KV a 1\nEND applied=9\n";
    if (line == "del gone") return "INDETERMINATE \"lost it\"\n";
    return "OK\n";
  });
  const std::string in =
      "put a \"x y\" z\n"
      "get a\n"
      "local_get a\n"
      "\n"
      "get zz\n"
      "bogus\n"
      "put onlykey\n"
      "get \"open\n"
      "del gone\n"
      "status\n"
      "dump\n"
      "quit\n"
      "get a\n";
  CommandResult r = Client({"--servers", server.address(), "shell"}, in);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out,
            "OK\n1\none 1\nNOT_FOUND\n"
            "ERR unknown command 'bogus' (commands: get local_get put del "
            "status dump quit)\n"
            "ERR usage: put KEY VALUE\n"
            "ERR unterminated double quote\n"
            "ERR indeterminate: lost it\n" +
                std::string(kStatusLine) + "\na\t1\nEND applied=9\n");
  EXPECT_THAT(server.lines(),
              ElementsAre("put a \"x y z\"", "get a", "local_get a", "get zz",
                          "del gone", "status", "dump"));
  // status asks on its own connection; the rest share one.
  EXPECT_EQ(server.connections(), 2);
}

TEST(KvClientTest, UsageErrors) {
  const struct {
    std::vector<std::string> args;
    std::string err;
  } kCases[] = {
      {{"put", "k", "v"}, "--servers HOST:PORT[,...] is required"},
      {{"--servers", "h:1"}, "no command given"},
      {{"--servers", "h:1", "scan"}, "unknown command 'scan'"},
      {{"--servers", "h:1", "local_get", "k"}, "unknown command 'local_get'"},
      {{"--servers", "h:1", "put", "k"}, "put: missing VALUE"},
      {{"--servers", "h:1", "get"}, "get: missing KEY"},
      {{"--servers", "h:1", "status", "x"}, "status: unexpected argument 'x'"},
      {{"--servers", "h:1", "--dir", "d", "status"}, "unknown flag '--dir'"},
      {{"--servers", "h", "status"}, "--servers: 'h' is not HOST:PORT"},
      {{"--servers", "h:1,", "status"}, "--servers: '' is not HOST:PORT"},
      {{"--servers", "h:1", "--timeout", "0", "status"},
       "--timeout '0' is not a number of seconds above 0"},
      {{"--servers", "h:1", "--local", "put", "k", "v"},
       "--local is only for get"},
      {{"--servers", "h:1", "--hex", "get", "0g"},
       "get: key '0g' is not hex: bad digit 'g'"},
      {{"--servers"}, "flag '--servers' needs a value"},
  };
  for (const auto& c : kCases) {
    CommandResult r = Client(c.args);
    EXPECT_EQ(r.exit_code, kExitUsage) << c.err;
    EXPECT_EQ(r.out, "") << c.err;
    EXPECT_EQ(r.err, "kv: client: " + c.err + "\ntry 'kv client --help'\n");
  }
}

TEST(KvClientTest, Help) {
  CommandResult r = Client({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(r.out, StartsWith("usage: kv client --servers HOST:PORT"));
  EXPECT_EQ(RunCommand({KV_PATH, "help", "client"}).out, r.out);
  EXPECT_EQ(RunCommand({KV_PATH, "--hex", "client", "-h"}).out, r.out);
  EXPECT_THAT(RunCommand({KV_PATH, "--help"}).out,
              HasSubstr("\n  client COMMAND   talk to a replicated "
                        "store's servers (kv client --help)\n"));
}

}  // namespace
}  // namespace blockwal::testing
