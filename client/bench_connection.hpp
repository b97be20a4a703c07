#pragma once

#include "client/bench_worker_context.hpp"
#include "runtime/task.hpp"

namespace ringline::client::detail {

/// Connects `conn` to the first of the plan's addresses that answers, and reads the greeting
/// when options.greeting is set. Completes with true when the connection is ready for
/// requests; with false, counted in the result as an error (no connection, lost) or an
/// unexpected line (a greeting other than `connect`), when it is not. Both pointers must
/// outlive the task; runs on the worker's loop.
runtime::task<bool> connect_and_greet(bench_connection* conn, bench_worker_context* ctx);

/// The closed loop of one ready connection: sends what the budget allows, receives, sends as
/// many new requests as were answered, until nothing is owed and nothing more may be sent.
/// With --lines-per-connection, a connection that has had its replies is closed and made
/// again. Counts replies, latencies, errors and unexpected lines in ctx->result, closes the
/// connection at the end, and stops the ticker when it is the last one active.
runtime::task<void> drive(bench_connection* conn, bench_worker_context* ctx);

}  // namespace ringline::client::detail
