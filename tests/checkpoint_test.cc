// Checkpoint files: names, round trips, lazy reads (point reads, scans,
// counts across chunk boundaries), and that every kind of damage is kDataLoss
// naming the file and place, rather than a missing key or a partial load.
#include "blockwal/db/checkpoint.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/checkpoint_v1_file.h"
#include "tests/status_matchers.h"
#include "blockwal/util/file_system.h"
#include "blockwal/util/mem_file_system.h"
#include "blockwal/util/coding.h"
#include "blockwal/wal/block_writer.h"
#include "blockwal/wal/format.h"

namespace blockwal::db {
namespace {

using ::blockwal::testing::StatusIs;
using ::blockwal::testing::IsOkAndHolds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
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
  EXPECT_GE(written.chunks, 10u);  // ~330 KB, a chunk per 32 KiB block
  ASSERT_OK_AND_ASSIGN(uint64_t size, fs_->GetFileSize(written.path));
  EXPECT_EQ(written.bytes, size);
  EXPECT_THAT(fs_->FileExists(written.path + ".tmp"), IsOkAndHolds(false));

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

TEST_F(CheckpointTest, TableReadsAcrossChunks) {
  MemTable table;
  Fill(&table, 3000, 100);  // keys key100000 .. key102999
  ASSERT_OK(WriteCheckpoint(fs_.get(), kDir, 5, table).status());
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<const CheckpointTable> t,
                       CheckpointTable::Open(fs_.get(), Path(5)));
  EXPECT_EQ(t->info().keys, 3000u);
  EXPECT_EQ(t->info().wal_offset, 5u);
  ASSERT_OK(t->Verify());
  for (int i = 0; i < 3000; i += 7) {
    const std::string key = absl::StrCat("key", 100000 + i);
    EXPECT_THAT(t->Get(key), IsOkAndHolds(Optional(*table.Get(key)))) << key;
  }
  EXPECT_THAT(t->Get("key"), IsOkAndHolds(std::nullopt));         // before all
  EXPECT_THAT(t->Get("key1000005"), IsOkAndHolds(std::nullopt));  // between
  EXPECT_THAT(t->Get("zzz"), IsOkAndHolds(std::nullopt));         // after all

  // A scan crossing chunk boundaries, bounds inside chunks.
  std::vector<std::string> keys;
  ASSERT_OK(t->Scan("key100140", "key102860",
                    [&](absl::string_view k, absl::string_view v) {
                      EXPECT_EQ(v, *table.Get(k));
                      keys.emplace_back(k);
                      return absl::OkStatus();
                    }));
  ASSERT_EQ(keys.size(), 2720u);
  EXPECT_EQ(keys.front(), "key100140");
  EXPECT_EQ(keys.back(), "key102859");
  // A visitor's error stops the scan and is returned.
  int visited = 0;
  EXPECT_THAT(t->Scan("", "",
                      [&](absl::string_view, absl::string_view) {
                        return ++visited == 3 ? absl::CancelledError("stop")
                                              : absl::OkStatus();
                      }),
              StatusIs(absl::StatusCode::kCancelled, "stop"));
  EXPECT_EQ(visited, 3);

