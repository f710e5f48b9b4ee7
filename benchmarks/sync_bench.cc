// Durable appends: what an append costs when it may return only once its
// record is on disk, and how group commit spreads one fdatasync over
// concurrent appenders. Every benchmark writes 100-byte values into real files
// and runs at 1, 4, 16 and 64 threads (->Threads(n), wall-clock time):
//
//   BM_LogSyncedAppend    Log::Append under SyncPolicy::kEveryAppend: the
//                         appenders queued at once share one write and one
//                         fdatasync (group commit)
//   BM_RawWriteSync       ::write of a 124-byte record (a 100-byte value as
//                         blockwal frames it: 17-byte envelope, 7-byte block
//                         header) then ::fdatasync, on one descriptor shared
//                         by all threads: each call syncs on its own
//   BM_LevelDBSyncedPut   leveldb::DB::Put, sync=true, 16-byte keys, default
//                         options (LevelDB groups concurrent writers too)
//   BM_RocksDBSyncedPut   rocksdb::DB::Put, sync=true, default options, WAL on
//
// and three what-ifs, BM_LogSyncedAppend on a file system that changes one
// thing (WhatIfFileSystem), to size changes blockwal could make:
//
//   .../NoIndexSync       mapped regions ignore Sync. Written when a group
//                         sync also msync'ed the index; since Segment::Sync
//                         syncs the store alone (the index is synced at Seal)
//                         it differs from BM_LogSyncedAppend only at rolls
//   .../Preallocated      each new store is fallocate()d to max_store_bytes
//                         (and fsync'ed) when created, so appends overwrite
//                         allocated blocks inside the file's size
//   .../PreallocatedNoIndexSync  both
//
// and a ceiling for any group commit on this disk:
//
//   BM_BareGroupCommit/   group commit reduced to its bones (no framing,
//     depthD              checksum, index or writer queue; a mutex, a
//     fallocated_depthD   condition variable, write, fdatasync), with up to D
//                         fdatasyncs in flight at once (D = 1: classic group
//                         commit; 2, 4: pipelined), on a growing file or on
//                         one fallocate()d beforehand
//
// and one thread only:
//
//   BM_RawWriteSyncMsync  BM_RawWriteSync plus what a Log group sync adds: a
//                         12-byte index entry stored into a 10 MiB MAP_SHARED
//                         mapping of a sparse file and msync(MS_SYNC) of it
//                         (what Segment::Sync did before it synced the store
//                         alone)
//   BM_SyncedAppendFile/  one 124-byte record + ::fdatasync per iteration
//     growing             into a file that grows with each write;
//     fallocated          ::pwrite at increasing offsets into a file
//                         fallocate()d to 64 MiB (size set, unwritten extents);
//     zero_filled         ::pwrite at increasing offsets into a file written
//                         full of 64 MiB of zeros (and fsync'ed) beforehand:
//                         would preallocating the store make its syncs cheaper?
//
// An iteration is one durable write by one thread; Google Benchmark sums
// iterations over threads, so "records/s" is records per wall-clock second of
// the whole run. Each thread times every call into a Histogram; they are
// merged for "p50_us"/"p99_us". The log also reports its own counters
// (LogStats): "fsyncs/s" (store syncs per second), "mean_group" (appends per
// group commit) and "p99_sync_us" (latency of a group's sync: the store's
// fdatasync).
//
// Each run starts from a fresh directory (or file) under $BLOCKWAL_BENCH_DIR
// (default $TMPDIR, then /tmp), removed when the run ends. Thread 0 sets up a
// run before the timed loop and tears it down after the other threads finish.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "benchmark/benchmark.h"
#include "benchmarks/bench_util.h"
#include "leveldb/db.h"
#include "leveldb/options.h"
#include "leveldb/slice.h"
#include "leveldb/status.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/slice.h"
#include "rocksdb/status.h"
#include "blockwal/util/coding.h"
#include "blockwal/util/file_system.h"
#include "blockwal/util/histogram.h"
#include "blockwal/util/status_macros.h"
#include "blockwal/wal/format.h"
#include "blockwal/wal/log.h"
#include "blockwal/wal/log_options.h"
#include "blockwal/wal/record.h"
#include "blockwal/wal/segment.h"

