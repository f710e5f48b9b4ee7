// Fuzz target for one segment's recovery rules (wal/segment_recovery.h):
// the scan and the decision, on bytes in memory (no file system, no files).
//
// Input format (docs/fuzzing.md):
//
//   input = options:u8  next:u8  store_length:varint32  store  index
//
// `store` is the store's bytes (a length past the end takes the rest), the
// rest of the input the index file's bytes. The segment's base offset is
// 1000. The options byte:
//
//   bit  0    last             the newest segment (else a sealed one whose
//                              next segment starts at 1000 + next)
//   bit  1    trust_index      as after a truncation wrote the index
//   bit  2    fix checksums    of every store fragment that fits its block
//                              (fuzz_util.h), so mutated records get past
//                              the CRC
//   bits 3-4  complete_below   none, 1001, 1003, 1000 + next
//   bits 5-6  index_capacity   0, 1, 3, 4096 entries
//
// Each input is scanned and decided in all four recovery modes. It abort()s
// when one of these invariants breaks:
//
//   1. The scan never fails (the store is in memory) and its findings are
//      consistent: trusted <= the index's entries, one flags byte per
//      position, positions strictly increasing and after the last trusted
//      entry's, lost offsets (skipped) only in skip mode and at most one per
//      position found.
//   2. Without trust_index and outside skip mode, every record found after
//      the trusted prefix verifies at its position with its offset, and so
//      does the last record kept; good_end is where that record ends.
//   3. The newest segment, outside skip mode, never ends in a record that
//      says more of its batch follows (unless complete_below covers it).
//   4. A refusal is kDataLoss whose message starts with the store's name; a
//      plan has final_count = trusted + positions, cuts the store only for
//      the newest segment and only down to good_end <= the store's size,
//      and names the store in every damaged region.
//   5. The modes are ordered: absolute consistency accepts only what point-
//      in-time accepts (with the same number of records); tolerate-tail
//      accepts only what point-in-time accepts (the same findings, and it
//      refuses more); skip mode never refuses.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "blockwal/util/coding.h"
#include "blockwal/util/mem_file_system.h"
#include "blockwal/wal/index.h"
#include "blockwal/wal/record.h"
#include "blockwal/wal/segment_recovery.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using blockwal::wal::DecideRecovery;
using blockwal::wal::Index;
using blockwal::wal::kBatchContinues;
using blockwal::wal::RecoveryMode;
using blockwal::wal::ScanSegment;
using blockwal::wal::SegmentFindings;
using blockwal::wal::SegmentPlan;
using blockwal::wal::SegmentScanInput;
using blockwal::wal::VerifyRecordAt;

constexpr const char* kFuzzTarget = "segment_recovery_fuzzer";
constexpr uint64_t kBase = 1000;
const std::string kStorePath = "00000000000000001000.store";

// A store in memory.
class StringFile : public blockwal::RandomAccessFile {
 public:
  explicit StringFile(std::string data) : data_(std::move(data)) {}
  absl::StatusOr<absl::string_view> Read(uint64_t offset, size_t n,
                                         char* scratch) const override {
    if (offset >= data_.size()) return absl::string_view();
    return absl::string_view(data_).substr(offset, n);
  }
  absl::StatusOr<uint64_t> Size() const override { return data_.size(); }
  const std::string& path() const override { return kStorePath; }

 private:
  const std::string data_;
};

// Checks invariants 1-3 on one mode's findings.
void CheckFindings(const SegmentScanInput& in, const SegmentFindings& f) {
  const int mode = static_cast<int>(in.mode);
  FUZZ_CHECK(f.trusted <= f.index_entries, f.trusted, f.index_entries);
  FUZZ_CHECK(f.positions.size() == f.flags.size(), f.positions.size(), mode);
  for (size_t k = 1; k < f.positions.size(); ++k) {
    FUZZ_CHECK(f.positions[k - 1] < f.positions[k], f.positions[k], k);
  }
  if (f.trusted > 0 && !f.positions.empty()) {
    FUZZ_CHECK(in.index->Position(f.trusted - 1) < f.positions.front(),
               f.positions.front(), f.trusted);
  }
  const bool skip = in.mode == RecoveryMode::kSkipAnyCorruptedRecords;
  FUZZ_CHECK(skip || f.skipped == 0, f.skipped, mode);
  FUZZ_CHECK(f.skipped <= f.positions.size(), f.skipped, f.positions.size());
  if (skip || in.trust_index) return;
  for (size_t k = 0; k < f.positions.size(); ++k) {
    const uint64_t offset = kBase + f.trusted + k;
    FUZZ_CHECK(VerifyRecordAt(*in.store, f.positions[k], offset).has_value(),
               offset, f.positions[k]);
  }
  if (f.count() == 0) return;
  const uint64_t last = f.count() - 1;
  const std::optional<blockwal::wal::VerifiedRecord> v =
      VerifyRecordAt(*in.store, f.PositionOf(*in.index, last), kBase + last);
  FUZZ_CHECK(v.has_value(), kBase + last, mode);
  FUZZ_CHECK(f.good_end == v->end, f.good_end, v->end);
  if (in.last) {
    FUZZ_CHECK(!blockwal::wal::InIncompleteBatch(kBase + last, v->flags,
                                                 in.complete_below),
               kBase + last, v->flags);
  }
}

