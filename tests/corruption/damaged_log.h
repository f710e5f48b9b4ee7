// Shared by the corruption tests (log_corruption_test.cc,
// walctl_corruption_test.cc) as the blockwal_damaged_log library (definitions
// in damaged_log.cc): a closed log with a model of every record, seeded
// random damage to one of its files, and the outcome docs/recovery.md gives
// for it in each recovery mode.
//
// Contract checked (the issue: "bit flips, zeroed ranges and truncations at
// random positions of closed logs never crash, never return wrong data: only
// the hit records fail"):
//   - The pristine log (BuildLog) has several sealed segments and an active
//     one of several blocks; records of 0 bytes to 70 KiB (FULL, and
//     FIRST/MIDDLE/LAST across blocks, a FIRST with no data in the last 7
//     bytes of a block, zero trailers), batches (the log ends in one), and
//     sync-marked records. The model holds every record's offset, exact
//     value, timestamp, flags, batch, and the byte range [position, end) of
//     its fragments in its store: positions from the index
//     (Segment::PositionOf), ends from the block format (RecordEnd); the
//     layout and the inspector must agree with both.
//   - A damage (MakeDamage) is one bit flip, one zeroed range or one
//     truncation of one file: a sealed store, the active (last) store, a
//     sealed index, the active index, or the active store with its index
//     removed as well (recovery must then scan the whole store). A record is
//     hit when a byte of its [position, end) changed or, for a truncation,
//     when its end is past the new size: derived from the model alone.
//   - Predict says, per recovery mode, whether Open succeeds, the next offset,
//     which offsets read kDataLoss, the size the last store is cut to, the
//     report's counts, and what a refused open names. Each rule is quoted
//     from docs/recovery.md in Predict. For a full scan, ReferenceScan (the
//     reader table of docs/format.md) tells which records a reader finds.
//   - ExpectReads: every offset reads exactly the model's bytes, or kDataLoss
//     naming its store file and a position when it is lost, or kOutOfRange
//     past the next offset; iterators agree.
//
// Library issues this suite found, now fixed (the Regression_* tests
// reproduce each); BLOCKWAL_CORRUPTION_STRICT=0 tolerates, counts and
// prints them again, for running the suite against an older library:
//   1. a damaged index entry that stays well-formed is trusted (an intact
//      record reads kDataLoss);
//   2. a sealed store cut right after a record fails the open at the chain
//      check, naming the next store and no position;
//   3. walctl repair exits 0 leaving damage that point-in-time recovery does
//      not look at (walctl_corruption_test.cc);
//   4. after zeros read as preallocated space, the first record found is
//      taken for damage (a synced record there is cut silently);
//   5. a batch cut off at the end of the last segment is cut at its first
//      record, leaving the zero trailer before it at the end of the store.
#ifndef BLOCKWAL_TESTS_CORRUPTION_DAMAGED_LOG_H_
#define BLOCKWAL_TESTS_CORRUPTION_DAMAGED_LOG_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "tests/scratch_dir.h"
#include "blockwal/util/file_system.h"
#include "blockwal/wal/log.h"

namespace blockwal::corruption {

// ------------------------------------------------------------ environment

// BLOCKWAL_CORRUPTION_ITERATIONS (damaged logs per test), else `fallback`.
int Iterations(int fallback);

// BLOCKWAL_CORRUPTION_SEED, else a fixed seed (so CI runs are repeatable).
uint64_t BaseSeed();

// The issues below are fixed; BLOCKWAL_CORRUPTION_STRICT=0 accepts the
// earlier behaviour too (to run this suite against an older library).
bool Strict();

// A uniform integer in [lo, hi].
uint64_t Uniform(std::mt19937_64& rng, uint64_t lo, uint64_t hi);

// ------------------------------------------------------------ files

// Segment file name -> bytes: what a log directory holds (LOCK and anything
// else left out).
using Files = std::map<std::string, std::string>;

bool IsSegmentFile(const std::string& name);

Files ReadSegmentFiles(FileSystem* fs, const std::string& dir);

void WriteFiles(FileSystem* fs, const std::string& dir, const Files& files);

// Removes the files of a flat directory, then the directory.
void RemoveFlatDir(FileSystem* fs, const std::string& dir);

// What differs between two directory images, for failure messages (the
// files are too large to print).
std::string DiffFiles(const Files& want, const Files& got);

enum class FsKind { kMem, kPosix };

std::string FsKindName(FsKind kind);
inline void PrintTo(FsKind kind, std::ostream* os) { *os << FsKindName(kind); }

// A file system and a scratch directory on it (a ScratchDir on the real file
// system).
class Scratch {
 public:
  explicit Scratch(FsKind kind);
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  FileSystem* fs() const {
    return owned_ != nullptr ? owned_.get() : FileSystem::Default();
  }
  std::string Dir(absl::string_view name) const { return JoinPath(root_, name); }
  // Removes `dir`, a directory under the scratch root, with its files.
  void Remove(const std::string& dir) const;

