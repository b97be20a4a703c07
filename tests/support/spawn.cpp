#include "tests/support/spawn.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <utility>

#include <fmt/format.h>

extern char** environ;

namespace ringline::test_support::detail {
namespace {

[[noreturn]] void throw_errno(int error, const std::string& what) {
  throw std::system_error(error, std::system_category(), what);
}

/// Finds `name` in PATH the way execvp would. Done before fork because execvp is not
/// async-signal-safe and the test process may have other threads.
std::string resolve_program(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    return name;
  }
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    const auto colon = dirs.find(':');
    const auto dir = dirs.substr(0, colon);
    std::string candidate = fmt::format("{}/{}", dir.empty() ? "." : dir, name);
    if (::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    dirs = colon == std::string_view::npos ? std::string_view{} : dirs.substr(colon + 1);
  }
  return name;
}

/// Returns the inherited environment with `extra` entries added, replacing same-named ones.
std::vector<std::string> build_environment(const std::vector<std::string>& extra) {
  std::vector<std::string> result;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view current(*entry);
    const auto name = current.substr(0, current.find('=') + 1);
    const bool replaced = std::any_of(extra.begin(), extra.end(),
                                      [&](const std::string& e) { return e.starts_with(name); });
    if (!replaced) {
      result.emplace_back(current);
    }
  }
  result.insert(result.end(), extra.begin(), extra.end());
  return result;
}

std::vector<char*> to_pointers(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (auto& s : strings) {
    pointers.push_back(s.data());
  }
  pointers.push_back(nullptr);
  return pointers;
}

struct pipe_pair {
  unique_fd read;
  unique_fd write;
};

pipe_pair make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw_errno(errno, "pipe2");
  }
  return {unique_fd(fds[0]), unique_fd(fds[1])};
}

unique_fd open_or_throw(const char* path, int flags) {
  const int fd = ::open(path, flags | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw_errno(errno, fmt::format("open {}", path));
  }
  return unique_fd(fd);
}

void set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    throw_errno(errno, "fcntl O_NONBLOCK");
  }
}

/// Everything the forked child needs, prepared in the parent so that the child only makes
/// async-signal-safe calls between fork and exec.
struct exec_plan {
  std::string program;
  std::vector<char*> argv;
  std::vector<char*> envp;
  int stdio[3] = {-1, -1, -1};  // -1 keeps the inherited stream
  std::optional<rlim_t> nofile_limit;
  pid_t parent = 0;
  int error_fd = -1;
};

[[noreturn]] void child_fail(int error_fd) {
  const int error = errno;
  // Nothing useful can be done if this write fails; the parent then sees exit code 127.
  [[maybe_unused]] const auto n = ::write(error_fd, &error, sizeof error);
  ::_exit(127);
}

[[noreturn]] void run_child(const exec_plan& plan) {
  // Die with the test: a crashed or timed-out test must not leave a server holding ports.
  // The getppid() check closes the race with a parent that died before prctl() ran.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != plan.parent) {
    ::_exit(127);
  }
  // Ignored dispositions and the blocked mask survive exec; a test process that ignores
  // SIGPIPE or blocks SIGTERM for a signalfd must not pass that on to the program under test.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    ::sigaction(sig, &dfl, nullptr);
  }
  sigset_t empty;
  ::sigemptyset(&empty);
  ::sigprocmask(SIG_SETMASK, &empty, nullptr);

  // Move the sources above 2 first, so that one landing on 0-2 cannot be overwritten
  // by the dup2 for another stream.
  int moved[3] = {-1, -1, -1};
  for (int i = 0; i < 3; ++i) {
    if (plan.stdio[i] >= 0 && (moved[i] = ::fcntl(plan.stdio[i], F_DUPFD_CLOEXEC, 3)) < 0) {
      child_fail(plan.error_fd);
    }
  }
  for (int i = 0; i < 3; ++i) {
    if (moved[i] >= 0 && ::dup2(moved[i], i) < 0) {  // dup2 clears O_CLOEXEC on the target
      child_fail(plan.error_fd);
    }
  }
  if (plan.nofile_limit) {
    const rlimit limit{*plan.nofile_limit, *plan.nofile_limit};
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      child_fail(plan.error_fd);
    }
  }
  // Descriptors another thread opened without O_CLOEXEC must not leak into the program
  // under test either (it may count its descriptors). Best effort: needs Linux 5.11.
  ::syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
  ::execve(plan.program.c_str(), plan.argv.data(), plan.envp.data());
  child_fail(plan.error_fd);
}

}  // namespace

spawned_child spawn(child_options& options) {
  if (options.argv.empty()) {
    throw std::invalid_argument("child_process: argv is empty");
  }
  options.argv.insert(options.argv.begin(), options.wrapper.begin(), options.wrapper.end());
  options.wrapper.clear();
  exec_plan plan;
  plan.program = resolve_program(options.argv.front());
  plan.argv = to_pointers(options.argv);
  auto environment = build_environment(options.env);
  plan.envp = to_pointers(environment);
  plan.nofile_limit = options.nofile_limit;
  plan.parent = ::getpid();

  // Child-side ends live here until fork; the parent closes them right after.
  unique_fd child_ends[3];
  const stdio_mode modes[3] = {options.stdin_mode, options.stdout_mode, options.stderr_mode};
  spawned_child child;
  unique_fd* parent_ends[3] = {&child.stdin_pipe, &child.stdout_pipe, &child.stderr_pipe};
  for (int i = 0; i < 3; ++i) {
    switch (modes[i]) {
      case stdio_mode::inherit:
        break;
      case stdio_mode::null:
        child_ends[i] = open_or_throw("/dev/null", O_RDWR);
        break;
      case stdio_mode::file:
        if (i != 1) {
          throw std::invalid_argument("child_process: stdio_mode::file is for stdout only");
        }
        child_ends[i] = open_or_throw(options.stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC);
        break;
      case stdio_mode::descriptor:
        if (i != 0) {
          throw std::invalid_argument("child_process: stdio_mode::descriptor is for stdin only");
        }
        child_ends[i] = unique_fd(::fcntl(options.stdin_fd, F_DUPFD_CLOEXEC, 3));
        if (!child_ends[i]) {
          throw_errno(errno, "dup stdin descriptor");
        }
        break;
      case stdio_mode::pipe: {
        auto p = make_pipe();
        child_ends[i] = std::move(i == 0 ? p.read : p.write);
        *parent_ends[i] = std::move(i == 0 ? p.write : p.read);
        break;
      }
    }
    plan.stdio[i] = child_ends[i].get();
  }
  // Only the parent's read ends become non-blocking (each pipe end is its own open file
  // description), and before fork, so that nothing after fork can throw and orphan the child.
  for (auto* end : {&child.stdout_pipe, &child.stderr_pipe}) {
    if (*end) {
      set_nonblocking(end->get());
    }
  }
  auto error_pipe = make_pipe();
  plan.error_fd = error_pipe.write.get();

  child.pid = ::fork();
  if (child.pid < 0) {
    throw_errno(errno, "fork");
  }
  if (child.pid == 0) {
    run_child(plan);
  }
  error_pipe.write.reset();
  for (auto& end : child_ends) {
    end.reset();
  }
  // The error pipe is O_CLOEXEC: EOF means exec succeeded, an int is the child's errno.
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(error_pipe.read.get(), &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    // The child is about to _exit(127); reap it so that no zombie is left.
    while (::waitpid(child.pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    throw_errno(child_errno, fmt::format("start {}", options.argv.front()));
  }
  return child;
}

}  // namespace ringline::test_support::detail
