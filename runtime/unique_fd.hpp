#pragma once

#include <unistd.h>

#include <utility>

namespace ringline::runtime {

namespace detail {
/// Tells the calling thread's event loop, if any, that `fd` is about to be closed, so that
/// a backend that keeps state per descriptor (epoll) does not apply it to the next file
/// given the same number.
void forget_descriptor(int fd) noexcept;
}  // namespace detail

/// Owns a file descriptor and closes it (synchronously) when destroyed.
///
/// Closing through the ring is preferred on hot paths (runtime::close); this is the safety
/// net that keeps error paths and frame teardown from leaking descriptors.
class unique_fd {
 public:
  unique_fd() noexcept = default;
  /// Takes ownership of `fd` (-1 means none).
  explicit unique_fd(int fd) noexcept : m_fd(fd) {}
  unique_fd(unique_fd&& other) noexcept : m_fd(other.release()) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    if (this != &other) {
      reset(other.release());
    }
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }

  /// Returns the descriptor, or -1.
  [[nodiscard]] int get() const noexcept { return m_fd; }
  [[nodiscard]] bool valid() const noexcept { return m_fd >= 0; }
  explicit operator bool() const noexcept { return valid(); }

  /// Gives up ownership and returns the descriptor.
  [[nodiscard]] int release() noexcept { return std::exchange(m_fd, -1); }

  /// Closes the current descriptor, if any, and takes `fd`.
  void reset(int fd = -1) noexcept {
    if (m_fd >= 0) {
      detail::forget_descriptor(m_fd);
      ::close(m_fd);  // close errors leave nothing to retry: the descriptor is gone either way
    }
    m_fd = fd;
  }

 private:
  int m_fd = -1;
};

}  // namespace ringline::runtime
