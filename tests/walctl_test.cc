// Runs the built walctl and blockwal_block_demo binaries (paths come from
// compile definitions set in tests/CMakeLists.txt) on logs written with
// BlockWriter, and checks their exact output and exit status. Also unit-tests
// the small display and JSON helpers the tools share.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/run_command.h"
#include "tests/scratch_dir.h"
#include "tests/status_matchers.h"
#include "tests/walctl_test_util.h"
#include "tools/cli.h"
#include "tools/display.h"
#include "tools/json_util.h"
#include "blockwal/util/file_system.h"
#include "blockwal/wal/block_writer.h"
#include "blockwal/wal/format.h"

#ifndef BLOCK_DEMO_PATH
#error "BLOCK_DEMO_PATH must name the blockwal_block_demo binary"
#endif

namespace blockwal {
namespace {

using ::blockwal::testing::CommandResult;
using ::blockwal::testing::FlipByte;
using ::blockwal::testing::IsOkAndHolds;
using ::blockwal::testing::RunCommand;
using ::blockwal::testing::ScratchDir;
using ::blockwal::testing::Walctl;
using ::testing::AllOf;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;
using wal::kBlockSize;
using wal::kHeaderSize;

// Each test's files are in dir_, a fresh ScratchDir.
class WalctlTest : public ::testing::Test {
 protected:
  // Without a directory (ScratchDir has failed the test) nothing is run.
  void SetUp() override { ASSERT_FALSE(dir_.empty()); }

  std::string Path(absl::string_view name) const { return JoinPath(dir_, name); }

  // Writes `payloads` as a block-format log at `path`; returns each record's
  // position.
  std::vector<uint64_t> WriteLog(const std::string& path,
                                 const std::vector<std::string>& payloads) {
    std::vector<uint64_t> positions;
    auto file = FileSystem::Default()->NewWritableFile(path);
    EXPECT_OK(file);
    if (!file.ok()) return positions;
    wal::BlockWriter writer(file->get());
    for (const std::string& payload : payloads) {
      absl::StatusOr<uint64_t> position = writer.AddRecord(payload);
      EXPECT_OK(position);
      if (!position.ok()) return positions;
      positions.push_back(*position);
    }
    EXPECT_OK(writer.Flush());
    EXPECT_OK((*file)->Close());
    return positions;
  }

  // Three records where the middle one fills the rest of block 0, so damage
  // to it costs nothing else: "first" at 0, 32749 filler bytes at 12,
  // "after" at 32768. The filler's payload byte 10 is flipped.
  std::string WriteCorruptLog() {
    const std::string path = Path("corrupt.log");
    const std::vector<uint64_t> positions = WriteLog(
        path, {"first", std::string(kBlockSize - 12 - kHeaderSize, 'x'), "after"});
    EXPECT_EQ(positions, (std::vector<uint64_t>{0, 12, 32768}));
    FlipByte(path, 12 + kHeaderSize + 10);
    return path;
  }

