#pragma once

#include <string_view>

namespace ringline::runtime {

/// Writes `line` and a '\n' to standard error in one writev, and ignores failure.
///
/// Logging must never take a server down: stderr may be a pipe whose reader has gone, where
/// fmt::print would throw (or, without SIG_IGN, SIGPIPE would kill). Format first
/// (fmt::format), then hand the text here. Safe from any thread; a line of up to PIPE_BUF
/// bytes reaches a pipe whole.
void log_line(std::string_view line) noexcept;

}  // namespace ringline::runtime
