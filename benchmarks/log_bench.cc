// The segmented log against the layer under it, against LevelDB used as a
// write-ahead log, and against the raw system calls it cannot avoid:
//
//   BM_LogAppend          Log::Append, unsynced, into a real directory
//   BM_BlockWriterAppend  BlockWriter::AddRecord of the same values (the block
//                         layer alone: no envelope, index, mutex or clock)
//   BM_LevelDBPut         leveldb::DB::Put, sync=false, 16-byte sequential
//                         keys, default options (memtable, flushes and
//                         compactions included: what a LevelDB WAL costs)
//
//   BM_LogReadRandom      Log::Read at uniformly random offsets of a log of
//   BM_LogReadSequential  2^20 records of 100 B, and at consecutive offsets
//   BM_LogIteratorNext    LogIterator::Next over the same log
//   BM_RawPreadRandom     ::pread of exactly each record's bytes, positions
//   BM_RawPreadSequential taken from the same segment indexes
//   BM_MmapReadRecordAtRandom
//                         a what-if: wal::ReadRecordAt over an mmap of the
//                         store instead of Log::Read's pread
//
//   BM_LogOpenClean       Log::Open of a log of 1 KiB values (the argument:
//   BM_LogOpenKilled      its store MiB, 32 to 992, i.e. 1/2 to 15 1/2
//   BM_LogOpenFullScan    segments) closed cleanly; copied from a live log
//                         with 1000 records missing from the last index; and
//                         closed cleanly but opened with kAbsoluteConsistency
//   BM_RawReadCrc         ::read of every store byte in 1 MiB chunks plus the
//                         CRC32C of them: the floor of a verifying scan
//
// Appends sweep the value size (100 B to 64 KiB); opens sweep the log size.
//
// An append iteration is one record; a read iteration is one record; an open
// iteration is one Open. Bytes are value bytes for appends and reads (blockwal
// and baseline alike, so throughput ratios are time ratios) and store bytes
// for opens.
//
// Files live in a fresh directory under $BLOCKWAL_BENCH_DIR (default $TMPDIR,
// then /tmp), removed at exit. Pre-built logs are built once, on first use,
// outside any timed region, and read once so the page cache is warm.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "benchmark/benchmark.h"
#include "benchmarks/bench_util.h"
#include "leveldb/db.h"
#include "leveldb/options.h"
#include "leveldb/slice.h"
#include "leveldb/status.h"
#include "blockwal/util/crc32c.h"
#include "blockwal/util/file_system.h"
#include "blockwal/util/status_macros.h"
#include "blockwal/wal/block_reader.h"
#include "blockwal/wal/block_writer.h"
#include "blockwal/wal/format.h"
#include "blockwal/wal/index.h"
#include "blockwal/wal/log.h"
#include "blockwal/wal/log_options.h"
#include "blockwal/wal/record.h"
#include "blockwal/wal/segment.h"

