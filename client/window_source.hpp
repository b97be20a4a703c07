#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>

#include "client/client.hpp"
#include "client/unacked_window.hpp"
#include "runtime/unique_fd.hpp"

namespace ringline::client {

/// The line_source a delivery hands to each conversation: it resends the window's unsent
/// lines first, then takes new lines from `input` into the window while it has room, and
/// while it is full waits (cancellably) until acknowledge() makes room.
///
/// Lines read from `input` beyond the window's room wait in a read-ahead of one read (about
/// the `limit` a conversation asks for), so memory stays bounded by the window plus one read.
/// Neither `input` nor `window` is owned; both must outlive this object. Used on one event
/// loop thread; acknowledge() is called from the conversation's reply handler.
class window_source final : public line_source {
 public:
  /// Constructs the source; throws std::system_error if its wake-up eventfd cannot be made.
  window_source(line_source& input, unacked_window& window);

  runtime::task<runtime::result<std::size_t>> read_lines(std::string& out, std::size_t limit,
                                                         runtime::cancellation* cancel) override;

  /// Records an ack for the oldest line handed to the current connection and wakes a
  /// read_lines() waiting for room. Returns false for an ack that answers no line.
  bool acknowledge() noexcept;
  /// Returns how many lines were taken from `input` so far.
  [[nodiscard]] std::uint64_t lines_read() const noexcept { return m_lines_read; }
  /// Returns true once `input` reported its end and every line read is in the window.
  [[nodiscard]] bool input_done() const noexcept {
    return m_input_done && m_read_ahead_at == m_read_ahead.size();
  }
  /// Returns the error `input` reported, if any: reading failed, which no reconnection cures.
  [[nodiscard]] std::error_code input_error() const noexcept { return m_input_error; }

 private:
  /// Moves read-ahead lines into the window while it has room.
  void fill_window();
  /// Suspends until acknowledge() is called or `cancel` is requested.
  runtime::task<runtime::result<void>> wait_for_room(runtime::cancellation* cancel);

  line_source& m_input;
  unacked_window& m_window;
  runtime::unique_fd m_wake;  // an eventfd: the ack side writes it, the waiting side polls it
  std::string m_read_ahead;
  std::size_t m_read_ahead_at = 0;
  std::uint64_t m_lines_read = 0;
  std::error_code m_input_error;
  bool m_input_done = false;
  bool m_waiting = false;
  bool m_woken = false;
};

}  // namespace ringline::client
