#include "blockwal/util/histogram.h"

#include "gtest/gtest.h"

namespace blockwal {
namespace {

TEST(HistogramTest, EmptyHistogramReportsZeros) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.Percentile(50), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.Summary(), "count=0 mean=0.0 p50=0 p99=0 p99.9=0 max=0");
}

TEST(HistogramTest, SmallValuesAreExact) {
  Histogram h;
  for (uint64_t v = 0; v < 8; ++v) h.Add(v);
  EXPECT_EQ(h.Percentile(50), 3u);   // rank 4 of 8: value 3
  EXPECT_EQ(h.Percentile(100), 7u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.sum(), 28u);
}

TEST(HistogramTest, BucketsSplitEachPowerOfTwoInEight) {
  EXPECT_EQ(Histogram::BucketFor(7), 7);
  EXPECT_EQ(Histogram::BucketFor(8), 8);
  EXPECT_EQ(Histogram::BucketFor(15), 15);
  EXPECT_EQ(Histogram::BucketFor(16), 16);   // 16..17 share a bucket
  EXPECT_EQ(Histogram::BucketFor(17), 16);
  EXPECT_EQ(Histogram::BucketLimit(16), 17u);
  EXPECT_EQ(Histogram::BucketFor(1000), Histogram::BucketFor(1023));
  EXPECT_EQ(Histogram::BucketLimit(Histogram::BucketFor(1000)), 1023u);
  EXPECT_EQ(Histogram::BucketFor(~uint64_t{0}), Histogram::kNumBuckets - 1);
  EXPECT_EQ(Histogram::BucketLimit(Histogram::kNumBuckets - 1), ~uint64_t{0});
  for (uint64_t v : {9ull, 100ull, 12345ull, 1ull << 40, (1ull << 40) + 12345}) {
    const int b = Histogram::BucketFor(v);
    EXPECT_LE(v, Histogram::BucketLimit(b)) << v;
    EXPECT_GT(v, Histogram::BucketLimit(b - 1)) << v;
  }
}

TEST(HistogramTest, PercentilesAreWithinOneBucket) {
  Histogram h;
  for (uint64_t v = 1; v <= 1000; ++v) h.Add(v);
  EXPECT_EQ(h.Percentile(50), 511u);    // rank 500 lies in bucket [480, 511]
  EXPECT_EQ(h.Percentile(99), 1000u);   // bucket [960, 1023], capped at max
  EXPECT_EQ(h.Percentile(99.9), 1000u);
  EXPECT_DOUBLE_EQ(h.mean(), 500.5);
  EXPECT_EQ(h.max(), 1000u);
  EXPECT_EQ(h.min(), 1u);
}

TEST(HistogramTest, MergeAddsCounts) {
  Histogram a, b;
  a.Add(1);
  b.Add(100);
  b.Add(3);
  a.Merge(b);
  EXPECT_EQ(a.count(), 3u);
  EXPECT_EQ(a.sum(), 104u);
  EXPECT_EQ(a.min(), 1u);
  EXPECT_EQ(a.max(), 100u);
  EXPECT_EQ(a.Percentile(100), 100u);
}

}  // namespace
}  // namespace blockwal
