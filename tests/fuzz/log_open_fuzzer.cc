// Fuzz target for wal::Log::Open over arbitrary directory contents.
//
// The input describes a log directory; it is written to an in-memory file
// system (util/mem_file_system.h) and opened once in each recovery mode, each
// time on a fresh copy (the libFuzzer build: in the one mode the input's last
// byte picks, mode = last byte % 4 in the order tolerate-corrupted-tail,
// absolute-consistency, point-in-time, skip-any). Input format
// (docs/fuzzing.md):
//
//   input = options:u8  file*
//   file  = kind:u8  [base:varint64]  length:varint32  bytes[length]
//
// (kind & 0x7f) % 14 picks the file's name; kinds marked (base) are followed
// by the segment base offset that goes into the name, zero-padded to 20
// digits:
//
//    0 <base>.store (base)        7 TRUNCATE_SUFFIX.tmp
//    1 <base>.index (base)        8 <base>.store.tmp (base)
//    2 LOCK                       9 <base>.index.tmp (base)
//    3 TRUNCATE_PREFIX           10 notes.txt (a stray file)
//    4 TRUNCATE_SUFFIX           11 <base>.store.bak (base; a near miss)
//    5 LAST_TRUNCATION           12 RESET
//    6 TRUNCATE_PREFIX.tmp       13 RESET.tmp
//
// Bit 7 of kind asks the fuzzer to fix the file's checksums before writing it,
// so that mutated record contents reach recovery instead of failing the CRC
// (libFuzzer cannot compute one): in a store, the CRC of every fragment
// that fits its block (wal/format.h; not of zero-type padding); in a 12-byte
// truncation file, its CRC.
//
// Parsing is lenient so that every input means something: a length past the
// end takes the rest of the input, a malformed varint ends the list, at most
// kMaxFiles files are read, and a later file replaces an earlier one of the
// same name. The options byte:
//
//   bits 0-1  max_store_bytes   64 MiB, 1, 200, 40000
//   bits 2-3  max_index_bytes   4096, 12, 36, 128 KiB
//   bit  4    sync_policy       kNone, kEveryAppend
//   bits 5-6  initial_offset    0, 1, 1000, 2^40
//   bit  7    appended value    11 bytes, 33000 bytes (spans two blocks)
//
// The clock is fixed, so a run is deterministic. For each mode it abort()s
// when one of these invariants breaks:
//
//   1. A failed Open returns kDataLoss with a message, and leaves every
//      segment file that is still there exactly as it was (docs/recovery.md:
//      "a segment that fails the open is left exactly as it was found"); no
//      new segment file appears.
//   2. After a successful Open: LowestOffset() <= NextOffset(), and
//      HighestOffset() is NextOffset() - 1, or nullopt for an empty log.
//      The log holds no more offsets than the input's segment files have
//      bytes: each offset is backed by an index entry (12 bytes), a record
//      (at least 24 bytes) or, for a record skip mode lost, damaged store
//      bytes (the scan itself allows at most one lost offset per byte).
//   3. Read of every offset in [LowestOffset, NextOffset) (of a longer log:
//      kReadsPerPart offsets at each end and as many spread evenly between)
//      returns OK or
//      kDataLoss (with a message); an OK record carries the offset it was read
//      at. In kAbsoluteConsistency, which reads every segment in full at
//      open, every Read is OK. Read outside the range is kOutOfRange.
//   4. An iterator from LowestOffset yields contiguous offsets and the same
//      records Read returns; it stops with kDataLoss exactly where Read fails
//      (it is then restarted after that offset) and with OK at NextOffset.
//   5. Append returns NextOffset() and advances it by one; AppendBatch of two
//      (when the index has room for two) returns the next offset and advances
//      it by two; the records read back exactly. Close returns OK.
//   6. Reopening in the same mode succeeds with the same offset range, every
//      record that read OK before (the appended ones included) reads OK with
//      the same value, and invariants 2-4 hold again. One exception, by
//      design: when the open finished a TruncateSuffix intent that ended the
//      log at a damaged record (one inside a trusted index prefix, which
//      recovery does not look into), the appends may seal that segment, and
//      a sealed segment whose last record is damaged fails a later open with
//      kDataLoss (docs/recovery.md), except in skip mode. Recovery cannot cut
//      that record as a damaged tail: the truncation promised its offset.
//
// Built with -DBLOCKWAL_LIBFUZZER for libFuzzer; otherwise replay_main.cc
// runs the files named on its command line, and each input's outcome per mode
// is printed.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "tests/fuzz/fuzz_util.h"
#include "blockwal/util/coding.h"
#include "blockwal/util/crc32c.h"
#include "blockwal/util/file_system.h"
#include "blockwal/util/mem_file_system.h"
#include "blockwal/wal/format.h"
#include "blockwal/wal/log.h"
#include "blockwal/wal/log_options.h"
#include "blockwal/wal/record.h"
#include "blockwal/wal/segment.h"