namespace blockwal {
namespace {

// Appends: the log is truncated (outside the timed region) each time this many
// store bytes were appended since the last truncation; the block writer rolls
// its file at the log's segment size; LevelDB is destroyed and recreated
// (outside the timed region) after this many value bytes.
constexpr uint64_t kAppendTruncateBytes = uint64_t{512} << 20;
constexpr uint64_t kBlockWriterRollBytes = uint64_t{64} << 20;
constexpr uint64_t kLevelDBRecreateBytes = uint64_t{1} << 30;
constexpr size_t kLevelDBKeySize = 16;

// Reads: a log of kReadRecords records of kReadValueSize bytes.
constexpr uint64_t kReadRecords = uint64_t{1} << 20;
constexpr size_t kReadValueSize = 100;
constexpr size_t kRandomOffsets = size_t{1} << 20;  // a power of two
static_assert((kRandomOffsets & (kRandomOffsets - 1)) == 0);

// Opens: logs of kOpenValueSize-byte values in segments of the default size,
// each kOpenHalfSegments[i] half segments long (1/2, 1 1/2, ... 15 1/2
// segments: the last segment is half full); kKilledMissing records of the last
// segment are missing from the killed copy's index.
constexpr size_t kOpenValueSize = 1 << 10;
constexpr int64_t kOpenHalfSegments[] = {1, 3, 7, 15, 31};
constexpr uint64_t kKilledMissing = 1000;
constexpr int kOpenIterations = 5;
constexpr size_t kRawReadChunk = 1 << 20;

// ------------------------------------------------------------------ helpers

using bench::FreshPath;
using bench::RandomBytes;
using bench::RemoveTree;
using bench::ScratchDir;

absl::Status CopyFile(const std::string& from, const std::string& to) {
  std::error_code ec;
  std::filesystem::copy_file(
      from, to, std::filesystem::copy_options::overwrite_existing, ec);
  if (ec) {
    return absl::ErrnoToStatus(ec.value(),
                               absl::StrCat("copy ", from, " to ", to));
  }
  return absl::OkStatus();
}

absl::Status CloseFd(int fd) {
  if (::close(fd) != 0) return absl::ErrnoToStatus(errno, "close");
  return absl::OkStatus();
}

// Reads the whole file with read(2) in kRawReadChunk pieces; returns the
// byte count and extends *crc over the bytes when crc is not null.
absl::StatusOr<uint64_t> ReadWholeFile(const std::string& path, char* buffer,
                                       uint32_t* crc) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  uint64_t total = 0;
  absl::Status s;
  while (true) {
    const ssize_t r = ::read(fd, buffer, kRawReadChunk);
    if (r < 0) {
      if (errno == EINTR) continue;
      s = absl::ErrnoToStatus(errno, absl::StrCat("read ", path));
      break;
    }
    if (r == 0) break;
    if (crc != nullptr) {
      *crc = crc32c::Extend(*crc, buffer, static_cast<size_t>(r));
    }
    total += static_cast<uint64_t>(r);
  }
  const absl::Status close_status = CloseFd(fd);
  if (s.ok()) s = close_status;
  if (!s.ok()) return s;
  return total;
}

// Reads every regular file of dir once, so later reads hit the page cache.
absl::Status WarmDirectory(const std::string& dir) {
  std::unique_ptr<char[]> buffer(new char[kRawReadChunk]);
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file()) continue;
    BW_RETURN_IF_ERROR(
        ReadWholeFile(entry.path().string(), buffer.get(), nullptr).status());
  }
  if (ec) return absl::ErrnoToStatus(ec.value(), absl::StrCat("list ", dir));
  return absl::OkStatus();
}

// Ends the benchmark with `s` when it is an error; returns whether it did.
// Only the first error is reported.
bool SkipIfError(benchmark::State& state, const absl::Status& s) {
  if (s.ok()) return false;
  if (!state.error_occurred()) state.SkipWithError(s.ToString().c_str());
  return true;
}

void SetRecordCounters(benchmark::State& state, size_t value_size) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(value_size));
  state.counters["records/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// Store bytes one record of `value_size` takes at least (one fragment).
constexpr uint64_t StoreBytesOf(size_t value_size) {
  return value_size + wal::kEnvelopeSize + wal::kHeaderSize;
}

// ------------------------------------------------------------------ appends

void BM_LogAppend(benchmark::State& state) {
  const size_t value_size = static_cast<size_t>(state.range(0));
  const std::string value = RandomBytes(value_size);
  absl::StatusOr<std::string> dir = FreshPath("append");
  if (SkipIfError(state, dir.status())) return;
  absl::StatusOr<std::unique_ptr<wal::Log>> log =
      wal::Log::Open(*dir, wal::LogOptions());
  if (SkipIfError(state, log.status())) return;

  uint64_t since_truncate = 0;
  for (auto _ : state) {
    absl::StatusOr<uint64_t> offset = (*log)->Append(value);
    if (SkipIfError(state, offset.status())) break;
    since_truncate += StoreBytesOf(value_size);
    if (since_truncate >= kAppendTruncateBytes) {
      // Bounds disk use; not part of an append's cost. (Rolls to a new
      // segment are: they happen inside Append, timed.)
      state.PauseTiming();
      const absl::Status s = (*log)->TruncatePrefix((*log)->NextOffset());
      since_truncate = 0;
      state.ResumeTiming();
      if (SkipIfError(state, s)) break;
    }
  }
  SkipIfError(state, (*log)->Close());
  log->reset();
  SkipIfError(state, RemoveTree(*dir));
  SetRecordCounters(state, value_size);
}

void BM_BlockWriterAppend(benchmark::State& state) {
  const size_t value_size = static_cast<size_t>(state.range(0));
  const std::string value = RandomBytes(value_size);
  absl::StatusOr<std::string> path = FreshPath("block_writer");
  if (SkipIfError(state, path.status())) return;
  FileSystem* fs = FileSystem::Default();
  absl::StatusOr<std::unique_ptr<WritableFile>> file = fs->NewWritableFile(*path);
  if (SkipIfError(state, file.status())) return;
  auto writer = std::make_unique<wal::BlockWriter>(file->get());

  for (auto _ : state) {
    absl::Status s = writer->AddRecord(value).status();
    if (s.ok() && writer->position() >= kBlockWriterRollBytes) {
      // Start over at the log's segment size, timed like the log's rolls
      // (but without their syncs: a bare writer has nothing to seal).
      s = (*file)->Close();
      if (s.ok()) {
        writer.reset();
        file = fs->NewWritableFile(*path);  // truncates
        s = file.status();
        if (s.ok()) writer = std::make_unique<wal::BlockWriter>(file->get());
      }
    }
    if (SkipIfError(state, s)) break;
  }
  if (file.ok()) {
    if (writer != nullptr) SkipIfError(state, (*file)->Close());
    writer.reset();
    file->reset();
  }
  SkipIfError(state, RemoveTree(*path));
  SetRecordCounters(state, value_size);
}

absl::Status FromLevelDB(const leveldb::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::UnknownError(absl::StrCat("leveldb: ", s.ToString()));
}

absl::StatusOr<std::unique_ptr<leveldb::DB>> OpenLevelDB(
    const std::string& path) {
  leveldb::Options options;  // write_buffer_size etc. at their defaults
  options.create_if_missing = true;
  options.error_if_exists = true;
  leveldb::DB* db = nullptr;
  BW_RETURN_IF_ERROR(FromLevelDB(leveldb::DB::Open(options, path, &db)));
  return std::unique_ptr<leveldb::DB>(db);
}

// Sixteen hex digits, most significant first, so keys sort in append order.
void EncodeSequentialKey(uint64_t n, char* key) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (int i = static_cast<int>(kLevelDBKeySize) - 1; i >= 0; --i) {
    key[i] = kDigits[n & 0xf];
    n >>= 4;
  }
}

