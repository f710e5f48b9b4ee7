// The replicated key-value store's state machine (raft/kv_fsm.h): command
// encodings, apply (atomic batches, addresses, malformed commands applied as
// nothing), snapshot and restore through the raft_fsm callbacks with raft's
// buffer ownership, and damaged snapshots refused with the state intact.
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "blockwal/db/checkpoint.h"
#include "blockwal/raft/entry_codec.h"
#include "blockwal/raft/kv_fsm.h"
#include "blockwal/util/coding.h"
#include "blockwal/util/crc32c.h"
#include "blockwal/util/mem_file_system.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/checkpoint_v1_file.h"
#include "tests/status_matchers.h"

namespace blockwal::raft {
namespace {

using ::blockwal::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using Pairs = std::vector<std::pair<std::string, std::string>>;

// A raft_malloc'd copy of `bytes`, as raft hands buffers to the fsm.
struct raft_buffer RaftCopy(absl::string_view bytes) {
  struct raft_buffer buf;
  buf.len = bytes.size();
  buf.base = raft_malloc(bytes.size() + 1);
  if (!bytes.empty()) std::memcpy(buf.base, bytes.data(), bytes.size());
  return buf;
}

// Calls the fsm's apply with a copy of `padded` (apply only borrows it) and
// returns apply's code; *result gets apply's result.
int ApplyRaw(KvFsm* f, absl::string_view padded, void** result) {
  struct raft_buffer buf = RaftCopy(padded);
  *result = &buf;  // apply must overwrite it
  const int rv = f->fsm()->apply(f->fsm(), &buf, result);
  raft_free(buf.base);
  return rv;
}

// Applies one command (padded here) and expects it applied.
void Apply(KvFsm* f, absl::string_view command) {
  void* result = nullptr;
  ASSERT_EQ(ApplyRaw(f, PadCommand(command), &result), 0);
  EXPECT_EQ(result, nullptr);
}

db::WriteBatch Batch(const Pairs& puts,
                     const std::vector<std::string>& deletes = {}) {
  db::WriteBatch batch;
  for (const auto& [k, v] : puts) batch.Put(k, v);
  for (const std::string& k : deletes) batch.Delete(k);
  return batch;
}

Pairs Dump(const KvFsm& f) {
  Pairs out;
  for (const auto& [k, v] : f.table().map()) {
    out.emplace_back(k, v.value_or("<tombstone>"));
  }
  return out;
}

// Takes a snapshot through the callback and frees raft's buffers as raft
// would.
std::string TakeSnapshot(KvFsm* f) {
  struct raft_buffer* bufs = nullptr;
  unsigned n = 0;
  EXPECT_EQ(f->fsm()->snapshot(f->fsm(), &bufs, &n), 0);
  if (bufs == nullptr) return "";
  EXPECT_EQ(n, 1u);
  std::string out(static_cast<const char*>(bufs[0].base), bufs[0].len);
  raft_free(bufs[0].base);
  raft_free(bufs);
  return out;
}

// Restores from a copy of `snapshot`; restore owns (and frees) it.
int RestoreRaw(KvFsm* f, absl::string_view snapshot) {
  struct raft_buffer buf = RaftCopy(snapshot);
  return f->fsm()->restore(f->fsm(), &buf);
}

std::string Binary(int i) {
  return std::string("\0\xff", 2) + std::to_string(i) + std::string(1, '\0');
}

TEST(KvCommandTest, Encodings) {
  db::WriteBatch batch = Batch({{"k", "v"}}, {"d"});
  batch.set_sequence(77);  // commands carry sequence 0
  const std::string cmd = EncodeBatchCommand(batch);
  EXPECT_EQ(cmd, std::string("\x01", 1) + std::string(8, '\0') +
                     std::string("\x02\0\0\0", 4) + "\x01\x01k\x01v" +
                     std::string("\0\x01", 2) + "d");
  EXPECT_EQ(batch.sequence(), 77u);
  EXPECT_EQ(EncodeAddressCommand(0x0102030405060708ull, "h:1"),
            "\x02\x08\x07\x06\x05\x04\x03\x02\x01h:1");
}

TEST(KvFsmTest, AppliesPutsDeletesAndBatchesAtomically) {
  KvFsm f;
  EXPECT_EQ(f.fsm()->version, 1);
  Apply(&f, EncodeBatchCommand(Batch({{"a", "1"}, {"b", "2"}, {"c", "3"}})));
  Apply(&f, EncodeBatchCommand(Batch({{"a", "10"}}, {"b", "zz"})));
  EXPECT_THAT(Dump(f), ElementsAre(Pair("a", "10"), Pair("c", "3")));
  ASSERT_NE(f.Get("c"), nullptr);
  EXPECT_EQ(*f.Get("c"), "3");
  EXPECT_EQ(f.Get("b"), nullptr);
  EXPECT_EQ(f.applied_commands(), 2u);
  EXPECT_EQ(f.malformed(), 0u);

  // Three ops whose last is cut short: none of them is applied.
  const std::string whole =
      EncodeBatchCommand(Batch({{"x", "1"}, {"y", "2"}}, {"a"}));
  void* result = nullptr;
  EXPECT_EQ(
      ApplyRaw(&f, PadCommand(whole.substr(0, whole.size() - 1)), &result), 0);
  EXPECT_EQ(result, KvFsm::kMalformedResult);
  EXPECT_THAT(Dump(f), ElementsAre(Pair("a", "10"), Pair("c", "3")));
  EXPECT_EQ(f.malformed(), 1u);
  EXPECT_EQ(f.applied_commands(), 3u);
}

TEST(KvFsmTest, MalformedCommandsApplyNothing) {
  const std::string good = EncodeBatchCommand(Batch({{"n", "v"}}));
  std::string bad_count = good;
  bad_count[1 + 8] = 2;  // count 2, one op
  std::string bad_pad = PadCommand(good);
  bad_pad[bad_pad.size() - 2] = 0x55;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"unpadded", good},
      {"length not a multiple of 8", PadCommand(good) + "x"},
      {"pad byte 0", std::string(8, '\0')},
      {"pad byte 9", std::string(8, '\x09')},
      {"inconsistent padding", bad_pad},
      {"empty payload", ""},
      {"no tag", PadCommand("")},
      {"tag 0", PadCommand(std::string(1, '\0') + good.substr(1))},
      {"tag 3", PadCommand("\x03" + good.substr(1))},
      {"batch count", PadCommand(bad_count)},
      {"batch header cut", PadCommand(good.substr(0, 6))},
      {"batch trailing byte", PadCommand(good + "z")},
      {"address short", PadCommand(std::string("\x02\x01\0\0\0\0\0", 7))},
      {"address id 0", PadCommand(EncodeAddressCommand(0, "h:1"))},
  };
  KvFsm f;
  Apply(&f, EncodeBatchCommand(Batch({{"keep", "me"}})));
  Apply(&f, EncodeAddressCommand(1, "h:1"));
  uint64_t n = 0;
  for (const auto& [name, payload] : cases) {
    SCOPED_TRACE(name);
    void* result = nullptr;
    EXPECT_EQ(ApplyRaw(&f, payload, &result), 0);
    EXPECT_EQ(result, KvFsm::kMalformedResult);
    EXPECT_NE(KvFsm::kMalformedResult, nullptr);
    EXPECT_EQ(f.malformed(), ++n);
    EXPECT_THAT(Dump(f), ElementsAre(Pair("keep", "me")));
    EXPECT_THAT(f.addresses(), ElementsAre(Pair(1u, "h:1")));
  }
  EXPECT_EQ(f.applied_commands(), 2 + cases.size());
  EXPECT_FALSE(f.ApplyPadded("garbage"));
  EXPECT_TRUE(f.ApplyPadded(PadCommand(good)));
  EXPECT_THAT(Dump(f), ElementsAre(Pair("keep", "me"), Pair("n", "v")));
}

