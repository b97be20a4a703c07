#pragma once

#include "client/bench_options.hpp"

namespace CLI {
class App;
}

namespace ringline::client {

/// Adds the `bench` subcommand and its flags to `app`; parsing fills `options`. Returns the
/// subcommand, to ask after parsing whether it was given.
CLI::App* add_bench_command(CLI::App& app, bench_options& options);

/// Runs a load test as `options` say and prints its report on stdout (one JSON object with
/// options.json, a table otherwise), and a progress line on stderr once a second when stderr
/// is a terminal. Returns the exit status: 0 when every request was answered as expected, 1
/// when a connection failed or was lost, a reply was unexpected, or nothing was answered.
int run_bench(const bench_options& options);

}  // namespace ringline::client
