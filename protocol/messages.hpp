#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include "runtime/result.hpp"

namespace ringline::protocol {

// Protocol v1 texts. Each is the content of a line, without its terminating '\n'; the defaults
// reproduce the original PHP programs byte for byte.

/// The greeting the server sends on accept (--greeting).
inline constexpr std::string_view default_greeting = "connect";
/// The ack the server sends for every received line (--ack); the trailing space is intended.
inline constexpr std::string_view default_ack = "Thank you client , you data is Received success ";
/// The refusal the server sends, then closes, when its connection limit is reached.
inline constexpr std::string_view server_full_text = "not connect";
/// The prefix of an error line; the reason follows it.
inline constexpr std::string_view error_prefix = "error: ";
/// The line the client sends when it is given none.
inline constexpr std::string_view default_message = "This data will Send to server!";

/// Returns `text` followed by '\n', ready to send.
std::string make_line(std::string_view text);

/// Returns the line the server sends before closing on `error`: "error: <message>\n".
std::string error_line(std::error_code error);

/// Checks that `text` can be the content of one line: returns std::errc::invalid_argument
/// when it contains '\n' or '\r', success otherwise. Used to validate --greeting and --ack.
runtime::result<void> validate_message_text(std::string_view text);

/// Holds `capacity` copies of one ack line back to back, so that k pending acks go out as a
/// single send of a slice of constant bytes instead of k sends or k copies.
///
/// Immutable after construction; one batch may be shared by every session of a thread.
class ack_batch {
 public:
  /// The number of acks a batch holds unless told otherwise.
  static constexpr std::size_t default_capacity = 1024;

  /// Builds `capacity` (at least 1) copies of make_line(ack_text). `ack_text` should have
  /// passed validate_message_text.
  explicit ack_batch(std::string_view ack_text, std::size_t capacity = default_capacity);

  /// Returns the bytes of min(k, capacity()) consecutive ack lines. The span points into the
  /// batch and stays valid while the batch lives.
  [[nodiscard]] std::span<const char> slice(std::size_t k) const noexcept;

  /// Returns how many whole acks `bytes` bytes of a slice cover, e.g. after a short send.
  [[nodiscard]] std::size_t acks_in(std::size_t bytes) const noexcept {
    return bytes / m_line_size;
  }

  /// Returns the size in bytes of one ack line, '\n' included.
  [[nodiscard]] std::size_t line_size() const noexcept { return m_line_size; }

  /// Returns the largest number of acks one slice can hold.
  [[nodiscard]] std::size_t capacity() const noexcept { return m_capacity; }

 private:
  std::string m_bytes;
  std::size_t m_line_size;
  std::size_t m_capacity;
};

}  // namespace ringline::protocol