TEST(KvFsmTest, AddressCommands) {
  KvFsm f;
  EXPECT_EQ(f.ClientAddress(1), std::nullopt);
  Apply(&f, EncodeAddressCommand(1, "10.0.0.1:7000"));
  Apply(&f, EncodeAddressCommand(3, ""));
  Apply(&f, EncodeAddressCommand(1, "10.0.0.9:7001"));
  Apply(&f, EncodeAddressCommand(~0ull, std::string("a\0\xff", 3)));
  EXPECT_EQ(f.ClientAddress(1), "10.0.0.9:7001");
  EXPECT_EQ(f.ClientAddress(3), "");
  EXPECT_EQ(f.ClientAddress(~0ull), std::string("a\0\xff", 3));
  EXPECT_EQ(f.ClientAddress(2), std::nullopt);
  EXPECT_TRUE(f.table().map().empty());
  EXPECT_EQ(f.applied_commands(), 4u);
}

// Restores `snapshot` into a fresh state machine that held other state, and
// expects exactly the source's state.
void ExpectRoundTrip(KvFsm* source) {
  const std::string snapshot = TakeSnapshot(source);
  KvFsm target;
  Apply(&target, EncodeBatchCommand(Batch({{"stale", "x"}})));
  Apply(&target, EncodeAddressCommand(9, "stale:1"));
  EXPECT_EQ(target.restores(), 0u);
  ASSERT_EQ(RestoreRaw(&target, snapshot), 0) << target.last_restore_status();
  EXPECT_OK(target.last_restore_status());
  EXPECT_EQ(target.restores(), 1u);
  EXPECT_EQ(Dump(target), Dump(*source));
  EXPECT_EQ(target.addresses(), source->addresses());
  EXPECT_EQ(TakeSnapshot(&target), snapshot);
}

