// The durable term and vote in two alternating slot files
// (raft/term_vote.h).
#include "blockwal/raft/term_vote.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "blockwal/util/coding.h"
#include "blockwal/util/crc32c.h"
#include "blockwal/util/status_macros.h"

namespace blockwal::raft {

namespace {

constexpr char kMagic[4] = {'b', 'w', 't', 'v'};

std::string EncodeSlot(uint64_t version, const TermVote& value) {
  std::string slot(kTermVoteSlotSize, '\0');
  std::memcpy(&slot[4], kMagic, sizeof(kMagic));
  EncodeFixed64(&slot[8], version);
  EncodeFixed64(&slot[16], value.term);
  EncodeFixed64(&slot[24], value.vote);
  EncodeFixed32(&slot[0], crc32c::Mask(crc32c::Value(&slot[4], 28)));
  return slot;
}

// A slot's contents, or why it holds none.
struct ParsedSlot {
  bool valid = false;
  std::string problem;  // when !valid
  uint64_t version = 0;
  TermVote value;
};

ParsedSlot ParseSlot(absl::string_view data) {
  ParsedSlot p;
  if (data.size() != kTermVoteSlotSize) {
    p.problem =
        absl::StrCat("size ", data.size(), ", expected ", kTermVoteSlotSize);
  } else if (std::memcmp(&data[4], kMagic, sizeof(kMagic)) != 0) {
    p.problem = "bad magic at offset 4";
  } else if (crc32c::Unmask(DecodeFixed32(data.data())) !=
             crc32c::Value(&data[4], 28)) {
    p.problem = "checksum mismatch over offsets 4..31";
  } else {
    p.valid = true;
    p.version = DecodeFixed64(&data[8]);
    p.value = {DecodeFixed64(&data[16]), DecodeFixed64(&data[24])};
  }
  return p;
}

}  // namespace

std::string TermVoteStore::SlotPath(int slot) const {
  return JoinPath(dir_, slot == 0 ? kTermVoteFile0 : kTermVoteFile1);
}

absl::Status TermVoteStore::LoadSlots() {
  ParsedSlot parsed[2];
  for (int i = 0; i < 2; ++i) {
    const std::string path = SlotPath(i);
    BW_ASSIGN_OR_RETURN(exists_[i], fs_->FileExists(path));
    if (!exists_[i]) continue;
    BW_ASSIGN_OR_RETURN(std::string data, ReadFileToString(fs_, path));
    parsed[i] = ParseSlot(data);
    version_[i] = parsed[i].valid ? parsed[i].version : 0;
  }
  if (!parsed[0].valid && !parsed[1].valid) {
    if (!exists_[0] && !exists_[1]) return absl::OkStatus();  // a new server
    std::string why;
    for (int i = 0; i < 2; ++i) {
      absl::StrAppend(&why, i == 0 ? "" : "; ", SlotPath(i), ": ",
                      exists_[i] ? parsed[i].problem : "missing");
    }
    return absl::DataLossError(
        absl::StrCat("no valid term/vote slot (", why, ")"));
  }
  // The newer valid slot; on a tie (never written so) the first.
  const int newest = !parsed[0].valid || (parsed[1].valid &&
                                          parsed[1].version > parsed[0].version)
                         ? 1
                         : 0;
  current_ = parsed[newest].value;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<TermVoteStore>> TermVoteStore::Open(
    FileSystem* fs, const std::string& dir) {
  std::unique_ptr<TermVoteStore> store(new TermVoteStore(fs, dir));
  BW_RETURN_IF_ERROR(store->LoadSlots());
  return store;
}

absl::StatusOr<TermVote> TermVoteStore::Load(FileSystem* fs,
                                             const std::string& dir) {
  BW_ASSIGN_OR_RETURN(auto store, Open(fs, dir));
  return store->current();
}

absl::Status TermVoteStore::SetTerm(uint64_t term) { return Write({term, 0}); }

absl::Status TermVoteStore::SetVote(uint64_t vote) {
  return Write({current_.term, vote});
}

absl::Status TermVoteStore::Write(TermVote value) {
  if (!status_.ok()) return status_;
  // The older slot: one without a valid value, else the lower version.
  const int target = version_[0] <= version_[1] ? 0 : 1;
  const uint64_t version = std::max(version_[0], version_[1]) + 1;
  const std::string slot = EncodeSlot(version, value);
  const std::string path = SlotPath(target);
  // A slot file that does not exist yet is written aside and renamed into
  // place, so it never has its name without a complete slot in it.
  const std::string write_path =
      exists_[target] ? path : absl::StrCat(path, ".tmp");
  absl::Status s = [&]() -> absl::Status {
    BW_ASSIGN_OR_RETURN(auto file, fs_->NewWritableFile(write_path));
    BW_RETURN_IF_ERROR(file->Append(slot));
    BW_RETURN_IF_ERROR(file->Sync());
    BW_RETURN_IF_ERROR(file->Close());
    if (exists_[target]) return absl::OkStatus();
    BW_RETURN_IF_ERROR(fs_->RenameFile(write_path, path));
    return fs_->SyncDir(dir_);
  }();
  if (!s.ok()) {
    status_ = s;
    return s;
  }
  exists_[target] = true;
  version_[target] = version;
  current_ = value;
  return absl::OkStatus();
}

}  // namespace blockwal::raft
