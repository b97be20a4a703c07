#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "client/bench_control.hpp"
#include "client/bench_options.hpp"
#include "client/bench_result.hpp"
#include "client/bench_worker.hpp"
#include "runtime/cancellation.hpp"
#include "runtime/unique_fd.hpp"

namespace ringline::client::detail {

/// The clock of bench latencies and deadlines.
using bench_clock = std::chrono::steady_clock;

/// One bench connection's state. Lives in its worker's array for the whole run, so the
/// coroutines driving it refer to it by pointer and nothing is allocated per line. Used on the
/// worker's thread only.
struct bench_connection {
  /// The socket; empty while not connected.
  runtime::unique_fd fd;
  /// Lets the ticker give up on a connection whose replies stopped coming.
  runtime::cancellation cancel;
  /// The receive buffer (the greeting, then replies).
  std::vector<char> buffer;
  /// Send times of the requests in flight, a ring of `pipeline` slots with the oldest at `head`.
  std::vector<bench_clock::time_point> sent_at;
  /// The slot of the oldest request in flight.
  std::size_t head = 0;
  /// Requests sent and not answered yet.
  std::size_t outstanding = 0;
  /// Requests sent on the current connection, for --lines-per-connection.
  std::uint64_t sent_here = 0;
  /// The reply line being read: its length so far, and whether it still matches the ack.
  std::size_t line_length = 0;
  /// See line_length.
  bool line_matches = true;
  /// True once the first connect (and greeting) succeeded.
  bool ready = false;
};

/// Everything one bench worker's coroutines share: settings, request text, connections and
/// the result they add to. Owned by run_bench_worker(); used on the worker's thread only.
struct bench_worker_context {
  /// The run's options; outlive the worker.
  const bench_options* options = nullptr;
  /// Where workers meet, take request budget and publish progress; outlives the worker.
  bench_control* control = nullptr;
  /// This worker's addresses, connection count and progress slot.
  bench_worker_plan plan;
  /// The request line `pipeline` times: any batch is a prefix of it.
  std::string requests;
  /// Bytes of one request line, terminator included.
  std::size_t line_bytes = 0;
  /// The ack followed by "\r": a reply matches when it is a prefix of this at least as long
  /// as the ack, so an ack ended by CRLF matches too.
  std::string expected;
  /// plan.connections connections.
  std::unique_ptr<bench_connection[]> connections;
  /// What the worker counted so far.
  bench_result result;
  /// When no new requests may be sent (with --duration); max() with a line budget.
  bench_clock::time_point deadline = bench_clock::time_point::max();
  /// Set by the ticker when it gave up on stalled connections: no new requests.
  bool stopping = false;
  /// Connections still driving; the last one to end stops the ticker.
  std::size_t active = 0;
  /// Ends the ticker's sleep once every connection is done.
  runtime::cancellation stop_ticker;
};

}  // namespace ringline::client::detail