TEST(KvSnapshotTest, RoundTrip) {
  KvFsm f;
  Apply(&f, EncodeBatchCommand(Batch({{"a", "1"}, {"b", "2"}, {"c", "3"}})));
  Apply(&f, EncodeBatchCommand(Batch({}, {"b"})));
  Apply(&f, EncodeAddressCommand(2, "h2:7000"));
  Apply(&f, EncodeAddressCommand(1, "h1:7000"));
  EXPECT_THAT(Dump(f), ElementsAre(Pair("a", "1"), Pair("c", "3")));
  ExpectRoundTrip(&f);
}

TEST(KvSnapshotTest, BinaryKeysAndValues) {
  KvFsm f;
  db::WriteBatch batch;
  for (int i = 0; i < 50; ++i) batch.Put(Binary(i), Binary(i * 7) + "\xff");
  batch.Put(std::string(), std::string());
  Apply(&f, EncodeBatchCommand(batch));
  Apply(&f, EncodeAddressCommand(5, std::string("\0\xff", 2)));
  ASSERT_EQ(f.table().map().size(), 51u);
  ExpectRoundTrip(&f);
}

TEST(KvSnapshotTest, EmptyStore) {
  KvFsm f;
  ExpectRoundTrip(&f);
  absl::StatusOr<KvState> decoded = DecodeSnapshot(TakeSnapshot(&f));
  ASSERT_OK(decoded.status());
  EXPECT_EQ(decoded->table.size(), 0u);
  EXPECT_TRUE(decoded->addresses.empty());
}

TEST(KvSnapshotTest, EncodeLeavesTombstonesOut) {
  db::MemTable table(/*keep_tombstones=*/true);
  table.Put("a", "1");
  table.Put("b", "2");
  table.Delete("b");
  table.Delete("c");
  ASSERT_EQ(table.size(), 3u);
  absl::StatusOr<std::string> snapshot = EncodeSnapshot(table, {{4, "h:4"}});
  ASSERT_OK(snapshot.status());
  absl::StatusOr<KvState> decoded = DecodeSnapshot(*snapshot);
  ASSERT_OK(decoded.status());
  EXPECT_THAT(decoded->table.map(), ElementsAre(Pair("a", "1")));
  EXPECT_FALSE(decoded->table.keeps_tombstones());
  EXPECT_THAT(decoded->addresses, ElementsAre(Pair(4u, "h:4")));
}

// The checkpoint image inside a snapshot, opened.
db::CheckpointInfo ImageInfo(absl::string_view snapshot) {
  const uint32_t length = DecodeFixed32(snapshot.data() + 8);
  std::unique_ptr<FileSystem> fs = NewMemFileSystem();
  EXPECT_OK(WriteStringToFile(fs.get(),
                              snapshot.substr(kKvSnapshotPrefixSize + length),
                              "/image", false));
  auto table = db::CheckpointTable::Open(fs.get(), "/image");
  EXPECT_OK(table.status());
  return table.ok() ? (*table)->info() : db::CheckpointInfo();
}