  const ScratchDir scratch_{"walctl_test"};
  const std::string dir_ = scratch_.str();
};

TEST_F(WalctlTest, JsonDumpPrintsEveryRecordExactly) {
  const std::string path = Path("three.log");
  EXPECT_EQ(WriteLog(path, {"hello", "", std::string("\x00\x01\xab\xff", 4)}),
            (std::vector<uint64_t>{0, 12, 19}));
  const CommandResult r = Walctl({"dump", "--json", path});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out,
            "{\"index\":0,\"position\":0,\"length\":5,\"payload_hex\":\"68656c6c6f\"}\n"
            "{\"index\":1,\"position\":12,\"length\":0,\"payload_hex\":\"\"}\n"
            "{\"index\":2,\"position\":19,\"length\":4,\"payload_hex\":\"0001abff\"}\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(WalctlTest, FlagMayFollowFile) {
  const std::string path = Path("one.log");
  WriteLog(path, {"x"});
  const CommandResult r = Walctl({"dump", path, "--json"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out,
            "{\"index\":0,\"position\":0,\"length\":1,\"payload_hex\":\"78\"}\n");
}

TEST_F(WalctlTest, JsonDumpReportsChecksumMismatchAndKeepsReading) {
  const std::string path = WriteCorruptLog();
  const CommandResult r = Walctl({"dump", "--json", path});
  EXPECT_EQ(r.exit_code, tools::kExitDamaged);
  EXPECT_EQ(r.err,
            "{\"position\":12,\"dropped_bytes\":32756,\"kind\":\"ChecksumMismatch\",\"reason\":\"checksum "
            "mismatch\"}\n");
  // Index counts the records printed, so the record after the damage is 1.
  EXPECT_EQ(r.out,
            "{\"index\":0,\"position\":0,\"length\":5,\"payload_hex\":\"6669727374\"}\n"
            "{\"index\":1,\"position\":32768,\"length\":5,\"payload_hex\":\"6166746572\"}\n");
}

TEST_F(WalctlTest, TableDumpReportsCorruptionOnStderr) {
  const std::string path = WriteCorruptLog();
  const CommandResult r = Walctl({"dump", path});
  EXPECT_EQ(r.exit_code, tools::kExitDamaged);
  EXPECT_EQ(r.err,
            "corruption at position 12: 32756 bytes dropped (checksum mismatch)\n");
  EXPECT_THAT(r.out, AllOf(HasSubstr("first"), HasSubstr("after")));
  EXPECT_THAT(r.out, HasSubstr("2 records, 10 payload bytes, 1 corruption "
                               "(32756 bytes dropped)\n"));
}

TEST_F(WalctlTest, TableDumpShowsFragmentLayouts) {
  const std::string path = Path("spanning.log");
  // "small" at 0 (FULL); 70000 bytes at 12: 32749 in block 0, 32761 in
  // block 1, the rest in block 2 (FIRST+MIDDLE+LAST); "tail" right after.
  const std::vector<uint64_t> positions =
      WriteLog(path, {"small", std::string(70000, 'y'), "tail"});
  ASSERT_EQ(positions.size(), 3u);
  EXPECT_EQ(positions[1], 12u);
  EXPECT_EQ(positions[2] / kBlockSize, 2u);
  const CommandResult r = Walctl({"dump", path});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "");
  const std::vector<std::string> lines = absl::StrSplit(r.out, '\n');
  ASSERT_EQ(lines.size(), 6u) << r.out;  // header, 3 records, summary, ""
  EXPECT_THAT(lines[0], AllOf(HasSubstr("POSITION"), HasSubstr("FRAGMENTS"),
                              HasSubstr("LENGTH"), HasSubstr("PAYLOAD")));
  EXPECT_THAT(lines[1], AllOf(HasSubstr(" 0 "), HasSubstr(" FULL "),
                              HasSubstr(" 5 "), HasSubstr("small")));
  // The preview stops at 40 characters and says so.
  EXPECT_THAT(lines[2],
              AllOf(HasSubstr(" 12 "), HasSubstr(" FIRST+MIDDLE+LAST "),
                    HasSubstr(" 70000 "),
                    HasSubstr(" " + std::string(40, 'y') + "...")));
  EXPECT_THAT(lines[3], AllOf(HasSubstr(absl::StrCat(" ", positions[2], " ")),
                              HasSubstr(" FULL "), HasSubstr("tail")));
  EXPECT_EQ(lines[4], "3 records, 70009 payload bytes, 0 corruptions");
  EXPECT_EQ(lines[5], "");
}

TEST_F(WalctlTest, TornTailIsNotCorruption) {
  // A writer that died mid-record leaves a cut-off fragment: the reader ends
  // there silently, so the dump succeeds.
  const std::string path = Path("torn.log");
  WriteLog(path, {"kept", std::string(100, 'z')});
  ASSERT_OK(FileSystem::Default()->TruncateFile(path, 11 + kHeaderSize + 50));
  const CommandResult r = Walctl({"dump", "--json", path});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out,
            "{\"index\":0,\"position\":0,\"length\":4,\"payload_hex\":\"6b657074\"}\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(WalctlTest, EmptyFileHasNoRecords) {
  const std::string path = Path("empty.log");
  WriteLog(path, {});
  CommandResult r = Walctl({"dump", "--json", path});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
  r = Walctl({"dump", path});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("0 records, 0 payload bytes, 0 corruptions\n"));
  EXPECT_EQ(r.err, "");
}

// The reader ends quietly at bytes it cannot take for a record, so a file
// that is no log reads as an empty one: the dump must say so.
TEST_F(WalctlTest, NonEmptyFileWithoutRecordsIsDamaged) {
  const std::string path = Path("text.txt");
  ASSERT_OK(WriteStringToFile(FileSystem::Default(),
                              "echo 7/tcp\ndiscard 9/tcp\n", path, false));
  const std::string message = "walctl: " + path +
                              ": no record found in 25 bytes; is it a "
                              "block-format log?\n";
  CommandResult r = Walctl({"dump", path});
  EXPECT_EQ(r.exit_code, tools::kExitDamaged);
  EXPECT_EQ(r.out,
            "    POSITION  FRAGMENTS                   LENGTH  PAYLOAD\n"
            "0 records, 0 payload bytes, 0 corruptions\n");
  EXPECT_EQ(r.err, message);
  r = Walctl({"dump", "--json", path});
  EXPECT_EQ(r.exit_code, tools::kExitDamaged);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, message);
  // A torn first record is no record either.
  const std::string torn = Path("torn-first.log");
  WriteLog(torn, {std::string(100, 'z')});
  ASSERT_OK(FileSystem::Default()->TruncateFile(torn, kHeaderSize + 50));
  r = Walctl({"dump", "--json", torn});
  EXPECT_EQ(r.exit_code, tools::kExitDamaged);
  EXPECT_EQ(r.err, "walctl: " + torn +
                       ": no record found in 57 bytes; is it a block-format "
                       "log?\n");
}

