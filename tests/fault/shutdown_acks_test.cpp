// Graceful shutdown keeps every promise in both directions: SIGTERM while clients pipeline,
// and each client ends up with an ack for exactly the lines of its own that reached the sink.
// A line in the sink without its ack would be sent again by an at-least-once client, and
// stopping sessions by cancelling all their I/O (not only their reads) does exactly that.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cstddef>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "tests/fault/fault_support.hpp"
#include "tests/support/temp_dir.hpp"

namespace ringline::fault {
namespace {

using test_support::deadline;
using test_support::socket_client;
using test_support::temp_dir;

constexpr int k_clients = 8;
// Lines a client may have sent without their acks: enough to keep every session busy.
constexpr std::size_t k_window = 64;
constexpr std::size_t k_batch = 8;
// Acks every client has before the signal, so that it lands mid-flow.
constexpr std::size_t k_acks_before_signal = 50;

/// What one pipelining client saw.
struct client_record {
  std::size_t sent = 0;
  std::size_t acked = 0;
  bool eof = false;
  bool reset = false;
  std::string unexpected;  ///< a reply that was not an ack
};

/// Pipelines "c<id> <seq>" lines on `connection` until the server closes it, reading every
/// reply; bounded by `until`. Sets `at_quota` once k_acks_before_signal acks came.
void pipeline(socket_client connection, int id, client_record& record, std::atomic<int>& at_quota,
              const deadline& until) {
  bool told = false;
  while (!until.expired()) {
    if (record.sent - record.acked < k_window) {
      std::string batch;
      for (std::size_t i = 0; i < k_batch; ++i) {
        batch += fmt::format("c{} {}\n", id, record.sent + i);
      }
      // The server stops reading, but keeps reading and discarding until this client
      // closes: a failed send means a reset, which the checks below report.
      if (connection.try_send_all(batch)) {
        break;
      }
      record.sent += k_batch;
    }
    const auto reply = connection.read_line(20ms);
    if (reply) {
      if (*reply != k_ack) {
        record.unexpected = *reply;
        break;
      }
      if (++record.acked == k_acks_before_signal && !told) {
        told = true;
        ++at_quota;
        at_quota.notify_all();
      }
    } else if (connection.eof()) {
      break;
    }
  }
  if (!told) {
    ++at_quota;  // never leave the test thread waiting for the full timeout
  }
  at_quota.notify_all();
  record.eof = connection.wait_for_eof(0ms);
  record.reset = connection.was_reset();
  record.unexpected += connection.buffered();
}

TEST(shutdown_acks_test, sigterm_mid_flow_acks_exactly_the_lines_that_reached_the_sink) {
  const temp_dir dir;
  const auto sink_path = dir.file("lines.txt");
  // A grace period far longer than the test: every session ends by itself.
  auto server = start_server({"--sink", sink_path.string(), "--shutdown-grace", "60", "--quiet"});
  std::vector<client_record> records(k_clients);
  std::atomic<int> at_quota{0};
  const deadline until(60s);
  // jthreads join when destroyed, so a failed assertion leaves none joinable behind.
  std::vector<std::jthread> threads;
  for (int id = 0; id < k_clients; ++id) {
    auto connection = connect_greeted(server);
    ASSERT_TRUE(connection) << "client " << id;
    threads.emplace_back(pipeline, std::move(*connection), id,
                         std::ref(records[static_cast<std::size_t>(id)]), std::ref(at_quota),
                         std::cref(until));
  }
  // Every thread counts itself once, at its quota or at its end (bounded by `until`).
  for (int seen = at_quota.load(); seen < k_clients; seen = at_quota.load()) {
    at_quota.wait(seen);
  }
  ASSERT_TRUE(server.process().send_signal(SIGTERM));
  for (auto& each : threads) {
    each.join();
  }
  EXPECT_EQ(server.process().wait_for_exit(k_wait), 0) << server.process().stderr_so_far();

  std::vector<std::size_t> in_sink(k_clients, 0);
  for (const auto& line : split_lines(read_file(sink_path))) {
    int id = -1;
    std::size_t seq = 0;
    ASSERT_EQ(std::sscanf(line.c_str(), "c%d %zu", &id, &seq), 2) << line;
    ASSERT_TRUE(id >= 0 && id < k_clients) << line;
    auto& count = in_sink[static_cast<std::size_t>(id)];
    ASSERT_EQ(seq, count) << "client " << id << ": out of order or a gap";
    ++count;
  }
  for (int id = 0; id < k_clients; ++id) {
    const auto& record = records[static_cast<std::size_t>(id)];
    EXPECT_TRUE(record.eof) << "client " << id;
    EXPECT_FALSE(record.reset) << "client " << id;
    EXPECT_EQ(record.unexpected, "") << "client " << id;
    EXPECT_GE(record.acked, k_acks_before_signal) << "client " << id;
    EXPECT_EQ(in_sink[static_cast<std::size_t>(id)], record.acked)
        << "client " << id << ": lines in the sink that were never acked (or acks for lines "
        << "that are not there)";
  }
}

}  // namespace
}  // namespace ringline::fault
