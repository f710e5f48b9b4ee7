#include "blockwal/util/crc32c.h"

#include <string>

#include "gtest/gtest.h"

namespace blockwal::crc32c {
namespace {

TEST(Crc32cTest, CheckValue) { EXPECT_EQ(Value("123456789"), 0xE3069283u); }

// RFC 3720, section B.4.
TEST(Crc32cTest, Rfc3720Vectors) {
  std::string buf(32, '\0');
  EXPECT_EQ(Value(buf), 0x8A9136AAu);

  buf.assign(32, '\xff');
  EXPECT_EQ(Value(buf), 0x62A8AB43u);

  for (int i = 0; i < 32; ++i) buf[i] = static_cast<char>(i);
  EXPECT_EQ(Value(buf), 0x46DD794Eu);

  for (int i = 0; i < 32; ++i) buf[i] = static_cast<char>(31 - i);
  EXPECT_EQ(Value(buf), 0x113FDB5Cu);
}

TEST(Crc32cTest, EmptyInputIsZero) { EXPECT_EQ(Value(""), 0u); }

TEST(Crc32cTest, ValuesDiffer) { EXPECT_NE(Value("a"), Value("foo")); }

TEST(Crc32cTest, ExtendEqualsValueOfConcatenation) {
  const std::string a = "hello ";
  const std::string b = "world, with enough bytes to cross a word boundary";
  EXPECT_EQ(Extend(Value(a), b.data(), b.size()), Value(a + b));
  // Every split point of one string gives the same CRC.
  const std::string s = a + b;
  for (size_t i = 0; i <= s.size(); ++i) {
    EXPECT_EQ(Extend(Value(s.data(), i), s.data() + i, s.size() - i), Value(s))
        << "split at " << i;
  }
}

TEST(Crc32cTest, MaskChangesValueAndUnmaskRestoresIt) {
  const uint32_t crc = Value("foo");
  EXPECT_NE(crc, Mask(crc));
  EXPECT_NE(crc, Mask(Mask(crc)));
  EXPECT_EQ(crc, Unmask(Mask(crc)));
  EXPECT_EQ(crc, Unmask(Unmask(Mask(Mask(crc)))));
  for (uint32_t v : {0u, 1u, 0x80000000u, 0xffffffffu, 0xa282ead8u}) {
    EXPECT_EQ(Unmask(Mask(v)), v);
  }
}

TEST(Crc32cTest, MaskMatchesLevelDbDefinition) {
  // ((c >> 15) | (c << 17)) + 0xa282ead8, in 32-bit arithmetic.
  EXPECT_EQ(Mask(0u), 0xa282ead8u);
  EXPECT_EQ(Mask(1u), (1u << 17) + 0xa282ead8u);
  EXPECT_EQ(Mask(0x8000u), 1u + 0xa282ead8u);
}

}  // namespace
}  // namespace blockwal::crc32c
