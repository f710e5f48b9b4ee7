// Helpers shared by the LevelDB and RocksDB interop tests: reading and
// writing whole logs with blockwal's block reader and writer, and the scenario
// of writes both databases are checked against. (Their scratch directories
// are ScratchDirs, tests/scratch_dir.h.)
#ifndef BLOCKWAL_TESTS_INTEROP_TEST_UTIL_H_
#define BLOCKWAL_TESTS_INTEROP_TEST_UTIL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "tests/write_batch_codec.h"
#include "blockwal/util/coding.h"
#include "blockwal/util/file_system.h"
#include "blockwal/util/status_macros.h"
#include "blockwal/wal/block_reader.h"
#include "blockwal/wal/block_writer.h"
#include "blockwal/wal/format.h"

namespace blockwal::testing {

// Path of the highest-numbered NNNNNN.log in dir: both databases name their
// WAL files so, and the newest is the one in use when the DB was closed.
inline absl::StatusOr<std::string> NewestLogFile(const std::string& dir) {
  BW_ASSIGN_OR_RETURN(std::vector<std::string> children,
                      FileSystem::Default()->GetChildren(dir));
  std::optional<uint64_t> newest;
  std::string newest_name;
  for (const std::string& name : children) {
    absl::string_view stem = name;
    if (!absl::ConsumeSuffix(&stem, ".log") || stem.empty()) continue;
    uint64_t number;
    if (!absl::SimpleAtoi(stem, &number)) continue;
    if (!newest.has_value() || number > *newest) {
      newest = number;
      newest_name = name;
    }
  }
  if (!newest.has_value()) {
    return absl::NotFoundError(absl::StrCat("no NNNNNN.log file in ", dir));
  }
  return JoinPath(dir, newest_name);
}

// Everything a BlockReader got out of one file.
struct LogContents {
  std::vector<std::string> records;
  // One entry per Reporter::Corruption call, "position: reason".
  std::vector<std::string> corruptions;
};

inline absl::StatusOr<LogContents> ReadLogFile(const std::string& path) {
  class CollectingReporter : public wal::BlockReader::Reporter {
   public:
    explicit CollectingReporter(std::vector<std::string>* out) : out_(out) {}
    void Corruption(uint64_t position, uint64_t bytes,
                    absl::string_view reason) override {
      out_->push_back(absl::StrCat(position, " (", bytes, " bytes): ", reason));
    }

   private:
    std::vector<std::string>* const out_;
  };

  BW_ASSIGN_OR_RETURN(std::unique_ptr<SequentialFile> file,
                      FileSystem::Default()->NewSequentialFile(path));
  LogContents contents;
  CollectingReporter reporter(&contents.corruptions);
  wal::BlockReader reader(file.get(), &reporter);
  absl::string_view record;
  std::string scratch;
  while (reader.ReadRecord(&record, &scratch)) {
    contents.records.emplace_back(record);
  }
  BW_RETURN_IF_ERROR(reader.status());
  return contents;
}

// Writes records as a whole log file at path (created or truncated).
inline absl::Status WriteLogFile(const std::string& path,
                                 const std::vector<std::string>& records) {
  BW_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file,
                      FileSystem::Default()->NewWritableFile(path));
  wal::BlockWriter writer(file.get());
  for (const std::string& record : records) {
    BW_RETURN_IF_ERROR(writer.AddRecord(record).status());
  }
  BW_RETURN_IF_ERROR(writer.Flush());
  return file->Close();
}

// Writes write batches to a log with blockwal's writer, numbering them the way
// LevelDB and RocksDB do: the first batch gets `first_sequence`, each next one
// the previous sequence plus the previous batch's op count.
class BatchLogWriter {
 public:
  static absl::StatusOr<std::unique_ptr<BatchLogWriter>> Create(
      const std::string& path, uint64_t first_sequence) {
    BW_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file,
                        FileSystem::Default()->NewWritableFile(path));
    return std::unique_ptr<BatchLogWriter>(
        new BatchLogWriter(std::move(file), first_sequence));
  }
  BatchLogWriter(const BatchLogWriter&) = delete;
  BatchLogWriter& operator=(const BatchLogWriter&) = delete;

  absl::Status Add(std::vector<BatchOp> ops) {
    WriteBatchContents batch{next_sequence_, std::move(ops)};
    BW_RETURN_IF_ERROR(writer_.AddRecord(EncodeWriteBatch(batch)).status());
    next_sequence_ += batch.ops.size();
    batches_.push_back(std::move(batch));
    return absl::OkStatus();
  }

  absl::Status Close() {
    BW_RETURN_IF_ERROR(writer_.Flush());
    return file_->Close();
  }

  // Where the next record's header would go if it started in this block.
  uint64_t position() const { return writer_.position(); }
  const std::vector<WriteBatchContents>& batches() const { return batches_; }

 private:
  BatchLogWriter(std::unique_ptr<WritableFile> file, uint64_t first_sequence)
      : file_(std::move(file)),
        writer_(file_.get()),
        next_sequence_(first_sequence) {}

  std::unique_ptr<WritableFile> file_;
  wal::BlockWriter writer_;
  uint64_t next_sequence_;
  std::vector<WriteBatchContents> batches_;
};

// Deterministic value bytes covering the whole byte range (NULs included), so
// a codec that treats values as C strings would fail.
inline std::string PatternValue(size_t size, uint32_t seed) {
  std::string value(size, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < size; ++i) {
    x = x * 1103515245u + 12345u;
    value[i] = static_cast<char>(x >> 24);
  }
  return value;
}

