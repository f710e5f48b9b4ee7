// What each recovery mode of the segmented log (wal/log.h) does with each
// kind of damage: one table, kModeCases, the one docs/recovery.md prints, run
// on every file-system kind; then cases of the modes the table does not show.
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/log_recovery_env.h"
#include "tests/status_matchers.h"

namespace blockwal::wal {
namespace {

using ::blockwal::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string ModeName(RecoveryMode mode) {
  switch (mode) {
    case RecoveryMode::kTolerateCorruptedTailRecords: return "TolerateTail";
    case RecoveryMode::kAbsoluteConsistency: return "Absolute";
    case RecoveryMode::kPointInTime: return "PointInTime";
    case RecoveryMode::kSkipAnyCorruptedRecords: return "SkipAny";
  }
  return "Unknown";
}

// ============================================= 7. recovery modes, one table

enum class Damage {
  // (a) The last record of the last segment torn (40 records, 500 bytes of
  //     record 39 written).
  kTornTail,
  // (b) Record 10 of the last segment damaged; records 11..39 follow,
  //     unsynced (the index covers 0..9). The damage drops the rest of block
  //     0 (records 10..31); records 32..39 in block 1 are valid.
  kDamageThenUnsynced,
  // (c) As (b), but record 35 carries the sync marker.
  kDamageThenSynced,
  // (d) Record 3 of sealed segment [0, 8) damaged (3 segments of 8).
  kSealedMiddle,
  // (d') Record 7, the last of sealed segment [0, 8), damaged: the cheap
  //     check of the sealed segment fails.
  kSealedLast,
  // An AppendBatch cut off by the crash: records 5 and 6 carry
  //     kBatchContinues and nothing follows them.
  kBatchCut,
};

std::string DamageName(Damage d) {
  switch (d) {
    case Damage::kTornTail: return "TornTail";
    case Damage::kDamageThenUnsynced: return "DamageThenUnsynced";
    case Damage::kDamageThenSynced: return "DamageThenSynced";
    case Damage::kSealedMiddle: return "SealedMiddle";
    case Damage::kSealedLast: return "SealedLast";
    case Damage::kBatchCut: return "BatchCut";
  }
  return "Unknown";
}

struct ModeCase {
  Damage damage;
  RecoveryMode mode;
  bool opens = false;
  // When !opens: the store named in the kDataLoss message and a substring.
  uint64_t bad_store = 0;
  const char* error = "";
  // When opens:
  uint64_t next_offset = 0;
  uint64_t torn_bytes_cut = 0;
  uint64_t records_skipped = 0;
  uint64_t batches_cut = 0;
  // Offsets in [lost_from, lost_to) read kDataLoss; the others below
  // next_offset read their values.
  uint64_t lost_from = 0, lost_to = 0;
  // Position of the first damaged region in the report, or kNone.
  uint64_t damage_position = kNone;
  static constexpr uint64_t kNone = ~uint64_t{0};
};

void PrintTo(const ModeCase& c, std::ostream* os) {
  *os << DamageName(c.damage) << " in " << RecoveryModeName(c.mode);
}

constexpr RecoveryMode kTolerate = RecoveryMode::kTolerateCorruptedTailRecords;
constexpr RecoveryMode kAbsolute = RecoveryMode::kAbsoluteConsistency;
constexpr RecoveryMode kPit = RecoveryMode::kPointInTime;
constexpr RecoveryMode kSkip = RecoveryMode::kSkipAnyCorruptedRecords;

// The table of docs/recovery.md. A row that opens names the next offset and
// the torn bytes cut, and whatever else the report or the reads show; a row
// that fails names the store in the kDataLoss message and a substring of it.
const ModeCase kModeCases[] = {
    // (a) torn tail: 500 bytes of record 39 at 39936.
    {.damage = Damage::kTornTail, .mode = kTolerate, .opens = true,
     .next_offset = 39, .torn_bytes_cut = 500},
    {.damage = Damage::kTornTail, .mode = kAbsolute, .opens = false,
     .bad_store = 0,
     .error = "incomplete record at position 39936 (500 bytes before the "
              "end); any damage fails this mode"},
    {.damage = Damage::kTornTail, .mode = kPit, .opens = true,
     .next_offset = 39, .torn_bytes_cut = 500},
    {.damage = Damage::kTornTail, .mode = kSkip, .opens = true,
     .next_offset = 39, .torn_bytes_cut = 500},
    // (b) damage at 10240, the rest of block 0 dropped, unsynced valid
    // records in block 1.
    {.damage = Damage::kDamageThenUnsynced, .mode = kTolerate, .opens = false,
     .bad_store = 0,
     .error = "checksum mismatch at position 10240 (22528 bytes); valid "
              "records follow the damage"},
    {.damage = Damage::kDamageThenUnsynced, .mode = kAbsolute, .opens = false,
     .bad_store = 0,
     .error = "checksum mismatch at position 10240 (22528 bytes); any damage "
              "fails this mode"},
    {.damage = Damage::kDamageThenUnsynced, .mode = kPit, .opens = true,
     .next_offset = 10, .torn_bytes_cut = 40 * kBigRecord - 10240,
     .damage_position = 10240},
    {.damage = Damage::kDamageThenUnsynced, .mode = kSkip, .opens = true,
     .next_offset = 40, .torn_bytes_cut = 0, .records_skipped = 22,
     .lost_from = 10, .lost_to = 32, .damage_position = 10240},
    // (c) as (b) with a synced record after the damage.
    {.damage = Damage::kDamageThenSynced, .mode = kTolerate, .opens = false,
     .bad_store = 0,
     .error = "checksum mismatch at position 10240 (22528 bytes); valid "
              "records follow the damage"},
    {.damage = Damage::kDamageThenSynced, .mode = kAbsolute, .opens = false,
     .bad_store = 0,
     .error = "checksum mismatch at position 10240 (22528 bytes); any damage "
              "fails this mode"},
    {.damage = Damage::kDamageThenSynced, .mode = kPit, .opens = false,
     .bad_store = 0,
     .error = "checksum mismatch at position 10240 (22528 bytes); records "
              "synced before the crash follow the damage"},
    {.damage = Damage::kDamageThenSynced, .mode = kSkip, .opens = true,
     .next_offset = 40, .torn_bytes_cut = 0, .records_skipped = 22,
     .lost_from = 10, .lost_to = 32, .damage_position = 10240},
    // (d) damage inside a sealed segment: found by the cheap check only in
    // absolute mode (which reads everything); otherwise at Read.
    {.damage = Damage::kSealedMiddle, .mode = kTolerate, .opens = true,
     .next_offset = 24, .torn_bytes_cut = 0, .lost_from = 3, .lost_to = 4},
    {.damage = Damage::kSealedMiddle, .mode = kAbsolute, .opens = false,
     .bad_store = 0,
     .error = "checksum mismatch at position 3072 (5120 bytes); any damage "
              "fails this mode"},
    {.damage = Damage::kSealedMiddle, .mode = kPit, .opens = true,
     .next_offset = 24, .torn_bytes_cut = 0, .lost_from = 3, .lost_to = 4},
    {.damage = Damage::kSealedMiddle, .mode = kSkip, .opens = true,
     .next_offset = 24, .torn_bytes_cut = 0, .lost_from = 3, .lost_to = 4},
    // (d') damage in the last record of a sealed segment.
    {.damage = Damage::kSealedLast, .mode = kTolerate, .opens = false,
     .bad_store = 0,
     .error = "checksum mismatch at position 7168 (1024 bytes); a sealed "
              "segment holds only synced data"},
    {.damage = Damage::kSealedLast, .mode = kAbsolute, .opens = false,
     .bad_store = 0,
     .error = "checksum mismatch at position 7168 (1024 bytes); any damage "
              "fails this mode"},
    {.damage = Damage::kSealedLast, .mode = kPit, .opens = false,
     .bad_store = 0,
     .error = "checksum mismatch at position 7168 (1024 bytes); a sealed "
              "segment holds only synced data"},
    // Skip mode never cuts a sealed store: offset 7 stays taken (reads
    // kDataLoss) up to the next segment's base.
    {.damage = Damage::kSealedLast, .mode = kSkip, .opens = true,
     .next_offset = 24, .torn_bytes_cut = 0, .records_skipped = 1,
     .lost_from = 7, .lost_to = 8, .damage_position = 7168},
    // A batch cut off by the crash: removed in every mode but absolute.
    {.damage = Damage::kBatchCut, .mode = kTolerate, .opens = true,
     .next_offset = 5, .torn_bytes_cut = 2 * kBigRecord, .batches_cut = 1},
    {.damage = Damage::kBatchCut, .mode = kAbsolute, .opens = false,
     .bad_store = 0,
     .error = "incomplete record at position 5120 (2048 bytes before the "
              "end); any damage fails this mode"},
    {.damage = Damage::kBatchCut, .mode = kPit, .opens = true,
     .next_offset = 5, .torn_bytes_cut = 2 * kBigRecord, .batches_cut = 1},
    {.damage = Damage::kBatchCut, .mode = kSkip, .opens = true,
     .next_offset = 5, .torn_bytes_cut = 2 * kBigRecord, .batches_cut = 1},
};

class LogRecoveryModeTest
    : public ::testing::TestWithParam<std::tuple<ModeCase, FsKind>> {
 protected:
  LogRecoveryModeTest() : env_(std::get<1>(GetParam())) {
    options_.fs = env_.fs();
    options_.max_index_bytes = 64 * kIndexEntrySize;
    options_.clock_us = [this] { return ++now_us_; };
  }

  // Makes the damaged log in `dir`.
  void MakeDamagedLog(Damage damage, const std::string& dir) {
    const std::string scratch_dir = env_.Dir("pristine");
    switch (damage) {
      case Damage::kTornTail: {
        auto log = Log::Open(scratch_dir, options_);
        ASSERT_OK(log);
        for (uint64_t i = 0; i < 40; ++i) ASSERT_OK((*log)->Append(BigValue(i)));
        ASSERT_OK((*log)->Sync());
        env_.KillCopy(scratch_dir, dir);
        env_.TruncateTo(RecoveryEnv::StorePath(dir, 0), 39 * kBigRecord + 500);
        break;
      }
      case Damage::kDamageThenUnsynced:
      case Damage::kDamageThenSynced: {
        std::vector<CraftedRecord> records;
        for (uint64_t i = 0; i < 40; ++i) records.push_back({.value = BigValue(i)});
        if (damage == Damage::kDamageThenSynced) {
          records[35].flags = kSyncMarker;
        }
        std::vector<uint64_t> positions =
            CraftSegment(env_.fs(), dir, 0, records, /*indexed=*/10);
        ASSERT_EQ(positions[10], 10240u);
        ASSERT_EQ(positions[32], 32768u);
        env_.Overwrite(RecoveryEnv::StorePath(dir, 0), 10240 + 100,
                       std::string(16, '\xee'));
        break;
      }
      case Damage::kSealedMiddle:
      case Damage::kSealedLast: {
        options_.max_store_bytes = 8 * kBigRecord;  // segments 0, 8, 16
        auto log = Log::Open(dir, options_);
        ASSERT_OK(log);
        for (uint64_t i = 0; i < 24; ++i) ASSERT_OK((*log)->Append(BigValue(i)));
        ASSERT_EQ((*log)->Segments().size(), 3u);
        ASSERT_OK((*log)->Close());
        const uint64_t record = damage == Damage::kSealedMiddle ? 3 : 7;
        env_.FlipBit(RecoveryEnv::StorePath(dir, 0),
                     record * kBigRecord + kHeaderSize + kEnvelopeSize + 500);
        break;
      }
      case Damage::kBatchCut: {
        std::vector<CraftedRecord> records;
        for (uint64_t i = 0; i < 7; ++i) records.push_back({.value = BigValue(i)});
        records[5].flags = kBatchContinues;
        records[6].flags = kBatchContinues;
        CraftSegment(env_.fs(), dir, 0, records, /*indexed=*/7);
        break;
      }
    }
  }

  RecoveryEnv env_;
  LogOptions options_;
  uint64_t now_us_ = 5000;
};

TEST_P(LogRecoveryModeTest, OutcomeMatchesTable) {
  const ModeCase& c = std::get<0>(GetParam());
  const std::string dir = env_.Dir("log");
  MakeDamagedLog(c.damage, dir);
  if (::testing::Test::HasFatalFailure()) return;
  options_.recovery_mode = c.mode;
  absl::StatusOr<std::unique_ptr<Log>> opened = Log::Open(dir, options_);
  if (!c.opens) {
    EXPECT_THAT(opened, StatusIs(absl::StatusCode::kDataLoss,
                                 AllOf(HasSubstr(RecoveryEnv::StorePath(dir, c.bad_store)),
                                       HasSubstr(c.error),
                                       HasSubstr(RecoveryModeName(c.mode)))));
    return;
  }
  ASSERT_OK(opened);
  Log& log = **opened;
  const RecoveryReport& report = log.recovery_report();
  EXPECT_EQ(log.NextOffset(), c.next_offset);
  EXPECT_EQ(report.records, c.next_offset);
  EXPECT_EQ(report.torn_bytes_cut, c.torn_bytes_cut);
  EXPECT_EQ(report.records_skipped, c.records_skipped);
  EXPECT_EQ(report.batches_cut, c.batches_cut);
  if (c.damage_position == ModeCase::kNone) {
    EXPECT_THAT(report.damage, IsEmpty());
  } else {
    ASSERT_THAT(report.damage, ::testing::Not(IsEmpty()));
    EXPECT_EQ(report.damage[0].position, c.damage_position);
    EXPECT_THAT(report.damage[0].file, HasSubstr(".store"));
  }
  for (uint64_t i = 0; i < c.next_offset; ++i) {
    std::string scratch;
    absl::StatusOr<Record> r = log.Read(i, &scratch);
    if (i >= c.lost_from && i < c.lost_to) {
      EXPECT_THAT(r, StatusIs(absl::StatusCode::kDataLoss,
                              HasSubstr("position")))
          << "offset " << i;
    } else {
      ASSERT_OK(r) << "offset " << i;
      EXPECT_EQ(r->value, BigValue(i)) << "offset " << i;
      EXPECT_EQ(r->offset, i);
    }
  }
  std::string scratch;
  EXPECT_THAT(log.Read(c.next_offset, &scratch),
              StatusIs(absl::StatusCode::kOutOfRange));
  // Appends continue after what was recovered, and the result reopens
  // cleanly in the same mode, with the same lost offsets.
  ASSERT_OK_AND_ASSIGN(uint64_t offset, log.Append("after"));
  EXPECT_EQ(offset, c.next_offset);
  ASSERT_OK(log.Close());
  opened->reset();
  ASSERT_OK_AND_ASSIGN(auto again, Log::Open(dir, options_));
  EXPECT_EQ(again->NextOffset(), c.next_offset + 1);
  if (c.damage == Damage::kSealedLast) {
    // Sealed data is never cut, and the damage sits where the sealed-segment
    // check looks (its last record): every open finds and reports it again.
    ASSERT_THAT(again->recovery_report().damage, ::testing::Not(IsEmpty()));
    EXPECT_EQ(again->recovery_report().damage[0].position, c.damage_position);
  } else {
    EXPECT_THAT(again->recovery_report().damage, IsEmpty());
  }
  EXPECT_EQ(again->recovery_report().torn_bytes_cut, 0u);
  for (uint64_t i = c.lost_from; i < c.lost_to; ++i) {
    EXPECT_THAT(again->Read(i, &scratch), StatusIs(absl::StatusCode::kDataLoss));
  }
  ASSERT_OK_AND_ASSIGN(Record r, again->Read(c.next_offset, &scratch));
  EXPECT_EQ(r.value, "after");
}

INSTANTIATE_TEST_SUITE_P(
    Table, LogRecoveryModeTest,
    ::testing::Combine(::testing::ValuesIn(kModeCases),
                       ::testing::Values(FsKind::kMem, FsKind::kFault,
                                         FsKind::kPosix)),
    [](const ::testing::TestParamInfo<std::tuple<ModeCase, FsKind>>& info) {
      const ModeCase& c = std::get<0>(info.param);
      return DamageName(c.damage) + "_" + ModeName(c.mode) + "_" +
             FsKindName(std::get<1>(info.param));
    });

// Whatever skip mode decides, a sealed segment's store is never cut (see the
// SealedLast/SkipAny row of kModeCases).
TEST(LogRecoveryModeExtraTest, SkipModeNeverShortensSealedStore) {
  RecoveryEnv env(FsKind::kMem);
  const std::string dir = env.Dir("log");
  LogOptions options;
  options.fs = env.fs();
  options.max_store_bytes = 8 * kBigRecord;
  {
    ASSERT_OK_AND_ASSIGN(auto log, Log::Open(dir, options));
    for (uint64_t i = 0; i < 24; ++i) ASSERT_OK(log->Append(BigValue(i)));
    ASSERT_OK(log->Close());
  }
  env.FlipBit(RecoveryEnv::StorePath(dir, 0), 7 * kBigRecord + 100);
  const std::string index_before = env.Bytes(RecoveryEnv::IndexPath(dir, 0));
  options.recovery_mode = kSkip;
  {
    ASSERT_OK_AND_ASSIGN(auto log, Log::Open(dir, options));
    EXPECT_EQ(log->NextOffset(), 24u);
    EXPECT_EQ(log->recovery_report().records_skipped, 1u);
    EXPECT_EQ(log->recovery_report().torn_bytes_cut, 0u);
    EXPECT_EQ(env.Size(RecoveryEnv::StorePath(dir, 0)), 8 * kBigRecord);
    ASSERT_OK(log->Close());
  }
  EXPECT_EQ(env.Size(RecoveryEnv::StorePath(dir, 0)), 8 * kBigRecord);
  // The index keeps offset 7 (pointing into the damaged record).
  EXPECT_EQ(env.Bytes(RecoveryEnv::IndexPath(dir, 0)), index_before);
}

// A sync marker before the damage proves nothing about the damaged region:
// point-in-time cuts there.
TEST(LogRecoveryModeExtraTest, SyncMarkerBeforeDamageDoesNotBlockTheCut) {
  RecoveryEnv env(FsKind::kMem);
  const std::string dir = env.Dir("log");
  std::vector<CraftedRecord> records;
  for (uint64_t i = 0; i < 40; ++i) records.push_back({.value = BigValue(i)});
  records[9].flags = kSyncMarker;
  CraftSegment(env.fs(), dir, 0, records, /*indexed=*/10);
  env.Overwrite(RecoveryEnv::StorePath(dir, 0), 10240 + 100, "\xee\xee\xee");
  LogOptions options;
  options.fs = env.fs();
  ASSERT_OK_AND_ASSIGN(auto log, Log::Open(dir, options));
  EXPECT_EQ(log->NextOffset(), 10u);
  EXPECT_EQ(log->recovery_report().torn_bytes_cut, 40 * kBigRecord - 10240);
}

// TruncateSuffix(last_kept) ends the log at last_kept + 1 even when the
// record at last_kept is damaged (here inside sealed segment 0, which the
// point-in-time open accepted because its cheap check reads only the last
// record): the record keeps its offset and reads kDataLoss.
// BUG: DoTruncateSuffix reopens the cut segment with a full recovery; that
// finds record 3 damaged at the end of what is now the last segment, takes
// it for a torn tail and cuts it (report discarded), so NextOffset() is 3 and
// the next append reuses offset 3.
TEST(LogRecoveryModeExtraTest, TruncateSuffixOntoDamagedRecordKeepsItsOffset) {
  RecoveryEnv env(FsKind::kMem);
  const std::string dir = env.Dir("log");
  LogOptions options;
  options.fs = env.fs();
  options.max_store_bytes = 8 * kBigRecord;  // segments 0, 8, 16
  {
    ASSERT_OK_AND_ASSIGN(auto log, Log::Open(dir, options));
    for (uint64_t i = 0; i < 24; ++i) ASSERT_OK(log->Append(BigValue(i)));
    ASSERT_OK(log->Close());
  }
  env.FlipBit(RecoveryEnv::StorePath(dir, 0), 3 * kBigRecord + 100);
  ASSERT_OK_AND_ASSIGN(auto log, Log::Open(dir, options));
  ASSERT_OK(log->TruncateSuffix(3));
  EXPECT_EQ(log->NextOffset(), 4u);
  std::string scratch;
  EXPECT_THAT(log->Read(3, &scratch), StatusIs(absl::StatusCode::kDataLoss));
  ASSERT_OK_AND_ASSIGN(uint64_t offset, log->Append("after"));
  EXPECT_EQ(offset, 4u);
}

// Skip mode keeps the damaged last record of a sealed segment; the timestamp
// floor must still cover the records before it when a crash empties the
// last segment.
// BUG: Segment::Recover takes the newest timestamp from the last record only
// (0 when it does not verify), so the floor is 0 and, with a clock that went
// back, the new record gets timestamp 11, below record 6's 1007.
TEST(LogRecoveryModeExtraTest, TimestampFloorSurvivesDamagedLastSealedRecord) {
  RecoveryEnv env(FsKind::kFault);
  const std::string dir = env.Dir("log");
  LogOptions options;
  options.fs = env.fs();
  options.max_store_bytes = 8 * kBigRecord;
  options.recovery_mode = kSkip;
  uint64_t now = 1000;
  options.clock_us = [&now] { return ++now; };
  {
    ASSERT_OK_AND_ASSIGN(auto log, Log::Open(dir, options));
    for (uint64_t i = 0; i < 9; ++i) ASSERT_OK(log->Append(BigValue(i)));
    env.PowerLoss(std::move(log));  // segment 8's one record is lost
  }
  env.FlipBit(RecoveryEnv::StorePath(dir, 0), 7 * kBigRecord + 100);
  now = 10;  // the clock went back
  ASSERT_OK_AND_ASSIGN(auto log, Log::Open(dir, options));
  ASSERT_EQ(log->NextOffset(), 8u);
  ASSERT_OK_AND_ASSIGN(uint64_t offset, log->Append("after"));
  ASSERT_EQ(offset, 8u);
  std::string scratch;
  ASSERT_OK_AND_ASSIGN(Record previous, log->Read(6, &scratch));
  EXPECT_EQ(previous.timestamp_us, 1007u);
  ASSERT_OK_AND_ASSIGN(Record r, log->Read(8, &scratch));
  EXPECT_GE(r.timestamp_us, 1007u);
}

// Skip mode: an offset lost in the middle of the last segment stays lost,
// and the rest of the log is usable (appends, truncations).
TEST(LogRecoveryModeExtraTest, SkippedOffsetsStayTakenAcrossTruncateSuffix) {
  RecoveryEnv env(FsKind::kMem);
  const std::string dir = env.Dir("log");
  std::vector<CraftedRecord> records;
  for (uint64_t i = 0; i < 40; ++i) records.push_back({.value = BigValue(i)});
  CraftSegment(env.fs(), dir, 0, records, /*indexed=*/10);
  env.Overwrite(RecoveryEnv::StorePath(dir, 0), 10240 + 100, "\xee");
  LogOptions options;
  options.fs = env.fs();
  options.recovery_mode = kSkip;
  ASSERT_OK_AND_ASSIGN(auto log, Log::Open(dir, options));
  ASSERT_EQ(log->NextOffset(), 40u);
  ASSERT_OK(log->TruncateSuffix(35));
  EXPECT_EQ(log->NextOffset(), 36u);
  std::string scratch;
  EXPECT_THAT(log->Read(20, &scratch), StatusIs(absl::StatusCode::kDataLoss));
  ASSERT_OK_AND_ASSIGN(Record r, log->Read(35, &scratch));
  EXPECT_EQ(r.value, BigValue(35));
}

}  // namespace
}  // namespace blockwal::wal
