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
#include "tests/support/unique_fd.hpp"

/// Helpers shared by the integration tests, which start the real ringline-server and
/// ringline-client as processes. Every wait here is bounded; none sleeps.
namespace ringline::integration {

using namespace std::chrono_literals;

/// The greeting line a default server sends, terminator included.
inline constexpr std::string_view k_greeting = "connect\n";
/// The ack line a default server sends, terminator included (note the space before '\n').
inline constexpr std::string_view k_ack = "Thank you client , you data is Received success \n";
/// The line ringline-client sends when given no --message.
inline constexpr std::string_view k_default_message = "This data will Send to server!";

/// The longest a test waits for one event (a line, EOF, an exit). Generous, because the
/// sanitizer build is several times slower, yet well under the 120 s test timeout.
inline constexpr std::chrono::milliseconds k_wait = 30s;

/// Returns `text` repeated `count` times.
inline std::string repeat(std::string_view text, std::size_t count) {
  std::string out;
  out.reserve(text.size() * count);
  for (std::size_t i = 0; i < count; ++i) {
    out.append(text);
  }
  return out;
}

/// Returns the whole content of the file at `path`, or an empty string if it cannot be read.
inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

/// Writes `content` to the file at `path`, replacing what was there.
inline void write_file(const std::filesystem::path& path, std::string_view content) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(content.data(), static_cast<std::streamsize>(content.size()));
}

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

/// Reads `process`'s stderr line by line until `matches(line)` holds and returns that line;
/// returns nullopt if no line matches within `timeout` (or stderr ends first). The lines
/// before it are consumed.
template <typename Predicate>
std::optional<std::string> wait_for_stderr_match(test_support::child_process& process,
                                                 Predicate matches,
                                                 std::chrono::milliseconds timeout = k_wait) {
  const test_support::deadline until(timeout);
  // Each pass consumes one line, so the loop is bounded by the lines the program writes; the
  // cap guards against a program that floods stderr.
  for (int lines = 0; lines < 100'000; ++lines) {
    auto line = process.read_stderr_line(until.left());
    if (!line) {
      return std::nullopt;
    }
    if (matches(std::string_view(*line))) {
      return line;
    }
  }
  return std::nullopt;
}

/// Like wait_for_stderr_match, for the first line that contains `needle`.
inline std::optional<std::string> wait_for_stderr_line(test_support::child_process& process,
                                                       std::string_view needle,
                                                       std::chrono::milliseconds timeout = k_wait) {
  return wait_for_stderr_match(
      process, [needle](std::string_view line) { return line.find(needle) != line.npos; }, timeout);
}

/// Like wait_for_stderr_match, for the first line that starts with `prefix`.
inline std::optional<std::string> wait_for_stderr_prefix(
    test_support::child_process& process, std::string_view prefix,
    std::chrono::milliseconds timeout = k_wait) {
  return wait_for_stderr_match(
      process, [prefix](std::string_view line) { return line.starts_with(prefix); }, timeout);
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

/// Splits `text` at '\n' into lines without terminators; a final unterminated piece is kept.
inline std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    if (newline == std::string_view::npos) {
      lines.emplace_back(text);
      break;
    }
    lines.emplace_back(text.substr(0, newline));
    text.remove_prefix(newline + 1);
  }
  return lines;
}

}  // namespace ringline::integration
