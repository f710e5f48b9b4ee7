// Checkpoint files: names, round trips, and that every kind of damage is
// rejected with kDataLoss rather than loaded in part.
#include "db/checkpoint.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "util/file_system.h"
#include "util/mem_file_system.h"
#include "wal/block_writer.h"

namespace blockwal::db {
namespace {

using ::blockwal::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Optional;

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(fs_->CreateDir(kDir)); }

  // A table of n keys with values of value_size bytes.
  static void Fill(MemTable* table, int n, size_t value_size) {
    for (int i = 0; i < n; ++i) {
      table->Put(absl::StrCat("key", 100000 + i),
                 std::string(value_size, static_cast<char>('a' + i % 26)));
    }
  }

  std::string Path(uint64_t n) { return JoinPath(kDir, CheckpointFileName(n)); }

  static constexpr char kDir[] = "/ckpt";
  std::unique_ptr<FileSystem> fs_ = NewMemFileSystem();
};

TEST_F(CheckpointTest, FileNamesSortByOffset) {
  EXPECT_EQ(CheckpointFileName(42), "CHECKPOINT-00000000000000000042");
  EXPECT_EQ(CheckpointFileName(UINT64_MAX), "CHECKPOINT-18446744073709551615");
  EXPECT_THAT(ParseCheckpointFileName("CHECKPOINT-00000000000000000042"),
              Optional(42u));
  EXPECT_EQ(ParseCheckpointFileName("CHECKPOINT-00000000000000000042.tmp"),
            std::nullopt);
  EXPECT_EQ(ParseCheckpointFileName("CHECKPOINT-42"), std::nullopt);
  EXPECT_EQ(ParseCheckpointFileName("CHECKPOINT-0000000000000000004x"),
            std::nullopt);
  EXPECT_EQ(ParseCheckpointFileName("CHECKPOINT-99999999999999999999"),
            std::nullopt);  // past 2^64 - 1
  EXPECT_EQ(ParseCheckpointFileName("LOCK"), std::nullopt);
}

TEST_F(CheckpointTest, RoundTripsManyChunks) {
  MemTable table;
  Fill(&table, 3000, 100);  // ~330 KB: several 64 KiB chunks
  ASSERT_OK_AND_ASSIGN(CheckpointInfo written,
                       WriteCheckpoint(fs_.get(), kDir, 1234, table));
  EXPECT_EQ(written.path, Path(1234));
  EXPECT_EQ(written.wal_offset, 1234u);
  EXPECT_EQ(written.keys, 3000u);
  ASSERT_OK_AND_ASSIGN(uint64_t size, fs_->GetFileSize(written.path));
  EXPECT_EQ(written.bytes, size);
  EXPECT_FALSE(fs_->FileExists(written.path + ".tmp"));

  MemTable loaded;
  loaded.Put("stale", "x");  // replaced, not merged
  ASSERT_OK_AND_ASSIGN(CheckpointInfo read,
                       ReadCheckpoint(fs_.get(), written.path, &loaded));
  EXPECT_EQ(read.wal_offset, 1234u);
  EXPECT_EQ(read.keys, 3000u);
  EXPECT_EQ(read.bytes, size);
  EXPECT_EQ(loaded.map(), table.map());
}

TEST_F(CheckpointTest, RoundTripsEmptyTable) {
  MemTable table;
  ASSERT_OK_AND_ASSIGN(CheckpointInfo written,
                       WriteCheckpoint(fs_.get(), kDir, 0, table));
  MemTable loaded;
  loaded.Put("stale", "x");
  ASSERT_OK_AND_ASSIGN(CheckpointInfo read,
                       ReadCheckpoint(fs_.get(), written.path, &loaded));
  EXPECT_EQ(read.keys, 0u);
  EXPECT_EQ(loaded.size(), 0u);
}

class DamagedCheckpointTest : public CheckpointTest {
 protected:
  void SetUp() override {
    CheckpointTest::SetUp();
    Fill(&table_, 2000, 50);
    ASSERT_OK(WriteCheckpoint(fs_.get(), kDir, 7, table_).status());
    ASSERT_OK_AND_ASSIGN(contents_, ReadFileToString(fs_.get(), Path(7)));
  }
  void Rewrite(const std::string& contents) {
    ASSERT_OK(WriteStringToFile(fs_.get(), contents, Path(7), false));
  }
  // Reads the damaged file into a table holding one key, which must survive.
  absl::Status Read() {
    MemTable loaded;
    loaded.Put("untouched", "yes");
    absl::StatusOr<CheckpointInfo> info =
        ReadCheckpoint(fs_.get(), Path(7), &loaded);
    EXPECT_EQ(loaded.size(), 1u);
    EXPECT_NE(loaded.Get("untouched"), nullptr);
    return info.status();
  }