namespace blockwal {
namespace {

constexpr size_t kValueSize = 100;
// The store bytes of one kValueSize record in a fresh block: what the raw
// baselines write per call.
constexpr size_t kRecordSize = kValueSize + wal::kEnvelopeSize + wal::kHeaderSize;
static_assert(kRecordSize == 124);
constexpr size_t kKeySize = 16;  // LevelDB / RocksDB keys
// The mirror of a log's index (LogOptions::max_index_bytes) and its entry
// (wal/index.h: relative offset u32 + position u64).
constexpr size_t kIndexBytes = size_t{10} << 20;
constexpr size_t kIndexEntryBytes = 4 + 8;
// Size of the preallocated files; a run must not write past it.
constexpr uint64_t kPreallocBytes = uint64_t{64} << 20;
constexpr size_t kZeroChunk = size_t{1} << 20;

// Every run of a timed benchmark lasts at least this long (scaled by
// $BLOCKWAL_BENCH_TIME_SCALE, bench_util.h), so even a 1-thread run on a
// slow disk averages over hundreds of fdatasyncs.
constexpr double kMinTime = 1.0;

// ------------------------------------------------------------------ helpers

using bench::FreshPath;
using bench::RandomBytes;
using bench::RemoveTree;
using bench::ScratchDir;

absl::Status PosixError(const std::string& path, absl::string_view op) {
  return absl::ErrnoToStatus(errno, absl::StrCat(op, " ", path));
}

// All of `data` with ::write (a short write to a regular file means the disk
// is full or the file too big: an error here).
absl::Status WriteAll(int fd, const std::string& path, absl::string_view data) {
  const ssize_t w = ::write(fd, data.data(), data.size());
  if (w == static_cast<ssize_t>(data.size())) return absl::OkStatus();
  if (w >= 0) return absl::DataLossError(absl::StrCat("short write to ", path));
  return PosixError(path, "write");
}

absl::Status PwriteAll(int fd, const std::string& path, absl::string_view data,
                       uint64_t position) {
  const ssize_t w = ::pwrite(fd, data.data(), data.size(),
                             static_cast<off_t>(position));
  if (w == static_cast<ssize_t>(data.size())) return absl::OkStatus();
  if (w >= 0) return absl::DataLossError(absl::StrCat("short pwrite to ", path));
  return PosixError(path, "pwrite");
}

absl::Status DataSync(int fd, const std::string& path) {
  if (::fdatasync(fd) != 0) return PosixError(path, "fdatasync");
  return absl::OkStatus();
}

absl::Status CloseFd(int fd, const std::string& path) {
  if (::close(fd) != 0) return PosixError(path, "close");
  return absl::OkStatus();
}

// Ends the benchmark (this thread's part of it) with `s` when it is an error;
// returns whether it did. Only the first error is reported.
bool SkipIfError(benchmark::State& state, const absl::Status& s) {
  if (s.ok()) return false;
  if (!state.error_occurred()) state.SkipWithError(s.ToString().c_str());
  return true;
}

using Clock = std::chrono::steady_clock;

uint64_t MicrosSince(Clock::time_point start) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start)
          .count());
}

enum class FileKind { kGrowing, kFallocated, kZeroFilled };

// Makes the file what `kind` says, durably (its size, extents and zeros are
// on disk before the first timed write).
absl::Status PrepareFile(int fd, const std::string& path, FileKind kind) {
  switch (kind) {
    case FileKind::kGrowing:
      break;
    case FileKind::kFallocated:
      if (::fallocate(fd, 0, 0, static_cast<off_t>(kPreallocBytes)) != 0) {
        return PosixError(path, "fallocate");
      }
      break;
    case FileKind::kZeroFilled: {
      const std::string zeros(kZeroChunk, '\0');
      for (uint64_t written = 0; written < kPreallocBytes; written += kZeroChunk) {
        BW_RETURN_IF_ERROR(WriteAll(fd, path, zeros));
      }
      break;
    }
  }
  if (::fsync(fd) != 0) return PosixError(path, "fsync");
  return absl::OkStatus();
}

void SetLatencyCounters(benchmark::State& state, const Histogram& latency) {
  state.counters["p50_us"] = static_cast<double>(latency.Percentile(50));
  state.counters["p99_us"] = static_cast<double>(latency.Percentile(99));
}

// Sixteen hex digits: the thread in the first two, then a per-thread sequence
// number, so each thread's keys are distinct and ascending.
void EncodeKey(int thread, uint64_t seq, char* key) {
  static constexpr char kDigits[] = "0123456789abcdef";
  uint64_t n = (static_cast<uint64_t>(thread) << 56) | (seq & ((uint64_t{1} << 56) - 1));
  for (int i = static_cast<int>(kKeySize) - 1; i >= 0; --i) {
    key[i] = kDigits[n & 0xf];
    n >>= 4;
  }
}

// ------------------------------------------------- what the threads write to

// One system under test: a durable write of one 100-byte value.
class SyncedTarget {
 public:
  SyncedTarget() = default;
  SyncedTarget(const SyncedTarget&) = delete;
  SyncedTarget& operator=(const SyncedTarget&) = delete;
  virtual ~SyncedTarget() = default;

