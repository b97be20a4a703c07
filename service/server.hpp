#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "protocol/messages.hpp"
#include "runtime/address.hpp"
#include "runtime/buffer_ring.hpp"
#include "runtime/cancellation.hpp"
#include "runtime/event.hpp"
#include "runtime/result.hpp"
#include "runtime/task.hpp"
#include "runtime/unique_fd.hpp"
#include "service/client_limits.hpp"
#include "service/config.hpp"
#include "service/sink.hpp"
#include "service/stats.hpp"

namespace ringline::service {

/// The listening sockets of one loop thread (usually one; several when systemd passes several),
/// an accept loop on each, and the sessions they accept, on the current thread's loop.
///
/// Lifecycle: listen() (or take_listener() once per socket), then spawn run() on the loop;
/// stop() begins a graceful shutdown (every accept loop stops; each session acks what it has
/// received, then closes) and
/// wait_for_sessions() awaits the end of it. The server, the config and the sink must outlive
/// every session, i.e. until wait_for_sessions() completes or the loop is destroyed.
class session;

/// What the servers of all loop threads share: one connection limit, one table of sessions
/// per client address, one refusal log rate per limit, one "accepts paused" state. Each field
/// is touched by every thread, so all are atomics, but the table, which locks itself.
struct server_shared {
  /// Sessions open on all servers (adopted ones included).
  std::atomic<std::size_t> sessions{0};
  /// When the last refusal line was logged (steady clock, nanoseconds since its epoch).
  std::atomic<std::int64_t> refusal_logged{0};
  /// Refusals since that line.
  std::atomic<std::uint64_t> refusals_unlogged{0};
  /// The sessions of each client address (--max-connections-per-ip), on all servers.
  client_limits clients;
  /// The same two for refusals at --max-connections-per-ip, which have a line of their own.
  std::atomic<std::int64_t> per_ip_refusal_logged{0};
  std::atomic<std::uint64_t> per_ip_refusals_unlogged{0};
  /// Set by the first server to stop: from then on no server greets a new connection, even
  /// before its own stop() arrives through its inbox.
  std::atomic<bool> stopping{false};
  /// Whether accepts are paused after a failure (on any thread), and whether that was logged.
  static constexpr int accepting = 0;
  static constexpr int paused = 1;          ///< logged and counted
  static constexpr int paused_quietly = 2;  ///< a flap right after resuming: not yet logged
  std::atomic<int> accepts_paused{accepting};
  /// When accepting last resumed after a logged pause (steady clock, its native ticks).
  std::atomic<std::int64_t> accepts_resumed{0};
};

class server {
 public:
  server(config settings, sink& lines);
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds and listens on `settings`' host and port; returns the listening socket.
  static runtime::result<runtime::unique_fd> open_listener(const config& settings);

  /// What stop() does to a listening socket besides closing this server's descriptor.
  enum class at_stop {
    /// Nothing: systemd keeps a socket it passed listening for the next start, and a
    /// worker's duplicate is shut down by the thread that took the original.
    keep_listening,
    /// shutdown(SHUT_RD): the socket leaves LISTEN at once, so connections in its backlog
    /// are reset and new ones refused even while a reference to it lingers (in-flight ring
    /// requests are released asynchronously, after the process's own descriptor is gone).
    stop_listening,
  };

  /// Accepts on `listener` (from open_listener(), or inherited) from run() on, besides the
  /// listeners taken before. Call before run(). Returns the error of getsockname().
  runtime::result<void> take_listener(runtime::unique_fd listener,
                                      at_stop when_stopped = at_stop::keep_listening);

  /// Binds and listens on the configured host and port (open_listener, then take_listener).
  runtime::result<void> listen();

  /// Returns the address the first listener is bound to (the real port when 0 was asked for);
  /// an empty address before any listener was taken.
  [[nodiscard]] const runtime::address& local_address() const noexcept;

  /// Returns the addresses of every listener, in the order they were taken.
  [[nodiscard]] std::vector<runtime::address> local_addresses() const;

  /// Runs one accept loop per listener, each spawning a session per connection, until stop();
  /// ends once every accept loop has ended (and closed its listener).
  runtime::task<void> run();

  /// Serves a connection accepted elsewhere (an inherited socket, a test's socket pair) as
  /// a session on the current loop; the connection limit does not apply. Takes `fd`.
  void adopt(runtime::unique_fd fd, runtime::address peer);

