// ringline-client as a person uses it: --stdin fed by hand with pauses, --quiet, host names,
// and servers that go silent while a reply is owed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <system_error>
#include <thread>

#include "tests/integration/integration_support.hpp"
#include "tests/support/socket_client.hpp"
#include "tests/support/temp_dir.hpp"

namespace ringline::integration {
namespace {

using test_support::unique_fd;

/// The client's --timeout in the silent-server tests, and how long they wait for it to give up:
/// long enough for a loaded ASan build, far shorter than the wait the bug caused (forever).
constexpr std::string_view k_client_timeout = "1";
constexpr std::chrono::milliseconds k_give_up_wait = 15s;

/// A stand-in server that says only what a test tells it to: a listening socket on
/// 127.0.0.1 port 0 whose connections the test accepts and drives by hand.
class fake_server {
 public:
  fake_server() : m_listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (!m_listener ||
        ::bind(m_listener.get(), reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(m_listener.get(), 4) != 0 ||
        ::getsockname(m_listener.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::system_error(errno, std::system_category(), "fake server listen");
    }
    m_port = ntohs(address.sin_port);
  }

  [[nodiscard]] std::uint16_t port() const noexcept { return m_port; }

  /// Accepts the next connection, waiting up to `timeout`; throws if none comes.
  test_support::socket_client accept(std::chrono::milliseconds timeout) {
    pollfd ready{m_listener.get(), POLLIN, 0};
    if (::poll(&ready, 1, static_cast<int>(timeout.count())) != 1) {
      throw std::runtime_error("fake server: no connection arrived");
    }
    unique_fd fd(::accept4(m_listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!fd) {
      throw std::system_error(errno, std::system_category(), "fake server accept");
    }
    return test_support::socket_client(std::move(fd));
  }

 private:
  unique_fd m_listener;
  std::uint16_t m_port = 0;
};

test_support::child_process start_client(std::vector<std::string> args) {
  test_support::child_options options;
  options.argv = {test_support::client_path()};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  return test_support::child_process(std::move(options));
}

std::vector<std::string> five_messages() {
  return {"--message", "1", "--message", "2", "--message", "3", "--message", "4", "--message", "5"};
}

TEST(client_test, interactive_stdin_may_pause_longer_than_the_reply_timeout) {
  auto server = start_server_quietly({"--sink", "none"});
  test_support::child_options options;
  options.argv = {test_support::client_path(),   "--host",  server.host(), "--port",
                  std::to_string(server.port()), "--stdin", "--timeout",   "1"};
  options.stdin_mode = test_support::stdio_mode::pipe;
  test_support::child_process client(std::move(options));
  ASSERT_TRUE(client.write_stdin("first\n"));
  // The ack of the first line arrives; then the person thinks for longer than --timeout.
  const std::string expected_first = std::string(k_greeting) + std::string(k_ack);
  const test_support::deadline until(k_wait);
  while (client.stdout_so_far().size() < expected_first.size() && until.left().count() > 0) {
    (void)client.read_stderr_line(std::chrono::milliseconds(50));  // pumps stdout meanwhile
  }
  ASSERT_EQ(client.stdout_so_far(), expected_first);
  // The pause is the behaviour under test, not a synchronisation: no reply is owed during it.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_TRUE(client.write_stdin("second\n"));
  client.close_stdin();
  EXPECT_EQ(client.wait_for_exit(k_wait), 0) << client.stderr_so_far();
  EXPECT_EQ(client.stdout_so_far(), expected_first + std::string(k_ack));
}

TEST(client_test, gives_up_naming_the_greeting_when_the_server_accepts_but_never_greets) {
  fake_server server;
  auto client = start_client(
      {"--port", std::to_string(server.port()), "--timeout", std::string(k_client_timeout)});
  auto connection = server.accept(k_wait);

  EXPECT_EQ(client.wait_for_exit(k_give_up_wait), 1) << client.stderr_so_far();
  EXPECT_EQ(client.stderr_so_far(), "ringline-client: no greeting within 1 s\n");
  EXPECT_EQ(client.stdout_so_far(), "");
}

TEST(client_test,
     gives_up_naming_the_lines_unacknowledged_when_the_server_greets_then_goes_silent) {
  fake_server server;
  auto args = five_messages();
  args.insert(args.end(), {"--port", std::to_string(server.port()), "--timeout",
                           std::string(k_client_timeout)});
  auto client = start_client(args);
  auto connection = server.accept(k_wait);
  connection.send_all(k_greeting);

  EXPECT_EQ(client.wait_for_exit(k_give_up_wait), 1) << client.stderr_so_far();
  EXPECT_EQ(client.stderr_so_far(),
            "ringline-client: 5 of 5 lines unacknowledged after 1 s without a reply\n");
  EXPECT_EQ(client.stdout_so_far(), k_greeting);
}

TEST(client_test, gives_up_counting_the_acks_that_came_when_the_server_stops_acking) {
  fake_server server;
  auto args = five_messages();
  args.insert(args.end(), {"--port", std::to_string(server.port()), "--timeout",
                           std::string(k_client_timeout)});
  auto client = start_client(args);
  auto connection = server.accept(k_wait);
  connection.send_all(k_greeting);
  // Two lines arrive and are acked; the other three never are.
  ASSERT_EQ(connection.read_line(k_wait), "1\n");
  ASSERT_EQ(connection.read_line(k_wait), "2\n");
  connection.send_all(test_support::repeat(k_ack, 2));

  EXPECT_EQ(client.wait_for_exit(k_give_up_wait), 1) << client.stderr_so_far();
  EXPECT_EQ(client.stderr_so_far(),
            "ringline-client: 3 of 5 lines unacknowledged after 1 s without a reply\n");
  EXPECT_EQ(client.stdout_so_far(), std::string(k_greeting) + test_support::repeat(k_ack, 2));
}

TEST(client_test, quiet_keeps_greeting_and_acks_off_stdout) {
  auto server = start_server_quietly({"--sink", "none"});
  auto args = client_args_for(server);
  args.insert(args.end(), {"-q", "--message", "one", "--message", "two"});
  const auto result = run_client(args);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err, "");
  EXPECT_EQ(server.stop(k_wait), 0);
}

TEST(client_test, quiet_still_reports_errors_on_stderr) {
  fake_server server;
  auto client =
      start_client({"--quiet", "-p", std::to_string(server.port()), "--timeout", "250ms"});
  auto connection = server.accept(k_wait);
  EXPECT_EQ(client.wait_for_exit(k_give_up_wait), 1);
  EXPECT_EQ(client.stderr_so_far(), "ringline-client: no greeting within 250 ms\n");
  EXPECT_EQ(client.stdout_so_far(), "");
}

TEST(client_test, a_repeated_option_takes_its_last_value_and_messages_add_up) {
  auto server = start_server_quietly({"--sink", "none"});
  // The first --port names a port nobody listens on; the last one wins.
  const auto result =
      run_client({"--host", server.host(), "--port", "1", "-p", std::to_string(server.port()),
                  "--timeout", "1", "--timeout", "30s", "--message", "a", "--message", "b"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, std::string(k_greeting) + test_support::repeat(k_ack, 2));
  EXPECT_EQ(server.stop(k_wait), 0);
}

TEST(client_test, client_and_server_meet_by_host_name) {
  const test_support::temp_dir dir;
  const auto sink = dir.file("lines");
  auto server = start_server({"--host", "localhost", "--sink", sink.string()}, dir.file("out"));
  EXPECT_TRUE(server.host() == "127.0.0.1" || server.host() == "::1") << server.host();
  const auto result = run_client(
      {"--host", "localhost", "--port", std::to_string(server.port()), "--message", "by name"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, std::string(k_greeting) + std::string(k_ack));
  EXPECT_EQ(server.stop(k_wait), 0);
  EXPECT_EQ(read_file(sink), "by name\n");
}

TEST(client_test, a_server_error_is_reported_once_in_the_servers_words) {
  // /dev/full refuses every write: the first client's line fails the sink, and from then on
  // the server answers new connections "error: sink unavailable" instead of its greeting.
  auto server = start_server_quietly({"--sink", "/dev/full"});
  auto args = client_args_for(server);
  args.insert(args.end(), {"--message", "lost"});
  const auto failed = run_client(args);
  EXPECT_EQ(failed.exit_code, 1) << failed.err;
  EXPECT_EQ(failed.out, k_greeting);
  EXPECT_EQ(failed.err, "ringline-client: server error: sink failed (0 of 1 lines acknowledged)\n");

  const auto refused = run_client(args);
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_EQ(refused.out, "");
  EXPECT_EQ(refused.err, "ringline-client: server error: sink unavailable\n");
  EXPECT_EQ(server.stop(k_wait), 0);
}

TEST(client_test, a_server_that_shuts_down_is_said_to_have_closed_the_connection) {
  auto server = start_server_quietly({"--sink", "none"});
  test_support::child_options options;
  options.argv = {test_support::client_path(),   "--host", server.host(), "--port",
                  std::to_string(server.port()), "--stdin"};
  options.stdin_mode = test_support::stdio_mode::pipe;
  test_support::child_process client(std::move(options));
  ASSERT_TRUE(client.write_stdin("first\n"));
  const std::string acked = std::string(k_greeting) + std::string(k_ack);
  for (const test_support::deadline until(k_wait);
       client.stdout_so_far().size() < acked.size() && !until.expired();) {
    (void)client.read_stderr_line(std::chrono::milliseconds(50));  // pumps stdout meanwhile
  }
  ASSERT_EQ(client.stdout_so_far(), acked);

  // Its shutdown: every line acked, then an orderly close (a FIN), while the client's input
  // is still open. Not a reset, and not a failure to acknowledge.
  EXPECT_EQ(server.stop(k_wait), 0);
  EXPECT_EQ(client.wait_for_exit(k_wait), 1) << client.stderr_so_far();
  EXPECT_EQ(client.stderr_so_far(),
            "ringline-client: server closed the connection (1 of 1 lines acknowledged); every "
            "line read so far acknowledged (1), the rest of the input unread\n");
}

TEST(client_test, a_server_that_closes_before_greeting_is_said_to_have_done_so) {
  fake_server server;
  auto client = start_client({"--port", std::to_string(server.port())});
  server.accept(k_wait).close();

  EXPECT_EQ(client.wait_for_exit(k_give_up_wait), 1) << client.stderr_so_far();
  EXPECT_EQ(client.stderr_so_far(),
            "ringline-client: server closed the connection before its greeting\n");
  EXPECT_EQ(client.stdout_so_far(), "");
}

TEST(client_test, an_unknown_host_name_exits_1_naming_it) {
  const auto result = run_client({"--host", "no-such-host.invalid", "--port", "1"});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_TRUE(result.err.starts_with("ringline-client: cannot resolve 'no-such-host.invalid': "))
      << result.err;
  EXPECT_EQ(result.out, "");
}

}  // namespace
}  // namespace ringline::integration