  // Returns once the value is durable. Called by all threads at once;
  // (thread, seq) is unique within a run.
  virtual absl::Status Write(int thread, uint64_t seq) = 0;
  // Thread 0, after every thread has stopped writing: sets the target's own
  // counters, closes it and removes its files.
  virtual absl::Status Finish(benchmark::State& state) = 0;
};

// A mapped region whose Sync does nothing.
class UnsyncedRegion final : public MappedRegion {
 public:
  explicit UnsyncedRegion(std::unique_ptr<MappedRegion> base)
      : base_(std::move(base)) {}
  char* data() override { return base_->data(); }
  size_t size() const override { return base_->size(); }
  absl::Status Sync() override { return absl::OkStatus(); }
  const std::string& path() const override { return base_->path(); }

 private:
  const std::unique_ptr<MappedRegion> base_;
};

// FileSystem::Default() with one or two changes for the what-ifs: mapped
// regions (a log's indexes) that are never msync'ed; stores (files named
// *.store) fallocate()d to `preallocate` bytes when created. A new store's
// writer starts at position 0 (PosixWritableFile pwrites at its own offset),
// so its appends land inside the preallocated size. Not for real logs: the
// store's size no longer says where its records end.
class WhatIfFileSystem final : public FileSystem {
 public:
  WhatIfFileSystem(bool sync_maps, uint64_t preallocate)
      : sync_maps_(sync_maps), preallocate_(preallocate) {}

  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(
      const std::string& path) override {
    BW_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file,
                        base_->NewWritableFile(path));
    if (preallocate_ > 0 && absl::EndsWith(path, wal::kStoreSuffix)) {
      BW_RETURN_IF_ERROR(Preallocate(path));
    }
    return file;
  }
  absl::StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(
      const std::string& path) override {
    return base_->NewAppendableFile(path);
  }
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) override {
    return base_->NewRandomAccessFile(path);
  }
  absl::StatusOr<std::unique_ptr<SequentialFile>> NewSequentialFile(
      const std::string& path) override {
    return base_->NewSequentialFile(path);
  }
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewReadOnlyMappedFile(
      const std::string& path) override {
    return base_->NewReadOnlyMappedFile(path);
  }
  absl::StatusOr<std::unique_ptr<MappedRegion>> MapFile(
      const std::string& path, size_t size) override {
    BW_ASSIGN_OR_RETURN(std::unique_ptr<MappedRegion> region,
                        base_->MapFile(path, size));
    if (sync_maps_) return region;
    return std::unique_ptr<MappedRegion>(new UnsyncedRegion(std::move(region)));
  }
  absl::StatusOr<bool> FileExists(const std::string& path) override {
    return base_->FileExists(path);
  }
  absl::StatusOr<uint64_t> GetFileSize(const std::string& path) override {
    return base_->GetFileSize(path);
  }
  absl::StatusOr<std::vector<std::string>> GetChildren(
      const std::string& dir) override {
    return base_->GetChildren(dir);
  }
  absl::Status CreateDir(const std::string& dir) override {
    return base_->CreateDir(dir);
  }
  absl::Status RemoveFile(const std::string& path) override {
    return base_->RemoveFile(path);
  }
  absl::Status RemoveDir(const std::string& dir) override {
    return base_->RemoveDir(dir);
  }
  absl::Status RenameFile(const std::string& from,
                          const std::string& to) override {
    return base_->RenameFile(from, to);
  }
  absl::Status TruncateFile(const std::string& path, uint64_t size) override {
    return base_->TruncateFile(path, size);
  }
  absl::Status SyncDir(const std::string& dir) override {
    return base_->SyncDir(dir);
  }
  absl::StatusOr<std::unique_ptr<FileLock>> LockFile(
      const std::string& path) override {
    return base_->LockFile(path);
  }

 private:
  absl::Status Preallocate(const std::string& path) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return PosixError(path, "open");
    absl::Status s;
    if (::fallocate(fd, 0, 0, static_cast<off_t>(preallocate_)) != 0) {
      s = PosixError(path, "fallocate");
    } else if (::fsync(fd) != 0) {
      s = PosixError(path, "fsync");
    }
    const absl::Status close_status = CloseFd(fd, path);
    return s.ok() ? close_status : s;
  }

  FileSystem* const base_ = FileSystem::Default();
  const bool sync_maps_;
  const uint64_t preallocate_;
};

