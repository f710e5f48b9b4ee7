// A fixed-size histogram of non-negative integers (latencies in µs, group
// sizes) with log-linear buckets: each power of two is split into
// kSubBuckets, so a reported percentile is within 1/kSubBuckets (12.5%) of the
// true value. Not thread-safe; callers guard it.
#ifndef BLOCKWAL_UTIL_HISTOGRAM_H_
#define BLOCKWAL_UTIL_HISTOGRAM_H_

#include <array>
#include <cstdint>
#include <string>

namespace blockwal {

class Histogram {
 public:
  static constexpr int kSubBits = 3;
  static constexpr int kSubBuckets = 1 << kSubBits;
  // Values 0 .. kSubBuckets-1 get a bucket each; above, 8 per power of two
  // up to 2^64.
  static constexpr int kNumBuckets = kSubBuckets + (64 - kSubBits) * kSubBuckets;

  void Add(uint64_t value);
  void Merge(const Histogram& other);
  void Clear() { *this = Histogram(); }

  uint64_t count() const { return count_; }
  uint64_t sum() const { return sum_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double mean() const {
    return count_ == 0 ? 0.0 : static_cast<double>(sum_) / count_;
  }
  // The value below which `p` percent (0..100) of the samples fall: the upper
  // bound of the bucket holding that rank, capped at max(). 0 when empty.
  uint64_t Percentile(double p) const;

  // "count=… mean=… p50=… p99=… p99.9=… max=…"
  std::string Summary() const;

  // The bucket a value falls in, and the largest value of a bucket.
  static int BucketFor(uint64_t value);
  static uint64_t BucketLimit(int bucket);

 private:
  std::array<uint64_t, kNumBuckets> buckets_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = ~uint64_t{0};
  uint64_t max_ = 0;
};

}  // namespace blockwal

#endif  // BLOCKWAL_UTIL_HISTOGRAM_H_