  const std::vector<absl::string_view> probe = {
      "a", "key100000", "key1000000", "key101500", "key101501", "key102999",
      "key3"};
  EXPECT_THAT(t->CountPresent(probe), IsOkAndHolds(4u));
}

TEST_F(CheckpointTest, PointReadsCacheDecodedChunksWithinTheBudget) {
  MemTable table;
  Fill(&table, 3000, 100);
  ASSERT_OK(WriteCheckpoint(fs_.get(), kDir, 5, table).status());
  // Room for about two decoded chunks (in memory, a chunk's bytes are copied:
  // ~32 KiB each, plus its pair list).
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<const CheckpointTable> t,
                       CheckpointTable::Open(fs_.get(), Path(5), 100 << 10));
  ASSERT_GT(t->info().chunks, 4u);
  EXPECT_THAT(t->Get("key100000"), IsOkAndHolds(Optional(*table.Get("key100000"))));
  EXPECT_THAT(t->Get("key100001"), IsOkAndHolds(Optional(*table.Get("key100001"))));
  CheckpointTable::CacheStats stats = t->cache_stats();
  EXPECT_EQ(stats.misses, 1u);  // same chunk
  EXPECT_EQ(stats.hits, 1u);
  EXPECT_GT(stats.bytes, 32u << 10);
  // Reading every chunk keeps the cache within its budget, and a chunk
  // evicted is read again.
  for (int i = 0; i < 3000; i += 20) {  // every chunk holds 20+ keys
    const std::string key = absl::StrCat("key", 100000 + i);
    ASSERT_THAT(t->Get(key), IsOkAndHolds(Optional(*table.Get(key))));
  }
  stats = t->cache_stats();
  EXPECT_LE(stats.bytes, 100u << 10);
  EXPECT_EQ(stats.misses, t->info().chunks);
  ASSERT_THAT(t->Get("key100000"), IsOkAndHolds(Optional(*table.Get("key100000"))));
  EXPECT_EQ(t->cache_stats().misses, t->info().chunks + 1);
  // Scans leave the cache alone.
  ASSERT_OK(t->Scan("", "", [](absl::string_view, absl::string_view) {
    return absl::OkStatus();
  }));
  EXPECT_EQ(t->cache_stats().misses, t->info().chunks + 1);
  // A budget of 0 caches nothing.
  ASSERT_OK_AND_ASSIGN(t, CheckpointTable::Open(fs_.get(), Path(5), 0));
  ASSERT_OK(t->Get("key100000").status());
  ASSERT_OK(t->Get("key100000").status());
  EXPECT_EQ(t->cache_stats().misses, 2u);
  EXPECT_EQ(t->cache_stats().bytes, 0u);
}

// The fragments of a block-framed file, in order: (type, payload kind byte
// or -1 for an empty payload).
std::vector<std::pair<int, int>> Fragments(const std::string& file) {
  std::vector<std::pair<int, int>> out;
  size_t pos = 0;
  while (pos + wal::kHeaderSize <= file.size()) {
    const size_t left = wal::kBlockSize - pos % wal::kBlockSize;
    if (left < static_cast<size_t>(wal::kHeaderSize)) {
      pos += left;
      continue;
    }
    const size_t length = DecodeFixed16(file.data() + pos + 4);
    const int type = static_cast<unsigned char>(file[pos + 6]);
    out.emplace_back(type, length == 0 ? -1
                                       : static_cast<unsigned char>(
                                             file[pos + wal::kHeaderSize]));
    pos += wal::kHeaderSize + length;
  }
  return out;
}

TEST_F(CheckpointTest, SmallPairsMakeChunksOfOneFragmentEach) {
  MemTable table;
  Fill(&table, 3000, 100);  // 111-byte pairs
  ASSERT_OK_AND_ASSIGN(CheckpointInfo info,
                       WriteCheckpoint(fs_.get(), kDir, 5, table));
  ASSERT_OK_AND_ASSIGN(std::string contents,
                       ReadFileToString(fs_.get(), Path(5)));
  int chunks = 0;
  int paddings = 0;
  for (const auto& [type, kind] : Fragments(contents)) {
    EXPECT_EQ(type, wal::kFullType);  // nothing split across blocks
    chunks += kind == kCheckpointChunk;
    paddings += kind == kCheckpointPadding || kind == -1;
  }
  EXPECT_EQ(chunks, static_cast<int>(info.chunks));
  EXPECT_EQ(static_cast<uint64_t>(chunks), (contents.size() + 32767) / 32768);
  EXPECT_GE(paddings, chunks - 2);  // the ends of the blocks
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<const CheckpointTable> t,
                       CheckpointTable::Open(fs_.get(), Path(5)));
  ASSERT_OK(t->Verify());
}

