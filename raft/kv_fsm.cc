// The replicated key-value store's commands, snapshots and state machine
// (raft/kv_fsm.h).
#include "blockwal/raft/kv_fsm.h"

#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "blockwal/db/checkpoint.h"
#include "blockwal/raft/entry_codec.h"
#include "blockwal/util/coding.h"
#include "blockwal/util/crc32c.h"
#include "blockwal/util/file_system.h"
#include "blockwal/util/mem_file_system.h"
#include "blockwal/util/status_macros.h"

namespace blockwal::raft {

namespace {

constexpr size_t kMagicSize = sizeof(kKvSnapshotMagic) - 1;
// Where a snapshot's image goes in a scratch MemFileSystem.
constexpr char kImageDir[] = "/";
constexpr char kImagePath[] = "/snapshot-image";

// The object *result points to for a malformed command.
const char kMalformedSentinel = 0;

absl::Status Corrupt(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("snapshot: ", what));
}

std::string EncodeAddresses(const ClientAddresses& addresses) {
  std::string header;
  PutVarint32(&header, static_cast<uint32_t>(addresses.size()));
  for (const auto& [id, address] : addresses) {
    PutFixed64(&header, id);
    PutLengthPrefixed(&header, address);
  }
  return header;
}

absl::StatusOr<ClientAddresses> DecodeAddresses(absl::string_view header) {
  auto bad = [](absl::string_view what) {
    return Corrupt(absl::StrCat("header: ", what));
  };
  uint32_t n = 0;
  if (!GetVarint32(&header, &n)) return bad("address count is cut short");
  ClientAddresses addresses;
  for (uint32_t i = 1; i <= n; ++i) {
    uint64_t id = 0;
    absl::string_view address;
    if (!GetFixed64(&header, &id) || !GetLengthPrefixed(&header, &address)) {
      return bad(absl::StrCat("address ", i, " of ", n, " is cut short"));
    }
    if (id == 0)
      return bad(absl::StrCat("address ", i, " of ", n, " has id 0"));
    if (!addresses.emplace(id, std::string(address)).second) {
      return bad(absl::StrCat("address ", i, " of ", n, " repeats id ", id));
    }
  }
  if (!header.empty()) {
    return bad(absl::StrCat(header.size(), " bytes after the last address"));
  }
  return addresses;
}

// Loads a format-2 checkpoint image, verified whole, into *table.
absl::Status DecodeImage(absl::string_view image, db::MemTable* table) {
  std::unique_ptr<FileSystem> fs = NewMemFileSystem();
  BW_RETURN_IF_ERROR(WriteStringToFile(fs.get(), image, kImagePath, false));
  BW_ASSIGN_OR_RETURN(const uint32_t version,
                      db::ReadCheckpointVersion(fs.get(), kImagePath));
  if (version != db::kCheckpointVersion) {
    return absl::DataLossError(
        absl::StrCat("format ", version, ", not ", db::kCheckpointVersion));
  }
  BW_ASSIGN_OR_RETURN(const db::CheckpointInfo info,
                      db::ReadCheckpoint(fs.get(), kImagePath, table));
  if (info.wal_offset != 0) {
    return absl::DataLossError(
        absl::StrCat("wal_offset ", info.wal_offset, ", not 0"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string EncodeBatchCommand(const db::WriteBatch& batch) {
  std::string out(1, static_cast<char>(kBatchCommandTag));
  const absl::string_view rep = batch.Contents();
  out.append(rep.data(), rep.size());
  EncodeFixed64(out.data() + 1, 0);  // the sequence: commands carry none
  return out;
}

std::string EncodeAddressCommand(raft_id id, absl::string_view client_address) {
  std::string out(1, static_cast<char>(kAddressCommandTag));
  PutFixed64(&out, id);
  out.append(client_address.data(), client_address.size());
  return out;
}

absl::StatusOr<std::string> EncodeSnapshot(const db::MemTable& table,
                                           const ClientAddresses& addresses) {
  std::unique_ptr<FileSystem> fs = NewMemFileSystem();
  BW_ASSIGN_OR_RETURN(const db::CheckpointInfo info,
                      db::WriteCheckpoint(fs.get(), kImageDir, 0, table));
  BW_ASSIGN_OR_RETURN(const std::string image,
                      ReadFileToString(fs.get(), info.path));
  const std::string header = EncodeAddresses(addresses);
  std::string out;
  out.reserve(kKvSnapshotPrefixSize + header.size() + image.size());
  out.append(kKvSnapshotMagic, kMagicSize);
  PutFixed32(&out, static_cast<uint32_t>(header.size()));
  PutFixed32(&out, crc32c::Mask(crc32c::Value(header)));
  out += header;
  out += image;
  return out;
}

absl::StatusOr<KvState> DecodeSnapshot(absl::string_view snapshot) {
  if (snapshot.size() < kKvSnapshotPrefixSize) {
    return Corrupt(absl::StrCat(snapshot.size(), " bytes, shorter than its ",
                                kKvSnapshotPrefixSize, "-byte prefix"));
  }
  if (snapshot.substr(0, kMagicSize) != absl::string_view(kKvSnapshotMagic)) {
    return Corrupt("bad magic");
  }
  const uint32_t length = DecodeFixed32(snapshot.data() + kMagicSize);
  const uint32_t crc = DecodeFixed32(snapshot.data() + kMagicSize + 4);
  absl::string_view rest = snapshot.substr(kKvSnapshotPrefixSize);
  if (length > rest.size()) {
    return Corrupt(absl::StrCat("header length ", length,
                                " runs past the end (", rest.size(),
                                " bytes left)"));
  }
  const absl::string_view header = rest.substr(0, length);
  if (crc32c::Unmask(crc) != crc32c::Value(header)) {
    return Corrupt("header checksum mismatch");
  }
  KvState state;
  BW_ASSIGN_OR_RETURN(state.addresses, DecodeAddresses(header));
  const absl::Status image = DecodeImage(rest.substr(length), &state.table);
  if (!image.ok()) {
    return Corrupt(absl::StrCat("checkpoint image: ", image.message()));
  }
  return state;
}

void* const KvFsm::kMalformedResult = const_cast<char*>(&kMalformedSentinel);

KvFsm::KvFsm() {
  fsm_.version = 1;
  fsm_.data = this;
  fsm_.apply = &ApplyCallback;
  fsm_.snapshot = &SnapshotCallback;
  fsm_.restore = &RestoreCallback;
}

std::optional<std::string> KvFsm::ClientAddress(raft_id id) const {
  auto it = addresses_.find(id);
  if (it == addresses_.end()) return std::nullopt;
  return it->second;
}

bool KvFsm::ApplyPadded(absl::string_view padded) {
  ++applied_;
  absl::StatusOr<absl::string_view> command =
      UnpadCommand(padded, "kv command");
  if (command.ok() && ApplyCommand(*command)) return true;
  ++malformed_;
  return false;
}

bool KvFsm::ApplyCommand(absl::string_view command) {
  if (command.empty()) return false;
  const uint8_t tag = static_cast<unsigned char>(command[0]);
  absl::string_view body = command.substr(1);
  if (tag == kBatchCommandTag) {
    // DecodeWriteBatch checks the whole batch before it calls the handler
    // for any op, so a damaged batch changes nothing: all ops or none.
    return db::DecodeWriteBatch(body, &table_).ok();
  }
  if (tag == kAddressCommandTag) {
    uint64_t id = 0;
    if (!GetFixed64(&body, &id) || id == 0) return false;
    addresses_[id] = std::string(body);
    return true;
  }
  return false;
}

absl::StatusOr<std::string> KvFsm::Snapshot() const {
  return EncodeSnapshot(table_, addresses_);
}

absl::Status KvFsm::Restore(absl::string_view snapshot) {
  absl::StatusOr<KvState> state = DecodeSnapshot(snapshot);
  restore_status_ = state.status();
  if (!state.ok()) return restore_status_;
  table_.Swap(&state->table);
  addresses_.swap(state->addresses);
  ++restores_;
  return absl::OkStatus();
}

// Never returns an error: libraft 0.15 treats a failed apply as the end of
// applying (it stops advancing last_applied for good, on that server only),
// so a command that does not decode is applied as nothing, deterministically
// on every server, and reported through *result and malformed().
int KvFsm::ApplyCallback(struct raft_fsm* fsm, const struct raft_buffer* buf,
                         void** result) {
  KvFsm* self = static_cast<KvFsm*>(fsm->data);
  const absl::string_view padded(static_cast<const char*>(buf->base), buf->len);
  *result = self->ApplyPadded(padded) ? nullptr : kMalformedResult;
  return 0;
}

// One raft_malloc'd buffer in a raft_malloc'd array; raft frees both.
int KvFsm::SnapshotCallback(struct raft_fsm* fsm, struct raft_buffer* bufs[],
                            unsigned* n_bufs) {
  const KvFsm* self = static_cast<const KvFsm*>(fsm->data);
  absl::StatusOr<std::string> snapshot = self->Snapshot();
  if (!snapshot.ok()) {
    return snapshot.status().code() == absl::StatusCode::kResourceExhausted
               ? RAFT_NOMEM
               : RAFT_IOERR;
  }
  auto* array =
      static_cast<struct raft_buffer*>(raft_malloc(sizeof(struct raft_buffer)));
  if (array == nullptr) return RAFT_NOMEM;
  array[0].len = snapshot->size();
  array[0].base = raft_malloc(snapshot->size());
  if (array[0].base == nullptr) {
    raft_free(array);
    return RAFT_NOMEM;
  }
  std::memcpy(array[0].base, snapshot->data(), snapshot->size());
  *bufs = array;
  *n_bufs = 1;
  return 0;
}

// raft hands the buffer's ownership over with the call: it is freed here
// whatever the outcome. RAFT_CORRUPT (state unchanged) when it fails to
// verify; last_restore_status() says why.
int KvFsm::RestoreCallback(struct raft_fsm* fsm, struct raft_buffer* buf) {
  KvFsm* self = static_cast<KvFsm*>(fsm->data);
  const absl::Status status = self->Restore(
      absl::string_view(static_cast<const char*>(buf->base), buf->len));
  raft_free(buf->base);
  return status.ok() ? 0 : RAFT_CORRUPT;
}

}  // namespace blockwal::raft
