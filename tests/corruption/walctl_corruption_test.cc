// Corruption of closed logs, through the built walctl (WALCTL_PATH, set in
// CMakeLists.txt), on the real file system: the same seeded damage as
// log_corruption_test.cc (damaged_log.h, all five targets), then `walctl
// verify`, `walctl read`, `walctl repair` and `walctl repair --force` as
// tools/walctl/main.cc's help text documents them.
//
// Contract checked per damaged log:
//   - verify: exit 0 and "S segments, R records, 0 problems" on the
//     undamaged log and when no record's bytes changed; otherwise exit 3,
//     every line "FILE at position P: PROBLEM" naming a file of the damaged
//     segment (or the next store, whose offsets then do not chain), the
//     summary counting them, and the damage located: an index problem
//     exactly at the first changed entry (a removed index at position 0); a
//     torn tail exactly where the kept records end; other store damage at or
//     after the end of the last intact record before it.
//   - read: an intact record (without an index: one a scan finds) prints
//     its exact bytes (exit 0), a hit one prints nothing (exit 3).
//   - repair (point-in-time) and repair --force (skip-any-corrupted-records),
//     wal::RepairLog through walctl: print "backup: DIR.repair-backup-<time>",
//     a directory beside the log whose files are byte-identical copies of
//     every segment file as it was, and leave nothing inside the log
//     directory but the log's files. They remove the indexes the model says
//     (an index target's; a store's cut after a record; no other with
//     --force; without it, the damaged last store's perhaps, but never when
//     a sync-marked record follows the damage). The outcome is the model's (Predict; a full scan
//     when the last store's index was removed): a refusal names the file and
//     position, says no record was removed and leaves every file as it was;
//     an accepted repair prints records kept, skipped and cut equal to the
//     model's (kept + skipped = the next offset, skipped = the records that
//     read kDataLoss, cut = the offsets the damaged log held, OffsetsBefore,
//     past the next offset). Then: exit 0 exactly when verify finds nothing
//     (Clean: each store a prefix of the pristine one ending after a record,
//     each index exactly its entries), else exit 3 with every problem verify
//     lists named on stderr, with why it stayed and where the backup is.
//     The log then opens in that mode and reads as predicted; without
//     --force no intact record before a synced point (every sealed segment,
//     and the last segment up to its last sync-marked record that recovery
//     can see) is dropped.
// Regression_RepairExitsZeroLeavingDamage: issue 3 of damaged_log.h, fixed
// (the repair verifies its result and exits 3 naming what remains).
// Exit statuses are tools/cli.h's: 3 is damaged data.

#include <algorithm>
#include <cstdio>
#include <memory>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/corruption/damaged_log.h"
#include "tests/run_command.h"
#include "tests/status_matchers.h"
#include "tests/walctl_test_util.h"
#include "blockwal/util/coding.h"
#include "blockwal/wal/index.h"
#include "blockwal/wal/log.h"
#include "blockwal/wal/log_inspector.h"
#include "blockwal/wal/segment.h"
#include "tools/cli.h"

