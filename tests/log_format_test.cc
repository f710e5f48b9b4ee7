// The segment-level formats: the record envelope, segment file names, and
// the index file (wal/record.h, wal/segment.h, wal/index.h).
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "blockwal/util/coding.h"
#include "blockwal/util/mem_file_system.h"
#include "blockwal/wal/index.h"
#include "blockwal/wal/record.h"
#include "blockwal/wal/segment.h"

namespace blockwal::wal {
namespace {

using ::blockwal::testing::StatusIs;
using ::testing::HasSubstr;

TEST(RecordTest, EnvelopeBytesAreExact) {
  std::string out;
  EncodeRecord(0x0102030405060708ull, 0x1112131415161718ull, kSyncMarker, "hi",
               &out);
  EXPECT_EQ(out, std::string("\x08\x07\x06\x05\x04\x03\x02\x01"
                             "\x18\x17\x16\x15\x14\x13\x12\x11"
                             "\x01"
                             "hi",
                             19));
}

TEST(RecordTest, DecodeRoundTrips) {
  std::string out;
  EncodeRecord(42, 7, kBatchContinues, std::string("\0v", 2), &out);
  ASSERT_OK_AND_ASSIGN(Record r, DecodeRecord(out));
  EXPECT_EQ(r.offset, 42u);
  EXPECT_EQ(r.timestamp_us, 7u);
  EXPECT_EQ(r.flags, kBatchContinues);
  EXPECT_EQ(r.value, std::string("\0v", 2));
}

TEST(RecordTest, ShortPayloadIsDataLoss) {
  EXPECT_THAT(DecodeRecord(std::string(16, '\0')),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("16 bytes")));
}

TEST(RecordTest, UnknownFlagBitsAreDataLoss) {
  std::string out;
  EncodeRecord(1, 1, 0x80, "", &out);
  EXPECT_THAT(DecodeRecord(out),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("0x80")));
}

TEST(SegmentNameTest, NamesAreTwentyDigits) {
  EXPECT_EQ(SegmentFileName(42, kStoreSuffix), "00000000000000000042.store");
  EXPECT_EQ(SegmentFileName(18446744073709551615ull, kIndexSuffix),
            "18446744073709551615.index");
}

TEST(SegmentNameTest, ParseAcceptsOnlyExactNames) {
  uint64_t base = 0;
  EXPECT_TRUE(ParseSegmentFileName("00000000000000000042.store", kStoreSuffix, &base));
  EXPECT_EQ(base, 42u);
  EXPECT_FALSE(ParseSegmentFileName("42.store", kStoreSuffix, &base));
  EXPECT_FALSE(ParseSegmentFileName("00000000000000000042.index", kStoreSuffix, &base));
  EXPECT_FALSE(ParseSegmentFileName("0000000000000000004x.store", kStoreSuffix, &base));
  EXPECT_FALSE(ParseSegmentFileName("00000000000000000042.store.tmp", kStoreSuffix, &base));
  // 2^64 does not fit.
  EXPECT_FALSE(ParseSegmentFileName("18446744073709551616.store", kStoreSuffix, &base));
}

class IndexTest : public ::testing::Test {
 protected:
  std::unique_ptr<FileSystem> fs_ = NewMemFileSystem();
  const std::string path_ = "/x.index";
};

TEST_F(IndexTest, EntriesAreTwelveBytesLittleEndian) {
  ASSERT_OK_AND_ASSIGN(auto index, Index::Open(fs_.get(), path_, 5 * kIndexEntrySize));
  index->TruncateEntries(0);
  ASSERT_OK(index->Append(0));
  ASSERT_OK(index->Append(0x0102030405ull));
  index->Publish();
  EXPECT_EQ(index->size(), 2u);
  ASSERT_OK(index->Seal());
  ASSERT_OK_AND_ASSIGN(std::string bytes, ReadFileToString(fs_.get(), path_));
  EXPECT_EQ(bytes, std::string("\x00\x00\x00\x00"
                               "\x00\x00\x00\x00\x00\x00\x00\x00"
                               "\x01\x00\x00\x00"
                               "\x05\x04\x03\x02\x01\x00\x00\x00",
                               24));
}

TEST_F(IndexTest, OpenGrowsTheFileAndCountsWellFormedEntries) {
  {
    ASSERT_OK_AND_ASSIGN(auto index, Index::Open(fs_.get(), path_, 4 * kIndexEntrySize));
    index->TruncateEntries(0);
    ASSERT_OK(index->Append(0));
    ASSERT_OK(index->Append(30));
    ASSERT_OK(index->Append(60));
    index->Publish();
    ASSERT_OK(index->Sync());
  }
  // Killed before close: full-size file, zero tail.
  ASSERT_OK_AND_ASSIGN(uint64_t size, fs_->GetFileSize(path_));
  EXPECT_EQ(size, 4 * kIndexEntrySize);
  ASSERT_OK_AND_ASSIGN(auto index, Index::Open(fs_.get(), path_, 4 * kIndexEntrySize));
  EXPECT_EQ(index->size(), 3u);
  EXPECT_EQ(index->Position(2), 60u);
  EXPECT_EQ(index->capacity(), 4u);
}

TEST_F(IndexTest, NonIncreasingPositionEndsTheValidEntries) {
  struct Entry {
    uint32_t relative_offset;
    uint64_t position;
  };
  const Entry entries[] = {
      {.relative_offset = 0, .position = 0},
      {.relative_offset = 1, .position = 50},
      {.relative_offset = 2, .position = 40},  // below entry 1's position
      {.relative_offset = 3, .position = 90},
  };
  std::string bytes;
  for (const Entry& entry : entries) {
    char e[kIndexEntrySize];
    EncodeFixed32(e, entry.relative_offset);
    EncodeFixed64(e + 4, entry.position);
    bytes.append(e, sizeof(e));
  }
  ASSERT_OK(WriteStringToFile(fs_.get(), bytes, path_, false));
  ASSERT_OK_AND_ASSIGN(auto index, Index::Open(fs_.get(), path_, 0));
  EXPECT_EQ(index->size(), 2u);
}

TEST_F(IndexTest, PartialEntryAtTheEndIsIgnored) {
  std::string bytes(kIndexEntrySize + 5, '\0');
  ASSERT_OK(WriteStringToFile(fs_.get(), bytes, path_, false));
  ASSERT_OK_AND_ASSIGN(auto index, Index::Open(fs_.get(), path_, 0));
  EXPECT_EQ(index->size(), 1u);  // (0, 0) is well-formed; the segment verifies it
}

TEST_F(IndexTest, FullIndexRefusesAppend) {
  ASSERT_OK_AND_ASSIGN(auto index, Index::Open(fs_.get(), path_, 2 * kIndexEntrySize));
  index->TruncateEntries(0);
  ASSERT_OK(index->Append(0));
  ASSERT_OK(index->Append(10));
  EXPECT_TRUE(index->full());
  EXPECT_THAT(index->Append(20),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("/x.index")));
}

TEST_F(IndexTest, UnpublishedEntriesAreInvisible) {
  ASSERT_OK_AND_ASSIGN(auto index, Index::Open(fs_.get(), path_, 4 * kIndexEntrySize));
  index->TruncateEntries(0);
  ASSERT_OK(index->Append(0));
  EXPECT_EQ(index->size(), 0u);
  EXPECT_EQ(index->pending(), 1u);
  index->Publish();
  EXPECT_EQ(index->size(), 1u);
}

}  // namespace
}  // namespace blockwal::wal