class LogTarget final : public SyncedTarget {
 public:
  static absl::StatusOr<std::unique_ptr<SyncedTarget>> Open() {
    return OpenOn(FileSystem::Default());
  }
  static absl::StatusOr<std::unique_ptr<SyncedTarget>> OpenNoIndexSync() {
    static FileSystem* fs = new WhatIfFileSystem(/*sync_maps=*/false, 0);
    return OpenOn(fs);
  }
  static absl::StatusOr<std::unique_ptr<SyncedTarget>> OpenPreallocated() {
    static FileSystem* fs = new WhatIfFileSystem(
        /*sync_maps=*/true, wal::LogOptions().max_store_bytes);
    return OpenOn(fs);
  }
  static absl::StatusOr<std::unique_ptr<SyncedTarget>>
  OpenPreallocatedNoIndexSync() {
    static FileSystem* fs = new WhatIfFileSystem(
        /*sync_maps=*/false, wal::LogOptions().max_store_bytes);
    return OpenOn(fs);
  }

  static absl::StatusOr<std::unique_ptr<SyncedTarget>> OpenOn(FileSystem* fs) {
    BW_ASSIGN_OR_RETURN(std::string dir, FreshPath("log"));
    wal::LogOptions options;
    options.fs = fs;
    options.sync_policy = wal::SyncPolicy::kEveryAppend;
    BW_ASSIGN_OR_RETURN(std::unique_ptr<wal::Log> log,
                        wal::Log::Open(dir, options));
    const uint64_t syncs_at_open = log->GetStats().syncs;
    return std::unique_ptr<SyncedTarget>(
        new LogTarget(std::move(dir), std::move(log), syncs_at_open));
  }

  absl::Status Write(int thread, uint64_t seq) override {
    return log_->Append(value_).status();
  }

  absl::Status Finish(benchmark::State& state) override {
    const wal::LogStats stats = log_->GetStats();
    state.counters["fsyncs/s"] = benchmark::Counter(
        static_cast<double>(stats.syncs - syncs_at_open_),
        benchmark::Counter::kIsRate);
    state.counters["mean_group"] = stats.group_size.mean();
    state.counters["p99_sync_us"] =
        static_cast<double>(stats.sync_latency_us.Percentile(99));
    absl::Status s = log_->Close();
    log_.reset();
    const absl::Status rm = RemoveTree(dir_);
    return s.ok() ? rm : s;
  }

 private:
  LogTarget(std::string dir, std::unique_ptr<wal::Log> log,
            uint64_t syncs_at_open)
      : dir_(std::move(dir)),
        log_(std::move(log)),
        syncs_at_open_(syncs_at_open),
        value_(RandomBytes(kValueSize)) {}

  const std::string dir_;
  std::unique_ptr<wal::Log> log_;
  const uint64_t syncs_at_open_;
  const std::string value_;
};

// write + fdatasync on one descriptor. The threads' writes land in some order
// (the file offset is updated atomically); each caller waits for its own sync.
class RawTarget final : public SyncedTarget {
 public:
  static absl::StatusOr<std::unique_ptr<SyncedTarget>> Open() {
    BW_ASSIGN_OR_RETURN(std::string path, FreshPath("raw"));
    const int fd =
        ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return PosixError(path, "open");
    return std::unique_ptr<SyncedTarget>(new RawTarget(std::move(path), fd));
  }

  absl::Status Write(int thread, uint64_t seq) override {
    BW_RETURN_IF_ERROR(WriteAll(fd_, path_, record_));
    BW_RETURN_IF_ERROR(DataSync(fd_, path_));
    syncs_.fetch_add(1, std::memory_order_relaxed);
    return absl::OkStatus();
  }

  absl::Status Finish(benchmark::State& state) override {
    state.counters["fsyncs/s"] = benchmark::Counter(
        static_cast<double>(syncs_.load()), benchmark::Counter::kIsRate);
    const absl::Status s = CloseFd(fd_, path_);
    const absl::Status rm = RemoveTree(path_);
    return s.ok() ? rm : s;
  }

 private:
  RawTarget(std::string path, int fd)
      : path_(std::move(path)), fd_(fd), record_(RandomBytes(kRecordSize)) {}

  const std::string path_;
  const int fd_;
  const std::string record_;
  std::atomic<uint64_t> syncs_{0};
};

