#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace ringline::protocol {

/// Says what line_framer::next found.
enum class frame_kind {
  line,       ///< A complete line; frame::line holds its content.
  need_more,  ///< The current chunk is used up; feed the next one.
  too_long,   ///< The current line is longer than the limit; the framer has failed for good.
};

/// One result of line_framer::next.
struct frame {
  /// What was found.
  frame_kind kind;
  /// The line's content, without its '\n' and without a '\r' just before it; empty unless
  /// kind is frame_kind::line.
  std::string_view line;
};

/// Splits a byte stream, received in chunks of any size, into '\n'-terminated lines.
///
/// Bytes are opaque except '\n' and a '\r' immediately before it, which are not part of the
/// line; a '\r' anywhere else is kept. A line that lies within one chunk is returned as a view
/// into that chunk, without copying; only a line that spans chunks is assembled in an internal
/// buffer, which never holds more than max_line_bytes + 1 bytes, because a line that cannot
/// fit is reported as too_long as soon as that is certain, without waiting for its '\n'.
///
/// Usage: feed(chunk), then call next() until it returns need_more, then feed the next chunk.
/// Not thread-safe; one framer belongs to one session.
class line_framer {
 public:
  /// Creates a framer that accepts lines of at most `max_line_bytes` bytes of content.
  explicit line_framer(std::size_t max_line_bytes);

  /// Hands the framer the next received chunk. The framer does not copy it: the caller keeps
  /// the bytes alive and unchanged until next() returns need_more (or too_long). Feeding is
  /// allowed only once the previous chunk is used up.
  void feed(std::span<const char> chunk) noexcept;

  /// Returns the next complete line, need_more when the current chunk is used up, or too_long
  /// when the current line's content exceeds the limit. After too_long every call returns
  /// too_long. A returned view stays valid until the next feed() call, provided the caller
  /// keeps the chunk alive as feed() requires.
  [[nodiscard]] frame next();

  /// Returns how many bytes of an unfinished line the framer holds: what it has consumed since
  /// the last complete line. At most max_line_bytes() + 1; frozen once the framer has failed.
  [[nodiscard]] std::size_t pending_bytes() const noexcept { return m_partial.size(); }

  /// Returns true when bytes of an unfinished line are held. At EOF such a trailing partial
  /// line is not a message.
  [[nodiscard]] bool has_partial_line() const noexcept { return !m_partial.empty(); }

  /// Frees what earlier lines left behind: the buffer of the last line assembled from several
  /// chunks (views of it must no longer be used) and, when no line is unfinished, the partial
  /// line buffer. Call between chunks, once next() has returned need_more, so an idle session
  /// holds only the bytes of its unfinished line, whatever it received before.
  void release_memory() noexcept;

  /// Returns true once next() has reported too_long.
  [[nodiscard]] bool failed() const noexcept { return m_failed; }

  /// Returns the largest line content the framer accepts, in bytes.
  [[nodiscard]] std::size_t max_line_bytes() const noexcept { return m_max_line_bytes; }

 private:
  frame fail() noexcept;
  frame finish_line(const char* end);

  std::size_t m_max_line_bytes;
  // The most raw bytes a line may have before its '\n': the content plus a '\r'.
  std::size_t m_max_raw_bytes;
  const char* m_chunk = nullptr;
  std::size_t m_chunk_size = 0;
  // Bytes of the unfinished line received in earlier chunks.
  std::string m_partial;
  // The last line assembled from several chunks; kept apart from m_partial so that storing the
  // next partial line does not overwrite a line the caller may still be reading.
  std::string m_assembled;
  bool m_failed = false;
};

}  // namespace ringline::protocol
