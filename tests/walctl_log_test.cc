// Runs the built walctl (path from a compile definition set in
// tests/CMakeLists.txt) on log directories written with wal::Log on disk, and
// checks the exact output and exit status of its log subcommands: dump DIR,
// verify, stat, repair, append, read, tail.
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/run_command.h"
#include "tests/scratch_dir.h"
#include "tests/status_matchers.h"
#include "tests/walctl_test_util.h"
#include "tools/cli.h"
#include "blockwal/util/file_system.h"
#include "blockwal/wal/block_writer.h"
#include "blockwal/wal/format.h"
#include "blockwal/wal/log.h"
#include "blockwal/wal/log_dir.h"
#include "blockwal/wal/record.h"
#include "blockwal/wal/segment.h"

namespace blockwal {
namespace {

using ::blockwal::testing::CommandResult;
using ::blockwal::testing::FlipByte;
using ::blockwal::testing::ScratchDir;
using ::blockwal::testing::Walctl;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using tools::kExitDamaged;
using tools::kExitFailed;
using tools::kExitNotFound;
using tools::kExitUsage;

// 2023-11-14T22:13:20Z in microseconds.
constexpr uint64_t kEpochUs = 1700000000000000;

// Positions of the records "hello", "" and "\0\x01\xff" in a fresh store: a
// 7-byte header and the 17-byte envelope before each value.
constexpr uint64_t kPos1 = 29;
constexpr uint64_t kPos2 = 53;
constexpr uint64_t kStoreEnd = 80;

// The log is dir_, which does not exist yet, in root_, a fresh ScratchDir
// (which also takes the backups `walctl repair` makes beside the log).
class WalctlLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Without a directory (ScratchDir has failed the test) nothing is run.
    ASSERT_FALSE(root_.empty());
    options_.clock_us = [this] { return kEpochUs + ++ticks_; };
  }

  // Appends `values` through a Log in dir_ and closes it cleanly.
  void WriteLog(const std::vector<std::string>& values) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<wal::Log> log,
                         wal::Log::Open(dir_, options_));
    for (const std::string& v : values) ASSERT_OK(log->Append(v));
    ASSERT_OK(log->Close());
  }

  // The three records of the exact-output tests.
  void WriteThreeRecords() {
    WriteLog({"hello", "", std::string("\x00\x01\xff", 3)});
  }

  std::string Store(uint64_t base = 0) const {
    return JoinPath(dir_, wal::SegmentFileName(base, wal::kStoreSuffix));
  }
  std::string IndexFile(uint64_t base = 0) const {
    return JoinPath(dir_, wal::SegmentFileName(base, wal::kIndexSuffix));
  }

  static std::string Contents(const std::string& path) {
    absl::StatusOr<std::string> data = ReadFileToString(FileSystem::Default(), path);
    EXPECT_OK(data);
    return data.ok() ? *data : "";
  }

  // The log.repair-backup-* directories beside dir_ (none may be inside).
  std::vector<std::string> Backups() const {
    std::vector<std::string> found;
    absl::StatusOr<std::vector<std::string>> names =
        FileSystem::Default()->GetChildren(root_);
    EXPECT_OK(names);
    if (!names.ok()) return found;
    for (const std::string& name : *names) {
      if (absl::StartsWith(name, "log.repair-backup-")) {
        found.push_back(JoinPath(root_, name));
      }
    }
    return found;
  }
  // The names in dir_.
  std::vector<std::string> LogFiles() const {
    absl::StatusOr<std::vector<std::string>> names =
        FileSystem::Default()->GetChildren(dir_);
    EXPECT_OK(names);
    std::vector<std::string> sorted = names.value_or(std::vector<std::string>{});
    std::sort(sorted.begin(), sorted.end());
    return sorted;
  }

  // A single-segment log whose record 1 is damaged and whose record 2,
  // after it in the next block, carries the sync marker: recovery must not
  // cut the damage. Written with BlockWriter, without an index.
  void WriteDamageBeforeSyncedRecord() {
    ASSERT_OK(FileSystem::Default()->CreateDir(dir_));
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> file,
                         FileSystem::Default()->NewWritableFile(Store()));
    wal::BlockWriter writer(file.get());
    // "a" takes 25 bytes; the filler the rest of block 0.
    const std::string filler(wal::kBlockSize - 25 - wal::kHeaderSize -
                                 wal::kEnvelopeSize,
                             'f');
    const struct {
      uint8_t flags;
      std::string value;
      uint64_t position;  // where the writer must put it
    } records[] = {
        {.flags = 0, .value = "a", .position = 0},
        {.flags = 0, .value = filler, .position = 25},
        {.flags = wal::kSyncMarker, .value = "synced", .position = 32768},
    };
    uint64_t offset = 0;
    for (const auto& r : records) {
      std::string payload;
      wal::EncodeRecord(offset, kEpochUs + offset, r.flags, r.value, &payload);
      ASSERT_OK_AND_ASSIGN(uint64_t position, writer.AddRecord(payload));
      ASSERT_EQ(position, r.position);
      ++offset;
    }
    ASSERT_OK(writer.Flush());
    ASSERT_OK(file->Close());
    FlipByte(Store(), 25 + wal::kHeaderSize + 100);
  }

  const ScratchDir scratch_{"walctl_log_test"};
  const std::string root_ = scratch_.str();
  const std::string dir_ = JoinPath(root_, "log");
  wal::LogOptions options_;
  uint64_t ticks_ = 0;
};

