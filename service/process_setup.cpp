#include "service/process_setup.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

namespace ringline::service {

namespace {
// Descriptors besides the sessions': listeners, the sink, the ring, the signalfd, standard
// descriptors, and slack for lingering closes and accept races.
constexpr rlim_t k_reserved_descriptors = 16;
}  // namespace

void ensure_standard_descriptors() noexcept {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) >= 0) {
      continue;
    }
    // open() returns the lowest free number, which is this one since the lower ones are open.
    const int opened = ::open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
    if (opened >= 0 && opened != fd) {
      ::dup2(opened, fd);
      ::close(opened);
    }
  }
}

descriptor_budget raise_descriptor_limit(std::size_t wanted, std::size_t extra) noexcept {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return {wanted, {}};
  }
  const rlim_t reserved = k_reserved_descriptors + static_cast<rlim_t>(extra);
  const rlim_t needed = static_cast<rlim_t>(wanted) + reserved;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? needed : std::min(needed, limit.rlim_max);
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      limit = raised;
    }
  }
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= needed) {
    return {wanted, {}};
  }
  const auto allowed =
      static_cast<std::size_t>(limit.rlim_cur > reserved ? limit.rlim_cur - reserved : 1);
  std::string warning;
  try {
    warning = fmt::format(
        "descriptor limit: RLIMIT_NOFILE is {} (hard limit {}), too low for --max-connections {}; "
        "serving at most {} connections (raise it with ulimit -n or LimitNOFILE=)",
        limit.rlim_cur,
        limit.rlim_max == RLIM_INFINITY ? "unlimited" : std::to_string(limit.rlim_max), wanted,
        allowed);
  } catch (...) {
    warning = "descriptor limit too low for --max-connections";
  }
  return {allowed, std::move(warning)};
}

}  // namespace ringline::service
