// The durable term and vote (raft/term_vote.h): the slot bytes, alternation
// between the two files, newest-wins loading, damaged slots, and failed or
// interrupted writes (fault injection).
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "blockwal/raft/term_vote.h"
#include "blockwal/util/coding.h"
#include "blockwal/util/fault_injection_file_system.h"
#include "blockwal/util/mem_file_system.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/scratch_dir.h"
#include "tests/status_matchers.h"

namespace blockwal::raft {
namespace {

using ::blockwal::testing::IsOkAndHolds;
using ::blockwal::testing::StatusIs;
using ::testing::ElementsAre;

class TermVoteTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(fs_.CreateDir(kDir)); }

  std::string Path(int slot) {
    return JoinPath(kDir, slot == 0 ? kTermVoteFile0 : kTermVoteFile1);
  }
  std::string Read(int slot) {
    absl::StatusOr<std::string> s = ReadFileToString(&fs_, Path(slot));
    EXPECT_OK(s);
    return s.ok() ? *s : "";
  }
  // The version field of a slot file.
  uint64_t Version(int slot) { return DecodeFixed64(Read(slot).data() + 8); }
  void Overwrite(int slot, const std::string& data) {
    ASSERT_OK(WriteStringToFile(&fs_, data, Path(slot), true));
  }
  std::unique_ptr<TermVoteStore> OpenStore() {
    absl::StatusOr<std::unique_ptr<TermVoteStore>> store =
        TermVoteStore::Open(&fs_, kDir);
    EXPECT_OK(store);
    return store.ok() ? *std::move(store) : nullptr;
  }
  // On an emptied directory, writes term 1 / vote 2 / term 3 / vote 4:
  // slots 0, 1, 0, 1 with versions 1..4.
  void WriteFour() {
    for (int slot : {0, 1}) {
      ASSERT_OK_AND_ASSIGN(bool exists, fs_.FileExists(Path(slot)));
      if (exists) {
        ASSERT_OK(fs_.RemoveFile(Path(slot)));
      }
    }
    auto store = OpenStore();
    ASSERT_OK(store->SetTerm(1));
    ASSERT_OK(store->SetVote(2));
    ASSERT_OK(store->SetTerm(3));
    ASSERT_OK(store->SetVote(4));
  }

  static constexpr char kDir[] = "/tv";
  FaultInjectionFileSystem fs_{NewMemFileSystem()};
};

TEST_F(TermVoteTest, NewDirectoryIsTermZeroVoteZeroAndWritesNothing) {
  auto store = OpenStore();
  EXPECT_EQ(store->current(), (TermVote{0, 0}));
  EXPECT_THAT(fs_.GetChildren(kDir), IsOkAndHolds(::testing::IsEmpty()));
  EXPECT_TRUE(fs_.ops().empty());
}

TEST_F(TermVoteTest, SlotBytes) {
  auto store = OpenStore();
  ASSERT_OK(store->SetTerm(0x0102030405060708ull));
  const std::string slot = Read(0);
  ASSERT_EQ(slot.size(), kTermVoteSlotSize);
  EXPECT_EQ(slot.substr(4), std::string("bwtv"
                                        "\x01\0\0\0\0\0\0\0"
                                        "\x08\x07\x06\x05\x04\x03\x02\x01"
                                        "\0\0\0\0\0\0\0\0",
                                        28));
}

TEST_F(TermVoteTest, WritesAlternateAndEachInPlaceWriteIsOneSync) {
  auto store = OpenStore();
  ASSERT_OK(store->SetTerm(1));  // creates slot 0: temp, sync, rename, dir sync
  ASSERT_OK(store->SetVote(2));  // creates slot 1
  EXPECT_EQ(Version(0), 1u);
  EXPECT_EQ(Version(1), 2u);
  fs_.ClearOps();
  const uint64_t syncs = fs_.sync_count();
  ASSERT_OK(store->SetTerm(3));
  EXPECT_EQ(fs_.sync_count(), syncs + 1);
  std::vector<FsOp> kinds;
  for (const FsOpRecord& r : fs_.ops()) kinds.push_back(r.op);
  EXPECT_THAT(kinds, ElementsAre(kOpCreate, kOpAppend, kOpSync));
  EXPECT_EQ(fs_.ops()[0].path, Path(0));
  EXPECT_EQ(Version(0), 3u);
  EXPECT_EQ(Version(1), 2u);
  ASSERT_OK(store->SetVote(4));
  EXPECT_EQ(Version(1), 4u);
  EXPECT_EQ(store->current(), (TermVote{3, 4}));
}

