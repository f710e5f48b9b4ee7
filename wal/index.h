// A segment's index: a memory-mapped array of fixed-size entries mapping a
// record's offset relative to the segment's base to the store position of its
// first fragment (proglog's design).
//
//   entry i:  +---------------------+----------------------------+
//             | relative offset u32 | store position u64         |   12 bytes,
//             +---------------------+----------------------------+   little-endian
//
// Entry i always describes relative offset i (the offsets of a segment are
// contiguous), and positions strictly increase. While a segment is written,
// its index file is grown to its maximum size and zero-filled, so after a crash
// it may end in zero entries; a clean close truncates it to the entries it
// holds. Opening counts the leading entries that are well-formed
// (relative offset == slot, position greater than the previous one); whether
// they point at real records is the segment's business.
//
// Thread safety: one appender; readers may call Entry() for i < size() as
// published by the appender (see Segment), concurrently with Append.
#ifndef BLOCKWAL_WAL_INDEX_H_
#define BLOCKWAL_WAL_INDEX_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "blockwal/util/file_system.h"

namespace blockwal::wal {

inline constexpr size_t kIndexEntrySize = 4 + 8;

// One entry as it is stored.
struct IndexEntry {
  uint32_t relative_offset = 0;
  uint64_t position = 0;
};
// Decodes the kIndexEntrySize bytes at p.
IndexEntry DecodeIndexEntry(const char* p);
// The number of well-formed leading entries among the whole entries of
// `bytes` (an index file's contents): entry i holds relative offset i, and
// positions strictly increase.
uint64_t CountValidIndexEntries(absl::string_view bytes);

class Index {
 public:
  // Maps the index file at path. With `capacity_bytes` greater than the
  // file, the file is created if missing and grown to that size (rounded down
  // to whole entries) so entries can be appended; with 0 the file is mapped as
  // it is, read-only in effect (a sealed index; a missing file is an empty
  // index and is not created) and Append fails. Only entries within the
  // file's original size count.
  static absl::StatusOr<std::unique_ptr<Index>> Open(FileSystem* fs,
                                                     const std::string& path,
                                                     uint64_t capacity_bytes);
  // Reads the index file at path into memory (a missing file is an empty
  // index), for a read-only open of the log: nothing is mapped, created or
  // written, so a writer may change or replace the file meanwhile (what was
  // read stays as read). Entries can be appended and truncated in memory
  // only; Sync and Seal do nothing. Costs the file's size in memory.
  static absl::StatusOr<std::unique_ptr<Index>> Load(FileSystem* fs,
                                                     const std::string& path);
  // An index in memory holding `bytes` as an index file's contents, as Load
  // gives for a file holding them (`path` names it in messages).
  static std::unique_ptr<Index> FromBytes(FileSystem* fs,
                                          const std::string& path,
                                          std::string bytes);
  // An empty index in memory, as Load gives for a missing file.
  static std::unique_ptr<Index> InMemory(FileSystem* fs,
                                         const std::string& path);
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;
  ~Index();  // Unmaps without syncing or truncating.

  // Number of valid entries.
  uint64_t size() const { return size_.load(std::memory_order_acquire); }
  // Number of entries the mapping can hold.
  uint64_t capacity() const { return capacity_; }
  bool full() const { return pending_ >= capacity_; }

  // Position of entry i (i < size(), or i < pending() for the appender).
  uint64_t Position(uint64_t i) const;

  // Writes the entry for the next relative offset (size() plus the entries
  // appended but not yet published). kResourceExhausted when the index is
  // full. Readers see it once Publish is called.
  absl::Status Append(uint64_t position);
  // Remaps the index with room for at least `capacity_bytes`. Only while no
  // other thread uses the index (the mapping moves). On error (no room:
  // kResourceExhausted naming the file) the index is unchanged.
  absl::Status Grow(uint64_t capacity_bytes);
  // Makes every appended entry visible: size() includes them.
  void Publish() { size_.store(pending_, std::memory_order_release); }
  // Entries written, published or not (for the appender).
  uint64_t pending() const { return pending_; }
  // Forgets entries at and after `n` (zeroes them, so a crash cannot bring
  // them back once synced).
  void TruncateEntries(uint64_t n);
  // Zeroes every non-zero byte of the mapping past the entries (leftovers of
  // before a crash, e.g. an index page that reached the disk while an
  // earlier one did not), so a later open cannot count them as entries.
  void ZeroPastEntries();
  // Lowers size() to n without touching the entries (readers may be reading
  // them; the file is about to be replaced).
  void Retract(uint64_t n) {
    if (n < pending_) pending_ = n;
    if (n < size()) size_.store(n, std::memory_order_release);
  }

  // msync: every entry appended so far is durable.
  absl::Status Sync();
  // Syncs, then truncates the file to its valid entries, durably, so the next
  // open finds the last entry at the end of the file. The mapping stays (the
  // valid entries lie inside the shortened file), so concurrent readers are
  // unaffected; Append fails afterwards.
  absl::Status Seal();

  const std::string& path() const { return path_; }

 private:
  Index(FileSystem* fs, std::string path);
  // Counts the well-formed leading entries among the first `slots`.
  uint64_t CountValidEntries(uint64_t slots) const;
  // The entries' bytes: the mapping, or memory_ for a loaded index.
  char* bytes() { return region_ != nullptr ? region_->data() : memory_.data(); }
  const char* bytes() const {
    return region_ != nullptr ? region_->data() : memory_.data();
  }

  FileSystem* const fs_;
  const std::string path_;
  std::unique_ptr<MappedRegion> region_;  // null when empty or loaded
  // A loaded index's entries (Load); grows as entries are appended.
  std::string memory_;
  bool loaded_ = false;
  // Published with release order after the entry's bytes are written.
  std::atomic<uint64_t> size_{0};
  uint64_t pending_ = 0;  // the appender's count
  uint64_t capacity_ = 0;  // 0 once sealed
};

}  // namespace blockwal::wal

#endif  // BLOCKWAL_WAL_INDEX_H_
