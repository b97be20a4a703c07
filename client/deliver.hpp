#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <system_error>

#include "client/client.hpp"
#include "runtime/result.hpp"
#include "runtime/task.hpp"

namespace ringline::client {

/// How deliver() sends and how long it keeps trying.
struct delivery_options {
  /// Where to connect, what the server's lines look like, and the per-reply timeout.
  client_options connection;
  /// Most lines sent and not yet acknowledged at any time (at least 1). Memory is bounded
  /// by this many lines plus one read of the source, whatever the input's size.
  std::size_t window = 1024;
  /// How long to keep reconnecting after a connection fails without progress (zero: never,
  /// the first failure ends the delivery). The time counts from the first failed attempt and
  /// starts again whenever a connection gets an ack.
  std::chrono::milliseconds retry_for{0};
  /// Seeds the jitter of the reconnection delays (tests fix it; zero: a random seed).
  std::uint64_t jitter_seed = 0;
};

/// What a delivery achieved so far, or in the end.
struct delivery_result {
  /// Lines taken from the source.
  std::uint64_t lines = 0;
  /// Lines handed to a connection at least once (acknowledged or not).
  std::uint64_t sent = 0;
  /// Lines acknowledged. Every line is acknowledged at most once.
  std::uint64_t acked = 0;
  /// Lines handed to a connection more than once, after a connection failed before their
  /// ack came: each may be in the sink twice (or more). At-least-once: never more duplicates.
  std::uint64_t resent = 0;
  /// Connection attempts after the first.
  std::uint64_t reconnects = 0;
  /// Time since the delivery started.
  std::chrono::milliseconds elapsed{0};
  /// True once the source reported its end (`lines` is then the total).
  bool input_done = false;
  /// Lines sent at least once and not acknowledged: what the next connection resends first.
  std::uint64_t to_resend = 0;
  /// Set, only in the report made after a failed attempt, to the wait before the next one.
  std::chrono::milliseconds retry_in{0};
  /// Why the latest connection attempt ended, if it failed, and how far it got.
  std::error_code last_error;
  conversation_result last_attempt;
};

/// Called after each batch of acks, after each failed attempt that will be retried (with
/// retry_in set) and once at the end.
using progress_handler = std::function<void(const delivery_result& progress)>;

/// Delivers every line of `lines` at least once, on the current thread's event loop.
///
/// Holds conversations as converse() does (each server line goes to `on_reply`, greetings of
/// later connections included), pipelined with at most options.window lines unacknowledged,
/// keeping each line until its ack arrives. With options.retry_for above zero, a connection
/// that is refused, lost, reset or silent past the timeout, or a server that answers
/// "not connect" or an error line, leads to a new attempt after an exponential backoff with
/// jitter (100 ms doubling up to 5 s), until retry_for has passed without an ack; the new
/// connection resends every unacknowledged line, in order, before new ones. A line
/// acknowledged once is never sent again.
///
/// Returns the final counts when every line was acknowledged. Errors: the last attempt's
/// error (as converse() reports it) when retrying stopped or was not allowed; the source's
/// error when reading it failed (not retried); protocol::errc::unexpected_reply (not retried)
/// for a line that is neither greeting, ack nor refusal, or an ack for no line. The final
/// counts then reach `on_progress` before it returns. Exceptions from the handlers propagate.
runtime::task<runtime::result<delivery_result>> deliver(delivery_options options,
                                                        line_source& lines, reply_handler on_reply,
                                                        progress_handler on_progress);

}  // namespace ringline::client
