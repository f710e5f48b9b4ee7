// The replicated key-value store's state machine (docs/raft.md, "The
// replicated key-value store"): the commands raft replicates, how they are
// applied to a memtable, and the snapshot format that carries the whole state.
//
// Commands (before PadCommand; raft hands apply the padded payload):
//   tag 1  a WriteBatch rep (db/write_batch.h), sequence 0: its puts and
//          deletes, applied atomically
//   tag 2  raft id u64 LE, then the server's client address (the rest): the
//          address the cluster tells clients for that server
//
// Snapshot (one buffer):
//   magic "BWKVSNP1" | header length u32 LE | masked CRC32C of the header u32
//   header: address count varint32 | (id u64 LE, varint32 length, address)*
//   then a checkpoint image, format 2 (db/checkpoint.h), wal_offset 0, of the
//   live pairs.
// The header's addresses are written in id order; a reader refuses id 0 and
// an id given twice.
#ifndef BLOCKWAL_RAFT_KV_FSM_H_
#define BLOCKWAL_RAFT_KV_FSM_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/container/btree_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "blockwal/db/memtable.h"
#include "blockwal/db/write_batch.h"
#include "blockwal/raft/raft_c.h"

namespace blockwal::raft {

inline constexpr uint8_t kBatchCommandTag = 1;
inline constexpr uint8_t kAddressCommandTag = 2;
inline constexpr char kKvSnapshotMagic[] = "BWKVSNP1";  // 8 bytes
// Magic, header length and header CRC.
inline constexpr size_t kKvSnapshotPrefixSize = 8 + 4 + 4;

// Tag 1 followed by the batch's rep with its sequence set to 0 (the batch
// itself is left alone). Unpadded: the caller pads it (PadCommand).
std::string EncodeBatchCommand(const db::WriteBatch& batch);
// Tag 2, id (u64 LE), then client_address. Unpadded.
std::string EncodeAddressCommand(raft_id id, absl::string_view client_address);

// Server id -> client address, in id order (the snapshot's order).
using ClientAddresses = absl::btree_map<raft_id, std::string>;

// The whole state a snapshot carries.
struct KvState {
  db::MemTable table;  // live pairs only (no tombstones)
  ClientAddresses addresses;
};

// The snapshot of (table, addresses): the format above, the image built with
// db::WriteCheckpoint on a MemFileSystem (tombstones left out). Errors are
// the checkpoint writer's (none expected in memory but allocation).
absl::StatusOr<std::string> EncodeSnapshot(const db::MemTable& table,
                                           const ClientAddresses& addresses);
// Parses and verifies all of a snapshot: magic, header bounds and CRC, the
// header's entries and nothing after them, and the checkpoint image (format
// 2, wal_offset 0, every chunk verified: db::ReadCheckpoint on a
// MemFileSystem copy). kDataLoss naming what is wrong, e.g.
//   "snapshot: bad magic"
//   "snapshot: header length 90 runs past the end (40 bytes left)"
//   "snapshot: header checksum mismatch"
//   "snapshot: header: address 2 of 3 is cut short"
//   "snapshot: checkpoint image: <the checkpoint reader's message>" (its
//   positions count from the image's first byte, which follows the header)
absl::StatusOr<KvState> DecodeSnapshot(absl::string_view snapshot);

// The state machine raft drives. Not thread-safe: raft calls it on its loop
// thread, and the server reads it there too.
class KvFsm {
 public:
  // What apply stores in *result for a command that did not decode (nullptr
  // for one applied), so a proposer's raft_apply callback can tell. Points
  // to a static object; never dereference it.
  static void* const kMalformedResult;

  KvFsm();
  KvFsm(const KvFsm&) = delete;
  KvFsm& operator=(const KvFsm&) = delete;

  // For raft_init: version 1, apply/snapshot/restore calling this object.
  // Valid as long as this object (which must not move: it is not movable).
  struct raft_fsm* fsm() {
    return &fsm_;
  }

  // The live value of key, or nullptr; valid until the next change.
  const std::string* Get(absl::string_view key) const {
    return table_.Get(key);
  }
  // All pairs, in key order (the table keeps no tombstones).
  const db::MemTable& table() const { return table_; }
  // The client address last recorded for server id.
  std::optional<std::string> ClientAddress(raft_id id) const;
  const ClientAddresses& addresses() const { return addresses_; }
  // Commands applied as nothing because they did not decode.
  uint64_t malformed() const { return malformed_; }
  // Commands raft handed to apply, malformed ones included. Both counters
  // count this object's calls: a restore leaves them alone.
  uint64_t applied_commands() const { return applied_; }
  // Why the last restore failed (OK when it succeeded or none ran): raft's
  // restore callback has only RAFT_CORRUPT to say it.
  const absl::Status& last_restore_status() const { return restore_status_; }
  // Snapshots restored (a server's own at start, or one its leader sent).
  uint64_t restores() const { return restores_; }

  // What the callbacks do, callable without raft.
  //
  // Applies one padded command; false when it did not decode (bad padding,
  // no tag, unknown tag, a batch that fails db::DecodeWriteBatch, an address
  // command shorter than its id or with id 0), in which case nothing
  // changes and malformed() goes up. Never fails otherwise.
  bool ApplyPadded(absl::string_view padded);
  // The snapshot of the current state (EncodeSnapshot).
  absl::StatusOr<std::string> Snapshot() const;
  // Replaces the state with the snapshot's once all of it is verified;
  // DecodeSnapshot's error (state unchanged) otherwise.
  absl::Status Restore(absl::string_view snapshot);

 private:
  // raft_fsm callbacks (fsm_.data is this).
  static int ApplyCallback(struct raft_fsm* fsm, const struct raft_buffer* buf,
                           void** result);
  static int SnapshotCallback(struct raft_fsm* fsm, struct raft_buffer* bufs[],
                              unsigned* n_bufs);
  static int RestoreCallback(struct raft_fsm* fsm, struct raft_buffer* buf);

  bool ApplyCommand(absl::string_view command);

  struct raft_fsm fsm_ = {};
  db::MemTable table_;  // without tombstones: nothing lies below it
  ClientAddresses addresses_;
  uint64_t malformed_ = 0;
  uint64_t applied_ = 0;
  absl::Status restore_status_;
  uint64_t restores_ = 0;
};

}  // namespace blockwal::raft

#endif  // BLOCKWAL_RAFT_KV_FSM_H_
