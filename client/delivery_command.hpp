#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "client/client.hpp"
#include "client/deliver.hpp"
#include "runtime/task.hpp"

namespace ringline::client {

/// How ringline-client reports a --file or --stdin delivery.
struct delivery_report {
  /// Lines in the --file (nullopt for --stdin: unknown until its end).
  std::optional<std::uint64_t> total;
  /// --quiet: the greeting and acks are not echoed on stdout.
  bool quiet = false;
  /// --file prints a summary; --stdin, a stream that may be a conversation, does not.
  bool summary = false;
};

/// Runs deliver() for ringline-client on the current event loop: echoes the server's lines
/// (unless report.quiet), draws a progress bar when a person watches stderr, logs each failed
/// attempt that will be retried, prints the summary (report.summary) and, on failure, how
/// many of how many lines are unacknowledged. Returns the exit status: 0 when every line was
/// acknowledged, 3 when the server was full and retrying was off, 1 otherwise.
runtime::task<int> run_delivery(delivery_options options, std::unique_ptr<line_source> lines,
                                delivery_report report);

}  // namespace ringline::client