TEST_F(CheckpointTest, PairsBiggerThanTheRestOfABlockStillRoundTrip) {
  // 20 KB values: a pair does not fit the 12 KB a chunk leaves, which is more
  // than padding may waste, so the next chunk starts there and is split.
  // 40 KB values: every chunk is split. 3 KB values: padded.
  for (size_t value_size : {size_t{20000}, size_t{40000}, size_t{3000}}) {
    MemTable table;
    Fill(&table, 12, value_size);
    ASSERT_OK(WriteCheckpoint(fs_.get(), kDir, value_size, table).status());
    ASSERT_OK_AND_ASSIGN(std::string contents,
                         ReadFileToString(fs_.get(), Path(value_size)));
    bool split = false;
    for (const auto& [type, kind] : Fragments(contents)) {
      split |= type == wal::kFirstType;
    }
    EXPECT_EQ(split, value_size != 3000) << value_size;
    ASSERT_OK_AND_ASSIGN(std::shared_ptr<const CheckpointTable> t,
                         CheckpointTable::Open(fs_.get(), Path(value_size)));
    ASSERT_OK(t->Verify()) << value_size;
    for (const auto& [key, value] : table.map()) {
      ASSERT_THAT(t->Get(key), IsOkAndHolds(value)) << value_size << key;
    }
    MemTable loaded;
    ASSERT_OK(ReadCheckpoint(fs_.get(), Path(value_size), &loaded).status());
    EXPECT_EQ(loaded.map(), table.map());
  }
}

TEST_F(CheckpointTest, BuilderRejectsKeysOutOfOrderAndCleansUp) {
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<CheckpointBuilder> b,
                         CheckpointBuilder::Create(fs_.get(), kDir, 8));
    ASSERT_OK(b->Add("b", "1"));
    EXPECT_THAT(b->Add("b", "2"),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         "/ckpt/CHECKPOINT-00000000000000000008.tmp: "
                         "checkpoint keys must increase; 'b' after 'b'"));
    EXPECT_THAT(b->Add("a", "2"), StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(fs_->FileExists(Path(8) + ".tmp"), IsOkAndHolds(true));
  }
  // Abandoned before Finish: the temp file is gone, no checkpoint exists.
  EXPECT_THAT(fs_->FileExists(Path(8) + ".tmp"), IsOkAndHolds(false));
  EXPECT_THAT(fs_->FileExists(Path(8)), IsOkAndHolds(false));
}

TEST_F(CheckpointTest, TrailerEndsTheFileWhateverTheIndexLength) {
  // Index lengths that leave every amount of room in the last block: the
  // trailer must always be the file's last kTrailerRecordBytes bytes.
  for (int n = 0; n < 60; ++n) {
    MemTable table;
    table.Put(std::string(1 + n * 37 % 200, 'k'), std::string(32700 - n * 3, 'v'));
    ASSERT_OK(WriteCheckpoint(fs_.get(), kDir, n, table).status());
    ASSERT_OK_AND_ASSIGN(std::shared_ptr<const CheckpointTable> t,
                         CheckpointTable::Open(fs_.get(), Path(n)));
    ASSERT_OK(t->Verify()) << n;
    ASSERT_OK_AND_ASSIGN(std::string contents,
                         ReadFileToString(fs_.get(), Path(n)));
    const char* trailer = contents.data() + contents.size() - kTrailerRecordBytes;
    EXPECT_EQ(trailer[6], wal::kFullType) << n;
    EXPECT_EQ(DecodeFixed16(trailer + 4), kTrailerPayloadBytes) << n;
    EXPECT_EQ(trailer[7], kCheckpointTrailer) << n;
  }
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
  std::string Damage(absl::string_view what) {
    return absl::StrCat("checkpoint /ckpt/CHECKPOINT-00000000000000000007 is "
                        "damaged: ",
                        what);
  }

  MemTable table_;
  std::string contents_;
};

TEST_F(DamagedCheckpointTest, FlippedByteInAChunkFailsItsReadsOnly) {
  // Byte 100 is in chunk 0 (chunk 0 starts at byte 28 and fills block 0).
  contents_[100] ^= 0x01;
  Rewrite(contents_);
  const std::string damage = Damage(
      "chunk 0: record at position 28: checksum mismatch at position 28");
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<const CheckpointTable> t,
                       CheckpointTable::Open(fs_.get(), Path(7)));
  EXPECT_THAT(t->Get("key100000"), StatusIs(absl::StatusCode::kDataLoss, damage));
  // A damaged chunk is not cached: every read of it fails.
  EXPECT_THAT(t->Get("key100001"), StatusIs(absl::StatusCode::kDataLoss, damage));
  EXPECT_EQ(t->cache_stats().misses, 2u);
  EXPECT_THAT(t->Get("key101999"), IsOkAndHolds(Optional(std::string(50, 'x'))));
  EXPECT_THAT(t->Verify(), StatusIs(absl::StatusCode::kDataLoss, damage));
  EXPECT_THAT(Read(), StatusIs(absl::StatusCode::kDataLoss, damage));
}

