// What /metrics, /health and /ready say, from given inputs: the build, the PROXY errors, the
// process_* series (left out when unknown), and each 503 reason in its order.
#include "service/metrics_render.hpp"

#include <gtest/gtest.h>

#include <string>
#include <system_error>

namespace ringline::service {
namespace {

TEST(metrics_render_test, shows_build_info_proxy_errors_and_the_process) {
  metrics_view view;
  view.version = "1.2.3";
  view.backend = "io_uring";
  view.total.proxy_errors += 7;
  view.process.open_fds = 12;
  view.process.start_time_seconds = 1700000000.5;
  const auto text = render_metrics(view);
  EXPECT_NE(text.find("\nringline_build_info{version=\"1.2.3\",backend=\"io_uring\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\nringline_proxy_errors_total 7\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE process_open_fds gauge\nprocess_open_fds 12\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("\nprocess_start_time_seconds 1700000000.5\n"), std::string::npos) << text;
  // What /proc did not tell is left out, not shown as 0.
  EXPECT_EQ(text.find("process_resident_memory_bytes"), std::string::npos) << text;
}

readiness_inputs inputs(std::size_t active, std::size_t max_connections, bool draining = false,
                        std::error_code sink_failure = {}) {
  return {.draining = draining,
          .sink_failure = sink_failure,
          .active = active,
          .max_connections = max_connections};
}

TEST(metrics_render_test, ready_weighs_draining_the_sink_and_the_connection_limit) {
  const auto failing = std::make_error_code(std::errc::no_space_on_device);
  EXPECT_EQ(judge_ready(inputs(9, 10)).reason, "ready");
  EXPECT_TRUE(judge_ready(inputs(9, 10)).healthy);
  const auto full = judge_ready(inputs(10, 10));
  EXPECT_FALSE(full.healthy);
  EXPECT_EQ(full.reason, "connection limit reached: 10 of 10");
  EXPECT_EQ(judge_ready(inputs(10, 10, true)).reason, "draining");
  const auto sink = judge_ready(inputs(1, 10, false, failing));
  EXPECT_FALSE(sink.healthy);
  EXPECT_EQ(sink.reason, "sink failing: " + failing.message());
  // /health does not weigh the connection limit: a full server is not a broken one.
  EXPECT_TRUE(judge_health(false, {}).healthy);
}

}  // namespace
}  // namespace ringline::service