// Scans and decides in one mode; checks invariants 1-4. The plan, or
// nullopt when the mode refused the segment.
std::optional<SegmentPlan> Recover(SegmentScanInput in, RecoveryMode mode) {
  in.mode = mode;
  absl::StatusOr<SegmentFindings> findings = ScanSegment(in);
  FUZZ_CHECK_STATUS(findings.ok(), findings.status(), static_cast<int>(mode));
  CheckFindings(in, *findings);
  const uint64_t count = findings->count();
  const uint64_t trusted = findings->trusted;
  absl::StatusOr<SegmentPlan> plan =
      DecideRecovery(in, *std::move(findings), kStorePath);
  if (!plan.ok()) {
    FUZZ_CHECK_STATUS(absl::IsDataLoss(plan.status()) &&
                          absl::StartsWith(plan.status().message(),
                                           kStorePath + ": "),
                      plan.status(), static_cast<int>(mode));
    return std::nullopt;
  }
  FUZZ_CHECK(plan->final_count == count, plan->final_count, count);
  FUZZ_CHECK(plan->trusted == trusted, plan->trusted, trusted);
  FUZZ_CHECK(plan->positions.size() == count - trusted,
             plan->positions.size(), count);
  FUZZ_CHECK(!plan->cut_store || in.last, plan->good_end, in.store_size);
  FUZZ_CHECK(!plan->cut_store || plan->good_end < in.store_size,
             plan->good_end, in.store_size);
  for (const blockwal::wal::DamagedRegion& d : plan->damage) {
    FUZZ_CHECK(d.file == kStorePath, d.position, d.bytes);
  }
  return *std::move(plan);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t options = data[0];
  const uint8_t next = data[1];
  absl::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);
  uint32_t store_length = 0;
  if (!blockwal::GetVarint32(&rest, &store_length)) return 0;
  std::string store(rest.substr(0, store_length));
  rest.remove_prefix(std::min<size_t>(store_length, rest.size()));
  if (options & 0x04) FixBlockChecksums(&store);

  const StringFile store_file(store);
  static blockwal::FileSystem* const fs =
      blockwal::NewMemFileSystem().release();  // only names the index
  const std::unique_ptr<Index> index =
      Index::FromBytes(fs, "00000000000000001000.index", std::string(rest));

  SegmentScanInput in;
  in.base_offset = kBase;
  in.store = &store_file;
  in.store_size = store.size();
  in.index = index.get();
  in.last = (options & 0x01) != 0;
  in.trust_index = (options & 0x02) != 0;
  in.next_base = in.last ? 0 : kBase + next;
  switch ((options >> 3) & 3) {
    case 1: in.complete_below = kBase + 1; break;
    case 2: in.complete_below = kBase + 3; break;
    case 3: in.complete_below = kBase + next; break;
    default: break;
  }
  constexpr uint64_t kCapacities[] = {0, 1, 3, 4096};
  in.index_capacity = kCapacities[(options >> 5) & 3];

  const std::optional<SegmentPlan> absolute =
      Recover(in, RecoveryMode::kAbsoluteConsistency);
  const std::optional<SegmentPlan> tolerate =
      Recover(in, RecoveryMode::kTolerateCorruptedTailRecords);
  const std::optional<SegmentPlan> point =
      Recover(in, RecoveryMode::kPointInTime);
  const std::optional<SegmentPlan> skip =
      Recover(in, RecoveryMode::kSkipAnyCorruptedRecords);
  // 5. The modes' order.
  FUZZ_CHECK(skip.has_value(), options, next);
  FUZZ_CHECK(!tolerate.has_value() || point.has_value(), options, next);
  if (absolute.has_value() && !in.trust_index) {
    FUZZ_CHECK(point.has_value(), options, next);
    FUZZ_CHECK(absolute->final_count == point->final_count,
               absolute->final_count, point->final_count);
  }
#ifndef BLOCKWAL_LIBFUZZER
  std::printf("last=%d absolute=%s tolerate=%s point-in-time=%s skip=%llu\n",
              in.last ? 1 : 0, absolute ? "ok" : "refused",
              tolerate ? "ok" : "refused", point ? "ok" : "refused",
              static_cast<unsigned long long>(skip->final_count));
#endif
  return 0;
}
