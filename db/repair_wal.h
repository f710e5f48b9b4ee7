// Repair's WAL (db/repair.h): read through a read-only wal::Log, or
// salvaged record by record when even skip mode cannot open it, and replayed
// onto the pairs recovered from a checkpoint.
#ifndef BLOCKWAL_DB_REPAIR_WAL_H_
#define BLOCKWAL_DB_REPAIR_WAL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "blockwal/db/memtable.h"
#include "blockwal/db/repair.h"
#include "blockwal/util/file_system.h"
#include "blockwal/wal/log.h"

namespace blockwal::db {

// The WAL as repair reads it. Normally through a read-only wal::Log in the
// repair's recovery mode. When even skip mode cannot open it (segments
// missing: offsets do not chain up), --force salvages it from the
// inspector's read of every store instead: every record that reads, in
// offset order.
struct WalSource {
  bool exists = false;
  std::unique_ptr<wal::Log> log;  // null: no WAL, or salvaged
  // Salvaged: every record that reads, by offset (the first copy found).
  std::map<uint64_t, std::string> salvaged;
  // Keys of every record that reads anywhere in the stores, by offset.
  std::map<uint64_t, std::vector<std::string>> keys;
  std::vector<wal::DamagedRegion> damage;
  uint64_t tail_bytes_dropped = 0;
  std::optional<uint64_t> lowest;  // none: an empty WAL or none at all
  uint64_t next = 0;
};

// The WAL of the store in `dir` (exists false when it has none). With
// force, kSkipAnyCorruptedRecords, and a WAL even that cannot open is
// salvaged; without, kPointInTime, and its damage fails the repair.
absl::StatusOr<WalSource> OpenWal(FileSystem* fs, const std::string& dir,
                                  bool force);

// Step 3: replays the WAL from `from` (the chosen checkpoint covers the
// offsets below it) onto *table in memory, reporting every record lost.
// Without force a record lost is kDataLoss (nothing was changed yet).
absl::Status ReplayWal(const std::string& dir, uint64_t from, bool force,
                       WalSource& wal, MemTable* table, RepairReport* report);

}  // namespace blockwal::db

#endif  // BLOCKWAL_DB_REPAIR_WAL_H_
