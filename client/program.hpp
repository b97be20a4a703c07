#pragma once

namespace ringline::client {

/// Runs ringline-client with the given command line and returns its exit status: 0 when
/// every line was acknowledged, 1 when the connection was refused or lost (or the server
/// answered with an error), 2 for a usage error, 3 when the server was full ("not connect").
int run_program(int argc, const char* const* argv);

}  // namespace ringline::client
