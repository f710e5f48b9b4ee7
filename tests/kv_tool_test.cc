// Runs the built kv tool and the KV demo (also through scripts/demo.sh) end
// to end.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "blockwal/db/db.h"
#include "tests/run_command.h"
#include "tests/scratch_dir.h"
#include "tests/status_matchers.h"
#include "tools/cli.h"
#include "tools/kv_shell.h"

namespace blockwal::testing {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using tools::kExitDamaged;
using tools::kExitFailed;
using tools::kExitNotFound;
using tools::kExitUsage;

// The store is dir_, which does not exist yet, in a fresh scratch directory
// (which also takes the backups `kv repair` makes beside the store).
class KvToolTest : public ::testing::Test {
 protected:

  CommandResult Kv(std::vector<std::string> args, const std::string& in = "") {
    std::vector<std::string> argv = {KV_PATH, "--dir", dir_.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, "", in);
  }

  ScratchDir scratch_{"kv_tool_test"};
  std::filesystem::path dir_ = scratch_.path() / "store";
};

TEST_F(KvToolTest, PutGetDelScan) {
  CommandResult r = Kv({"put", "apple", "red fruit"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "OK\n");
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(Kv({"put", "apricot", "-orange"}).out, "OK\n");  // '-' value
  EXPECT_EQ(Kv({"put", "banana", "yellow"}).out, "OK\n");
  r = Kv({"get", "apple"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "red fruit\n");
  r = Kv({"scan"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "apple\tred fruit\napricot\t-orange\nbanana\tyellow\n");
  EXPECT_EQ(Kv({"scan", "ap"}).out, "apple\tred fruit\napricot\t-orange\n");
  r = Kv({"del", "apple"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "OK\n");
  r = Kv({"get", "apple"});
  EXPECT_EQ(r.exit_code, kExitNotFound);
  EXPECT_EQ(r.out, "NOT_FOUND\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(KvToolTest, HexBothWays) {
  CommandResult r = Kv({"--hex", "put", "00ff", "0a09"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "OK\n");
  EXPECT_EQ(Kv({"--hex", "get", "00ff"}).out, "0a09\n");
  EXPECT_EQ(Kv({"--hex", "scan"}).out, "00ff\t0a09\n");
  r = Kv({"--hex", "get", "0g"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "kv: get: key '0g' is not hex: bad digit 'g'\n"
            "try 'kv get --help'\n");
  r = Kv({"--hex", "put", "00", "abc"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_EQ(r.err,
            "kv: put: value 'abc' is not hex: odd number of digits\n"
            "try 'kv put --help'\n");
}

TEST_F(KvToolTest, ShellSession) {
  const std::string in =
      "put a 1\n"
      "put b two words\n"
      "get a\n"
      "get zz\n"
      "\n"
      "scan\n"
      "del a\n"
      "scan a\n"
      "bogus\n"
      "put onlykey\n"
      "checkpoint\n"
      "get b\n"
      "quit\n"
      "get b\n";
  CommandResult r = Kv({"shell"}, in);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out,
            "OK\n"
            "OK\n"
            "1\n"
            "NOT_FOUND\n"
            "a\t1\nb\ttwo words\nEND\n"
            "OK\n"
            "END\n"
            "ERR unknown command 'bogus' (commands: get put del scan "
            "checkpoint stats quit)\n"
            "ERR usage: put KEY VALUE\n"
            "OK\n"
            "two words\n");
  r = Kv({"--hex", "shell"}, "put 6b 7a7a\nget 6b\nget 6\nscan\n");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out,
            "OK\n7a7a\nERR key '6' is not hex: odd number of digits\n"
            "62\t74776f20776f726473\n6b\t7a7a\nEND\n");
}

// The shell grammar (tools/kv_shell.h): double quotes, backslash escapes,
// and VALUE as the rest of the line.
TEST_F(KvToolTest, ShellTakesQuotedAndEscapedArguments) {
  const std::string in =
      "put \"k 2\" \"v 2\"\n"
      "get \"k 2\"\n"
      "get k\\ 2\n"           // an escaped space
      "put k two  words\n"      // unquoted: the rest of the line, as before
      "get k\n"
      "put q a \"b  c\" d\\\"\n"
      "get q\n"
      "put t \"a\\tb\\x21\\\\\"\n"  // \t, \x21 and \\ in quotes
      "put empty \"\"\n"
      "get empty\n"
      "put it's fine\n"         // a single quote is an ordinary character
      "get it's\n"
      "put u \"open\n"
      "put u \\x4\n"
      "put u x\\\n"
      "get \"k 2\" extra\n"
      "scan \"k \"\n";
  CommandResult r = Kv({"shell"}, in);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out,
            "OK\n"
            "v 2\n"
            "v 2\n"
            "OK\n"
            "two  words\n"
            "OK\n"
            "a b  c d\"\n"
            "OK\n"
            "OK\n"
            "\n"
            "OK\n"
            "fine\n"
            "ERR unterminated double quote\n"
            "ERR bad escape '\\x4': \\x takes two hex digits\n"
            "ERR a backslash ends the line\n"
            "ERR usage: get KEY\n"
            "k 2\tv 2\nEND\n");
  r = Kv({"get", "t"});
  EXPECT_EQ(r.out, "a\tb!\\\n");
}

TEST(KvShellTest, SplitsWordsAndKeepsTheirPlaceInTheLine) {
  ASSERT_OK_AND_ASSIGN(std::vector<tools::ShellWord> words,
                       tools::SplitShellLine("  put \"a b\"\tc\\ d  "));
  ASSERT_EQ(words.size(), 3u);
  EXPECT_EQ(words[0].text, "put");
  EXPECT_EQ(words[1].text, "a b");
  EXPECT_EQ(words[2].text, "c d");
  EXPECT_EQ(words[1].begin, 6u);
  EXPECT_EQ(words[1].end, 11u);
  EXPECT_EQ(words[2].begin, 12u);
  EXPECT_EQ(words[2].end, 16u);
  EXPECT_THAT(tools::UnquoteShellText("a  \"b \" \\x00"),
              IsOkAndHolds(std::string("a  b  \0", 7)));
  EXPECT_EQ(tools::SplitShellLine("\"\"").value().at(0).text, "");
}

TEST_F(KvToolTest, StatsCheckpointRecover) {
  EXPECT_EQ(Kv({"put", "a", "1"}).out, "OK\n");
  EXPECT_EQ(Kv({"put", "b", "2"}).out, "OK\n");
  CommandResult r = Kv({"recover"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, StartsWith("checkpoint: none\n"
                                "wal: 1 segment, offsets [0, 2)\n"
                                "replayed: 2 records, 34 bytes\n"  // 2 x (12 + 5)
                                "torn bytes cut: 0\n"
                                "batches cut: 0\n"
                                "records skipped: 0\n"
                                "corruption: none\n"
                                "keys: 2\n"
                                "time: "));
  const std::string checkpoint =
      (dir_ / "CHECKPOINT-00000000000000000002").string();
  r = Kv({"checkpoint"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, StartsWith("OK " + checkpoint +
                                " (covers WAL offsets below 2, 2 keys, "));
  r = Kv({"stats"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "keys: 2\ncheckpoint keys: 2\nmemtable entries: 0\n"
                   "memtable bytes: 0\nwal offsets: [2, 2)\nwal segments: 1\n"
                   "wal bytes since checkpoint: 0\ncheckpoint: " +
                       checkpoint + "\n");
  // A delete over the checkpoint is a memtable entry that hides a key.
  EXPECT_EQ(Kv({"del", "a"}).out, "OK\n");
  r = Kv({"stats"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, StartsWith("keys: 1\ncheckpoint keys: 2\n"
                                "memtable entries: 1\nmemtable bytes: 1\n"));
  EXPECT_EQ(Kv({"get", "a"}).exit_code, kExitNotFound);
  EXPECT_EQ(Kv({"put", "a", "1"}).out, "OK\n");
  r = Kv({"recover"});
  EXPECT_THAT(r.out, StartsWith("checkpoint: " + checkpoint +
                                " (covers WAL offsets below 2, 2 keys)\n"
                                "wal: 1 segment, offsets [2, 4)\n"
                                "replayed: 2 records, 32 bytes\n"  // del + put
                                "torn bytes cut: 0\n"
                                "batches cut: 0\n"
                                "records skipped: 0\n"
                                "corruption: none\n"
                                "keys: 2\n"));
}

// A usage error is one line and a hint to the right help, exit 2, and
// nothing is opened or created.
TEST_F(KvToolTest, UsageErrors) {
  const struct {
    std::vector<std::string> args;
    std::string err;
  } cases[] = {
      {.args = {}, .err = "kv: no command given\ntry 'kv --help'\n"},
      {.args = {"frob"}, .err = "kv: unknown command 'frob'\ntry 'kv --help'\n"},
      {.args = {"help", "frob"},
       .err = "kv: unknown command 'frob'\ntry 'kv --help'\n"},
      {.args = {"get"}, .err = "kv: get: missing KEY\ntry 'kv get --help'\n"},
      {.args = {"put", "k"}, .err = "kv: put: missing VALUE\ntry 'kv put --help'\n"},
      {.args = {"get", "a", "b"},
       .err = "kv: get: unexpected argument 'b'\ntry 'kv get --help'\n"},
      {.args = {"--bogus", "get", "a"},
       .err = "kv: get: unknown flag '--bogus'\ntry 'kv get --help'\n"},
      {.args = {"-x", "get", "a"},
       .err = "kv: get: unknown flag '-x'\ntry 'kv get --help'\n"},
      {.args = {"--recovery-mode", "best-effort", "get", "a"},
       .err = "kv: get: unknown recovery mode 'best-effort' (one of "
              "point-in-time, tolerate-corrupted-tail-records, "
              "absolute-consistency, skip-any-corrupted-records)\n"
              "try 'kv get --help'\n"},
      {.args = {"get", "a", "--recovery-mode"},
       .err = "kv: get: flag '--recovery-mode' needs a value\n"
              "try 'kv get --help'\n"},
      {.args = {"--hex=yes", "scan"},
       .err = "kv: scan: flag '--hex' takes no value\ntry 'kv scan --help'\n"},
      {.args = {"put", "--force", "k", "v"},
       .err = "kv: put: unknown flag '--force'\ntry 'kv put --help'\n"},
      {.args = {"repair", "--fast"},
       .err = "kv: repair: unknown flag '--fast'\ntry 'kv repair --help'\n"},
      {.args = {"--dir=", "stats"},
       .err = "kv: stats: --dir must not be empty\ntry 'kv stats --help'\n"},
  };
  for (const auto& c : cases) {
    const CommandResult r = Kv(c.args);
    EXPECT_EQ(r.exit_code, kExitUsage) << ::testing::PrintToString(c.args);
    EXPECT_EQ(r.out, "") << ::testing::PrintToString(c.args);
    EXPECT_EQ(r.err, c.err) << ::testing::PrintToString(c.args);
  }
  EXPECT_FALSE(std::filesystem::exists(dir_));  // nothing was opened
}

// Flags may stand before or after the command; after it, an argument
// starting with "--" is a flag, never a key: `kv put --dir X` stores no
// key "--dir". After "--" everything is an argument.
TEST_F(KvToolTest, FlagsAnywhereAndDoubleDashEndsThem) {
  CommandResult r = Kv({"put", "--dir", "X"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_EQ(r.err, "kv: put: missing KEY\ntry 'kv put --help'\n");
  EXPECT_FALSE(std::filesystem::exists(dir_));
  EXPECT_FALSE(std::filesystem::exists("X"));

  r = Kv({"put", "--", "--dir", "X"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "OK\n");
  r = Kv({"put", "t", "-5"});  // a single '-' starts a value
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = Kv({"scan", "--hex"});  // a flag after the command
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "2d2d646972\t58\n74\t2d35\n");
  r = Kv({"get", "--", "--dir"});
  EXPECT_EQ(r.out, "X\n");
  // --dir after the command names the store too.
  r = RunCommand({KV_PATH, "get", "t", "--dir", dir_.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "-5\n");
}

TEST_F(KvToolTest, HelpForKvAndEachCommand) {
  CommandResult r = RunCommand({KV_PATH, "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(r.out, StartsWith("usage: kv [FLAGS] COMMAND [ARGS]\n"));
  EXPECT_THAT(r.out, HasSubstr("\n  put KEY VALUE    store a value; prints OK "
                               "once it is durable\n"));
  EXPECT_THAT(r.out, HasSubstr("\n  repair [--force] back the store up, "));
  EXPECT_THAT(r.out, EndsWith(std::string(tools::kExitStatusHelp)));
  EXPECT_EQ(RunCommand({KV_PATH, "help"}).out, r.out);
  EXPECT_EQ(RunCommand({KV_PATH, "-h"}).out, r.out);
  for (const char* command : {"get", "put", "del", "scan", "checkpoint", "stats",
                              "recover", "repair", "shell"}) {
    r = RunCommand({KV_PATH, command, "--help"});
    EXPECT_EQ(r.exit_code, 0) << command;
    EXPECT_EQ(r.err, "") << command;
    EXPECT_THAT(r.out, StartsWith(std::string("usage: kv [FLAGS] ") + command))
        << command;
    EXPECT_THAT(r.out, EndsWith(std::string(tools::kExitStatusHelp))) << command;
    EXPECT_EQ(RunCommand({KV_PATH, "help", command}).out, r.out) << command;
  }
  EXPECT_THAT(RunCommand({KV_PATH, "shell", "--help"}).out,
              HasSubstr(std::string(tools::kShellHelp)));
  EXPECT_THAT(RunCommand({KV_PATH, "repair", "--help"}).out,
              StartsWith("usage: kv [FLAGS] repair [--force]\n"));
}

// A --dir that names a file, or whose parent is missing, is refused before
// anything is opened, in walctl's words, and nothing is created.
TEST_F(KvToolTest, OpenFailureNamesTheCause) {
  std::filesystem::create_directories(dir_.parent_path());
  const std::filesystem::path file = dir_.string() + "-file";
  { std::FILE* f = std::fopen(file.c_str(), "w"); std::fclose(f); }
  const std::filesystem::path missing = dir_ / "missing";
  const struct {
    std::string dir;
    std::vector<std::string> args;
    std::string err;
  } cases[] = {
      {.dir = file.string(), .args = {"get", "a"},
       .err = "kv: cannot open " + file.string() + ": not a directory\n"},
      {.dir = file.string(), .args = {"put", "a", "1"},
       .err = "kv: cannot open " + file.string() + ": not a directory\n"},
      {.dir = file.string(), .args = {"repair"},
       .err = "kv: cannot open " + file.string() + ": not a directory\n"},
      {.dir = (file / "kv").string(), .args = {"put", "a", "1"},
       .err = "kv: cannot create " + file.string() + "/kv: parent directory " +
              file.string() + " is not a directory\n"},
      {.dir = (missing / "kv").string(), .args = {"put", "a", "1"},
       .err = "kv: cannot create " + missing.string() +
              "/kv: parent directory " + missing.string() + " does not exist\n"},
      {.dir = (missing / "kv").string(), .args = {"shell"},
       .err = "kv: cannot create " + missing.string() +
              "/kv: parent directory " + missing.string() + " does not exist\n"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv = {KV_PATH, "--dir", c.dir};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    const CommandResult r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, kExitFailed) << c.dir << " " << c.args[0];
    EXPECT_EQ(r.out, "") << c.dir << " " << c.args[0];
    EXPECT_EQ(r.err, c.err) << c.dir << " " << c.args[0];
  }
  EXPECT_FALSE(std::filesystem::exists(dir_));
  EXPECT_EQ(std::filesystem::file_size(file), 0u);
  std::filesystem::remove(file);
}

// A missing key is 1; a store that cannot be read is 4 (missing) or 3
// (damaged): a script tells them apart by the exit status alone.
TEST_F(KvToolTest, ReadCommandsOnAMissingStoreCreateNothing) {
  for (const char* command : {"get", "scan", "stats"}) {
    std::vector<std::string> args = {command};
    if (std::string(command) == "get") args.push_back("a");
    CommandResult r = Kv(args);
    EXPECT_EQ(r.exit_code, kExitFailed) << command;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, "kv: cannot open " + dir_.string() + ": no such directory\n");
    EXPECT_FALSE(std::filesystem::exists(dir_));
  }
  std::filesystem::create_directories(dir_);
  CommandResult r = Kv({"scan"});
  EXPECT_EQ(r.exit_code, kExitFailed);
  EXPECT_EQ(r.err, "kv: " + dir_.string() +
                       ": no store here (no wal/ directory and no "
                       "checkpoint)\n");
  EXPECT_TRUE(std::filesystem::is_empty(dir_));
}

// The newest WAL store of the store, after `kv put`s.
std::filesystem::path LastWalStore(const std::filesystem::path& dir) {
  std::filesystem::path last;
  for (const auto& e : std::filesystem::directory_iterator(dir / "wal")) {
    if (e.path().extension() == ".store" && e.path() > last) last = e.path();
  }
  return last;
}

// A damaged tail: reads leave it (and say so), the next write cuts it (and
// says so): nothing is cut silently.
TEST_F(KvToolTest, TornTailIsReportedByReadsAndCutLoudlyByWrites) {
  EXPECT_EQ(Kv({"put", "a", "1"}).out, "OK\n");
  const std::filesystem::path store = LastWalStore(dir_);
  const uint64_t size = std::filesystem::file_size(store);
  {
    std::FILE* f = std::fopen(store.c_str(), "ab");
    ASSERT_NE(f, nullptr);
    const std::string garbage(5000, '\x33');
    std::fwrite(garbage.data(), 1, garbage.size(), f);
    std::fclose(f);
  }
  CommandResult r = Kv({"get", "a"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "1\n");
  EXPECT_EQ(r.err, "kv: warning: " + store.string() +
                       ": 5000 bytes after the last valid record at position " +
                       std::to_string(size) +
                       " left out (a write in progress, or a torn tail that a "
                       "writable open cuts)\n");
  EXPECT_EQ(std::filesystem::file_size(store), size + 5000);
  r = Kv({"put", "b", "2"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "OK\n");
  EXPECT_EQ(r.err, "kv: warning: " + store.string() + ": cut 5000 bytes after "
                       "the last valid record at position " +
                       std::to_string(size) + "\n");
  EXPECT_EQ(Kv({"scan"}).out, "a\t1\nb\t2\n");
}

// get/scan/stats take no lock: they work while a writer has the store open.
TEST_F(KvToolTest, ReadsWorkWhileAShellHasTheStoreOpen) {
  EXPECT_EQ(Kv({"put", "a", "1"}).out, "OK\n");
  db::Options options;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<db::DB> writer,
                       db::DB::Open(dir_.string(), options));
  ASSERT_OK(writer->Put("b", "2"));
  CommandResult r = Kv({"scan"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "a\t1\nb\t2\n");
  EXPECT_EQ(r.err, "");
  r = Kv({"put", "c", "3"});  // a second writer is refused
  EXPECT_EQ(r.exit_code, kExitFailed);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "kv: " + (dir_ / "LOCK").string() +
                       ": locked by another process\n");
  ASSERT_OK(writer->Close());
}

// The case that once left a store no command could open: 4 bytes
// overwritten at position 200 of the WAL, every write synced.
TEST_F(KvToolTest, RepairMakesADamagedStoreOpenAgainAndSaysWhatWasLost) {
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(Kv({"put", "key" + std::to_string(i), "v" + std::to_string(i)}).out,
              "OK\n");
  }
  const std::filesystem::path store = LastWalStore(dir_);
  {
    std::FILE* f = std::fopen(store.c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(std::fseek(f, 200, SEEK_SET), 0);
    std::fwrite("\xff\xff\xff\xff", 1, 4, f);
    std::fclose(f);
  }
  CommandResult r = Kv({"get", "key1"});
  EXPECT_EQ(r.exit_code, kExitDamaged);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr(store.string() + ": record at position "));
  // Skip mode reads around the damage, changing nothing.
  r = Kv({"--recovery-mode", "skip-any-corrupted-records", "get", "key9"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "v9\n");

  r = Kv({"repair"});
  EXPECT_EQ(r.exit_code, kExitDamaged);
  EXPECT_THAT(r.err, HasSubstr("nothing was changed ('repair --force' drops "
                               "the damaged records instead); backup: " +
                               dir_.string() + ".repair-backup-"));
  r = Kv({"repair", "--force"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::StartsWith("backup: " + dir_.string() +
                                           ".repair-backup-"));
  EXPECT_THAT(r.out, HasSubstr("checkpoint: none\nwal records replayed: 9\n"
                               "lost: record 4 (keys unknown): " +
                               store.string() +
                               ": record at position 180: checksum mismatch "
                               "at position 180\n"
                               "damage: " + store.string() +
                               " at byte 180: checksum mismatch (270 bytes "
                               "dropped)\n"));
  EXPECT_THAT(r.out, HasSubstr("repaired: 9 keys in " + dir_.string() +
                               "/CHECKPOINT-00000000000000000010; the WAL "
                               "restarts at offset 10\n"));
  r = Kv({"scan"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out,
            "key0\tv0\nkey1\tv1\nkey2\tv2\nkey3\tv3\nkey5\tv5\nkey6\tv6\n"
            "key7\tv7\nkey8\tv8\nkey9\tv9\n");
  EXPECT_EQ(Kv({"put", "after", "repair"}).out, "OK\n");
  for (const auto& e : std::filesystem::directory_iterator(dir_.parent_path())) {
    if (e.path().string().rfind(dir_.string() + ".repair-backup-", 0) == 0) {
      std::filesystem::remove_all(e.path());
    }
  }
}

TEST_F(KvToolTest, DefaultDirectory) {
  std::filesystem::create_directories(dir_);
  CommandResult r = RunCommand({KV_PATH, "put", "k", "v"}, dir_.string());
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "blockwal-kv" / "wal"));
}

// A fresh scratch directory per test, root_, removed afterwards.
class KvDemoTest : public ::testing::Test {
 protected:

  static void WriteFile(const std::filesystem::path& path,
                        const std::string& data) {
    std::ofstream(path, std::ios::binary) << data;
  }
  // Every regular file under `dir`, by relative path, with its contents.
  static std::map<std::string, std::string> Files(
      const std::filesystem::path& dir) {
    std::map<std::string, std::string> files;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
      if (!e.is_regular_file()) continue;
      std::ostringstream data;
      data << std::ifstream(e.path(), std::ios::binary).rdbuf();
      files[std::filesystem::relative(e.path(), dir).string()] = data.str();
    }
    return files;
  }

  ScratchDir scratch_{"kv_demo_test"};
  const std::filesystem::path root_ = scratch_.path();
};

// Adopts an empty directory, marks it, and on a second run (its own
// directory now) replaces only what it writes: a file someone added stays.
TEST_F(KvDemoTest, RunsAndVerifiesInAnEmptyDirectoryAndReusesIt) {
  const std::filesystem::path dir = root_ / "demo";
  std::filesystem::create_directory(dir);
  CommandResult r = RunCommand({KV_DEMO_PATH, "--seed", "42", dir.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("[1] process crash"));
  EXPECT_THAT(r.out, HasSubstr("[2] power loss"));
  EXPECT_THAT(r.out, HasSubstr("RESULT: every check passed\n"));
  EXPECT_EQ(r.err, "");
  EXPECT_TRUE(std::filesystem::is_regular_file(dir / ".blockwal-demo"));
  EXPECT_TRUE(std::filesystem::is_directory(dir / "kill-test"));

  WriteFile(dir / "notes.txt", "mine\n");
  r = RunCommand({KV_DEMO_PATH, "--seed", "43", dir.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("RESULT: every check passed\n"));
  EXPECT_EQ(Files(dir).at("notes.txt"), "mine\n");
}

// The issue-13 case: DIR held a user's file and the demo removed DIR.
TEST_F(KvDemoTest, RefusesADirectoryItDidNotMakeAndChangesNothing) {
  const std::filesystem::path dir = root_ / "mine";
  std::filesystem::create_directory(dir);
  WriteFile(dir / "notes.txt", "keep me\n");
  const CommandResult r = RunCommand({KV_DEMO_PATH, dir.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "blockwal_kv_demo: refusing to use " + dir.string() +
                       ": it is not empty and has no .blockwal-demo file, so "
                       "no demo made it; give a new or empty directory, or "
                       "one a demo made\n");
  EXPECT_EQ(Files(dir),
            (std::map<std::string, std::string>{{"notes.txt", "keep me\n"}}));
}

TEST_F(KvDemoTest, RefusesAFile) {
  const std::filesystem::path file = root_ / "file";
  WriteFile(file, "data");
  const CommandResult r = RunCommand({KV_DEMO_PATH, file.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, StartsWith("blockwal_kv_demo: refusing to use " +
                                file.string() +
                                ": it is not a directory one can list ("));
  EXPECT_EQ(Files(root_),
            (std::map<std::string, std::string>{{"file", "data"}}));
}

// scripts/demo.sh (with the binary given, so it does not build) runs the demo
// in the caller's directory, so a relative DIR names a path there, not in the
// clone: a new one is made there, and one there that holds a user's file is
// refused (from the clone, a fresh one would have been made and used).
TEST_F(KvDemoTest, DemoScriptTakesARelativeDirFromTheCallersDirectory) {
  auto demo_sh = [&](const std::string& dir) {
    return RunCommand(
        {"/usr/bin/env", std::string("BLOCKWAL_DEMO_BINARY=") + KV_DEMO_PATH,
         DEMO_SH_PATH, "--seed", "42", dir},
        root_.string());
  };
  const std::filesystem::path clone =
      std::filesystem::path(DEMO_SH_PATH).parent_path().parent_path();
  const std::string made = "kv_demo_test_made";
  CommandResult r = demo_sh(made);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("RESULT: every check passed\n"));
  EXPECT_TRUE(std::filesystem::is_regular_file(root_ / made / ".blockwal-demo"));
  EXPECT_TRUE(std::filesystem::is_directory(root_ / made / "kill-test"));
  EXPECT_FALSE(std::filesystem::exists(clone / made));

  const std::string taken = "kv_demo_test_taken";
  std::filesystem::create_directory(root_ / taken);
  WriteFile(root_ / taken / "notes.txt", "keep me\n");
  r = demo_sh(taken);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, StartsWith("blockwal_kv_demo: refusing to use " + taken +
                                ": it is not empty"));
  EXPECT_EQ(Files(root_ / taken),
            (std::map<std::string, std::string>{{"notes.txt", "keep me\n"}}));
  EXPECT_FALSE(std::filesystem::exists(clone / taken));
}

}  // namespace
}  // namespace blockwal::testing
