// The epoll backend's loop: waiting, events, queues of waiting requests, cancellation.
#include "runtime/epoll/reactor.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <system_error>

#include "runtime/buffer_ring.hpp"
#include "runtime/epoll/factory.hpp"
#include "runtime/error.hpp"
#include "runtime/event_loop.hpp"

namespace ringline::runtime::detail {

namespace {

// The epoll_event data of the file worker's eventfd; descriptors carry their number.
constexpr std::uint64_t k_worker_tag = std::numeric_limits<std::uint64_t>::max();
// Completions one deliver() hands out at most: completions that start work which completes
// at once (a send into an empty buffer) are delivered in the same turn, up to this many, so
// a request/response costs no extra epoll_wait, yet nothing can keep the loop from waiting.
constexpr std::size_t k_deliver_per_turn = 4096;
constexpr std::chrono::nanoseconds k_interrupt_again = std::chrono::milliseconds(50);

}  // namespace

backend_ptr make_epoll_backend(const event_loop_options& /*options*/, ring_features& features) {
  backend_ptr made(new epoll_backend());
  features.backend = backend_kind::epoll;
  features.setup_mode = "epoll";
  features.cancel_any = true;
  features.multishot_accept = false;
  features.recv_multishot = false;
  return made;
}

epoll_backend::epoll_backend()
    : backend(functions_of<epoll_backend>()), m_epoll(::epoll_create1(EPOLL_CLOEXEC)) {
  if (!m_epoll) {
    throw std::system_error(last_errno(), "epoll_create1");
  }
  epoll_event watch{.events = EPOLLIN, .data = {.u64 = k_worker_tag}};
  if (::epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, m_worker.event_fd(), &watch) != 0) {
    throw std::system_error(last_errno(), "epoll_ctl");
  }
}

epoll_backend::~epoll_backend() = default;

epoll_backend::descriptor& epoll_backend::entry(int fd) {
  const auto index = static_cast<std::size_t>(fd);
  if (index >= m_descriptors.size()) {
    m_descriptors.resize(index + 1);
  }
  return m_descriptors[index];
}

void epoll_backend::complete(io_request& request, int res, std::uint32_t flags) {
  request.m_parked = nowhere;
  m_ready.push_back({&request, res, flags});
}

void epoll_backend::park(io_request& request, descriptor& state, bool write) {
  if (!state.registered) {
    epoll_event watch{.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                      .data = {.u64 = static_cast<std::uint64_t>(request.m_fd)}};
    if (::epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, request.m_fd, &watch) != 0 && errno != EEXIST) {
      // EPERM: a descriptor epoll cannot watch (a regular file); it is always ready.
      complete(request, errno == EPERM && request.m_kind == io_kind::poll ? POLLIN : -errno);
      return;
    }
    state.registered = true;
  }
  request.m_parked = write ? writing : reading;
  request.m_next = nullptr;
  io_request** tail = write ? &state.writers : &state.readers;
  while (*tail != nullptr) {
    tail = &(*tail)->m_next;
  }
  *tail = &request;
}

void epoll_backend::try_or_park(io_request& request, descriptor& state, bool write) {
  std::uint32_t flags = 0;
  const int res = attempt(request, state, flags);
  if (res == k_use_worker) {
    request.m_parked = in_worker;
    m_worker.submit(request);
  } else if (res == -EAGAIN) {
    park(request, state, write);
  } else {
    complete(request, res, flags);
  }
}

void epoll_backend::retry(io_request* waiting, descriptor& state, bool write) {
  // Requests parked again here join the queue behind the ones still to be retried.
  while (waiting != nullptr) {
    io_request* request = waiting;
    waiting = request->m_next;
    request->m_next = nullptr;
    try_or_park(*request, state, write);
  }
}