void BM_LevelDBPut(benchmark::State& state) {
  const size_t value_size = static_cast<size_t>(state.range(0));
  const std::string value = RandomBytes(value_size);
  absl::StatusOr<std::string> path = FreshPath("leveldb");
  if (SkipIfError(state, path.status())) return;
  absl::StatusOr<std::unique_ptr<leveldb::DB>> db = OpenLevelDB(*path);
  if (SkipIfError(state, db.status())) return;
  leveldb::WriteOptions write_options;
  write_options.sync = false;

  char key[kLevelDBKeySize];
  uint64_t sequence = 0;
  uint64_t since_recreate = 0;
  for (auto _ : state) {
    EncodeSequentialKey(sequence++, key);
    absl::Status s = FromLevelDB((*db)->Put(
        write_options, leveldb::Slice(key, sizeof(key)), value));
    if (SkipIfError(state, s)) break;
    since_recreate += value_size;
    if (since_recreate >= kLevelDBRecreateBytes) {
      state.PauseTiming();
      db->reset();  // waits for the background compaction
      s = FromLevelDB(leveldb::DestroyDB(*path, leveldb::Options()));
      if (s.ok()) {
        db = OpenLevelDB(*path);
        s = db.status();
      }
      since_recreate = 0;
      sequence = 0;
      state.ResumeTiming();
      if (SkipIfError(state, s)) break;
    }
  }
  if (db.ok()) db->reset();
  SkipIfError(state, RemoveTree(*path));
  SetRecordCounters(state, value_size);
}

// Process CPU time, so LevelDB's background compaction thread counts; the
// blockwal benchmarks are single-threaded, where it equals thread CPU time.
void AppendSizes(benchmark::internal::Benchmark* b) {
  b->Arg(100)->Arg(1 << 10)->Arg(4 << 10)->Arg(16 << 10)->Arg(64 << 10);
  b->MinTime(bench::ScaledMinTime(1.0))->MeasureProcessCPUTime();
}
BENCHMARK(BM_LogAppend)->Apply(AppendSizes);
BENCHMARK(BM_BlockWriterAppend)->Apply(AppendSizes);
BENCHMARK(BM_LevelDBPut)->Apply(AppendSizes);

// -------------------------------------------------------------------- reads

// The pre-built log of the read benchmarks, reopened after a clean close (as
// a reader finds it), plus what the pread baseline needs to find the same
// bytes.
struct ReadLog {
  struct Store {
    std::shared_ptr<const wal::Segment> segment;
    uint64_t base = 0;
    uint64_t next = 0;   // one past the segment's last offset
    uint64_t size = 0;   // store bytes
    int fd = -1;
  };