// ---- dump DIR ----

TEST_F(WalctlLogTest, JsonDumpOfDirectoryPrintsEveryRecordExactly) {
  WriteThreeRecords();
  const CommandResult r = Walctl({"dump", "--json", dir_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "{\"offset\":0,\"timestamp_us\":1700000000000001,\"segment\":"
            "\"00000000000000000000.store\",\"position\":0,\"length\":5,"
            "\"payload_hex\":\"68656c6c6f\"}\n"
            "{\"offset\":1,\"timestamp_us\":1700000000000002,\"segment\":"
            "\"00000000000000000000.store\",\"position\":29,\"length\":0,"
            "\"payload_hex\":\"\"}\n"
            "{\"offset\":2,\"timestamp_us\":1700000000000003,\"segment\":"
            "\"00000000000000000000.store\",\"position\":53,\"length\":3,"
            "\"payload_hex\":\"0001ff\"}\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(WalctlLogTest, TableDumpOfDirectory) {
  WriteThreeRecords();
  const CommandResult r = Walctl({"dump", dir_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(r.out, StartsWith("      OFFSET  TIME "));
  EXPECT_THAT(r.out, HasSubstr("           2  2023-11-14T22:13:20.000003Z  "
                               "00000000000000000000.store            53"
                               "           3  ...\n"));
  EXPECT_THAT(r.out, HasSubstr("\n3 records, 8 value bytes, 0 problems\n"));
}

TEST_F(WalctlLogTest, DumpOfDamagedDirectoryReportsProblemsOnStderr) {
  WriteThreeRecords();
  FlipByte(Store(), kPos2 + wal::kHeaderSize + wal::kEnvelopeSize + 1);
  CommandResult r = Walctl({"dump", "--json", dir_});
  EXPECT_EQ(r.exit_code, kExitDamaged);
  EXPECT_THAT(r.out, AllOf(HasSubstr("\"offset\":1,"), Not(HasSubstr("\"offset\":2,"))));
  EXPECT_EQ(r.err, absl::StrCat("{\"file\":\"", Store(),
                                "\",\"position\":53,\"kind\":\"ChecksumMismatch\",\"problem\":\"checksum "
                                "mismatch (27 bytes dropped)\"}\n"));
  r = Walctl({"dump", dir_});
  EXPECT_EQ(r.exit_code, kExitDamaged);
  EXPECT_EQ(r.err, absl::StrCat(Store(), " at position 53: checksum mismatch "
                                         "(27 bytes dropped)\n"));
}

// ---- verify ----

TEST_F(WalctlLogTest, VerifyCleanLogExitsZero) {
  WriteThreeRecords();
  CommandResult r = Walctl({"verify", dir_});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "1 segment, 3 records, 0 problems\n");
  EXPECT_EQ(r.err, "");
  r = Walctl({"verify", "--json", dir_});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "{\"segments\":1,\"records\":3,\"problems\":0}\n");
}

TEST_F(WalctlLogTest, VerifyCorruptedLogExitsThreeAndNamesFileAndPosition) {
  WriteThreeRecords();
  FlipByte(Store(), kPos1 + 3);  // a byte of record 1's checksum
  CommandResult r = Walctl({"verify", dir_});
  EXPECT_EQ(r.exit_code, kExitDamaged);
  EXPECT_EQ(r.out, absl::StrCat(Store(), " at position 29: checksum mismatch "
                                         "(51 bytes dropped)\n"
                                         "1 segment, 1 record, 1 problem\n"));
  r = Walctl({"verify", "--json", dir_});
  EXPECT_EQ(r.exit_code, kExitDamaged);
  EXPECT_EQ(r.out, absl::StrCat("{\"file\":\"", Store(),
                                "\",\"position\":29,\"kind\":\"ChecksumMismatch\",\"problem\":\"checksum "
                                "mismatch (51 bytes dropped)\"}\n"
                                "{\"segments\":1,\"records\":1,\"problems\":1}\n"));
}

TEST_F(WalctlLogTest, VerifyUsageErrors) {
  CommandResult r = Walctl({"verify"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_EQ(r.err, "walctl: verify: missing DIR\ntry 'walctl verify --help'\n");
  WriteThreeRecords();
  r = Walctl({"verify", dir_, dir_});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_EQ(r.err, "walctl: verify: unexpected argument '" + dir_ +
                       "'\ntry 'walctl verify --help'\n");
}

// A directory that is missing or a file cannot be opened: exit 4 (not 2: the
// command line was right), the same words from every subcommand.
// An interrupted Reset's intent is shown as the other intents are, with the
// offset the log continues at, and is not a stray file.
TEST_F(WalctlLogTest, VerifyShowsInterruptedReset) {
  WriteThreeRecords();
  const std::string intent = JoinPath(dir_, wal::kResetIntentFileName);
  ASSERT_OK(WriteStringToFile(FileSystem::Default(),
                              wal::EncodeTruncationFile(9), intent, false));
  const CommandResult r = Walctl({"verify", dir_});
  EXPECT_EQ(r.exit_code, kExitDamaged);
  EXPECT_EQ(r.out, absl::StrCat(intent, " at position 0: a reset was "
                                        "interrupted by a crash; the next "
                                        "Log::Open finishes it: it drops every "
                                        "record and the log continues at "
                                        "offset 9\n"
                                        "1 segment, 3 records, 1 problem\n"));
  EXPECT_EQ(r.err, "");
}

TEST_F(WalctlLogTest, DirectoryThatCannotBeOpenedIsExitFour) {
  WriteThreeRecords();
  const std::string nothing = JoinPath(root_, "nothing");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"verify"}, {"stat"}, {"repair"}, {"tail"}}) {
    std::vector<std::string> missing = args;
    missing.push_back(nothing);
    CommandResult r = Walctl(missing);
    EXPECT_EQ(r.exit_code, kExitFailed) << args[0];
    EXPECT_EQ(r.out, "") << args[0];
    EXPECT_EQ(r.err, "walctl: cannot open " + nothing + ": no such directory\n")
        << args[0];
    std::vector<std::string> file = args;
    file.push_back(Store());
    r = Walctl(file);
    EXPECT_EQ(r.exit_code, kExitFailed) << args[0];
    EXPECT_EQ(r.err, "walctl: cannot open " + Store() + ": not a directory\n")
        << args[0];
  }
  CommandResult r = Walctl({"read", nothing, "0"});
  EXPECT_EQ(r.exit_code, kExitFailed);
  EXPECT_EQ(r.err, "walctl: cannot open " + nothing + ": no such directory\n");
  EXPECT_FALSE(FileSystem::Default()->FileExists(nothing).value());
}

// ---- stat ----

TEST_F(WalctlLogTest, StatPrintsSegmentsRangeSizesAndLastAppend) {
  WriteThreeRecords();
  const CommandResult r = Walctl({"stat", dir_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out,
            "segments: 1\n"
            "  00000000000000000000  3 records  80 store bytes  36 index bytes  sealed\n"
            "offsets: [0, 3)\n"
            "records: 3\n"
            "store bytes: 80\n"
            "index bytes: 36\n"
            "last append: 2023-11-14T22:13:20.000003Z\n");
}

TEST_F(WalctlLogTest, StatOfEmptyLog) {
  WriteLog({});
  const CommandResult r = Walctl({"stat", dir_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, AllOf(HasSubstr("offsets: empty\n"),
                           HasSubstr("last append: never\n")));
}

TEST_F(WalctlLogTest, StatOfLiveLogShowsActiveSegment) {
  options_.max_index_bytes = 4 * wal::kIndexEntrySize;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<wal::Log> log, wal::Log::Open(dir_, options_));
  for (int i = 0; i < 5; ++i) ASSERT_OK(log->Append("v"));
  ASSERT_OK(log->Sync());
  const CommandResult r = Walctl({"stat", dir_});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("segments: 2\n"
                               "  00000000000000000000  4 records  100 store bytes"
                               "  48 index bytes  sealed\n"
                               "  00000000000000000004  1 record  25 store bytes"
                               "  48 index bytes  active\n"
                               "offsets: [0, 5)\n"));
  ASSERT_OK(log->Close());
}

// ---- repair ----

TEST_F(WalctlLogTest, RepairCutsTornTailKeepsBackupAndLeavesCleanLog) {
  WriteThreeRecords();
  ASSERT_OK(FileSystem::Default()->TruncateFile(Store(), kStoreEnd - 10));
  const std::string store_before = Contents(Store());
  const std::string index_before = Contents(IndexFile());
  ASSERT_EQ(Walctl({"verify", dir_}).exit_code, kExitDamaged);

  const CommandResult r = Walctl({"repair", dir_});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err, "");
  const std::vector<std::string> backups = Backups();
  ASSERT_EQ(backups.size(), 1u);
  // The torn tail is the store's one damaged region and no synced record
  // follows it, so its index is removed and recovery reads the store.
  EXPECT_EQ(r.out, absl::StrCat(
      "backup: ", backups[0], "\n",
      "indexes removed to be rebuilt from their stores: ", IndexFile(), "\n",
      "recovery (point-in-time): 1 segment, 2 records, 53 store bytes\n",
      "indexes rebuilt: 1 (2 entries added)\n",
      "torn bytes cut: 17\n",
      "incomplete batches removed: 0\n",
      "note: ", Store(), ": cut 17 bytes after the last valid record at position 53\n",
      "note: ", IndexFile(), ": index rebuilt from the store (0 entries found, "
      "2 now, 2 written)\n",
      "records kept: 2\n",
      "records skipped: 0\n",
      "records cut: 0\n",
      "bytes cut: ", Store(), " [53, 70) (17 bytes)\n",
      "result: repaired; the log verifies clean\n"));
  EXPECT_EQ(Contents(JoinPath(backups[0], "00000000000000000000.store")),
            store_before);
  EXPECT_EQ(Contents(JoinPath(backups[0], "00000000000000000000.index")),
            index_before);
  // Nothing of the repair's inside the log directory.
  EXPECT_THAT(LogFiles(), ElementsAre("00000000000000000000.index",
                                      "00000000000000000000.store", "LOCK"));

  const CommandResult verify = Walctl({"verify", dir_});
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
  EXPECT_EQ(verify.out, "1 segment, 2 records, 0 problems\n");
  // A later open warns about nothing.
  const CommandResult append = Walctl({"append", dir_}, "more\n");
  EXPECT_EQ(append.exit_code, 0);
  EXPECT_EQ(append.err, "");
}

