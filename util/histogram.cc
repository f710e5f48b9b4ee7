#include "blockwal/util/histogram.h"

#include <algorithm>
#include <cmath>

#include "absl/numeric/bits.h"
#include "absl/strings/str_format.h"

namespace blockwal {

int Histogram::BucketFor(uint64_t value) {
  if (value < kSubBuckets) return static_cast<int>(value);
  const int msb = 63 - absl::countl_zero(value);  // >= kSubBits
  const int sub = static_cast<int>((value >> (msb - kSubBits)) & (kSubBuckets - 1));
  return kSubBuckets + (msb - kSubBits) * kSubBuckets + sub;
}

uint64_t Histogram::BucketLimit(int bucket) {
  if (bucket < kSubBuckets) return static_cast<uint64_t>(bucket);
  const int msb = (bucket - kSubBuckets) / kSubBuckets + kSubBits;
  const uint64_t sub = static_cast<uint64_t>((bucket - kSubBuckets) % kSubBuckets);
  const uint64_t base = (uint64_t{1} << msb) | (sub << (msb - kSubBits));
  const uint64_t width = uint64_t{1} << (msb - kSubBits);
  return base + (width - 1);  // wraps to 2^64-1 for the top bucket
}

void Histogram::Add(uint64_t value) {
  ++buckets_[BucketFor(value)];
  ++count_;
  sum_ += value;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void Histogram::Merge(const Histogram& other) {
  for (int i = 0; i < kNumBuckets; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

uint64_t Histogram::Percentile(double p) const {
  if (count_ == 0) return 0;
  const double clamped = std::clamp(p, 0.0, 100.0);
  // The rank (1-based) of the sample at percentile p.
  const uint64_t rank = std::max<uint64_t>(
      1, static_cast<uint64_t>(std::ceil(clamped / 100.0 * count_)));
  uint64_t seen = 0;
  for (int i = 0; i < kNumBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::min(BucketLimit(i), max_);
  }
  return max_;
}

std::string Histogram::Summary() const {
  return absl::StrFormat("count=%u mean=%.1f p50=%u p99=%u p99.9=%u max=%u",
                         count_, mean(), Percentile(50), Percentile(99),
                         Percentile(99.9), max());
}

}  // namespace blockwal
