// The block layer against the raw system calls it sits on:
//   BM_BlockWriter  BlockWriter::AddRecord into a PosixWritableFile, unsynced
//   BM_RawWrite     the same bytes (framed once by BlockWriter into memory)
//                   handed to ::write in 64 KiB chunks: what the writer would
//                   cost if framing, CRCs and buffering were free
//   BM_BlockReader  BlockReader over a 64 MiB log, page cache warm
//   BM_RawRead      ::read of the same file in 32 KiB chunks
// One iteration of a writer benchmark is one record; one iteration of a
// reader benchmark is one pass over the file. Bytes are payload bytes for
// blockwal and baseline alike, so the throughput ratio is the time ratio.
//
// Files live in a fresh directory under $BLOCKWAL_BENCH_DIR (default $TMPDIR,
// then /tmp), removed at exit. Writers roll (truncate and start over) every
// kRollBytes so a long run does not fill the disk.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "benchmark/benchmark.h"
#include "benchmarks/bench_util.h"
#include "blockwal/util/file_system.h"
#include "blockwal/util/status_macros.h"
#include "blockwal/wal/block_reader.h"
#include "blockwal/wal/block_writer.h"

namespace blockwal {
namespace {

constexpr uint64_t kRollBytes = uint64_t{256} << 20;
constexpr size_t kRawWriteChunk = 64 << 10;
constexpr size_t kRawReadChunk = 32 << 10;
constexpr uint64_t kReadFileBytes = uint64_t{64} << 20;

using bench::FreshPath;
using bench::RandomBytes;
using bench::RemoveTree;
using bench::ScratchDir;

// Writes all of data at the file position, retrying short writes and EINTR.
absl::Status WriteAll(int fd, const char* data, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, "write");
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
  return absl::OkStatus();
}

absl::StatusOr<int> OpenTruncated(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                        0644);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  return fd;
}

absl::Status CloseFd(int fd) {
  if (::close(fd) != 0) return absl::ErrnoToStatus(errno, "close");
  return absl::OkStatus();
}

// Collects BlockWriter output in memory, to pre-build the baseline's bytes.
class StringFile final : public WritableFile {
 public:
  absl::Status Append(absl::string_view data) override {
    contents_.append(data.data(), data.size());
    return absl::OkStatus();
  }
  absl::Status Flush() override { return absl::OkStatus(); }
  absl::Status Sync() override { return absl::OkStatus(); }
  absl::Status Truncate(uint64_t size) override {
    contents_.resize(size);
    return absl::OkStatus();
  }
  uint64_t Size() const override { return contents_.size(); }
  absl::Status Close() override { return absl::OkStatus(); }
  const std::string& path() const override { return path_; }

  std::string* contents() { return &contents_; }

 private:
  const std::string path_ = "<memory>";
  std::string contents_;
};

// One roll period of BM_BlockWriter's file, byte for byte: records are added
// until the writer's position reaches kRollBytes, the rule BM_BlockWriter
// rolls by.
struct LogImage {
  std::string bytes;
  std::vector<uint64_t> record_ends;  // file position after each record
};

absl::StatusOr<const LogImage*> GetLogImage(size_t record_size) {
  static auto* cache = new std::map<size_t, std::unique_ptr<LogImage>>;
  auto it = cache->find(record_size);
  if (it != cache->end()) return it->second.get();

  const std::string payload = RandomBytes(record_size);
  StringFile file;
  file.contents()->reserve(kRollBytes + 2 * wal::kBlockSize);
  wal::BlockWriter writer(&file);
  auto image = std::make_unique<LogImage>();
  while (writer.position() < kRollBytes) {
    BW_RETURN_IF_ERROR(writer.AddRecord(payload).status());
    image->record_ends.push_back(writer.position());
  }
  BW_RETURN_IF_ERROR(writer.Flush());
  image->bytes = std::move(*file.contents());
  const LogImage* result = image.get();
  cache->emplace(record_size, std::move(image));
  return result;
}