TEST_F(WalctlLogTest, RepairRefusesToCutDamageBeforeSyncedRecordAndForceSkipsIt) {
  ASSERT_NO_FATAL_FAILURE(WriteDamageBeforeSyncedRecord());
  const std::string store_before = Contents(Store());

  CommandResult r = Walctl({"repair", dir_});
  EXPECT_EQ(r.exit_code, kExitDamaged) << r.out << r.err;
  ASSERT_EQ(Backups().size(), 1u);
  const std::string backup = Backups()[0];
  EXPECT_EQ(r.out, absl::StrCat("backup: ", backup, "\n",
                                "recovery (point-in-time): refused; no store was changed\n",
                                "result: 2 problems remain, the log was not repaired "
                                "(listed on standard error)\n"));
  EXPECT_THAT(r.err, AllOf(StartsWith(absl::StrCat("walctl: repair failed: ", Store(),
                                                   ": checksum mismatch at position 25")),
                           HasSubstr("walctl: 2 problems remain:\n"),
                           HasSubstr(absl::StrCat("  ", Store(), " at position 25: "
                                                  "checksum mismatch (32743 bytes dropped)\n")),
                           HasSubstr(absl::StrCat("  ", IndexFile(), " at position 0: ")),
                           HasSubstr("  why: recovery in point-in-time mode refused the log, "
                                     "so nothing was repaired: "),
                           HasSubstr("repair --force"),
                           HasSubstr(absl::StrCat("no record was removed; the files as they "
                                                  "were before the repair are in ", backup))));
  EXPECT_EQ(Contents(Store()), store_before);

  // --force skips record 1, but its bytes stay (removing them would
  // renumber record 2): the repair says so and exits 3.
  r = Walctl({"repair", "--force", dir_});
  EXPECT_EQ(r.exit_code, kExitDamaged) << r.out << r.err;
  EXPECT_THAT(r.out, AllOf(HasSubstr("recovery (skip-any-corrupted-records): 1 segment, "
                                     "3 records, 32798 store bytes\n"),
                           HasSubstr(absl::StrCat("damage found: ", Store(),
                                                  " at position 25: checksum mismatch")),
                           HasSubstr("records kept: 2\nrecords skipped: 1\nrecords cut: 0\n"),
                           HasSubstr("result: 1 problem remains (listed on standard error)\n")));
  EXPECT_EQ(r.err, absl::StrCat(
      "walctl: repair incomplete: 1 problem remains\n"
      "walctl: 1 problem remains:\n"
      "  ", Store(), " at position 25: checksum mismatch (32743 bytes dropped)\n"
      "  why: damaged records keep their offsets, which read as data loss "
      "(removing them would renumber every later record)\n"
      "walctl: the files as they were before the repair are in ", Backups()[1], "\n"));
  EXPECT_EQ(Backups().size(), 2u);

  r = Walctl({"read", dir_, "2"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "synced");
  r = Walctl({"read", dir_, "1"});
  EXPECT_EQ(r.exit_code, kExitDamaged);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, StartsWith(absl::StrCat("walctl: ", dir_,
                                             ": the record at offset 1 is "
                                             "damaged or missing")));
  // What the repair said remains is what verify reports.
  r = Walctl({"verify", dir_});
  EXPECT_EQ(r.exit_code, kExitDamaged);
  EXPECT_EQ(r.out, absl::StrCat(Store(), " at position 25: checksum mismatch "
                                         "(32743 bytes dropped)\n"
                                         "1 segment, 2 records, 1 problem\n"));
}

