// WriteBatch: LevelDB's exact byte layout, round trips, and every decoder
// error.
#include "blockwal/db/write_batch.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace blockwal::db {
namespace {

using ::blockwal::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Records the ops a batch hands out.
class Recorder : public WriteBatch::Handler {
 public:
  void Put(absl::string_view key, absl::string_view value) override {
    ops.push_back(absl::StrCat("Put(", key, ",", value, ")"));
  }
  void Delete(absl::string_view key) override {
    ops.push_back(absl::StrCat("Delete(", key, ")"));
  }
  std::vector<std::string> ops;
};

std::string Bytes(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out.push_back(static_cast<char>(b));
  return out;
}

// A header with sequence 0 and the given count.
std::string Header(uint8_t count) {
  return Bytes({0, 0, 0, 0, 0, 0, 0, 0, count, 0, 0, 0});
}

TEST(WriteBatchTest, EmptyBatchIsTwelveZeroBytes) {
  WriteBatch batch;
  EXPECT_EQ(batch.Contents(), std::string(12, '\0'));
  EXPECT_EQ(batch.Count(), 0u);
  EXPECT_EQ(batch.sequence(), 0u);
}

TEST(WriteBatchTest, EncodesLevelDbLayout) {
  WriteBatch batch;
  batch.set_sequence(0x0102030405060708ull);
  batch.Put("k", "v");
  batch.Delete("d");
  batch.Put("", std::string(130, 'x'));  // empty key; 2-byte varint length
  const std::string expected =
      Bytes({0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,  // sequence
             3, 0, 0, 0,                                      // count
             1, 1, 'k', 1, 'v',                               // put k v
             0, 1, 'd',                                       // delete d
             1, 0, 0x82, 0x01}) +                             // put "" ...
      std::string(130, 'x');
  EXPECT_EQ(batch.Contents(), expected);
  EXPECT_EQ(batch.Count(), 3u);
  EXPECT_EQ(batch.sequence(), 0x0102030405060708ull);
}

TEST(WriteBatchTest, RoundTripsThroughFromContents) {
  WriteBatch batch;
  batch.Put("apple", "red");
  batch.Delete("pear");
  batch.Put("apple", std::string("a\0b", 3));
  ASSERT_OK_AND_ASSIGN(WriteBatch decoded,
                       WriteBatch::FromContents(batch.Contents()));
  EXPECT_EQ(decoded.Contents(), batch.Contents());
  Recorder recorder;
  ASSERT_OK(decoded.Iterate(&recorder));
  EXPECT_THAT(recorder.ops,
              ElementsAre("Put(apple,red)", "Delete(pear)",
                          absl::StrCat("Put(apple,", std::string("a\0b", 3),
                                       ")")));
}

TEST(WriteBatchTest, ClearKeepsSequenceAndDropsOps) {
  WriteBatch batch;
  batch.set_sequence(7);
  batch.Put("a", "b");
  batch.Clear();
  EXPECT_EQ(batch.Count(), 0u);
  EXPECT_EQ(batch.sequence(), 7u);
  EXPECT_EQ(batch.Contents().size(), kWriteBatchHeaderSize);
}

TEST(WriteBatchTest, DecodeRejectsShortHeader) {
  EXPECT_THAT(DecodeWriteBatch("abc", nullptr),
              StatusIs(absl::StatusCode::kDataLoss,
                       "write batch too small: 3 bytes, the header alone is "
                       "12"));
}

TEST(WriteBatchTest, DecodeRejectsMissingOps) {
  EXPECT_THAT(DecodeWriteBatch(Header(1), nullptr),
              StatusIs(absl::StatusCode::kDataLoss,
                       "write batch op 1 of 1 (byte 12): missing: the batch "
                       "ends after 0 ops"));
  EXPECT_THAT(DecodeWriteBatch(Header(2) + Bytes({0, 1, 'd'}), nullptr),
              StatusIs(absl::StatusCode::kDataLoss,
                       "write batch op 2 of 2 (byte 15): missing: the batch "
                       "ends after 1 ops"));
}

TEST(WriteBatchTest, DecodeRejectsUnknownTag) {
  EXPECT_THAT(DecodeWriteBatch(Header(1) + Bytes({7, 1, 'k'}), nullptr),
              StatusIs(absl::StatusCode::kDataLoss,
                       "write batch op 1 of 1 (byte 12): unknown tag 7"));
}

TEST(WriteBatchTest, DecodeRejectsBadKeyLengthVarint) {
  EXPECT_THAT(DecodeWriteBatch(Header(1) + Bytes({1, 0x80}), nullptr),
              StatusIs(absl::StatusCode::kDataLoss,
                       "write batch op 1 of 1 (byte 12): bad key length "
                       "varint"));
}

TEST(WriteBatchTest, DecodeRejectsKeyPastEnd) {
  EXPECT_THAT(DecodeWriteBatch(Header(1) + Bytes({0, 5, 'a', 'b'}), nullptr),
              StatusIs(absl::StatusCode::kDataLoss,
                       "write batch op 1 of 1 (byte 12): key length 5 runs "
                       "past the end (2 bytes left)"));
}

TEST(WriteBatchTest, DecodeRejectsBadValueLengthVarint) {
  EXPECT_THAT(DecodeWriteBatch(Header(1) + Bytes({1, 1, 'k'}), nullptr),
              StatusIs(absl::StatusCode::kDataLoss,
                       "write batch op 1 of 1 (byte 12): bad value length "
                       "varint"));
}

TEST(WriteBatchTest, DecodeRejectsValuePastEnd) {
  EXPECT_THAT(
      DecodeWriteBatch(Header(1) + Bytes({1, 1, 'k', 9, 'v'}), nullptr),
      StatusIs(absl::StatusCode::kDataLoss,
               "write batch op 1 of 1 (byte 12): value length 9 runs past the "
               "end (1 bytes left)"));
}

TEST(WriteBatchTest, DecodeRejectsTrailingBytes) {
  EXPECT_THAT(DecodeWriteBatch(Header(1) + Bytes({0, 1, 'd', 'x', 'y'}),
                               nullptr),
              StatusIs(absl::StatusCode::kDataLoss,
                       "write batch has 2 bytes after its last op (count 1)"));
}

TEST(WriteBatchTest, DamagedBatchAppliesNothing) {
  // Op 1 is fine, op 2 runs past the end: the handler must see neither.
  Recorder recorder;
  EXPECT_THAT(DecodeWriteBatch(Header(2) + Bytes({1, 1, 'k', 1, 'v', 0, 3}),
                               &recorder),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("op 2 of 2")));
  EXPECT_TRUE(recorder.ops.empty());
  EXPECT_THAT(WriteBatch::FromContents(Header(2)),
              StatusIs(absl::StatusCode::kDataLoss));
}

}  // namespace
}  // namespace blockwal::db
