// Builds checkpoint files in format 1 (db/checkpoint.h, ReadCheckpointV1),
// which blockwal no longer writes, for tests of reading old stores.
#ifndef BLOCKWAL_TESTS_CHECKPOINT_V1_FILE_H_
#define BLOCKWAL_TESTS_CHECKPOINT_V1_FILE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "blockwal/db/checkpoint.h"
#include "blockwal/util/coding.h"
#include "blockwal/util/crc32c.h"
#include "blockwal/util/file_system.h"
#include "blockwal/util/mem_file_system.h"
#include "blockwal/wal/block_writer.h"

namespace blockwal::db::testing {

// The bytes of a format 1 checkpoint of `pairs` (sorted), one chunk per
// `per_chunk` pairs; `crc_delta` is added to the trailer's CRC (0: right).
inline std::string CheckpointV1Bytes(
    uint64_t wal_offset,
    const std::vector<std::pair<std::string, std::string>>& pairs,
    size_t per_chunk = 2, uint32_t crc_delta = 0) {
  std::vector<std::string> records;
  std::string header = "\x01";
  header += kCheckpointMagic;
  PutFixed32(&header, kCheckpointVersion1);
  PutFixed64(&header, wal_offset);
  PutFixed64(&header, pairs.size());
  records.push_back(header);
  for (size_t i = 0; i < pairs.size(); i += per_chunk) {
    std::string chunk = "\x02";
    const size_t n = std::min(per_chunk, pairs.size() - i);
    PutVarint32(&chunk, static_cast<uint32_t>(n));
    for (size_t j = i; j < i + n; ++j) {
      PutLengthPrefixed(&chunk, pairs[j].first);
      PutLengthPrefixed(&chunk, pairs[j].second);
    }
    records.push_back(chunk);
  }
  uint32_t crc = 0;
  for (const std::string& r : records) crc = crc32c::Extend(crc, r.data(), r.size());
  std::string trailer = "\x03";
  PutFixed32(&trailer, static_cast<uint32_t>(records.size()));
  PutFixed32(&trailer, crc32c::Mask(crc + crc_delta));
  records.push_back(trailer);

  std::unique_ptr<FileSystem> fs = NewMemFileSystem();
  std::unique_ptr<WritableFile> file = fs->NewWritableFile("/v1").value();
  wal::BlockWriter writer(file.get());
  for (const std::string& r : records) (void)writer.AddRecord(r).status();
  (void)file->Close();
  return ReadFileToString(fs.get(), "/v1").value();
}

}  // namespace blockwal::db::testing

#endif  // BLOCKWAL_TESTS_CHECKPOINT_V1_FILE_H_
