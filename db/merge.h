// Reading the store's layers as one: the memtable over the memtable a
// checkpoint is writing out (if any), over the checkpoint file (if any).
// Newer layers win on equal keys; a deletion in a memtable hides the pairs
// below it. Used by reads, Checkpoint and key counting (db/db.cc,
// db/db_recover.cc).
#ifndef BLOCKWAL_DB_MERGE_H_
#define BLOCKWAL_DB_MERGE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "blockwal/db/checkpoint.h"
#include "blockwal/db/memtable.h"

namespace blockwal::db {

// An entry of the in-memory layers: a key and its value, or nullopt when it
// was deleted.
using Entry = std::pair<absl::string_view, const std::optional<std::string>*>;

// The entries of `upper` over those of `lower` (may be null; upper wins on
// equal keys) with start <= key < limit (empty limit: no bound), in order.
std::vector<Entry> Overlay(const MemTable::Map& upper, const MemTable* lower,
                           absl::string_view start, absl::string_view limit);

// Calls emit for every live pair of the overlay merged over base (may be
// null; the overlay wins on equal keys and its deletions hide base pairs),
// start <= key < limit, in key order.
absl::Status MergeWithBase(const std::vector<Entry>& overlay,
                           const CheckpointTable* base,
                           absl::string_view start, absl::string_view limit,
                           CheckpointTable::Visitor emit);

// Live keys of mem over imm (may be null) over base (may be null).
absl::StatusOr<uint64_t> CountKeys(const MemTable& mem, const MemTable* imm,
                                   const CheckpointTable* base);

}  // namespace blockwal::db

#endif  // BLOCKWAL_DB_MERGE_H_
