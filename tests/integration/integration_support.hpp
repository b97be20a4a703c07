#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "tests/support/build_paths.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/deadline.hpp"
#include "tests/support/server_process.hpp"
#include "tests/support/test_text.hpp"
#include "tests/support/unique_fd.hpp"

/// Helpers shared by the integration tests, which start the real ringline-server and
/// ringline-client as processes. Every wait here is bounded; none sleeps.
namespace ringline::integration {

using namespace std::chrono_literals;
using test_support::count_of;
using test_support::k_ack;
using test_support::k_greeting;
using test_support::k_idle_timeout;
using test_support::k_line_timeout;
using test_support::k_line_too_long;
using test_support::k_refusal;
using test_support::k_wait;
using test_support::read_file;
using test_support::repeat;
using test_support::split_lines;
using test_support::wait_for_stderr_line;
using test_support::wait_for_stderr_match;
using test_support::wait_for_stderr_prefix;
using test_support::write_file;

/// The line ringline-client sends when given no --message.
inline constexpr std::string_view k_default_message = "This data will Send to server!";

/// Starts ringline-server on port 0 with `args` appended (which may override --host or name
/// a --sink), its stdout (the default sink) redirected to the file `stdout_file`, and waits
/// for its `listening on` announcement. Throws like server_process::start.
inline test_support::server_process start_server(std::vector<std::string> args,
                                                 const std::filesystem::path& stdout_file) {
  test_support::child_options options;
  options.argv = {test_support::server_path(), "--port", "0"};
  options.argv.insert(options.argv.end(), std::make_move_iterator(args.begin()),
                      std::make_move_iterator(args.end()));
  options.stdout_mode = test_support::stdio_mode::file;
  options.stdout_path = stdout_file.string();
  return test_support::server_process::start(std::move(options), k_wait);
}

/// Starts ringline-server like start_server, with its stdout on /dev/null.
inline test_support::server_process start_server_quietly(std::vector<std::string> args) {
  std::vector<std::string> all = {"--port", "0"};
  all.insert(all.end(), std::make_move_iterator(args.begin()), std::make_move_iterator(args.end()));
  return test_support::server_process::start(test_support::server_path(), std::move(all), k_wait);
}

/// What a finished program did.
struct program_run {
  /// Exit code (128 + signal), or -1 if it did not finish within the wait (it was killed).
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// Runs `argv` to completion: feeds it `stdin_data` (if any) and closes its stdin, collects
/// stdout and stderr, and waits for its exit, all within `timeout` together. A program still
/// running at the deadline is killed and reported with exit code -1. `stdin_data` is written
/// before any output is read, so it must be small (a few KiB): a program that blocks writing
/// its stdout would never drain a large stdin. Redirect a file for large inputs instead.
inline program_run run_program(std::vector<std::string> argv,
                               std::optional<std::string> stdin_data = std::nullopt,
                               std::chrono::milliseconds timeout = k_wait) {
  test_support::child_options options;
  options.argv = std::move(argv);
  if (stdin_data) {
    options.stdin_mode = test_support::stdio_mode::pipe;
  }
  test_support::child_process child(std::move(options));
  if (stdin_data) {
    (void)child.write_stdin(*stdin_data);
    child.close_stdin();
  }
  const test_support::deadline until(timeout);
  program_run run;
  auto out = child.read_stdout_all(until.left());
  run.out = out ? std::move(*out) : child.stdout_so_far();
  run.exit_code = child.wait_for_exit(until.left()).value_or(-1);
  run.err = child.stderr_so_far();
  return run;
}

/// Runs ringline-client with `args` (see run_program).
inline program_run run_client(std::vector<std::string> args,
                              std::optional<std::string> stdin_data = std::nullopt) {
  args.insert(args.begin(), test_support::client_path());
  return run_program(std::move(args), std::move(stdin_data));
}

/// Returns the args that point ringline-client at `server`.
inline std::vector<std::string> client_args_for(const test_support::server_process& server) {
  return {"--host", server.host(), "--port", std::to_string(server.port())};
}

/// Returns true if this machine can bind a TCP socket to the IPv6 loopback address ::1.
inline bool has_ipv6_loopback() {
  const test_support::unique_fd fd(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) {
    return false;
  }
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_loopback;
  return ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
}

/// Returns how an address is written in the server's log: "[::1]:PORT" or "127.0.0.1:PORT".
inline std::string endpoint_text(std::string_view host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string_view::npos;
  return v6 ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

}  // namespace ringline::integration