TEST_F(TermVoteTest, FirstWriteCreatesTheSlotFileDurably) {
  auto store = OpenStore();
  ASSERT_OK(store->SetTerm(1));
  std::vector<FsOp> kinds;
  for (const FsOpRecord& r : fs_.ops()) kinds.push_back(r.op);
  EXPECT_THAT(
      kinds, ElementsAre(kOpCreate, kOpAppend, kOpSync, kOpRename, kOpSyncDir));
  EXPECT_EQ(fs_.ops()[0].path, Path(0) + ".tmp");
  ASSERT_OK(fs_.DropUnsyncedData());
  ASSERT_OK(fs_.DeleteFilesCreatedAfterLastDirSync());
  EXPECT_THAT(TermVoteStore::Load(&fs_, kDir), IsOkAndHolds(TermVote{1, 0}));
}

TEST_F(TermVoteTest, NewestSlotWinsAndSetTermClearsTheVote) {
  WriteFour();
  EXPECT_THAT(TermVoteStore::Load(&fs_, kDir), IsOkAndHolds(TermVote{3, 4}));
  auto store = OpenStore();
  ASSERT_OK(store->SetTerm(9));  // goes to slot 0 (version 3 < 4)
  EXPECT_EQ(Version(0), 5u);
  EXPECT_THAT(TermVoteStore::Load(&fs_, kDir), IsOkAndHolds(TermVote{9, 0}));
}

TEST_F(TermVoteTest, DamagedNewestSlotFallsBackToTheOther) {
  const std::string damaged[] = {
      "",                     // cut to nothing
      std::string(17, '\0'),  // torn
      std::string(32, '\0'),  // zeros: bad magic
  };
  for (const std::string& bad : damaged) {
    WriteFour();  // slot 1 newest: {3, 4}; slot 0: {3, 0}
    Overwrite(1, bad);
    EXPECT_THAT(TermVoteStore::Load(&fs_, kDir), IsOkAndHolds(TermVote{3, 0}));
  }
  WriteFour();
  std::string flipped = Read(1);
  flipped[20] ^= 1;
  Overwrite(1, flipped);
  EXPECT_THAT(TermVoteStore::Load(&fs_, kDir), IsOkAndHolds(TermVote{3, 0}));
  // The next write goes to the damaged slot, over it.
  auto store = OpenStore();
  ASSERT_OK(store->SetVote(7));
  EXPECT_EQ(Version(1), 4u);
  EXPECT_THAT(TermVoteStore::Load(&fs_, kDir), IsOkAndHolds(TermVote{3, 7}));
}

TEST_F(TermVoteTest, BothSlotsDamagedIsDataLossNamingBothFiles) {
  WriteFour();
  std::string flipped = Read(0);
  flipped[0] ^= 1;
  Overwrite(0, flipped);
  Overwrite(1, "");
  EXPECT_THAT(TermVoteStore::Open(&fs_, kDir),
              StatusIs(absl::StatusCode::kDataLoss,
                       "no valid term/vote slot (/tv/term_vote.0: checksum "
                       "mismatch over offsets 4..31; /tv/term_vote.1: size 0, "
                       "expected 32)"));
}

TEST_F(TermVoteTest, OneDamagedSlotAndNoOtherFileIsDataLoss) {
  Overwrite(1, std::string(32, 'x'));
  EXPECT_THAT(TermVoteStore::Load(&fs_, kDir),
              StatusIs(absl::StatusCode::kDataLoss,
                       "no valid term/vote slot (/tv/term_vote.0: missing; "
                       "/tv/term_vote.1: bad magic at offset 4)"));
}