namespace blockwal::corruption {
namespace {

using ::blockwal::testing::CommandResult;
using ::blockwal::testing::Walctl;
using ::testing::AllOf;
using ::testing::HasSubstr;

// Damaged logs per test (one test per target); each runs walctl seven times
// and both repairs fsync every file they back up.
constexpr int kDefaultIterations = 8;

struct Problem {
  std::string file;
  uint64_t position = 0;
  std::string text;
};

// `walctl verify DIR`, parsed; a malformed line is a test failure.
struct VerifyResult {
  int exit_code = -1;
  std::vector<Problem> problems;
  uint64_t segments = 0, records = 0;
  std::string out;  // for failure messages
};

VerifyResult Verify(const std::string& dir) {
  const CommandResult r = Walctl({"verify", dir});
  VerifyResult v;
  v.exit_code = r.exit_code;
  v.out = r.out + r.err;
  EXPECT_EQ(r.err, "") << "verify writes only to stdout";
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  if (lines.empty()) {
    ADD_FAILURE() << "verify printed nothing";
    return v;
  }
  static const std::regex kProblem("(.+) at position ([0-9]+): (.+)");
  static const std::regex kSummary(
      "([0-9]+) segments?, ([0-9]+) records?, ([0-9]+) problems?");
  std::smatch match;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    Problem p;
    if (!std::regex_match(lines[i], match, kProblem) ||
        !absl::SimpleAtoi(match[2].str(), &p.position)) {
      ADD_FAILURE() << "not \"FILE at position P: PROBLEM\": " << lines[i];
      continue;
    }
    p.file = match[1].str();
    p.text = match[3].str();
    v.problems.push_back(std::move(p));
  }
  uint64_t problems = 0;
  if (!std::regex_match(lines.back(), match, kSummary) ||
      !absl::SimpleAtoi(match[1].str(), &v.segments) ||
      !absl::SimpleAtoi(match[2].str(), &v.records) ||
      !absl::SimpleAtoi(match[3].str(), &problems)) {
    ADD_FAILURE() << "not a summary line: " << lines.back();
  }
  EXPECT_EQ(problems, lines.size() - 1) << r.out;
  EXPECT_EQ(v.exit_code, problems > 0 ? tools::kExitDamaged : 0) << r.out;
  return v;
}

// Whether verify finds nothing wrong with `files`: every segment there, each
// store holding exactly the pristine bytes of its first records (trailers
// aside, which nobody reads) and ending right after one of them (sealed
// stores whole), each index exactly the entries of those records, and the
// log not ending inside a batch.
bool Clean(const PristineLog& m, const Files& files) {
  if (files.size() != m.files.size()) return false;
  for (size_t j = 0; j < m.segments.size(); ++j) {
    const ModelSegment& s = m.segments[j];
    if (!files.count(s.store) || !files.count(s.index)) return false;
    const std::string& store = files.at(s.store);
    const std::string& pristine = m.files.at(s.store);
    uint64_t kept = 0;
    bool boundary = store.empty();
    for (uint64_t o = s.base; o <= s.last(); ++o) {
      const ModelRecord& r = m.records[o];
      if (r.end > store.size()) break;
      if (store.compare(r.position, r.end - r.position, pristine, r.position,
                        r.end - r.position) != 0) {
        return false;
      }
      ++kept;
      boundary = r.end == store.size();
    }
    if (!boundary || (m.sealed(j) && kept < s.count)) return false;
    if (files.at(s.index) !=
        m.files.at(s.index).substr(0, kept * wal::kIndexEntrySize)) {
      return false;
    }
    if (!m.sealed(j) && kept > 0 &&
        (m.records[s.base + kept - 1].flags & wal::kBatchContinues)) {
      return false;
    }
  }
  return true;
}

// The position of the first byte where two files differ (the shorter
// one's size when one is a prefix of the other).
uint64_t FirstDifference(const std::string& a, const std::string& b) {
  return std::mismatch(a.begin(), a.end(), b.begin(), b.end()).first - a.begin();
}

// `walctl verify` of the damaged log in `dir`.
void CheckVerifyOfDamaged(const PristineLog& m, const Damage& d,
                          const Files& damaged, const std::string& dir) {
  SCOPED_TRACE("walctl verify of the damaged log");
  const VerifyResult v = Verify(dir);
  const ModelSegment& s = m.segments[d.segment];
  const std::vector<uint64_t> hit = HitRecords(m, d, damaged);
  const bool visible = d.drop_index || (IsStoreTarget(d.target)
                                            ? !hit.empty()
                                            : damaged.at(d.file) != m.files.at(d.file));
  EXPECT_EQ(v.segments, m.segments.size()) << v.out;
  if (!visible) {
    EXPECT_EQ(v.exit_code, 0) << v.out;
    EXPECT_EQ(v.records, m.records.size()) << v.out;
    return;
  }
  EXPECT_EQ(v.exit_code, tools::kExitDamaged) << v.out;
  const std::string store = JoinPath(dir, s.store);
  const std::string index = JoinPath(dir, s.index);
  const std::string next_store =
      m.sealed(d.segment) ? JoinPath(dir, m.segments[d.segment + 1].store) : "";
  for (const Problem& p : v.problems) {
    EXPECT_TRUE(p.file == store || p.file == index ||
                (!next_store.empty() && p.file == next_store))
        << "a problem outside the damaged segment: " << p.file << "\n" << v.out;
  }
  auto has = [&](const std::string& file, uint64_t lo, uint64_t hi) {
    return std::any_of(v.problems.begin(), v.problems.end(), [&](const Problem& p) {
      return p.file == file && p.position >= lo && p.position <= hi;
    });
  };
  if (d.drop_index) {
    EXPECT_TRUE(has(index, 0, 0)) << "want the missing index reported\n" << v.out;
    if (hit.empty()) return;
  }
  if (!IsStoreTarget(d.target)) {
    // The index alone: one problem, at the first entry that changed.
    const uint64_t entry =
        FirstDifference(m.files.at(d.file), damaged.at(d.file)) / wal::kIndexEntrySize;
    EXPECT_EQ(v.problems.size(), 1u) << v.out;
    EXPECT_TRUE(has(index, entry * wal::kIndexEntrySize, entry * wal::kIndexEntrySize))
        << "want " << index << " at position " << entry * wal::kIndexEntrySize
        << "\n" << v.out;
    EXPECT_EQ(v.records, m.records.size()) << v.out;
    return;
  }
  const uint64_t k = hit.front();
  const uint64_t prev_end = k > s.base ? m.records[k - 1].end : 0;
  const uint64_t size = damaged.at(d.file).size();
  if (d.kind == Kind::kTruncate && size == prev_end) {
    // Cut right after a record: the store is clean, its index runs past it
    // (when there is one).
    if (d.drop_index) return;
    EXPECT_TRUE(has(index, (k - s.base) * wal::kIndexEntrySize,
                    (k - s.base) * wal::kIndexEntrySize))
        << v.out;
  } else if (d.kind == Kind::kTruncate) {
    EXPECT_TRUE(has(store, prev_end, prev_end)) << "want a torn tail at " << prev_end
                                                << "\n" << v.out;
  } else {
    EXPECT_TRUE(has(store, prev_end, size - 1))
        << "want a problem in " << store << " in [" << prev_end << ", " << size
        << ")\n" << v.out;
  }
}

// Offsets of the damaged segment a reader of its store finds, when the
// damage removed the index (so recovery and walctl read must scan); empty
// otherwise.
std::set<uint64_t> ScannedOffsets(const Damage& d, const Files& damaged) {
  std::set<uint64_t> scanned;
  if (!d.drop_index) return scanned;
  for (const ScanItem& item : ReferenceScan(damaged.at(d.file))) {
    if (!item.damage && item.payload.size() >= 8) {
      scanned.insert(DecodeFixed64(item.payload.data()));
    }
  }
  return scanned;
}

// Whether recovery can see record `o` of the damaged log: not hit, and
// found by the scan when the index is gone (a checksum mismatch drops the
// rest of its block, intact records included: LevelDB's reader semantics).
bool Visible(const PristineLog& m, const Damage& d, const std::vector<uint64_t>& hit,
             const std::set<uint64_t>& scanned, uint64_t o) {
  if (std::binary_search(hit.begin(), hit.end(), o)) return false;
  return !d.drop_index || m.records[o].segment != d.segment || scanned.count(o) > 0;
}

// `walctl read` of an intact record and of a hit one.
void CheckReadOfDamaged(const PristineLog& m, const Damage& d,
                        const Files& damaged, const std::string& dir,
                        std::mt19937_64& rng) {
  const std::vector<uint64_t> hit = HitRecords(m, d, damaged);
  // Without an index, walctl read scans the store, so it finds the records
  // a reader finds.
  const std::set<uint64_t> scanned = ScannedOffsets(d, damaged);
  std::vector<uint64_t> intact;
  for (uint64_t o = 0; o < m.records.size(); ++o) {
    if (Visible(m, d, hit, scanned, o)) intact.push_back(o);
  }
  if (!intact.empty()) {
    const uint64_t o = intact[Uniform(rng, 0, intact.size() - 1)];
    const CommandResult r = Walctl({"read", dir, absl::StrCat(o)});
    EXPECT_EQ(r.exit_code, 0) << "walctl read " << o << ": " << r.err;
    EXPECT_TRUE(r.out == m.records[o].value)
        << "walctl read " << o << " printed " << r.out.size() << " bytes, want "
        << m.records[o].value.size();
  }
  if (!hit.empty()) {
    const uint64_t o = hit[Uniform(rng, 0, hit.size() - 1)];
    const CommandResult r = Walctl({"read", dir, absl::StrCat(o)});
    // Inside the offsets the inspector finds, a hit record is damaged (3);
    // past them (damage that hides the end of the log), not there (1).
    ASSERT_OK_AND_ASSIGN(const wal::OffsetRange range,
                         wal::FindOffsetRange(FileSystem::Default(), dir));
    if (o >= range.first && o < range.next) {
      EXPECT_EQ(r.exit_code, tools::kExitDamaged)
          << "walctl read " << o << " of a hit record: " << r.err;
    } else {
      EXPECT_EQ(r.exit_code, tools::kExitNotFound)
          << "walctl read " << o << " of a hit record: " << r.err;
      EXPECT_EQ(r.err,
                range.empty()
                    ? absl::StrCat("walctl: ", dir, ": offset ", o,
                                   " is not in the log, which is empty\n")
                    : absl::StrCat("walctl: ", dir, ": offset ", o,
                                   " is outside the log's range [", range.first,
                                   ", ", range.next, ")\n"));
    }
    EXPECT_EQ(r.out, "") << "walctl read " << o << " of a hit record";
  }
}

// One past the highest offset the damaged log holds before a repair, as
// RepairLog counts it (wal/repair.h, RepairResult::before): the highest
// offset of a record a reader finds in any store, or the last segment's last
// index entry that verifies (records of the last store are intact up to the
// first hit one; a search for the last verifying entry finds its end).
uint64_t OffsetsBefore(const PristineLog& m, const Damage& d, const Files& damaged) {
  uint64_t next = 0;
  for (const ModelSegment& s : m.segments) {
    for (const ScanItem& item : ReferenceScan(damaged.at(s.store))) {
      if (!item.damage && item.payload.size() >= wal::kEnvelopeSize) {
        next = std::max(next, DecodeFixed64(item.payload.data()) + 1);
      }
    }
  }
  if (d.target == Target::kActiveStore) {
    const std::vector<uint64_t> hit = HitRecords(m, d, damaged);
    const bool tail_hit = !hit.empty() && hit.back() == m.active().last();
    next = std::max<uint64_t>(next, tail_hit ? hit.front() : m.records.size());
  }
  return next;
}

// The problem lines of a repair's stderr: "  FILE at position P: PROBLEM".
std::vector<std::string> RemainingLines(const std::string& err) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(err, '\n')) {
    if (absl::StartsWith(line, "  ") && !absl::StartsWith(line, "  why: ")) {
      lines.emplace_back(line.substr(2));
    }
  }
  return lines;
}

