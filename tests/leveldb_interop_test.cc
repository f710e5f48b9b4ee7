// Interoperability with LevelDB (Debian's libleveldb-dev 1.23): blockwal reads
// the write-ahead log leveldb::DB writes, LevelDB recovers from a log blockwal
// writes, and the two writers produce the same bytes.
//
// LevelDB's log::Reader/Writer are internal (not installed, not exported from
// the shared library), so LevelDB can only be made to read our log through
// leveldb::DB recovery, and LevelDB's log bytes are only reachable as a file.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "leveldb/db.h"
#include "leveldb/iterator.h"
#include "leveldb/options.h"
#include "leveldb/status.h"
#include "leveldb/write_batch.h"
#include "tests/interop_test_util.h"
#include "tests/scratch_dir.h"
#include "tests/status_matchers.h"
#include "tests/write_batch_codec.h"
#include "blockwal/util/file_system.h"

namespace blockwal::testing {
namespace {

using ::testing::IsEmpty;

// Checked at compile time rather than assumed: if a future libleveldb-dev
// installs its log reader, a direct reader-level test becomes possible.
constexpr bool kLevelDbLogReaderIsPublic =
#if __has_include(<leveldb/log_reader.h>) || __has_include(<leveldb/db/log_reader.h>)
    true;
#else
    false;
#endif

absl::Status ToAbsl(const leveldb::Status& s) {
  if (s.ok()) return absl::OkStatus();
  if (s.IsNotFound()) return absl::NotFoundError(s.ToString());
  if (s.IsCorruption()) return absl::DataLossError(s.ToString());
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(s.ToString());
  return absl::UnknownError(s.ToString());
}

absl::StatusOr<std::unique_ptr<leveldb::DB>> OpenLevelDb(
    const std::string& dir, bool create_if_missing) {
  leveldb::Options options;
  options.create_if_missing = create_if_missing;
  // Damage in a log being recovered fails Open instead of being logged and
  // skipped, so a log LevelDB does not fully accept cannot pass the test.
  options.paranoid_checks = true;
  leveldb::DB* db = nullptr;
  const leveldb::Status s = leveldb::DB::Open(options, dir, &db);
  if (!s.ok()) return ToAbsl(s);
  return std::unique_ptr<leveldb::DB>(db);
}

// Issues each write as LevelDB users would: a single op through DB::Put or
// DB::Delete (which LevelDB wraps in a one-op batch), anything else (including
// an empty batch) through DB::Write.
absl::Status ApplyToLevelDb(leveldb::DB* db,
                            const std::vector<std::vector<BatchOp>>& writes) {
  leveldb::WriteOptions write_options;
  write_options.sync = false;
  for (const std::vector<BatchOp>& ops : writes) {
    leveldb::Status s;
    if (ops.size() == 1 && ops[0].kind == BatchOp::kPut) {
      s = db->Put(write_options, ops[0].key, ops[0].value);
    } else if (ops.size() == 1) {
      s = db->Delete(write_options, ops[0].key);
    } else {
      leveldb::WriteBatch batch;
      for (const BatchOp& op : ops) {
        if (op.kind == BatchOp::kPut) {
          batch.Put(op.key, op.value);
        } else {
          batch.Delete(op.key);
        }
      }
      s = db->Write(write_options, &batch);
    }
    if (!s.ok()) return ToAbsl(s);
  }
  return absl::OkStatus();
}

class LevelDbInteropTest : public ::testing::Test {
 protected:
  // Builds the scenario, logging it with blockwal to expected_log_path(), and
  // applies it to a new LevelDB in db_dir_, which is closed on return with
  // everything still in its log: the default 4 MiB write buffer is far above
  // the scenario's size, so no memtable is flushed, and LevelDB converts the
  // log to a table only when the DB is opened again.
  void WriteScenarioWithLevelDb() {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<BatchLogWriter> expected,
                         BatchLogWriter::Create(expected_log_path(), 1));
    ASSERT_OK_AND_ASSIGN(writes_,
                         BuildScenario(expected.get(),
                                       /*include_empty_batch=*/true));
    ASSERT_OK(expected->Close());
    expected_batches_ = expected->batches();

    ASSERT_OK_AND_ASSIGN(std::unique_ptr<leveldb::DB> db,
                         OpenLevelDb(db_dir_, /*create_if_missing=*/true));
    ASSERT_OK(ApplyToLevelDb(db.get(), writes_));
    db.reset();  // Closes without flushing the memtable.
    ASSERT_OK_AND_ASSIGN(leveldb_log_path_, NewestLogFile(db_dir_));
  }

  std::string expected_log_path() const {
    return JoinPath(dir_, "expected.log");
  }