// 4 bytes overwritten at position 200 of the active store of a
// log whose appends were synced. Recovery trusts the index over the damage,
// so its report skips nothing; the repair must still count the damaged
// record and name it.
TEST_F(WalctlLogTest, RepairCountsDamageInsideIndexedRecordsAndNamesIt) {
  options_.sync_policy = wal::SyncPolicy::kEveryAppend;
  std::vector<std::string> values;
  for (int i = 0; i < 20; ++i) values.push_back(absl::StrCat("value-", i, std::string(26, 'v')));
  WriteLog(values);  // 7 + 17 + 33 = 57 bytes each (58 from 10): record 3 at 171
  {
    std::string data = Contents(Store());
    data.replace(200, 4, "XXXX");
    ASSERT_OK(WriteStringToFile(FileSystem::Default(), data, Store(), false));
  }
  const std::string store_before = Contents(Store());
  const std::string problem =
      absl::StrCat("  ", Store(), " at position 171: checksum mismatch (979 bytes dropped)\n");

  // The synced records after it are in the rest of the damaged block, which
  // only the index reaches: nothing is cut.
  CommandResult r = Walctl({"repair", dir_});
  EXPECT_EQ(r.exit_code, kExitDamaged) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("records kept: 19\nrecords skipped: 1\nrecords cut: 0\n"));
  EXPECT_THAT(r.err, AllOf(HasSubstr("walctl: repair incomplete: 1 problem remains\n"),
                           HasSubstr(problem),
                           HasSubstr("  why: point-in-time recovery cuts only damage that "
                                     "no synced record follows")));
  EXPECT_EQ(Contents(Store()), store_before);

  r = Walctl({"repair", "--force", dir_});
  EXPECT_EQ(r.exit_code, kExitDamaged) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("records kept: 19\nrecords skipped: 1\nrecords cut: 0\n"));
  EXPECT_THAT(r.err, AllOf(HasSubstr(problem),
                           HasSubstr("  why: damaged records keep their offsets")));
  EXPECT_EQ(Contents(Store()), store_before);
  for (const std::string& b : Backups()) {
    EXPECT_EQ(Contents(JoinPath(b, "00000000000000000000.store")), store_before);
  }
  EXPECT_EQ(Walctl({"read", dir_, "4"}).out, values[4]);
}

