// Graceful shutdown under load: SIGTERM while 20 clients pipeline lines. Every line any client
// got an ack for is in the sink, the server exits 0 within the grace period, and accepts
// nothing new meanwhile. A second signal during the grace period exits at once.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "tests/fault/fault_support.hpp"
#include "tests/support/temp_dir.hpp"

namespace ringline::fault {
namespace {

using clock = std::chrono::steady_clock;
using test_support::deadline;
using test_support::socket_client;
using test_support::temp_dir;

constexpr int k_clients = 20;
// Lines a client sends before it has their acks; enough to keep every session busy.
constexpr std::size_t k_window = 64;
constexpr std::size_t k_batch = 16;
// Acks every client must have before the signal, so that it lands mid-flow.
constexpr std::size_t k_acks_before_signal = 100;

/// What one pipelining client saw.
struct client_record {
  std::size_t sent = 0;    ///< lines sent in full
  std::size_t acked = 0;   ///< acks received
  bool eof = false;        ///< the server closed the connection
  std::string unexpected;  ///< a reply that was not an ack, or an error
};

/// Lets the pipelining threads tell the test thread about progress.
class progress {
 public:
  void reached_quota() {
    const std::lock_guard lock(m_mutex);
    ++m_at_quota;
    m_changed.notify_all();
  }
  void saw_eof() {
    const std::lock_guard lock(m_mutex);
    ++m_at_eof;
    m_changed.notify_all();
  }
  /// Waits up to `timeout` until `count` clients reached the quota (or ended).
  bool wait_for_quota(int count, std::chrono::milliseconds timeout) {
    std::unique_lock lock(m_mutex);
    return m_changed.wait_for(lock, timeout, [&] { return m_at_quota >= count; });
  }
  /// Waits up to `timeout` until one client saw the server close.
  bool wait_for_first_eof(std::chrono::milliseconds timeout) {
    std::unique_lock lock(m_mutex);
    return m_changed.wait_for(lock, timeout, [&] { return m_at_eof > 0; });
  }

 private:
  std::mutex m_mutex;
  std::condition_variable m_changed;
  int m_at_quota = 0;
  int m_at_eof = 0;
};

/// Owns the pipelining threads; the destructor makes them quit and joins them, so that a
/// failed assertion does not leave a joinable std::thread behind (std::terminate).
class client_threads {
 public:
  client_threads() = default;
  client_threads(const client_threads&) = delete;
  client_threads& operator=(const client_threads&) = delete;
  ~client_threads() {
    m_quit = true;
    join();
  }

  template <typename... Args>
  void start(Args&&... args) {
    m_threads.emplace_back(std::forward<Args>(args)..., std::cref(m_quit));
  }
  void join() {
    for (auto& each : m_threads) {
      if (each.joinable()) {
        each.join();
      }
    }
  }