// Group commit reduced to its bones, as a ceiling for what any group commit
// could reach on this disk: no framing, no checksum, no index, no queue of
// writers. Each Write appends its record to the file under the mutex, then
// waits until an fdatasync that started after that write has returned. A
// writer whose bytes no running sync covers starts one itself when fewer
// than `depth` are running (depth 1 is classic group commit, as LevelDB,
// RocksDB and blockwal do it; more lets syncs overlap, "pipelined" group
// commit), and otherwise waits for a sync to finish. Every write and sync
// that has returned before a sync starts is covered by it, so "durable up to
// X" is the largest X written before any completed sync started. With
// kPreallocated the file is fallocate()d to kPreallocBytes (and fsync'ed)
// before the run and written with pwrite inside that size, so a sync need not
// write the inode.
class BareGroupCommitTarget final : public SyncedTarget {
 public:
  template <int kDepth, bool kPreallocated>
  static absl::StatusOr<std::unique_ptr<SyncedTarget>> Open() {
    BW_ASSIGN_OR_RETURN(std::string path, FreshPath("bare"));
    const int fd =
        ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return PosixError(path, "open");
    auto target = std::unique_ptr<BareGroupCommitTarget>(
        new BareGroupCommitTarget(std::move(path), fd, kDepth, kPreallocated));
    if (kPreallocated) {
      BW_RETURN_IF_ERROR(PrepareFile(fd, target->path_, FileKind::kFallocated));
    }
    return std::unique_ptr<SyncedTarget>(std::move(target));
  }

  absl::Status Write(int thread, uint64_t seq) override {
    absl::MutexLock lock(&mu_);
    BW_RETURN_IF_ERROR(status_);
    if (!preallocated_) {
      BW_RETURN_IF_ERROR(WriteAll(fd_, path_, record_));
    } else if (written_ + record_.size() > kPreallocBytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("preallocated ", kPreallocBytes, " bytes are used up"));
    } else {
      BW_RETURN_IF_ERROR(PwriteAll(fd_, path_, record_, written_));
    }
    written_ += record_.size();
    const uint64_t mine = written_;
    while (durable_ < mine) {
      if (covering_ < mine && syncing_ < depth_) {
        covering_ = written_;
        const uint64_t covered = written_;
        ++syncing_;
        ++syncs_;
        mu_.Unlock();
        absl::Status s = DataSync(fd_, path_);
        mu_.Lock();
        --syncing_;
        if (!s.ok() && status_.ok()) status_ = s;
        if (s.ok() && covered > durable_) durable_ = covered;
        done_.SignalAll();
      } else {
        done_.Wait(&mu_);
      }
      BW_RETURN_IF_ERROR(status_);
    }
    return absl::OkStatus();
  }

  absl::Status Finish(benchmark::State& state) override {
    uint64_t syncs;
    {
      absl::MutexLock lock(&mu_);
      syncs = syncs_;
    }
    state.counters["fsyncs/s"] = benchmark::Counter(
        static_cast<double>(syncs), benchmark::Counter::kIsRate);
    const absl::Status s = CloseFd(fd_, path_);
    const absl::Status rm = RemoveTree(path_);
    return s.ok() ? rm : s;
  }

 private:
  BareGroupCommitTarget(std::string path, int fd, int depth, bool preallocated)
      : path_(std::move(path)),
        fd_(fd),
        depth_(depth),
        preallocated_(preallocated),
        record_(RandomBytes(kRecordSize)) {}

  const std::string path_;
  const int fd_;
  const int depth_;
  const bool preallocated_;
  const std::string record_;
  absl::Mutex mu_;
  absl::CondVar done_;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  uint64_t written_ ABSL_GUARDED_BY(mu_) = 0;   // bytes written
  uint64_t covering_ ABSL_GUARDED_BY(mu_) = 0;  // the newest sync covers these
  uint64_t durable_ ABSL_GUARDED_BY(mu_) = 0;   // a returned sync covered these
  int syncing_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t syncs_ ABSL_GUARDED_BY(mu_) = 0;
};

absl::Status FromLevelDB(const leveldb::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::UnknownError(absl::StrCat("leveldb: ", s.ToString()));
}

class LevelDBTarget final : public SyncedTarget {
 public:
  static absl::StatusOr<std::unique_ptr<SyncedTarget>> Open() {
    BW_ASSIGN_OR_RETURN(std::string path, FreshPath("leveldb"));
    leveldb::Options options;  // defaults: 4 MiB write buffer, Snappy
    options.create_if_missing = true;
    options.error_if_exists = true;
    leveldb::DB* db = nullptr;
    BW_RETURN_IF_ERROR(FromLevelDB(leveldb::DB::Open(options, path, &db)));
    return std::unique_ptr<SyncedTarget>(
        new LevelDBTarget(std::move(path), std::unique_ptr<leveldb::DB>(db)));
  }

  absl::Status Write(int thread, uint64_t seq) override {
    char key[kKeySize];
    EncodeKey(thread, seq, key);
    return FromLevelDB(
        db_->Put(write_options_, leveldb::Slice(key, sizeof(key)), value_));
  }