// The same damage in a log whose records were never synced: recovery may
// cut there, so the repair leaves a clean log and counts the cut records.
TEST_F(WalctlLogTest, RepairCutsDamageThatNoSyncedRecordFollows) {
  std::vector<std::string> values;
  for (int i = 0; i < 20; ++i) values.push_back(absl::StrCat("value-", i, std::string(26, 'v')));
  WriteLog(values);
  std::string data = Contents(Store());
  data.replace(200, 4, "XXXX");
  ASSERT_OK(WriteStringToFile(FileSystem::Default(), data, Store(), false));

  const CommandResult r = Walctl({"repair", dir_});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(r.out, AllOf(HasSubstr("records kept: 3\nrecords skipped: 0\nrecords cut: 17\n"),
                           HasSubstr(absl::StrCat("bytes cut: ", Store(),
                                                  " [171, 1150) (979 bytes)\n")),
                           EndsWith("result: repaired; the log verifies clean\n")));
  EXPECT_EQ(Walctl({"verify", dir_}).out, "1 segment, 3 records, 0 problems\n");
}

TEST_F(WalctlLogTest, RepairOfLogInUseFailsBeforeBackingUp) {
  WriteThreeRecords();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<wal::Log> log, wal::Log::Open(dir_, options_));
  const CommandResult r = Walctl({"repair", dir_});
  EXPECT_EQ(r.exit_code, kExitFailed);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, absl::StrCat("walctl: repair: ", dir_,
                                ": log is in use by another process or Log (",
                                dir_, "/LOCK: locked by another process); "
                                "nothing was changed\n"));
  EXPECT_TRUE(Backups().empty());
  ASSERT_OK(log->Close());
}

// ---- append, read, tail ----

TEST_F(WalctlLogTest, AppendPrintsOffsetsOfStdinLines) {
  CommandResult r = Walctl({"append", dir_}, "first\nsecond one\n\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "0\n1\n2\n");
  EXPECT_EQ(r.err, "");
  // A last line without a newline is a record too.
  r = Walctl({"append", "--sync", dir_}, "fourth\nfifth");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "3\n4\n");

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<wal::Log> log, wal::Log::Open(dir_, options_));
  const std::vector<std::string> expected = {"first", "second one", "", "fourth",
                                             "fifth"};
  ASSERT_EQ(log->NextOffset(), expected.size());
  for (uint64_t i = 0; i < expected.size(); ++i) {
    std::string scratch;
    ASSERT_OK_AND_ASSIGN(wal::Record rec, log->Read(i, &scratch));
    EXPECT_EQ(rec.value, expected[i]) << i;
  }
  ASSERT_OK(log->Close());
  r = Walctl({"read", dir_, "1"});
  EXPECT_EQ(r.out, "second one");
}

// A lock held elsewhere is exit 4, as from repair and from kv.
TEST_F(WalctlLogTest, AppendToLockedLogCannotOpen) {
  WriteThreeRecords();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<wal::Log> log, wal::Log::Open(dir_, options_));
  const CommandResult r = Walctl({"append", dir_}, "x\n");
  EXPECT_EQ(r.exit_code, kExitFailed);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, absl::StrCat("walctl: cannot open ", dir_,
                                ": log is in use by another process or Log (",
                                dir_, "/LOCK: locked by another process)\n"));
  ASSERT_OK(log->Close());
}

