// The in-memory part of the KV store: the keys written since the last
// checkpoint, in key order (absl::btree_map), each with its value or, when
// the table keeps tombstones, a deletion marker. A table keeps tombstones
// when something older lies below it (a checkpoint, or a table being
// checkpointed), where a deleted key must stay hidden; otherwise a Delete
// simply removes the key.
//
// Not thread-safe: the DB guards the live table with its mutex; a table being
// checkpointed is no longer changed and is read without it.
#ifndef BLOCKWAL_DB_MEMTABLE_H_
#define BLOCKWAL_DB_MEMTABLE_H_

#include <cstddef>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/btree_map.h"
#include "absl/strings/string_view.h"
#include "blockwal/db/write_batch.h"

namespace blockwal::db {

using KeyValue = std::pair<std::string, std::string>;

// The smallest key greater than every key that starts with prefix, or "" when
// there is none (prefix empty or all 0xff): Scan(prefix, PrefixLimit(prefix))
// is a prefix scan.
std::string PrefixLimit(absl::string_view prefix);

class MemTable : public WriteBatch::Handler {
 public:
  // A value, or nullopt for a tombstone.
  using Map = absl::btree_map<std::string, std::optional<std::string>>;

  explicit MemTable(bool keep_tombstones = false)
      : keep_tombstones_(keep_tombstones) {}
  MemTable(const MemTable&) = delete;
  MemTable& operator=(const MemTable&) = delete;
  MemTable(MemTable&&) = default;
  MemTable& operator=(MemTable&&) = default;

  // WriteBatch::Handler: applies one op.
  void Put(absl::string_view key, absl::string_view value) override;
  void Delete(absl::string_view key) override;

  // The entry for key: nullptr when the table says nothing about it, else
  // its value or nullopt (deleted). Valid until the next change.
  const std::optional<std::string>* Find(absl::string_view key) const;
  // The live value of key, or nullptr (absent or deleted).
  const std::string* Get(absl::string_view key) const;

  // Entries, tombstones included.
  size_t size() const { return map_.size(); }
  // Live keys.
  size_t live() const { return map_.size() - tombstones_; }
  bool keeps_tombstones() const { return keep_tombstones_; }
  // Approximate bytes of keys and values.
  size_t ApproximateBytes() const { return bytes_; }
  const Map& map() const { return map_; }
  void Clear();
  void Swap(MemTable* other);

 private:
  Map map_;
  size_t bytes_ = 0;
  size_t tombstones_ = 0;
  bool keep_tombstones_;
};

}  // namespace blockwal::db

#endif  // BLOCKWAL_DB_MEMTABLE_H_
