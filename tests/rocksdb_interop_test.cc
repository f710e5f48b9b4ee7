// Interoperability with RocksDB (Debian's librocksdb-dev 7.8.3): blockwal
// reads the WAL rocksdb::DB writes with default options, RocksDB recovers
// from a WAL blockwal writes, and the two writers produce the same bytes.
//
// With default options RocksDB writes the legacy (non-recyclable) record
// format, which is LevelDB's; its WAL payload for plain puts and deletes in
// the default column family is LevelDB's WriteBatch layout.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/iterator.h"
#include "rocksdb/options.h"
#include "rocksdb/status.h"
#include "rocksdb/write_batch.h"
#include "tests/interop_test_util.h"
#include "tests/scratch_dir.h"
#include "tests/status_matchers.h"
#include "tests/write_batch_codec.h"
#include "blockwal/util/file_system.h"

namespace blockwal::testing {
namespace {

using ::testing::IsEmpty;

absl::Status ToAbsl(const rocksdb::Status& s) {
  if (s.ok()) return absl::OkStatus();
  if (s.IsNotFound()) return absl::NotFoundError(s.ToString());
  if (s.IsCorruption()) return absl::DataLossError(s.ToString());
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(s.ToString());
  return absl::UnknownError(s.ToString());
}

rocksdb::Options DefaultOptions(bool create_if_missing) {
  rocksdb::Options options;
  options.create_if_missing = create_if_missing;
  // The defaults these tests depend on, stated so a changed default fails
  // loudly here rather than as a mysterious byte difference.
  options.manual_wal_flush = false;    // each write reaches the file at once
  options.recycle_log_file_num = 0;    // legacy 7-byte headers, types 1..4
  options.wal_compression = rocksdb::kNoCompression;
  return options;
}

// RocksDB's Close reports errors that deleting the DB would swallow.
struct RocksDbCloser {
  void operator()(rocksdb::DB* db) const {
    const rocksdb::Status s = db->Close();
    EXPECT_TRUE(s.ok()) << s.ToString();
    delete db;
  }
};
using RocksDbPtr = std::unique_ptr<rocksdb::DB, RocksDbCloser>;

absl::StatusOr<RocksDbPtr> OpenRocksDb(const rocksdb::Options& options,
                                       const std::string& dir) {
  rocksdb::DB* db = nullptr;
  const rocksdb::Status s = rocksdb::DB::Open(options, dir, &db);
  if (!s.ok()) return ToAbsl(s);
  return RocksDbPtr(db);
}

// A single op goes through DB::Put/Delete, anything else through DB::Write.
absl::Status ApplyToRocksDb(rocksdb::DB* db,
                            const std::vector<std::vector<BatchOp>>& writes) {
  rocksdb::WriteOptions write_options;
  write_options.sync = false;
  write_options.disableWAL = false;
  for (const std::vector<BatchOp>& ops : writes) {
    rocksdb::Status s;
    if (ops.size() == 1 && ops[0].kind == BatchOp::kPut) {
      s = db->Put(write_options, ops[0].key, ops[0].value);
    } else if (ops.size() == 1) {
      s = db->Delete(write_options, ops[0].key);
    } else {
      rocksdb::WriteBatch batch;
      for (const BatchOp& op : ops) {
        s = op.kind == BatchOp::kPut ? batch.Put(op.key, op.value)
                                     : batch.Delete(op.key);
        if (!s.ok()) return ToAbsl(s);
      }
      s = db->Write(write_options, &batch);
    }
    if (!s.ok()) return ToAbsl(s);
  }
  return absl::OkStatus();
}

class RocksDbInteropTest : public ::testing::Test {
 protected:
  // Builds the scenario, logging it with blockwal to expected_log_path(), and
  // applies it to a new RocksDB in db_dir_, closed on return. Closing does not
  // flush the memtable when the WAL holds everything (RocksDB flushes at
  // close only data written with the WAL disabled), and the 64 MiB default
  // write buffer is far above the scenario's size, so the WAL is still the
  // only copy of the data and still on disk.
  void WriteScenarioWithRocksDb() {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<BatchLogWriter> expected,
                         BatchLogWriter::Create(expected_log_path(), 1));
    ASSERT_OK_AND_ASSIGN(writes_,
                         BuildScenario(expected.get(),
                                       /*include_empty_batch=*/true));
    ASSERT_OK(expected->Close());

    {
      ASSERT_OK_AND_ASSIGN(RocksDbPtr db,
                           OpenRocksDb(DefaultOptions(true), db_dir_));
      ASSERT_OK(ApplyToRocksDb(db.get(), writes_));
    }
    ASSERT_OK_AND_ASSIGN(rocksdb_log_path_, NewestLogFile(db_dir_));
  }

  std::string expected_log_path() const {
    return JoinPath(dir_, "expected.log");
  }

