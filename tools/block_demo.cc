// blockwal_block_demo: a guided tour of the block format (wal/format.h).
//
//   blockwal_block_demo [DIRECTORY]     (default: ./blockwal-demo)
//
// DIRECTORY must be new, empty, or made by a demo before (tools/demo_dir.h):
// any other path is refused (exit status 2) and left untouched. The demo
// writes only the marker and demo.log and demo-corrupt.log there, replacing
// them on every run.
//
// Writes a small log with BlockWriter (records of varied sizes, one empty, one
// spanning two blocks), syncs it and reads it back with BlockReader; then
// flips one payload byte in a copy of the file and shows what the reader
// reports and which records survive. It checks every outcome itself and exits
// 0 only when all of them held, so it doubles as a smoke test.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "tools/demo_dir.h"
#include "tools/display.h"
#include "blockwal/util/file_system.h"
#include "blockwal/util/status_macros.h"
#include "blockwal/wal/block_reader.h"
#include "blockwal/wal/block_writer.h"
#include "blockwal/wal/format.h"

namespace blockwal::tools {
namespace {

// Relative, so the demo never writes outside the directory it is started in
// unless told to.
constexpr absl::string_view kDefaultDirectory = "./blockwal-demo";
constexpr absl::string_view kLogName = "demo.log";
constexpr absl::string_view kCorruptLogName = "demo-corrupt.log";

// The record whose payload gets a flipped byte, and the one after it, which
// is intact but shares its block (see WriteDemoLog()).
constexpr size_t kCorruptedRecord = 4;
constexpr size_t kSameBlockRecord = 5;
// Bytes left at the end of the block that kSameBlockRecord fills: fewer than
// kHeaderSize, so the writer zero-fills them as a trailer.
constexpr int kTrailerBytes = 3;
static_assert(kTrailerBytes < wal::kHeaderSize);
// Which payload byte of kCorruptedRecord is flipped.
constexpr size_t kFlippedPayloadByte = 100;

struct Report {
  uint64_t position;
  uint64_t bytes;
  std::string reason;
};

class CollectingReporter final : public wal::BlockReader::Reporter {
 public:
  void Corruption(uint64_t position, uint64_t bytes,
                  absl::string_view reason) override {
    reports.push_back({position, bytes, std::string(reason)});
  }
  std::vector<Report> reports;
};

struct LoggedRecord {
  uint64_t position;
  std::string payload;
};

struct ReadResult {
  std::vector<LoggedRecord> records;
  std::vector<Report> reports;
};

void Print(absl::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
}

// A payload of exactly `size` bytes: `prefix`, then a letter pattern so a
// preview shows where the record begins.
std::string MakePayload(absl::string_view prefix, size_t size) {
  std::string payload(prefix.substr(0, size));
  for (size_t i = 0; payload.size() < size; ++i) {
    payload.push_back(static_cast<char>('a' + i % 26));
  }
  return payload;
}

absl::StatusOr<ReadResult> ReadLog(const std::string& path) {
  BW_ASSIGN_OR_RETURN(std::unique_ptr<SequentialFile> file,
                      FileSystem::Default()->NewSequentialFile(path));
  ReadResult result;
  CollectingReporter reporter;
  wal::BlockReader reader(file.get(), &reporter);
  absl::string_view record;
  std::string scratch;
  while (reader.ReadRecord(&record, &scratch)) {
    result.records.push_back({reader.last_record_offset(), std::string(record)});
  }
  // A read error is also passed to the reporter, but it is not damage in the
  // file: fail the demo with it rather than count it as a corruption.
  BW_RETURN_IF_ERROR(reader.status());
  result.reports = std::move(reporter.reports);
  return result;
}

void PrintRecordLine(size_t index, uint64_t position, absl::string_view payload) {
  Print(absl::StrFormat("  #%d  position %6d  length %6d  %-17s  %s\n", index,
                        position, payload.size(),
                        FragmentLayout(position, payload.size()),
                        PayloadPreview(payload, 32)));
}

// The records the demo wrote: their payloads and the positions the writer
// gave them, by index.
struct WrittenLog {
  std::vector<std::string> payloads;
  std::vector<uint64_t> positions;
};

// Step 1: writes the demo's records to `log_path` with a BlockWriter and
// syncs it. Record kSameBlockRecord's size is chosen when it is written so
// that it ends kTrailerBytes before its block does; the records after it
// then start the next block.
absl::StatusOr<WrittenLog> WriteDemoLog(FileSystem* fs,
                                        const std::string& log_path) {
  using wal::kBlockSize;
  using wal::kHeaderSize;
  WrittenLog log;
  log.payloads = {
      "hello, world!",
      "",  // an empty record is still one (zero-length) FULL fragment
      MakePayload("record 2, 200 bytes: ", 200),
      MakePayload("record 3 spans two blocks: ", 40000),
      MakePayload("record 4, 3000 bytes: ", 3000),
  };
  std::vector<std::string>& payloads = log.payloads;
  {
    BW_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file,
                        fs->NewWritableFile(log_path));
    wal::BlockWriter writer(file.get());
    for (const std::string& payload : payloads) {
      BW_ASSIGN_OR_RETURN(uint64_t position, writer.AddRecord(payload));
      log.positions.push_back(position);
    }
    const uint64_t block_left = kBlockSize - writer.position() % kBlockSize;
    const std::string fill_prefix =
        absl::StrFormat("record 5 fills its block but for a %d-byte trailer: ",
                        kTrailerBytes);
    if (block_left < kHeaderSize + kTrailerBytes + fill_prefix.size()) {
      return absl::InternalError(
          "demo layout broken: no room left in the block for record 5");
    }
    payloads.push_back(
        MakePayload(fill_prefix, block_left - kHeaderSize - kTrailerBytes));
    constexpr char kBinary[] = "\x00\x01\x02 binary \xff\xfe";
    payloads.push_back(std::string(kBinary, sizeof(kBinary) - 1));
    payloads.push_back("goodbye");
    for (size_t i = kSameBlockRecord; i < payloads.size(); ++i) {
      BW_ASSIGN_OR_RETURN(uint64_t position, writer.AddRecord(payloads[i]));
      log.positions.push_back(position);
    }
    BW_RETURN_IF_ERROR(writer.Sync());
    BW_RETURN_IF_ERROR(file->Close());
    Print(absl::StrFormat(
        "wrote %d records (%d bytes, %d-byte blocks) to %s and synced it\n",
        payloads.size(), writer.position(), kBlockSize, log_path));
  }
  if (log.positions[kSameBlockRecord + 1] % kBlockSize != 0) {
    return absl::InternalError(
        "demo layout broken: record 6 does not start a block");
  }
  return log;
}

// Step 2: reads `log_path` back: every record, in order, at the position
// the writer gave.
absl::Status ReadBackIntact(const std::string& log_path,
                            const WrittenLog& written) {
  const std::vector<std::string>& payloads = written.payloads;
  Print(absl::StrCat("\nreading ", log_path, ":\n"));
  BW_ASSIGN_OR_RETURN(ReadResult clean, ReadLog(log_path));
  for (size_t i = 0; i < clean.records.size(); ++i) {
    PrintRecordLine(i, clean.records[i].position, clean.records[i].payload);
  }
  for (const Report& r : clean.reports) {
    Print(absl::StrFormat("  unexpected corruption at position %d: %s\n",
                          r.position, r.reason));
  }
  if (!clean.reports.empty() || clean.records.size() != payloads.size()) {
    return absl::DataLossError(absl::StrFormat(
        "clean log: read %d records and %d corruption reports, expected %d and 0",
        clean.records.size(), clean.reports.size(), payloads.size()));
  }
  for (size_t i = 0; i < payloads.size(); ++i) {
    if (clean.records[i].position != written.positions[i] ||
        clean.records[i].payload != payloads[i]) {
      return absl::DataLossError(absl::StrFormat(
          "clean log: record #%d differs from what was written", i));
    }
  }
  Print(absl::StrFormat("all %d records read back intact\n", payloads.size()));
  return absl::OkStatus();
}

// Step 3: copies `log_path` to `corrupt_path` with one payload byte of
// record kCorruptedRecord flipped.
absl::Status WriteCorruptCopy(FileSystem* fs, const std::string& log_path,
                              const std::string& corrupt_path,
                              const WrittenLog& written) {
  BW_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(fs, log_path));
  const uint64_t flipped = written.positions[kCorruptedRecord] +
                           wal::kHeaderSize + kFlippedPayloadByte;
  bytes[flipped] = static_cast<char>(bytes[flipped] ^ 0xff);
  BW_RETURN_IF_ERROR(WriteStringToFile(fs, bytes, corrupt_path, /*sync=*/true));
  Print(absl::StrFormat(
      "\nflipped the byte at position %d (payload of record #%d) in %s\n",
      flipped, kCorruptedRecord, corrupt_path));
  return absl::OkStatus();
}

