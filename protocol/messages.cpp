#include "protocol/messages.hpp"

#include <algorithm>

namespace ringline::protocol {

std::string make_line(std::string_view text) {
  std::string line;
  line.reserve(text.size() + 1);
  line.append(text);
  line.push_back('\n');
  return line;
}

std::string error_line(std::error_code error) {
  std::string line(error_prefix);
  line.append(error.message());
  line.push_back('\n');
  return line;
}

runtime::result<void> validate_message_text(std::string_view text) {
  // A '\n' would split the message into two lines, and a '\r' before the terminator would be
  // stripped by the peer, so neither survives the trip.
  if (text.find_first_of("\r\n") != std::string_view::npos) {
    return std::errc::invalid_argument;
  }
  return {};
}

ack_batch::ack_batch(std::string_view ack_text, std::size_t capacity)
    : m_line_size(ack_text.size() + 1), m_capacity(std::max<std::size_t>(capacity, 1)) {
  m_bytes.reserve(m_line_size * m_capacity);
  for (std::size_t i = 0; i < m_capacity; ++i) {
    m_bytes.append(ack_text);
    m_bytes.push_back('\n');
  }
}

std::span<const char> ack_batch::slice(std::size_t k) const noexcept {
  return {m_bytes.data(), std::min(k, m_capacity) * m_line_size};
}

}  // namespace ringline::protocol
