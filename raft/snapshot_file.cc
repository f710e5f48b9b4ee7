// Raft snapshot files: writing, listing, reading and choosing the newest
// valid one (raft/snapshot_file.h).
#include "blockwal/raft/snapshot_file.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "blockwal/util/coding.h"
#include "blockwal/util/status_macros.h"
#include "blockwal/wal/block_reader.h"
#include "blockwal/wal/block_writer.h"

namespace blockwal::raft {

namespace {

constexpr absl::string_view kPrefix = "snapshot-";
constexpr absl::string_view kTmpSuffix = ".tmp";
constexpr absl::string_view kMagic = "bwsnap01";
constexpr size_t kDigits = 20;
// magic, index, term, configuration_index, data_length.
constexpr size_t kHeaderFixedBytes = 8 + 4 * 8;

absl::string_view BaseName(absl::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == absl::string_view::npos ? path : path.substr(slash + 1);
}

bool AllDigits(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c));
  });
}

std::string EncodeHeader(const SnapshotMeta& meta, uint64_t data_length) {
  std::string header(kMagic);
  PutFixed64(&header, meta.index);
  PutFixed64(&header, meta.term);
  PutFixed64(&header, meta.configuration_index);
  PutFixed64(&header, data_length);
  header += EncodeConfiguration(meta.configuration);
  return header;
}

// Parses the header record into *meta and *data_length; kDataLoss naming
// `path` when it is malformed.
absl::Status DecodeHeader(absl::string_view record, const std::string& path,
                          SnapshotMeta* meta, uint64_t* data_length) {
  if (record.size() < kHeaderFixedBytes || !absl::StartsWith(record, kMagic)) {
    return absl::DataLossError(absl::StrCat(
        path, ": snapshot header at position 0 is not a snapshot header (",
        record.size(), " bytes)"));
  }
  record.remove_prefix(kMagic.size());
  GetFixed64(&record, &meta->index);
  GetFixed64(&record, &meta->term);
  GetFixed64(&record, &meta->configuration_index);
  GetFixed64(&record, data_length);
  BW_ASSIGN_OR_RETURN(
      meta->configuration,
      DecodeConfiguration(record, absl::StrCat(path, ": header")));
  return absl::OkStatus();
}

// Writes the whole snapshot to `path` and syncs it.
absl::Status WriteSnapshotFile(FileSystem* fs, const std::string& path,
                               const SnapshotMeta& meta,
                               absl::Span<const absl::string_view> data) {
  uint64_t data_length = 0;
  for (absl::string_view buf : data) data_length += buf.size();
  BW_ASSIGN_OR_RETURN(auto file, fs->NewWritableFile(path));
  wal::BlockWriter writer(file.get());
  BW_RETURN_IF_ERROR(
      writer.AddRecord(EncodeHeader(meta, data_length)).status());
  for (absl::string_view buf : data) {
    for (size_t pos = 0; pos < buf.size(); pos += kSnapshotChunkBytes) {
      BW_RETURN_IF_ERROR(
          writer.AddRecord(buf.substr(pos, kSnapshotChunkBytes)).status());
    }
  }
  BW_RETURN_IF_ERROR(writer.Sync());
  return file->Close();
}

