#include "blockwal/util/coding.h"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace blockwal {
namespace {

TEST(CodingTest, Fixed32IsLittleEndian) {
  std::string s;
  PutFixed32(&s, 0x04030201u);
  EXPECT_EQ(s, std::string("\x01\x02\x03\x04", 4));
  absl::string_view in = s;
  uint32_t v = 0;
  ASSERT_TRUE(GetFixed32(&in, &v));
  EXPECT_EQ(v, 0x04030201u);
  EXPECT_TRUE(in.empty());
}

TEST(CodingTest, Fixed64IsLittleEndian) {
  std::string s;
  PutFixed64(&s, 0x0807060504030201ull);
  EXPECT_EQ(s, std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  absl::string_view in = s;
  uint64_t v = 0;
  ASSERT_TRUE(GetFixed64(&in, &v));
  EXPECT_EQ(v, 0x0807060504030201ull);
}

TEST(CodingTest, Fixed16RoundTrip) {
  char buf[2];
  EncodeFixed16(buf, 0xbeef);
  EXPECT_EQ(static_cast<unsigned char>(buf[0]), 0xef);
  EXPECT_EQ(static_cast<unsigned char>(buf[1]), 0xbe);
  EXPECT_EQ(DecodeFixed16(buf), 0xbeef);
}

TEST(CodingTest, FixedDecodeRejectsShortInput) {
  const std::string s("\x01\x02\x03", 3);
  absl::string_view in = s;
  uint32_t v32;
  uint64_t v64;
  EXPECT_FALSE(GetFixed32(&in, &v32));
  EXPECT_FALSE(GetFixed64(&in, &v64));
}

TEST(CodingTest, Varint32KnownEncodings) {
  std::string s;
  PutVarint32(&s, 0);
  PutVarint32(&s, 127);
  PutVarint32(&s, 128);
  PutVarint32(&s, 300);
  PutVarint32(&s, 0xffffffffu);
  EXPECT_EQ(s, std::string("\x00"
                           "\x7f"
                           "\x80\x01"
                           "\xac\x02"
                           "\xff\xff\xff\xff\x0f",
                           11));
}

TEST(CodingTest, Varint32RoundTripsPowersOfTwoAndNeighbours) {
  std::vector<uint32_t> values;
  for (int shift = 0; shift < 32; ++shift) {
    const uint32_t p = uint32_t{1} << shift;
    values.push_back(p - 1);
    values.push_back(p);
    values.push_back(p + 1);
  }
  std::string s;
  for (uint32_t v : values) PutVarint32(&s, v);
  absl::string_view in = s;
  for (uint32_t expected : values) {
    uint32_t actual;
    ASSERT_TRUE(GetVarint32(&in, &actual));
    EXPECT_EQ(actual, expected);
  }
  EXPECT_TRUE(in.empty());
}

TEST(CodingTest, Varint64RoundTripsAndLength) {
  std::vector<uint64_t> values = {0, 100, ~uint64_t{0}, ~uint64_t{0} - 1};
  for (int shift = 0; shift < 64; ++shift) {
    const uint64_t p = uint64_t{1} << shift;
    values.push_back(p - 1);
    values.push_back(p);
    values.push_back(p + 1);
  }
  std::string s;
  for (uint64_t v : values) {
    const size_t before = s.size();
    PutVarint64(&s, v);
    EXPECT_EQ(s.size() - before, static_cast<size_t>(VarintLength(v)));
  }
  absl::string_view in = s;
  for (uint64_t expected : values) {
    uint64_t actual;
    ASSERT_TRUE(GetVarint64(&in, &actual));
    EXPECT_EQ(actual, expected);
  }
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(VarintLength(~uint64_t{0}), kMaxVarint64Bytes);
}

TEST(CodingTest, Varint32RejectsOverflow) {
  // Five bytes whose last carries more than the 4 bits a uint32 has left.
  const std::string s("\xff\xff\xff\xff\x1f", 5);
  absl::string_view in = s;
  uint32_t v;
  EXPECT_FALSE(GetVarint32(&in, &v));
}

TEST(CodingTest, Varint32RejectsSixBytes) {
  const std::string s("\x80\x80\x80\x80\x80\x00", 6);
  absl::string_view in = s;
  uint32_t v;
  EXPECT_FALSE(GetVarint32(&in, &v));
}

TEST(CodingTest, Varint64RejectsOverflow) {
  const std::string s("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10);
  absl::string_view in = s;
  uint64_t v;
  EXPECT_FALSE(GetVarint64(&in, &v));
}

TEST(CodingTest, VarintRejectsTruncation) {
  std::string s;
  PutVarint64(&s, uint64_t{1} << 40);
  for (size_t len = 0; len < s.size(); ++len) {
    absl::string_view in(s.data(), len);
    uint64_t v;
    EXPECT_FALSE(GetVarint64(&in, &v)) << "length " << len;
  }
}

TEST(CodingTest, LengthPrefixedRoundTripAndTruncation) {
  std::string s;
  PutLengthPrefixed(&s, "");
  PutLengthPrefixed(&s, "foo");
  PutLengthPrefixed(&s, std::string(200, 'x'));
  absl::string_view in = s;
  absl::string_view v;
  ASSERT_TRUE(GetLengthPrefixed(&in, &v));
  EXPECT_EQ(v, "");
  ASSERT_TRUE(GetLengthPrefixed(&in, &v));
  EXPECT_EQ(v, "foo");
  ASSERT_TRUE(GetLengthPrefixed(&in, &v));
  EXPECT_EQ(v, std::string(200, 'x'));
  EXPECT_TRUE(in.empty());

  // A length that runs past the input is rejected and consumes nothing.
  const std::string bad("\x05" "abc", 4);
  absl::string_view bad_in = bad;
  EXPECT_FALSE(GetLengthPrefixed(&bad_in, &v));
  EXPECT_EQ(bad_in.size(), 4u);
}

}  // namespace
}  // namespace blockwal
