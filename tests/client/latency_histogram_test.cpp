#include "client/latency_histogram.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace ringline::client {
namespace {

constexpr double k_quantiles[] = {0.0, 0.5, 0.9, 0.99, 0.999, 1.0};

// The value an exact percentile over sorted data gives: the smallest with at least
// quantile * n values at or below it, as latency_histogram::value_at promises.
std::uint64_t exact_percentile(std::vector<std::uint64_t> values, double quantile) {
  std::sort(values.begin(), values.end());
  const auto rank = std::max<std::size_t>(
      1, static_cast<std::size_t>(std::ceil(quantile * static_cast<double>(values.size()))));
  return values[rank - 1];
}

void expect_within_one_percent(const std::vector<std::uint64_t>& values,
                               const latency_histogram& histogram) {
  for (const double quantile : k_quantiles) {
    const auto exact = exact_percentile(values, quantile);
    const auto estimate = histogram.value_at(quantile);
    const auto error = std::abs(static_cast<double>(estimate) - static_cast<double>(exact));
    EXPECT_LE(error, 0.01 * static_cast<double>(exact))
        << "quantile " << quantile << ": exact " << exact << ", histogram " << estimate;
  }
}

TEST(latency_histogram_test, percentiles_of_log_uniform_data_are_within_one_percent) {
  // Latencies from 1 us to 1 s, the range a load test sees, spread evenly over magnitudes.
  std::mt19937_64 random(20261130);
  std::uniform_real_distribution<double> exponent(3.0, 9.0);
  std::vector<std::uint64_t> values(100'000);
  auto histogram = std::make_unique<latency_histogram>();
  for (auto& value : values) {
    value = static_cast<std::uint64_t>(std::pow(10.0, exponent(random)));
    histogram->record(value);
  }
  expect_within_one_percent(values, *histogram);
  EXPECT_EQ(histogram->count(), values.size());
  EXPECT_EQ(histogram->max(), *std::max_element(values.begin(), values.end()));
}

TEST(latency_histogram_test, percentiles_of_narrow_data_are_within_one_percent) {
  // Values clustered in one bucket-rich range, where a coarse histogram would merge them.
  std::mt19937_64 random(7);
  std::normal_distribution<double> around(50'000.0, 3'000.0);
  std::vector<std::uint64_t> values(50'000);
  auto histogram = std::make_unique<latency_histogram>();
  for (auto& value : values) {
    value = static_cast<std::uint64_t>(std::max(1.0, around(random)));
    histogram->record(value);
  }
  expect_within_one_percent(values, *histogram);
}

TEST(latency_histogram_test, every_value_falls_in_a_bucket_narrower_than_one_128th_of_it) {
  std::mt19937_64 random(3);
  for (int i = 0; i < 100'000; ++i) {
    const auto value = random() >> (random() % 64);
    const auto bucket = latency_histogram::bucket_of(value);
    ASSERT_LT(bucket, latency_histogram::bucket_count);
    const auto low = latency_histogram::bucket_low(bucket);
    const auto width = latency_histogram::bucket_width(bucket);
    ASSERT_LE(low, value);
    ASSERT_LE(value - low, width - 1) << value;
    ASSERT_LE(static_cast<double>(width), std::max(1.0, static_cast<double>(low) / 128.0)) << value;
  }
  EXPECT_EQ(latency_histogram::bucket_of(UINT64_MAX), latency_histogram::bucket_count - 1);
}

TEST(latency_histogram_test, small_values_are_exact) {
  auto histogram = std::make_unique<latency_histogram>();
  for (std::uint64_t value = 1; value <= 100; ++value) {
    histogram->record(value);
  }
  EXPECT_EQ(histogram->value_at(0.5), 50U);
  EXPECT_EQ(histogram->value_at(0.99), 99U);
  EXPECT_EQ(histogram->value_at(1.0), 100U);
}

TEST(latency_histogram_test, merge_equals_recording_everything_in_one) {
  std::mt19937_64 random(11);
  auto first = std::make_unique<latency_histogram>();
  auto second = std::make_unique<latency_histogram>();
  auto both = std::make_unique<latency_histogram>();
  for (int i = 0; i < 10'000; ++i) {
    const auto value = random() % 10'000'000;
    (i % 3 == 0 ? *first : *second).record(value);
    both->record(value);
  }
  first->merge(*second);
  EXPECT_EQ(first->count(), both->count());
  EXPECT_EQ(first->max(), both->max());
  for (const double quantile : k_quantiles) {
    EXPECT_EQ(first->value_at(quantile), both->value_at(quantile)) << quantile;
  }
}

TEST(latency_histogram_test, empty_histogram_reports_zero) {
  const auto histogram = std::make_unique<latency_histogram>();
  EXPECT_EQ(histogram->count(), 0U);
  EXPECT_EQ(histogram->value_at(0.99), 0U);
  EXPECT_EQ(histogram->max(), 0U);
}

}  // namespace
}  // namespace ringline::client
