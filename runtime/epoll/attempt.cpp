// The epoll backend's system calls: each request tried once, without blocking.
#include <fcntl.h>
#include <linux/time_types.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <limits>

#include "runtime/buffer_ring.hpp"
#include "runtime/epoll/reactor.hpp"
#include "runtime/epoll/transfer.hpp"

namespace ringline::runtime::detail {

namespace {

// recv and send straight through syscall(): glibc's wrappers are cancellation points, and in
// a process with threads each call switches asynchronous cancellation on and off around the
// system call, 1.4% of the server's CPU per line (perf, C=500 P=4). Nothing here is ever
// cancelled with pthread_cancel.
ssize_t recv_now(int fd, void* data, std::size_t size, int flags) noexcept {
  return ::syscall(SYS_recvfrom, fd, data, size, flags, nullptr, nullptr);
}

ssize_t send_now(int fd, const void* data, std::size_t size, int flags) noexcept {
  return ::syscall(SYS_sendto, fd, data, size, flags, nullptr, 0);
}

std::chrono::nanoseconds duration_of(const io_request& sleep) noexcept {
  const auto* spec = reinterpret_cast<const __kernel_timespec*>(sleep.m_data);
  return std::chrono::seconds(spec->tv_sec) + std::chrono::nanoseconds(spec->tv_nsec);
}

// Readable now, without waiting: for descriptors that may not be non-blocking (an eventfd,
// a signalfd, a terminal or pipe shared with other processes, which must not be switched).
bool readable_now(int fd) noexcept {
  pollfd probe{.fd = fd, .events = POLLIN, .revents = 0};
  return ::poll(&probe, 1, 0) > 0;
}

}  // namespace

epoll_backend::fd_type epoll_backend::classify(int fd, descriptor& state) noexcept {
  struct stat status {};
  if (::fstat(fd, &status) != 0) {
    return fd_type::unknown;  // EBADF: the request's own system call reports it
  }
  if (S_ISSOCK(status.st_mode)) {
    // Ours alone (accepted or made here), so it may become non-blocking: accept and connect
    // take no MSG_DONTWAIT.
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags >= 0 && (flags & O_NONBLOCK) == 0) {
      (void)::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    }
    state.type = fd_type::socket;
  } else if (S_ISREG(status.st_mode) || S_ISBLK(status.st_mode) || S_ISDIR(status.st_mode)) {
    state.type = fd_type::file;
  } else {
    state.type = fd_type::pollable;
  }
  return state.type;
}

void epoll_backend::start(io_request& request) {
  ++m_in_flight;
  request.m_parked = nowhere;
  request.m_next = nullptr;
  switch (request.m_kind) {
    case io_kind::sleep: {
      m_sleepers.emplace(std::chrono::steady_clock::now() + duration_of(request), &request);
      request.m_parked = sleeping;
      return;
    }
    case io_kind::close: {
      forget(request.m_fd);
      complete(request, ::close(request.m_fd) == 0 ? 0 : -errno);
      return;
    }
    case io_kind::accept_multishot:
      // Not offered (features().multishot_accept is false): accept_stream asks one by one.
      complete(request, -EINVAL);
      return;
    default:
      break;
  }
  if (request.m_fd < 0) {
    complete(request, -EBADF);
    return;
  }
  auto& state = entry(request.m_fd);
  const fd_type type = state.type != fd_type::unknown ? state.type : classify(request.m_fd, state);
  // Pipes and FIFOs take RWF_NOWAIT writes, which wait here like a socket's (and so can be
  // cancelled); a terminal or device that refuses it has its writes done by the worker.
  const bool file_io = request.m_kind == io_kind::datasync ||
                       (request.m_kind == io_kind::read && type == fd_type::file) ||
                       (request.m_kind == io_kind::write &&
                        (type == fd_type::file || (type == fd_type::pollable && state.no_nowait)));
  if (file_io) {
    request.m_parked = in_worker;
    m_worker.submit(request);
    return;
  }
  const bool write = request.m_kind == io_kind::send || request.m_kind == io_kind::connect ||
                     request.m_kind == io_kind::write;
  const bool receive = request.m_kind == io_kind::recv || request.m_kind == io_kind::recv_pooled;
  if (receive && !state.readable && state.registered) {
    park(request, state, false);  // drained by a short read: the next edge brings more
    return;
  }
  try_or_park(request, state, write);
}

