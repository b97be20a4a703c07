#include "runtime/accept_stream.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstdlib>
#include <new>
#include <string_view>
#include <utility>

#include "runtime/error.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/socket.hpp"

namespace ringline::runtime {

namespace {

bool switched_on(const char* variable) noexcept {
  // Read at setup, where no other thread changes the environment.
  const char* value = std::getenv(variable);  // NOLINT(concurrency-mt-unsafe)
  return value != nullptr && std::string_view(value) == "1";
}

bool use_multishot(accept_mode preferred) noexcept {
  if (!event_loop::current().features().multishot_accept ||
      switched_on("RINGLINE_SINGLESHOT_ACCEPT")) {
    return false;
  }
  return preferred == accept_mode::multishot || switched_on("RINGLINE_MULTISHOT_ACCEPT");
}

std::uint64_t descriptor_limit() noexcept {
  rlimit limit{};
  return ::getrlimit(RLIMIT_NOFILE, &limit) == 0 ? limit.rlim_cur : RLIM_INFINITY;
}

}  // namespace

accept_stream::accept_stream(int listen_fd, cancellation* cancel, accept_mode preferred)
    : m_cancel(cancel), m_multishot(use_multishot(preferred)) {
  m_on_complete = &on_complete;
  m_fd = listen_fd;
  m_msg_flags = SOCK_CLOEXEC;
  m_kind = m_multishot ? detail::io_kind::accept_multishot : detail::io_kind::accept;
  m_data = reinterpret_cast<char*>(&m_address);
  m_size = sizeof m_address;
}

accept_stream::~accept_stream() {
  assert(!m_armed && "destroyed while the kernel holds its request; co_await stop() first");
  close_queued();
}

bool accept_stream::cancel_requested() const noexcept {
  return m_stopping || (m_cancel != nullptr && m_cancel->requested());
}

void accept_stream::close_queued() noexcept {
  for (const int each : m_ready) {
    if (each >= 0) {
      detail::forget_descriptor(each);
      (void)::close(each);
    }
  }
  m_ready.clear();
}

void accept_stream::arm() {
  event_loop::current().start(*this);
  if (m_multishot) {
    // The kernel reads the limit when it prepares the request, at the next submission.
    m_armed_limit = descriptor_limit();
    m_limit_checked = std::chrono::steady_clock::now();
    m_highest_fd = -1;
  }
  m_armed = true;
  m_pausing = false;
  if (m_cancel != nullptr) {
    m_cancel->set_pending(this);
  }
}

bool accept_stream::limit_lowered(int accepted_fd) noexcept {
  // The kernel hands out the lowest free descriptor, so the count of open ones grows only
  // through new highs: a limit lowered to where it matters shows at the first one past it.
  // A limit lowered under descriptors already open shows by the clock.
  const auto now = std::chrono::steady_clock::now();
  if (accepted_fd <= m_highest_fd && now - m_limit_checked < k_limit_check) {
    return false;
  }
  m_highest_fd = std::max(m_highest_fd, accepted_fd);
  m_limit_checked = now;
  return descriptor_limit() < m_armed_limit;
}

void accept_stream::pause() noexcept {
  try {
    event_loop::current().cancel(*this);
    m_pausing = true;
  } catch (...) {
    // No SQE for the cancel: the request stays armed a little longer.
  }
}

void accept_stream::on_complete(operation& self, int res, std::uint32_t flags) noexcept {
  auto& stream = static_cast<accept_stream&>(self);
  auto& loop = event_loop::current();
  const bool more = (flags & detail::k_completion_more) != 0;
  if (!more) {
    stream.m_armed = false;
    if (stream.m_cancel != nullptr) {
      stream.m_cancel->set_pending(nullptr);
    }
  }
  if (loop.draining() || stream.cancel_requested()) {
    // Accepted after the owner said stop: closed unanswered, as a connection still in the
    // backlog is when the listener closes.
    if (res >= 0) {
      detail::forget_descriptor(res);
      (void)::close(res);
    }
    if (!stream.m_armed && !loop.draining() && stream.m_waiter) {
      stream.close_queued();
      loop.wake(std::exchange(stream.m_waiter, nullptr));  // last: the frame may end here
    }
    return;
  }
  // A final -ECANCELED nobody asked for is this stream pausing, or the kernel giving the
  // request up (it may, when it cannot post a completion); EINTR is a signal. Neither is the
  // accept loop's business: the stream arms again when it is next waited on.
  const bool dropped = !more && (res == -ECANCELED || res == -EINTR);
  if (!dropped) {
    try {
      stream.m_ready.push_back(res);
    } catch (const std::bad_alloc&) {
      if (res >= 0) {
        detail::forget_descriptor(res);
        (void)::close(res);  // no room to keep it: the client sees a close, not a hang
      }
    }
  }
  if (more && !stream.m_pausing &&
      (stream.m_ready.size() >= k_pause_at || (res >= 0 && stream.limit_lowered(res)))) {
    // The accept loop is not keeping up (leave further connections in the backlog), or the
    // request's descriptor limit is out of date. More completions may still arrive before
    // the cancellation's; they are queued too.
    stream.pause();
  }
  if (!stream.m_waiter) {
    return;
  }
  if (stream.m_ready.empty()) {
    if (stream.m_armed) {
      return;
    }
    try {
      stream.arm();
      return;
    } catch (...) {
      stream.m_ready.push_back(-ENOMEM);  // the ring itself failed; tell the accept loop
    }
  }
  loop.wake(std::exchange(stream.m_waiter, nullptr));  // last: the frame may end here
}

bool accept_stream::next_awaiter::await_ready() {
  auto& stream = m_stream;
  assert(!stream.m_waiter && "one waiter at a time");
  if (stream.cancel_requested()) {
    if (stream.m_armed) {
      return false;  // the cancellation's completion is on its way; wait for it
    }
    stream.close_queued();
    return true;
  }
  if (!stream.m_ready.empty()) {
    return true;
  }
  if (!stream.m_armed) {
    stream.arm();
  }
  return false;
}

void accept_stream::next_awaiter::await_suspend(std::coroutine_handle<> waiter) noexcept {
  m_stream.m_waiter = waiter;
}

result<accepted> accept_stream::next_awaiter::await_resume() {
  auto& stream = m_stream;
  if (stream.m_ready.empty()) {
    return make_error_code(std::errc::operation_canceled);
  }
  const int res = stream.m_ready.front();
  stream.m_ready.pop_front();
  if (res < 0) {
    return errno_code(-res);
  }
  accepted conn{unique_fd(res), address()};
  if (stream.m_multishot) {
    // A peer that already reset the connection has no address; the connection is still
    // handed over, and its first receive reports the reset.
    if (auto peer = peer_address(res)) {
      conn.peer = *peer;
    }
  } else {
    conn.peer = address::from_sockaddr(reinterpret_cast<const sockaddr*>(&stream.m_address),
                                       stream.m_address_size);
  }
  return conn;
}

bool accept_stream::stop_awaiter::await_ready() {
  auto& stream = m_stream;
  assert(!stream.m_waiter && "stop() while next() is awaited");
  stream.m_stopping = true;
  if (!stream.m_armed) {
    stream.close_queued();
    return true;
  }
  event_loop::current().cancel(stream);
  return false;
}

void accept_stream::stop_awaiter::await_suspend(std::coroutine_handle<> waiter) noexcept {
  m_stream.m_waiter = waiter;
}

void accept_stream::stop_awaiter::await_resume() noexcept {
  m_stream.close_queued();
}

}  // namespace ringline::runtime