// What a repair printed.
struct RepairOutput {
  std::string backup;
  bool index_removed = false;  // the damaged segment's index, to rescan
  Observed observed;
  uint64_t kept = 0, skipped = 0, cut = 0;
};

RepairOutput ParseRepair(const CommandResult& r, const std::string& dir,
                         const std::string& index, wal::RecoveryMode mode) {
  RepairOutput o;
  std::smatch match;
  const std::regex backup(absl::StrCat("backup: (", dir, "\\.repair-backup-[0-9TZ-]+)\n"));
  EXPECT_TRUE(std::regex_search(r.out, match, backup)) << r.out << r.err;
  o.backup = match.empty() ? "" : match[1].str();
  o.index_removed = absl::StrContains(
      r.out, absl::StrCat("indexes removed to be rebuilt from their stores: ", index));
  o.observed.opened = !absl::StrContains(
      r.out, absl::StrCat("recovery (", wal::RecoveryModeName(mode), "): refused"));
  if (!o.observed.opened) {
    o.observed.error = r.err;
    return o;
  }
  auto number = [&](const char* pattern) -> uint64_t {
    std::smatch m;
    uint64_t n = 0;
    EXPECT_TRUE(std::regex_search(r.out, m, std::regex(pattern)) &&
                absl::SimpleAtoi(m[1].str(), &n))
        << "no \"" << pattern << "\" in " << r.out;
    return n;
  };
  o.kept = number("\nrecords kept: ([0-9]+)\n");
  o.skipped = number("\nrecords skipped: ([0-9]+)\n");
  o.cut = number("\nrecords cut: ([0-9]+)\n");
  o.observed.next_offset = o.kept + o.skipped;
  o.observed.torn_bytes_cut = number("\ntorn bytes cut: ([0-9]+)\n");
  o.observed.batches_cut = number("\nincomplete batches removed: ([0-9]+)\n");
  // The report's own count: recovery skips only records it reads.
  o.observed.records_skipped = o.skipped;
  return o;
}

