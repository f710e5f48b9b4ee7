// Raft snapshot files (raft/snapshot_file.h): names, put and load, the
// newest two kept, damaged files skipped with a report, and crashes during a
// put (fault injection).
#include <memory>
#include <string>
#include <vector>

#include "blockwal/raft/snapshot_file.h"
#include "blockwal/util/fault_injection_file_system.h"
#include "blockwal/util/mem_file_system.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace blockwal::raft {
namespace {

using ::blockwal::testing::IsOkAndHolds;
using ::blockwal::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

SnapshotMeta Meta(uint64_t index, uint64_t term) {
  return {
      index,
      term,
      {{1, "127.0.0.1:9001", RAFT_VOTER}, {2, "127.0.0.1:9002", RAFT_SPARE}},
      index - 1};
}

std::string Data(uint64_t index, size_t n) {
  std::string data(n, '\0');
  for (size_t i = 0; i < n; ++i)
    data[i] = static_cast<char>(index * 31 + i % 251);
  return data;
}

class SnapshotFileTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(fs_.CreateDir(kDir)); }

  std::string Path(uint64_t index, uint64_t term) {
    return JoinPath(kDir, SnapshotFileName(index, term));
  }
  void Put(uint64_t index, uint64_t term, size_t n = 1000) {
    const std::string data = Data(index, n);
    const absl::string_view bufs[] = {data};
    ASSERT_THAT(PutSnapshot(&fs_, kDir, Meta(index, term), bufs),
                IsOkAndHolds(Path(index, term)));
  }
  // Loads and checks that the snapshot at (index, term) came back whole.
  SnapshotLoad ExpectLoads(uint64_t index, uint64_t term, size_t n = 1000) {
    absl::StatusOr<SnapshotLoad> load = LoadSnapshot(&fs_, kDir);
    EXPECT_OK(load);
    if (!load.ok()) return {};
    EXPECT_TRUE(load->snapshot.has_value());
    if (!load->snapshot.has_value()) return *load;
    EXPECT_EQ(load->snapshot->meta, Meta(index, term));
    EXPECT_TRUE(load->snapshot->data == Data(index, n));
    EXPECT_EQ(load->snapshot->file, Path(index, term));
    return *std::move(load);
  }
  void Overwrite(const std::string& path, const std::string& data) {
    ASSERT_OK(WriteStringToFile(&fs_, data, path, true));
  }

  static constexpr char kDir[] = "/snap";
  FaultInjectionFileSystem fs_{NewMemFileSystem()};
};

TEST(SnapshotFileNameTest, SortsByIndexThenTerm) {
  EXPECT_EQ(SnapshotFileName(42, 7),
            "snapshot-00000000000000000042-00000000000000000007");
  uint64_t index = 0, term = 0;
  ASSERT_TRUE(
      ParseSnapshotFileName(SnapshotFileName(UINT64_MAX, 3), &index, &term));
  EXPECT_EQ(index, UINT64_MAX);
  EXPECT_EQ(term, 3u);
  EXPECT_FALSE(
      ParseSnapshotFileName(SnapshotFileName(1, 1) + ".tmp", &index, &term));
  EXPECT_FALSE(ParseSnapshotFileName(
      "snapshot-0000000000000000004x-00000000000000000007", &index, &term));
  EXPECT_FALSE(ParseSnapshotFileName(
      "snapshot-00000000000000000042_00000000000000000007", &index, &term));
  EXPECT_FALSE(ParseSnapshotFileName(
      "snapshot-99999999999999999999-00000000000000000007", &index, &term));
  EXPECT_LT(SnapshotFileName(9, 5), SnapshotFileName(10, 1));
}

TEST_F(SnapshotFileTest, NoFileIsNoSnapshot) {
  ASSERT_OK(WriteStringToFile(&fs_, "x", JoinPath(kDir, "other"), false));
  ASSERT_OK_AND_ASSIGN(SnapshotLoad load, LoadSnapshot(&fs_, kDir));
  EXPECT_FALSE(load.snapshot.has_value());
  EXPECT_TRUE(load.damaged.empty());
}