int epoll_backend::attempt(io_request& request, descriptor& state, std::uint32_t& flags) noexcept {
  const int fd = request.m_fd;
  char* data = request.m_data + request.m_done;
  const std::size_t size = std::min(request.m_size - request.m_done, k_max_transfer);
  for (;;) {
    int res = -EINVAL;
    switch (request.m_kind) {
      case io_kind::accept: {
        request.m_address_size = static_cast<socklen_t>(request.m_size);
        res = ::accept4(fd, reinterpret_cast<sockaddr*>(request.m_data), &request.m_address_size,
                        request.m_msg_flags | SOCK_NONBLOCK);
        res = res < 0 ? -errno : res;
        if (res >= 0) {
          // A new socket: whatever this number named before is gone.
          entry(res) = descriptor{.type = fd_type::socket};
        }
        break;
      }
      case io_kind::recv:
      case io_kind::read: {
        if (state.type != fd_type::socket && !readable_now(fd)) {
          return -EAGAIN;
        }
        res = state.type == fd_type::socket
                  ? result_of(recv_now(fd, data, size, request.m_msg_flags | MSG_DONTWAIT))
                  : result_of(::read(fd, data, size));
        if (res > 0 && static_cast<std::size_t>(res) < size && !state.hung_up) {
          state.readable = false;
        }
        break;
      }
      case io_kind::recv_pooled:
        return attempt_pooled(request, state, flags);
      case io_kind::send:
        res =
            result_of(send_now(fd, data, size, request.m_msg_flags | MSG_NOSIGNAL | MSG_DONTWAIT));
        break;
      case io_kind::write: {
        if (state.type == fd_type::socket) {
          res = result_of(send_now(fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT));
          break;
        }
        const iovec part{.iov_base = data, .iov_len = size};
        res = result_of(::pwritev2(fd, &part, 1, -1, request.m_msg_flags | RWF_NOWAIT));
        if (res == -EOPNOTSUPP) {
          state.no_nowait = true;
          return k_use_worker;
        }
        break;
      }
      case io_kind::connect: {
        if (request.m_done == 0) {
          request.m_done = 1;  // from now on, the outcome is asked for, not started again
          res = ::connect(fd, reinterpret_cast<const sockaddr*>(request.m_data),
                          request.m_address_size) == 0
                    ? 0
                    : -errno;
          if (res == -EINPROGRESS) {
            return -EAGAIN;
          }
        } else {
          int error = 0;
          socklen_t length = sizeof error;
          res = ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 ? -errno : -error;
        }
        break;
      }
      case io_kind::poll: {
        pollfd probe{.fd = fd, .events = POLLIN, .revents = 0};
        res = ::poll(&probe, 1, 0);
        if (res == 0) {
          return -EAGAIN;
        }
        res = res > 0 ? probe.revents : -errno;
        break;
      }
      default:
        break;
    }
    if (res == -EWOULDBLOCK) {
      res = -EAGAIN;
    }
    if (res != -EINTR) {
      return res;
    }
  }
}

int epoll_backend::attempt_pooled(io_request& request, descriptor& state,
                                  std::uint32_t& flags) noexcept {
  buffer_ring* pool =
      request.m_buffer_group < m_pools.size() ? m_pools[request.m_buffer_group] : nullptr;
  if (pool == nullptr) {
    return -EINVAL;
  }
  if (pool->m_free.empty()) {
    return -ENOBUFS;  // every buffer is lent out, as the kernel reports it
  }
  const std::uint16_t id = pool->m_free.back();
  const std::size_t size = pool->buffer_size();
  ssize_t got = 0;
  do {
    got = recv_now(request.m_fd, pool->memory_of(id), size, MSG_DONTWAIT);
  } while (got < 0 && errno == EINTR);
  if (got <= 0) {
    // End of stream takes no buffer, nor does an error.
    return got == 0 ? 0 : (errno == EWOULDBLOCK ? -EAGAIN : -errno);
  }
  pool->m_free.pop_back();
  if (static_cast<std::size_t>(got) < size && !state.hung_up) {
    state.readable = false;
  }
  flags = k_completion_buffer | (static_cast<std::uint32_t>(id) << k_buffer_shift);
  return static_cast<int>(got);
}

}  // namespace ringline::runtime::detail
