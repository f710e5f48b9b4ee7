// The in-memory state of the KV store: every live key and its value, in key
// order (absl::btree_map). Deletes remove the key; there are no tombstones,
// since the WAL and checkpoints hold the history.
//
// Not thread-safe: the DB guards it with its mutex.
#ifndef BLOCKWAL_DB_MEMTABLE_H_
#define BLOCKWAL_DB_MEMTABLE_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "db/write_batch.h"

namespace blockwal::db {

using KeyValue = std::pair<std::string, std::string>;

class MemTable : public WriteBatch::Handler {
 public:
  using Map = absl::btree_map<std::string, std::string>;

  MemTable() = default;
  MemTable(const MemTable&) = delete;
  MemTable& operator=(const MemTable&) = delete;
  MemTable(MemTable&&) = default;
  MemTable& operator=(MemTable&&) = default;

  // WriteBatch::Handler: applies one op.
  void Put(absl::string_view key, absl::string_view value) override;
  void Delete(absl::string_view key) override;

  // The value of key, or nullptr. Valid until the next change.
  const std::string* Get(absl::string_view key) const;
  // Pairs with start <= key < limit in key order; an empty limit means no
  // upper bound.
  std::vector<KeyValue> Scan(absl::string_view start,
                             absl::string_view limit) const;
  // Pairs whose key starts with prefix, in key order.
  std::vector<KeyValue> ScanPrefix(absl::string_view prefix) const;

  size_t size() const { return map_.size(); }
  // Approximate bytes of keys and values.
  size_t ApproximateBytes() const { return bytes_; }
  const Map& map() const { return map_; }
  void Clear();
  // Makes this table a copy of other (for a checkpoint's snapshot).
  void CopyFrom(const MemTable& other);
  void Swap(MemTable* other);

 private:
  Map map_;
  size_t bytes_ = 0;
};

}  // namespace blockwal::db

#endif  // BLOCKWAL_DB_MEMTABLE_H_
