#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
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
#include "tests/support/socket_client.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_text.hpp"
#include "tests/support/unique_fd.hpp"

/// Helpers shared by the fault tests, which start the real ringline-server and misbehave
/// towards it from real sockets. Every wait here is bounded by a timeout; none sleeps.
namespace ringline::fault {

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

/// Returns the child options that run ringline-server on 127.0.0.1, port 0, with `args`
/// appended (a --sink among them; without one the default stdout sink goes to /dev/null).
inline test_support::child_options server_options(std::vector<std::string> args) {
  test_support::child_options options;
  options.argv = {test_support::server_path(), "--host", "127.0.0.1", "--port", "0"};
  options.argv.insert(options.argv.end(), std::make_move_iterator(args.begin()),
                      std::make_move_iterator(args.end()));
  options.stdout_mode = test_support::stdio_mode::null;
  return options;
}

/// Returns the UBSAN_OPTIONS entry for a server that will run out of descriptors, with a
/// suppressions file written to `dir`.
///
/// UBSan's vptr check reads the vtable only after probing that the memory is readable, and
/// the probe (IsAccessibleMemoryRange, LLVM 14) needs a pipe(): with no descriptor left it
/// fails, and the check reports "object has invalid vptr" for std::error_category, then
/// aborts the server (-fno-sanitize-recover), when the server formats the EMFILE error. That
/// is the sanitizer's own descriptor need, not a fault of the server, so that one check is
/// suppressed; a build without UBSan ignores the variable.
inline std::string ubsan_options_for_fd_exhaustion(const test_support::temp_dir& dir) {
  const auto path = dir.file("ubsan.supp");
  // std::error_category's vptr (formatting EMFILE) and std::thread's state (a thread started
  // once descriptors ran out): both the standard library's, checked the same way.
  std::ofstream(path) << "vptr:include/c++/*/system_error\nvptr:include/c++/*/bits/std_thread.h\n";
  const char* inherited = std::getenv("UBSAN_OPTIONS");
  std::string value = inherited != nullptr ? inherited : "";
  if (!value.empty()) {
    value += ':';
  }
  return "UBSAN_OPTIONS=" + value + "suppressions=" + path.string();
}

/// Returns the size of `path`, 0 when it does not exist.
inline std::uintmax_t size_of(const std::filesystem::path& path) {
  struct stat status {};
  return ::stat(path.c_str(), &status) == 0 ? static_cast<std::uintmax_t>(status.st_size) : 0;
}

/// Waits until `path` holds at least `bytes`, polling its size every millisecond (a file's
/// growth has no event to await here); returns false if `client` ended or time ran out.
inline bool wait_for_size(const std::filesystem::path& path, std::uintmax_t bytes,
                          test_support::child_process& client) {
  for (const test_support::deadline until(k_wait); !until.expired();) {
    if (size_of(path) >= bytes) {
      return true;
    }
    if (client.wait_for_exit(std::chrono::milliseconds(1))) {
      return false;
    }
  }
  return false;
}

/// Starts ringline-server as server_options() describes and waits for its announcement.
inline test_support::server_process start_server(std::vector<std::string> args) {
  return test_support::server_process::start(server_options(std::move(args)), k_wait);
}

/// Returns the text the server logs for a peer of this test: "127.0.0.1:PORT".
inline std::string peer_text(const test_support::socket_client& client) {
  return fmt::format("127.0.0.1:{}", client.local_port());
}

/// Connects to `server` and reads the greeting; returns the connection, or nullopt if the
/// greeting did not come within `timeout`.
inline std::optional<test_support::socket_client> connect_greeted(
    const test_support::server_process& server, std::chrono::milliseconds timeout = k_wait) {
  auto client = server.connect();
  if (client.read_line(timeout) != k_greeting) {
    return std::nullopt;
  }
  return client;
}

/// Returns true if `text` is acks only: whole acks, then at most the beginning of one more (a
/// connection cut mid-send can end inside an ack).
inline bool is_ack_stream(std::string_view text) {
  while (text.size() >= k_ack.size()) {
    if (!text.starts_with(k_ack)) {
      return false;
    }
    text.remove_prefix(k_ack.size());
  }
  return k_ack.starts_with(text);
}

/// Pipelines "x\n" lines on `connection` without reading a single ack until the socket takes
/// nothing for `patience`: the server, unable to send its acks, has stopped reading, and its
/// session is stuck in a send. Returns false if the socket never filled (up to 200 MB).
inline bool fill_until_stalled(test_support::socket_client& connection,
                               std::chrono::milliseconds patience = 500ms) {
  const std::string chunk = repeat("x\n", 32 * 1024);
  // Each round moves up to 64 KiB or ends the loop.
  for (int round = 0; round < 3200; ++round) {
    if (connection.send_some(chunk, patience) == 0) {
      return true;
    }
  }
  return false;
}

/// Parses a `stats: key=value ... errors: key=value ...` line into its counters; the words
/// "stats:" and "errors:" are skipped, and so is the log prefix. Returns an empty map if `line` is
/// not a stats line.
inline std::map<std::string, std::uint64_t> parse_stats(std::string_view line) {
  std::map<std::string, std::uint64_t> counters;
  line = test_support::log_message(line);
  if (!line.starts_with("stats: ")) {
    return counters;
  }
  while (!line.empty()) {
    const auto space = line.find(' ');
    const auto word = line.substr(0, space);
    line = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    const auto equals = word.find('=');
    if (equals == std::string_view::npos) {
      continue;
    }
    counters[std::string(word.substr(0, equals))] =
        std::stoull(std::string(word.substr(equals + 1)));
  }
  return counters;
}

/// Makes a FIFO at `path` and opens its read end, non-blocking. Opened before the server
/// opens it for writing, so that the server's open does not block. Returns an invalid
/// descriptor if either step fails.
inline test_support::unique_fd open_fifo_reader(const std::filesystem::path& path) {
  if (::mkfifo(path.c_str(), 0600) != 0) {
    return test_support::unique_fd();
  }
  return test_support::unique_fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
}

/// Reads from the non-blocking `fd` until `want` bytes arrived or `timeout` passed.
inline std::string read_pipe(int fd, std::size_t want, std::chrono::milliseconds timeout) {
  std::string got;
  std::array<char, 4096> buffer{};
  for (const test_support::deadline until(timeout); got.size() < want && !until.expired();) {
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, until.poll_ms()) <= 0) {
      continue;
    }
    const ssize_t n = ::read(fd, buffer.data(), std::min(buffer.size(), want - got.size()));
    if (n <= 0) {
      break;
    }
    got.append(buffer.data(), static_cast<std::size_t>(n));
  }
  return got;
}

}  // namespace ringline::fault