 private:
  std::atomic<bool> m_quit{false};
  std::vector<std::thread> m_threads;
};

/// Returns line `seq` of client `id`, without the '\n'.
std::string line_text(int id, std::size_t seq) {
  return fmt::format("client {} line {}", id, seq);
}

/// Pipelines lines on `connection` (k_window in flight) until the server closes it, counting
/// acks; bounded by `until`. Closes the connection at the end, so the server's lingering
/// close ends at once.
void pipeline(socket_client connection, int id, client_record& record, progress& events,
              const deadline& until, const std::atomic<bool>& quit) {
  bool quota_told = false;
  while (!until.expired() && !quit) {
    if (record.sent - record.acked < k_window) {
      std::string batch;
      for (std::size_t i = 0; i < k_batch; ++i) {
        batch += line_text(id, record.sent + i);
        batch += '\n';
      }
      // After the server's shutdown a send may fail (the peer closed): not an error here.
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
      ++record.acked;
      if (!quota_told && record.acked >= k_acks_before_signal) {
        quota_told = true;
        events.reached_quota();
      }
    } else if (connection.eof()) {
      record.eof = true;
      break;
    }
  }
  if (!quota_told) {
    events.reached_quota();  // never leave the test thread waiting for the full timeout
  }
  if (record.eof) {
    events.saw_eof();
  }
  connection.close();
}

TEST(shutdown_under_load_test, sigterm_mid_flow_keeps_every_acked_line_and_exits_0) {
  const temp_dir dir;
  const auto sink_path = dir.file("lines.txt");
  // A grace period far longer than the shutdown takes: every session ends by itself, so each
  // line that reached the sink must also have been acked (none is cut by force).
  auto server = start_server({"--sink", sink_path.string(), "--shutdown-grace", "60", "--quiet"});

  // A session that stays idle keeps the server in its shutdown (its lingering close) while
  // new connections are tried.
  auto holder = connect_greeted(server);
  ASSERT_TRUE(holder);
  std::vector<client_record> records(k_clients);
  progress events;
  const deadline until(60s);
  client_threads threads;
  for (int id = 0; id < k_clients; ++id) {
    auto connection = connect_greeted(server);
    ASSERT_TRUE(connection) << "client " << id;
    threads.start(pipeline, std::move(*connection), id,
                  std::ref(records[static_cast<std::size_t>(id)]), std::ref(events),
                  std::cref(until));
  }
  const bool mid_flow = events.wait_for_quota(k_clients, k_wait);

  ASSERT_TRUE(server.process().send_signal(SIGTERM));
  const auto signalled = clock::now();
  EXPECT_TRUE(mid_flow);
  EXPECT_TRUE(wait_for_stderr_line(server.process(), "signal 15: shutting down"))
      << server.process().stderr_so_far();

  // Once a session has been ended by the shutdown, accepting has long stopped: a new
  // connection is refused, or closed without a greeting (a reset, when it reached the
  // backlog just before the listener closed).
  ASSERT_TRUE(events.wait_for_first_eof(k_wait));
  std::string late_reply;
  try {
    auto late = server.connect();
    late_reply = late.read_until_eof(k_wait);
  } catch (const std::system_error& error) {
    EXPECT_TRUE(error.code() == std::errc::connection_refused ||
                error.code() == std::errc::connection_reset)
        << error.what();
  }
  EXPECT_EQ(late_reply, "");

  threads.join();
  EXPECT_TRUE(holder->wait_for_eof(k_wait));
  holder->close();
  const auto code = server.process().wait_for_exit(15s);
  const auto stop_time = clock::now() - signalled;
  EXPECT_EQ(code, 0) << server.process().stderr_so_far();
  EXPECT_LT(stop_time, 15s);  // sessions end on their own, long before the grace: liveness

  // Every client: ended by the server, only acks received, and the sink holds its lines in
  // order from the first one on: exactly the lines that were acked (a graceful stop acks
  // every line that reached the sink), never more than were sent.
  const auto sink_lines = split_lines(read_file(sink_path));
  std::vector<std::size_t> in_sink(k_clients, 0);
  std::size_t foreign = 0;
  for (const auto& line : sink_lines) {
    int id = -1;
    std::size_t seq = 0;
    if (std::sscanf(line.c_str(), "client %d line %zu", &id, &seq) != 2 || id < 0 ||
        id >= k_clients || line != line_text(id, seq)) {
      ++foreign;
      continue;
    }
    auto& count = in_sink[static_cast<std::size_t>(id)];
    EXPECT_EQ(seq, count) << "client " << id << ": out of order or a gap";
    count = seq + 1;
  }
  EXPECT_EQ(foreign, 0U) << "torn or foreign lines in the sink";
  std::size_t total_acked = 0;
  for (int id = 0; id < k_clients; ++id) {
    const auto& record = records[static_cast<std::size_t>(id)];
    EXPECT_TRUE(record.eof) << "client " << id;
    EXPECT_EQ(record.unexpected, "") << "client " << id;
    EXPECT_GE(record.acked, k_acks_before_signal) << "client " << id;
    EXPECT_EQ(in_sink[static_cast<std::size_t>(id)], record.acked)
        << "client " << id << ": lines in the sink that were never acked (or acks for lines "
        << "that are not there)";
    EXPECT_LE(in_sink[static_cast<std::size_t>(id)], record.sent) << "client " << id;
    total_acked += record.acked;
  }
  RecordProperty("acked_lines", std::to_string(total_acked));
  RecordProperty("sink_lines", std::to_string(sink_lines.size()));
}

TEST(shutdown_under_load_test, second_sigterm_during_the_grace_period_exits_at_once_with_143) {
  auto server = start_server({"--sink", "none", "--shutdown-grace", "30", "--quiet"});
  auto stuck = connect_greeted(server);
  ASSERT_TRUE(stuck);
  ASSERT_TRUE(fill_until_stalled(*stuck));

  ASSERT_TRUE(server.process().send_signal(SIGTERM));
  ASSERT_TRUE(wait_for_stderr_line(server.process(), "signal 15: shutting down (grace 30s)"))
      << server.process().stderr_so_far();
  // The stuck session holds the server in its 30 s grace period.
  ASSERT_EQ(server.process().wait_for_exit(500ms), std::nullopt);

  const auto second = clock::now();
  ASSERT_TRUE(server.process().send_signal(SIGTERM));
  EXPECT_EQ(server.process().wait_for_exit(10s), 128 + SIGTERM) << server.process().stderr_so_far();
  EXPECT_LT(clock::now() - second, 10s);
  EXPECT_NE(server.process().stderr_so_far().find("second signal: exiting now"), std::string::npos)
      << server.process().stderr_so_far();
}

}  // namespace
}  // namespace ringline::fault
