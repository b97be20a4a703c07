// deliver() embedded as a library, on an event loop of the test, against a stand-in server
// on a thread of the test: the counts it reports and the resend after a lost connection.
#include "client/deliver.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "client/sources.hpp"
#include "runtime/event_loop.hpp"
#include "tests/support/test_listener.hpp"
#include "tests/support/test_text.hpp"

namespace ringline::client {
namespace {

using namespace std::chrono_literals;
using test_support::k_ack;
using test_support::k_greeting;

constexpr auto k_wait = 10s;

delivery_options options_for(std::uint16_t port) {
  delivery_options options;
  options.connection.port = port;
  options.connection.timeout = 5s;
  options.window = 2;
  options.retry_for = 5s;
  options.jitter_seed = 1;
  return options;
}

/// What the stand-in server received on each connection.
struct server_log {
  std::string first;
  std::string second;
};

// Connection 1: greets, reads two lines (the window), acks one, reads the third, closes.
// Connection 2: greets, acks every line until the client's EOF.
void serve(test_support::test_listener* listener, server_log* log) {
  if (auto first = listener->accept(k_wait)) {
    first->send_all(k_greeting);
    for (int i = 0; i < 3; ++i) {
      if (i == 2) {
        first->send_all(k_ack);
      }
      log->first += first->read_line(k_wait).value_or("?\n");
    }
  }
  if (auto second = listener->accept(k_wait)) {
    second->send_all(k_greeting);
    while (auto line = second->read_line(k_wait)) {
      log->second += *line;
      second->send_all(k_ack);
    }
  }
}

TEST(deliver_test, library_resends_after_a_lost_connection_and_reports_the_counts) {
  test_support::test_listener listener;
  server_log log;
  std::thread server(serve, &listener, &log);
  vector_source lines({"a", "b", "c", "d", "e"});
  std::vector<delivery_result> reports;

  runtime::event_loop loop;
  auto outcome =
      loop.run(deliver(options_for(listener.port()), lines, nullptr,
                       [&reports](const delivery_result& now) { reports.push_back(now); }));
  server.join();

  ASSERT_TRUE(outcome) << outcome.error().message();
  EXPECT_EQ(log.first, "a\nb\nc\n");
  EXPECT_EQ(log.second, "b\nc\nd\ne\n");  // "a" was acknowledged: never sent again
  EXPECT_EQ(outcome->lines, 5U);
  EXPECT_EQ(outcome->acked, 5U);
  EXPECT_EQ(outcome->resent, 2U);
  EXPECT_EQ(outcome->reconnects, 1U);
  EXPECT_TRUE(outcome->input_done);
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().acked, 5U);  // the final counts reach the handler too
  int retries = 0;
  for (const auto& report : reports) {
    if (report.retry_in.count() > 0) {
      ++retries;
      EXPECT_EQ(report.to_resend, 2U);
      EXPECT_TRUE(report.last_error);
    }
  }
  EXPECT_EQ(retries, 1);
}

// Outages with progress in between: `cycles` times, a connection that greets, acks one line
// and closes (the client's next line, read first, proves the ack arrived: window 1), then one
// that says nothing for k_outage and closes, a failure without an ack. Then a last connection
// acks every line. Each outage ends with an ack within about k_outage plus two reconnection
// delays (at most 100 and 200 ms), well within retry_for; all of them together last longer.
constexpr auto k_outage = 200ms;
constexpr auto k_next_attempt = 3s;  // how long the stand-in waits for the client to come back

void serve_with_outages(test_support::test_listener* listener, int cycles, std::string* got) {
  for (int cycle = 0; cycle < cycles; ++cycle) {
    auto acking = listener->accept(k_next_attempt);
    if (!acking) {
      return;  // the client gave up
    }
    acking->send_all(k_greeting);
    *got += acking->read_line(k_wait).value_or("?\n");
    acking->send_all(k_ack);
    (void)acking->read_line(k_wait);  // sent after the ack: unacknowledged, resent next time
    acking->close();
    auto silent = listener->accept(k_next_attempt);
    if (!silent) {
      return;
    }
    std::this_thread::sleep_for(k_outage);  // the outage itself, not a synchronisation
    silent->close();
  }
  if (auto last = listener->accept(k_next_attempt)) {
    last->send_all(k_greeting);
    while (auto line = last->read_line(k_wait)) {
      *got += *line;
      last->send_all(k_ack);
    }
  }
}

TEST(deliver_test, retry_for_counts_only_the_time_without_an_ack) {
  constexpr int k_cycles = 4;
  test_support::test_listener listener;
  std::string received;
  std::thread server(serve_with_outages, &listener, k_cycles, &received);
  std::vector<std::string> input;
  std::string expected;
  for (int i = 1; i <= k_cycles + 1; ++i) {
    input.push_back(std::to_string(i));
    expected += std::to_string(i) + "\n";
  }
  vector_source lines(std::move(input));
  auto options = options_for(listener.port());
  options.window = 1;
  options.retry_for = 1s;

  runtime::event_loop loop;
  auto outcome = loop.run(deliver(options, lines, nullptr, nullptr));
  server.join();

  ASSERT_TRUE(outcome) << "gave up although no outage lasted --retry-for: "
                       << outcome.error().message();
  EXPECT_EQ(received, expected);
  EXPECT_EQ(outcome->acked, static_cast<std::uint64_t>(k_cycles + 1));
  EXPECT_EQ(outcome->reconnects, static_cast<std::uint64_t>(2 * k_cycles));
  // The premise: the outages together lasted longer than retry_for.
  EXPECT_GT(outcome->elapsed, options.retry_for);
}

TEST(deliver_test, library_without_retry_returns_the_first_failure_with_final_counts) {
  const auto port = test_support::free_port();  // nothing listens there
  vector_source lines({"a"});
  delivery_result last;
  auto options = options_for(port);
  options.retry_for = 0ms;

  runtime::event_loop loop;
  auto outcome = loop.run(
      deliver(options, lines, nullptr, [&last](const delivery_result& now) { last = now; }));

  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error(), std::errc::connection_refused);
  EXPECT_EQ(last.last_error, std::errc::connection_refused);
  EXPECT_EQ(last.acked, 0U);
  EXPECT_EQ(last.reconnects, 0U);
}

}  // namespace
}  // namespace ringline::client
