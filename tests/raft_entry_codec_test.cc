// The raft entry record encoding (exact bytes, round trips, each decode
// error) and the command padding of raft/entry_codec.h.
#include <string>

#include "blockwal/raft/entry_codec.h"
#include "blockwal/raft/raft_c.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace blockwal::raft {
namespace {

using ::blockwal::testing::StatusIs;
using ::testing::HasSubstr;

TEST(RaftEntryCodecTest, EncodingIsTermTypePayload) {
  const std::string value =
      EncodeEntry(0x0807060504030201ull, RAFT_CHANGE, "abc");
  EXPECT_EQ(value, std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x03"
                               "abc",
                               12));
  char header[kEntryHeaderSize];
  EncodeEntryHeader(0x0807060504030201ull, RAFT_CHANGE, header);
  EXPECT_EQ(std::string(header, kEntryHeaderSize), value.substr(0, 9));
}

TEST(RaftEntryCodecTest, RoundTripsEveryTypeAndPayloadExactly) {
  const std::string binary("\0\xff\x00x\n", 5);
  for (uint8_t type : {RAFT_COMMAND, RAFT_BARRIER, RAFT_CHANGE}) {
    for (const std::string& payload :
         {std::string(), binary, std::string(100000, 'p')}) {
      const std::string value = EncodeEntry(42, type, payload);
      ASSERT_EQ(value.size(), kEntryHeaderSize + payload.size());
      absl::StatusOr<DecodedEntry> e = DecodeEntry(value, "rec");
      ASSERT_TRUE(e.ok()) << e.status();
      EXPECT_EQ(e->term, 42u);
      EXPECT_EQ(e->type, type);
      EXPECT_EQ(e->payload, payload);
    }
  }
}

TEST(RaftEntryCodecTest, ShortValueIsDataLossNamingWhere) {
  for (size_t n : {0, 1, 8}) {
    EXPECT_THAT(DecodeEntry(std::string(n, '\0'), "log /d offset 7"),
                StatusIs(absl::StatusCode::kDataLoss,
                         "log /d offset 7: raft entry of " + std::to_string(n) +
                             " bytes is shorter than its 9-byte header"));
  }
}

TEST(RaftEntryCodecTest, UnknownTypeIsDataLoss) {
  for (uint8_t type : {0, 4, 255}) {
    EXPECT_THAT(DecodeEntry(EncodeEntry(5, type, "x"), "log /d offset 3"),
                StatusIs(absl::StatusCode::kDataLoss,
                         "log /d offset 3: raft entry has unknown type " +
                             std::to_string(type) + " (term 5)"));
  }
  EXPECT_TRUE(IsValidEntryType(RAFT_COMMAND));
  EXPECT_FALSE(IsValidEntryType(0));
}

TEST(RaftEntryCodecTest, PaddingReachesTheNextMultipleOfEight) {
  EXPECT_EQ(PaddedCommandSize(0), 8u);
  EXPECT_EQ(PaddedCommandSize(1), 8u);
  EXPECT_EQ(PaddedCommandSize(7), 8u);
  EXPECT_EQ(PaddedCommandSize(8), 16u);
  EXPECT_EQ(PaddedCommandSize(13), 16u);
  EXPECT_EQ(PadCommand("abcde"), std::string("abcde\x03\x03\x03", 8));
  EXPECT_EQ(PadCommand(""), std::string(8, '\x08'));
  EXPECT_EQ(PadCommand("12345678"), "12345678" + std::string(8, '\x08'));
  char buf[16];
  PadCommandInto("abcdefghi", buf);
  EXPECT_EQ(std::string(buf, 16),
            std::string("abcdefghi\x07\x07\x07\x07\x07\x07\x07", 16));
}

TEST(RaftEntryCodecTest, UnpadGivesBackEveryLength) {
  for (size_t n = 0; n < 40; ++n) {
    std::string command(n, '\x05');  // bytes that look like padding
    const std::string padded = PadCommand(command);
    ASSERT_EQ(padded.size() % 8, 0u);
    absl::StatusOr<absl::string_view> back = UnpadCommand(padded, "e");
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, command);
  }
}

TEST(RaftEntryCodecTest, BadPaddingIsDataLoss) {
  EXPECT_THAT(UnpadCommand("", "entry 4"),
              StatusIs(absl::StatusCode::kDataLoss,
                       "entry 4: command payload of 0 bytes is not padded: "
                       "length is not a non-zero multiple of 8"));
  EXPECT_THAT(UnpadCommand("abc\x01", "e"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("4 bytes")));
  EXPECT_THAT(UnpadCommand(std::string("abcdefg\x09", 8), "e"),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("last byte 9 is not a pad length 1..8")));
  EXPECT_THAT(UnpadCommand(std::string("abcdefg\x00", 8), "e"),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("last byte 0 is not a pad length 1..8")));
  EXPECT_THAT(UnpadCommand(std::string("abcde\x03\x02\x03", 8), "e"),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("byte 6 is not the pad byte 3")));
}

}  // namespace
}  // namespace blockwal::raft
