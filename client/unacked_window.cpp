#include "client/unacked_window.hpp"

#include <algorithm>
#include <cassert>
#include <utility>

namespace ringline::client {

void unacked_window::push(std::string line) {
  assert(!full());
  m_lines.push_back(std::move(line));
}

std::size_t unacked_window::take_unsent(std::string& out, std::size_t limit) {
  const std::size_t start = out.size();
  std::size_t count = 0;
  while (m_sent < m_lines.size() && (count == 0 || out.size() - start < limit)) {
    // Lines are handed out in order on every connection, so "sent before" is a prefix and a
    // line is a resend exactly when it lies inside the prefix an earlier connection reached.
    if (m_sent < m_ever_sent && m_sent >= m_counted_resent) {
      ++m_resent;
      m_counted_resent = m_sent + 1;
    }
    out.append(m_lines[m_sent]);
    ++m_sent;
    ++count;
  }
  m_ever_sent = std::max(m_ever_sent, m_sent);
  return count;
}

bool unacked_window::acknowledge() noexcept {
  if (m_sent == 0) {
    return false;
  }
  m_lines.pop_front();
  --m_sent;
  --m_ever_sent;
  if (m_counted_resent > 0) {
    --m_counted_resent;
  }
  return true;
}

}  // namespace ringline::client