TEST_F(DamagedCheckpointTest, DamagedIndexFailsOpenNamingItOnce) {
  // The index's position, from the trailer (its payload starts 7 bytes into
  // the file's last 28: kind byte, then the position).
  const uint64_t index = DecodeFixed64(contents_.data() + contents_.size() -
                                       kTrailerRecordBytes + 7 + 1);
  contents_[index + 10] ^= 0x01;
  Rewrite(contents_);
  const std::string where = absl::StrCat(index);
  EXPECT_THAT(CheckpointTable::Open(fs_.get(), Path(7)),
              StatusIs(absl::StatusCode::kDataLoss,
                       Damage(absl::StrCat("index: record at position ", where,
                                           ": checksum mismatch at position ",
                                           where))));
}

TEST_F(DamagedCheckpointTest, CutOffFileHasNoTrailer) {
  Rewrite(contents_.substr(0, contents_.size() - 20));
  EXPECT_THAT(Read(), StatusIs(absl::StatusCode::kDataLoss,
                               HasSubstr("ends without its trailer")));
}

TEST_F(DamagedCheckpointTest, CutAtBlockBoundaryHasNoTrailer) {
  Rewrite(contents_.substr(0, 32768));
  EXPECT_THAT(Read(), StatusIs(absl::StatusCode::kDataLoss,
                               Damage("ends without its trailer (no trailer "
                                      "record in its last 28 bytes, at byte "
                                      "32740: cut off?)")));
}

TEST_F(DamagedCheckpointTest, TooShortForATrailer) {
  Rewrite(contents_.substr(0, 27));
  EXPECT_THAT(CheckpointTable::Open(fs_.get(), Path(7)),
              StatusIs(absl::StatusCode::kDataLoss,
                       Damage("ends without its trailer (27 bytes: cut off)")));
  // ReadCheckpoint reads the header first, to learn the format.
  EXPECT_THAT(Read(), StatusIs(absl::StatusCode::kDataLoss,
                               Damage("header: record at position 0: payload "
                                      "cut off by the end of the file at "
                                      "position 0")));
}

TEST_F(DamagedCheckpointTest, EmptyFile) {
  Rewrite("");
  EXPECT_THAT(Read(), StatusIs(absl::StatusCode::kDataLoss,
                               Damage("empty file (no header)")));
}

