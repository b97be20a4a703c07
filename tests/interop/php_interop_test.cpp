// ringline against the PHP socket programs it replaces (tests/interop/php/), run with the
// `php` found in PATH (or $RINGLINE_PHP). PHP is a requirement here, not an option: without
// it, or without its sockets extension, every test fails and says what is missing.

#include <signal.h>

#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/integration_support.hpp"
#include "tests/support/socket_client.hpp"
#include "tests/support/temp_dir.hpp"

namespace ringline::integration {
namespace {

using test_support::child_options;
using test_support::server_process;
using test_support::source_dir;
using test_support::stdio_mode;
using test_support::temp_dir;

/// Returns the PHP interpreter to run: $RINGLINE_PHP, else `php` from PATH.
std::string php_binary() {
  return test_support::detail::from_environment("RINGLINE_PHP", "php");
}

/// Returns the path of one of the reference programs.
std::string php_program(std::string_view name) {
  return source_dir() + "/tests/interop/php/" + std::string(name);
}

/// Returns an empty string if PHP can run the reference programs, else why it cannot.
std::string php_problem() {
  const std::string php = php_binary();
  program_run probe;
  try {
    probe = run_program(
        {php, "-r", "echo function_exists('socket_create') ? 'sockets' : 'no sockets';"});
  } catch (const std::system_error& error) {
    return "cannot run '" + php + "' (" + error.what() +
           "): the interop tests need the PHP CLI with the sockets extension in PATH "
           "(or set RINGLINE_PHP to the interpreter)";
  }
  if (probe.exit_code == 0 && probe.out == "no sockets") {
    return "'" + php + "' lacks the sockets extension (socket_create); install php-sockets";
  }
  if (probe.exit_code != 0 || probe.out != "sockets") {
    return "'" + php + "' did not run a one-line PHP script (exit code " +
           std::to_string(probe.exit_code) + ", stdout '" + probe.out + "', stderr '" + probe.err +
           "')";
  }
  return {};
}

/// Runs every case once per loopback address; the parameter is the host literal.
class php_interop_test : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    // A missing PHP is a failure, not a skip: CI installs it, so its absence is a broken setup.
    if (const auto problem = php_problem(); !problem.empty()) {
      FAIL() << problem;
    }
    if (host().find(':') != std::string::npos && !has_ipv6_loopback()) {
      GTEST_SKIP() << "this machine cannot bind ::1 (IPv6 loopback disabled)";
    }
  }

  [[nodiscard]] std::string host() const { return GetParam(); }
  [[nodiscard]] std::filesystem::path stdout_path() const { return m_dir.file("stdout.txt"); }

  /// Starts ringline-server on host() with its stdout sink in stdout_path().
  server_process start_ringline_server(std::vector<std::string> args = {}) {
    args.insert(args.begin(), {"--host", host()});
    return start_server(std::move(args), stdout_path());
  }

  /// Starts the PHP server on host(), port 0, with its stdout (the lines) in stdout_path().
  server_process start_php_server(std::vector<std::string> extra = {}) {
    child_options options;
    options.argv = {php_binary(), php_program("server.php"), host(), "0"};
    options.argv.insert(options.argv.end(), extra.begin(), extra.end());
    options.stdout_mode = stdio_mode::file;
    options.stdout_path = stdout_path().string();
    return server_process::start(std::move(options), k_wait);
  }

  /// Runs the PHP client against `server` with `messages` (none: its default message).
  static program_run run_php_client(const server_process& server,
                                    const std::vector<std::string>& messages) {
    std::vector<std::string> argv = {php_binary(), php_program("client.php"), server.host(),
                                     std::to_string(server.port())};
    argv.insert(argv.end(), messages.begin(), messages.end());
    return run_program(std::move(argv));
  }

  /// Runs ringline-client against `server` with `messages` (none: its default message).
  static program_run run_ringline_client(const server_process& server,
                                         const std::vector<std::string>& messages) {
    auto args = client_args_for(server);
    for (const auto& message : messages) {
      args.insert(args.end(), {"--message", message});
    }
    return run_client(std::move(args));
  }

  temp_dir m_dir;
};