  ~ReadLog() {
    for (Store& s : stores) {
      if (s.fd >= 0) ::close(s.fd);
    }
  }

  // The store holding offset (first <= offset < first + count).
  const Store& StoreFor(uint64_t offset) const {
    auto it = std::upper_bound(
        stores.begin(), stores.end(), offset,
        [](uint64_t o, const Store& s) { return o < s.base; });
    return *(it - 1);
  }

  std::string dir;
  std::unique_ptr<wal::Log> log;
  uint64_t first = 0;
  uint64_t count = 0;
  std::vector<Store> stores;
  std::vector<uint64_t> random_offsets;  // kRandomOffsets, uniform
};

ReadLog*& ReadLogStorage() {
  static ReadLog* read_log = nullptr;
  return read_log;
}

absl::StatusOr<const ReadLog*> GetReadLog() {
  ReadLog*& cached = ReadLogStorage();
  if (cached != nullptr) return cached;

  auto rl = std::make_unique<ReadLog>();
  BW_ASSIGN_OR_RETURN(rl->dir, FreshPath("read_log"));
  {
    BW_ASSIGN_OR_RETURN(std::unique_ptr<wal::Log> log,
                        wal::Log::Open(rl->dir, wal::LogOptions()));
    const std::string value = RandomBytes(kReadValueSize);
    for (uint64_t i = 0; i < kReadRecords; ++i) {
      BW_RETURN_IF_ERROR(log->Append(value).status());
    }
    BW_RETURN_IF_ERROR(log->Close());
  }
  BW_ASSIGN_OR_RETURN(rl->log, wal::Log::Open(rl->dir, wal::LogOptions()));
  rl->first = rl->log->LowestOffset();
  rl->count = rl->log->NextOffset() - rl->first;
  if (rl->count != kReadRecords) {
    return absl::DataLossError(absl::StrCat(rl->dir, " holds ", rl->count,
                                            " records, wrote ", kReadRecords));
  }
  for (std::shared_ptr<const wal::Segment>& seg : rl->log->Segments()) {
    ReadLog::Store store;
    store.base = seg->base_offset();
    store.next = seg->next_offset();
    store.size = seg->store_size();
    store.fd = ::open(seg->store_path().c_str(), O_RDONLY | O_CLOEXEC);
    if (store.fd < 0) {
      return absl::ErrnoToStatus(errno,
                                 absl::StrCat("open ", seg->store_path()));
    }
    store.segment = std::move(seg);
    rl->stores.push_back(std::move(store));
  }
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<uint64_t> pick(rl->first,
                                               rl->first + rl->count - 1);
  rl->random_offsets.resize(kRandomOffsets);
  for (uint64_t& o : rl->random_offsets) o = pick(rng);

  // Warm the page cache (stores) and the index mappings.
  BW_RETURN_IF_ERROR(WarmDirectory(rl->dir));
  uint64_t sum = 0;
  for (const ReadLog::Store& s : rl->stores) {
    for (uint64_t o = s.base; o < s.next; ++o) sum += s.segment->PositionOf(o);
  }
  benchmark::DoNotOptimize(sum);

  cached = rl.release();
  return cached;
}

// Reads records at offsets[i & mask] or, with offsets empty, at consecutive
// offsets, through Log::Read.
void RunLogRead(benchmark::State& state, bool random) {
  absl::StatusOr<const ReadLog*> rl = GetReadLog();
  if (SkipIfError(state, rl.status())) return;
  const ReadLog& log = **rl;
  std::string scratch;
  uint64_t i = 0;
  for (auto _ : state) {
    const uint64_t offset =
        random ? log.random_offsets[i & (kRandomOffsets - 1)]
               : log.first + i % log.count;
    ++i;
    absl::StatusOr<wal::Record> r = log.log->Read(offset, &scratch);
    if (SkipIfError(state, r.status())) break;
    if (r->value.size() != kReadValueSize) {
      SkipIfError(state, absl::DataLossError(absl::StrCat(
                             "record ", offset, " has ", r->value.size(),
                             " bytes")));
      break;
    }
    benchmark::DoNotOptimize(r->value.data());
  }
  SetRecordCounters(state, kReadValueSize);
}