TEST(KvSnapshotTest, LargeStoreOverSeveralChunks) {
  KvFsm f;
  for (int b = 0; b < 40; ++b) {
    db::WriteBatch batch;
    for (int i = 0; i < 100; ++i) {
      batch.Put(absl::StrCat("key", b * 100 + i),
                std::string(200, 'a' + b % 26));
    }
    Apply(&f, EncodeBatchCommand(batch));
  }
  Apply(&f, EncodeBatchCommand(Batch({}, {"key0", "key3999"})));
  ASSERT_EQ(f.table().map().size(), 3998u);
  const std::string snapshot = TakeSnapshot(&f);
  const db::CheckpointInfo info = ImageInfo(snapshot);
  EXPECT_EQ(info.keys, 3998u);
  EXPECT_GT(info.chunks, 10u);
  EXPECT_EQ(info.wal_offset, 0u);
  ExpectRoundTrip(&f);

  // Damage anywhere in the image, in any chunk, is refused.
  KvFsm target;
  for (size_t i = 20; i < snapshot.size(); i += 9973) {
    SCOPED_TRACE(absl::StrCat("byte ", i, " of ", snapshot.size()));
    std::string damaged = snapshot;
    damaged[i] ^= 0x01;
    EXPECT_EQ(RestoreRaw(&target, damaged), RAFT_CORRUPT);
    EXPECT_THAT(target.last_restore_status(),
                StatusIs(absl::StatusCode::kDataLoss,
                         HasSubstr("snapshot: checkpoint image: ")));
    EXPECT_EQ(RestoreRaw(&target, snapshot.substr(0, i)), RAFT_CORRUPT);
  }
  EXPECT_TRUE(target.table().map().empty());
}

// A state machine with some state, to restore damaged snapshots into.
class KvSnapshotDamageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Apply(&source_, EncodeBatchCommand(Batch({{"k1", "v1"}, {"k2", "v2"}})));
    Apply(&source_, EncodeAddressCommand(1, "h1:1"));
    Apply(&source_, EncodeAddressCommand(2, "h2:2"));
    snapshot_ = TakeSnapshot(&source_);
    header_end_ = kKvSnapshotPrefixSize + DecodeFixed32(snapshot_.data() + 8);
    Apply(&target_, EncodeBatchCommand(Batch({{"old", "state"}})));
    Apply(&target_, EncodeAddressCommand(7, "old:7"));
  }

  // Expects `damaged` refused with RAFT_CORRUPT and the target unchanged.
  void ExpectRefused(absl::string_view damaged, absl::string_view message) {
    EXPECT_EQ(RestoreRaw(&target_, damaged), RAFT_CORRUPT);
    EXPECT_THAT(target_.last_restore_status(),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr(message)));
    EXPECT_THAT(Dump(target_), ElementsAre(Pair("old", "state")));
    EXPECT_THAT(target_.addresses(), ElementsAre(Pair(7u, "old:7")));
    EXPECT_EQ(target_.restores(), 0u);
  }

  // The snapshot with its header replaced (length and CRC made to match).
  std::string WithHeader(absl::string_view header) const {
    std::string out(kKvSnapshotMagic, 8);
    PutFixed32(&out, static_cast<uint32_t>(header.size()));
    PutFixed32(&out, crc32c::Mask(crc32c::Value(header)));
    return absl::StrCat(out, header, snapshot_.substr(header_end_));
  }

  KvFsm source_;
  KvFsm target_;
  std::string snapshot_;
  size_t header_end_ = 0;
};

TEST_F(KvSnapshotDamageTest, EveryFlippedByteIsRefused) {
  for (size_t i = 0; i < snapshot_.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("byte ", i, " of ", snapshot_.size()));
    std::string damaged = snapshot_;
    damaged[i] ^= 0x20;
    ExpectRefused(damaged, i < 8             ? "snapshot: bad magic"
                           : i < header_end_ ? "snapshot: header"
                                             : "snapshot: checkpoint image: ");
  }
  // The header's CRC covers it: flipping a byte inside is a checksum error.
  std::string damaged = snapshot_;
  damaged[kKvSnapshotPrefixSize + 3] ^= 1;
  ExpectRefused(damaged, "snapshot: header checksum mismatch");
  EXPECT_EQ(RestoreRaw(&target_, snapshot_), 0);
  EXPECT_THAT(Dump(target_), ElementsAre(Pair("k1", "v1"), Pair("k2", "v2")));
}