// What reading the damaged copy gave: the index each record read was
// written with, and the reader's reports.
struct DamagedRead {
  std::vector<size_t> read_indexes;
  std::vector<Report> reports;
};

// Step 4: reads the damaged copy and prints what the reader reports and
// which records it returns. The reader checks the CRC of record 4's
// fragment, finds a mismatch and drops the rest of that block (its length
// field could be the damaged part, so nothing after it in the block can be
// trusted): record 5 is lost with it. Reading resumes at the next block.
absl::StatusOr<DamagedRead> ReadDamagedCopy(const std::string& corrupt_path,
                                            const WrittenLog& written) {
  const std::vector<uint64_t>& positions = written.positions;
  Print(absl::StrCat("reading ", corrupt_path, ":\n"));
  BW_ASSIGN_OR_RETURN(ReadResult damaged, ReadLog(corrupt_path));
  for (const Report& r : damaged.reports) {
    Print(absl::StrFormat(
        "  reader reports: %d bytes dropped at position %d (%s)\n", r.bytes,
        r.position, r.reason));
  }
  DamagedRead result;
  for (const LoggedRecord& record : damaged.records) {
    // Name each record read by the index it was written with.
    size_t index = 0;
    while (index < positions.size() && positions[index] != record.position) {
      ++index;
    }
    PrintRecordLine(index, record.position, record.payload);
    if (index == positions.size() ||
        record.payload != written.payloads[index]) {
      return absl::DataLossError(absl::StrFormat(
          "damaged log: a record at position %d that was never written",
          record.position));
    }
    result.read_indexes.push_back(index);
  }
  Print(absl::StrFormat(
      "records read: %s; #%d and #%d lost with the rest of their block\n",
      absl::StrJoin(result.read_indexes, ", "), kCorruptedRecord,
      kSameBlockRecord));
  result.reports = std::move(damaged.reports);
  return result;
}

