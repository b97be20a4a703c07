#include "service/session.hpp"

#include <cassert>
#include <cstddef>
#include <memory>
#include <utility>

#include "runtime/event_loop.hpp"
#include "runtime/fixed_pool.hpp"
#include "runtime/log.hpp"

namespace ringline::service {

namespace {

// One pool per thread: a session lives and dies on its loop's thread.
thread_local runtime::fixed_pool<sizeof(session)> t_sessions;

}  // namespace

void* session::operator new(std::size_t size) {
  assert(size == sizeof(session));
  (void)size;
  return t_sessions.allocate();
}

void session::operator delete(void* pointer) noexcept {
  t_sessions.deallocate(pointer);
}

session::session(server& owner, runtime::unique_fd fd) noexcept
    : m_server(owner), m_next(owner.m_sessions), m_fd(std::move(fd)) {
  if (m_next != nullptr) {
    m_next->m_prev = this;
  }
  m_server.m_sessions = this;
  ++m_server.m_stats.active;
  if (m_server.m_stopping) {
    m_read_cancel.request();
  }
}

session::~session() {
  if (m_prev != nullptr) {
    m_prev->m_next = m_next;
  } else {
    m_server.m_sessions = m_next;
  }
  if (m_next != nullptr) {
    m_next->m_prev = m_prev;
  }
  m_server.session_ended(client_slot);
}

void session::on_parked(runtime::parked_receive& /*receive*/,
                        runtime::result<runtime::received_buffer> got, void* context) noexcept {
  std::unique_ptr<session> owned(static_cast<session*>(context));
  auto& loop = runtime::event_loop::current();
  if (loop.draining()) {
    return;  // the loop is being torn down: the session ends here, its descriptor with it
  }
  server& owner = owned->m_server;
  try {
    loop.spawn(owner.serve(std::move(owned), std::move(got)));
  } catch (...) {
    // No memory for a frame: the session (moved into the failed call) is already gone, its
    // descriptor closed; nothing could be sent to the client anyway.
    ++owner.m_stats.internal_errors;
    runtime::log_line("session: out of memory to handle received data; connection closed");
  }
}

}  // namespace ringline::service