  MemTable table_;
  std::string contents_;
};

TEST_F(DamagedCheckpointTest, FlippedByteIsChecksumMismatch) {
  contents_[contents_.size() / 2] ^= 0x01;
  Rewrite(contents_);
  EXPECT_THAT(Read(), StatusIs(absl::StatusCode::kDataLoss,
                               HasSubstr("checksum mismatch at byte")));
}

TEST_F(DamagedCheckpointTest, CutOffFileHasNoTrailer) {
  Rewrite(contents_.substr(0, contents_.size() - 20));
  EXPECT_THAT(Read(), StatusIs(absl::StatusCode::kDataLoss,
                               HasSubstr("ends without its trailer")));
}

TEST_F(DamagedCheckpointTest, CutAtBlockBoundaryHasNoTrailer) {
  Rewrite(contents_.substr(0, 32768));
  EXPECT_THAT(Read(), StatusIs(absl::StatusCode::kDataLoss,
                               HasSubstr("ends without its trailer")));
}

TEST_F(DamagedCheckpointTest, EmptyFile) {
  Rewrite("");
  EXPECT_THAT(Read(), StatusIs(absl::StatusCode::kDataLoss,
                               "checkpoint /ckpt/CHECKPOINT-00000000000000000007"
                               " is damaged: empty file (no header)"));
}

// Writes a block-framed file made of the given record payloads.
class HandMadeCheckpointTest : public CheckpointTest {
 protected:
  absl::Status ReadRecords(const std::vector<std::string>& records) {
    auto file = fs_->NewWritableFile(Path(9));
    EXPECT_OK(file);
    wal::BlockWriter writer(file->get());
    for (const std::string& r : records) {
      EXPECT_OK(writer.AddRecord(r));
    }
    EXPECT_OK(writer.Flush());
    EXPECT_OK((*file)->Close());
    MemTable loaded;
    return ReadCheckpoint(fs_.get(), Path(9), &loaded).status();
  }
};

TEST_F(HandMadeCheckpointTest, BadMagic) {
  std::string header = "\x01NOTMAGIC";
  header.append(20, '\0');
  EXPECT_THAT(ReadRecords({header}),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("no checkpoint header (bad magic)")));
}

TEST_F(HandMadeCheckpointTest, UnknownVersion) {
  std::string header = "\x01";
  header += "BWKVCKPT";
  header += std::string("\x02\0\0\0", 4);
  header.append(16, '\0');
  EXPECT_THAT(ReadRecords({header}),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("unsupported format version 2")));
}

TEST_F(CheckpointTest, TrailerChecksumAndCountsAreChecked) {
  MemTable table;
  Fill(&table, 3, 5);
  ASSERT_OK(WriteCheckpoint(fs_.get(), kDir, 3, table).status());
  ASSERT_OK_AND_ASSIGN(std::string contents,
                       ReadFileToString(fs_.get(), Path(3)));
  // Re-frame the same payloads with one value byte changed: every block
  // checksum is then right, only the trailer's CRC can catch it.
  // Payloads: the header, one chunk, the trailer, each a FULL fragment.
  std::vector<std::string> payloads;
  size_t pos = 0;
  while (pos + 7 <= contents.size()) {
    const size_t len = static_cast<uint8_t>(contents[pos + 4]) |
                       (static_cast<uint8_t>(contents[pos + 5]) << 8);
    payloads.push_back(contents.substr(pos + 7, len));
    pos += 7 + len;
  }
  ASSERT_EQ(payloads.size(), 3u);
  payloads[1].back() ^= 0x01;
  auto file = fs_->NewWritableFile(Path(3));
  ASSERT_OK(file);
  wal::BlockWriter writer(file->get());
  for (const std::string& p : payloads) ASSERT_OK(writer.AddRecord(p));
  ASSERT_OK((*file)->Close());
  MemTable loaded;
  EXPECT_THAT(ReadCheckpoint(fs_.get(), Path(3), &loaded),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("checksum mismatch: trailer says")));
}

}  // namespace
}  // namespace blockwal::db