TEST_F(WalctlTest, ReadErrorIsExitFour) {
  // Reading /proc/self/mem at offset 0 fails with EIO: an I/O error after a
  // successful open.
  if (!FileSystem::Default()->FileExists("/proc/self/mem").value_or(false)) {
    GTEST_SKIP() << "no /proc/self/mem";
  }
  const CommandResult r = Walctl({"dump", "--json", "/proc/self/mem"});
  EXPECT_EQ(r.exit_code, tools::kExitFailed);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("walctl: read error, stopped early: /proc/self/mem"));
}

TEST_F(WalctlTest, MissingFileIsExitFourAndNamesTheFile) {
  const std::string path = Path("no-such.log");
  const CommandResult r = Walctl({"dump", path});
  EXPECT_EQ(r.exit_code, tools::kExitFailed);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "walctl: cannot open " + path +
                       ": open for reading: No such file or directory\n");
}

// A usage error is one line and a hint, never the whole help, and exit 2.
TEST_F(WalctlTest, UsageErrorsAreOneLineAndAHint) {
  const std::string path = Path("one.log");
  WriteLog(path, {"x"});
  const struct {
    std::vector<std::string> args;
    std::string err;
  } cases[] = {
      {.args = {},
       .err = "walctl: missing subcommand\ntry 'walctl --help'\n"},
      {.args = {"frobnicate"},
       .err = "walctl: unknown subcommand 'frobnicate'\ntry 'walctl --help'\n"},
      {.args = {"--bogus"},
       .err = "walctl: unknown flag '--bogus'\ntry 'walctl --help'\n"},
      {.args = {"help", "frobnicate"},
       .err = "walctl: unknown subcommand 'frobnicate'\ntry 'walctl --help'\n"},
      {.args = {"dump", "--json"},
       .err = "walctl: dump: missing FILE or DIR\ntry 'walctl dump --help'\n"},
      {.args = {"dump", Path("a"), Path("b")},
       .err = "walctl: dump: expected exactly one FILE or DIR\n"
              "try 'walctl dump --help'\n"},
      {.args = {"dump", "--bogus", path},
       .err = "walctl: dump: unknown flag '--bogus'\ntry 'walctl dump --help'\n"},
      {.args = {"dump", "--json=yes", path},
       .err = "walctl: dump: flag '--json' takes no value\n"
              "try 'walctl dump --help'\n"},
  };
  for (const auto& c : cases) {
    const CommandResult r = Walctl(c.args);
    EXPECT_EQ(r.exit_code, tools::kExitUsage) << absl::StrJoin(c.args, " ");
    EXPECT_EQ(r.out, "") << absl::StrJoin(c.args, " ");
    EXPECT_EQ(r.err, c.err) << absl::StrJoin(c.args, " ");
  }
}

