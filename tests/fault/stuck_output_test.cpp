// Outputs that stop moving: a stdout sink and a stderr log whose readers never read. Neither
// may freeze the server: sessions waiting for a stuck sink end with `error: sink failed`
// after --sink-timeout and free their slots; a blocked log drops lines instead of blocking
// the loop, and says how many once it drains; SIGTERM still ends the server.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/fault/fault_support.hpp"
#include "tests/support/temp_dir.hpp"

namespace ringline::fault {
namespace {

using test_support::child_options;
using test_support::child_process;
using test_support::deadline;
using test_support::socket_client;
using test_support::temp_dir;
using test_support::unique_fd;

/// A FIFO the test opens for reading (and writing, so opening never waits) and reads only
/// when it chooses to: the server's output blocks once its 64 KiB are full.
class stuck_fifo {
 public:
  explicit stuck_fifo(const temp_dir& dir, const char* name) : m_path(dir.file(name)) {
    EXPECT_EQ(::mkfifo(m_path.c_str(), 0600), 0);
    m_fd = unique_fd(::open(m_path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
    EXPECT_TRUE(m_fd.valid());
  }
  [[nodiscard]] std::string path() const { return m_path.string(); }

  /// Writes into the FIFO itself until it is full: the server's next write there blocks.
  void fill() {
    const std::string block(4096, '#');
    while (::write(m_fd.get(), block.data(), block.size()) > 0) {
    }
  }

  /// Reads whatever is there now (never blocks) and appends it to text().
  void drain() {
    char buffer[65536];
    for (;;) {
      const auto got = ::read(m_fd.get(), buffer, sizeof buffer);
      if (got <= 0) {
        return;
      }
      m_text.append(buffer, static_cast<std::size_t>(got));
    }
  }

  /// Drains until `needle` has arrived or `timeout` passed; returns whether it arrived.
  bool drain_until(std::string_view needle, std::chrono::milliseconds timeout) {
    for (const deadline until(timeout); !until.expired();) {
      drain();
      if (m_text.find(needle) != std::string::npos) {
        return true;
      }
      pollfd ready{m_fd.get(), POLLIN, 0};
      (void)::poll(&ready, 1, 20);
    }
    return false;
  }

  [[nodiscard]] const std::string& text() const { return m_text; }

 private:
  std::filesystem::path m_path;
  unique_fd m_fd;
  std::string m_text;
};

/// Starts ringline-server through a shell that redirects `redirect` ("1>FIFO", "2>FIFO").
child_process start_redirected(const std::string& redirect, std::vector<std::string> args) {
  child_options options;
  options.argv = {"/bin/sh",
                  "-c",
                  "exec \"$0\" \"$@\" " + redirect,
                  test_support::server_path(),
                  "--host",
                  "127.0.0.1",
                  "--port",
                  "0"};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.stdout_mode = test_support::stdio_mode::null;
  return child_process(std::move(options));
}

TEST(stuck_output_test, sessions_waiting_for_a_stuck_sink_end_and_free_their_slots) {
  const temp_dir dir;
  stuck_fifo sink(dir, "sink.fifo");
  // (Built with append: GCC 12 warns falsely about `">" + path`, bug 105651.)
  std::string redirect(">");
  redirect.append(sink.path());
  auto server = start_redirected(redirect, {"--sink", "stdout", "--sink-timeout", "1",
                                            "--max-connections", "20", "--shutdown-grace", "1"});
  std::optional<test_support::listen_address> address;
  while (!address) {
    const auto line = server.read_stderr_line(k_wait);
    ASSERT_TRUE(line) << server.stderr_so_far();
    address = test_support::parse_listening_line(*line);
  }

  // Every slot takes a session whose line cannot reach the full pipe.
  sink.fill();
  std::vector<socket_client> clients;
  const std::string line = repeat("s", std::size_t{8} * 1024) + "\n";
  for (int i = 0; i < 20; ++i) {
    auto client = socket_client::connect(address->host, address->port);
    ASSERT_EQ(client.read_line(k_wait), k_greeting) << i;
    client.send_all(line);
    clients.push_back(std::move(client));
  }
  // None is acknowledged: each ends with the error line once --sink-timeout has passed.
  for (auto& client : clients) {
    // --sink-timeout is 1 s; ten times that is ample even under a sanitizer.
    ASSERT_EQ(client.read_until_eof(10s), "error: sink failed\n") << server.stderr_so_far();
  }
  // Their slots are free again once they have closed (a session lingers until its client
  // closes): the next client is greeted, not refused.
  clients.clear();
  bool greeted = false;
  for (const deadline until(k_wait); !greeted && !until.expired();) {
    auto next = socket_client::connect(address->host, address->port);
    greeted = next.read_line(k_wait) == k_greeting;
  }
  EXPECT_TRUE(greeted) << server.stderr_so_far();

  // Shutdown does not wait for the stuck writer beyond its grace.
  ASSERT_TRUE(server.send_signal(SIGTERM));
  EXPECT_EQ(server.wait_for_exit(k_wait), 0) << server.stderr_so_far();
  const auto err = server.stderr_so_far();
  EXPECT_NE(err.find("unwritten at the end of the shutdown grace"), std::string::npos) << err;
  const auto at = err.rfind("stats: ");
  ASSERT_NE(at, std::string::npos) << err;
  const auto counters = parse_stats(err.substr(at, err.find('\n', at) - at));
  EXPECT_EQ(counters.at("sink"), 20U) << err;
  EXPECT_EQ(counters.at("lines"), 0U) << err;
}

/// Reads the FIFO until the server's announcement; returns its address.
std::optional<test_support::listen_address> read_announcement(stuck_fifo& log) {
  if (!log.drain_until("listening on", k_wait)) {
    return std::nullopt;
  }
  const auto& text = log.text();
  const auto at = text.find("listening on");
  return test_support::parse_listening_line(text.substr(at, text.find('\n', at) - at));
}

/// Connects and disconnects `count` clients, each greeted: two log lines each.
void churn(const test_support::listen_address& address, int count) {
  for (int i = 0; i < count; ++i) {
    auto client = socket_client::connect(address.host, address.port);
    // Each greeting comes at once from a server that is not frozen; 5 s is ample.
    ASSERT_EQ(client.read_line(5s), k_greeting) << "client " << i << " was not greeted";
  }
}

/// A server (`--sink none`) whose stderr is a FIFO the test reads only when it chooses to.
struct server_with_stuck_log {
  temp_dir dir;
  stuck_fifo log{dir, "log.fifo"};
  child_process server = start_redirected(std::string("2>").append(log.path()), {"--sink", "none"});
  std::optional<test_support::listen_address> address = read_announcement(log);
};

TEST(stuck_output_test, a_log_nobody_reads_never_freezes_the_server) {
  server_with_stuck_log stuck;
  auto& server = stuck.server;
  const auto& address = stuck.address;
  ASSERT_TRUE(address) << stuck.log.text();

  // About 130 bytes of log per client: 3,000 of them are six times what the pipe holds.
  churn(*address, 3000);
  auto client = socket_client::connect(address->host, address->port);
  ASSERT_EQ(client.read_line(k_wait), k_greeting);
  client.send_all("still served\n");
  EXPECT_EQ(client.read_line(k_wait), k_ack);
  client.close();

  // SIGTERM is still handled, and the process exits though its log cannot be written.
  ASSERT_TRUE(server.send_signal(SIGTERM));
  EXPECT_EQ(server.wait_for_exit(k_wait), 0);
}

TEST(stuck_output_test, dropped_log_lines_are_counted_and_reported_once_the_log_drains) {
  server_with_stuck_log stuck;
  auto& server = stuck.server;
  auto& log = stuck.log;
  const auto& address = stuck.address;
  ASSERT_TRUE(address) << log.text();

  // About 520 KB of log: more than the server's 256 KiB queue and the pipe's 64 KiB.
  churn(*address, 4000);
  // Reading again lets the log drain; it then says what it could not write.
  EXPECT_TRUE(log.drain_until("log: dropped ", k_wait)) << log.text().size() << " bytes read";
  ASSERT_TRUE(server.send_signal(SIGTERM));
  EXPECT_EQ(server.wait_for_exit(k_wait), 0);
  log.drain();
  const auto& text = log.text();
  const auto at = text.find("log: dropped ");
  ASSERT_NE(at, std::string::npos);
  EXPECT_GT(std::stoul(text.substr(at + 13)), 0U) << text.substr(at, 80);
  // What was written are whole lines: every line of the log ends where a line ends.
  EXPECT_EQ(text.back(), '\n');
}

}  // namespace
}  // namespace ringline::fault
