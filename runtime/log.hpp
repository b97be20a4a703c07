#pragma once

#include <chrono>
#include <string_view>

namespace ringline::runtime {

/// Writes `line` and a '\n' to standard error in one writev, and ignores failure.
///
/// Logging must never take a server down: stderr may be a pipe whose reader has gone, where
/// fmt::print would throw (or, without SIG_IGN, SIGPIPE would kill). Format first
/// (fmt::format), then hand the text here. Safe from any thread; a line of up to PIPE_BUF
/// bytes reaches a pipe whole.
void log_line(std::string_view line) noexcept;

// TEMPORARY stand-ins until the bounded background log lands.
enum class log_level { error, warn, info, debug };
struct log_options {
  bool timestamps = false;
  log_level min_level = log_level::info;
};
void log(log_level level, std::string_view line) noexcept;
void start_background_log(log_options options);
bool flush_log(std::chrono::milliseconds max_wait) noexcept;

}  // namespace ringline::runtime