// Writes a checkpoint from hand-made parts: the header payload, chunk
// payloads, then an index listing the chunks as written (or `index` when
// given), padding, and a trailer with the index's place and `keys`.
class HandMadeCheckpointTest : public CheckpointTest {
 protected:
  static std::string Header(uint32_t version = kCheckpointVersion) {
    std::string h = "\x01";
    h += kCheckpointMagic;
    PutFixed32(&h, version);
    PutFixed64(&h, 9);
    return h;
  }
  static std::string Chunk(
      const std::vector<std::pair<std::string, std::string>>& pairs) {
    std::string c = "\x02";
    PutVarint32(&c, static_cast<uint32_t>(pairs.size()));
    for (const auto& [k, v] : pairs) {
      PutLengthPrefixed(&c, k);
      PutLengthPrefixed(&c, v);
    }
    return c;
  }
  // Index entry fields a test may override, per chunk.
  struct Entry {
    std::optional<uint32_t> pairs;
    std::optional<std::string> first_key;
  };
  absl::Status Open(const std::string& header,
                    const std::vector<std::string>& chunks, uint64_t keys,
                    const std::vector<Entry>& overrides = {},
                    const std::string& between = "") {
    auto file = fs_->NewWritableFile(Path(9));
    EXPECT_OK(file);
    wal::BlockWriter writer(file->get());
    EXPECT_OK(writer.AddRecord(header));
    std::string index = "\x04";
    PutVarint32(&index, static_cast<uint32_t>(chunks.size()));
    for (size_t i = 0; i < chunks.size(); ++i) {
      absl::StatusOr<uint64_t> pos = writer.AddRecord(chunks[i]);
      EXPECT_OK(pos);
      absl::string_view in(chunks[i]);
      in.remove_prefix(1);
      uint32_t count = 0;
      GetVarint32(&in, &count);
      absl::string_view first;
      GetLengthPrefixed(&in, &first);
      const Entry e = i < overrides.size() ? overrides[i] : Entry();
      PutVarint64(&index, *pos);
      PutVarint32(&index, static_cast<uint32_t>(chunks[i].size()));
      PutVarint32(&index, e.pairs.value_or(count));
      PutLengthPrefixed(&index, e.first_key.value_or(std::string(first)));
    }
    if (!between.empty()) {
      EXPECT_OK(writer.AddRecord(between));
    }
    absl::StatusOr<uint64_t> index_pos = writer.AddRecord(index);
    EXPECT_OK(index_pos);
    std::string trailer = "\x03";
    PutFixed64(&trailer, *index_pos);
    PutFixed32(&trailer, static_cast<uint32_t>(index.size()));
    PutFixed64(&trailer, keys);
    // Small files only: the trailer must fit in the first block unpadded.
    EXPECT_LE(writer.position() + kTrailerRecordBytes,
              static_cast<uint64_t>(wal::kBlockSize));
    EXPECT_OK(writer.AddRecord(trailer));
    EXPECT_OK((*file)->Close());
    absl::StatusOr<std::shared_ptr<const CheckpointTable>> t =
        CheckpointTable::Open(fs_.get(), Path(9));
    if (!t.ok()) return t.status();
    table_ = *t;
    return absl::OkStatus();
  }
  std::string Damage(absl::string_view what) {
    return absl::StrCat("checkpoint /ckpt/CHECKPOINT-00000000000000000009 is "
                        "damaged: ",
                        what);
  }
  std::shared_ptr<const CheckpointTable> table_;
};

TEST_F(HandMadeCheckpointTest, WellFormedOpensAndReads) {
  ASSERT_OK(Open(Header(), {Chunk({{"a", "1"}, {"b", "2"}}), Chunk({{"c", "3"}})},
                 3));
  EXPECT_EQ(table_->info().wal_offset, 9u);
  EXPECT_EQ(table_->info().chunks, 2u);
  ASSERT_OK(table_->Verify());
  EXPECT_THAT(table_->Get("c"), IsOkAndHolds(Optional(std::string("3"))));
}

TEST_F(HandMadeCheckpointTest, BadMagic) {
  std::string header = Header();
  header.replace(1, 8, "NOTMAGIC");
  EXPECT_THAT(Open(header, {}, 0),
              StatusIs(absl::StatusCode::kDataLoss,
                       Damage("no checkpoint header (bad magic)")));
}

TEST_F(HandMadeCheckpointTest, UnknownVersions) {
  EXPECT_THAT(Open(Header(1), {}, 0),
              StatusIs(absl::StatusCode::kDataLoss,
                       Damage("unsupported format version 1")));
  EXPECT_THAT(Open(Header(3), {}, 0),
              StatusIs(absl::StatusCode::kDataLoss,
                       Damage("unsupported format version 3")));
}

TEST_F(HandMadeCheckpointTest, KeyCountMustMatchTheIndex) {
  EXPECT_THAT(Open(Header(), {Chunk({{"a", "1"}, {"b", "2"}})}, 5),
              StatusIs(absl::StatusCode::kDataLoss,
                       Damage("the trailer says 5 keys, the index's chunks "
                              "hold 2")));
}

TEST_F(HandMadeCheckpointTest, IndexKeysOutOfOrder) {
  EXPECT_THAT(Open(Header(), {Chunk({{"b", "1"}}), Chunk({{"a", "2"}})}, 2),
              StatusIs(absl::StatusCode::kDataLoss,
                       Damage("index: entry 1: keys out of order")));
}

