// The periods tests shorten through the environment (config.hpp, apply_test_periods): a
// 3 s PROXY header deadline or a 5 s status period is right for a server and a waste of a
// test's time.
#include <cstdlib>

#include "runtime/duration.hpp"
#include "service/config.hpp"

namespace ringline::service {

namespace {

void apply(const char* variable, std::chrono::milliseconds& period) {
  // Read at start, before any other thread exists.
  const char* text = std::getenv(variable);  // NOLINT(concurrency-mt-unsafe)
  if (text == nullptr) {
    return;
  }
  if (const auto parsed = runtime::parse_duration(text); parsed && parsed->count() > 0) {
    period = *parsed;
  }
}

}  // namespace

void apply_test_periods(config& settings) {
  apply("RINGLINE_TEST_PROXY_HEADER_TIME", settings.proxy_header_time);
  apply("RINGLINE_TEST_STATUS_PERIOD", settings.status_period);
}

}  // namespace ringline::service
