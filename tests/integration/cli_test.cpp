// Command lines and exit codes of the real programs: ringline-server exits 0 (help, version,
// clean stop), 1 (cannot run) or 2 (usage); ringline-client exits 0, 1 (failed), 2 (usage)
// or 3 (server full).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/integration_support.hpp"
#include "tests/support/socket_client.hpp"
#include "tests/support/unique_fd.hpp"

namespace ringline::integration {
namespace {

using test_support::client_path;
using test_support::server_path;
using test_support::unique_fd;

/// A program that mistakenly accepts bad arguments would run (and listen) until killed, so
/// usage errors get a shorter wait than k_wait; parsing takes milliseconds even under ASan.
constexpr std::chrono::milliseconds k_usage_wait = 15s;

/// Returns a loopback port that nothing listens on: bound to port 0, read back, closed.
std::uint16_t unused_port(int family = AF_INET) {
  const unique_fd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_storage storage{};
  socklen_t length = 0;
  if (family == AF_INET) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
    v4->sin_family = AF_INET;
    v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    length = sizeof *v4;
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
    v6->sin6_family = AF_INET6;
    v6->sin6_addr = in6addr_loopback;
    length = sizeof *v6;
  }
  if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&storage), length) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
    throw std::system_error(errno, std::system_category(), "bind an ephemeral port");
  }
  return ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&storage)->sin_port
                                 : reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port);
}

program_run run(const std::string& binary, std::vector<std::string> args,
                std::chrono::milliseconds timeout = k_wait) {
  args.insert(args.begin(), binary);
  return run_program(std::move(args), std::nullopt, timeout);
}

bool contains(std::string_view text, std::string_view needle) {
  return text.find(needle) != std::string_view::npos;
}

TEST(cli_test, server_help_exits_0_and_names_every_flag) {
  const auto help = run(server_path(), {"--help"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  for (const char* flag :
       {"-h,--help", "--host", "-p,--port", "--greeting", "--ack", "--max-line-bytes", "--sink",
        "--max-connections", "--idle-timeout", "--line-timeout", "--sink-timeout",
        "--shutdown-grace", "-q,--quiet", "-V,--version", "--durable"}) {
    EXPECT_TRUE(contains(help.out, flag)) << flag << " missing from:\n" << help.out;
  }
}

TEST(cli_test, server_version_exits_0) {
  const auto version = run(server_path(), {"--version"});
  EXPECT_EQ(version.exit_code, 0) << version.err;
  EXPECT_TRUE(version.out.starts_with("ringline-server ")) << version.out;
}

TEST(cli_test, server_rejects_bad_usage_with_exit_2_and_a_message) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--bogus"}, "--bogus"},
      {{"--port", "70000"}, "--port"},
      {{"--port", "-1"}, "--port"},
      {{"--port", "http"}, "--port"},
      {{"-p", "70000"}, "--port: 70000 is out of range 0..65535"},
      {{"--host", "no-such-host.invalid"}, "--host: cannot resolve 'no-such-host.invalid'"},
      {{"--host", ""}, "--host"},
      {{"--host", "256.0.0.1"}, "--host"},
      {{"--greeting", "a\nb"}, "--greeting"},
      {{"--greeting", "a\rb"}, "--greeting"},
      {{"--ack", "ok\n"}, "--ack"},
      {{"--ack", std::string(2000, 'a')}, "--ack: 2000 bytes is longer than the limit of 1024"},
      {{"--greeting", std::string(1025, 'g')}, "--greeting: 1025 bytes is longer"},
      {{"--idle-timeout", "5x"},
       "--idle-timeout: '5x' is not a duration; use 300, 300s, 5m, 1h or 250ms"},
      {{"--sink-timeout", "-1"}, "--sink-timeout"},
      {{"--shutdown-grace", "2h"}, "--shutdown-grace: '2h' is out of range"},
      {{"--durable", "--sink", "/dev/null"}, "--durable: /dev/null is a character device"},
      {{"--max-line-bytes", "0"}, "--max-line-bytes"},
      {{"--max-connections", "0"}, "--max-connections"},
      {{"--sink", ""}, "--sink"},
  };
  for (const auto& [args, flag] : cases) {
    auto with_port = args;
    // Port 0, so that a wrongly accepted command line cannot collide with anything.
    if (!flag.starts_with("--port")) {
      with_port.insert(with_port.end(), {"--port", "0"});
    }
    const auto result = run(server_path(), with_port, k_usage_wait);
    EXPECT_EQ(result.exit_code, 2)
        << flag << " " << (args.size() > 1 ? args[1].substr(0, 20) : "") << ": " << result.err;
    EXPECT_TRUE(contains(result.err, flag)) << "stderr does not say " << flag << ":\n"
                                            << result.err;
    EXPECT_FALSE(contains(result.err, "listening on")) << result.err;
  }
}

TEST(cli_test, server_exits_1_naming_the_port_when_it_is_in_use) {
  auto first = start_server_quietly({});
  const auto port = std::to_string(first.port());

  const auto second = run(server_path(), {"--port", port});

  EXPECT_EQ(second.exit_code, 1) << second.err;
  EXPECT_TRUE(contains(second.err, port)) << second.err;
  EXPECT_TRUE(contains(second.err, "in use")) << second.err;
  EXPECT_FALSE(contains(second.err, "listening on")) << second.err;
  // The first server is unaffected.
  auto connection = first.connect();
  EXPECT_EQ(connection.read_line(k_wait), k_greeting);
  connection.close();
  EXPECT_EQ(first.stop(k_wait), 0);
}