// The value size for which a one-put batch of `key` written as a single FULL
// fragment starting at file position `start` ends exactly at `end`.
inline absl::StatusOr<size_t> ValueSizeToEndAt(uint64_t start,
                                               absl::string_view key,
                                               uint64_t end) {
  const uint64_t fixed = wal::kHeaderSize + kWriteBatchHeaderSize + 1 +
                         VarintLength(key.size()) + key.size();
  // The varint of the value length is part of the size it helps describe:
  // try each width and keep the one that is self-consistent.
  for (int width = 1; width <= kMaxVarint32Bytes; ++width) {
    if (end < start + fixed + width) break;
    const uint64_t value_size = end - start - fixed - width;
    if (VarintLength(value_size) == width) return value_size;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("no put of key '", key, "' spans ", start, "..", end));
}

// Builds the writes (one inner vector per DB write: a single op is issued as
// DB::Put/Delete, anything else as DB::Write of a batch) both databases are
// checked against, logging each with `log` as it goes: their positions steer
// the sizes so the log hits every block-boundary case of the format:
//   - a record ending 7 bytes before a block end, so the next one starts
//     with an empty FIRST fragment in those 7 bytes;
//   - a record ending 3 bytes before a block end (a zero-filled trailer);
//   - a record ending exactly at a block end;
//   - a 100 KiB value fragmented FIRST, MIDDLE, MIDDLE, LAST;
//   - an empty value, an empty batch, deletes inside and outside batches,
//     and a couple of hundred small records of varied sizes.
inline absl::StatusOr<std::vector<std::vector<BatchOp>>> BuildScenario(
    BatchLogWriter* log, bool include_empty_batch) {
  std::vector<std::vector<BatchOp>> writes;
  auto add = [&](std::vector<BatchOp> ops) -> absl::Status {
    writes.push_back(ops);
    return log->Add(std::move(ops));
  };
  // A put of `key` ending `slack` bytes before the end of the current block.
  auto put_ending_before_block_end = [&](std::string key, uint64_t slack,
                                         uint32_t seed) -> absl::Status {
    // Too little room left for the record's fixed part: small fillers move
    // on to where it fits (at worst the start of the next block).
    for (int attempt = 0;; ++attempt) {
      uint64_t start = log->position();
      if (wal::kBlockSize - start % wal::kBlockSize < wal::kHeaderSize) {
        start += wal::kBlockSize - start % wal::kBlockSize;  // the trailer
      }
      const uint64_t block_end =
          (start / wal::kBlockSize + 1) * wal::kBlockSize;
      absl::StatusOr<size_t> size =
          ValueSizeToEndAt(start, key, block_end - slack);
      if (size.ok()) {
        return add({BatchOp::Put(std::move(key), PatternValue(*size, seed))});
      }
      if (attempt == 3) return size.status();
      BW_RETURN_IF_ERROR(add({BatchOp::Put("filler", "")}));
    }
  };

  BW_RETURN_IF_ERROR(put_ending_before_block_end("a", wal::kHeaderSize, 1));
  BW_RETURN_IF_ERROR(add({BatchOp::Put("b", "x")}));  // empty FIRST + LAST
  BW_RETURN_IF_ERROR(put_ending_before_block_end("c", 3, 2));
  BW_RETURN_IF_ERROR(add({BatchOp::Put("d", "4")}));  // after the trailer
  BW_RETURN_IF_ERROR(add({BatchOp::Delete("a")}));
  BW_RETURN_IF_ERROR(add({BatchOp::Put("big", PatternValue(100 * 1024, 3)),
                          BatchOp::Put("e", "5"), BatchOp::Delete("b")}));
  BW_RETURN_IF_ERROR(add({BatchOp::Put("empty", "")}));
  if (include_empty_batch) BW_RETURN_IF_ERROR(add({}));
  for (int i = 0; i < 200; ++i) {
    std::string key = absl::StrFormat("k%03d", i);
    if (i % 7 == 6) {
      BW_RETURN_IF_ERROR(add({BatchOp::Delete(absl::StrFormat("k%03d", i - 3))}));
    } else if (i % 11 == 10) {
      BW_RETURN_IF_ERROR(add({BatchOp::Put(key, PatternValue(i, i)),
                              BatchOp::Put(key + "x", PatternValue(3 * i, i))}));
    } else {
      BW_RETURN_IF_ERROR(
          add({BatchOp::Put(std::move(key), PatternValue((i * 61) % 500, i))}));
    }
  }
  BW_RETURN_IF_ERROR(put_ending_before_block_end("f", 0, 4));
  BW_RETURN_IF_ERROR(add({BatchOp::Put("g", "after a full block")}));
  return writes;
}

// The key -> value state after applying the writes in order.
inline std::map<std::string, std::string> ApplyWrites(
    const std::vector<std::vector<BatchOp>>& writes) {
  std::map<std::string, std::string> state;
  for (const std::vector<BatchOp>& ops : writes) {
    for (const BatchOp& op : ops) {
      if (op.kind == BatchOp::kPut) {
        state[op.key] = op.value;
      } else {
        state.erase(op.key);
      }
    }
  }
  return state;
}

// Every key any write touched (so deleted keys can be checked as absent).
inline std::vector<std::string> TouchedKeys(
    const std::vector<std::vector<BatchOp>>& writes) {
  std::set<std::string> keys;
  for (const std::vector<BatchOp>& ops : writes) {
    for (const BatchOp& op : ops) keys.insert(op.key);
  }
  return std::vector<std::string>(keys.begin(), keys.end());
}

}  // namespace blockwal::testing

#endif  // BLOCKWAL_TESTS_INTEROP_TEST_UTIL_H_
