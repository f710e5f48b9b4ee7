// blockwal's raft configuration encoding (exact bytes, round trips, each
// decode error) and its conversions to and from libraft's struct
// (raft/configuration_codec.h).
#include <string>

#include "blockwal/raft/configuration_codec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace blockwal::raft {
namespace {

using ::blockwal::testing::StatusIs;

Configuration ThreeServers() {
  return {{1, "127.0.0.1:9001", RAFT_VOTER},
          {2, "127.0.0.1:9002", RAFT_STANDBY},
          {0x0102030405060708ull, "h:3", RAFT_SPARE}};
}

TEST(RaftConfigurationCodecTest, EncodingBytes) {
  const std::string encoded =
      EncodeConfiguration({{0x0102030405060708ull, "h:3", RAFT_SPARE}});
  EXPECT_EQ(encoded, std::string("\x01"                              // format
                                 "\x01"                              // n
                                 "\x08\x07\x06\x05\x04\x03\x02\x01"  // id
                                 "\x02"                              // role
                                 "\x03h:3",                          // address
                                 15));
  EXPECT_EQ(EncodeConfiguration({}), std::string("\x01\x00", 2));
}

TEST(RaftConfigurationCodecTest, RoundTrips) {
  for (const Configuration& conf : {Configuration{}, ThreeServers()}) {
    absl::StatusOr<Configuration> back =
        DecodeConfiguration(EncodeConfiguration(conf), "f");
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, conf);
  }
}

TEST(RaftConfigurationCodecTest, DecodeErrorsNameWhatIsWrong) {
  const std::string good = EncodeConfiguration(ThreeServers());
  auto expect = [](absl::string_view encoded, const std::string& message) {
    EXPECT_THAT(DecodeConfiguration(encoded, "snap"),
                StatusIs(absl::StatusCode::kDataLoss,
                         "snap: raft configuration: " + message));
  };
  expect("", "empty");
  expect("\x07", "unknown format 7");
  expect("\x01", "server count is cut short");
  expect(good.substr(0, good.size() - 1), "server 3 of 3 is cut short");
  expect(good.substr(0, 2 + 8), "server 1 of 3 is cut short");
  expect(good + "zz", "2 trailing bytes");
  std::string zero_id = EncodeConfiguration({{1, "a", RAFT_VOTER}});
  zero_id[2] = '\0';
  expect(zero_id, "server 1 of 1 has id 0");
  std::string bad_role = EncodeConfiguration({{1, "a", RAFT_VOTER}});
  bad_role[10] = '\x09';
  expect(bad_role, "server 1 of 1 has unknown role 9");
}

TEST(RaftConfigurationCodecTest, ConvertsToAndFromRaft) {
  struct raft_configuration conf;
  raft_configuration_init(&conf);
  ASSERT_TRUE(ToRaftConfiguration(ThreeServers(), &conf).ok());
  ASSERT_EQ(conf.n, 3u);
  EXPECT_EQ(conf.servers[1].id, 2u);
  EXPECT_STREQ(conf.servers[1].address, "127.0.0.1:9002");
  EXPECT_EQ(conf.servers[1].role, RAFT_STANDBY);
  EXPECT_EQ(FromRaftConfiguration(conf), ThreeServers());
  raft_configuration_close(&conf);
}

TEST(RaftConfigurationCodecTest, RaftRefusesADuplicateAndLeavesItEmpty) {
  struct raft_configuration conf;
  raft_configuration_init(&conf);
  EXPECT_THAT(ToRaftConfiguration(
                  {{1, "a:1", RAFT_VOTER}, {1, "b:1", RAFT_VOTER}}, &conf),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::StartsWith("raft configuration: server 2 "
                                             "(id 1, address \"b:1\"): ")));
  EXPECT_EQ(conf.n, 0u);
  raft_configuration_close(&conf);
}

}  // namespace
}  // namespace blockwal::raft