  absl::Status Finish(benchmark::State& state) override {
    db_.reset();
    absl::Status s = FromLevelDB(leveldb::DestroyDB(path_, leveldb::Options()));
    const absl::Status rm = RemoveTree(path_);
    return s.ok() ? rm : s;
  }

 private:
  LevelDBTarget(std::string path, std::unique_ptr<leveldb::DB> db)
      : path_(std::move(path)), db_(std::move(db)), value_(RandomBytes(kValueSize)) {
    write_options_.sync = true;
  }

  const std::string path_;
  std::unique_ptr<leveldb::DB> db_;
  const std::string value_;
  leveldb::WriteOptions write_options_;
};

absl::Status FromRocksDB(const rocksdb::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::UnknownError(absl::StrCat("rocksdb: ", s.ToString()));
}

class RocksDBTarget final : public SyncedTarget {
 public:
  static absl::StatusOr<std::unique_ptr<SyncedTarget>> Open() {
    BW_ASSIGN_OR_RETURN(std::string path, FreshPath("rocksdb"));
    rocksdb::Options options;  // defaults: WAL on, fdatasync (use_fsync=false)
    options.create_if_missing = true;
    options.error_if_exists = true;
    rocksdb::DB* db = nullptr;
    BW_RETURN_IF_ERROR(FromRocksDB(rocksdb::DB::Open(options, path, &db)));
    return std::unique_ptr<SyncedTarget>(
        new RocksDBTarget(std::move(path), std::unique_ptr<rocksdb::DB>(db)));
  }

  absl::Status Write(int thread, uint64_t seq) override {
    char key[kKeySize];
    EncodeKey(thread, seq, key);
    return FromRocksDB(
        db_->Put(write_options_, rocksdb::Slice(key, sizeof(key)), value_));
  }

  absl::Status Finish(benchmark::State& state) override {
    absl::Status s = FromRocksDB(db_->Close());
    db_.reset();
    const absl::Status destroy =
        FromRocksDB(rocksdb::DestroyDB(path_, rocksdb::Options()));
    if (s.ok()) s = destroy;
    const absl::Status rm = RemoveTree(path_);
    return s.ok() ? rm : s;
  }

 private:
  RocksDBTarget(std::string path, std::unique_ptr<rocksdb::DB> db)
      : path_(std::move(path)), db_(std::move(db)), value_(RandomBytes(kValueSize)) {
    write_options_.sync = true;
  }

  const std::string path_;
  std::unique_ptr<rocksdb::DB> db_;
  const std::string value_;
  rocksdb::WriteOptions write_options_;
};

// ------------------------------------------------------- threaded harness

// What the threads of one run share. Google Benchmark starts the threads of a
// run together and holds them at a barrier before and after the timed loop,
// so thread 0 sets the target up before its loop and the others first look at
// it inside theirs. After its loop each thread hands in its latencies; thread
// 0 waits for all of them before it tears the target down. Runs follow each
// other (a run's threads are joined before the next one starts).
class SharedRun {
 public:
  // Thread 0, before the loop. A null target means setup failed.
  void Begin(std::unique_ptr<SyncedTarget> target) {
    absl::MutexLock lock(&mu_);
    target_ = std::move(target);
    latency_.Clear();
    threads_done_ = 0;
  }

  // Any thread, inside the loop. Null when setup failed.
  SyncedTarget* target() {
    absl::MutexLock lock(&mu_);
    return target_.get();
  }

  // Every thread, after its loop.
  void AddLatencies(const Histogram& latency) {
    absl::MutexLock lock(&mu_);
    latency_.Merge(latency);
    ++threads_done_;
  }

  // Thread 0, after AddLatencies: waits for all `threads` threads to have
  // added theirs, then returns the merged histogram and the target (which no
  // other thread uses any more).
  std::pair<Histogram, std::unique_ptr<SyncedTarget>> End(int threads) {
    struct AllDone {
      SharedRun* run;
      int threads;
    } all_done{this, threads};
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        // Evaluated by absl::Mutex with mu_ held; the analysis cannot see
        // that through the function pointer.
        +[](AllDone* a) ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return a->run->threads_done_ >= a->threads;
        },
        &all_done));
    return {latency_, std::move(target_)};
  }

 private:
  absl::Mutex mu_;
  std::unique_ptr<SyncedTarget> target_ ABSL_GUARDED_BY(mu_);
  Histogram latency_ ABSL_GUARDED_BY(mu_);
  int threads_done_ ABSL_GUARDED_BY(mu_) = 0;
};

SharedRun& TheRun() {
  static SharedRun* run = new SharedRun;
  return *run;
}

using OpenFn = absl::StatusOr<std::unique_ptr<SyncedTarget>> (*)();

