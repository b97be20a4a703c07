#pragma once

#include <cstdint>
#include <string>

#include "runtime/cancellation.hpp"
#include "runtime/parked_receive.hpp"
#include "runtime/unique_fd.hpp"
#include "service/server.hpp"

namespace ringline::service {

/// One accepted connection, from adoption to close: what must outlive the coroutine that
/// serves it.
///
/// A connection with nothing in progress (greeted or acked, no unfinished line) keeps no
/// coroutine: its receive waits in `parked()`, and the server starts a coroutine again when
/// data arrives, so an idle connection costs this object alone. Registered with its server
/// while it lives, so that stop() can end its reads and force_close() the rest of its I/O.
/// Heap-allocated by server::adopt(); owned by the coroutine serving it, or by its parked
/// receive while it waits; registering allocates nothing, so it cannot fail.
class session {
 public:
  session(server& owner, runtime::unique_fd fd) noexcept;
  session(const session&) = delete;
  session& operator=(const session&) = delete;
  ~session();

  // Sessions come from a pool of their own (runtime/fixed_pool.hpp): among the frames and
  // buffers of busy connections they would keep those pages from going back to the kernel.
  static void* operator new(std::size_t size);
  static void operator delete(void* pointer) noexcept;

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

  [[nodiscard]] server& owner() const noexcept { return m_server; }
  [[nodiscard]] int fd() const noexcept { return m_fd.get(); }
  /// Takes the descriptor, to close it through the ring.
  [[nodiscard]] runtime::unique_fd take_fd() noexcept { return std::move(m_fd); }

  /// The peer as logs show it; set when connections are logged.
  std::string peer_text;
  /// Lines acknowledged so far, across every coroutine that served the session.
  std::uint64_t lines_acked = 0;
  /// The slot of --max-connections-per-ip this session holds for its client address, given
  /// back when it ends; null when none was taken (the limit is off, or not yet checked).
  client_limits::slot* client_slot = nullptr;

  /// The receive an idle session waits on.
  [[nodiscard]] runtime::parked_receive& parked() noexcept { return m_parked; }

  /// The parked receive's callback: hands the data (or the error) to a new coroutine.
  static void on_parked(runtime::parked_receive& receive,
                        runtime::result<runtime::received_buffer> got, void* context) noexcept;

  /// The next session of the same server (the server keeps them in an intrusive list).
  [[nodiscard]] session* next() const noexcept { return m_next; }

 private:
  server& m_server;
  session* m_prev = nullptr;
  session* m_next = nullptr;
  runtime::unique_fd m_fd;
  runtime::cancellation m_read_cancel;
  runtime::cancellation m_io_cancel;
  runtime::parked_receive m_parked;
};

}  // namespace ringline::service
