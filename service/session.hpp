#pragma once

#include "runtime/cancellation.hpp"
#include "service/server.hpp"

namespace ringline::service {

/// The part of a session its server can reach: registered with the server while the session
/// lives, so that stop() can end its reads and force_close() the rest of its I/O. Lives in
/// the session coroutine's frame; registering allocates nothing, so it cannot fail.
class session {
 public:
  explicit session(server& owner) noexcept;
  session(const session&) = delete;
  session& operator=(const session&) = delete;
  ~session();

  /// Cancels the pending read and every later one: the session acks what it has and closes.
  void stop_reading() noexcept { m_read_cancel.request(); }
  /// Cancels all remaining I/O of the session.
  void abort() noexcept {
    m_read_cancel.request();
    m_io_cancel.request();
  }
  /// Returns true once abort() was called (the shutdown grace is over).
  [[nodiscard]] bool aborted() const noexcept { return m_io_cancel.requested(); }

  /// For reads of client data.
  [[nodiscard]] runtime::cancellation& read_cancel() noexcept { return m_read_cancel; }
  /// For everything else: greeting, acks, error line, lingering close.
  [[nodiscard]] runtime::cancellation& io_cancel() noexcept { return m_io_cancel; }

  /// The next session of the same server (the server keeps them in an intrusive list).
  [[nodiscard]] session* next() const noexcept { return m_next; }

 private:
  server& m_server;
  session* m_prev = nullptr;
  session* m_next = nullptr;
  runtime::cancellation m_read_cancel;
  runtime::cancellation m_io_cancel;
};

}  // namespace ringline::service