  /// Makes --max-connections one limit, refusals logged once a second and a pause of accepts
  /// logged once, for every server given the same `shared` (one server per loop thread).
  /// Call before run(); `shared` must outlive the server. Without it the server is alone.
  void share(server_shared& shared) noexcept { m_shared = &shared; }

  /// Stops accepting and asks every session to finish: no more reads; acks for what was read.
  void stop() noexcept;

  /// Ends the grace period: cancels every session's remaining I/O (acks not yet sent, the
  /// lingering close), so each session ends promptly.
  void force_close() noexcept;

  /// Requests `cancel` as soon as no session is left (at once if none is): a grace timer
  /// given this cancellation ends early when the last session does. Null unsets it.
  void cancel_when_idle(runtime::cancellation* cancel) noexcept;

  /// Suspends until every session has ended.
  runtime::task<void> wait_for_sessions();

  [[nodiscard]] const stats& counters() const noexcept { return m_stats; }
  [[nodiscard]] const config& settings() const noexcept { return m_config; }

 private:
  friend class session;
  // A listening socket and what its accept loop needs of its own: a cancellation serves one
  // operation at a time, so each loop has one, and stop() requests them all.
  struct listening_socket {
    runtime::unique_fd fd;
    runtime::address local;
    runtime::cancellation cancel;
    at_stop when_stopped = at_stop::keep_listening;
  };
  // Accepts on `where` until stop() (server_accept_loop.cpp), then closes it.
  runtime::task<void> accept_loop(listening_socket& where);
  // Runs accept_loop(where) and counts it out of m_accept_loops when it ends.
  runtime::task<void> counted_accept_loop(listening_socket& where);
  // Serves a session from its greeting (`resumed` empty) or from the data its parked
  // receive got, until it parks again or ends.
  runtime::task<void> serve(std::unique_ptr<session> owned,
                            std::optional<runtime::result<runtime::received_buffer>> resumed);
  // Which limit turned a client away: the refusal line is the same, the counter and the
  // log line are not.
  enum class refusal_limit { connections, per_ip };
  // Sends "not connect" to a client that was never greeted, drains its early input and closes.
  void refuse(runtime::unique_fd fd, const runtime::address& peer, refusal_limit reached) noexcept;
  // Counts a refusal and logs it, at most once a second per limit, whichever thread refuses.
  void note_refusal(const runtime::address& peer, refusal_limit reached) noexcept;
  // Takes a slot of --max-connections-per-ip for `client` in `state` (nothing when the flag is
  // 0); returns false when the address is at its limit. Throws bad_alloc.
  bool take_client_slot(session& state, const runtime::address& client);
  // Logs and counts a pause of accepts once per run (see server.cpp); `retry`: this server's
  // previous accept failed too.
  void accept_failed(std::error_code error, bool retry);
  void accept_resumed();
  // Spawns the session of a connection already counted in m_shared->sessions, holding
  // `client_slot` (may be null) from here on.
  void spawn_session(runtime::unique_fd fd, runtime::address peer,
                     client_limits::slot* client_slot = nullptr);

  config m_config;
  sink& m_sink;
  protocol::ack_batch m_acks;
  std::string m_greeting_line;
  // unique_ptr: a cancellation cannot move, and accept loops hold references to their entry.
  std::vector<std::unique_ptr<listening_socket>> m_listeners;
  std::size_t m_accept_loops = 0;  // accept loops of run() still running
  runtime::event m_accept_loops_done;
  // Uncounts an ended session, and gives back its slot of --max-connections-per-ip (if any).
  void session_ended(client_limits::slot* client_slot) noexcept;
  /// Returns the loop's receive buffer ring, set up on first use; null where the kernel has
  /// none (sessions then receive into buffers of their own).
  runtime::buffer_ring* receive_buffers();

  session* m_sessions = nullptr;  // intrusive list: registering a session cannot fail
  runtime::cancellation* m_idle_cancel = nullptr;
  std::unique_ptr<runtime::buffer_ring> m_buffers;
  bool m_buffers_tried = false;
  runtime::event m_sessions_done;
  bool m_stopping = false;
  stats m_stats;
  server_shared m_own_shared;
  server_shared* m_shared = &m_own_shared;
};

}  // namespace ringline::service