TEST_F(KvSnapshotDamageTest, TruncatedOrExtendedIsRefused) {
  const size_t n = snapshot_.size();
  for (size_t len : {size_t{0}, size_t{7}, size_t{8}, size_t{15},
                     kKvSnapshotPrefixSize, header_end_ - 1, header_end_,
                     header_end_ + 1, (header_end_ + n) / 2, n - 1}) {
    SCOPED_TRACE(absl::StrCat("cut to ", len, " of ", n));
    ExpectRefused(snapshot_.substr(0, len), "snapshot: ");
  }
  ExpectRefused(snapshot_.substr(0, header_end_ - 1),
                "snapshot: header length 27 runs past the end (26 bytes left)");
  ExpectRefused(snapshot_.substr(0, 10),
                "snapshot: 10 bytes, shorter than its 16-byte prefix");
  ExpectRefused(snapshot_ + "x", "snapshot: checkpoint image: ");
}

TEST_F(KvSnapshotDamageTest, BadHeaderContentsAreRefused) {
  ASSERT_EQ(header_end_ - kKvSnapshotPrefixSize, 27u);
  ExpectRefused(WithHeader(""), "snapshot: header: address count is cut short");
  ExpectRefused(WithHeader("\x01"),
                "snapshot: header: address 1 of 1 is cut short");
  auto entry = [](uint64_t id) {
    std::string out;
    PutFixed64(&out, id);
    PutLengthPrefixed(&out, "a");
    return out;
  };
  ExpectRefused(WithHeader("\x02" + entry(4) + entry(4)),
                "snapshot: header: address 2 of 2 repeats id 4");
  ExpectRefused(WithHeader("\x01" + entry(0)),
                "snapshot: header: address 1 of 1 has id 0");
  ExpectRefused(WithHeader(std::string("\0\0", 2)),
                "snapshot: header: 1 bytes after the last address");
  ExpectRefused(std::string("BWKVSNP2") + snapshot_.substr(8),
                "snapshot: bad magic");
}

TEST_F(KvSnapshotDamageTest, ImageWithOffsetOrOtherFormatIsRefused) {
  std::unique_ptr<FileSystem> fs = NewMemFileSystem();
  db::MemTable table;
  table.Put("k", "v");
  auto info = db::WriteCheckpoint(fs.get(), "/", 5, table);
  ASSERT_OK(info.status());
  auto image = ReadFileToString(fs.get(), info->path);
  ASSERT_OK(image.status());
  const std::string head = snapshot_.substr(0, header_end_);
  ExpectRefused(head + *image,
                "snapshot: checkpoint image: wal_offset 5, not 0");
  ExpectRefused(head + "not a checkpoint", "snapshot: checkpoint image: ");
  ExpectRefused(head + db::testing::CheckpointV1Bytes(0, {{"k", "v"}}),
                "snapshot: checkpoint image: format 1, not 2");
}

// A raft heap whose allocations fail from the `fail_at`th on (1-based).
struct FailingHeap {
  int calls = 0;
  int fail_at = 0;
  static void* Malloc(void* data, size_t size) {
    auto* self = static_cast<FailingHeap*>(data);
    return ++self->calls >= self->fail_at ? nullptr : std::malloc(size);
  }
  static void Free(void*, void* ptr) { std::free(ptr); }
};

TEST(KvSnapshotTest, AllocationFailureIsNoMem) {
  KvFsm f;
  Apply(&f, EncodeBatchCommand(Batch({{"k", "v"}})));
  for (int fail_at : {1, 2}) {
    FailingHeap state;
    state.fail_at = fail_at;
    struct raft_heap heap = {};
    heap.data = &state;
    heap.malloc = &FailingHeap::Malloc;
    heap.free = &FailingHeap::Free;
    raft_heap_set(&heap);
    struct raft_buffer* bufs = nullptr;
    unsigned n = 0;
    const int rv = f.fsm()->snapshot(f.fsm(), &bufs, &n);
    raft_heap_set_default();
    EXPECT_EQ(rv, RAFT_NOMEM) << "fail_at " << fail_at;
    EXPECT_EQ(state.calls, fail_at);
  }
  EXPECT_FALSE(TakeSnapshot(&f).empty());
}

}  // namespace
}  // namespace blockwal::raft
