#include "service/prometheus_text.hpp"

#include <fmt/format.h>

namespace ringline::service {

void prometheus_text::family(std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(std::back_inserter(m_text), "# HELP {} {}\n# TYPE {} {}\n", name, help, name,
                 type);
}

void prometheus_text::sample(std::string_view name, std::string_view labels, std::uint64_t value) {
  if (labels.empty()) {
    fmt::format_to(std::back_inserter(m_text), "{} {}\n", name, value);
  } else {
    fmt::format_to(std::back_inserter(m_text), "{}{{{}}} {}\n", name, labels, value);
  }
}

void prometheus_text::sample(std::string_view name, std::string_view labels, double value) {
  if (labels.empty()) {
    fmt::format_to(std::back_inserter(m_text), "{} {}\n", name, value);
  } else {
    fmt::format_to(std::back_inserter(m_text), "{}{{{}}} {}\n", name, labels, value);
  }
}

void prometheus_text::histogram(std::string_view name, std::string_view help,
                                const duration_histogram& values) {
  family(name, "histogram", help);
  const std::string bucket = fmt::format("{}_bucket", name);
  for (std::size_t i = 0; i < duration_histogram::k_bounds.size(); ++i) {
    sample(bucket, fmt::format("le=\"{}\"", duration_histogram::k_bounds[i]), values.cumulative(i));
  }
  sample(bucket, "le=\"+Inf\"", values.count());
  sample(fmt::format("{}_sum", name), "", values.sum_seconds());
  sample(fmt::format("{}_count", name), "", values.count());
}

}  // namespace ringline::service
