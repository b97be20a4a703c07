// The durable writer's gather: after a flush it waits for the sessions it acked to send again,
// so that the next flush covers them all instead of whoever came back first.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>
#include <string_view>

#include "runtime/event.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/io.hpp"
#include "service/sink.hpp"
#include "tests/support/temp_dir.hpp"

namespace ringline::service {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<sink> open_durable(const std::filesystem::path& path,
                                   std::chrono::microseconds gather_limit) {
  std::string why;
  auto opened = sink::open(
      path.string(),
      sink_options{.durable = true, .gather_limit = gather_limit, .gather_limit_fixed = true}, why);
  EXPECT_TRUE(opened) << why;
  return opened ? std::move(*opened) : nullptr;
}

std::size_t count_lines(const std::filesystem::path& path) {
  std::ifstream file(path);
  std::size_t lines = 0;
  for (std::string line; std::getline(file, line);) {
    ++lines;
  }
  return lines;
}

// A session that appends one line per round and, once it is acked, takes `round_trip` to send
// the next (its client's round trip), then leaves.
runtime::task<void> session(sink* out, int rounds, std::chrono::microseconds round_trip,
                            int* remaining, runtime::event* all_done) {
  const std::string line = "round trip " + std::to_string(round_trip.count());
  for (int round = 0; round < rounds; ++round) {
    const std::string_view one[] = {line};
    auto written = co_await out->append(one);
    EXPECT_TRUE(written) << written.error().message();
    (void)co_await runtime::sleep_for(round_trip);
  }
  out->leave();
  if (--*remaining == 0) {
    all_done->set();
  }
}

// A session that sends one line, then stays connected and quiet until `done` is set.
runtime::task<void> quiet_session(sink* out, runtime::event* done) {
  const std::string_view one[] = {"quiet"};
  auto written = co_await out->append(one);
  EXPECT_TRUE(written) << written.error().message();
  co_await *done;
  out->leave();
}

// What one session does: `rounds` lines, each sent `round_trip` after the last one's ack.
struct session_plan {
  std::chrono::microseconds round_trip;
  int rounds;
};

// Runs the writer and the planned sessions (and, with `one_quiet`, first a session that sends
// one line and then stays quiet until the others are done), then stops the sink.
runtime::task<void> sessions_then_stop(sink* out, std::vector<session_plan> plans,
                                       bool one_quiet = false) {
  auto& loop = runtime::event_loop::current();
  loop.spawn(out->run());
  runtime::event quiet_may_leave;
  if (one_quiet) {
    loop.spawn(quiet_session(out, &quiet_may_leave));
  }
  int remaining = static_cast<int>(plans.size());
  runtime::event all_done;
  for (const auto& plan : plans) {
    loop.spawn(session(out, plan.rounds, plan.round_trip, &remaining, &all_done));
  }
  co_await all_done;
  quiet_may_leave.set();
  out->stop();
  co_await loop.wait_for_spawned();
}

TEST(sink_gather_test, each_flush_covers_every_session_that_comes_back) {
  test_support::temp_dir dir;
  auto out = open_durable(dir.file("log"), 10s);
  ASSERT_NE(out, nullptr);
  // Sixteen sessions whose clients answer after 0.1 to 1.6 ms: without the gather the first
  // one back would start a flush of its line alone.
  constexpr int rounds = 10;
  std::vector<session_plan> plans;
  for (int each = 1; each <= 16; ++each) {
    plans.push_back({std::chrono::microseconds(100 * each), rounds});
  }
  runtime::event_loop loop;
  loop.run(sessions_then_stop(out.get(), plans));
  EXPECT_FALSE(out->failure());
  EXPECT_EQ(count_lines(dir.file("log")), 16U * rounds);
  EXPECT_EQ(out->metrics().flushes, static_cast<std::uint64_t>(rounds));
}

TEST(sink_gather_test, a_session_that_leaves_is_not_waited_for) {
  test_support::temp_dir dir;
  // A limit far beyond what the test takes when the leaving ends the gather.
  auto out = open_durable(dir.file("log"), 20s);
  ASSERT_NE(out, nullptr);
  constexpr int rounds = 4;
  const auto started = std::chrono::steady_clock::now();
  runtime::event_loop loop;
  // The second session's next line would come after 5 ms; it leaves instead, while the
  // writer gathers for it.
  loop.run(sessions_then_stop(out.get(), {{1ms, rounds}, {5ms, 1}}));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  EXPECT_EQ(count_lines(dir.file("log")), rounds + 1U);
}

TEST(sink_gather_test, a_session_that_goes_quiet_delays_one_group_by_the_limit_at_most) {
  test_support::temp_dir dir;
  auto out = open_durable(dir.file("log"), 20ms);
  ASSERT_NE(out, nullptr);
  constexpr int rounds = 5;
  runtime::event_loop loop;
  loop.run(sessions_then_stop(out.get(), {{1ms, rounds}}, true));
  EXPECT_EQ(count_lines(dir.file("log")), rounds + 1U);
  // The first group had both sessions; after one gather that timed out, the next groups
  // expect only the one that still sends, so each of its lines has a flush of its own.
  EXPECT_EQ(out->metrics().flushes, static_cast<std::uint64_t>(rounds));
}

TEST(sink_gather_test, the_gather_waits_no_longer_than_the_last_flush_took) {
  test_support::temp_dir dir;
  // The product's bound: the limit, but never longer than the last flush (here a flush of a
  // small file, far below the limit).
  std::string why;
  auto opened =
      sink::open(dir.file("log").string(), sink_options{.durable = true, .gather_limit = 10s}, why);
  ASSERT_TRUE(opened) << why;
  auto& out = **opened;
  constexpr int rounds = 5;
  const auto started = std::chrono::steady_clock::now();
  runtime::event_loop loop;
  // A session that goes quiet: every gather after the first group waits for it in vain.
  loop.run(sessions_then_stop(&out, {{1ms, rounds}}, true));
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_LT(took, 5s) << "a gather waited for its 10 s limit, not for the last flush's time";
  EXPECT_EQ(count_lines(dir.file("log")), rounds + 1U);
}

}  // namespace
}  // namespace ringline::service
