// Fuzz target for the checkpoint reader (db/checkpoint.h): the input is the
// whole file CHECKPOINT-<N>, put in an in-memory file system
// (util/mem_file_system.h) and loaded with ReadCheckpoint.
//
// Besides the reader, the records of the file (read in order with
// wal::BlockReader, which block_reader_fuzzer covers) are checked by a
// reference parser written here from the format comment of db/checkpoint.h:
// a 21-byte header record (kind 1, "BWKVCKPT", version 2, wal_offset), chunk
// records (kind 2, varint32 pair count >= 1, exactly that many
// length-prefixed key/value pairs, keys strictly increasing across chunks),
// an index record (kind 4) listing exactly those chunks (position, payload
// bytes, pair count, first key), then a 21-byte trailer (kind 3, the index's
// position and size, the key count) that is the last record and one FULL
// fragment ending the file, with padding records (empty or kind 5) allowed
// anywhere after the header, and no damage reported by the block reader; or,
// for a header of version 1, the
// format 1 layout (see RefParseV1). It abort()s when one of these
// invariants breaks:
//
//   1. ReadCheckpoint and the reference parser agree on whether the file is
//      a valid checkpoint.
//   2. A rejected file gives kDataLoss with a message and leaves the table
//      as it was.
//   3. A loaded file: the keys, in file order, are strictly increasing and
//      are the table's keys with the same values; their count is the
//      trailer's key count and info.keys; info.wal_offset is the header's,
//      info.bytes the file size, info.path the path.
//   4. WriteCheckpoint of the loaded table (at the loaded wal_offset) and
//      ReadCheckpoint of what it wrote give the same wal_offset, key count
//      and table; the writer's output is a fixed point (writing what was read
//      back gives the same bytes), and is parsed by the reference parser too.
//
// Each input is checked as it is, and again with every fragment's block CRC
// made right (and a format 1 trailer's count and CRC), so that mutated
// contents reach the record parsers and the checks after them instead of
// failing a CRC (libFuzzer cannot compute one).
//
// Built with -DBLOCKWAL_LIBFUZZER for libFuzzer; otherwise replay_main.cc
// runs the files named on its command line, and each input's outcome is
// printed.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "blockwal/db/checkpoint.h"
#include "blockwal/db/memtable.h"
#include "tests/fuzz/fuzz_util.h"
#include "blockwal/util/coding.h"
#include "blockwal/util/crc32c.h"
#include "blockwal/util/file_system.h"
#include "blockwal/util/mem_file_system.h"
#include "blockwal/wal/block_reader.h"
#include "blockwal/wal/format.h"

