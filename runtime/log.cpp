#include "runtime/log.hpp"

#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

namespace ringline::runtime {

void log_line(std::string_view line) noexcept {
  char newline = '\n';
  iovec parts[2] = {{const_cast<char*>(line.data()), line.size()}, {&newline, 1}};
  ssize_t written = 0;
  do {
    written = ::writev(STDERR_FILENO, parts, 2);
  } while (written < 0 && errno == EINTR);
  // A short write to stderr is left as it is: there is nowhere to report it.
}

}  // namespace ringline::runtime

namespace ringline::runtime {
void log(log_level /*level*/, std::string_view line) noexcept {
  log_line(line);
}
void start_background_log(log_options /*options*/) {}
bool flush_log(std::chrono::milliseconds /*max_wait*/) noexcept {
  return true;
}
}  // namespace ringline::runtime
