#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

namespace ringline::client {

/// The lines a delivery has taken from its source and not yet seen acknowledged, oldest first.
///
/// Each line stays here, with its '\n', from the moment it is taken until its ack arrives, so
/// it can be sent again on a new connection; at most capacity() lines are held, which bounds
/// both the memory and the lines in flight. A prefix of the window has been handed to the
/// current connection (sent or being sent); restart() starts a new connection, after which
/// every line is unsent again. A line handed to a connection for the second time or later is
/// counted once in resent(): it may reach the sink twice. Not thread-safe; single owner.
class unacked_window {
 public:
  /// Constructs an empty window that holds at most `capacity` lines (at least 1).
  explicit unacked_window(std::size_t capacity) noexcept
      : m_capacity(capacity == 0 ? 1 : capacity) {}

  /// Returns the most lines the window holds.
  [[nodiscard]] std::size_t capacity() const noexcept { return m_capacity; }
  /// Returns how many lines wait for an ack or a send.
  [[nodiscard]] std::size_t size() const noexcept { return m_lines.size(); }
  /// Returns true when no more lines may be taken until an ack arrives.
  [[nodiscard]] bool full() const noexcept { return m_lines.size() >= m_capacity; }
  /// Returns how many lines the current connection has not been handed yet.
  [[nodiscard]] std::size_t unsent() const noexcept { return m_lines.size() - m_sent; }
  /// Returns how many lines were handed to some connection and are not acknowledged yet: the
  /// lines the next connection resends.
  [[nodiscard]] std::size_t sent_unacknowledged() const noexcept { return m_ever_sent; }
  /// Returns how many lines were handed to a connection more than once (possible duplicates).
  [[nodiscard]] std::uint64_t resent() const noexcept { return m_resent; }

  /// Adds `line` (ended by '\n') as the newest, not yet sent. The window must not be full.
  void push(std::string line);
  /// Appends unsent lines, oldest first, to `out` until about `limit` bytes (at least one
  /// line), marks them handed to the current connection and returns how many.
  std::size_t take_unsent(std::string& out, std::size_t limit);
  /// Drops the oldest line, which the current connection has just acknowledged. Returns
  /// false, and changes nothing, if no line was handed to this connection (an ack too many).
  bool acknowledge() noexcept;
  /// Starts a new connection: every line in the window becomes unsent again, to be resent
  /// in order.
  void restart() noexcept { m_sent = 0; }

 private:
  std::deque<std::string> m_lines;
  std::size_t m_capacity;
  std::size_t m_sent = 0;            // prefix handed to the current connection
  std::size_t m_ever_sent = 0;       // prefix handed to any connection (sends go in order)
  std::size_t m_counted_resent = 0;  // prefix already counted in m_resent
  std::uint64_t m_resent = 0;
};

}  // namespace ringline::client
