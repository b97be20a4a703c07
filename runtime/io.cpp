#include "runtime/io.hpp"

#include <sys/uio.h>

#include <cerrno>
#include <cstring>

#include "runtime/error.hpp"
#include "runtime/event_loop.hpp"

namespace ringline::runtime {

namespace {

__kernel_timespec to_timespec(std::chrono::nanoseconds duration) noexcept {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(duration);
  return {.tv_sec = seconds.count(), .tv_nsec = (duration - seconds).count()};
}

}  // namespace

namespace detail {

io_operation::io_operation(io_kind kind, int fd, io_options options) noexcept
    : timer_node{.m_on_expiry = &on_deadline}, m_options(options) {
  m_on_complete = &on_complete;
  m_kind = kind;
  m_fd = fd;
  if (kind == io_kind::accept) {
    m_msg_flags = SOCK_CLOEXEC;
  }
}

io_operation::io_operation(io_kind kind, int fd, const char* data, std::size_t size, int flags,
                           io_options options) noexcept
    : io_operation(kind, fd, options) {
  // Sends never write through the pointer; one member serves both directions.
  m_data = const_cast<char*>(data);
  m_size = size;
  m_msg_flags = flags;
}

bool io_operation::await_ready() noexcept {
  if (m_options.cancel != nullptr && m_options.cancel->requested()) {
    m_res = -ECANCELED;
    return true;
  }
  return false;
}

void io_operation::await_suspend(std::coroutine_handle<> waiter) {
  m_waiter = waiter;
  submit();
}

void io_operation::submit() {
  auto& loop = event_loop::current();
  loop.start(*this);
  if (m_options.timeout.count() > 0 && m_kind != io_kind::sleep) {
    loop.timers().arm(*this, loop.turn_start(), m_options.timeout);
  }
  if (m_options.cancel != nullptr) {
    m_options.cancel->set_pending(this);
  }
}

bool io_operation::wants_resubmit(int res) noexcept {
  const bool all = m_kind == io_kind::send || m_kind == io_kind::write;
  if (all && res > 0) {
    m_done += static_cast<std::size_t>(res);
  }
  if ((m_options.cancel != nullptr && m_options.cancel->requested()) || m_timed_out) {
    return false;
  }
  return res == -EINTR || (all && res > 0 && m_done < m_size);
}

bool io_operation::settle(int res, std::uint32_t flags) noexcept {
  m_cqe_flags = flags;
  auto& loop = event_loop::current();
  loop.timers().disarm(*this);
  if (m_options.cancel != nullptr) {
    m_options.cancel->set_pending(nullptr);
  }
  if (!loop.draining() && wants_resubmit(res)) {
    try {
      submit();
      return false;
    } catch (...) {
      res = -ENOMEM;  // the ring itself failed; report it on this operation
    }
  }
  m_res = res;
  return true;
}

void io_operation::on_complete(operation& self, int res, std::uint32_t flags) noexcept {
  auto& op = static_cast<io_operation&>(self);
  if (op.settle(res, flags)) {
    event_loop::current().wake(op.m_waiter);
  }
}

void io_operation::on_deadline(timer_node& self) noexcept {
  auto& op = static_cast<io_operation&>(self);
  auto& loop = event_loop::current();
  try {
    loop.cancel(op);
    op.m_timed_out = true;
  } catch (...) {
    // No SQE for the cancel (the ring itself failed): try again a tick later rather than
    // leave the operation without its limit.
    loop.timers().arm(op, std::chrono::steady_clock::now(), std::chrono::nanoseconds::zero());
  }
}

result<std::size_t> io_operation::outcome() const noexcept {
  if ((m_kind == io_kind::send || m_kind == io_kind::write) && m_res >= 0 && m_done < m_size) {
    // Cut short: by a cancellation, or by a zero-byte write that would otherwise spin.
    const bool cancelled = m_options.cancel != nullptr && m_options.cancel->requested();
    if (cancelled) {
      return errno_code(ECANCELED);
    }
    return m_timed_out ? make_error_code(std::errc::timed_out) : errno_code(EIO);
  }
  if (m_res >= 0) {
    return static_cast<std::size_t>(m_res);
  }
  if (m_timed_out && (m_res == -ECANCELED || m_res == -EINTR) &&
      (m_options.cancel == nullptr || !m_options.cancel->requested())) {
    // The deadline passed and the loop cancelled the operation (work the kernel had handed
    // to a worker thread is interrupted rather than cancelled).
    return std::errc::timed_out;
  }
  if (m_kind == io_kind::sleep && m_res == -ETIME) {
    return std::size_t{0};
  }
  if (m_res == -EINTR && m_options.cancel != nullptr && m_options.cancel->requested()) {
    // Work the kernel had handed to a worker thread is interrupted, not cancelled.
    return std::errc::operation_canceled;
  }
  return errno_code(-m_res);
}

}  // namespace detail

accept_awaiter::accept_awaiter(int listen_fd, io_options options) noexcept
    : io_operation(detail::io_kind::accept, listen_fd, options) {
  m_data = reinterpret_cast<char*>(&m_address);
  m_size = sizeof m_address;
}

result<accepted> accept_awaiter::await_resume() noexcept {
  auto fd = outcome();
  if (!fd) {
    return fd.error();
  }
  return accepted{
      unique_fd(static_cast<int>(*fd)),
      address::from_sockaddr(reinterpret_cast<const sockaddr*>(&m_address), m_address_size)};
}

connect_awaiter::connect_awaiter(int fd, const address& peer, io_options options) noexcept
    : io_operation(detail::io_kind::connect, fd, options) {
  std::memcpy(&m_address, peer.data(), peer.size());
  m_data = reinterpret_cast<char*>(&m_address);
  m_address_size = peer.size();
}

result<void> connect_awaiter::await_resume() const noexcept {
  if (auto done = outcome(); !done) {
    return done.error();
  }
  return {};
}

sleep_awaiter::sleep_awaiter(std::chrono::nanoseconds duration, cancellation* cancel) noexcept
    : io_operation(detail::io_kind::sleep, -1, io_options{.timeout = {}, .cancel = cancel}),
      m_timespec(to_timespec(duration)) {
  m_data = reinterpret_cast<char*>(&m_timespec);
}

result<void> sleep_awaiter::await_resume() const noexcept {
  if (auto done = outcome(); !done) {
    return done.error();
  }
  return {};
}

transfer_awaiter::transfer_awaiter(detail::io_kind kind, int fd, const char* data, std::size_t size,
                                   int flags, io_options options) noexcept
    : io_operation(kind, fd, data, size, flags, options) {}

status_awaiter::status_awaiter(detail::io_kind kind, int fd, io_options options) noexcept
    : io_operation(kind, fd, options) {}

status_awaiter::status_awaiter(detail::io_kind kind, int fd, const char* data, std::size_t size,
                               int flags, io_options options) noexcept
    : io_operation(kind, fd, data, size, flags, options) {}

result<void> status_awaiter::await_resume() const noexcept {
  auto done = outcome();
  if (!done) {
    return done.error();
  }
  return {};
}

pooled_recv_awaiter::pooled_recv_awaiter(int fd, buffer_ring& pool, io_options options) noexcept
    : io_operation(detail::io_kind::recv_pooled, fd, options), m_pool(&pool) {
  m_size = pool.buffer_size();
  m_buffer_group = pool.group();
}

result<received_buffer> pooled_recv_awaiter::await_resume() noexcept {
  return detail::pooled_outcome(outcome(), m_cqe_flags, *m_pool);
}

namespace detail {

result<received_buffer> pooled_outcome(result<std::size_t> got, std::uint32_t cqe_flags,
                                       buffer_ring& pool) noexcept {
  const bool has_buffer = (cqe_flags & k_completion_buffer) != 0;
  const auto id = static_cast<std::uint16_t>(cqe_flags >> k_buffer_shift);
  if (!got) {
    if (has_buffer) {
      received_buffer(pool, id, 0).reset();
    }
    return got.error();
  }
  if (!has_buffer) {
    return received_buffer();  // end of stream: the kernel needed no buffer
  }
  return received_buffer(pool, id, *got);
}

void io_operation::rearm(int fd, io_options options) noexcept {
  m_fd = fd;
  m_options = options;
  m_done = 0;
  m_res = 0;
  m_cqe_flags = 0;
  m_timed_out = false;
}

}  // namespace detail

pooled_recv_awaiter recv_pooled(int fd, buffer_ring& pool, io_options options) noexcept {
  return {fd, pool, options};
}

accept_awaiter accept(int listen_fd, io_options options) noexcept {
  return {listen_fd, options};
}

transfer_awaiter recv_some(int fd, std::span<char> buffer, io_options options) noexcept {
  return {detail::io_kind::recv, fd, buffer.data(), buffer.size(), 0, options};
}

status_awaiter send_all(int fd, std::span<const char> data, io_options options) noexcept {
  return {detail::io_kind::send, fd, data.data(), data.size(), 0, options};
}

transfer_awaiter read_some(int fd, std::span<char> buffer, io_options options) noexcept {
  return {detail::io_kind::read, fd, buffer.data(), buffer.size(), 0, options};
}

status_awaiter write_all(int fd, std::span<const char> data, io_options options,
                         write_sync sync) noexcept {
  return {detail::io_kind::write,
          fd,
          data.data(),
          data.size(),
          sync == write_sync::data ? static_cast<int>(RWF_DSYNC) : 0,
          options};
}

connect_awaiter connect(int fd, const address& peer, io_options options) noexcept {
  return {fd, peer, options};
}

status_awaiter close(unique_fd fd) noexcept {
  return {detail::io_kind::close, fd.release(), io_options{}};
}

status_awaiter datasync(int fd, io_options options) noexcept {
  return {detail::io_kind::datasync, fd, options};
}

status_awaiter poll_readable(int fd, io_options options) noexcept {
  return {detail::io_kind::poll, fd, options};
}

sleep_awaiter sleep_for(std::chrono::nanoseconds duration, cancellation* cancel) noexcept {
  return {duration, cancel};
}

void cancellation::request() noexcept {
  m_requested = true;
  if (m_pending != nullptr) {
    try {
      event_loop::current().cancel(*m_pending);
    } catch (...) {
      // Without an SQE the request cannot reach the kernel; the operation ends by itself and
      // every later one sees requested().
    }
  }
}

}  // namespace ringline::runtime