// Removes leftover .tmp files of earlier Puts.
absl::Status RemoveTempFiles(FileSystem* fs, const std::string& dir) {
  BW_ASSIGN_OR_RETURN(std::vector<std::string> names, fs->GetChildren(dir));
  for (const std::string& name : names) {
    if (absl::StartsWith(name, kPrefix) && absl::EndsWith(name, kTmpSuffix)) {
      BW_RETURN_IF_ERROR(fs->RemoveFile(JoinPath(dir, name)));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string SnapshotFileName(uint64_t index, uint64_t term) {
  return absl::StrFormat("%s%020u-%020u", kPrefix, index, term);
}

bool ParseSnapshotFileName(absl::string_view name, uint64_t* index,
                           uint64_t* term) {
  if (name.size() != kPrefix.size() + 2 * kDigits + 1 ||
      !absl::StartsWith(name, kPrefix)) {
    return false;
  }
  name.remove_prefix(kPrefix.size());
  const absl::string_view index_digits = name.substr(0, kDigits);
  const absl::string_view term_digits = name.substr(kDigits + 1);
  return name[kDigits] == '-' && AllDigits(index_digits) &&
         AllDigits(term_digits) && absl::SimpleAtoi(index_digits, index) &&
         absl::SimpleAtoi(term_digits, term);
}

absl::StatusOr<std::vector<std::string>> ListSnapshotFiles(
    FileSystem* fs, const std::string& dir) {
  BW_ASSIGN_OR_RETURN(std::vector<std::string> names, fs->GetChildren(dir));
  std::vector<std::string> out;
  uint64_t index, term;
  for (std::string& name : names) {
    if (ParseSnapshotFileName(name, &index, &term))
      out.push_back(std::move(name));
  }
  // Fixed-width names: lexical order is (index, term) order.
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<std::string> PutSnapshot(
    FileSystem* fs, const std::string& dir, const SnapshotMeta& meta,
    absl::Span<const absl::string_view> data) {
  const std::string name = SnapshotFileName(meta.index, meta.term);
  BW_ASSIGN_OR_RETURN(std::vector<std::string> existing,
                      ListSnapshotFiles(fs, dir));
  if (!existing.empty() && existing.back() > name) {
    return absl::FailedPreconditionError(
        absl::StrCat(JoinPath(dir, name), ": snapshot is older than ",
                     JoinPath(dir, existing.back())));
  }
  BW_RETURN_IF_ERROR(RemoveTempFiles(fs, dir));
  const std::string path = JoinPath(dir, name);
  const std::string tmp = absl::StrCat(path, kTmpSuffix);
  BW_RETURN_IF_ERROR(WriteSnapshotFile(fs, tmp, meta, data));
  BW_RETURN_IF_ERROR(fs->RenameFile(tmp, path));
  BW_RETURN_IF_ERROR(fs->SyncDir(dir));
  // The new snapshot is durable: keep it and the newest one before it.
  std::erase(existing, name);
  for (size_t i = 0; i + 1 < existing.size(); ++i) {
    BW_RETURN_IF_ERROR(fs->RemoveFile(JoinPath(dir, existing[i])));
  }
  return path;
}

absl::StatusOr<LoadedSnapshot> ReadSnapshotFile(FileSystem* fs,
                                                const std::string& path) {
  BW_ASSIGN_OR_RETURN(auto file, fs->NewSequentialFile(path));
  wal::DamageCollector damage;
  wal::BlockReader reader(file.get(), &damage);
  LoadedSnapshot out;
  out.file = path;
  auto lost = [&](absl::string_view what) {
    return absl::DataLossError(absl::StrCat(path, ": ", what));
  };
  std::string scratch;
  absl::string_view record;
  uint64_t data_length = 0;
  bool have_header = reader.ReadRecord(&record, &scratch);
  if (have_header) {
    BW_RETURN_IF_ERROR(DecodeHeader(record, path, &out.meta, &data_length));
  }
  while (have_header && reader.ReadRecord(&record, &scratch)) {
    if (record.size() > data_length - out.data.size()) {
      return lost(absl::StrCat("data runs past the ", data_length,
                               " bytes its header gives, in the record at "
                               "position ",
                               reader.last_record_offset()));
    }
    out.data.append(record.data(), record.size());
  }
  BW_RETURN_IF_ERROR(reader.status());
  if (!damage.regions.empty()) {
    const auto& r = damage.regions.front();
    return lost(absl::StrCat(r.reason, " at position ", r.position, " (",
                             r.bytes, " bytes)"));
  }
  if (!have_header) return lost("no snapshot header");
  if (out.data.size() != data_length) {
    return lost(absl::StrCat("data is ", out.data.size(),
                             " bytes, its header gives ", data_length));
  }
  uint64_t index = 0, term = 0;
  if (!ParseSnapshotFileName(BaseName(path), &index, &term) ||
      index != out.meta.index || term != out.meta.term) {
    return lost(absl::StrCat("header says index ", out.meta.index, " term ",
                             out.meta.term, ", unlike the file name"));
  }
  return out;
}

absl::StatusOr<SnapshotLoad> LoadSnapshot(FileSystem* fs,
                                          const std::string& dir) {
  BW_ASSIGN_OR_RETURN(std::vector<std::string> names,
                      ListSnapshotFiles(fs, dir));
  SnapshotLoad load;
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    const std::string path = JoinPath(dir, *it);
    absl::StatusOr<LoadedSnapshot> snapshot = ReadSnapshotFile(fs, path);
    if (snapshot.ok()) {
      load.snapshot = *std::move(snapshot);
      return load;
    }
    if (snapshot.status().code() != absl::StatusCode::kDataLoss) {
      return snapshot.status();
    }
    load.damaged.push_back({path, std::string(snapshot.status().message())});
  }
  if (!load.damaged.empty()) {
    std::vector<std::string> reasons;
    for (const SnapshotDamage& d : load.damaged) reasons.push_back(d.reason);
    return absl::DataLossError(absl::StrCat("no valid snapshot in ", dir, ": ",
                                            absl::StrJoin(reasons, "; ")));
  }
  return load;
}

}  // namespace blockwal::raft