 private:
  const FsKind kind_;
  std::unique_ptr<FileSystem> owned_;
  std::optional<::blockwal::testing::ScratchDir> scratch_;  // kPosix's root
  std::string root_;
};

// ------------------------------------------------------------ the model

// Where the fragments of a record whose first header is at `position` end,
// for a payload (envelope + value) of `payload_bytes`: the block format of
// docs/format.md (a fragment never starts in the last 6 bytes of a block;
// with exactly 7 left, a FIRST with no data is written there).
uint64_t RecordEnd(uint64_t position, uint64_t payload_bytes);

struct ModelRecord {
  uint64_t offset = 0;
  size_t segment = 0;     // index into PristineLog::segments
  uint64_t position = 0;  // of its first fragment header in the store
  uint64_t end = 0;       // just past its last fragment
  uint64_t batch_first = 0;  // offset of the first record of its append
  uint64_t timestamp_us = 0;
  uint8_t flags = 0;
  std::string value;
};

struct ModelSegment {
  uint64_t base = 0;
  uint64_t count = 0;
  std::string store;  // file names
  std::string index;
  uint64_t last() const { return base + count - 1; }
};

struct PristineLog {
  wal::LogOptions options;  // as written (fs and clock to be set by users)
  std::vector<ModelSegment> segments;
  std::vector<ModelRecord> records;  // by offset, from 0
  Files files;                       // the closed log's segment files
  // Offsets covered by a sync: every record of a sealed segment, and in the
  // active segment every record up to the last one carrying kSyncMarker.
  uint64_t synced_below = 0;

  bool sealed(size_t j) const { return j + 1 < segments.size(); }
  const ModelSegment& active() const { return segments.back(); }
};

// Writes a closed log in `dir` (several sessions, unsynced and synced, the
// last ending in a batch), its shape and sizes drawn from `seed`, and returns
// it with its model.
PristineLog BuildLog(FileSystem* fs, const std::string& dir, uint64_t seed);

// ------------------------------------------------------------ damage

enum class Target {
  kSealedStore,
  kActiveStore,
  kSealedIndex,
  kActiveIndex,
  // The active store damaged and its index lost (the index is synced only
  // when its segment is sealed, so a power loss can take it): Open reads the
  // whole store, and the valid records it finds after the damage decide.
  kActiveStoreNoIndex,
};
enum class Kind { kBitFlip, kZeroRange, kTruncate };

std::string TargetName(Target t);
inline void PrintTo(Target t, std::ostream* os) { *os << TargetName(t); }
bool IsStoreTarget(Target t);

struct Damage {
  Target target = Target::kSealedStore;
  Kind kind = Kind::kBitFlip;
  size_t segment = 0;  // whose file
  std::string file;    // its name
  std::string index;   // the name of the segment's index
  uint64_t position = 0;  // flip: the byte; zero: the first byte; truncate: the new size
  uint64_t length = 0;    // zero: bytes zeroed
  int bit = 0;            // flip
  bool drop_index = false;  // the segment's index is removed as well