// `walctl repair [--force]` of the damaged log in `dir`, then verify and a
// library open in the repair's mode.
void CheckRepair(const PristineLog& m, const Damage& d, const Files& damaged,
                 const std::string& dir, bool force, Counters* c) {
  SCOPED_TRACE(force ? "walctl repair --force" : "walctl repair");
  const wal::RecoveryMode mode = force ? wal::RecoveryMode::kSkipAnyCorruptedRecords
                                       : wal::RecoveryMode::kPointInTime;
  std::vector<std::string> args = {"repair"};
  if (force) args.push_back("--force");
  args.push_back(dir);
  const CommandResult r = Walctl(args);
  const std::string index = JoinPath(dir, m.segments[d.segment].index);
  const RepairOutput o = ParseRepair(r, dir, index, mode);

  // The backup, beside the log: every file as it was; nothing of the
  // repair's inside the log directory.
  EXPECT_EQ(DiffFiles(damaged, ReadSegmentFiles(FileSystem::Default(), o.backup)), "")
      << "the backup must hold every file as it was";
  ASSERT_OK_AND_ASSIGN(const std::vector<std::string> names,
                       FileSystem::Default()->GetChildren(dir));
  for (const std::string& name : names) {
    EXPECT_TRUE(IsSegmentFile(name) || name == wal::kLockFileName)
        << name << " left in the log directory";
  }

  // Which indexes the repair removes (it prints them): an index target's
  // (its store is intact), the index of a store cut exactly after a record
  // (the store is clean, the index runs past it); and, without --force, the
  // last store's when its damage hides no synced record.
  const std::vector<uint64_t> hit = HitRecords(m, d, damaged);
  const ModelSegment& s = m.segments[d.segment];
  // (A store is not clean when the cut leaves it ending inside a batch:
  // verify reports the incomplete batch in it, in a sealed segment too,
  // which only ever holds whole batches.)
  const bool store_clean =
      !hit.empty() && d.kind == Kind::kTruncate &&
      damaged.at(d.file).size() ==
          (hit.front() > s.base ? m.records[hit.front() - 1].end : 0) &&
      (hit.front() == s.base ||
       !(m.records[hit.front() - 1].flags & wal::kBatchContinues));
  bool rescanned = false;  // the damaged last store read in full
  if (!IsStoreTarget(d.target)) {
    EXPECT_TRUE(o.index_removed) << r.out;
  } else if (d.drop_index || hit.empty()) {
    EXPECT_FALSE(o.index_removed) << r.out;
  } else if (store_clean) {
    EXPECT_TRUE(o.index_removed) << r.out;
  } else if (force || d.target != Target::kActiveStore) {
    EXPECT_FALSE(o.index_removed) << r.out;
  } else if (o.index_removed) {
    rescanned = true;
    for (uint64_t x = hit.back() + 1; x < m.records.size(); ++x) {
      EXPECT_FALSE(m.records[x].flags & wal::kSyncMarker)
          << "the index was removed though synced record " << x << " follows the damage";
    }
  }
  // Recovery then reads that store in full, like a log that lost its index.
  Damage as_recovered = d;
  if (rescanned) {
    as_recovered.target = Target::kActiveStoreNoIndex;
    as_recovered.drop_index = true;
  }
  const std::vector<Expectation> candidates =
      Candidates(m, as_recovered, damaged, mode);
  const Expectation& e = Select(candidates, dir, m, damaged, o.observed);
  ++c->outcomes[e.outcome];
  if (!e.known_issue.empty()) ++c->known_issues[e.known_issue];

  // Exit 0 exactly when the log verifies clean; otherwise every problem
  // verify lists is named on stderr.
  const bool clean = Clean(m, ReadSegmentFiles(FileSystem::Default(), dir));
  const VerifyResult v = Verify(dir);
  EXPECT_EQ(v.exit_code, clean ? 0 : tools::kExitDamaged) << v.out;
  EXPECT_EQ(r.exit_code, clean ? 0 : tools::kExitDamaged) << r.out << r.err;
  std::vector<std::string> listed;
  for (const Problem& p : v.problems) {
    listed.push_back(absl::StrCat(p.file, " at position ", p.position, ": ", p.text));
  }
  EXPECT_EQ(RemainingLines(r.err), listed) << r.err;
  if (!clean) {
    EXPECT_THAT(r.err, AllOf(HasSubstr("  why: "), HasSubstr(o.backup)));
  }

  if (!e.opens) {
    ++c->refused;
    EXPECT_FALSE(o.observed.opened) << r.out;
    EXPECT_THAT(r.err, AllOf(HasSubstr("repair failed"),
                             HasSubstr(JoinPath(dir, e.error_file)),
                             HasSubstr("no record was removed")));
    if (e.error_names_position) {
      const std::optional<uint64_t> at = AtPosition(r.err);
      EXPECT_TRUE(at.has_value() && *at >= e.position_lo && *at <= e.position_hi)
          << r.err << "\nwant a position in [" << e.position_lo << ", "
          << e.position_hi << "]";
    }
    EXPECT_EQ(DiffFiles(damaged, ReadSegmentFiles(FileSystem::Default(), dir)), "")
        << "a refused repair must leave the files as they were";
    return;
  }
  ++c->opens;
  EXPECT_TRUE(o.observed.opened) << r.out << r.err;
  // The counts: what the model predicts.
  const uint64_t before = OffsetsBefore(m, d, damaged);
  EXPECT_EQ(o.skipped, e.lost.size()) << r.out;
  EXPECT_EQ(o.kept, e.next_offset - e.lost.size()) << r.out;
  EXPECT_EQ(o.cut, before > e.next_offset ? before - e.next_offset : 0) << r.out;

  // The log as the repair left it, opened as the repair opened it.
  wal::LogOptions options = m.options;
  options.fs = FileSystem::Default();
  options.recovery_mode = mode;
  options.create_if_missing = false;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<wal::Log> log, wal::Log::Open(dir, options));
  ExpectReads(*log, dir, m, e, c);
  if (!force) {
    // Never a record before a synced point dropped: every sealed record, and
    // in the last segment every one before the last sync-marked record that
    // recovery can see; of those only the hit ones may go.
    const std::set<uint64_t> scanned = ScannedOffsets(d, damaged);
    uint64_t synced_below = m.active().base;
    for (uint64_t x = m.active().base; x < m.records.size(); ++x) {
      if ((m.records[x].flags & wal::kSyncMarker) && Visible(m, d, hit, scanned, x)) {
        synced_below = x + 1;
      }
    }
    std::string scratch;
    for (uint64_t x = 0; x < synced_below; ++x) {
      if (!Visible(m, d, hit, scanned, x) || e.maybe_lost.count(x)) continue;
      absl::StatusOr<wal::Record> rec = log->Read(x, &scratch);
      ++c->reads;
      EXPECT_TRUE(rec.ok() && rec->value == m.records[x].value)
          << "synced offset " << x << " lost by the repair: " << rec.status();
    }
  }
  EXPECT_OK(log->Close());
}