void RunSynced(benchmark::State& state, OpenFn open) {
  SharedRun& run = TheRun();
  const int thread = state.thread_index();
  if (thread == 0) {
    absl::StatusOr<std::unique_ptr<SyncedTarget>> target = open();
    SkipIfError(state, target.status());
    run.Begin(target.ok() ? std::move(*target) : nullptr);
  }

  Histogram latency;
  SyncedTarget* target = nullptr;
  uint64_t seq = 0;
  for (auto _ : state) {
    if (target == nullptr) {
      target = run.target();
      if (target == nullptr) {
        state.SkipWithError("setup failed (see thread 0's error)");
        break;
      }
    }
    const Clock::time_point start = Clock::now();
    const absl::Status s = target->Write(thread, seq++);
    latency.Add(MicrosSince(start));
    if (SkipIfError(state, s)) break;
  }
  run.AddLatencies(latency);

  // Counters are summed over threads: the rate counts every thread's
  // records; the rest are set by thread 0 alone.
  state.counters["records/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  if (thread == 0) {
    auto [all, done] = run.End(state.threads());
    SetLatencyCounters(state, all);
    if (done != nullptr) SkipIfError(state, done->Finish(state));
  }
}

void BM_LogSyncedAppend(benchmark::State& state) {
  RunSynced(state, &LogTarget::Open);
}
void BM_LogSyncedAppend_NoIndexSync(benchmark::State& state) {
  RunSynced(state, &LogTarget::OpenNoIndexSync);
}
void BM_LogSyncedAppend_Preallocated(benchmark::State& state) {
  RunSynced(state, &LogTarget::OpenPreallocated);
}
void BM_LogSyncedAppend_PreallocatedNoIndexSync(benchmark::State& state) {
  RunSynced(state, &LogTarget::OpenPreallocatedNoIndexSync);
}
void BM_RawWriteSync(benchmark::State& state) {
  RunSynced(state, &RawTarget::Open);
}
void BM_BareGroupCommit(benchmark::State& state, OpenFn open) {
  RunSynced(state, open);
}
void BM_LevelDBSyncedPut(benchmark::State& state) {
  RunSynced(state, &LevelDBTarget::Open);
}
void BM_RocksDBSyncedPut(benchmark::State& state) {
  RunSynced(state, &RocksDBTarget::Open);
}

void ThreadSweep(benchmark::internal::Benchmark* b) {
  b->Threads(1)->Threads(4)->Threads(16)->Threads(64);
  b->MinTime(bench::ScaledMinTime(kMinTime))->UseRealTime();
}

BENCHMARK(BM_LogSyncedAppend)->Apply(ThreadSweep);
BENCHMARK(BM_RawWriteSync)->Apply(ThreadSweep);
BENCHMARK(BM_LevelDBSyncedPut)->Apply(ThreadSweep);
BENCHMARK(BM_RocksDBSyncedPut)->Apply(ThreadSweep);
BENCHMARK(BM_LogSyncedAppend_NoIndexSync)->Apply(ThreadSweep);
BENCHMARK(BM_LogSyncedAppend_Preallocated)->Apply(ThreadSweep);
BENCHMARK(BM_LogSyncedAppend_PreallocatedNoIndexSync)->Apply(ThreadSweep);
BENCHMARK_CAPTURE(BM_BareGroupCommit, depth1,
                  &BareGroupCommitTarget::Open<1, false>)->Apply(ThreadSweep);
BENCHMARK_CAPTURE(BM_BareGroupCommit, depth2,
                  &BareGroupCommitTarget::Open<2, false>)->Apply(ThreadSweep);
BENCHMARK_CAPTURE(BM_BareGroupCommit, depth4,
                  &BareGroupCommitTarget::Open<4, false>)->Apply(ThreadSweep);
BENCHMARK_CAPTURE(BM_BareGroupCommit, fallocated_depth1,
                  &BareGroupCommitTarget::Open<1, true>)->Apply(ThreadSweep);
BENCHMARK_CAPTURE(BM_BareGroupCommit, fallocated_depth2,
                  &BareGroupCommitTarget::Open<2, true>)->Apply(ThreadSweep);
BENCHMARK_CAPTURE(BM_BareGroupCommit, fallocated_depth4,
                  &BareGroupCommitTarget::Open<4, true>)->Apply(ThreadSweep);

// ------------------------------------------------- single-thread what-ifs