// The same offsets as RunLogRead, each read by one pread of exactly the
// record's byte range [PositionOf(offset), PositionOf(offset + 1)) (the
// store's end for a segment's last record). No checksum, no decoding.
void RunRawPread(benchmark::State& state, bool random) {
  absl::StatusOr<const ReadLog*> rl = GetReadLog();
  if (SkipIfError(state, rl.status())) return;
  const ReadLog& log = **rl;
  char buffer[wal::kBlockSize];
  uint64_t i = 0;
  for (auto _ : state) {
    const uint64_t offset =
        random ? log.random_offsets[i & (kRandomOffsets - 1)]
               : log.first + i % log.count;
    ++i;
    const ReadLog::Store& store = log.StoreFor(offset);
    const uint64_t position = store.segment->PositionOf(offset);
    const uint64_t end = offset + 1 < store.next
                             ? store.segment->PositionOf(offset + 1)
                             : store.size;
    const size_t n = static_cast<size_t>(end - position);
    const ssize_t r =
        ::pread(store.fd, buffer, n, static_cast<off_t>(position));
    if (r != static_cast<ssize_t>(n)) {
      SkipIfError(state, r < 0 ? absl::ErrnoToStatus(errno, "pread")
                               : absl::DataLossError(absl::StrCat(
                                     "pread of record ", offset, " got ", r,
                                     " of ", n, " bytes")));
      break;
    }
    benchmark::DoNotOptimize(buffer);
  }
  SetRecordCounters(state, kReadValueSize);
}

void BM_LogReadRandom(benchmark::State& state) { RunLogRead(state, true); }
void BM_LogReadSequential(benchmark::State& state) { RunLogRead(state, false); }
void BM_RawPreadRandom(benchmark::State& state) { RunRawPread(state, true); }
void BM_RawPreadSequential(benchmark::State& state) {
  RunRawPread(state, false);
}

void BM_LogIteratorNext(benchmark::State& state) {
  absl::StatusOr<const ReadLog*> rl = GetReadLog();
  if (SkipIfError(state, rl.status())) return;
  const ReadLog& log = **rl;
  std::unique_ptr<wal::LogIterator> it = log.log->NewIterator(log.first);
  wal::Record record;
  for (auto _ : state) {
    if (!it->Next(&record)) {
      // The end of the log: start over (one NewIterator per 2^20 records).
      absl::Status s = it->status();
      if (s.ok() && it->next_offset() != log.first + log.count) {
        s = absl::DataLossError(absl::StrCat("iterator stopped at ",
                                             it->next_offset()));
      }
      if (SkipIfError(state, s)) break;
      it = log.log->NewIterator(log.first);
      if (!it->Next(&record)) {
        SkipIfError(state, absl::DataLossError("iterator yields nothing"));
        break;
      }
    }
    benchmark::DoNotOptimize(record.value.data());
  }
  SetRecordCounters(state, kReadValueSize);
}

// What a Read over a mapped store could cost: the same index lookups, then
// wal::ReadRecordAt (checksum verified) and wal::DecodeRecord over an mmap of
// the store instead of a pread. Not blockwal's Read; a what-if for its design.
class MappedStore final : public RandomAccessFile {
 public:
  static absl::StatusOr<std::unique_ptr<MappedStore>> Open(
      const std::string& path, int fd, uint64_t size) {
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      return absl::ErrnoToStatus(errno, absl::StrCat("mmap ", path));
    }
    return std::unique_ptr<MappedStore>(
        new MappedStore(path, static_cast<const char*>(p), size));
  }
  ~MappedStore() override {
    ::munmap(const_cast<char*>(data_), static_cast<size_t>(size_));
  }

  absl::StatusOr<absl::string_view> Read(uint64_t offset, size_t n,
                                         char* scratch) const override {
    if (offset >= size_) return absl::string_view();
    return absl::string_view(
        data_ + offset,
        static_cast<size_t>(std::min<uint64_t>(n, size_ - offset)));
  }
  absl::StatusOr<uint64_t> Size() const override { return size_; }
  const std::string& path() const override { return path_; }

 private:
  MappedStore(std::string path, const char* data, uint64_t size)
      : path_(std::move(path)), data_(data), size_(size) {}

  const std::string path_;
  const char* const data_;
  const uint64_t size_;
};

