// The accepting side of a server: one accept loop per listening socket, and the pause of
// accepts after a failure, logged once for all loops of all threads.
#include <chrono>
#include <new>

#include <fmt/format.h>

#include "runtime/accept_stream.hpp"
#include "runtime/error.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/io.hpp"
#include "runtime/log.hpp"
#include "service/server.hpp"

namespace ringline::service {

namespace {
// How long accepting pauses when the process is out of descriptors; sessions that end
// meanwhile free some.
constexpr auto k_accept_backoff = std::chrono::milliseconds(100);
}  // namespace

runtime::task<void> server::run() {
  // One accept loop per listener (several when systemd passed several sockets); run() ends
  // when the last of them has.
  auto& loop = runtime::event_loop::current();
  for (auto& each : m_listeners) {
    auto work = counted_accept_loop(*each);
    ++m_accept_loops;
    loop.spawn(std::move(work));
  }
  while (m_accept_loops > 0) {
    m_accept_loops_done.reset();
    co_await m_accept_loops_done;
  }
}

runtime::task<void> server::counted_accept_loop(listening_socket& where) {
  co_await accept_loop(where);
  if (--m_accept_loops == 0) {
    m_accept_loops_done.set();
  }
}

runtime::task<void> server::accept_loop(listening_socket& where) {
  bool troubled = false;  // this loop's last accept failed
  // Single-shot: multishot saved 3-4% of the CPU per connection in a storm, under the bar
  // for its extra machinery (docs/benchmarks.md); RINGLINE_MULTISHOT_ACCEPT=1 turns it on.
  runtime::accept_stream accepts(where.fd.get(), &where.cancel, runtime::accept_mode::single_shot);
  while (!m_stopping) {
    auto conn = co_await accepts.next();
    if (!conn) {
      if (runtime::is_cancelled(conn.error()) || m_stopping || m_shared->stopping.load()) {
        break;  // stopped; on another thread the listener may be shut down already
      }
      if (conn.error() == std::errc::connection_aborted) {
        ++m_stats.accept_errors;
        continue;  // the client gave up while in the backlog: nothing is wrong here
      }
      // Every other failure pauses accepting: descriptor exhaustion lasts until sessions end, and
      // other errors (ENOMEM, ENOBUFS) would otherwise spin this loop.
      accept_failed(conn.error(), troubled);
      troubled = true;
      (void)co_await runtime::sleep_for(k_accept_backoff, &where.cancel);
      continue;
    }
    if (m_stopping || m_shared->stopping.load()) {
      break;  // accepted in the same turn as a stop(): closed unanswered, never greeted
    }
    if (troubled) {
      troubled = false;
      accept_resumed();
    }
    ++m_stats.accepted;
    // One limit for all threads: the slot is taken before the check, so two threads racing
    // for the last one cannot both get it.
    if (m_shared->sessions.fetch_add(1, std::memory_order_relaxed) >= m_config.max_connections) {
      m_shared->sessions.fetch_sub(1, std::memory_order_relaxed);
      refuse(std::move(conn->fd), conn->peer, refusal_limit::connections);
      continue;
    }
    try {
      // The peer is the client, unless a PROXY header will say who is: then the session
      // takes the client's slot once it has read the header.
      client_limits::slot* client_slot = nullptr;
      if (m_config.max_connections_per_ip > 0 && !m_config.proxy_protocol) {
        try {
          client_slot = m_shared->clients.take(conn->peer, m_config.max_connections_per_ip);
        } catch (const std::bad_alloc&) {
          m_shared->sessions.fetch_sub(1, std::memory_order_relaxed);  // as spawn_session does
          throw;
        }
        if (client_slot == nullptr) {
          m_shared->sessions.fetch_sub(1, std::memory_order_relaxed);
          refuse(std::move(conn->fd), conn->peer, refusal_limit::per_ip);
          continue;
        }
      }
      spawn_session(std::move(conn->fd), conn->peer, client_slot);
    } catch (const std::bad_alloc&) {
      // spawn_session() has uncounted it. No memory for the session's frame: this client is closed
      // unanswered (its descriptor died with the moved-from argument), and accepting goes on.
      ++m_stats.internal_errors;
      runtime::log_line("accept: out of memory for a new session; closed it unanswered");
    }
  }
  co_await accepts.stop();  // the kernel may still hold the request that writes into it
  where.fd.reset();
}

// A pause of accepts is logged and counted once per run of failures, whichever threads fail:
// the first failure says so, the first success after it says that accepting resumed. The
// threads race for freed descriptors, so a failure right after the resumption (within one
// backoff) is a flap of the same run: it is logged only if the failing server's retry fails
// too.
void server::accept_failed(std::error_code error, bool retry) {
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  const auto backoff = std::chrono::steady_clock::duration(k_accept_backoff).count();
  auto state = m_shared->accepts_paused.load();
  if (state == server_shared::accepting) {
    const bool flap = now - m_shared->accepts_resumed.load() < backoff;
    if (!m_shared->accepts_paused.compare_exchange_strong(
            state, flap ? server_shared::paused_quietly : server_shared::paused) ||
        flap) {
      return;
    }
  } else if (!(retry && state == server_shared::paused_quietly &&
               m_shared->accepts_paused.compare_exchange_strong(state, server_shared::paused))) {
    return;  // already logged, or a first failure of this server within a run already told
  }
  ++m_stats.accept_errors;
  const bool out_of_fds =
      error == std::errc::too_many_files_open || error == std::errc::too_many_files_open_in_system;
  runtime::log_line(fmt::format("accept: {}; pausing accepts until {}", error.message(),
                                out_of_fds ? "descriptors free up" : "it succeeds again"));
}

void server::accept_resumed() {
  if (m_shared->accepts_paused.exchange(server_shared::accepting) == server_shared::paused) {
    m_shared->accepts_resumed.store(std::chrono::steady_clock::now().time_since_epoch().count());
    runtime::log_line("accept: accepting again");  // descriptors (or memory) available again
  }
}

}  // namespace ringline::service