TEST_F(SnapshotFileTest, PutThenLoadGivesTheSameSnapshot) {
  Put(10, 2);
  SnapshotLoad load = ExpectLoads(10, 2);
  EXPECT_TRUE(load.damaged.empty());
}

TEST_F(SnapshotFileTest, ManyBuffersLargeAndEmptyData) {
  const std::string big = Data(5, 2 * kSnapshotChunkBytes + 12345);
  const absl::string_view bufs[] = {absl::string_view(big).substr(0, 7), "",
                                    absl::string_view(big).substr(7)};
  ASSERT_OK(PutSnapshot(&fs_, kDir, Meta(5, 1), bufs).status());
  ASSERT_OK_AND_ASSIGN(SnapshotLoad load, LoadSnapshot(&fs_, kDir));
  ASSERT_TRUE(load.snapshot.has_value());
  EXPECT_TRUE(load.snapshot->data == big);

  ASSERT_OK(PutSnapshot(&fs_, kDir, Meta(6, 1), {}).status());
  ASSERT_OK_AND_ASSIGN(load, LoadSnapshot(&fs_, kDir));
  ASSERT_TRUE(load.snapshot.has_value());
  EXPECT_EQ(load.snapshot->meta, Meta(6, 1));
  EXPECT_EQ(load.snapshot->data, "");
}

TEST_F(SnapshotFileTest, KeepsTheNewestTwo) {
  Put(10, 1);
  Put(20, 1);
  EXPECT_THAT(ListSnapshotFiles(&fs_, kDir),
              IsOkAndHolds(ElementsAre(SnapshotFileName(10, 1),
                                       SnapshotFileName(20, 1))));
  Put(30, 2);
  Put(40, 2);
  EXPECT_THAT(ListSnapshotFiles(&fs_, kDir),
              IsOkAndHolds(ElementsAre(SnapshotFileName(30, 2),
                                       SnapshotFileName(40, 2))));
  ExpectLoads(40, 2);
}

TEST_F(SnapshotFileTest, SameIndexAndTermReplacesAnOlderOneIsRefused) {
  Put(10, 1);
  Put(20, 1);
  Put(20, 1);
  EXPECT_THAT(ListSnapshotFiles(&fs_, kDir),
              IsOkAndHolds(ElementsAre(SnapshotFileName(10, 1),
                                       SnapshotFileName(20, 1))));
  const std::string data = "d";
  const absl::string_view bufs[] = {data};
  EXPECT_THAT(
      PutSnapshot(&fs_, kDir, Meta(15, 3), bufs),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               Path(15, 3) + ": snapshot is older than " + Path(20, 1)));
}

TEST_F(SnapshotFileTest, DamagedNewestFallsBackAndIsReported) {
  Put(10, 1);
  Put(20, 1);
  ASSERT_OK_AND_ASSIGN(std::string bytes, ReadFileToString(&fs_, Path(20, 1)));
  bytes[500] ^= 0x40;  // in the data record, which starts after the header
  Overwrite(Path(20, 1), bytes);
  SnapshotLoad load = ExpectLoads(10, 1);
  ASSERT_EQ(load.damaged.size(), 1u);
  EXPECT_EQ(load.damaged[0].file, Path(20, 1));
  EXPECT_THAT(load.damaged[0].reason,
              HasSubstr(Path(20, 1) + ": checksum mismatch at position "));
}

