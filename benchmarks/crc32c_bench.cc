// CRC32C throughput: blockwal::crc32c::Value against ISA-L's crc32_iscsi
// called directly, the floor our wrapper (register inversion, chunking of
// inputs past 1 GiB, an out-of-line call) should stay close to.
#include <isa-l/crc.h>

#include <cstdint>
#include <random>
#include <string>

#include "benchmark/benchmark.h"
#include "benchmarks/bench_util.h"
#include "blockwal/util/crc32c.h"

namespace blockwal {
namespace {

std::string RandomBytes(size_t n) { return bench::RandomBytes(n, 301); }

void BM_Crc32c_Blockwal(benchmark::State& state) {
  const std::string data = RandomBytes(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(crc32c::Value(data.data(), data.size()));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          state.range(0));
}

void BM_Crc32c_IsalDirect(benchmark::State& state) {
  std::string data = RandomBytes(static_cast<size_t>(state.range(0)));
  auto* p = reinterpret_cast<unsigned char*>(data.data());
  const int n = static_cast<int>(data.size());
  for (auto _ : state) {
    // The standard CRC32C, as blockwal computes it: inverted seed and result.
    benchmark::DoNotOptimize(crc32_iscsi(p, n, 0xffffffffu) ^ 0xffffffffu);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          state.range(0));
}

// 100 B: a small record; 4 KiB: a page; 32 KiB: a block; 1 MiB: bulk.
BENCHMARK(BM_Crc32c_Blockwal)->Arg(100)->Arg(4 << 10)->Arg(32 << 10)->Arg(1 << 20);
BENCHMARK(BM_Crc32c_IsalDirect)->Arg(100)->Arg(4 << 10)->Arg(32 << 10)->Arg(1 << 20);

}  // namespace
}  // namespace blockwal

BENCHMARK_MAIN();