  const ScratchDir scratch_{"blockwal_interop"};
  const std::string dir_ = scratch_.str();
  const std::string db_dir_ = JoinPath(dir_, "db");
  std::vector<std::vector<BatchOp>> writes_;
  std::vector<WriteBatchContents> expected_batches_;
  std::string leveldb_log_path_;
};

TEST_F(LevelDbInteropTest, ReaderDecodesLevelDbLog) {
  ASSERT_NO_FATAL_FAILURE(WriteScenarioWithLevelDb());

  ASSERT_OK_AND_ASSIGN(LogContents log, ReadLogFile(leveldb_log_path_));
  EXPECT_THAT(log.corruptions, IsEmpty());
  ASSERT_EQ(log.records.size(), writes_.size());
  uint64_t next_sequence = 1;
  for (size_t i = 0; i < log.records.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("record ", i));
    ASSERT_OK_AND_ASSIGN(WriteBatchContents batch,
                         DecodeWriteBatch(log.records[i]));
    // Consecutive: each batch starts where the previous one's ops ended.
    EXPECT_EQ(batch.sequence, next_sequence);
    EXPECT_EQ(batch.ops, writes_[i]);
    next_sequence = batch.sequence + batch.ops.size();
  }
}

TEST_F(LevelDbInteropTest, OurWriterReproducesLevelDbLogBytes) {
  ASSERT_NO_FATAL_FAILURE(WriteScenarioWithLevelDb());
  ASSERT_OK_AND_ASSIGN(std::string leveldb_bytes,
                       ReadFileToString(FileSystem::Default(),
                                        leveldb_log_path_));

  // LevelDB's payloads, re-framed by our writer.
  ASSERT_OK_AND_ASSIGN(LogContents log, ReadLogFile(leveldb_log_path_));
  EXPECT_THAT(log.corruptions, IsEmpty());
  const std::string rewritten_path = JoinPath(dir_, "rewritten.log");
  ASSERT_OK(WriteLogFile(rewritten_path, log.records));
  ASSERT_OK_AND_ASSIGN(std::string rewritten_bytes,
                       ReadFileToString(FileSystem::Default(), rewritten_path));
  // Compared as bools first: a gtest diff of two 170 KB strings is useless.
  EXPECT_TRUE(rewritten_bytes == leveldb_bytes)
      << "sizes " << rewritten_bytes.size() << " vs " << leveldb_bytes.size();

  // And the same batches encoded independently by the test codec (same
  // sequence numbers), framed by our writer: the framing and the payloads
  // both match, not just the framing.
  ASSERT_OK_AND_ASSIGN(std::string expected_bytes,
                       ReadFileToString(FileSystem::Default(),
                                        expected_log_path()));
  EXPECT_TRUE(expected_bytes == leveldb_bytes)
      << "sizes " << expected_bytes.size() << " vs " << leveldb_bytes.size();
}

TEST_F(LevelDbInteropTest, LevelDbRecoversOurLog) {
  // An empty database, for its CURRENT and MANIFEST; the MANIFEST names the
  // (empty) log LevelDB left, which recovery replays on the next Open.
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<leveldb::DB> db,
                         OpenLevelDb(db_dir_, /*create_if_missing=*/true));
  }
  ASSERT_OK_AND_ASSIGN(const std::string log_path, NewestLogFile(db_dir_));
  ASSERT_OK_AND_ASSIGN(uint64_t log_size,
                       FileSystem::Default()->GetFileSize(log_path));
  ASSERT_EQ(log_size, 0u) << log_path;

  // Our log replaces it. Sequences start at 1: the MANIFEST's last sequence
  // of an empty database is 0.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<BatchLogWriter> ours,
                       BatchLogWriter::Create(log_path, 1));
  ASSERT_OK_AND_ASSIGN(writes_, BuildScenario(ours.get(),
                                              /*include_empty_batch=*/true));
  ASSERT_OK(ours->Close());

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<leveldb::DB> db,
                       OpenLevelDb(db_dir_, /*create_if_missing=*/false));
  const std::map<std::string, std::string> expected = ApplyWrites(writes_);
  for (const std::string& key : TouchedKeys(writes_)) {
    SCOPED_TRACE(key);
    std::string value;
    const leveldb::Status s = db->Get(leveldb::ReadOptions(), key, &value);
    auto it = expected.find(key);
    if (it == expected.end()) {
      EXPECT_TRUE(s.IsNotFound()) << s.ToString();
    } else {
      ASSERT_TRUE(s.ok()) << s.ToString();
      EXPECT_TRUE(value == it->second) << "value of " << value.size()
                                       << " bytes, expected "
                                       << it->second.size();
    }
  }

  // Nothing beyond what the log holds.
  std::map<std::string, std::string> scanned;
  std::unique_ptr<leveldb::Iterator> iter(
      db->NewIterator(leveldb::ReadOptions()));
  for (iter->SeekToFirst(); iter->Valid(); iter->Next()) {
    scanned[iter->key().ToString()] = iter->value().ToString();
  }
  ASSERT_TRUE(iter->status().ok()) << iter->status().ToString();
  EXPECT_EQ(scanned.size(), expected.size());
  EXPECT_TRUE(scanned == expected);
}

TEST(LevelDbPublicApiTest, LogReaderIsNotPublic) {
  // Why LevelDbRecoversOurLog goes through leveldb::DB: there is no public
  // log reader to hand our file to.
  EXPECT_FALSE(kLevelDbLogReaderIsPublic);
}

}  // namespace
}  // namespace blockwal::testing