TEST_F(TermVoteTest, FailedWriteIsStickyAndPowerLossKeepsThePreviousValue) {
  const std::pair<FsOp, std::string> failures[] = {{kOpAppend, "append"},
                                                   {kOpSync, "sync"}};
  for (const auto& [op, name] : failures) {
    SCOPED_TRACE(name);
    WriteFour();  // {3, 4}
    auto store = OpenStore();
    fs_.FailAfter(op, 0, EIO);
    EXPECT_THAT(store->SetTerm(5),
                StatusIs(absl::StatusCode::kUnknown,
                         "/tv/term_vote.0: injected " + name +
                             " failure: Input/output error"));
    EXPECT_EQ(store->current(), (TermVote{3, 4}));
    fs_.ClearFailures();
    EXPECT_THAT(store->SetVote(1),
                StatusIs(absl::StatusCode::kUnknown,
                         "/tv/term_vote.0: injected " + name +
                             " failure: Input/output error"));
    store.reset();
    // Without a crash the slot may hold the new value or nothing.
    ASSERT_OK_AND_ASSIGN(TermVote now, TermVoteStore::Load(&fs_, kDir));
    EXPECT_TRUE(now == (TermVote{3, 4}) || now == (TermVote{5, 0}));
    ASSERT_OK(fs_.DropUnsyncedData());
    fs_.ResetState();
    EXPECT_THAT(TermVoteStore::Load(&fs_, kDir), IsOkAndHolds(TermVote{3, 4}));
  }
}

TEST_F(TermVoteTest, EveryFailureDuringTheFirstWritesLeavesAValidState) {
  // Fails the n-th mutating operation of four writes on a new directory,
  // then loses power: what loads is one of the values written before, never
  // an error.
  const TermVote written[] = {{0, 0}, {1, 0}, {1, 1}, {2, 0}, {2, 5}};
  for (uint64_t n = 0;; ++n) {
    SCOPED_TRACE(n);
    ASSERT_OK(fs_.base()->CreateDir("/tv"));
    fs_.FailAfter(kOpAll & ~kOpRead & ~kOpExists, n, EIO, true);
    auto store = OpenStore();
    int done = 0;
    if (store->SetTerm(1).ok()) ++done;
    if (done == 1 && store->SetVote(1).ok()) ++done;
    if (done == 2 && store->SetTerm(2).ok()) ++done;
    if (done == 3 && store->SetVote(5).ok()) ++done;
    store.reset();
    fs_.ClearFailures();
    ASSERT_OK(fs_.DropUnsyncedData());
    ASSERT_OK(fs_.DeleteFilesCreatedAfterLastDirSync());
    fs_.ResetState();
    absl::StatusOr<TermVote> loaded = TermVoteStore::Load(&fs_, kDir);
    ASSERT_OK(loaded);
    // The value of the last write that succeeded, or of the failed one.
    EXPECT_TRUE(*loaded == written[done] ||
                (done < 4 && *loaded == written[done + 1]))
        << loaded->term << "/" << loaded->vote << " after " << done;
    ASSERT_OK_AND_ASSIGN(std::vector<std::string> names, fs_.GetChildren(kDir));
    for (const std::string& name : names) {
      ASSERT_OK(fs_.RemoveFile(JoinPath(kDir, name)));
    }
    fs_.ResetState();
    if (done == 4) break;
  }
}

TEST(TermVotePosixTest, WritesAndLoadsOnDisk) {
  testing::ScratchDir dir("raft_term_vote");
  FileSystem* fs = FileSystem::Default();
  ASSERT_OK_AND_ASSIGN(auto store,
                       TermVoteStore::Open(fs, dir.path().string()));
  ASSERT_OK(store->SetTerm(7));
  ASSERT_OK(store->SetVote(3));
  ASSERT_OK(store->SetTerm(8));
  EXPECT_THAT(TermVoteStore::Load(fs, dir.path().string()),
              IsOkAndHolds(TermVote{8, 0}));
  EXPECT_THAT(fs->GetChildren(dir.path().string()),
              IsOkAndHolds(ElementsAre("term_vote.0", "term_vote.1")));
}

}  // namespace
}  // namespace blockwal::raft