void BM_MmapReadRecordAtRandom(benchmark::State& state) {
  absl::StatusOr<const ReadLog*> rl = GetReadLog();
  if (SkipIfError(state, rl.status())) return;
  const ReadLog& log = **rl;
  std::vector<std::unique_ptr<MappedStore>> maps;
  for (const ReadLog::Store& s : log.stores) {
    absl::StatusOr<std::unique_ptr<MappedStore>> m =
        MappedStore::Open(s.segment->store_path(), s.fd, s.size);
    if (SkipIfError(state, m.status())) return;
    maps.push_back(std::move(*m));
  }
  std::string scratch;
  uint64_t i = 0;
  for (auto _ : state) {
    const uint64_t offset = log.random_offsets[i++ & (kRandomOffsets - 1)];
    const ReadLog::Store& store = log.StoreFor(offset);
    const MappedStore& map = *maps[&store - log.stores.data()];
    absl::StatusOr<absl::string_view> payload = wal::ReadRecordAt(
        map, store.segment->PositionOf(offset), &scratch);
    absl::StatusOr<wal::Record> r =
        payload.ok() ? wal::DecodeRecord(*payload) : payload.status();
    if (SkipIfError(state, r.status())) break;
    if (r->offset != offset || r->value.size() != kReadValueSize) {
      SkipIfError(state, absl::DataLossError(absl::StrCat(
                             "record ", offset, " carries offset ", r->offset,
                             " and ", r->value.size(), " bytes")));
      break;
    }
    benchmark::DoNotOptimize(r->value.data());
  }
  SetRecordCounters(state, kReadValueSize);
}

// Thread CPU time as in block_bench (the JSON has real time too).
BENCHMARK(BM_LogReadRandom);
BENCHMARK(BM_RawPreadRandom);
BENCHMARK(BM_MmapReadRecordAtRandom);
BENCHMARK(BM_LogReadSequential);
BENCHMARK(BM_RawPreadSequential);
BENCHMARK(BM_LogIteratorNext);

// -------------------------------------------------------------------- opens

struct OpenLogs {
  std::string clean_dir;
  std::string killed_dir;
  // The killed copy's last index as built, restored after every open (an
  // open repairs it and the close seals it).
  std::string killed_index;
  std::string killed_index_pristine;
  uint64_t store_bytes = 0;
  uint64_t records = 0;
  uint64_t segments = 0;
  // Store bytes an open of the killed copy re-reads: the last segment's
  // records that lost their index entries.
  uint64_t killed_scan_bytes = 0;
  std::vector<std::string> store_paths;  // of the clean copy
};

// The logs built so far, by store MiB (the benchmarks' argument).
std::map<int64_t, std::unique_ptr<OpenLogs>>& OpenLogsStorage() {
  static auto* open_logs = new std::map<int64_t, std::unique_ptr<OpenLogs>>;
  return *open_logs;
}

// Zeroes index entries [from, to) of an index file, as if their page never
// reached the disk.
absl::Status ZeroIndexEntries(const std::string& path, uint64_t from,
                              uint64_t to) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  const std::string zeros((to - from) * wal::kIndexEntrySize, '\0');
  const ssize_t w = ::pwrite(fd, zeros.data(), zeros.size(),
                             static_cast<off_t>(from * wal::kIndexEntrySize));
  absl::Status s;
  if (w != static_cast<ssize_t>(zeros.size())) {
    s = absl::ErrnoToStatus(w < 0 ? errno : EIO, absl::StrCat("pwrite ", path));
  }
  const absl::Status close_status = CloseFd(fd);
  return s.ok() ? close_status : s;
}

