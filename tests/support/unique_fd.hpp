#pragma once

#include <unistd.h>

#include <utility>

namespace ringline::test_support {

/// Owns one file descriptor and closes it on destruction; move-only.
///
/// The helpers in this folder open every descriptor with O_CLOEXEC, so a child started by one
/// test never inherits the pipes or sockets of another.
class unique_fd {
 public:
  /// Constructs an empty holder (fd() == -1).
  unique_fd() noexcept = default;
  /// Takes ownership of `fd`; -1 means empty.
  explicit unique_fd(int fd) noexcept : m_fd(fd) {}
  unique_fd(unique_fd&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    if (this != &other) {
      reset(std::exchange(other.m_fd, -1));
    }
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }

  /// Returns the descriptor, or -1 when empty; ownership stays here.
  [[nodiscard]] int get() const noexcept { return m_fd; }
  /// Returns true when a descriptor is held.
  explicit operator bool() const noexcept { return m_fd >= 0; }
  /// Gives up ownership and returns the descriptor.
  [[nodiscard]] int release() noexcept { return std::exchange(m_fd, -1); }
  /// Closes the held descriptor (if any) and takes `fd` instead.
  void reset(int fd = -1) noexcept {
    // close() is not retried on EINTR: on Linux the descriptor is already gone by then.
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    m_fd = fd;
  }

 private:
  int m_fd = -1;
};

}  // namespace ringline::test_support
