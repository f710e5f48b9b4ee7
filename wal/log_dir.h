// The files of a log directory, sorted out by name: the one place that says
// which names belong to a log and what Log::Open does with each. Log::Open,
// the inspector (wal/log_inspector.h), repair (wal/repair.h) and walctl all
// list a directory through ListLogDir, so what a tool reports is what Open
// decides.
//
// A log directory holds (docs/format.md, "Log directory"):
//   <base>.store, <base>.index   the segments (wal/segment.h); an index
//                                without its store is a leftover of a
//                                removal, and Open removes it
//   TRUNCATE_PREFIX              a prefix truncation in progress (an intent)
//   TRUNCATE_SUFFIX              a suffix truncation in progress (an intent)
//   RESET                        a Reset in progress (an intent): Open drops
//                                every segment and the other truncation files
//   LAST_TRUNCATION              where the last suffix truncation ended the log
//   LOCK                         the writer's lock
//   <intent>.tmp, <segment file>.tmp
//                                written but never committed by the rename
//                                that would make them count: void, Open
//                                removes them
// Anything else is not a file of the log: Open leaves it alone (warning).
#ifndef BLOCKWAL_WAL_LOG_DIR_H_
#define BLOCKWAL_WAL_LOG_DIR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "blockwal/util/file_system.h"

namespace blockwal::wal {

inline constexpr char kStoreSuffix[] = ".store";
inline constexpr char kIndexSuffix[] = ".index";
// A segment file being rewritten (Segment::TruncateFiles) is written under its
// name plus this suffix, then renamed over it.
inline constexpr char kSegmentTempSuffix[] = ".tmp";

// "00000000000000000042.store" for base 42.
std::string SegmentFileName(uint64_t base_offset, absl::string_view suffix);
// Parses a segment file name; false for anything that is not exactly 20
// digits followed by `suffix`.
bool ParseSegmentFileName(absl::string_view name, absl::string_view suffix,
                          uint64_t* base_offset);
// The directory joined with a segment's file names.
std::string StorePath(const std::string& dir, uint64_t base_offset);
std::string IndexPath(const std::string& dir, uint64_t base_offset);

enum class LogFileKind {
  kStore,
  kIndex,
  kPrefixIntent,
  kSuffixIntent,
  kResetIntent,
  kLastTruncation,
  kLock,
  kVoid,   // an uncommitted temp file: Open removes it
  kStray,  // not a file of the log: Open ignores it with a warning
};

// What `name` (a file name, no directory) is in a log directory; *base
// receives the base offset of a store or an index.
LogFileKind ClassifyLogFile(absl::string_view name, uint64_t* base);

struct LogDirListing {
  std::vector<uint64_t> stores;   // base offsets, ascending
  std::vector<uint64_t> indexes;  // base offsets, ascending
  bool prefix_intent = false;     // TRUNCATE_PREFIX exists
  bool suffix_intent = false;     // TRUNCATE_SUFFIX exists
  bool reset_intent = false;      // RESET exists
  bool last_truncation = false;   // LAST_TRUNCATION exists
  std::vector<std::string> void_files;  // names, sorted
  std::vector<std::string> strays;      // names, sorted

  bool HasStore(uint64_t base) const;
  // Indexes whose store is missing, ascending.
  std::vector<uint64_t> OrphanIndexes() const;
  // Position in `stores` of the segment that holds `offset`: the last whose
  // base is at or below it (0 when offset is below every base). stores must
  // not be empty.
  size_t SegmentFor(uint64_t offset) const;
};

// Lists `dir`. kNotFound ("<dir>: log directory does not exist") when it does
// not exist; the file system's error when it cannot be listed.
absl::StatusOr<LogDirListing> ListLogDir(FileSystem* fs,
                                         const std::string& dir);

// Intent and truncation files hold one offset: 12 bytes, the offset as u64 LE
// and its masked CRC32C as u32 LE. ReadTruncationFile (wal/log.h) reads one.
std::string EncodeTruncationFile(uint64_t value);

}  // namespace blockwal::wal

#endif  // BLOCKWAL_WAL_LOG_DIR_H_