// append creates DIR, but not its parent, and never over a file.
TEST_F(WalctlLogTest, AppendUnderAFileOrAMissingParentCreatesNothing) {
  const std::string file = JoinPath(root_, "file");
  ASSERT_OK(WriteStringToFile(FileSystem::Default(), "data", file, false));
  const std::string missing = JoinPath(root_, "missing");
  const struct {
    std::string dir;
    std::string err;
  } cases[] = {
      {.dir = file, .err = "walctl: cannot open " + file + ": not a directory\n"},
      {.dir = JoinPath(file, "log"),
       .err = "walctl: cannot create " + file + "/log: parent directory " +
              file + " is not a directory\n"},
      {.dir = JoinPath(missing, "log"),
       .err = "walctl: cannot create " + missing + "/log: parent directory " +
              missing + " does not exist\n"},
  };
  for (const auto& c : cases) {
    const CommandResult r = Walctl({"append", c.dir}, "x\n");
    EXPECT_EQ(r.exit_code, kExitFailed) << c.dir;
    EXPECT_EQ(r.out, "") << c.dir;
    EXPECT_EQ(r.err, c.err) << c.dir;
  }
  EXPECT_FALSE(FileSystem::Default()->FileExists(missing).value());
  EXPECT_EQ(Contents(file), "data");
}