// A log of at least `store_mib` MiB of store bytes (and at most 1024 records
// more), built on first use.
absl::StatusOr<const OpenLogs*> GetOpenLogs(int64_t store_mib) {
  std::unique_ptr<OpenLogs>& cached = OpenLogsStorage()[store_mib];
  if (cached != nullptr) return cached.get();

  auto ol = std::make_unique<OpenLogs>();
  BW_ASSIGN_OR_RETURN(ol->clean_dir, FreshPath("open_clean"));
  BW_ASSIGN_OR_RETURN(ol->killed_dir, FreshPath("open_killed"));
  BW_ASSIGN_OR_RETURN(std::string scratch, ScratchDir());
  ol->killed_index_pristine = JoinPath(
      scratch, absl::StrCat("killed_index_", store_mib, ".pristine"));
  {
    BW_ASSIGN_OR_RETURN(std::unique_ptr<wal::Log> log,
                        wal::Log::Open(ol->clean_dir, wal::LogOptions()));
    const std::string value = RandomBytes(kOpenValueSize);
    const uint64_t target = static_cast<uint64_t>(store_mib) << 20;
    std::vector<std::shared_ptr<const wal::Segment>> segs;
    while (true) {
      for (int i = 0; i < 1024; ++i) {
        BW_RETURN_IF_ERROR(log->Append(value).status());
      }
      segs = log->Segments();
      uint64_t store_bytes = 0;
      for (const auto& seg : segs) store_bytes += seg->store_size();
      if (store_bytes >= target) break;
    }
    BW_RETURN_IF_ERROR(log->Sync());

    // What a kill leaves: the files as they are while the log is open (the
    // last index at full size, zero-tailed), copied as cp would copy them.
    if (::mkdir(ol->killed_dir.c_str(), 0755) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("mkdir ", ol->killed_dir));
    }
    std::error_code ec;
    for (const auto& entry :
         std::filesystem::directory_iterator(ol->clean_dir, ec)) {
      BW_RETURN_IF_ERROR(CopyFile(
          entry.path().string(),
          JoinPath(ol->killed_dir, entry.path().filename().string())));
    }
    if (ec) {
      return absl::ErrnoToStatus(ec.value(),
                                 absl::StrCat("list ", ol->clean_dir));
    }
    // ...and, as if the last index pages had not reached the disk, the
    // index of the last kKilledMissing records lost: Open must re-index them
    // from the store.
    const wal::Segment& last = *segs.back();
    if (last.record_count() <= kKilledMissing) {
      return absl::InternalError(absl::StrCat(
          last.store_path(), " has only ", last.record_count(), " records"));
    }
    ol->killed_index = JoinPath(
        ol->killed_dir, wal::SegmentFileName(last.base_offset(), wal::kIndexSuffix));
    BW_RETURN_IF_ERROR(ZeroIndexEntries(ol->killed_index,
                                        last.record_count() - kKilledMissing,
                                        last.record_count()));
    BW_RETURN_IF_ERROR(CopyFile(ol->killed_index, ol->killed_index_pristine));
    ol->killed_scan_bytes =
        last.store_size() -
        last.PositionOf(last.base_offset() + last.record_count() - kKilledMissing);

    for (const auto& seg : segs) {
      ol->store_paths.push_back(seg->store_path());
      ol->store_bytes += seg->store_size();
      ol->records += seg->record_count();
    }
    ol->segments = segs.size();
    BW_RETURN_IF_ERROR(log->Close());
  }
  BW_RETURN_IF_ERROR(WarmDirectory(ol->clean_dir));
  BW_RETURN_IF_ERROR(WarmDirectory(ol->killed_dir));
  cached = std::move(ol);
  return cached.get();
}

// What an open must report beyond the log's size, which never changes.
struct ExpectedRecovery {
  bool clean = true;
  uint64_t entries_added = 0;
  uint64_t bytes_scanned = 0;
};

absl::Status CheckReport(const OpenLogs& ol, const wal::RecoveryReport& report,
                         const ExpectedRecovery& want) {
  if (report.records != ol.records || report.store_bytes != ol.store_bytes ||
      report.segments != ol.segments || report.clean_shutdown != want.clean ||
      report.index_entries_added != want.entries_added ||
      report.bytes_scanned != want.bytes_scanned ||
      report.torn_bytes_cut != 0 || !report.damage.empty()) {
    return absl::InternalError(absl::StrCat(
        "unexpected recovery: ", report.records, " records, ",
        report.store_bytes, " store bytes, ", report.segments,
        " segments, clean ", report.clean_shutdown, ", ",
        report.index_entries_added, " index entries added, ",
        report.bytes_scanned, " bytes scanned, ", report.torn_bytes_cut,
        " bytes cut, ", report.damage.size(), " damaged regions"));
  }
  return absl::OkStatus();
}

void SetOpenCounters(benchmark::State& state, const OpenLogs& ol,
                     uint64_t bytes_scanned) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(ol.store_bytes));
  state.counters["segments"] = static_cast<double>(ol.segments);
  state.counters["records"] = static_cast<double>(ol.records);
  state.counters["store_bytes"] = static_cast<double>(ol.store_bytes);
  state.counters["bytes_scanned"] = static_cast<double>(bytes_scanned);
}

// Opens (timed) and closes (not timed) the log in `dir` once per iteration.
// `restore`, when set, runs untimed after each close.
void RunOpen(benchmark::State& state, const OpenLogs& ol, const std::string& dir,
             wal::RecoveryMode mode, const ExpectedRecovery& want,
             const std::function<absl::Status()>& restore) {
  wal::LogOptions options;
  options.recovery_mode = mode;
  uint64_t bytes_scanned = 0;
  for (auto _ : state) {
    absl::StatusOr<std::unique_ptr<wal::Log>> log = wal::Log::Open(dir, options);
    state.PauseTiming();
    absl::Status s = log.status();
    if (s.ok()) {
      bytes_scanned = (*log)->recovery_report().bytes_scanned;
      s = CheckReport(ol, (*log)->recovery_report(), want);
      const absl::Status close_status = (*log)->Close();
      if (s.ok()) s = close_status;
      log->reset();
    }
    if (s.ok() && restore) s = restore();
    state.ResumeTiming();
    if (SkipIfError(state, s)) break;
  }
  SetOpenCounters(state, ol, bytes_scanned);
}