void SetWriterCounters(benchmark::State& state, size_t record_size) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(record_size));
  state.counters["records/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_BlockWriter(benchmark::State& state) {
  const size_t record_size = static_cast<size_t>(state.range(0));
  const std::string payload = RandomBytes(record_size);
  absl::StatusOr<std::string> dir = ScratchDir();
  if (!dir.ok()) {
    state.SkipWithError(dir.status().ToString().c_str());
    return;
  }
  const std::string path = JoinPath(*dir, "writer.log");
  FileSystem* fs = FileSystem::Default();
  absl::StatusOr<std::unique_ptr<WritableFile>> file = fs->NewWritableFile(path);
  if (!file.ok()) {
    state.SkipWithError(file.status().ToString().c_str());
    return;
  }
  auto writer = std::make_unique<wal::BlockWriter>(file->get());

  for (auto _ : state) {
    absl::Status s = writer->AddRecord(payload).status();
    if (s.ok() && writer->position() >= kRollBytes) {
      s = writer->Flush();
      if (s.ok()) s = (*file)->Close();
      if (s.ok()) {
        writer.reset();
        file = fs->NewWritableFile(path);  // truncates: bounds disk use
        s = file.status();
        if (s.ok()) writer = std::make_unique<wal::BlockWriter>(file->get());
      }
    }
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
  }
  if (writer != nullptr) {
    absl::Status s = writer->Flush();
    if (s.ok()) s = (*file)->Close();
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  }
  SetWriterCounters(state, record_size);
}

void BM_RawWrite(benchmark::State& state) {
  const size_t record_size = static_cast<size_t>(state.range(0));
  absl::StatusOr<const LogImage*> image = GetLogImage(record_size);
  absl::StatusOr<std::string> dir = ScratchDir();
  absl::Status s = image.ok() ? dir.status() : image.status();
  if (!s.ok()) {
    state.SkipWithError(s.ToString().c_str());
    return;
  }
  const std::string path = JoinPath(*dir, "raw_write.log");
  absl::StatusOr<int> fd = OpenTruncated(path);
  if (!fd.ok()) {
    state.SkipWithError(fd.status().ToString().c_str());
    return;
  }
  const char* bytes = (*image)->bytes.data();
  const std::vector<uint64_t>& ends = (*image)->record_ends;
  size_t record = 0;
  uint64_t written = 0;  // bytes of the image handed to write() so far

  for (auto _ : state) {
    // "Append" the next record: write whatever whole chunks it completes.
    const uint64_t end = ends[record++];
    while (s.ok() && end - written >= kRawWriteChunk) {
      s = WriteAll(*fd, bytes + written, kRawWriteChunk);
      written += kRawWriteChunk;
    }
    if (s.ok() && record == ends.size()) {
      // Roll exactly where BM_BlockWriter does, after flushing the tail.
      s = WriteAll(*fd, bytes + written, end - written);
      if (s.ok()) s = CloseFd(*fd);
      if (s.ok()) {
        fd = OpenTruncated(path);
        s = fd.status();
      }
      record = 0;
      written = 0;
    }
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
  }
  if (fd.ok()) {
    s = CloseFd(*fd);
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  }
  SetWriterCounters(state, record_size);
}

// A kReadFileBytes log of equal records, written once per record size.
struct ReadFile {
  std::string path;
  uint64_t records = 0;
  uint64_t payload_bytes = 0;
  uint64_t file_bytes = 0;
};

absl::StatusOr<const ReadFile*> GetReadFile(size_t record_size) {
  static auto* cache = new std::map<size_t, std::unique_ptr<ReadFile>>;
  auto it = cache->find(record_size);
  if (it != cache->end()) return it->second.get();

  BW_ASSIGN_OR_RETURN(std::string dir, ScratchDir());
  auto rf = std::make_unique<ReadFile>();
  rf->path = JoinPath(dir, absl::StrCat("read_", record_size, ".log"));
  {
    BW_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file,
                        FileSystem::Default()->NewWritableFile(rf->path));
    wal::BlockWriter writer(file.get());
    const std::string payload = RandomBytes(record_size);
    while (writer.position() < kReadFileBytes) {
      BW_RETURN_IF_ERROR(writer.AddRecord(payload).status());
      ++rf->records;
      rf->payload_bytes += record_size;
    }
    BW_RETURN_IF_ERROR(writer.Flush());
    rf->file_bytes = writer.position();
    BW_RETURN_IF_ERROR(file->Close());
  }
  // Warm the page cache, so both readers measure memory, not the disk.
  BW_ASSIGN_OR_RETURN(std::string contents,
                      ReadFileToString(FileSystem::Default(), rf->path));
  if (contents.size() != rf->file_bytes) {
    return absl::DataLossError(absl::StrCat(rf->path, " has ", contents.size(),
                                            " bytes, wrote ", rf->file_bytes));
  }
  const ReadFile* result = rf.get();
  cache->emplace(record_size, std::move(rf));
  return result;
}

