#include "service/server.hpp"

#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstdio>

#include <fmt/format.h>

#include "runtime/error.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/io.hpp"
#include "runtime/log.hpp"
#include "runtime/resolve.hpp"
#include "runtime/socket.hpp"
#include "service/session.hpp"

namespace ringline::service {

namespace {
// Receive buffers shared by the sessions of a loop. A session holds one only from the
// completion of a receive until its lines are copied to the sink, so a few hundred serve
// thousands of connections; when they run dry a session receives into a buffer of its own.
constexpr unsigned k_shared_receive_buffers = 256;

// How long accepting pauses when the process is out of descriptors; sessions that end
// meanwhile free some.
constexpr auto k_accept_backoff = std::chrono::milliseconds(100);
}  // namespace

server::server(config settings, sink& lines)
    : m_config(std::move(settings)),
      m_sink(lines),
      m_acks(m_config.ack),
      m_greeting_line(protocol::make_line(m_config.greeting)) {}

runtime::result<void> server::listen() {
  // Resolved once, here at start: the listener keeps the address it was bound to, whatever
  // DNS says later. getaddrinfo's first address is its preferred one; a later one is tried
  // only when the machine lacks the first one's family or address (no IPv6, say), never to
  // dodge a port in use.
  auto candidates = runtime::resolve(m_config.host, m_config.port);
  if (!candidates) {
    return candidates.error();
  }
  std::error_code first_error;
  for (const auto& where : *candidates) {
    auto listener = runtime::listen_tcp(where);
    if (!listener) {
      if (!first_error) {
        first_error = listener.error();
      }
      const auto error = listener.error();
      if (error == std::errc::address_not_available ||
          error == std::errc::address_family_not_supported) {
        continue;
      }
      return error;
    }
    auto bound = runtime::local_address(listener->get());
    if (!bound) {
      return bound.error();
    }
    m_listener = std::move(*listener);
    m_local = *bound;
    return {};
  }
  return first_error;
}

runtime::task<void> server::run() {
  bool troubled = false;  // logged once per run of failures
  while (!m_stopping) {
    auto conn =
        co_await runtime::accept(m_listener.get(), {.timeout = {}, .cancel = &m_accept_cancel});
    if (!conn) {
      if (runtime::is_cancelled(conn.error())) {
        break;
      }
      ++m_stats.accept_errors;
      if (conn.error() == std::errc::connection_aborted) {
        continue;  // the client gave up while in the backlog: nothing is wrong here
      }
      // Every other failure pauses accepting: descriptor exhaustion lasts until sessions end, and
      // other errors (ENOMEM, ENOBUFS) would otherwise spin this loop.
      if (!troubled) {
        const bool out_of_fds = conn.error() == std::errc::too_many_files_open ||
                                conn.error() == std::errc::too_many_files_open_in_system;
        runtime::log_line(fmt::format("accept: {}; pausing accepts until {}",
                                      conn.error().message(),
                                      out_of_fds ? "descriptors free up" : "it succeeds again"));
        troubled = true;
      }
      (void)co_await runtime::sleep_for(k_accept_backoff, &m_accept_cancel);
      continue;
    }
    if (m_stopping) {
      break;  // accepted in the same turn as stop(): closed unanswered, never greeted
    }
    if (troubled) {
      runtime::log_line("accept: accepting again");  // descriptors (or memory) available again
      troubled = false;
    }
    ++m_stats.accepted;
    if (m_stats.active >= m_config.max_connections) {
      refuse(std::move(conn->fd));
      continue;
    }
    adopt(std::move(conn->fd), conn->peer);
  }
  m_listener.reset();
}

runtime::buffer_ring* server::receive_buffers() {
  if (!m_buffers_tried) {
    m_buffers_tried = true;
    auto ring = runtime::buffer_ring::create(k_shared_receive_buffers, m_config.recv_buffer_bytes);
    if (ring) {
      m_buffers = std::move(*ring);
    } else {
      runtime::log_line(
          fmt::format("receive buffers: one per session (no provided buffer ring: {})",
                      ring.error().message()));
    }
  }
  return m_buffers.get();
}

void server::adopt(runtime::unique_fd fd, runtime::address peer) {
  ++m_stats.active;
  runtime::event_loop::current().spawn(serve(std::move(fd), peer));
}

void server::refuse(runtime::unique_fd fd) noexcept {
  ++m_stats.refused;
  // A dozen bytes always fit an empty socket buffer, so a non-blocking send cannot come up
  // short. Input already received is drained before the close, since closing with unread
  // input sends a reset that can destroy the refusal before the client reads it.
  const auto line = protocol::make_line(protocol::server_full_text);
  (void)::send(fd.get(), line.data(), line.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  (void)runtime::shutdown_write(fd.get());
  std::array<char, 4096> discard{};
  for (int i = 0; i < 16; ++i) {
    if (::recv(fd.get(), discard.data(), discard.size(), MSG_DONTWAIT) <= 0) {
      break;
    }
  }
}

void server::stop() noexcept {
  if (m_stopping) {
    return;
  }
  m_stopping = true;
  m_accept_cancel.request();
  for (auto* each : m_sessions) {
    each->stop_reading();
  }
}

void server::force_close() noexcept {
  stop();
  m_sink.abort();
  for (auto* each : m_sessions) {
    each->abort();
  }
}

void server::cancel_when_idle(runtime::cancellation* cancel) noexcept {
  m_idle_cancel = cancel;
  if (m_idle_cancel != nullptr && m_stats.active == 0) {
    m_idle_cancel->request();
  }
}

void server::session_ended() noexcept {
  if (--m_stats.active == 0) {
    m_sessions_done.set();
    if (m_idle_cancel != nullptr) {
      m_idle_cancel->request();
    }
  }
}

runtime::task<void> server::wait_for_sessions() {
  while (m_stats.active > 0) {
    m_sessions_done.reset();
    co_await m_sessions_done;
  }
}

}  // namespace ringline::service
