#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/unique_fd.hpp"

namespace ringline::test_support {

/// Says where one of a child's standard streams goes.
enum class stdio_mode {
  inherit,  ///< shares the test process's stream
  null,     ///< /dev/null
  pipe,     ///< a pipe the child_process reads (stdout, stderr) or writes (stdin)
  file,     ///< stdout only: the file child_options::stdout_path, created or truncated
  /// stdin only: a copy of child_options::stdin_fd (a listening socket a program inherits as
  /// `fd@0`, say); the caller keeps its own descriptor.
  descriptor,
};

/// Describes how to start a child program.
struct child_options {
  /// Program and arguments; argv[0] is a path, or a name looked up in PATH when it has no '/'.
  std::vector<std::string> argv;
  /// A command that runs argv, put before it at exec: `{"env", "-u", "NAME"}` or
  /// ringline-without-io-uring and its errno. argv keeps naming the program under test, so
  /// what looks at argv.front() (apply_test_threads, messages) sees that program. Empty: none.
  std::vector<std::string> wrapper;
  /// Extra environment entries as "NAME=value"; they replace inherited entries of the same name.
  std::vector<std::string> env;
  /// When set, the child applies setrlimit(RLIMIT_NOFILE) with this soft and hard limit
  /// before exec (the hard limit is left alone if the value exceeds it).
  std::optional<rlim_t> nofile_limit;
  /// Where the standard streams go: stdin reads /dev/null, stdout and stderr are piped.
  stdio_mode stdin_mode = stdio_mode::null;
  stdio_mode stdout_mode = stdio_mode::pipe;
  stdio_mode stderr_mode = stdio_mode::pipe;
  /// Target of stdout when stdout_mode is stdio_mode::file.
  std::string stdout_path;
  /// Source of stdin when stdin_mode is stdio_mode::descriptor.
  int stdin_fd = -1;
};

/// Runs one child program with blocking POSIX calls and owns it until it has been reaped.
///
/// Reads never block past their timeout: every read and wait polls all of the child's output
/// pipes and buffers whatever arrives, so a child that fills one pipe while the test waits on
/// another cannot deadlock. The child starts with default signal dispositions, an empty signal
/// mask, no inherited descriptors beyond 0-2, and dies with SIGKILL if the test process's
/// spawning thread dies first (PR_SET_PDEATHSIG), so a crashed test leaves no stray server.
/// Not thread-safe: one thread uses an instance at a time. Move-only.
class child_process {
 public:
  /// Starts a child as `options` describes; throws std::system_error if the pipes cannot be
  /// made, fork fails, or the child cannot exec (the child's errno is reported).
  explicit child_process(child_options options);
  child_process(child_process&& other) noexcept;
  child_process& operator=(child_process&& other) noexcept;
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  /// Kills the child with SIGKILL if it still runs, reaps it, and closes every pipe.
  ~child_process();

  /// Returns the child's process id.
  [[nodiscard]] pid_t pid() const noexcept { return m_pid; }

  /// Writes all of `data` to the child's stdin (stdin_mode must be pipe), blocking while the
  /// pipe is full. Returns false if the child has closed its end (EPIPE, without SIGPIPE
  /// reaching the test process); throws std::system_error on other errors.
  bool write_stdin(std::string_view data);
  /// Closes the child's stdin so that it sees EOF.
  void close_stdin() noexcept;

  /// Closes our end of a piped stdout: the child's next write gets EPIPE (or SIGPIPE).
  void close_stdout() noexcept;
  /// Closes our end of a piped stderr, likewise.
  void close_stderr() noexcept;

  /// Reads stdout until EOF and returns everything the child wrote there; returns nullopt if
  /// EOF did not come within `timeout` (what arrived stays in stdout_so_far()).
  std::optional<std::string> read_stdout_all(std::chrono::milliseconds timeout);
  /// Returns the stdout bytes received so far, after collecting whatever is ready now.
  std::string stdout_so_far();

  /// Returns the next complete stderr line without its '\n'; returns nullopt when no complete
  /// line arrives within `timeout` or stderr reached EOF (a final unterminated fragment is
  /// left in stderr_so_far()). Partial data is buffered for the next call.
  std::optional<std::string> read_stderr_line(std::chrono::milliseconds timeout);
  /// Returns every stderr byte received so far, including lines already returned by
  /// read_stderr_line(), after collecting whatever is ready now.
  std::string stderr_so_far();

  /// Sends `signal` to the child; returns false if it has already been reaped.
  bool send_signal(int signal) noexcept;

  /// Waits up to `timeout` for the child to exit and reaps it; returns the exit code, or
  /// 128 + the signal number if a signal killed it, or nullopt on timeout. Output keeps being
  /// collected while waiting. Calling it again after the child was reaped returns the same code.
  std::optional<int> wait_for_exit(std::chrono::milliseconds timeout);
  /// Returns the exit code if the child has already been reaped, without waiting.
  [[nodiscard]] std::optional<int> exit_code() const noexcept { return m_exit_code; }

  /// Returns the child's resident set size in KiB (VmRSS of /proc/<pid>/status), or -1 if it
  /// cannot be read (for example after the child exited).
  [[nodiscard]] long rss_kib() const;

 private:
  /// Polls the output pipes (and the pidfd, if `watch_exit`) for up to `timeout`, appending
  /// whatever arrives to the buffers. Returns when something happened or the time is up.
  void pump(std::chrono::milliseconds timeout, bool watch_exit);
  /// Reaps the child if it has exited; returns true once it is reaped.
  bool try_reap() noexcept;
  /// Kills and reaps a running child and closes every descriptor.
  void destroy() noexcept;

  pid_t m_pid = -1;
  std::optional<int> m_exit_code;
  unique_fd m_pidfd;
  unique_fd m_stdin;
  unique_fd m_stdout;
  unique_fd m_stderr;
  std::string m_stdout_data;
  std::string m_stderr_data;
  std::size_t m_stderr_consumed = 0;
};

}  // namespace ringline::test_support
