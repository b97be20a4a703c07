#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string_view>

// Logging to standard error, one line per call.
//
// Logging must never take a server down: stderr may be a pipe whose reader has gone, where
// fmt::print would throw (or, without SIG_IGN, SIGPIPE would kill), or a pipe nobody reads,
// where a write blocks forever. Format first (fmt::format), then hand the text here.
//
// Two modes, chosen per process:
// - synchronous (the default): the calling thread writes the line before returning, so a
//   program that logs and then exits loses nothing (the CLI client relies on this);
// - background (start_background_log): lines go to a bounded in-memory queue that one
//   dedicated writer thread drains; callers never wait for standard error, and when the
//   queue is full lines are dropped and counted. A server's event loop must not block on its
//   log, so the server switches this on at start.
//
// Every function here may be called from any thread.

namespace ringline::runtime {

/// How important a line is; lower is more important.
enum class log_level { error, warn, info, debug };

/// How a line is written.
enum class log_format {
  /// `<time> <level> <message>`: for people; fields are left out, since messages already
  /// say what they carry in words.
  text,
  /// One JSON object per line, `{"time":...,"level":...,"message":...,"key":value,...}`:
  /// for log collectors. A field whose value is a decimal integer is a JSON number.
  json
};

/// One structured field of a log line, e.g. {"peer", "127.0.0.1:5000"} or {"lines", "3"}.
/// Keys are plain words (they are not escaped); values are escaped as JSON needs.
struct log_field {
  std::string_view key;
  std::string_view value;
};

/// What the log writes and, in background mode, how much it may hold.
struct log_options {
  /// Lines less important than this are discarded.
  log_level min_level = log_level::info;
  log_format format = log_format::text;
  /// Prefixes every line with the UTC time and the level, e.g.
  /// `2026-11-30T16:30:23.123Z info ` (RFC 3339 with milliseconds, then the level word and a
  /// space); the message follows unchanged.
  bool timestamps = false;
  /// Background mode only: the most bytes the queue holds (prefixes and newlines included).
  /// 1 MiB is about ten thousand typical lines, enough to ride out a slow terminal or a reader
  /// that pauses for a moment, and small enough that a stuck reader costs the process little
  /// memory (at most twice this: the queue, plus the batch the writer is writing). Must be
  /// non-zero; ignored once background mode has started.
  std::size_t queue_bytes = std::size_t{1} << 20;
};

/// Sets the level filter and the prefix for the lines logged after it returns, in either
/// mode (queue_bytes is not changed by this).
void configure_log(log_options options) noexcept;

/// Switches the process to background mode with `options` (as configure_log, plus the queue
/// bound) and starts the writer thread. Later calls only reconfigure. The writer's state is
/// deliberately never freed and the thread is detached, so exit() is safe even while the
/// writer is stuck in write(). Throws std::system_error if the thread cannot be started (the
/// log then stays synchronous).
void start_background_log(log_options options);

/// Logs `message` at `level`: writes it and a '\n' to standard error (synchronous mode; a
/// line of up to PIPE_BUF bytes reaches a pipe whole, failures are ignored), or queues it
/// (background mode; dropped and counted when the queue is full). Never throws.
void log(log_level level, std::string_view message) noexcept;

/// Logs `message` with `fields` at `level`: in text, the message alone; in JSON, each field
/// a member of the line's object next to the message. Never throws (a line that cannot be
/// composed for want of memory is written as its message alone).
void log(log_level level, std::string_view message,
         std::initializer_list<log_field> fields) noexcept;

/// Returns true when lines at `level` are written: skip composing fields otherwise.
[[nodiscard]] bool log_enabled(log_level level) noexcept;

/// Logs `line` at log_level::info.
void log_line(std::string_view line) noexcept;

/// Waits at most `max_wait` until every queued line has been written; returns true when the
/// queue is empty (at once in synchronous mode), false when standard error did not take it
/// in time. Call it before exiting; a blocked standard error then delays exit by `max_wait`.
bool flush_log(std::chrono::milliseconds max_wait) noexcept;

/// Returns how many lines background mode has dropped since the process started. Each burst
/// of drops is also reported in the log itself, once the writer has taken every line queued
/// before it: `log: dropped N lines (standard error was not keeping up)`.
std::uint64_t log_dropped_lines() noexcept;

}  // namespace ringline::runtime
