#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "protocol/messages.hpp"
#include "runtime/address.hpp"
#include "runtime/buffer_ring.hpp"
#include "runtime/cancellation.hpp"
#include "runtime/event.hpp"
#include "runtime/result.hpp"
#include "runtime/task.hpp"
#include "runtime/unique_fd.hpp"
#include "service/config.hpp"
#include "service/sink.hpp"
#include "service/stats.hpp"

namespace ringline::service {

/// One listening socket, its accept loop and its sessions, on the current thread's loop.
///
/// Lifecycle: listen(), then spawn run() on the loop; stop() begins a graceful shutdown
/// (stop accepting; each session acks what it has received, then closes) and
/// wait_for_sessions() awaits the end of it. The server, the config and the sink must outlive
/// every session, i.e. until wait_for_sessions() completes or the loop is destroyed.
class session;

/// What the servers of all loop threads share: one connection limit, one refusal log rate,
/// one "accepts paused" state. Each field is touched by every thread, so all are atomics.
struct server_shared {
  /// Sessions open on all servers (adopted ones included).
  std::atomic<std::size_t> sessions{0};
  /// When the last refusal line was logged (steady clock, nanoseconds since its epoch).
  std::atomic<std::int64_t> refusal_logged{0};
  /// Refusals since that line.
  std::atomic<std::uint64_t> refusals_unlogged{0};
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

  /// Accepts on `listener` (from open_listener(), or inherited) from now on.
  runtime::result<void> take_listener(runtime::unique_fd listener);

  /// Binds and listens on the configured host and port (open_listener, then take_listener).
  runtime::result<void> listen();

  /// Returns the address actually bound (the real port when 0 was asked for).
  [[nodiscard]] const runtime::address& local_address() const noexcept { return m_local; }

  /// Accepts connections and spawns a session for each until stop().
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
  // Serves a session from its greeting (`resumed` empty) or from the data its parked
  // receive got, until it parks again or ends.
  runtime::task<void> serve(std::unique_ptr<session> owned,
                            std::optional<runtime::result<runtime::received_buffer>> resumed);
  void refuse(runtime::unique_fd fd, const runtime::address& peer) noexcept;
  // Logs and counts a pause of accepts once per run (see server.cpp); `retry`: this server's
  // previous accept failed too.
  void accept_failed(std::error_code error, bool retry);
  void accept_resumed();
  // Spawns the session of a connection already counted in m_shared->sessions.
  void spawn_session(runtime::unique_fd fd, runtime::address peer);

  config m_config;
  sink& m_sink;
  protocol::ack_batch m_acks;
  std::string m_greeting_line;
  runtime::unique_fd m_listener;
  runtime::address m_local;
  runtime::cancellation m_accept_cancel;
  void session_ended() noexcept;
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