TEST_F(WalctlTest, HelpGoesToStdoutWithExitZero) {
  CommandResult r = Walctl({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(r.out, AllOf(StartsWith("usage: walctl"), HasSubstr("  dump "),
                           EndsWith(std::string(tools::kExitStatusHelp))));

  r = Walctl({"dump", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(r.out, AllOf(StartsWith("usage: walctl dump [--json] FILE"),
                           EndsWith(std::string(tools::kExitStatusHelp))));

  const CommandResult help_dump = Walctl({"help", "dump"});
  EXPECT_EQ(help_dump.exit_code, 0);
  EXPECT_EQ(help_dump.out, r.out);
}

TEST_F(WalctlTest, BlockDemoSucceedsInItsDefaultDirectory) {
  const CommandResult r = RunCommand({BLOCK_DEMO_PATH}, dir_);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(r.out, HasSubstr("all 8 records read back intact\n"));
  EXPECT_THAT(r.out, HasSubstr("(checksum mismatch)\n"));
  EXPECT_THAT(r.out, HasSubstr("records read: 0, 1, 2, 3, 6, 7;"));
  EXPECT_THAT(r.out, HasSubstr("demo OK"));
  EXPECT_THAT(FileSystem::Default()->FileExists(
                  JoinPath(dir_, "blockwal-demo/demo.log")),
              IsOkAndHolds(true));
  EXPECT_THAT(FileSystem::Default()->FileExists(
                  JoinPath(dir_, "blockwal-demo/demo-corrupt.log")),
              IsOkAndHolds(true));
  EXPECT_THAT(FileSystem::Default()->FileExists(
                  JoinPath(dir_, "blockwal-demo/.blockwal-demo")),
              IsOkAndHolds(true));
  // Its own directory now: a second run reuses it.
  const CommandResult again = RunCommand({BLOCK_DEMO_PATH}, dir_);
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_THAT(again.out, HasSubstr("demo OK"));
}

// A directory the demo did not make, holding a file named as one the demo
// writes: refused, and the file is left as it was.
TEST_F(WalctlTest, BlockDemoRefusesADirectoryItDidNotMake) {
  const std::string demo_dir = Path("mine");
  ASSERT_OK(FileSystem::Default()->CreateDir(demo_dir));
  const std::string log = JoinPath(demo_dir, "demo.log");
  ASSERT_OK(WriteStringToFile(FileSystem::Default(), "my log", log, false));
  const CommandResult r = RunCommand({BLOCK_DEMO_PATH, demo_dir});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "blockwal_block_demo: refusing to use " + demo_dir +
                       ": it is not empty and has no .blockwal-demo file, so "
                       "no demo made it; give a new or empty directory, or "
                       "one a demo made\n");
  EXPECT_THAT(FileSystem::Default()->GetChildren(demo_dir),
              IsOkAndHolds(::testing::ElementsAre("demo.log")));
  EXPECT_THAT(ReadFileToString(FileSystem::Default(), log),
              IsOkAndHolds("my log"));
}

TEST_F(WalctlTest, BlockDemoWritesToTheGivenDirectory) {
  const std::string demo_dir = Path("elsewhere");
  const CommandResult r = RunCommand({BLOCK_DEMO_PATH, demo_dir});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("demo OK"));
  // walctl agrees with the demo about the damaged copy.
  const CommandResult dump =
      Walctl({"dump", "--json", JoinPath(demo_dir, "demo-corrupt.log")});
  EXPECT_EQ(dump.exit_code, tools::kExitDamaged);
  EXPECT_THAT(dump.err, HasSubstr("\"reason\":\"checksum mismatch\""));
}

// ---- the helpers behind the output ----

// Walks the physical records of `bytes` from `position` for one logical
// record and names them the way FragmentLayout does (uncompressed).
std::vector<std::string> ActualFragments(const std::string& bytes,
                                         uint64_t position) {
  static const char* const kNames[] = {"ZERO", "FULL", "FIRST", "MIDDLE", "LAST"};
  std::vector<std::string> types;
  while (true) {
    if (kBlockSize - position % kBlockSize < static_cast<uint64_t>(kHeaderSize)) {
      position += kBlockSize - position % kBlockSize;
    }
    const unsigned char type = static_cast<unsigned char>(bytes[position + 6]);
    const size_t length = static_cast<unsigned char>(bytes[position + 4]) |
                          static_cast<unsigned char>(bytes[position + 5]) << 8;
    types.push_back(type <= 4 ? kNames[type] : "?");
    if (type != wal::kFirstType && type != wal::kMiddleType) return types;
    position += kHeaderSize + length;
  }
}

std::string Compress(const std::vector<std::string>& types) {
  if (types.size() == 1) return types[0];
  const size_t middles = types.size() - 2;
  if (middles == 0) return "FIRST+LAST";
  if (middles == 1) return "FIRST+MIDDLE+LAST";
  return absl::StrCat("FIRST+MIDDLE*", middles, "+LAST");
}

TEST_F(WalctlTest, FragmentLayoutMatchesWhatTheWriterWrote) {
  const std::string path = Path("layouts.log");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> file,
                       FileSystem::Default()->NewWritableFile(path));
  wal::BlockWriter writer(file.get());
  std::vector<uint64_t> positions;
  std::vector<size_t> lengths;
  auto add = [&](size_t length) {
    absl::StatusOr<uint64_t> position =
        writer.AddRecord(std::string(length, 'p'));
    ASSERT_OK(position);
    positions.push_back(*position);
    lengths.push_back(length);
  };
  // For each `left`, a filler record ends `left` bytes before a block end,
  // then small records follow: covers a record starting exactly at a block
  // start, in a trailer's place (left < kHeaderSize), and the empty FIRST
  // written when exactly kHeaderSize bytes remain.
  for (size_t left = 0; left <= kHeaderSize + 1; ++left) {
    uint64_t block_left = kBlockSize - writer.position() % kBlockSize;
    if (block_left < static_cast<uint64_t>(kHeaderSize)) block_left = kBlockSize;
    size_t filler = block_left - kHeaderSize;  // up to this block's end
    if (filler >= left) {
      filler -= left;
    } else {
      filler += kBlockSize - kHeaderSize - left;  // end in the next block
    }
    ASSERT_NO_FATAL_FAILURE(add(filler));
    ASSERT_NO_FATAL_FAILURE(add(1));
    ASSERT_NO_FATAL_FAILURE(add(10));
  }
  ASSERT_NO_FATAL_FAILURE(add(0));
  ASSERT_NO_FATAL_FAILURE(add(3 * kBlockSize + 5));
  ASSERT_NO_FATAL_FAILURE(add(2 * (kBlockSize - kHeaderSize)));
  ASSERT_NO_FATAL_FAILURE(add(1));
  ASSERT_OK(writer.Flush());
  ASSERT_OK(file->Close());

  ASSERT_OK_AND_ASSIGN(const std::string bytes,
                       ReadFileToString(FileSystem::Default(), path));
  bool saw_empty_first = false;
  for (size_t i = 0; i < positions.size(); ++i) {
    const std::vector<std::string> actual = ActualFragments(bytes, positions[i]);
    EXPECT_EQ(tools::FragmentLayout(positions[i], lengths[i]), Compress(actual))
        << "record " << i << " at " << positions[i] << ", length " << lengths[i];
    if (kBlockSize - positions[i] % kBlockSize ==
            static_cast<uint64_t>(kHeaderSize) &&
        lengths[i] > 0) {
      saw_empty_first = true;
    }
  }
  EXPECT_TRUE(saw_empty_first) << "no record started kHeaderSize bytes before "
                                  "a block end; the sizes above are off";
}

TEST(DisplayTest, PayloadPreviewShowsPrintableAsciiAndCuts) {
  EXPECT_EQ(tools::PayloadPreview(""), "");
  EXPECT_EQ(tools::PayloadPreview(std::string("a\0b\n\x7f\xff~", 7)), "a.b...~");
  EXPECT_EQ(tools::PayloadPreview(std::string(40, 'x')), std::string(40, 'x'));
  EXPECT_EQ(tools::PayloadPreview(std::string(41, 'x')),
            std::string(40, 'x') + "...");
  EXPECT_EQ(tools::PayloadPreview("abcdef", 3), "abc...");
}

TEST(JsonQuoteTest, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(tools::JsonQuote(""), "\"\"");
  EXPECT_EQ(tools::JsonQuote("checksum mismatch"), "\"checksum mismatch\"");
  EXPECT_EQ(tools::JsonQuote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(tools::JsonQuote(std::string("\n\t\r\b\f\x01\x1f\x7f\0", 9)),
            "\"\\n\\t\\r\\b\\f\\u0001\\u001f\\u007f\\u0000\"");
}

TEST(JsonQuoteTest, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(tools::JsonQuote("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  // A stray continuation byte, a truncated sequence, an overlong '/', and a
  // UTF-16 surrogate.
  EXPECT_EQ(tools::JsonQuote("\x80"), "\"\\ufffd\"");
  EXPECT_EQ(tools::JsonQuote("a\xc3"), "\"a\\ufffd\"");
  EXPECT_EQ(tools::JsonQuote("\xc0\xaf"), "\"\\ufffd\\ufffd\"");
  EXPECT_EQ(tools::JsonQuote("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");
}

}  // namespace
}  // namespace blockwal