TEST_P(php_interop_test, php_client_prints_what_ringline_client_prints) {
  auto server = start_ringline_server();
  const std::vector<std::vector<std::string>> conversations = {
      {},
      {"first", "", "third line", "\xc3\xbcml\xc3\xa4ut"},
  };
  std::string expected_sink;
  for (const auto& messages : conversations) {
    const auto php = run_php_client(server, messages);
    const auto ours = run_ringline_client(server, messages);

    const auto sent =
        messages.empty() ? std::vector<std::string>{std::string(k_default_message)} : messages;
    EXPECT_EQ(php.exit_code, 0) << php.err;
    EXPECT_EQ(ours.exit_code, 0) << ours.err;
    EXPECT_EQ(php.out, std::string(k_greeting) + repeat(k_ack, sent.size())) << php.err;
    EXPECT_EQ(ours.out, php.out);
    // The PHP client ran first, then ringline-client: each line reached the sink twice.
    for (int client = 0; client < 2; ++client) {
      for (const auto& message : sent) {
        expected_sink += message + "\n";
      }
    }
  }
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
  EXPECT_EQ(read_file(stdout_path()), expected_sink);
}

TEST_P(php_interop_test, php_client_sees_a_full_ringline_server_as_ringline_client_does) {
  auto server = start_ringline_server({"--max-connections", "1"});
  auto holder = server.connect();
  ASSERT_EQ(holder.read_line(k_wait), k_greeting);

  const auto php = run_php_client(server, {});
  const auto ours = run_ringline_client(server, {});

  EXPECT_EQ(php.exit_code, 3) << php.err;
  EXPECT_EQ(ours.exit_code, 3) << ours.err;
  EXPECT_EQ(php.out, "not connect\n");
  EXPECT_EQ(ours.out, php.out);
  holder.close();
  EXPECT_EQ(server.stop(k_wait), 0);
}

TEST_P(php_interop_test, ringline_client_talks_to_the_php_server) {
  auto server = start_php_server();
  EXPECT_EQ(server.host(), host());

  const auto default_run = run_ringline_client(server, {});
  const auto several = run_ringline_client(server, {"one", "", "three"});
  auto stdin_args = client_args_for(server);
  stdin_args.emplace_back("--stdin");
  const auto from_stdin = run_client(stdin_args, std::string("crlf\r\nlf\nlast"));

  EXPECT_EQ(default_run.exit_code, 0) << default_run.err;
  EXPECT_EQ(default_run.out, std::string(k_greeting) + std::string(k_ack));
  EXPECT_EQ(several.exit_code, 0) << several.err;
  EXPECT_EQ(several.out, std::string(k_greeting) + repeat(k_ack, 3));
  EXPECT_EQ(from_stdin.exit_code, 0) << from_stdin.err;
  EXPECT_EQ(from_stdin.out, std::string(k_greeting) + repeat(k_ack, 3));

  // The PHP server has no signal handling: SIGTERM ends it with the default action.
  EXPECT_EQ(server.stop(k_wait), 128 + SIGTERM);
  EXPECT_EQ(read_file(stdout_path()),
            std::string(k_default_message) + "\none\n\nthree\ncrlf\nlf\nlast\n");
}

TEST_P(php_interop_test, both_servers_answer_the_same_bytes_to_the_same_stream) {
  // Lines without a lone CR and shorter than 2048 bytes, where the two servers agree; the
  // trailing partial line is dropped by both.
  const std::string stream = "alpha\r\n\nbeta gamma\n" + std::string(2000, 'x') + "\ntail";
  std::string replies[2];
  std::string sinks[2];
  for (int which = 0; which < 2; ++which) {
    auto server = which == 0 ? start_ringline_server() : start_php_server();
    auto connection = server.connect();
    connection.send_all(stream);
    connection.shutdown_write();
    replies[which] = connection.read_until_eof(k_wait);
    EXPECT_TRUE(connection.eof()) << (which == 0 ? "ringline" : "php") << " did not close";
    connection.close();
    EXPECT_EQ(server.stop(k_wait), which == 0 ? 0 : 128 + SIGTERM);
    sinks[which] = read_file(stdout_path());
  }
  EXPECT_EQ(replies[0], std::string(k_greeting) + repeat(k_ack, 4));
  EXPECT_EQ(replies[1], replies[0]);
  EXPECT_EQ(sinks[0], "alpha\n\nbeta gamma\n" + std::string(2000, 'x') + "\n");
  EXPECT_EQ(sinks[1], sinks[0]);
}

INSTANTIATE_TEST_SUITE_P(loopback, php_interop_test, ::testing::Values("127.0.0.1", "::1"),
                         [](const ::testing::TestParamInfo<const char*>& param_info) {
                           return std::string(param_info.param) == "::1" ? "ipv6" : "ipv4";
                         });

}  // namespace
}  // namespace ringline::integration