TEST_F(SnapshotFileTest, EachKindOfDamageIsReported) {
  Put(10, 1);
  Put(20, 1, 3 * 32768);  // data spans blocks
  ASSERT_OK_AND_ASSIGN(const std::string good,
                       ReadFileToString(&fs_, Path(20, 1)));
  const std::string p = Path(20, 1);
  struct Case {
    std::string bytes;
    std::string reason;
  };
  const Case cases[] = {
      {"", p + ": no snapshot header"},
      {good.substr(0, 40000), p + ": data is "},  // cut: a torn tail
      {good + good.substr(0, 32768), p + ": data runs past the 98304 bytes"},
  };
  for (const Case& c : cases) {
    Overwrite(p, c.bytes);
    SnapshotLoad load = ExpectLoads(10, 1);
    ASSERT_EQ(load.damaged.size(), 1u);
    EXPECT_THAT(load.damaged[0].reason, HasSubstr(c.reason));
  }
  // A file whose name does not match its header.
  ASSERT_OK(fs_.RemoveFile(p));
  ASSERT_OK(WriteStringToFile(&fs_, good, Path(21, 1), true));
  SnapshotLoad load = ExpectLoads(10, 1);
  ASSERT_EQ(load.damaged.size(), 1u);
  EXPECT_EQ(
      load.damaged[0].reason,
      Path(21, 1) + ": header says index 20 term 1, unlike the file name");
}

TEST_F(SnapshotFileTest, NoValidFileIsDataLossNamingEach) {
  Put(10, 1);
  Put(20, 1);
  Overwrite(Path(10, 1), "");
  Overwrite(Path(20, 1), "");
  EXPECT_THAT(LoadSnapshot(&fs_, kDir),
              StatusIs(absl::StatusCode::kDataLoss,
                       "no valid snapshot in /snap: " + Path(20, 1) +
                           ": no snapshot header; " + Path(10, 1) +
                           ": no snapshot header"));
}

TEST_F(SnapshotFileTest, ReadErrorIsAnErrorNotDamage) {
  Put(10, 1);
  Put(20, 1);
  fs_.FailAfter(kOpRead, 0, EIO);
  EXPECT_THAT(LoadSnapshot(&fs_, kDir), StatusIs(absl::StatusCode::kUnknown));
}

TEST_F(SnapshotFileTest, StaleTempFileIsIgnoredThenRemoved) {
  Put(10, 1);
  ASSERT_OK(WriteStringToFile(&fs_, "partial", Path(30, 1) + ".tmp", true));
  ExpectLoads(10, 1);
  Put(20, 1);
  EXPECT_THAT(fs_.GetChildren(kDir),
              IsOkAndHolds(ElementsAre(SnapshotFileName(10, 1),
                                       SnapshotFileName(20, 1))));
}

TEST_F(SnapshotFileTest, CrashAtAnyStepOfAPutLeavesALoadableSnapshot) {
  // Fails the n-th mutating operation of a put (and every one after it),
  // then loses power: the previous snapshot loads, or the new one if the put
  // had made it durable; never a damaged file.
  for (uint64_t n = 0;; ++n) {
    SCOPED_TRACE(n);
    Put(10, 1);
    Put(20, 1);
    fs_.ResetState();
    fs_.FailAfter(kOpAll & ~kOpRead & ~kOpExists, n, EIO, /*sticky=*/true);
    const std::string data = Data(30, 100000);
    const absl::string_view bufs[] = {data};
    const bool put_ok = PutSnapshot(&fs_, kDir, Meta(30, 2), bufs).ok();
    fs_.ClearFailures();
    ASSERT_OK(fs_.DropUnsyncedData());
    ASSERT_OK(fs_.DeleteFilesCreatedAfterLastDirSync());
    fs_.ResetState();
    ASSERT_OK_AND_ASSIGN(SnapshotLoad load, LoadSnapshot(&fs_, kDir));
    ASSERT_TRUE(load.snapshot.has_value());
    EXPECT_TRUE(load.damaged.empty()) << load.damaged[0].reason;
    if (put_ok || load.snapshot->meta.index == 30) {
      ExpectLoads(30, 2, 100000);
    } else {
      ExpectLoads(20, 1);
    }
    ASSERT_OK_AND_ASSIGN(std::vector<std::string> names, fs_.GetChildren(kDir));
    for (const std::string& name : names) {
      ASSERT_OK(fs_.RemoveFile(JoinPath(kDir, name)));
    }
    if (put_ok) break;
  }
}

}  // namespace
}  // namespace blockwal::raft