void BM_LogOpenClean(benchmark::State& state) {
  absl::StatusOr<const OpenLogs*> ol = GetOpenLogs(state.range(0));
  if (SkipIfError(state, ol.status())) return;
  RunOpen(state, **ol, (*ol)->clean_dir, wal::RecoveryMode::kPointInTime,
          ExpectedRecovery{.clean = true}, nullptr);
}

void BM_LogOpenKilled(benchmark::State& state) {
  absl::StatusOr<const OpenLogs*> ol = GetOpenLogs(state.range(0));
  if (SkipIfError(state, ol.status())) return;
  const OpenLogs& logs = **ol;
  RunOpen(state, logs, logs.killed_dir, wal::RecoveryMode::kPointInTime,
          ExpectedRecovery{.clean = false,
                           .entries_added = kKilledMissing,
                           .bytes_scanned = logs.killed_scan_bytes},
          [&logs] {
            return CopyFile(logs.killed_index_pristine, logs.killed_index);
          });
}

void BM_LogOpenFullScan(benchmark::State& state) {
  absl::StatusOr<const OpenLogs*> ol = GetOpenLogs(state.range(0));
  if (SkipIfError(state, ol.status())) return;
  // Every store is read in full; the indexes agree with them, so nothing is
  // rewritten and the directory stays a clean log for the next iteration.
  RunOpen(state, **ol, (*ol)->clean_dir,
          wal::RecoveryMode::kAbsoluteConsistency,
          ExpectedRecovery{.clean = true,
                           .bytes_scanned = (*ol)->store_bytes},
          nullptr);
}

void BM_RawReadCrc(benchmark::State& state) {
  absl::StatusOr<const OpenLogs*> ol = GetOpenLogs(state.range(0));
  if (SkipIfError(state, ol.status())) return;
  std::unique_ptr<char[]> buffer(new char[kRawReadChunk]);
  for (auto _ : state) {
    uint32_t crc = 0;
    uint64_t total = 0;
    absl::Status s;
    for (const std::string& path : (*ol)->store_paths) {
      absl::StatusOr<uint64_t> n = ReadWholeFile(path, buffer.get(), &crc);
      if (!n.ok()) {
        s = n.status();
        break;
      }
      total += *n;
    }
    if (s.ok() && total != (*ol)->store_bytes) {
      s = absl::DataLossError(absl::StrCat("read ", total, " store bytes of ",
                                           (*ol)->store_bytes));
    }
    if (SkipIfError(state, s)) break;
    benchmark::DoNotOptimize(crc);
  }
  SetOpenCounters(state, **ol, (*ol)->store_bytes);
}

// Wall-clock time: an open waits for msync/fsync, which CPU time misses.
// The argument is the log's store MiB: kOpenHalfSegments half segments.
void OpenSizes(benchmark::internal::Benchmark* b) {
  const int64_t half_segment_mib =
      static_cast<int64_t>(wal::LogOptions().max_store_bytes >> 21);
  for (int64_t halves : kOpenHalfSegments) b->Arg(halves * half_segment_mib);
  b->Iterations(kOpenIterations)->UseRealTime();
}
BENCHMARK(BM_LogOpenClean)->Apply(OpenSizes);
BENCHMARK(BM_LogOpenKilled)->Apply(OpenSizes);
BENCHMARK(BM_LogOpenFullScan)->Apply(OpenSizes);
BENCHMARK(BM_RawReadCrc)->Apply(OpenSizes);

// Closes what the pre-built logs hold open, so their directories can go.
void ReleaseLogs() {
  delete ReadLogStorage();
  ReadLogStorage() = nullptr;
  OpenLogsStorage().clear();
}

}  // namespace
}  // namespace blockwal

int main(int argc, char** argv) {
  return blockwal::bench::RunBenchmarkMain(argc, argv, "log_bench",
                                           /*measure_mutexes_as_release=*/true,
                                           blockwal::ReleaseLogs);
}
