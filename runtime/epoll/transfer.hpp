#pragma once

#include <sys/types.h>

#include <cerrno>
#include <cstddef>

namespace ringline::runtime::detail {

/// The most one system call of the epoll backend moves (a completion's result is an int);
/// sends and writes resubmit for the rest, as after a short one.
inline constexpr std::size_t k_max_transfer = std::size_t{1} << 30;

/// A system call's return as a completion's result: the count, or -errno.
inline int result_of(ssize_t rc) noexcept {
  return rc < 0 ? -errno : static_cast<int>(rc);
}

}  // namespace ringline::runtime::detail
