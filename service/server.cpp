#include "service/server.hpp"

#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <new>

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
}  // namespace

server::server(config settings, sink& lines)
    : m_config(std::move(settings)),
      m_sink(lines),
      m_acks(m_config.ack),
      m_greeting_line(protocol::make_line(m_config.greeting)) {}

runtime::result<runtime::unique_fd> server::open_listener(const config& settings) {
  // Resolved once, here at start: the listener keeps the address it was bound to, whatever
  // DNS says later. getaddrinfo's first address is its preferred one; a later one is tried
  // only when the machine lacks the first one's family or address (no IPv6, say), never to
  // dodge a port in use.
  auto candidates = runtime::resolve(settings.host, settings.port);
  if (!candidates) {
    return candidates.error();
  }
  std::error_code first_error;
  for (const auto& where : *candidates) {
    auto listener = runtime::listen_tcp(where);
    if (listener) {
      return listener;
    }
    if (!first_error) {
      first_error = listener.error();
    }
    const auto error = listener.error();
    if (error != std::errc::address_not_available &&
        error != std::errc::address_family_not_supported) {
      return error;
    }
  }
  return first_error;
}

runtime::result<void> server::take_listener(runtime::unique_fd listener, at_stop when_stopped) {
  auto bound = runtime::local_address(listener.get());
  if (!bound) {
    return bound.error();
  }
  auto taken = std::make_unique<listening_socket>();
  taken->fd = std::move(listener);
  taken->local = *bound;
  taken->when_stopped = when_stopped;
  m_listeners.push_back(std::move(taken));
  return {};
}

const runtime::address& server::local_address() const noexcept {
  static const runtime::address none;
  return m_listeners.empty() ? none : m_listeners.front()->local;
}

std::vector<runtime::address> server::local_addresses() const {
  std::vector<runtime::address> addresses;
  addresses.reserve(m_listeners.size());
  for (const auto& each : m_listeners) {
    addresses.push_back(each->local);
  }
  return addresses;
}

runtime::result<void> server::listen() {
  auto listener = open_listener(m_config);
  if (!listener) {
    return listener.error();
  }
  return take_listener(std::move(*listener), at_stop::stop_listening);
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
  // Not limited, but counted: later accepts see it against the limit.
  m_shared->sessions.fetch_add(1, std::memory_order_relaxed);
  spawn_session(std::move(fd), peer);
}

void server::spawn_session(runtime::unique_fd fd, runtime::address peer,
                           client_limits::slot* client_slot) {
  std::unique_ptr<session> state;
  try {
    state = std::make_unique<session>(*this, std::move(fd));
  } catch (...) {
    m_shared->sessions.fetch_sub(1, std::memory_order_relaxed);
    if (client_slot != nullptr) {
      m_shared->clients.release(client_slot);
    }
    throw;
  }
  state->client_slot = client_slot;
  // From here the session uncounts itself (here and in the shared count) when it is
  // destroyed, also when what follows fails for want of memory and destroys it.
  if (m_config.log_connections) {
    state->peer_text = peer.to_string();
  }
  runtime::event_loop::current().spawn(serve(std::move(state), std::nullopt));
}

void server::refuse(runtime::unique_fd fd, const runtime::address& peer,
                    refusal_limit reached) noexcept {
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
  note_refusal(peer, reached);
}

void server::note_refusal(const runtime::address& peer, refusal_limit reached) noexcept {
  const bool per_ip = reached == refusal_limit::per_ip;
  ++(per_ip ? m_stats.refused_per_ip : m_stats.refused);
  // A full server may be refusing thousands of clients a second: one line a second at most
  // for each limit, whichever thread refuses. The thread that wins the exchange of the time
  // logs.
  auto& logged = per_ip ? m_shared->per_ip_refusal_logged : m_shared->refusal_logged;
  auto& unlogged = per_ip ? m_shared->per_ip_refusals_unlogged : m_shared->refusals_unlogged;
  unlogged.fetch_add(1, std::memory_order_relaxed);
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  auto last = logged.load(std::memory_order_relaxed);
  const auto second = std::chrono::steady_clock::duration(std::chrono::seconds(1)).count();
  if ((last != 0 && now - last < second) ||
      !logged.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
    return;
  }
  const auto refused = unlogged.exchange(0, std::memory_order_relaxed);
  try {
    runtime::log(runtime::log_level::warn,
                 per_ip ? fmt::format("refused {}: --max-connections-per-ip {} reached for {} ({} "
                                      "refused since the last such line)",
                                      peer.to_string(), m_config.max_connections_per_ip,
                                      peer.host(), refused)
                        : fmt::format("refused {}: --max-connections {} reached ({} refused since "
                                      "the last such line)",
                                      peer.to_string(), m_config.max_connections, refused));
  } catch (const std::bad_alloc&) {
    return;
  }
}

bool server::take_client_slot(session& state, const runtime::address& client) {
  if (m_config.max_connections_per_ip == 0) {
    return true;
  }
  state.client_slot = m_shared->clients.take(client, m_config.max_connections_per_ip);
  return state.client_slot != nullptr;
}

void server::stop() noexcept {
  if (m_stopping) {
    return;
  }
  m_stopping = true;
  m_shared->stopping.store(true);
  for (auto& each : m_listeners) {
    if (each->when_stopped == at_stop::stop_listening) {
      // Before the cancel: the accept loop closes the descriptor once its accept is done.
      // Other threads' accepts on duplicates then fail; m_shared->stopping tells them why.
      (void)::shutdown(each->fd.get(), SHUT_RD);
    }
    each->cancel.request();
  }
  for (auto* each = m_sessions; each != nullptr; each = each->next()) {
    each->stop_reading();
  }
}

void server::force_close() noexcept {
  stop();
  m_sink.abort();
  for (auto* each = m_sessions; each != nullptr; each = each->next()) {
    each->abort();
  }
}

void server::cancel_when_idle(runtime::cancellation* cancel) noexcept {
  m_idle_cancel = cancel;
  if (m_idle_cancel != nullptr && m_stats.active == 0) {
    m_idle_cancel->request();
  }
}

void server::session_ended(client_limits::slot* client_slot) noexcept {
  if (client_slot != nullptr) {
    m_shared->clients.release(client_slot);
  }
  m_shared->sessions.fetch_sub(1, std::memory_order_relaxed);
  m_sink.leave();
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