void epoll_backend::on_event(const epoll_event& event) {
  if (event.data.u64 == k_worker_tag) {
    m_worker.take_done(m_worker_done);
    for (const auto& each : m_worker_done) {
      complete(*each.request, each.res);
    }
    m_worker_done.clear();
    return;
  }
  const auto fd = static_cast<int>(event.data.u64);
  if (static_cast<std::size_t>(fd) >= m_descriptors.size()) {
    return;  // an event of a descriptor closed since (its file still open elsewhere)
  }
  auto& state = m_descriptors[static_cast<std::size_t>(fd)];
  const std::uint32_t what = event.events;
  if ((what & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
    state.readable = true;
    state.hung_up = state.hung_up || (what & (EPOLLRDHUP | EPOLLHUP)) != 0;
    retry(std::exchange(state.readers, nullptr), state, false);
  }
  if ((what & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0) {
    retry(std::exchange(state.writers, nullptr), state, true);
  }
}

void epoll_backend::wait(std::optional<std::chrono::nanoseconds> timeout) {
  if (!m_ready.empty()) {
    timeout = std::chrono::nanoseconds::zero();
  }
  if (!m_sleepers.empty()) {
    const auto until = std::max(std::chrono::nanoseconds::zero(),
                                std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    m_sleepers.begin()->first - std::chrono::steady_clock::now()));
    timeout = timeout ? std::min(*timeout, until) : until;
  }
  if (m_worker.interrupt_again()) {
    // A cancelled file operation still runs: the signal may have come before its system
    // call began, so it is sent again until the operation ends.
    timeout = std::min(timeout.value_or(k_interrupt_again), k_interrupt_again);
  }
  timespec limit{};
  if (timeout) {
    limit.tv_sec = static_cast<time_t>(timeout->count() / 1'000'000'000);
    limit.tv_nsec = static_cast<long>(timeout->count() % 1'000'000'000);
  }
  const int count =
      ::epoll_pwait2(m_epoll.get(), m_events.data(), static_cast<int>(m_events.size()),
                     timeout ? &limit : nullptr, nullptr);
  if (count < 0 && errno != EINTR) {
    throw std::system_error(last_errno(), "epoll_pwait2");
  }
  m_event_count = std::max(count, 0);
}

void epoll_backend::expire_sleepers(std::chrono::steady_clock::time_point now) {
  while (!m_sleepers.empty() && m_sleepers.begin()->first <= now) {
    io_request& request = *m_sleepers.begin()->second;
    m_sleepers.erase(m_sleepers.begin());
    complete(request, -ETIME);
  }
}

void epoll_backend::deliver() {
  const int events = std::exchange(m_event_count, 0);
  for (int i = 0; i < events; ++i) {
    on_event(m_events[static_cast<std::size_t>(i)]);
  }
  if (!m_sleepers.empty()) {
    expire_sleepers(std::chrono::steady_clock::now());
  }
  std::size_t delivered = 0;
  while (!m_ready.empty() && delivered < k_deliver_per_turn) {
    // Handlers start requests, which may complete at once into m_ready: deliver from a
    // copy, and those in the next round.
    m_delivering.swap(m_ready);
    for (const auto& done : m_delivering) {
      --m_in_flight;
      done.request->m_on_complete(*done.request, done.res, done.flags);
    }
    delivered += m_delivering.size();
    m_delivering.clear();
  }
}

void epoll_backend::unlink(io_request& request) noexcept {
  switch (request.m_parked) {
    case reading:
    case writing: {
      auto& state = m_descriptors[static_cast<std::size_t>(request.m_fd)];
      io_request** link = request.m_parked == reading ? &state.readers : &state.writers;
      while (*link != nullptr && *link != &request) {
        link = &(*link)->m_next;
      }
      if (*link != nullptr) {
        *link = request.m_next;
      }
      request.m_next = nullptr;
      break;
    }
    case sleeping:
      for (auto each = m_sleepers.begin(); each != m_sleepers.end(); ++each) {
        if (each->second == &request) {
          m_sleepers.erase(each);
          break;
        }
      }
      break;
    default:
      break;
  }
}

void epoll_backend::cancel(operation& target) {
  // Every operation a loop runs is an io_request (runtime/io.hpp, accept_stream).
  auto& request = static_cast<io_request&>(target);
  switch (request.m_parked) {
    case reading:
    case writing:
    case sleeping:
      unlink(request);
      complete(request, -ECANCELED);
      break;
    case in_worker:
      if (m_worker.withdraw(request)) {
        complete(request, -ECANCELED);
      }
      // Running: a file operation finishes by itself, soon; its result is delivered then.
      break;
    default:
      break;  // finished: its completion is on its way
  }
}

void epoll_backend::forget(int fd) noexcept {
  if (fd < 0 || static_cast<std::size_t>(fd) >= m_descriptors.size()) {
    return;
  }
  auto& state = m_descriptors[static_cast<std::size_t>(fd)];
  // A request left waiting on a closed descriptor would wait forever: it ends now.
  for (io_request* list :
       {std::exchange(state.readers, nullptr), std::exchange(state.writers, nullptr)}) {
    while (list != nullptr) {
      io_request* request = std::exchange(list, list->m_next);
      request->m_next = nullptr;
      try {
        complete(*request, -EBADF);
      } catch (...) {
        // No memory to queue the completion; the shutdown drain reports it as unfinished.
      }
    }
  }
  state = descriptor{};
}

bool epoll_backend::cancel_all(std::chrono::nanoseconds limit) noexcept {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  try {
    for (auto& state : m_descriptors) {
      for (io_request* list :
           {std::exchange(state.readers, nullptr), std::exchange(state.writers, nullptr)}) {
        while (list != nullptr) {
          io_request* request = std::exchange(list, list->m_next);
          request->m_next = nullptr;
          complete(*request, -ECANCELED);
        }
      }
    }
    while (!m_sleepers.empty()) {
      io_request& request = *m_sleepers.begin()->second;
      m_sleepers.erase(m_sleepers.begin());
      complete(request, -ECANCELED);
    }
    std::vector<io_request*> queued;
    m_worker.withdraw_all(queued);
    for (io_request* request : queued) {
      complete(*request, -ECANCELED);
    }
    while (m_in_flight > 0 && std::chrono::steady_clock::now() < deadline) {
      // What is left runs on the file worker, cancelled by now: interrupted until it ends.
      m_worker.interrupt_again();
      wait(std::chrono::milliseconds(100));
      deliver();
    }
  } catch (...) {
    // Fall through: what is left in flight decides whether frames may be freed.
  }
  return m_in_flight == 0;
}

result<void> epoll_backend::add_buffers(buffer_ring& ring) {
  if (ring.group() >= m_pools.size()) {
    m_pools.resize(ring.group() + 1U, nullptr);
  }
  m_pools[ring.group()] = &ring;
  ring.m_free.reserve(ring.count());
  for (unsigned id = ring.count(); id > 0; --id) {
    ring.m_free.push_back(static_cast<std::uint16_t>(id - 1));
  }
  return {};
}

void epoll_backend::remove_buffers(buffer_ring& ring) noexcept {
  m_pools[ring.group()] = nullptr;
}

void epoll_backend::give_back(buffer_ring& ring, std::uint16_t id) noexcept {
  // Cannot grow: it holds at most count() ids, and was reserved for all of them.
  ring.m_free.push_back(id);
}

}  // namespace ringline::runtime::detail