TEST_F(WalctlLogTest, ReadWritesBinaryValueByteExact) {
  std::string value;
  for (int i = 0; i < 256; ++i) value.push_back(static_cast<char>(i));
  value += value;
  WriteLog({"before", value});
  const CommandResult r = Walctl({"read", dir_, "1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, value);
}

TEST_F(WalctlLogTest, ReadOutOfRangeNamesTheRange) {
  WriteThreeRecords();
  CommandResult r = Walctl({"read", dir_, "3"});
  EXPECT_EQ(r.exit_code, kExitNotFound);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, absl::StrCat("walctl: ", dir_,
                                ": offset 3 is outside the log's range [0, 3)\n"));
  r = Walctl({"read", dir_, "x1"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_EQ(r.err,
            "walctl: read: bad OFFSET 'x1': expected a decimal number\n"
            "try 'walctl read --help'\n");
  r = Walctl({"read", dir_});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_EQ(r.err, "walctl: read: missing OFFSET\ntry 'walctl read --help'\n");
}

TEST_F(WalctlLogTest, TailFromOffsetEscapesValues) {
  WriteThreeRecords();
  CommandResult r = Walctl({"tail", "--from", "1", dir_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1\t\n2\t\\x00\\x01\\xff\n");
  r = Walctl({"tail", "--json", "--from=2", dir_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "{\"offset\":2,\"timestamp_us\":1700000000000003,\"segment\":"
            "\"00000000000000000000.store\",\"position\":53,\"length\":3,"
            "\"payload_hex\":\"0001ff\"}\n");
  r = Walctl({"tail", "--from", "-1", dir_});
  EXPECT_EQ(r.exit_code, kExitUsage);
}

TEST_F(WalctlLogTest, TailDefaultsToTheLastTenRecordsAcrossSegments) {
  options_.max_index_bytes = 5 * wal::kIndexEntrySize;
  std::vector<std::string> values;
  for (int i = 0; i < 12; ++i) values.push_back(absl::StrCat("r", i, "\tx\\"));
  WriteLog(values);
  const CommandResult r = Walctl({"tail", dir_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string expected;
  for (int i = 2; i < 12; ++i) absl::StrAppend(&expected, i, "\tr", i, "\\tx\\\\\n");
  EXPECT_EQ(r.out, expected);
}

// ---- tail --from-time, --follow ----

TEST_F(WalctlLogTest, TailFromTimeStartsAtTheFirstRecordAtOrAfterIt) {
  // Append times: "hello" kEpochUs + 1, "" + 2, "\0\x01\xff" + 3.
  WriteThreeRecords();
  const std::string last_two = "1\t\n2\t\\x00\\x01\\xff\n";
  CommandResult r =
      Walctl({"tail", "--from-time", absl::StrCat(kEpochUs + 2), dir_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, last_two);
  // ISO-8601 UTC, with or without fractional seconds or a zone.
  r = Walctl({"tail", "--from-time", "2023-11-14T22:13:20.000002Z", dir_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, last_two);
  r = Walctl({"tail", "--from-time=2023-11-14T23:13:20.000001500+01:00", dir_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, last_two);
  r = Walctl({"tail", "--from-time", "2023-11-14T22:13:20", dir_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "0\thello\n" + last_two);
  r = Walctl({"tail", "--json", "--from-time", absl::StrCat(kEpochUs + 3), dir_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "{\"offset\":2,\"timestamp_us\":1700000000000003,\"segment\":"
            "\"00000000000000000000.store\",\"position\":53,\"length\":3,"
            "\"payload_hex\":\"0001ff\"}\n");
}

TEST_F(WalctlLogTest, TailFromTimeAcrossSegmentsAndEqualTimestamps) {
  options_.max_index_bytes = 3 * wal::kIndexEntrySize;
  uint64_t now = kEpochUs;
  options_.clock_us = [&now] { return now; };
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<wal::Log> log, wal::Log::Open(dir_, options_));
  // Offsets 0..9 at times +0 +10 +10 +10 +10 +10 +20 +30 +30 +40: segments
  // 0-2, 3-5, 6-8, 9.
  for (uint64_t delta : {0, 10, 10, 10, 10, 10, 20, 30, 30, 40}) {
    now = kEpochUs + delta;
    ASSERT_OK(log->Append(absl::StrCat("v", delta)));
  }
  ASSERT_OK(log->Close());
  // --from-time kEpochUs + delta starts at first_line.
  const struct {
    uint64_t delta;
    std::string first_line;
  } cases[] = {
      {.delta = 0, .first_line = "0\tv0\n"},
      {.delta = 1, .first_line = "1\tv10\n"},
      {.delta = 10, .first_line = "1\tv10\n"},
      {.delta = 11, .first_line = "6\tv20\n"},
      {.delta = 25, .first_line = "7\tv30\n"},
      {.delta = 30, .first_line = "7\tv30\n"},
      {.delta = 40, .first_line = "9\tv40\n"},
  };
  for (const auto& c : cases) {
    const CommandResult r =
        Walctl({"tail", "--from-time", absl::StrCat(kEpochUs + c.delta), dir_});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.out, StartsWith(c.first_line)) << "delta " << c.delta;
    EXPECT_THAT(r.out, ::testing::EndsWith("9\tv40\n"));
  }
}

// Past the last record, --from and --from-time behave alike: nothing on
// stdout, one line on stderr, exit 1 (not found).
TEST_F(WalctlLogTest, TailFromPastTheLastRecordExitsOneWithEitherFlag) {
  WriteThreeRecords();
  CommandResult r =
      Walctl({"tail", "--from-time", absl::StrCat(kEpochUs + 4), dir_});
  EXPECT_EQ(r.exit_code, kExitNotFound);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, absl::StrCat("walctl: ", dir_,
                                ": no record at or after "
                                "2023-11-14T22:13:20.000004Z "
                                "(1700000000000004 us); every record is older\n"));
  for (const char* from : {"3", "10"}) {
    r = Walctl({"tail", "--from", from, dir_});
    EXPECT_EQ(r.exit_code, kExitNotFound) << from;
    EXPECT_EQ(r.out, "") << from;
    EXPECT_EQ(r.err, absl::StrCat("walctl: ", dir_, ": no record at or after offset ",
                                  from, "; the log holds offsets [0, 3)\n"));
  }
  // An empty log says so.
  const std::string empty = JoinPath(root_, "empty");
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<wal::Log> log,
                         wal::Log::Open(empty, options_));
    ASSERT_OK(log->Close());
  }
  r = Walctl({"tail", "--from-time", "0", empty});
  EXPECT_EQ(r.exit_code, kExitNotFound);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, absl::StrCat("walctl: ", empty,
                                ": no record at or after 1970-01-01T00:00:00.000000Z "
                                "(0 us); the log is empty\n"));
  r = Walctl({"tail", "--from", "0", empty});
  EXPECT_EQ(r.exit_code, kExitNotFound);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, absl::StrCat("walctl: ", empty,
                                ": no record at or after offset 0; the log is "
                                "empty\n"));
  // Without --from or --from-time there is no start to miss.
  r = Walctl({"tail", empty});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");
}

TEST_F(WalctlLogTest, TailTimeAndFollowUsageErrors) {
  WriteThreeRecords();
  const std::string bad_time =
      "': expected microseconds since the epoch or a time like "
      "2023-11-14T22:13:20Z";
  const struct {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {.args = {"--from-time", "yesterday"},
       .message = "bad --from-time 'yesterday" + bad_time},
      {.args = {"--from-time", "-5"}, .message = "bad --from-time '-5" + bad_time},
      {.args = {"--from-time", "1969-12-31T23:59:59Z"},
       .message = "bad --from-time '1969-12-31T23:59:59Z" + bad_time},
      {.args = {"--from", "1", "--from-time", "5"},
       .message = "--from and --from-time exclude each other"},
      {.args = {"--max-wait-ms", "10"}, .message = "--max-wait-ms needs --follow"},
      {.args = {"--follow", "--max-wait-ms", "soon"},
       .message = "bad --max-wait-ms 'soon': expected milliseconds"},
      {.args = {"--follow=yes"}, .message = "flag '--follow' takes no value"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = {"tail"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    args.push_back(dir_);
    const CommandResult r = Walctl(args);
    EXPECT_EQ(r.exit_code, kExitUsage) << absl::StrJoin(args, " ");
    EXPECT_EQ(r.out, "") << absl::StrJoin(args, " ");
    EXPECT_EQ(r.err, "walctl: tail: " + c.message + "\ntry 'walctl tail --help'\n");
  }
}

TEST_F(WalctlLogTest, TailFollowExitsAfterMaxWaitWithoutNewRecords) {
  WriteThreeRecords();
  const CommandResult r =
      Walctl({"tail", "--follow", "--max-wait-ms", "150", "--from", "1", dir_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1\t\n2\t\\x00\\x01\\xff\n");
  EXPECT_EQ(r.err, "");
}

// Runs walctl with its stdout read line by line as it writes it, so a test
// can act between lines.
class WalctlStream {
 public:
  explicit WalctlStream(const std::vector<std::string>& args) {
    std::string command = WALCTL_PATH;
    for (const std::string& a : args) absl::StrAppend(&command, " '", a, "'");
    pipe_ = popen(command.c_str(), "r");
  }
  ~WalctlStream() {
    if (pipe_ != nullptr) Close();
  }
  bool ok() const { return pipe_ != nullptr; }
  // The next line with its newline, or "" at the end of the output.
  std::string ReadLine() {
    char buf[4096];
    if (std::fgets(buf, sizeof(buf), pipe_) == nullptr) return "";
    return buf;
  }
  // Waits for walctl to exit; returns its exit status (-1 when killed).
  int Close() {
    const int status = pclose(pipe_);
    pipe_ = nullptr;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  FILE* pipe_ = nullptr;
};

TEST_F(WalctlLogTest, TailFollowPrintsRecordsAppendedWhileItRuns) {
  WriteLog({"a", "b"});
  // Two seconds without a record end it; the appends below come within
  // milliseconds of the line they wait for.
  WalctlStream tail({"tail", "--follow", "--max-wait-ms", "2000", dir_});
  ASSERT_TRUE(tail.ok()) << std::strerror(errno);
  EXPECT_EQ(tail.ReadLine(), "0\ta\n");
  EXPECT_EQ(tail.ReadLine(), "1\tb\n");

  // Written while tail runs, by a live log: synced, so the bytes are in the
  // file, and the log stays open.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<wal::Log> log, wal::Log::Open(dir_, options_));
  ASSERT_OK(log->Append("c\td"));
  ASSERT_OK(log->Sync());
  EXPECT_EQ(tail.ReadLine(), "2\tc\\td\n");

  // A batch, then a roll to a new segment, then a clean close.
  const std::vector<absl::string_view> batch = {"e", "f"};
  ASSERT_OK(log->AppendBatch(batch));
  ASSERT_OK(log->Sync());
  EXPECT_EQ(tail.ReadLine(), "3\te\n");
  EXPECT_EQ(tail.ReadLine(), "4\tf\n");
  ASSERT_OK(log->Close());
  log.reset();
  options_.max_index_bytes = 1 * wal::kIndexEntrySize;  // one record each
  ASSERT_OK_AND_ASSIGN(log, wal::Log::Open(dir_, options_));
  ASSERT_OK(log->Append("g"));
  ASSERT_OK(log->Append("h"));
  ASSERT_OK(log->Close());
  EXPECT_EQ(tail.ReadLine(), "5\tg\n");
  EXPECT_EQ(tail.ReadLine(), "6\th\n");

  EXPECT_EQ(tail.ReadLine(), "");  // exits after 2 s without records
  EXPECT_EQ(tail.Close(), 0);
}

TEST_F(WalctlLogTest, TailFollowFromTimeWaitsForANewEnoughRecord) {
  WriteThreeRecords();
  WalctlStream tail({"tail", "--follow", "--max-wait-ms", "2000", "--json",
                     "--from-time", absl::StrCat(kEpochUs + 10), dir_});
  ASSERT_TRUE(tail.ok()) << std::strerror(errno);
  ticks_ = 5;  // the next append is at kEpochUs + 6: still too old
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<wal::Log> log, wal::Log::Open(dir_, options_));
  ASSERT_OK(log->Append("old"));
  ticks_ = 9;
  ASSERT_OK(log->Append("new"));  // kEpochUs + 10
  ASSERT_OK(log->Close());
  EXPECT_EQ(tail.ReadLine(),
            "{\"offset\":4,\"timestamp_us\":1700000000000010,\"segment\":"
            "\"00000000000000000000.store\",\"position\":107,\"length\":3,"
            "\"payload_hex\":\"6e6577\"}\n");
  EXPECT_EQ(tail.ReadLine(), "");
  EXPECT_EQ(tail.Close(), 0);
}

// ---- help ----

TEST_F(WalctlLogTest, HelpListsTheLogSubcommands) {
  const CommandResult r = Walctl({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* sub : {"dump", "verify", "stat", "repair", "append", "read", "tail"}) {
    EXPECT_THAT(r.out, HasSubstr(absl::StrCat("\n  ", sub, " "))) << sub;
    const CommandResult help = Walctl({sub, "--help"});
    EXPECT_EQ(help.exit_code, 0) << sub;
    EXPECT_THAT(help.out, AllOf(StartsWith(absl::StrCat("usage: walctl ", sub)),
                                EndsWith(std::string(tools::kExitStatusHelp))))
        << sub;
  }
}

}  // namespace
}  // namespace blockwal