class CountingReporter final : public wal::BlockReader::Reporter {
 public:
  void Corruption(uint64_t position, uint64_t bytes,
                  absl::string_view reason) override {
    if (first_.empty()) first_ = absl::StrCat(position, ": ", reason);
    ++count_;
  }
  int count() const { return count_; }
  const std::string& first() const { return first_; }

 private:
  int count_ = 0;
  std::string first_;
};

void SetReaderCounters(benchmark::State& state, const ReadFile& rf) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(rf.payload_bytes));
  state.counters["records/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) *
                             static_cast<double>(rf.records),
                         benchmark::Counter::kIsRate);
}

void BM_BlockReader(benchmark::State& state) {
  absl::StatusOr<const ReadFile*> rf =
      GetReadFile(static_cast<size_t>(state.range(0)));
  if (!rf.ok()) {
    state.SkipWithError(rf.status().ToString().c_str());
    return;
  }
  std::string scratch;
  for (auto _ : state) {
    absl::StatusOr<std::unique_ptr<SequentialFile>> file =
        FileSystem::Default()->NewSequentialFile((*rf)->path);
    if (!file.ok()) {
      state.SkipWithError(file.status().ToString().c_str());
      break;
    }
    CountingReporter reporter;
    wal::BlockReader reader(file->get(), &reporter);
    absl::string_view record;
    uint64_t records = 0;
    while (reader.ReadRecord(&record, &scratch)) {
      benchmark::DoNotOptimize(record.data());
      ++records;
    }
    if (!reader.status().ok()) {
      state.SkipWithError(reader.status().ToString().c_str());
      break;
    }
    if (reporter.count() != 0 || records != (*rf)->records) {
      state.SkipWithError(absl::StrCat("read ", records, " of ", (*rf)->records,
                                       " records; ", reporter.count(),
                                       " corruptions, first ", reporter.first())
                              .c_str());
      break;
    }
  }
  SetReaderCounters(state, **rf);
}

void BM_RawRead(benchmark::State& state) {
  absl::StatusOr<const ReadFile*> rf =
      GetReadFile(static_cast<size_t>(state.range(0)));
  if (!rf.ok()) {
    state.SkipWithError(rf.status().ToString().c_str());
    return;
  }
  std::unique_ptr<char[]> buffer(new char[kRawReadChunk]);
  for (auto _ : state) {
    const int fd = ::open((*rf)->path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      state.SkipWithError(absl::ErrnoToStatus(errno, "open").ToString().c_str());
      break;
    }
    uint64_t total = 0;
    absl::Status s;
    while (true) {
      const ssize_t r = ::read(fd, buffer.get(), kRawReadChunk);
      if (r < 0) {
        if (errno == EINTR) continue;
        s = absl::ErrnoToStatus(errno, "read");
        break;
      }
      if (r == 0) break;
      benchmark::DoNotOptimize(buffer.get());
      total += static_cast<uint64_t>(r);
    }
    const absl::Status close_status = CloseFd(fd);
    if (s.ok()) s = close_status;
    if (s.ok() && total != (*rf)->file_bytes) {
      s = absl::DataLossError(absl::StrCat("read ", total, " bytes of ",
                                           (*rf)->file_bytes));
    }
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
  }
  SetReaderCounters(state, **rf);
}

// Rates are per CPU second of the benchmark thread (user + system, so the
// system calls and the page-cache copies count): on a shared machine the wall
// clock mostly measures the neighbours. Writeback to the disk happens in
// kernel threads for blockwal and baseline alike and is in neither; the JSON
// output has real_time too.
BENCHMARK(BM_BlockWriter)->Arg(100)->Arg(1 << 10)->Arg(64 << 10);
BENCHMARK(BM_RawWrite)->Arg(100)->Arg(1 << 10)->Arg(64 << 10);
BENCHMARK(BM_BlockReader)->Arg(100)->Arg(1 << 10)->Arg(64 << 10);
BENCHMARK(BM_RawRead)->Arg(100)->Arg(1 << 10)->Arg(64 << 10);

}  // namespace
}  // namespace blockwal

int main(int argc, char** argv) {
  return blockwal::bench::RunBenchmarkMain(argc, argv, "block_bench",
                                           /*measure_mutexes_as_release=*/false);
}
