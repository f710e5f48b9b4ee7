// The key-value store against LevelDB and RocksDB: the same workloads, in the
// same binary and run, on each system (the benchmark name's suffix):
//
//   BM_PutNoSync    Put, sync off, 100-byte values (each key its own random
//                   bytes), 16-byte sequential keys, one thread, default
//                   options
//   BM_PutSync      Put, sync on (every Put durable on return), at 1 and 16
//                   threads sharing one store, wall-clock time; each thread
//                   writes its own run of sequential keys
//   BM_GetRandom    Get of uniformly random existing keys of a store of
//                   kGetKeys keys (written unsynced, then reopened; not
//                   compacted, so LevelDB/RocksDB hold them in a mix of
//                   memtable and level-0/1 tables as their defaults leave
//                   them), one thread
//   BM_GetRandomCheckpointed
//                   the same after Persist (below) and a reopen: blockwal
//                   reads from its checkpoint file, chunk by chunk; LevelDB
//                   and RocksDB from their tables (with their block caches)
//   BM_OpenWal      Open of a store of N keys (the argument, 125,000 to
//                   1,000,000; 100-byte values) that are all in the
//                   write-ahead log: blockwal with no checkpoint;
//                   LevelDB/RocksDB written with a write buffer big
//                   enough that nothing was flushed, then closed. Opened
//                   with default options, so LevelDB replays its log into the
//                   memtable and writes it out as level-0 tables during Open,
//                   and RocksDB replays its WAL and flushes the result to an
//                   L0 SST (avoid_flush_during_recovery=false)
//   BM_OpenCheckpointed
//                   Open of the same data after a checkpoint: blockwal
//                   DB::Checkpoint; LevelDB CompactRange(all) then close;
//                   RocksDB Flush then close
//   BM_OpenCheckpointedVerified
//                   blockwal only: the same open with
//                   Options::verify_checkpoint_on_open, which reads and
//                   verifies every checkpoint chunk
//
// Opens change the directory (LevelDB/RocksDB write tables, all three write
// new log files), so every open iteration opens a fresh copy of a store built
// once per system and size (outside any timed region); the copy is made and sync()ed
// before the clock starts. Only DB::Open is timed (manual time, wall clock);
// the close after it, which waits for the background work Open scheduled, is
// not. A Get of the last key written checks each open, untimed.
//
// Files live in a fresh directory under $BLOCKWAL_BENCH_DIR (default $TMPDIR,
// then /tmp), removed at exit.
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "benchmark/benchmark.h"
#include "benchmarks/bench_util.h"
#include "blockwal/db/db.h"
#include "leveldb/db.h"
#include "leveldb/options.h"
#include "leveldb/slice.h"
#include "leveldb/status.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/slice.h"
#include "rocksdb/status.h"
#include "blockwal/util/file_system.h"
#include "blockwal/util/status_macros.h"

