#pragma once

namespace ringline::service {

/// Runs ringline-server with the given command line and returns its exit status: 0 after a
/// clean shutdown (or --help, --version, a valid --check-config), 1 when it cannot start (io_uring
/// refused, port taken, sink unusable), 2 for a usage error. Blocks SIGINT, SIGTERM and SIGUSR1 for
/// the calling thread.
int run_program(int argc, const char* const* argv);

}  // namespace ringline::service
