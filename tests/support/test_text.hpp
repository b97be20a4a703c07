#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/child_process.hpp"
#include "tests/support/deadline.hpp"

/// What the tests that start the real programs share: the protocol's default lines as the
/// wire carries them, one bound for every wait, and small text and log helpers. Every wait
/// here is bounded; none sleeps.
namespace ringline::test_support {

using namespace std::chrono_literals;

/// The greeting line a default server sends, terminator included.
inline constexpr std::string_view k_greeting = "connect\n";
/// The ack line a default server sends, terminator included (note the space before '\n').
inline constexpr std::string_view k_ack = "Thank you client , you data is Received success \n";
/// The line a client beyond --max-connections gets instead of the greeting.
inline constexpr std::string_view k_refusal = "not connect\n";
/// The error lines that end a session.
inline constexpr std::string_view k_line_too_long = "error: line too long\n";
inline constexpr std::string_view k_idle_timeout = "error: idle timeout\n";
inline constexpr std::string_view k_line_timeout = "error: line timeout\n";

/// The longest a test waits for one event that must happen (a line, EOF, an exit). Generous,
/// because the sanitizer build on a busy machine is several times slower; a test that passes
/// never waits this long, and it stays well under the 120 s test timeout.
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

/// Returns how many times `needle` occurs in `text` (non-overlapping).
inline std::size_t count_of(std::string_view text, std::string_view needle) {
  std::size_t count = 0;
  for (auto at = text.find(needle); at != std::string_view::npos;
       at = text.find(needle, at + needle.size())) {
    ++count;
  }
  return count;
}

/// Reads `process`'s stderr line by line until `matches(line)` holds and returns that line;
/// returns nullopt if no line matches within `timeout` (or stderr ends first). The lines
/// before it are consumed.
template <typename Predicate>
std::optional<std::string> wait_for_stderr_match(child_process& process, Predicate matches,
                                                 std::chrono::milliseconds timeout = k_wait) {
  const deadline until(timeout);
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
inline std::optional<std::string> wait_for_stderr_line(child_process& process,
                                                       std::string_view needle,
                                                       std::chrono::milliseconds timeout = k_wait) {
  return wait_for_stderr_match(
      process, [needle](std::string_view line) { return line.find(needle) != line.npos; }, timeout);
}

/// Returns true if `line` begins with the server's log prefix, e.g.
/// `2026-11-30T16:30:23.123Z info `: an RFC 3339 UTC time with milliseconds, then a level.
inline bool has_log_prefix(std::string_view line) {
  constexpr std::string_view shape = "dddd-dd-ddTdd:dd:dd.dddZ ";
  if (line.size() < shape.size()) {
    return false;
  }
  for (std::size_t i = 0; i < shape.size(); ++i) {
    const char c = line[i];
    if (shape[i] == 'd' ? (c < '0' || c > '9') : c != shape[i]) {
      return false;
    }
  }
  line.remove_prefix(shape.size());
  for (const std::string_view level : {"error ", "warn ", "info ", "debug "}) {
    if (line.starts_with(level)) {
      return true;
    }
  }
  return false;
}

/// Returns the message of a server log line: `line` without its time and level prefix.
inline std::string_view log_message(std::string_view line) {
  if (!has_log_prefix(line)) {
    return line;
  }
  line.remove_prefix(25);  // the time and its space
  return line.substr(line.find(' ') + 1);
}

/// Like wait_for_stderr_match, for the first line whose message (log_message) starts with
/// `prefix`; returns that message.
inline std::optional<std::string> wait_for_stderr_prefix(
    child_process& process, std::string_view prefix, std::chrono::milliseconds timeout = k_wait) {
  auto line = wait_for_stderr_match(
      process, [prefix](std::string_view text) { return log_message(text).starts_with(prefix); },
      timeout);
  if (line) {
    return std::string(log_message(*line));
  }
  return line;
}

}  // namespace ringline::test_support