// A store and a mapped sparse index, synced as Segment::Sync does.
void BM_RawWriteSyncMsync(benchmark::State& state) {
  absl::StatusOr<std::string> dir = FreshPath("raw_msync");
  if (SkipIfError(state, dir.status())) return;
  if (::mkdir(dir->c_str(), 0755) != 0) {
    SkipIfError(state, PosixError(*dir, "mkdir"));
    return;
  }
  const std::string store_path = JoinPath(*dir, "store");
  const std::string index_path = JoinPath(*dir, "index");
  const int store =
      ::open(store_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int index = ::open(index_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  void* map = MAP_FAILED;
  absl::Status s;
  if (store < 0) s = PosixError(store_path, "open");
  if (s.ok() && index < 0) s = PosixError(index_path, "open");
  if (s.ok() && ::ftruncate(index, static_cast<off_t>(kIndexBytes)) != 0) {
    s = PosixError(index_path, "ftruncate");
  }
  if (s.ok()) {
    map = ::mmap(nullptr, kIndexBytes, PROT_READ | PROT_WRITE, MAP_SHARED,
                 index, 0);
    if (map == MAP_FAILED) s = PosixError(index_path, "mmap");
  }
  SkipIfError(state, s);

  const std::string record = RandomBytes(kRecordSize);
  char* const entries = static_cast<char*>(map);
  uint64_t n = 0;
  Histogram latency;
  for (auto _ : state) {
    if (!s.ok()) break;
    if ((n + 1) * kIndexEntryBytes > kIndexBytes) {
      s = absl::ResourceExhaustedError("index mirror is full");
    }
    const Clock::time_point start = Clock::now();
    if (s.ok()) s = WriteAll(store, store_path, record);
    if (s.ok()) {
      char* p = entries + n * kIndexEntryBytes;
      EncodeFixed32(p, static_cast<uint32_t>(n));
      EncodeFixed64(p + 4, n * kRecordSize);
      ++n;
      s = DataSync(store, store_path);
    }
    if (s.ok() && ::msync(map, kIndexBytes, MS_SYNC) != 0) {
      s = PosixError(index_path, "msync");
    }
    latency.Add(MicrosSince(start));
    if (SkipIfError(state, s)) break;
  }
  if (map != MAP_FAILED) ::munmap(map, kIndexBytes);
  if (index >= 0) SkipIfError(state, CloseFd(index, index_path));
  if (store >= 0) SkipIfError(state, CloseFd(store, store_path));
  SkipIfError(state, RemoveTree(*dir));
  state.counters["records/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  SetLatencyCounters(state, latency);
}

void BM_SyncedAppendFile(benchmark::State& state, FileKind kind) {
  absl::StatusOr<std::string> path = FreshPath("file");
  if (SkipIfError(state, path.status())) return;
  const int fd = ::open(path->c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    SkipIfError(state, PosixError(*path, "open"));
    return;
  }
  absl::Status s = PrepareFile(fd, *path, kind);
  SkipIfError(state, s);

  const std::string record = RandomBytes(kRecordSize);
  uint64_t position = 0;
  Histogram latency;
  for (auto _ : state) {
    if (!s.ok()) break;
    const Clock::time_point start = Clock::now();
    if (kind == FileKind::kGrowing) {
      s = WriteAll(fd, *path, record);
    } else if (position + kRecordSize > kPreallocBytes) {
      s = absl::ResourceExhaustedError(
          absl::StrCat("preallocated ", kPreallocBytes, " bytes are used up"));
    } else {
      s = PwriteAll(fd, *path, record, position);
    }
    position += kRecordSize;
    if (s.ok()) s = DataSync(fd, *path);
    latency.Add(MicrosSince(start));
    if (SkipIfError(state, s)) break;
  }
  SkipIfError(state, CloseFd(fd, *path));
  SkipIfError(state, RemoveTree(*path));
  state.counters["records/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  SetLatencyCounters(state, latency);
}

BENCHMARK(BM_RawWriteSyncMsync)->MinTime(bench::ScaledMinTime(kMinTime))->UseRealTime();
BENCHMARK_CAPTURE(BM_SyncedAppendFile, growing, FileKind::kGrowing)
    ->MinTime(bench::ScaledMinTime(kMinTime))->UseRealTime();
BENCHMARK_CAPTURE(BM_SyncedAppendFile, fallocated, FileKind::kFallocated)
    ->MinTime(bench::ScaledMinTime(kMinTime))->UseRealTime();
BENCHMARK_CAPTURE(BM_SyncedAppendFile, zero_filled, FileKind::kZeroFilled)
    ->MinTime(bench::ScaledMinTime(kMinTime))->UseRealTime();

}  // namespace
}  // namespace blockwal

int main(int argc, char** argv) {
  return blockwal::bench::RunBenchmarkMain(argc, argv, "sync_bench",
                                           /*measure_mutexes_as_release=*/true);
}