class WalctlCorruptionTest : public ::testing::TestWithParam<Target> {};

TEST_P(WalctlCorruptionTest, VerifyReadAndRepairOfRandomDamage) {
  const Target target = GetParam();
  Scratch scratch(FsKind::kPosix);
  const uint64_t seed = BaseSeed();
  const PristineLog m = BuildLog(FileSystem::Default(), scratch.Dir("pristine"), seed);
  ASSERT_FALSE(HasFailure()) << "building the log, seed " << seed;
  {
    const VerifyResult v = Verify(scratch.Dir("pristine"));
    EXPECT_EQ(v.exit_code, 0) << v.out;
    EXPECT_EQ(v.out, absl::StrCat(m.segments.size(), " segments, ", m.records.size(),
                                  " records, 0 problems\n"));
  }
  Counters c;
  const int iterations = Iterations(kDefaultIterations);
  for (int i = 0; i < iterations; ++i) {
    std::mt19937_64 rng;
    Files damaged;
    const Damage d = MakeIterationDamage(m, target, seed, i, &rng, &damaged);
    SCOPED_TRACE(absl::StrCat("seed ", seed, ", iteration ", i, ": ", d.Describe()));
    ++c.damaged_logs;
    const std::string dir = scratch.Dir(absl::StrCat("log", i));
    const std::string forced = scratch.Dir(absl::StrCat("forced", i));
    WriteFiles(FileSystem::Default(), dir, damaged);
    WriteFiles(FileSystem::Default(), forced, damaged);
    CheckVerifyOfDamaged(m, d, damaged, dir);
    CheckReadOfDamaged(m, d, damaged, dir, rng);
    CheckRepair(m, d, damaged, dir, /*force=*/false, &c);
    CheckRepair(m, d, damaged, forced, /*force=*/true, &c);
    scratch.Remove(dir);
    scratch.Remove(forced);
    if (HasFailure()) break;
  }
  std::printf("%s\n", c.Line(seed).c_str());
}