namespace blockwal::db {
namespace {

constexpr char kFuzzTarget[] = "checkpoint_fuzzer";
const char kDir[] = "/db";
constexpr uint64_t kNameOffset = 7;

#ifdef BLOCKWAL_LIBFUZZER
constexpr bool kVerbose = false;
#else
constexpr bool kVerbose = true;
#endif

class CountingReporter : public wal::BlockReader::Reporter {
 public:
  void Corruption(uint64_t, uint64_t, absl::string_view) override { ++reports; }
  int reports = 0;
};

struct RefCheckpoint {
  uint64_t wal_offset = 0;
  uint64_t keys = 0;
  std::vector<std::pair<std::string, std::string>> pairs;  // in file order
};

// The reference parser for format 2 (see the top of this file).
bool RefParseV2(FileSystem* fs, const std::string& path, RefCheckpoint* out) {
  absl::StatusOr<std::unique_ptr<SequentialFile>> file =
      fs->NewSequentialFile(path);
  FUZZ_CHECK(file.ok(), file.status().code(), 0);
  absl::StatusOr<uint64_t> size = fs->GetFileSize(path);
  FUZZ_CHECK(size.ok(), size.status().code(), 0);
  CountingReporter reporter;
  wal::BlockReader reader(file->get(), &reporter);
  std::vector<std::pair<uint64_t, std::string>> records;  // position, payload
  absl::string_view record;
  std::string scratch;
  while (reader.ReadRecord(&record, &scratch)) {
    // Padding (empty or kind 5) may follow any record but the header and
    // holds nothing.
    if (!records.empty() && (record.empty() || record[0] == 5)) continue;
    records.emplace_back(reader.last_record_offset(), std::string(record));
  }
  FUZZ_CHECK(reader.status().ok(), reader.status().code(), 0);
  if (reporter.reports > 0 || records.size() < 3) return false;

  const std::string& header = records.front().second;
  if (header.size() != 21 || header[0] != 1 ||
      header.compare(1, 8, "BWKVCKPT") != 0 ||
      DecodeFixed32(header.data() + 9) != 2) {
    return false;
  }
  out->wal_offset = DecodeFixed64(header.data() + 13);

  // The chunks, and the index entry each must have.
  std::string entries;
  uint32_t chunks = 0;
  size_t r = 1;
  for (; r < records.size() && !records[r].second.empty() &&
         records[r].second[0] == 2;
       ++r) {
    absl::string_view in = records[r].second;
    in.remove_prefix(1);
    uint32_t count;
    if (!GetVarint32(&in, &count) || count == 0) return false;
    absl::string_view first_key;
    for (uint32_t i = 0; i < count; ++i) {
      absl::string_view key, value;
      if (!GetLengthPrefixed(&in, &key) || !GetLengthPrefixed(&in, &value)) {
        return false;
      }
      if (!out->pairs.empty() && !(out->pairs.back().first < key)) return false;
      if (i == 0) first_key = key;
      out->pairs.emplace_back(std::string(key), std::string(value));
    }
    if (!in.empty()) return false;
    PutVarint64(&entries, records[r].first);
    PutVarint32(&entries, static_cast<uint32_t>(records[r].second.size()));
    PutVarint32(&entries, count);
    PutLengthPrefixed(&entries, first_key);
    ++chunks;
  }
  out->keys = out->pairs.size();

  if (r >= records.size()) return false;
  const auto& [index_position, index] = records[r++];
  std::string want_index = "\x04";
  PutVarint32(&want_index, chunks);
  want_index += entries;
  if (index != want_index) return false;

  if (r + 1 != records.size()) return false;
  const auto& [trailer_position, trailer] = records[r];
  return trailer.size() == 21 && trailer[0] == 3 &&
         trailer_position + 28 == *size &&
         DecodeFixed64(trailer.data() + 1) == index_position &&
         DecodeFixed32(trailer.data() + 9) == index.size() &&
         DecodeFixed64(trailer.data() + 13) == out->keys;
}

// The reference parser for format 1 (db/checkpoint.h, ReadCheckpointV1): a
// 29-byte header (kind 1, "BWKVCKPT", version 1, wal_offset, key count),
// chunks, and a 9-byte trailer (kind 3, the number of records before it, the
// masked CRC32C of their payloads) that is the last record.
bool RefParseV1(FileSystem* fs, const std::string& path, RefCheckpoint* out) {
  absl::StatusOr<std::unique_ptr<SequentialFile>> file =
      fs->NewSequentialFile(path);
  FUZZ_CHECK(file.ok(), file.status().code(), 0);
  CountingReporter reporter;
  wal::BlockReader reader(file->get(), &reporter);
  std::vector<std::string> records;
  absl::string_view record;
  std::string scratch;
  while (reader.ReadRecord(&record, &scratch)) records.emplace_back(record);
  FUZZ_CHECK(reader.status().ok(), reader.status().code(), 0);
  if (reporter.reports > 0 || records.size() < 2) return false;

  const std::string& header = records.front();
  if (header.size() != 29 || header[0] != 1 ||
      header.compare(1, 8, "BWKVCKPT") != 0 ||
      DecodeFixed32(header.data() + 9) != 1) {
    return false;
  }
  out->wal_offset = DecodeFixed64(header.data() + 13);
  out->keys = DecodeFixed64(header.data() + 21);

  std::string covered = header;  // the payloads the trailer's CRC covers
  for (size_t r = 1; r + 1 < records.size(); ++r) {
    absl::string_view in = records[r];
    if (in.empty() || in[0] != 2) return false;
    covered.append(in.data(), in.size());
    in.remove_prefix(1);
    uint32_t count;
    if (!GetVarint32(&in, &count)) return false;
    for (uint32_t i = 0; i < count; ++i) {
      absl::string_view key, value;
      if (!GetLengthPrefixed(&in, &key) || !GetLengthPrefixed(&in, &value)) {
        return false;
      }
      if (!out->pairs.empty() && !(out->pairs.back().first < key)) return false;
      out->pairs.emplace_back(std::string(key), std::string(value));
    }
    if (!in.empty()) return false;
  }

  const std::string& trailer = records.back();
  if (trailer.size() != 9 || trailer[0] != 3 ||
      DecodeFixed32(trailer.data() + 1) != records.size() - 1 ||
      crc32c::Unmask(DecodeFixed32(trailer.data() + 5)) !=
          crc32c::Value(covered)) {
    return false;
  }
  return out->pairs.size() == out->keys;
}

// Either format, by the header's version.
bool RefParse(FileSystem* fs, const std::string& path, RefCheckpoint* out) {
  std::string head;
  {
    absl::StatusOr<std::string> data = ReadFileToString(fs, path);
    FUZZ_CHECK(data.ok(), data.status().code(), 0);
    head = data->substr(0, 7 + 13);
  }
  const bool v1 = head.size() == 20 && head[7] == 1 &&
                  DecodeFixed32(head.data() + 7 + 9) == 1;
  return v1 ? RefParseV1(fs, path, out) : RefParseV2(fs, path, out);
}

void CheckSameTable(const MemTable& a, const MemTable& b) {
  FUZZ_CHECK(a.size() == b.size(), a.size(), b.size());
  auto it = b.map().begin();
  for (const auto& [key, value] : a.map()) {
    FUZZ_CHECK(it->first == key && it->second == value, key.size(),
               value.has_value() ? value->size() : 0);
    ++it;
  }
}

std::string MustRead(FileSystem* fs, const std::string& path) {
  absl::StatusOr<std::string> data = ReadFileToString(fs, path);
  FUZZ_CHECK(data.ok(), data.status().code(), 0);
  return *std::move(data);
}

// Invariant 4: returns the bytes WriteCheckpoint wrote for `table`.
std::string RoundTrip(FileSystem* fs, uint64_t wal_offset,
                      const MemTable& table) {
  const std::string dir = "/rewrite";
  FUZZ_CHECK(fs->CreateDir(dir).ok(), 0, 0);
  absl::StatusOr<CheckpointInfo> written =
      WriteCheckpoint(fs, dir, wal_offset, table);
  FUZZ_CHECK(written.ok(), written.status().code(), 0);
  FUZZ_CHECK(written->wal_offset == wal_offset, written->wal_offset, wal_offset);
  FUZZ_CHECK(written->keys == table.size(), written->keys, table.size());
  FUZZ_CHECK(written->path == JoinPath(dir, CheckpointFileName(wal_offset)), 0, 0);
  const std::string bytes = MustRead(fs, written->path);
  FUZZ_CHECK(written->bytes == bytes.size(), written->bytes, bytes.size());

  MemTable reread;
  absl::StatusOr<CheckpointInfo> info = ReadCheckpoint(fs, written->path, &reread);
  FUZZ_CHECK(info.ok(), info.status().code(), bytes.size());
  FUZZ_CHECK(info->wal_offset == wal_offset, info->wal_offset, wal_offset);
  FUZZ_CHECK(info->keys == table.size(), info->keys, table.size());
  CheckSameTable(table, reread);
  RefCheckpoint ref;
  FUZZ_CHECK(RefParse(fs, written->path, &ref), bytes.size(), 0);
  FUZZ_CHECK(ref.pairs.size() == table.size(), ref.pairs.size(), table.size());

  absl::StatusOr<CheckpointInfo> again =
      WriteCheckpoint(fs, dir, wal_offset, reread);
  FUZZ_CHECK(again.ok(), again.status().code(), 0);
  FUZZ_CHECK(MustRead(fs, again->path) == bytes, again->bytes, bytes.size());
  return bytes;
}

// `data` with its checksums made right (see the top of this file).
std::string FixChecksums(absl::string_view data) {
  std::string fixed(data);
  FixBlockChecksums(&fixed);
  std::unique_ptr<FileSystem> fs = NewMemFileSystem();
  FUZZ_CHECK(WriteStringToFile(fs.get(), fixed, "fixed", false).ok(), 0, 0);
  absl::StatusOr<std::unique_ptr<SequentialFile>> file =
      fs->NewSequentialFile("fixed");
  FUZZ_CHECK(file.ok(), file.status().code(), 0);
  wal::BlockReader reader(file->get(), nullptr);
  absl::string_view record;
  std::string scratch;
  uint32_t crc = 0;
  uint32_t records = 0;
  while (reader.ReadRecord(&record, &scratch)) {
    // A format 1 trailer (format 2 has no whole-file checksum).
    if (record.size() == 9 && record[0] == kCheckpointTrailer) {
      // Only a trailer written as one FULL fragment is patched in place.
      char* p = fixed.data() + reader.last_record_offset();
      if (p[6] == wal::kFullType && DecodeFixed16(p + 4) == 9) {
        EncodeFixed32(p + wal::kHeaderSize + 1, records);
        EncodeFixed32(p + wal::kHeaderSize + 5, crc32c::Mask(crc));
        FixFragmentChecksum(p);
      }
      break;
    }
    crc = crc32c::Extend(crc, record.data(), record.size());
    ++records;
  }
  return fixed;
}

void CheckFile(absl::string_view data) {
  std::unique_ptr<FileSystem> fs = NewMemFileSystem();
  FUZZ_CHECK(fs->CreateDir(kDir).ok(), 0, 0);
  const std::string path = JoinPath(kDir, CheckpointFileName(kNameOffset));
  FUZZ_CHECK(WriteStringToFile(fs.get(), data, path, false).ok(), 0, 0);

  RefCheckpoint ref;
  const bool ref_ok = RefParse(fs.get(), path, &ref);
  MemTable table;
  table.Put("sentinel", "kept on error");
  absl::StatusOr<CheckpointInfo> info = ReadCheckpoint(fs.get(), path, &table);

  // Invariants 1 and 2.
  FUZZ_CHECK(info.ok() == ref_ok, info.status().code(), ref_ok);
  if (!info.ok()) {
    if (kVerbose) {
      std::fprintf(stderr, "  rejected: %s\n", info.status().ToString().c_str());
    }
    FUZZ_CHECK(info.status().code() == absl::StatusCode::kDataLoss,
               info.status().code(), 0);
    FUZZ_CHECK(!info.status().message().empty(), 0, 0);
    const std::string* kept = table.Get("sentinel");
    FUZZ_CHECK(table.size() == 1 && kept != nullptr && *kept == "kept on error",
               table.size(), 0);
    return;
  }
  if (kVerbose) {
    std::fprintf(stderr, "  loaded: wal_offset %llu, %llu keys\n",
                 static_cast<unsigned long long>(info->wal_offset),
                 static_cast<unsigned long long>(info->keys));
  }

  // Invariant 3.
  FUZZ_CHECK(info->path == path, 0, 0);
  FUZZ_CHECK(info->bytes == data.size(), info->bytes, data.size());
  FUZZ_CHECK(info->wal_offset == ref.wal_offset, info->wal_offset,
             ref.wal_offset);
  FUZZ_CHECK(info->keys == ref.keys, info->keys, ref.keys);
  FUZZ_CHECK(table.size() == info->keys, table.size(), info->keys);
  FUZZ_CHECK(ref.pairs.size() == table.size(), ref.pairs.size(), table.size());
  size_t i = 0;
  for (const auto& [key, value] : table.map()) {
    FUZZ_CHECK(i == 0 || ref.pairs[i - 1].first < ref.pairs[i].first, i, 0);
    FUZZ_CHECK(value.has_value() && ref.pairs[i].first == key &&
                   ref.pairs[i].second == *value,
               i, key.size());
    ++i;
  }

  // Invariant 4.
  const std::string rewritten = RoundTrip(fs.get(), info->wal_offset, table);
  if (kVerbose) {
    std::fprintf(stderr, "  rewritten: %zu bytes (%s)\n", rewritten.size(),
                 rewritten == data ? "identical" : "different framing");
  }
}

void FuzzOne(absl::string_view data) {
  CheckFile(data);
  const std::string fixed = FixChecksums(data);
  if (fixed != data) {
    if (kVerbose) std::fprintf(stderr, "  with its checksums fixed:\n");
    CheckFile(fixed);
  }
}

}  // namespace
}  // namespace blockwal::db

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  blockwal::db::FuzzOne(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
