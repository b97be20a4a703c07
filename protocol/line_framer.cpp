#include "protocol/line_framer.hpp"

#include <cassert>
#include <cstring>
#include <limits>
#include <new>
#include <utility>

namespace ringline::protocol {
namespace {

// Spare capacity an unfinished line may keep beyond its bytes.
constexpr std::size_t k_spare_bytes = 4096;

// Removes the '\r' that may precede the '\n' (CRLF), which is not part of the line.
std::string_view strip_carriage_return(std::string_view raw) noexcept {
  if (!raw.empty() && raw.back() == '\r') {
    raw.remove_suffix(1);
  }
  return raw;
}

}  // namespace

line_framer::line_framer(std::size_t max_line_bytes)
    : m_max_line_bytes(max_line_bytes),
      m_max_raw_bytes(max_line_bytes == std::numeric_limits<std::size_t>::max()
                          ? max_line_bytes
                          : max_line_bytes + 1) {}

void line_framer::feed(std::span<const char> chunk) noexcept {
  // The previous chunk must be used up: the framer keeps only a pointer to it, and a line
  // starting in it would otherwise be lost.
  assert(m_chunk_size == 0 || m_failed);
  m_chunk = chunk.data();
  m_chunk_size = chunk.size();
}

frame line_framer::next() {
  if (m_failed) {
    return {frame_kind::too_long, {}};
  }
  if (m_chunk_size == 0) {
    return {frame_kind::need_more, {}};
  }
  const auto* newline = static_cast<const char*>(std::memchr(m_chunk, '\n', m_chunk_size));
  if (newline != nullptr) {
    return finish_line(newline);
  }

  // No terminator in the rest of the chunk: keep it as the start of a line. A line is certain
  // to be too long once it has more raw bytes than content plus '\r', or exactly that many
  // and the last one is not a '\r' that the coming '\n' would strip. Failing here bounds the
  // buffer by m_max_raw_bytes whatever the peer sends.
  const std::size_t pending = m_partial.size() + m_chunk_size;
  if (pending > m_max_raw_bytes ||
      (pending == m_max_raw_bytes && m_chunk[m_chunk_size - 1] != '\r')) {
    return fail();
  }
  m_partial.append(m_chunk, m_chunk_size);
  m_chunk_size = 0;
  return {frame_kind::need_more, {}};
}

frame line_framer::finish_line(const char* end) {
  const auto length = static_cast<std::size_t>(end - m_chunk);
  std::string_view raw;
  if (m_partial.empty()) {
    // The common case: the whole line is in this chunk, so hand out a view of it.
    raw = {m_chunk, length};
  } else {
    // Check the size before copying, so that an oversized line is never appended only to be
    // rejected, and so that pending_bytes() stays as it was when the framer fails.
    const char last = length > 0 ? m_chunk[length - 1] : m_partial.back();
    const std::size_t content = m_partial.size() + length - static_cast<std::size_t>(last == '\r');
    if (content > m_max_line_bytes) {
      return fail();
    }
    m_partial.append(m_chunk, length);
    // The swap moves the line out of m_partial without copying, and keeps both capacities.
    std::swap(m_assembled, m_partial);
    m_partial.clear();
    raw = m_assembled;
  }
  const std::string_view line = strip_carriage_return(raw);
  if (line.size() > m_max_line_bytes) {
    return fail();
  }
  m_chunk = end + 1;
  m_chunk_size -= length + 1;
  return {frame_kind::line, line};
}

void line_framer::release_memory() noexcept {
  std::string().swap(m_assembled);
  if (m_partial.empty()) {
    std::string().swap(m_partial);
  } else if (m_partial.capacity() > 2 * m_partial.size() + k_spare_bytes) {
    // A short unfinished line in the buffer a long one left behind.
    try {
      std::string(m_partial).swap(m_partial);
    } catch (const std::bad_alloc&) {
      // Keeping the larger buffer is correct, only wasteful.
    }
  }
}

frame line_framer::fail() noexcept {
  m_failed = true;
  m_chunk_size = 0;
  return {frame_kind::too_long, {}};
}

}  // namespace ringline::protocol