INSTANTIATE_TEST_SUITE_P(corruption, WalctlCorruptionTest,
                         ::testing::Values(Target::kSealedStore, Target::kActiveStore,
                                           Target::kSealedIndex, Target::kActiveIndex,
                                           Target::kActiveStoreNoIndex),
                         [](const ::testing::TestParamInfo<Target>& info) {
                           return TargetName(info.param);
                         });

// A damaged log case (fixed), minimal: a sealed segment whose middle
// record is damaged. Point-in-time recovery checks only the last record of a
// sealed segment, so it opens the log and leaves the damage; the repair used
// to exit 0 there. It now verifies its result and exits 3 naming the damage.
class WalctlCorruptionRegressionTest : public ::testing::TestWithParam<FsKind> {};

TEST_P(WalctlCorruptionRegressionTest, Regression_RepairExitsZeroLeavingDamage) {
  Scratch scratch(GetParam());
  const std::string dir = scratch.Dir("log");
  wal::LogOptions options;
  options.max_index_bytes = 4 * wal::kIndexEntrySize;  // segments 0, 4, 8
  {
    ASSERT_OK_AND_ASSIGN(auto log, wal::Log::Open(dir, options));
    for (int i = 0; i < 10; ++i) ASSERT_OK(log->Append(absl::StrCat("value-", i)));
    ASSERT_OK(log->Close());
  }
  // Record 1 ("value-1", 7 + 17 + 7 = 31 bytes per record) of sealed segment 0.
  const std::string store = JoinPath(dir, wal::SegmentFileName(0, wal::kStoreSuffix));
  ASSERT_OK_AND_ASSIGN(std::string data, ReadFileToString(FileSystem::Default(), store));
  data[31 + 20] ^= 0x01;
  ASSERT_OK(WriteStringToFile(FileSystem::Default(), data, store, false));
  ASSERT_EQ(Verify(dir).exit_code, tools::kExitDamaged);

  CommandResult r = Walctl({"repair", dir});
  EXPECT_EQ(r.exit_code, tools::kExitDamaged) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("records kept: 9\nrecords skipped: 1\nrecords cut: 0\n"));
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat("  ", store, " at position 31: checksum mismatch")));
  // --force cannot remove it either (that would renumber records 2 to 9).
  r = Walctl({"repair", "--force", dir});
  EXPECT_EQ(r.exit_code, tools::kExitDamaged) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("records kept: 9\nrecords skipped: 1\nrecords cut: 0\n"));
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat("  ", store, " at position 31: checksum mismatch")));
}

INSTANTIATE_TEST_SUITE_P(corruption, WalctlCorruptionRegressionTest,
                         ::testing::Values(FsKind::kPosix),
                         [](const ::testing::TestParamInfo<FsKind>& info) {
                           return FsKindName(info.param);
                         });

}  // namespace
}  // namespace blockwal::corruption
