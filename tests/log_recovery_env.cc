// The helpers of tests/log_recovery_env.h: RecoveryEnv's file edits and crash
// states, crafted segments and directory snapshots.
#include "tests/log_recovery_env.h"

#include <algorithm>
#include <cerrno>
#include <map>

#include "blockwal/util/coding.h"
#include "blockwal/util/mem_file_system.h"
#include "blockwal/wal/block_writer.h"

namespace blockwal::wal {

std::string FsKindName(FsKind kind) {
  switch (kind) {
    case FsKind::kMem: return "Mem";
    case FsKind::kFault: return "FaultInjection";
    case FsKind::kPosix: return "Posix";
  }
  return "Unknown";
}

void PrintTo(FsKind kind, std::ostream* os) { *os << FsKindName(kind); }

std::string FsKindParamName(const ::testing::TestParamInfo<FsKind>& info) {
  return FsKindName(info.param);
}

RecoveryEnv::RecoveryEnv(FsKind kind) {
  switch (kind) {
    case FsKind::kMem:
      owned_fs_ = NewMemFileSystem();
      root_ = "/t";
      break;
    case FsKind::kFault:
      fault_ = new FaultInjectionFileSystem(NewMemFileSystem());
      owned_fs_.reset(fault_);
      root_ = "/t";
      break;
    case FsKind::kPosix:
      scratch_.emplace("log_recovery");
      root_ = scratch_->str();
      break;
  }
  fs_ = owned_fs_ != nullptr ? owned_fs_.get() : FileSystem::Default();
  if (kind != FsKind::kPosix) {
    EXPECT_OK(fs_->CreateDir(root_));
  }
}

std::string RecoveryEnv::Bytes(const std::string& path) const {
  absl::StatusOr<std::string> data = ReadFileToString(fs_, path);
  EXPECT_OK(data);
  return data.ok() ? *data : std::string();
}

uint64_t RecoveryEnv::Size(const std::string& path) const {
  absl::StatusOr<uint64_t> size = fs_->GetFileSize(path);
  EXPECT_OK(size);
  return size.ok() ? *size : 0;
}

void RecoveryEnv::SetBytes(const std::string& path,
                           absl::string_view data) const {
  EXPECT_OK(WriteStringToFile(fs_, data, path, /*sync=*/true));
}

void RecoveryEnv::TruncateTo(const std::string& path, uint64_t size) const {
  std::string data = Bytes(path);
  ASSERT_LE(size, data.size()) << path;
  data.resize(size);
  SetBytes(path, data);
}

void RecoveryEnv::Overwrite(const std::string& path, uint64_t position,
                            absl::string_view with) const {
  std::string data = Bytes(path);
  ASSERT_LE(position + with.size(), data.size()) << path;
  data.replace(position, with.size(), std::string(with));
  SetBytes(path, data);
}

void RecoveryEnv::AppendTo(const std::string& path,
                           absl::string_view more) const {
  SetBytes(path, Bytes(path) + std::string(more));
}

void RecoveryEnv::FlipBit(const std::string& path, uint64_t position) const {
  std::string data = Bytes(path);
  ASSERT_LT(position, data.size()) << path;
  data[position] ^= 0x10;
  SetBytes(path, data);
}

void RecoveryEnv::ZeroIndexEntriesFrom(const std::string& path,
                                       uint64_t first) const {
  std::string data = Bytes(path);
  ASSERT_LE(first * kIndexEntrySize, data.size()) << path;
  std::fill(data.begin() + first * kIndexEntrySize, data.end(), '\0');
  SetBytes(path, data);
}

void RecoveryEnv::KillCopy(const std::string& from,
                           const std::string& to) const {
  ASSERT_OK(fs_->CreateDir(to));
  absl::StatusOr<std::vector<std::string>> names = fs_->GetChildren(from);
  ASSERT_OK(names);
  for (const std::string& name : *names) {
    if (name == "LOCK") continue;
    SetBytes(JoinPath(to, name), Bytes(JoinPath(from, name)));
  }
  ASSERT_OK(fs_->SyncDir(to));
}

std::vector<std::pair<std::string, std::string>> RecoveryEnv::Snapshot(
    const std::string& dir) const {
  std::vector<std::pair<std::string, std::string>> out;
  absl::StatusOr<std::vector<std::string>> names = fs_->GetChildren(dir);
  EXPECT_OK(names);
  if (!names.ok()) return out;
  for (const std::string& name : *names) {
    if (name == "LOCK") continue;
    out.emplace_back(name, Bytes(JoinPath(dir, name)));
  }
  return out;
}

void RecoveryEnv::PowerLoss(std::unique_ptr<Log> log) const {
  ASSERT_NE(fault_, nullptr);
  fault_->FailAfter(kMutatingOps, 0, EIO, /*sticky=*/true);
  log.reset();
  fault_->ClearFailures();
  ASSERT_OK(fault_->DropUnsyncedData());
  ASSERT_OK(fault_->DeleteFilesCreatedAfterLastDirSync());
  fault_->ResetState();
}

std::string LastTruncation(FileSystem* fs, const std::string& dir) {
  absl::StatusOr<uint64_t> offset =
      ReadTruncationFile(fs, JoinPath(dir, kLastTruncationFileName));
  return offset.ok() ? absl::StrCat(*offset)
                     : "error: " + offset.status().ToString();
}

std::vector<uint64_t> CraftSegment(FileSystem* fs, const std::string& dir,
                                   uint64_t base,
                                   const std::vector<CraftedRecord>& records,
                                   uint64_t indexed) {
  std::vector<uint64_t> positions;
  EXPECT_OK(fs->CreateDir(dir));
  absl::StatusOr<std::unique_ptr<WritableFile>> file =
      fs->NewWritableFile(RecoveryEnv::StorePath(dir, base));
  EXPECT_OK(file);
  if (!file.ok()) return positions;
  BlockWriter writer(file->get());
  for (size_t i = 0; i < records.size(); ++i) {
    std::string payload;
    EncodeRecord(base + i, 1000 + i, records[i].flags, records[i].value,
                 &payload);
    absl::StatusOr<uint64_t> position = writer.AddRecord(payload);
    EXPECT_OK(position);
    positions.push_back(position.ok() ? *position : 0);
  }
  EXPECT_OK(writer.Sync());
  EXPECT_OK((*file)->Close());
  std::string index;
  for (uint64_t i = 0; i < indexed && i < positions.size(); ++i) {
    char entry[kIndexEntrySize];
    EncodeFixed32(entry, static_cast<uint32_t>(i));
    EncodeFixed64(entry + 4, positions[i]);
    index.append(entry, sizeof(entry));
  }
  EXPECT_OK(WriteStringToFile(fs, index, RecoveryEnv::IndexPath(dir, base),
                              /*sync=*/true));
  EXPECT_OK(fs->SyncDir(dir));
  return positions;
}

std::vector<std::string> ChangedFiles(
    const std::vector<std::pair<std::string, std::string>>& before,
    const std::vector<std::pair<std::string, std::string>>& after) {
  std::map<std::string, std::string> a(before.begin(), before.end());
  std::map<std::string, std::string> b(after.begin(), after.end());
  std::vector<std::string> out;
  for (const auto& [name, data] : a) {
    auto it = b.find(name);
    if (it == b.end()) {
      out.push_back(absl::StrCat(name, " removed"));
    } else if (it->second != data) {
      out.push_back(absl::StrCat(name, " changed from ", data.size(),
                                 " to ", it->second.size(), " bytes"));
    }
  }
  for (const auto& [name, data] : b) {
    if (!a.count(name)) out.push_back(absl::StrCat(name, " added"));
  }
  return out;
}

}  // namespace blockwal::wal