  const ScratchDir scratch_{"blockwal_interop"};
  const std::string dir_ = scratch_.str();
  const std::string db_dir_ = JoinPath(dir_, "db");
  std::vector<std::vector<BatchOp>> writes_;
  std::string rocksdb_log_path_;
};

TEST_F(RocksDbInteropTest, ReaderDecodesRocksDbWal) {
  ASSERT_NO_FATAL_FAILURE(WriteScenarioWithRocksDb());

  ASSERT_OK_AND_ASSIGN(LogContents log, ReadLogFile(rocksdb_log_path_));
  EXPECT_THAT(log.corruptions, IsEmpty());
  ASSERT_EQ(log.records.size(), writes_.size());
  uint64_t next_sequence = 1;
  for (size_t i = 0; i < log.records.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("record ", i));
    ASSERT_OK_AND_ASSIGN(WriteBatchContents batch,
                         DecodeWriteBatch(log.records[i]));
    EXPECT_EQ(batch.sequence, next_sequence);
    EXPECT_EQ(batch.ops, writes_[i]);
    next_sequence = batch.sequence + batch.ops.size();
  }
}

TEST_F(RocksDbInteropTest, OurWriterReproducesRocksDbWalBytes) {
  ASSERT_NO_FATAL_FAILURE(WriteScenarioWithRocksDb());
  ASSERT_OK_AND_ASSIGN(std::string rocksdb_bytes,
                       ReadFileToString(FileSystem::Default(),
                                        rocksdb_log_path_));

  ASSERT_OK_AND_ASSIGN(LogContents log, ReadLogFile(rocksdb_log_path_));
  EXPECT_THAT(log.corruptions, IsEmpty());
  const std::string rewritten_path = JoinPath(dir_, "rewritten.log");
  ASSERT_OK(WriteLogFile(rewritten_path, log.records));
  ASSERT_OK_AND_ASSIGN(std::string rewritten_bytes,
                       ReadFileToString(FileSystem::Default(), rewritten_path));
  EXPECT_TRUE(rewritten_bytes == rocksdb_bytes)
      << "sizes " << rewritten_bytes.size() << " vs " << rocksdb_bytes.size();

  // Independently encoded batches with the same sequence numbers.
  ASSERT_OK_AND_ASSIGN(std::string expected_bytes,
                       ReadFileToString(FileSystem::Default(),
                                        expected_log_path()));
  EXPECT_TRUE(expected_bytes == rocksdb_bytes)
      << "sizes " << expected_bytes.size() << " vs " << rocksdb_bytes.size();
}

TEST_F(RocksDbInteropTest, RocksDbRecoversOurWal) {
  // An empty database: its MANIFEST names the WAL number recovery starts at,
  // and the (empty) WAL it left is where our log goes.
  {
    ASSERT_OK_AND_ASSIGN(RocksDbPtr db,
                         OpenRocksDb(DefaultOptions(true), db_dir_));
  }
  ASSERT_OK_AND_ASSIGN(const std::string log_path, NewestLogFile(db_dir_));
  ASSERT_OK_AND_ASSIGN(uint64_t log_size,
                       FileSystem::Default()->GetFileSize(log_path));
  ASSERT_EQ(log_size, 0u) << log_path;

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<BatchLogWriter> ours,
                       BatchLogWriter::Create(log_path, 1));
  ASSERT_OK_AND_ASSIGN(writes_, BuildScenario(ours.get(),
                                              /*include_empty_batch=*/true));
  ASSERT_OK(ours->Close());

  rocksdb::Options options = DefaultOptions(false);
  // Any record RocksDB cannot read, anywhere in the WAL, fails Open.
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kAbsoluteConsistency;
  ASSERT_OK_AND_ASSIGN(RocksDbPtr db, OpenRocksDb(options, db_dir_));

  const std::map<std::string, std::string> expected = ApplyWrites(writes_);
  for (const std::string& key : TouchedKeys(writes_)) {
    SCOPED_TRACE(key);
    std::string value;
    const rocksdb::Status s = db->Get(rocksdb::ReadOptions(), key, &value);
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

  std::map<std::string, std::string> scanned;
  std::unique_ptr<rocksdb::Iterator> iter(
      db->NewIterator(rocksdb::ReadOptions()));
  for (iter->SeekToFirst(); iter->Valid(); iter->Next()) {
    scanned[iter->key().ToString()] = iter->value().ToString();
  }
  ASSERT_TRUE(iter->status().ok()) << iter->status().ToString();
  iter.reset();  // before the DB closes
  EXPECT_EQ(scanned.size(), expected.size());
  EXPECT_TRUE(scanned == expected);

  // RocksDB resumes numbering after the last sequence it recovered.
  uint64_t ops = 0;
  for (const std::vector<BatchOp>& w : writes_) ops += w.size();
  EXPECT_EQ(db->GetLatestSequenceNumber(), ops);
}

}  // namespace
}  // namespace blockwal::testing
