#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "service/duration_histogram.hpp"

namespace ringline::service {

/// Writes metrics in the Prometheus text exposition format (version 0.0.4): a `# HELP` and
/// a `# TYPE` line once per metric family, then its samples.
class prometheus_text {
 public:
  /// Starts a family: `type` is counter, gauge or histogram.
  void family(std::string_view name, std::string_view type, std::string_view help);
  /// One sample of the current family; `labels` is empty or `key="value",...` (values must
  /// be escaped already; ours are fixed words and numbers).
  void sample(std::string_view name, std::string_view labels, std::uint64_t value);
  void sample(std::string_view name, std::string_view labels, double value);
  /// A whole histogram family: _bucket{le=...} lines, _sum and _count.
  void histogram(std::string_view name, std::string_view help, const duration_histogram& values);

  /// Returns the text written so far.
  [[nodiscard]] const std::string& text() const noexcept { return m_text; }

 private:
  std::string m_text;
};

}  // namespace ringline::service
