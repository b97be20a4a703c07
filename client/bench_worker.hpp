#pragma once

#include <cstddef>
#include <vector>

#include "client/bench_control.hpp"
#include "client/bench_options.hpp"
#include "client/bench_result.hpp"
#include "runtime/address.hpp"

namespace ringline::client {

/// What one worker thread of a bench run is given.
struct bench_worker_plan {
  /// Where to connect: each connection tries these in turn until one answers.
  std::vector<runtime::address> addresses;
  /// How many connections this worker holds.
  std::size_t connections = 0;
  /// This worker's index in `control`'s progress slots.
  std::size_t index = 0;
  /// True to publish progress to `control` once a second.
  bool publish_progress = false;
};

/// Runs one worker on the calling thread: creates its own event_loop, opens its connections
/// (connect, then the greeting if options.greeting), waits at control.ready() for the other
/// workers, then keeps options.pipeline requests in flight on each connection until the
/// budget or the duration is used up and every reply owed has arrived.
///
/// Each reply line completes the oldest request of its connection and its latency is
/// recorded from the send. Requests are sent in batches: all of a connection's pipeline in
/// one send at the start, then after each receive as many as replies arrived, in one send.
/// With options.lines_per_connection, a connection that has had that many replies is closed
/// and made again (connect, greeting), and each one made is counted in the result.
/// A connection that cannot be made, is lost, or has replies owed but gets none within
/// options.stall_timeout counts as one error and stops.
///
/// Throws runtime::io_uring_unavailable (or std::system_error) when the loop cannot be set
/// up, after calling control.leave(); other failures are counted, not thrown.
bench_result run_bench_worker(const bench_options& options, bench_worker_plan plan,
                              bench_control& control);

}  // namespace ringline::client