TEST(cli_test, server_exits_1_when_the_sink_cannot_be_opened) {
  const auto result = run(server_path(), {"--port", "0", "--sink", "/nonexistent-dir/x"});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_TRUE(contains(result.err, "/nonexistent-dir/x")) << result.err;
  EXPECT_FALSE(contains(result.err, "listening on")) << result.err;
}

TEST(cli_test, client_help_exits_0_and_names_every_flag) {
  const auto help = run(client_path(), {"--help"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  for (const char* flag : {"-h,--help", "-V,--version", "--host", "-p,--port", "--message",
                           "--stdin", "--greeting", "--ack", "--timeout", "-q,--quiet"}) {
    EXPECT_TRUE(contains(help.out, flag)) << flag << " missing from:\n" << help.out;
  }
}

TEST(cli_test, client_version_exits_0) {
  const auto version = run(client_path(), {"--version"});
  EXPECT_EQ(version.exit_code, 0) << version.err;
  EXPECT_TRUE(version.out.starts_with("ringline-client ")) << version.out;
}

TEST(cli_test, client_rejects_bad_usage_with_exit_2) {
  const std::uint16_t port = unused_port();
  const std::vector<std::vector<std::string>> cases = {
      {"--bogus"},
      {"--port", "70000"},
      {"--message", "two\nlines"},
      {"--message", "cr\r"},
      {"--stdin", "--message", "x"},
      {"--timeout", "-1"},
      {"--timeout", "5x"},
      {"-p", "70000"},
      {"--port", "http"},
  };
  for (auto args : cases) {
    const auto shown = args.front() + (args.size() > 1 ? " " + args[1] : "");
    if (args.front() != "--port" && args.front() != "-p") {
      args.insert(args.end(), {"--port", std::to_string(port)});
    }
    const auto result = run(client_path(), args, k_usage_wait);
    EXPECT_EQ(result.exit_code, 2) << shown << ": " << result.err;
    EXPECT_FALSE(result.err.empty()) << shown;
    EXPECT_EQ(result.out, "") << shown;
  }
}

TEST(cli_test, client_usage_errors_say_what_is_wrong) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--timeout", "5x"}, "--timeout: '5x' is not a duration; use 300, 300s, 5m, 1h or 250ms"},
      {{"--timeout", "2d"}, "--timeout: '2d' is not a duration"},
      {{"--timeout", "25h"}, "--timeout: '25h' is out of range 0 s..86400 s"},
      {{"-p", "70000"}, "--port: 70000 is out of range 0..65535"},
  };
  for (const auto& [args, message] : cases) {
    const auto result = run(client_path(), args, k_usage_wait);
    EXPECT_EQ(result.exit_code, 2) << args[0] << ": " << result.err;
    EXPECT_TRUE(contains(result.err, message)) << "expected '" << message << "' in:\n"
                                               << result.err;
  }
}

TEST(cli_test, client_exits_1_when_the_connection_is_refused) {
  const auto port = std::to_string(unused_port());
  const auto result = run(client_path(), {"--host", "127.0.0.1", "--port", port});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_TRUE(contains(result.err, "refused")) << result.err;
  EXPECT_TRUE(contains(result.err, port)) << result.err;
  EXPECT_EQ(result.out, "");
}

TEST(cli_test, client_exits_1_when_the_connection_is_refused_over_ipv6) {
  if (!has_ipv6_loopback()) {
    GTEST_SKIP() << "this machine cannot bind ::1 (IPv6 loopback disabled)";
  }
  const auto port = std::to_string(unused_port(AF_INET6));
  const auto result = run(client_path(), {"--host", "::1", "--port", port});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_TRUE(contains(result.err, "refused")) << result.err;
}

TEST(cli_test, client_exits_3_when_the_server_is_full) {
  auto server = start_server_quietly({"--max-connections", "1"});
  auto holder = server.connect();
  ASSERT_EQ(holder.read_line(k_wait), k_greeting);

  const auto result = run_client(client_args_for(server));

  EXPECT_EQ(result.exit_code, 3) << result.err;
  EXPECT_EQ(result.out, "not connect\n");
  EXPECT_TRUE(contains(result.err, "full")) << result.err;
  holder.close();
  EXPECT_EQ(server.stop(k_wait), 0);
}

TEST(cli_test, client_exits_1_when_the_server_stays_silent) {
  // The kernel completes the handshake for the backlog, but nobody accepts or greets.
  const unique_fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), length), 0);
  ASSERT_EQ(::listen(listener.get(), 4), 0);
  ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length), 0);

  const auto result =
      run(client_path(), {"--port", std::to_string(ntohs(address.sin_port)), "--timeout", "1"});

  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_EQ(result.err, "ringline-client: no greeting within 1 s\n");
  EXPECT_EQ(result.out, "");
}

TEST(cli_test, client_exits_1_when_the_server_ends_with_an_error_line) {
  auto server = start_server_quietly({"--max-line-bytes", "4"});
  auto args = client_args_for(server);
  args.insert(args.end(), {"--message", "ok", "--message", "too long"});

  const auto result = run_client(args);

  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_EQ(result.out, std::string(k_greeting) + std::string(k_ack));
  EXPECT_TRUE(contains(result.err, "line too long")) << result.err;
  EXPECT_TRUE(contains(result.err, "1 of 2")) << result.err;
  EXPECT_EQ(server.stop(k_wait), 0);
}

TEST(cli_test, client_exits_1_when_the_greeting_is_unexpected) {
  auto server = start_server_quietly({"--greeting", "hello"});
  const auto result = run_client(client_args_for(server));
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_FALSE(result.err.empty());
  EXPECT_EQ(server.stop(k_wait), 0);
}

}  // namespace
}  // namespace ringline::integration