TEST_F(HandMadeCheckpointTest, ChunkThatDisagreesWithTheIndex) {
  // Pair count: found on the read that needs the chunk.
  ASSERT_OK(Open(Header(), {Chunk({{"a", "1"}, {"b", "2"}})}, 3,
                 {Entry{.pairs = 3, .first_key = std::nullopt}}));
  EXPECT_THAT(table_->Get("a"),
              StatusIs(absl::StatusCode::kDataLoss,
                       Damage("chunk 0 at byte 28: pair count does not match "
                              "the index's 3")));
  // First key.
  ASSERT_OK(Open(Header(), {Chunk({{"a", "1"}, {"b", "2"}})}, 2,
                 {Entry{.pairs = std::nullopt, .first_key = "0"}}));
  EXPECT_THAT(table_->Get("b"),
              StatusIs(absl::StatusCode::kDataLoss,
                       Damage("chunk 0 at byte 28: its first key is not the "
                              "index's")));
  // Keys out of order inside a chunk.
  ASSERT_OK(Open(Header(), {Chunk({{"a", "1"}, {"a", "2"}})}, 2));
  EXPECT_THAT(table_->Verify(),
              StatusIs(absl::StatusCode::kDataLoss,
                       Damage("chunk 0 at byte 28: keys out of order")));
  // A chunk's last key at or past the next chunk's first.
  ASSERT_OK(Open(Header(), {Chunk({{"a", "1"}, {"c", "2"}}), Chunk({{"b", "3"}})},
                 3));
  EXPECT_THAT(table_->Scan("", "", [](absl::string_view, absl::string_view) {
    return absl::OkStatus();
  }),
              StatusIs(absl::StatusCode::kDataLoss,
                       Damage("chunk 0 at byte 28: its last key is not below "
                              "the next chunk's first key")));
}

TEST_F(HandMadeCheckpointTest, RecordsNoIndexNamesFailVerify) {
  // A stray record between the last chunk and the index opens (lazily) but
  // does not verify.
  ASSERT_OK(Open(Header(), {Chunk({{"a", "1"}})}, 1, {}, "\x02stray"));
  EXPECT_THAT(table_->Get("a"), IsOkAndHolds(Optional(std::string("1"))));
  EXPECT_THAT(table_->Verify(),
              StatusIs(absl::StatusCode::kDataLoss,
                       Damage("the index is at byte 54, the record before it "
                              "ends at byte 41")));
}

TEST_F(CheckpointTest, ReadsFormatOneWhole) {
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"a", "1"}, {"b", ""}, {"c", "3"}, {"d", "44"}, {"e", "5"}};
  ASSERT_OK(WriteStringToFile(fs_.get(), testing::CheckpointV1Bytes(12, pairs),
                              Path(12), false));
  EXPECT_THAT(ReadCheckpointVersion(fs_.get(), Path(12)), IsOkAndHolds(1u));
  MemTable loaded;
  ASSERT_OK_AND_ASSIGN(CheckpointInfo info,
                       ReadCheckpoint(fs_.get(), Path(12), &loaded));
  EXPECT_EQ(info.wal_offset, 12u);
  EXPECT_EQ(info.keys, 5u);
  EXPECT_THAT(loaded.map(),
              ElementsAre(Pair("a", Optional(std::string("1"))),
                          Pair("b", Optional(std::string())),
                          Pair("c", Optional(std::string("3"))),
                          Pair("d", Optional(std::string("44"))),
                          Pair("e", Optional(std::string("5")))));
  // Its whole-file CRC is still checked.
  ASSERT_OK(WriteStringToFile(fs_.get(),
                              testing::CheckpointV1Bytes(12, pairs, 2, 1),
                              Path(12), false));
  EXPECT_THAT(ReadCheckpoint(fs_.get(), Path(12), &loaded),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("checksum mismatch: trailer says")));
  // The lazy reader is for format 2 only.
  EXPECT_THAT(CheckpointTable::Open(fs_.get(), Path(12)),
              StatusIs(absl::StatusCode::kDataLoss));
}

}  // namespace
}  // namespace blockwal::db