  std::string Describe() const;
};

void ApplyDamage(const Damage& d, Files* files);

// A random damage of `kind` to a file of `target`; positions are biased
// towards record headers, the last record and block boundaries, where the
// reader's outcomes differ. A zeroed range that would change nothing is
// drawn again.
Damage MakeDamage(const PristineLog& m, Target target, Kind kind,
                  std::mt19937_64& rng);

// Damaged log number `iteration` of a random test: its kind cycles through
// the three, and it has its own generator, drawn from the seed, the target
// and the iteration (all printed on failure). *damaged gets m's files with
// the damage applied; *rng is that generator, for the test's later draws.
Damage MakeIterationDamage(const PristineLog& m, Target target,
                           uint64_t seed, int iteration,
                           std::mt19937_64* rng, Files* damaged);

// ------------------------------------------------------------ the oracle

// What Log::Open in one recovery mode must do with a damaged log.
struct Expectation {
  bool opens = true;
  // A refused open: kDataLoss naming this file (a name in the directory),
  // the mode, and "at position N" with N in [position_lo, position_hi].
  std::string error_file;
  bool error_names_position = true;
  uint64_t position_lo = 0, position_hi = 0;
  // An accepted open:
  uint64_t next_offset = 0;
  std::set<uint64_t> lost;  // read kDataLoss
  // The lost records' index entries are intact: their kDataLoss names the
  // record's own position.
  bool lost_at_own_position = true;
  // Known issue 1 (not in strict mode): these read exactly or kDataLoss.
  std::set<uint64_t> maybe_lost;
  // The damaged index may stay as it is on disk: Open does not read every
  // entry of an index (a sealed segment's cheap check, the last segment's
  // trusted prefix), so a wrong but well-formed entry is not rewritten.
  bool index_may_stay = false;
  uint64_t last_store_size = 0;  // the last store after the open
  // Known issue 5: zero trailer bytes the cut leaves after the last kept
  // record (the next open cuts them).
  uint64_t trailer_left = 0;
  uint64_t records_skipped = 0;
  uint64_t batches_cut = 0;
  // Damage in the report: allowed only in this store at or after damage_lo.
  bool damage_may_be_reported = false;
  std::string damaged_store;
  uint64_t damage_lo = 0;
  // The known issue this outcome tolerates ("" for none; a wrong index entry
  // is counted per read instead, see maybe_lost).
  std::string known_issue;
  // The rule applied, for the counts printed at the end.
  std::string outcome = "nothing lost";
};

// Records of segment `d.segment` that the damage hits (see the file
// comment), ascending.
std::vector<uint64_t> HitRecords(const PristineLog& m, const Damage& d,
                                 const Files& damaged);

// Index entries of the damaged index that changed but are still in the
// file: a well-formed but wrong entry in a part of the index that Open
// trusts without reading the store (a sealed segment's cheap check passes,
// or the last segment's trusted prefix) is not repaired, and its record
// reads kDataLoss though its bytes are intact. KNOWN ISSUE 1, see
// Regression_WellFormedWrongIndexEntryFailsIntactRecord.
std::set<uint64_t> ChangedIndexEntries(const PristineLog& m,
                                       const Damage& d,
                                       const Files& damaged);

// What a block reader yields reading `file` from its start, written from
// the reader table of docs/format.md (not from wal/block_reader.cc): the
// records (first header's position, end of the last fragment, payload) and,
// in order among them, the positions where damage is reported. Silent cases
// (a cut-off header or payload at the end of the file, preallocated zeros,
// a partial record at the end) yield nothing.
struct ScanItem {
  bool damage = false;  // a report, at `position`
  uint64_t position = 0;
  uint64_t end = 0;
  std::string payload;
};

std::vector<ScanItem> ReferenceScan(const std::string& file);

// The active store read in full (Target::kActiveStoreNoIndex): the scan,
// batch cut and decision of docs/recovery.md step 6 applied to what
// ReferenceScan finds. With `issues`, reproduces KNOWN ISSUE 4: when
// records are missing with no damage reported before them (zeros read as
// preallocated space), the library takes the first record after the gap
// for damage instead of a valid record after damage (see
// Regression_ZeroedRegionBeforeSyncedRecordIsCutSilently); and known issue 5.
Expectation PredictFullScan(const PristineLog& m, const Files& damaged,
                            wal::RecoveryMode mode, bool issues);

// What docs/recovery.md says Open does with the damaged log in `mode`; with
// `issues`, what the library does instead where a known issue applies
// (Expectation::known_issue says which).
Expectation Predict(const PristineLog& m, const Damage& d,
                    const Files& damaged, wal::RecoveryMode mode,
                    bool issues);

// The outcomes a test accepts, documented one first; then, unless Strict(),
// the library's where a known issue makes it differ. When they differ only
// in reads that may fail (maybe_lost), they are one expectation.
std::vector<Expectation> Candidates(const PristineLog& m, const Damage& d,
                                    const Files& damaged,
                                    wal::RecoveryMode mode);

// What an open (or a repair) did: picks the candidate it matches.
struct Observed {
  bool opened = false;
  std::string error;  // of a refused open
  uint64_t next_offset = 0;
  uint64_t records_skipped = 0;
  uint64_t batches_cut = 0;
  uint64_t torn_bytes_cut = 0;
};

// The candidate `o` matches, or the documented one when none does (the
// checks then say how it was missed). `dir` holds the log.
const Expectation& Select(const std::vector<Expectation>& candidates,
                          const std::string& dir, const PristineLog& m,
                          const Files& damaged, const Observed& o);

// ------------------------------------------------------------ checks

struct Counters {
  uint64_t damaged_logs = 0;
  uint64_t opens = 0;
  uint64_t refused = 0;
  uint64_t reads = 0;
  uint64_t lost_reads = 0;
  std::map<std::string, uint64_t> outcomes;      // Expectation::outcome -> count
  std::map<std::string, uint64_t> known_issues;  // what -> times tolerated

  // The counts, as the test prints them at the end.
  std::string Line(uint64_t seed) const;
};

// The number N of the first "at position N" in `message`, if any.
std::optional<uint64_t> AtPosition(const std::string& message);

// Reads every offset of the model (and the first offsets past it) from
// `log` in `dir` and checks each against the expectation; then iterates the
// whole log, restarting after each lost record.
void ExpectReads(const wal::Log& log, const std::string& dir,
                 const PristineLog& m, const Expectation& e,
                 Counters* c);

// The segment files after a successful open and a clean close: every store
// as damaged (the last one cut to e.last_store_size), every index exactly the
// entries of its kept records (rebuilt from the store when it was damaged),
// except where skip mode keeps lost offsets (their entries point into the
// damage) and where a damaged index may stay (Expectation::index_may_stay).
void ExpectFilesAfterClose(const PristineLog& m, const Damage& d,
                           const Files& damaged, const Expectation& e,
                           const Files& actual, Counters* c);

}  // namespace blockwal::corruption

#endif  // BLOCKWAL_TESTS_CORRUPTION_DAMAGED_LOG_H_