namespace blockwal::wal {
namespace {

constexpr char kFuzzTarget[] = "log_open_fuzzer";
const char kDir[] = "/wal";
constexpr int kMaxFiles = 32;
// Reads per check: every offset of a log up to three times this many
// records, else this many at each end and as many spread evenly between.
// Reading a lost offset (skip mode) costs a bounded walk of up to 33 record
// probes (Segment::ReadByWalking); with 256 reads at each end, skip-mode
// inputs spent most of their time there and the target ran ~250 inputs/s.
constexpr uint64_t kReadsPerPart = 8;

#ifdef BLOCKWAL_LIBFUZZER
constexpr bool kVerbose = false;
#else
constexpr bool kVerbose = true;
#endif

enum NameKind : uint8_t {
  kStoreFile,
  kIndexFile,
  kLock,
  kPrefixIntent,
  kSuffixIntent,
  kLastTruncation,
  kPrefixIntentTmp,
  kSuffixIntentTmp,
  kStoreTmp,
  kIndexTmp,
  kStray,
  kStoreBak,
  kResetIntent,
  kResetIntentTmp,
  kNumNameKinds,
};

bool HasBase(uint8_t kind) {
  return kind == kStoreFile || kind == kIndexFile || kind == kStoreTmp ||
         kind == kIndexTmp || kind == kStoreBak;
}

std::string NameOf(uint8_t kind, uint64_t base) {
  switch (kind) {
    case kStoreFile:
      return SegmentFileName(base, kStoreSuffix);
    case kIndexFile:
      return SegmentFileName(base, kIndexSuffix);
    case kLock:
      return kLockFileName;
    case kPrefixIntent:
      return kPrefixIntentFileName;
    case kSuffixIntent:
      return kSuffixIntentFileName;
    case kLastTruncation:
      return kLastTruncationFileName;
    case kPrefixIntentTmp:
      return absl::StrCat(kPrefixIntentFileName, kTempFileSuffix);
    case kSuffixIntentTmp:
      return absl::StrCat(kSuffixIntentFileName, kTempFileSuffix);
    case kResetIntent:
      return kResetIntentFileName;
    case kResetIntentTmp:
      return absl::StrCat(kResetIntentFileName, kTempFileSuffix);
    case kStoreTmp:
      return SegmentFileName(base, kStoreSuffix) + kSegmentTempSuffix;
    case kIndexTmp:
      return SegmentFileName(base, kIndexSuffix) + kSegmentTempSuffix;
    case kStray:
      return "notes.txt";
    default:
      return SegmentFileName(base, kStoreSuffix) + ".bak";
  }
}

using Files = std::map<std::string, std::string>;

struct Input {
  uint8_t options = 0;
  Files files;
};

// A truncation file is a u64 and the masked CRC32C of its 8 bytes.
void FixTruncationChecksum(std::string* file) {
  if (file->size() != 12) return;
  EncodeFixed32(file->data() + 8, crc32c::Mask(crc32c::Value(file->data(), 8)));
}

Input ParseInput(absl::string_view data) {
  Input in;
  if (data.empty()) return in;
  in.options = static_cast<uint8_t>(data[0]);
  data.remove_prefix(1);
  for (int i = 0; i < kMaxFiles && !data.empty(); ++i) {
    const bool fix_checksums = (data[0] & 0x80) != 0;
    const uint8_t kind = (data[0] & 0x7f) % kNumNameKinds;
    data.remove_prefix(1);
    uint64_t base = 0;
    if (HasBase(kind) && !GetVarint64(&data, &base)) break;
    uint32_t length;
    if (!GetVarint32(&data, &length)) break;
    const size_t n = std::min<size_t>(length, data.size());
    std::string file(data.substr(0, n));
    data.remove_prefix(n);
    if (fix_checksums) {
      if (kind == kStoreFile || kind == kStoreTmp) FixBlockChecksums(&file);
      if (kind == kPrefixIntent || kind == kSuffixIntent ||
          kind == kLastTruncation || kind == kResetIntent) {
        FixTruncationChecksum(&file);
      }
    }
    in.files[NameOf(kind, base)] = std::move(file);
  }
  return in;
}

uint64_t FixedClock() { return 1'000'000; }

LogOptions MakeOptions(uint8_t byte, FileSystem* fs, RecoveryMode mode) {
  static constexpr uint64_t kStoreBytes[] = {64ull << 20, 1, 200, 40000};
  static constexpr uint64_t kIndexBytes[] = {4096, 12, 36, 128 << 10};
  static constexpr uint64_t kInitial[] = {0, 1, 1000, 1ull << 40};
  LogOptions o;
  o.fs = fs;
  o.max_store_bytes = kStoreBytes[byte & 3];
  o.max_index_bytes = kIndexBytes[(byte >> 2) & 3];
  o.sync_policy = (byte & 0x10) ? SyncPolicy::kEveryAppend : SyncPolicy::kNone;
  o.initial_offset = kInitial[(byte >> 5) & 3];
  o.recovery_mode = mode;
  o.clock_us = FixedClock;
  return o;
}

bool IsSegmentFile(const std::string& name) {
  uint64_t base;
  return ParseSegmentFileName(name, kStoreSuffix, &base) ||
         ParseSegmentFileName(name, kIndexSuffix, &base);
}

Files Snapshot(FileSystem* fs) {
  Files files;
  absl::StatusOr<std::vector<std::string>> names = fs->GetChildren(kDir);
  FUZZ_CHECK(names.ok(), names.status().code(), 0);
  for (const std::string& name : *names) {
    absl::StatusOr<std::string> data = ReadFileToString(fs, JoinPath(kDir, name));
    FUZZ_CHECK(data.ok(), data.status().code(), 0);
    files[name] = *std::move(data);
  }
  return files;
}

// Invariant 1.
void CheckFailedOpen(const absl::Status& s, const Files& before,
                     FileSystem* fs) {
  FUZZ_CHECK_STATUS(s.code() == absl::StatusCode::kDataLoss, s, 0);
  FUZZ_CHECK_STATUS(!s.message().empty(), s, 0);
  for (const auto& [name, data] : Snapshot(fs)) {
    if (!IsSegmentFile(name)) continue;
    auto it = before.find(name);
    FUZZ_CHECK(it != before.end(), data.size(), 0);
    FUZZ_CHECK(it->second == data, it->second.size(), data.size());
  }
}

// What Read returned at an offset: the value if OK.
using Observed = std::map<uint64_t, std::optional<std::string>>;

// The offsets invariant 3 reads.
// In increasing order, without repeats.
std::vector<uint64_t> OffsetsToRead(uint64_t lo, uint64_t next) {
  constexpr uint64_t k = kReadsPerPart;
  std::vector<uint64_t> out;
  if (next - lo <= 3 * k) {
    for (uint64_t o = lo; o < next; ++o) out.push_back(o);
    return out;
  }
  for (uint64_t o = lo; o < lo + k; ++o) out.push_back(o);
  // The middle [lo + k, next - k) holds more than k offsets: one from each
  // of k equal parts of it.
  const uint64_t middle = next - lo - 2 * k;
  for (uint64_t i = 0; i < k; ++i) out.push_back(lo + k + i * middle / k);
  for (uint64_t o = next - k; o < next; ++o) out.push_back(o);
  return out;
}

// How many offsets the log may hold (invariant 2): a byte of a segment file
// each, and in skip mode, per store, up to one index's capacity of lost
// offsets that a damaged sealed segment keeps taken up to the next
// segment's base (Segment::PlanRecovery bounds them so).
uint64_t MaxRecords(const Files& files, const LogOptions& options) {
  uint64_t bytes = 0;
  for (const auto& [name, data] : files) {
    if (IsSegmentFile(name)) bytes += data.size();
    if (options.recovery_mode == RecoveryMode::kSkipAnyCorruptedRecords &&
        name.size() > 6 && name.compare(name.size() - 6, 6, ".store") == 0) {
      bytes += options.max_index_bytes / kIndexEntrySize;
    }
  }
  return bytes;
}

// Invariants 2-4; returns what each offset read. `max_records` bounds the
// offsets the log may hold (invariant 2).
Observed CheckLog(const Log& log, RecoveryMode mode, uint64_t max_records) {
  const uint64_t lo = log.LowestOffset();
  const uint64_t next = log.NextOffset();
  FUZZ_CHECK(lo <= next, lo, next);
  FUZZ_CHECK(next - lo <= max_records, next - lo, max_records);
  const std::optional<uint64_t> hi = log.HighestOffset();
  FUZZ_CHECK(hi.has_value() == (lo != next), lo, next);
  if (hi.has_value()) FUZZ_CHECK(*hi == next - 1, *hi, next);

  Observed seen;
  std::string scratch;
  for (uint64_t o : OffsetsToRead(lo, next)) {
    absl::StatusOr<Record> r = log.Read(o, &scratch);
    if (r.ok()) {
      FUZZ_CHECK(r->offset == o, r->offset, o);
      seen[o] = std::string(r->value);
    } else {
      FUZZ_CHECK_STATUS(r.status().code() == absl::StatusCode::kDataLoss,
                        r.status(), o);
      FUZZ_CHECK_STATUS(!r.status().message().empty(), r.status(), o);
      FUZZ_CHECK_STATUS(mode != RecoveryMode::kAbsoluteConsistency, r.status(),
                        o);
      seen[o] = std::nullopt;
    }
  }
  for (uint64_t o : {next, lo - 1}) {
    if (o == lo - 1 && lo == 0) continue;
    absl::StatusOr<Record> r = log.Read(o, &scratch);
    FUZZ_CHECK_STATUS(r.status().code() == absl::StatusCode::kOutOfRange,
                      r.status(), o);
  }

  // Invariant 4, over the offsets read above (in order).
  uint64_t expected = lo;
  std::unique_ptr<LogIterator> it = log.NewIterator(expected);
  for (const auto& [o, value] : seen) {
    if (o != expected) {  // a gap in the offsets read: jump over it
      expected = o;
      it = log.NewIterator(expected);
    }
    Record rec;
    if (it->Next(&rec)) {
      FUZZ_CHECK(rec.offset == expected, rec.offset, expected);
      FUZZ_CHECK(value.has_value() && *value == rec.value, expected, 0);
    } else {
      FUZZ_CHECK_STATUS(it->status().code() == absl::StatusCode::kDataLoss,
                        it->status(), expected);
      FUZZ_CHECK(!value.has_value(), expected, 0);
      it = log.NewIterator(expected + 1);
    }
    ++expected;
  }
  if (expected == next) {
    Record rec;
    FUZZ_CHECK(!it->Next(&rec), rec.offset, next);
    FUZZ_CHECK_STATUS(it->status().ok(), it->status(), next);
  }
  return seen;
}

void ReadBack(const Log& log, uint64_t offset, absl::string_view want) {
  std::string scratch;
  absl::StatusOr<Record> r = log.Read(offset, &scratch);
  FUZZ_CHECK_STATUS(r.ok(), r.status(), offset);
  FUZZ_CHECK(r->offset == offset, r->offset, offset);
  FUZZ_CHECK(r->value == want, r->value.size(), want.size());
}

void FuzzMode(const Input& in, RecoveryMode mode) {
  std::unique_ptr<FileSystem> fs = NewMemFileSystem();
  FUZZ_CHECK(fs->CreateDir(kDir).ok(), 0, 0);
  for (const auto& [name, data] : in.files) {
    FUZZ_CHECK(WriteStringToFile(fs.get(), data, JoinPath(kDir, name), false).ok(),
               data.size(), 0);
  }
  const LogOptions options = MakeOptions(in.options, fs.get(), mode);

  absl::StatusOr<std::unique_ptr<Log>> opened = Log::Open(kDir, options);
  if (!opened.ok()) {
    if (kVerbose) {
      std::fprintf(stderr, "  %s: open failed: %s\n", RecoveryModeName(mode),
                   opened.status().ToString().c_str());
    }
    CheckFailedOpen(opened.status(), in.files, fs.get());
    return;
  }
  std::unique_ptr<Log> log = *std::move(opened);
  Observed seen = CheckLog(*log, mode, MaxRecords(in.files, options));
  const uint64_t lo = log->LowestOffset();
  if (kVerbose) {
    size_t ok = 0;
    for (const auto& [o, value] : seen) ok += value.has_value();
    std::fprintf(stderr,
                 "  %s: open OK: offsets [%llu, %llu), %zu of %zu read OK, "
                 "%llu torn bytes cut\n",
                 RecoveryModeName(mode), static_cast<unsigned long long>(lo),
                 static_cast<unsigned long long>(log->NextOffset()), ok,
                 seen.size(),
                 static_cast<unsigned long long>(
                     log->recovery_report().torn_bytes_cut));
  }

  // Invariant 5.
  const std::string value = (in.options & 0x80)
                                ? std::string(33000, static_cast<char>(in.options))
                                : std::string("fuzz-append");
  const uint64_t first = log->NextOffset();
  absl::StatusOr<uint64_t> appended = log->Append(value);
  FUZZ_CHECK_STATUS(appended.ok(), appended.status(), first);
  FUZZ_CHECK(*appended == first, *appended, first);
  FUZZ_CHECK(log->NextOffset() == first + 1, log->NextOffset(), first);
  ReadBack(*log, first, value);
  seen[first] = value;
  if (options.max_index_bytes / kIndexEntrySize >= 2) {
    const absl::string_view batch[] = {"batch-1", "batch-2"};
    absl::StatusOr<uint64_t> b = log->AppendBatch(batch);
    FUZZ_CHECK_STATUS(b.ok(), b.status(), first + 1);
    FUZZ_CHECK(*b == first + 1, *b, first);
    FUZZ_CHECK(log->NextOffset() == first + 3, log->NextOffset(), first);
    for (uint64_t i = 0; i < 2; ++i) {
      ReadBack(*log, first + 1 + i, batch[i]);
      seen[first + 1 + i] = std::string(batch[i]);
    }
  }
  const uint64_t next = log->NextOffset();
  // The exception of invariant 6.
  const bool may_fail_reopen = in.files.count(kSuffixIntentFileName) > 0 &&
                               first > lo && seen.count(first - 1) > 0 &&
                               !seen[first - 1].has_value();
  absl::Status closed = log->Close();
  FUZZ_CHECK_STATUS(closed.ok(), closed, 0);
  log.reset();

  // Invariant 6.
  absl::StatusOr<std::unique_ptr<Log>> reopened = Log::Open(kDir, options);
  if (may_fail_reopen && !reopened.ok() &&
      mode != RecoveryMode::kSkipAnyCorruptedRecords) {
    FUZZ_CHECK_STATUS(reopened.status().code() == absl::StatusCode::kDataLoss,
                      reopened.status(), next);
    return;
  }
  FUZZ_CHECK_STATUS(reopened.ok(), reopened.status(), next);
  log = *std::move(reopened);
  FUZZ_CHECK(log->LowestOffset() == lo, log->LowestOffset(), lo);
  FUZZ_CHECK(log->NextOffset() == next, log->NextOffset(), next);
  const Observed again = CheckLog(*log, mode, MaxRecords(in.files, options) + 3);
  for (const auto& [o, value] : seen) {
    if (!value.has_value()) continue;
    auto it = again.find(o);
    if (it == again.end()) {  // not among the offsets CheckLog read
      ReadBack(*log, o, *value);
      continue;
    }
    FUZZ_CHECK(it->second.has_value() && *it->second == *value, o, 0);
  }
  closed = log->Close();
  FUZZ_CHECK_STATUS(closed.ok(), closed, 1);
}

constexpr RecoveryMode kModes[] = {
    RecoveryMode::kTolerateCorruptedTailRecords,
    RecoveryMode::kAbsoluteConsistency, RecoveryMode::kPointInTime,
    RecoveryMode::kSkipAnyCorruptedRecords};

void FuzzOne(absl::string_view data) {
  const Input in = ParseInput(data);
#ifdef BLOCKWAL_LIBFUZZER
  // One mode per execution, picked by the input's last byte, so the fuzzer
  // tries four times as many inputs; a finding reproduces in the same mode
  // (and in the replay program, which runs them all).
  FuzzMode(in, kModes[data.empty() ? 0 : static_cast<uint8_t>(data.back()) % 4]);
#else
  for (RecoveryMode mode : kModes) FuzzMode(in, mode);
#endif
}

}  // namespace
}  // namespace blockwal::wal

#ifdef BLOCKWAL_LIBFUZZER
// ASan's quarantine at 16 MB instead of 256: an input allocates and frees a
// few MB (in-memory files, index mappings, values of 33 000 bytes), and with
// the default quarantine nearly every allocation lands on pages never
// touched, so page faults and unmapping took a third of the time. Measured
// on a 10-minute corpus: 1.7 times the inputs per CPU-second, peak RSS 317
// -> 77 MB. A use after free is still caught while the block is among the
// last 16 MB freed (several inputs back). ASAN_OPTIONS overrides it.
extern "C" const char* __asan_default_options() {
  return "quarantine_size_mb=16";
}
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  blockwal::wal::FuzzOne(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
