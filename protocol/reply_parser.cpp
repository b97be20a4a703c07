#include "protocol/reply_parser.hpp"

#include <utility>

#include "protocol/messages.hpp"

namespace ringline::protocol {

reply_parser::reply_parser(std::string greeting_text, std::string ack_text,
                           std::size_t max_reply_bytes)
    : m_framer(max_reply_bytes),
      m_greeting_text(std::move(greeting_text)),
      m_ack_text(std::move(ack_text)) {}

reply reply_parser::next() {
  const frame result = m_framer.next();
  switch (result.kind) {
    case frame_kind::line:
      return classify(result.line);
    case frame_kind::need_more:
      return {reply_kind::need_more, {}};
    case frame_kind::too_long:
      break;
  }
  return {reply_kind::too_long, {}};
}

reply reply_parser::classify(std::string_view line) noexcept {
  // The greeting is checked first only until it has been seen, so that a server configured
  // with the same text for both still has its acks counted as acks.
  if (!m_greeted && line == m_greeting_text) {
    m_greeted = true;
    return {reply_kind::greeting, line};
  }
  // Acks dominate the traffic, so they are tested before the rarer kinds.
  if (line == m_ack_text) {
    return {reply_kind::ack, line};
  }
  if (line == m_greeting_text) {
    return {reply_kind::greeting, line};
  }
  if (line == server_full_text) {
    return {reply_kind::server_full, line};
  }
  if (line.starts_with(error_prefix)) {
    return {reply_kind::error, line.substr(error_prefix.size())};
  }
  return {reply_kind::other, line};
}

}  // namespace ringline::protocol