namespace blockwal {
namespace {

constexpr size_t kKeySize = 16;
constexpr size_t kValueSize = 100;
constexpr uint64_t kGetKeys = 100'000;
// Opens: stores of these many keys.
constexpr int64_t kOpenKeys[] = {125'000, 250'000, 500'000, 1'000'000};
constexpr int kOpenIterations = 3;
constexpr size_t kRandomKeys = size_t{1} << 20;  // a power of two
// Write buffer while building the all-in-the-log stores: nothing flushes.
constexpr size_t kBigWriteBuffer = size_t{1} << 30;

enum class System { kBlockwal, kLevelDB, kRocksDB };

// ------------------------------------------------------------------ helpers

using bench::FreshPath;
using bench::RandomBytes;
using bench::RemoveTree;
using bench::ScratchDir;

absl::Status CopyTree(const std::string& from, const std::string& to) {
  std::error_code ec;
  std::filesystem::copy(from, to, std::filesystem::copy_options::recursive, ec);
  if (ec) {
    return absl::ErrnoToStatus(ec.value(),
                               absl::StrCat("copy ", from, " to ", to));
  }
  return absl::OkStatus();
}

// Sixteen hex digits, most significant first, so keys sort in write order.
void EncodeKey(uint64_t n, char* key) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (int i = static_cast<int>(kKeySize) - 1; i >= 0; --i) {
    key[i] = kDigits[n & 0xf];
    n >>= 4;
  }
}

bool SkipIfError(benchmark::State& state, const absl::Status& s) {
  if (s.ok()) return false;
  if (!state.error_occurred()) state.SkipWithError(s.ToString().c_str());
  return true;
}

void SetOpCounters(benchmark::State& state) {
  state.counters["ops/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// ------------------------------------------------------------------ engines

struct EngineOptions {
  bool sync = false;
  bool big_write_buffer = false;  // LevelDB/RocksDB: never flush while open
  bool verify_checkpoint = false;  // blockwal: verify_checkpoint_on_open
};

// One store of any of the three systems. Put/Get may be called concurrently.
class Engine {
 public:
  virtual ~Engine() = default;
  virtual absl::Status Put(absl::string_view key, absl::string_view value) = 0;
  // OK and *value set, or an error (NotFound included).
  virtual absl::Status Get(absl::string_view key, std::string* value) = 0;
  // blockwal: Checkpoint; LevelDB: CompactRange of everything; RocksDB: Flush.
  virtual absl::Status Persist() = 0;
  virtual absl::Status Close() = 0;
};

class BlockwalEngine : public Engine {
 public:
  static absl::StatusOr<std::unique_ptr<Engine>> Open(const std::string& path,
                                                      EngineOptions eo) {
    db::Options options;
    options.sync = eo.sync;
    options.verify_checkpoint_on_open = eo.verify_checkpoint;
    BW_ASSIGN_OR_RETURN(std::unique_ptr<db::DB> db, db::DB::Open(path, options));
    return std::unique_ptr<Engine>(new BlockwalEngine(std::move(db)));
  }
  absl::Status Put(absl::string_view key, absl::string_view value) override {
    return db_->Put(key, value);
  }
  absl::Status Get(absl::string_view key, std::string* value) override {
    absl::StatusOr<std::string> v = db_->Get(key);
    if (!v.ok()) return v.status();
    *value = *std::move(v);
    return absl::OkStatus();
  }
  absl::Status Persist() override { return db_->Checkpoint().status(); }
  absl::Status Close() override {
    absl::Status s = db_->Close();
    db_.reset();
    return s;
  }

 private:
  explicit BlockwalEngine(std::unique_ptr<db::DB> db) : db_(std::move(db)) {}
  std::unique_ptr<db::DB> db_;
};

absl::Status FromLevelDB(const leveldb::Status& s) {
  if (s.ok()) return absl::OkStatus();
  if (s.IsNotFound()) return absl::NotFoundError(s.ToString());
  return absl::UnknownError(absl::StrCat("leveldb: ", s.ToString()));
}

class LevelDBEngine : public Engine {
 public:
  static absl::StatusOr<std::unique_ptr<Engine>> Open(const std::string& path,
                                                      EngineOptions eo) {
    leveldb::Options options;  // defaults otherwise (4 MiB write buffer)
    options.create_if_missing = true;
    if (eo.big_write_buffer) options.write_buffer_size = kBigWriteBuffer;
    leveldb::DB* db = nullptr;
    BW_RETURN_IF_ERROR(FromLevelDB(leveldb::DB::Open(options, path, &db)));
    return std::unique_ptr<Engine>(
        new LevelDBEngine(std::unique_ptr<leveldb::DB>(db), eo.sync));
  }
  absl::Status Put(absl::string_view key, absl::string_view value) override {
    return FromLevelDB(
        db_->Put(write_options_, leveldb::Slice(key.data(), key.size()),
                 leveldb::Slice(value.data(), value.size())));
  }
  absl::Status Get(absl::string_view key, std::string* value) override {
    return FromLevelDB(db_->Get(leveldb::ReadOptions(),
                                leveldb::Slice(key.data(), key.size()), value));
  }
  absl::Status Persist() override {
    db_->CompactRange(nullptr, nullptr);
    return absl::OkStatus();
  }
  absl::Status Close() override {
    db_.reset();  // waits for background compaction
    return absl::OkStatus();
  }

 private:
  LevelDBEngine(std::unique_ptr<leveldb::DB> db, bool sync)
      : db_(std::move(db)) {
    write_options_.sync = sync;
  }
  std::unique_ptr<leveldb::DB> db_;
  leveldb::WriteOptions write_options_;
};

absl::Status FromRocksDB(const rocksdb::Status& s) {
  if (s.ok()) return absl::OkStatus();
  if (s.IsNotFound()) return absl::NotFoundError(s.ToString());
  return absl::UnknownError(absl::StrCat("rocksdb: ", s.ToString()));
}

class RocksDBEngine : public Engine {
 public:
  static absl::StatusOr<std::unique_ptr<Engine>> Open(const std::string& path,
                                                      EngineOptions eo) {
    rocksdb::Options options;  // defaults otherwise (64 MiB write buffer)
    options.create_if_missing = true;
    if (eo.big_write_buffer) {
      options.write_buffer_size = kBigWriteBuffer;
      options.avoid_flush_during_shutdown = true;
    }
    rocksdb::DB* db = nullptr;
    BW_RETURN_IF_ERROR(FromRocksDB(rocksdb::DB::Open(options, path, &db)));
    return std::unique_ptr<Engine>(
        new RocksDBEngine(std::unique_ptr<rocksdb::DB>(db), eo.sync));
  }
  absl::Status Put(absl::string_view key, absl::string_view value) override {
    return FromRocksDB(
        db_->Put(write_options_, rocksdb::Slice(key.data(), key.size()),
                 rocksdb::Slice(value.data(), value.size())));
  }
  absl::Status Get(absl::string_view key, std::string* value) override {
    return FromRocksDB(db_->Get(rocksdb::ReadOptions(),
                                rocksdb::Slice(key.data(), key.size()), value));
  }
  absl::Status Persist() override {
    return FromRocksDB(db_->Flush(rocksdb::FlushOptions()));
  }
  absl::Status Close() override {
    absl::Status s = FromRocksDB(db_->Close());
    db_.reset();
    return s;
  }

 private:
  RocksDBEngine(std::unique_ptr<rocksdb::DB> db, bool sync)
      : db_(std::move(db)) {
    write_options_.sync = sync;
  }
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::WriteOptions write_options_;
};

absl::StatusOr<std::unique_ptr<Engine>> OpenEngine(System system,
                                                   const std::string& path,
                                                   EngineOptions eo) {
  switch (system) {
    case System::kBlockwal:
      return BlockwalEngine::Open(path, eo);
    case System::kLevelDB:
      return LevelDBEngine::Open(path, eo);
    case System::kRocksDB:
      return RocksDBEngine::Open(path, eo);
  }
  return absl::InvalidArgumentError("unknown system");
}

const char* SystemName(System system) {
  switch (system) {
    case System::kBlockwal:
      return "blockwal";
    case System::kLevelDB:
      return "leveldb";
    case System::kRocksDB:
      return "rocksdb";
  }
  return "?";
}

// Random bytes from which each stored key takes its own value, so values
// differ (and do not compress) like real data: identical values would let
// LevelDB/RocksDB's Snappy shrink their tables ~8x.
const std::string& ValuePool() {
  static const std::string* pool = [] {
    auto* s = new std::string(size_t{1} << 22, '\0');
    std::mt19937_64 rng(7);
    for (char& c : *s) c = static_cast<char>(rng());
    return s;
  }();
  return *pool;
}

absl::string_view ValueFor(uint64_t n) {
  const std::string& pool = ValuePool();
  const size_t start = (n * 7919) % (pool.size() - kValueSize);
  return absl::string_view(pool).substr(start, kValueSize);
}

// Writes keys [0, n) unsynced.
absl::Status Fill(Engine& engine, uint64_t n) {
  char key[kKeySize];
  for (uint64_t i = 0; i < n; ++i) {
    EncodeKey(i, key);
    BW_RETURN_IF_ERROR(
        engine.Put(absl::string_view(key, kKeySize), ValueFor(i)));
  }
  return absl::OkStatus();
}

// --------------------------------------------------------------------- puts

void BM_PutNoSync(benchmark::State& state, System system) {
  ValuePool();
  absl::StatusOr<std::string> path = FreshPath("put");
  if (SkipIfError(state, path.status())) return;
  absl::StatusOr<std::unique_ptr<Engine>> engine =
      OpenEngine(system, *path, EngineOptions{.sync = false});
  if (SkipIfError(state, engine.status())) return;
  char key[kKeySize];
  uint64_t sequence = 0;
  for (auto _ : state) {
    EncodeKey(sequence, key);
    if (SkipIfError(state, (*engine)->Put(absl::string_view(key, kKeySize),
                                          ValueFor(sequence++)))) {
      break;
    }
  }
  SkipIfError(state, (*engine)->Close());
  engine->reset();
  SkipIfError(state, RemoveTree(*path));
  SetOpCounters(state);
}

// The store shared by the threads of one BM_PutSync run.
std::unique_ptr<Engine>& SharedEngine() {
  static std::unique_ptr<Engine>* engine = new std::unique_ptr<Engine>;
  return *engine;
}
std::string& SharedPath() {
  static std::string* path = new std::string;
  return *path;
}

void BM_PutSync(benchmark::State& state, System system) {
  ValuePool();
  if (state.thread_index() == 0) {
    absl::StatusOr<std::string> path = FreshPath("put_sync");
    absl::StatusOr<std::unique_ptr<Engine>> engine;
    if (path.ok()) {
      engine = OpenEngine(system, *path, EngineOptions{.sync = true});
    }
    if (!SkipIfError(state, path.ok() ? engine.status() : path.status())) {
      SharedPath() = *path;
      SharedEngine() = *std::move(engine);
    }
  }
  // Google Benchmark starts every thread's loop together, after thread 0's
  // setup; a thread that sees no engine (setup failed) does nothing.
  char key[kKeySize];
  uint64_t sequence = static_cast<uint64_t>(state.thread_index()) << 40;
  for (auto _ : state) {
    Engine* engine = SharedEngine().get();
    if (engine == nullptr) {
      SkipIfError(state, absl::InternalError("no store"));
      break;
    }
    EncodeKey(sequence, key);
    if (SkipIfError(state, engine->Put(absl::string_view(key, kKeySize),
                                       ValueFor(sequence++)))) {
      break;
    }
  }
  if (state.thread_index() == 0 && SharedEngine() != nullptr) {
    SkipIfError(state, SharedEngine()->Close());
    SharedEngine().reset();
    SkipIfError(state, RemoveTree(SharedPath()));
  }
  SetOpCounters(state);
}

// --------------------------------------------------------------------- gets

struct GetStore {
  std::string path;
  std::unique_ptr<Engine> engine;
};

// By (system, checkpointed).
std::map<std::pair<System, bool>, GetStore>& GetStores() {
  static auto* stores = new std::map<std::pair<System, bool>, GetStore>;
  return *stores;
}

const std::vector<uint64_t>& RandomKeys() {
  static const std::vector<uint64_t>* keys = [] {
    auto* v = new std::vector<uint64_t>(kRandomKeys);
    std::mt19937_64 rng(42);
    std::uniform_int_distribution<uint64_t> dist(0, kGetKeys - 1);
    for (uint64_t& k : *v) k = dist(rng);
    return v;
  }();
  return *keys;
}

absl::StatusOr<Engine*> GetStoreFor(System system, bool checkpointed) {
  GetStore& store = GetStores()[{system, checkpointed}];
  if (store.engine != nullptr) return store.engine.get();
  BW_ASSIGN_OR_RETURN(store.path, FreshPath("get"));
  {
    BW_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine,
                        OpenEngine(system, store.path, EngineOptions{}));
    BW_RETURN_IF_ERROR(Fill(*engine, kGetKeys));
    if (checkpointed) BW_RETURN_IF_ERROR(engine->Persist());
    BW_RETURN_IF_ERROR(engine->Close());
  }
  BW_ASSIGN_OR_RETURN(store.engine,
                      OpenEngine(system, store.path, EngineOptions{}));
  // One pass over every key: caches warm.
  std::string value;
  char key[kKeySize];
  for (uint64_t i = 0; i < kGetKeys; ++i) {
    EncodeKey(i, key);
    BW_RETURN_IF_ERROR(store.engine->Get(absl::string_view(key, kKeySize),
                                         &value));
  }
  return store.engine.get();
}

void GetRandom(benchmark::State& state, System system, bool checkpointed) {
  absl::StatusOr<Engine*> engine = GetStoreFor(system, checkpointed);
  if (SkipIfError(state, engine.status())) return;
  const std::vector<uint64_t>& keys = RandomKeys();
  std::string value;
  char key[kKeySize];
  size_t i = 0;
  for (auto _ : state) {
    EncodeKey(keys[i++ & (kRandomKeys - 1)], key);
    if (SkipIfError(state,
                    (*engine)->Get(absl::string_view(key, kKeySize), &value))) {
      break;
    }
    benchmark::DoNotOptimize(value.data());
  }
  SetOpCounters(state);
}

void BM_GetRandom(benchmark::State& state, System system) {
  GetRandom(state, system, /*checkpointed=*/false);
}
void BM_GetRandomCheckpointed(benchmark::State& state, System system) {
  GetRandom(state, system, /*checkpointed=*/true);
}

void ReleaseGetStores() {
  for (auto& [system, store] : GetStores()) {
    if (store.engine != nullptr) {
      (void)store.engine->Close();
      store.engine.reset();
    }
  }
}

// -------------------------------------------------------------------- opens

// The stores opens copy, by (system, keys, checkpointed).
std::map<std::tuple<System, uint64_t, bool>, std::string>& OpenSourceMap() {
  static auto* sources =
      new std::map<std::tuple<System, uint64_t, bool>, std::string>;
  return *sources;
}

// The directory of a store of `keys` keys: all in the log, or (checkpointed)
// a copy of that one after Persist. Built on first use.
absl::StatusOr<std::string> OpenSource(System system, uint64_t keys,
                                       bool checkpointed) {
  const auto id = std::make_tuple(system, keys, checkpointed);
  auto it = OpenSourceMap().find(id);
  if (it != OpenSourceMap().end()) return it->second;
  BW_ASSIGN_OR_RETURN(
      std::string path,
      FreshPath(absl::StrCat(checkpointed ? "open_ckpt_" : "open_wal_",
                             SystemName(system), "_", keys)));
  if (!checkpointed) {
    BW_ASSIGN_OR_RETURN(
        std::unique_ptr<Engine> engine,
        OpenEngine(system, path,
                   EngineOptions{.sync = false, .big_write_buffer = true}));
    BW_RETURN_IF_ERROR(Fill(*engine, keys));
    BW_RETURN_IF_ERROR(engine->Close());
  } else {
    BW_ASSIGN_OR_RETURN(std::string wal, OpenSource(system, keys, false));
    BW_RETURN_IF_ERROR(CopyTree(wal, path));
    // Big buffer so the open itself does not flush (RocksDB: it still flushes
    // the recovered memtable; Persist then has little left to do).
    BW_ASSIGN_OR_RETURN(
        std::unique_ptr<Engine> engine,
        OpenEngine(system, path,
                   EngineOptions{.sync = false, .big_write_buffer = true}));
    BW_RETURN_IF_ERROR(engine->Persist());
    BW_RETURN_IF_ERROR(engine->Close());
  }
  OpenSourceMap()[id] = path;
  return path;
}

void BM_Open(benchmark::State& state, System system, bool checkpointed,
             EngineOptions open_options = EngineOptions{}) {
  const uint64_t keys = static_cast<uint64_t>(state.range(0));
  absl::StatusOr<std::string> source_path =
      OpenSource(system, keys, checkpointed);
  if (SkipIfError(state, source_path.status())) return;
  const std::string& source = *source_path;
  absl::StatusOr<std::string> path = FreshPath("open");
  if (SkipIfError(state, path.status())) return;
  char last_key[kKeySize];
  EncodeKey(keys - 1, last_key);
  uint64_t store_bytes = 0;
  for (auto _ : state) {
    absl::Status s = RemoveTree(*path);
    if (s.ok()) s = CopyTree(source, *path);
    if (SkipIfError(state, s)) break;
    ::sync();  // no writeback of the copy during the timed open
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<std::unique_ptr<Engine>> engine =
        OpenEngine(system, *path, open_options);
    const auto end = std::chrono::steady_clock::now();
    state.SetIterationTime(std::chrono::duration<double>(end - start).count());
    if (SkipIfError(state, engine.status())) break;
    std::string value;
    s = (*engine)->Get(absl::string_view(last_key, kKeySize), &value);
    if (s.ok()) s = (*engine)->Close();
    if (SkipIfError(state, s)) break;
  }
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(source, ec)) {
    if (entry.is_regular_file()) store_bytes += entry.file_size();
  }
  state.counters["store_MB"] = static_cast<double>(store_bytes) / 1e6;
  state.counters["keys"] = static_cast<double>(keys);
  state.counters["keys/s"] = benchmark::Counter(
      static_cast<double>(keys) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
  SkipIfError(state, RemoveTree(*path));
}

void BM_OpenWal(benchmark::State& state, System system) {
  BM_Open(state, system, /*checkpointed=*/false);
}
void BM_OpenCheckpointed(benchmark::State& state, System system) {
  BM_Open(state, system, /*checkpointed=*/true);
}
void BM_OpenCheckpointedVerified(benchmark::State& state, System system) {
  BM_Open(state, system, /*checkpointed=*/true,
          EngineOptions{.verify_checkpoint = true});
}

// ------------------------------------------------------------- registration

#define KV_BENCH_ALL(fn, ...)                                          \
  BENCHMARK_CAPTURE(fn, blockwal, System::kBlockwal)->__VA_ARGS__;     \
  BENCHMARK_CAPTURE(fn, leveldb, System::kLevelDB)->__VA_ARGS__;       \
  BENCHMARK_CAPTURE(fn, rocksdb, System::kRocksDB)->__VA_ARGS__

void OpenSizes(benchmark::internal::Benchmark* b) {
  for (int64_t keys : kOpenKeys) b->Arg(keys);
  b->Iterations(kOpenIterations)->UseManualTime();
}

KV_BENCH_ALL(BM_PutNoSync, MinTime(bench::ScaledMinTime(1.0))
                               ->MeasureProcessCPUTime()
                               ->UseRealTime());
KV_BENCH_ALL(BM_PutSync, Threads(1)
                             ->Threads(16)
                             ->MinTime(bench::ScaledMinTime(3.0))
                             ->UseRealTime());
KV_BENCH_ALL(BM_GetRandom, MinTime(bench::ScaledMinTime(1.0)));
KV_BENCH_ALL(BM_GetRandomCheckpointed, MinTime(bench::ScaledMinTime(1.0)));
KV_BENCH_ALL(BM_OpenWal, Apply(OpenSizes));
KV_BENCH_ALL(BM_OpenCheckpointed, Apply(OpenSizes));
BENCHMARK_CAPTURE(BM_OpenCheckpointedVerified, blockwal, System::kBlockwal)
    ->Apply(OpenSizes);

}  // namespace
}  // namespace blockwal

int main(int argc, char** argv) {
  return blockwal::bench::RunBenchmarkMain(argc, argv, "kv_bench",
                                           /*measure_mutexes_as_release=*/true,
                                           blockwal::ReleaseGetStores);
}