// Step 5: checks that every record but kCorruptedRecord and
// kSameBlockRecord was read, and that the reader reported exactly one
// checksum mismatch dropping the rest of the damaged block.
absl::Status VerifyDamagedOutcome(const WrittenLog& written,
                                  const DamagedRead& damaged) {
  using wal::kBlockSize;
  const uint64_t corrupted_position = written.positions[kCorruptedRecord];
  std::vector<size_t> expected_indexes;
  for (size_t i = 0; i < written.payloads.size(); ++i) {
    if (i != kCorruptedRecord && i != kSameBlockRecord) {
      expected_indexes.push_back(i);
    }
  }
  const uint64_t block_end = (corrupted_position / kBlockSize + 1) * kBlockSize;
  const uint64_t expected_dropped = block_end - corrupted_position;
  if (damaged.read_indexes != expected_indexes) {
    return absl::DataLossError(absl::StrCat(
        "damaged log: read records ", absl::StrJoin(damaged.read_indexes, ", "),
        ", expected ", absl::StrJoin(expected_indexes, ", ")));
  }
  if (damaged.reports.size() != 1 ||
      damaged.reports[0].reason != "checksum mismatch" ||
      damaged.reports[0].position != corrupted_position ||
      damaged.reports[0].bytes != expected_dropped) {
    return absl::DataLossError(absl::StrFormat(
        "damaged log: expected exactly one report: %d bytes dropped at "
        "position %d (checksum mismatch); got %d reports",
        expected_dropped, corrupted_position, damaged.reports.size()));
  }
  return absl::OkStatus();
}

// Runs the demo in `dir` (claimed by ClaimDemoDirectory); returns the first
// failed expectation or I/O error.
absl::Status Demo(const std::string& dir) {
  FileSystem* fs = FileSystem::Default();
  const std::string log_path = JoinPath(dir, kLogName);
  const std::string corrupt_path = JoinPath(dir, kCorruptLogName);
  BW_ASSIGN_OR_RETURN(const WrittenLog written, WriteDemoLog(fs, log_path));
  BW_RETURN_IF_ERROR(ReadBackIntact(log_path, written));
  BW_RETURN_IF_ERROR(WriteCorruptCopy(fs, log_path, corrupt_path, written));
  BW_ASSIGN_OR_RETURN(const DamagedRead damaged,
                      ReadDamagedCopy(corrupt_path, written));
  return VerifyDamagedOutcome(written, damaged);
}

int Main(int argc, char** argv) {
  if (argc > 2 || (argc == 2 && (absl::string_view(argv[1]) == "--help" ||
                                 absl::string_view(argv[1]) == "-h"))) {
    const bool help = argc == 2;
    std::fprintf(help ? stdout : stderr,
                 "usage: blockwal_block_demo [DIRECTORY]   (default: %s)\n",
                 std::string(kDefaultDirectory).c_str());
    return help ? 0 : 2;
  }
  const std::string dir = argc == 2 ? argv[1] : std::string(kDefaultDirectory);
  if (std::optional<int> exit_status =
          ClaimDemoDirectoryOrExit("blockwal_block_demo", dir)) {
    return *exit_status;
  }
  const absl::Status status = Demo(dir);
  if (!status.ok()) {
    std::fflush(stdout);
    std::fprintf(stderr, "blockwal_block_demo: FAILED: %s\n",
                 std::string(status.message()).c_str());
    return 1;
  }
  Print("\ndemo OK: all records read back; after the flipped byte exactly one "
        "checksum mismatch was reported and every record outside the damaged "
        "block still read\n");
  if (std::fflush(stdout) != 0) return 1;  // output lost: don't claim success
  return 0;
}

}  // namespace
}  // namespace blockwal::tools

int main(int argc, char** argv) { return blockwal::tools::Main(argc, argv); }
