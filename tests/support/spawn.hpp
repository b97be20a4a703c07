#pragma once

#include <sys/types.h>

#include "tests/support/child_process.hpp"
#include "tests/support/unique_fd.hpp"

namespace ringline::test_support::detail {

/// Holds a child that has just exec'd: its pid and the parent's ends of its pipes (the read
/// ends are non-blocking). The caller owns the pid and must reap it.
struct spawned_child {
  pid_t pid = -1;
  unique_fd stdin_pipe;
  unique_fd stdout_pipe;
  unique_fd stderr_pipe;
};

/// Forks and execs the program `options` describes, returning once exec has succeeded.
/// Throws std::invalid_argument for an empty argv, a file mode on stdin/stderr or a descriptor
/// mode on stdout/stderr, and std::system_error if a pipe or file cannot be opened, fork
/// fails, or exec fails (with the child's errno; that child is reaped before the throw).
/// `options.argv` is used in place, with `options.wrapper` moved in front of it.
spawned_child spawn(child_options& options);

}  // namespace ringline::test_support::detail
