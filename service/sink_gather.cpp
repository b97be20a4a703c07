// The durable writer's gather: before the next write it waits for the sessions the last flush
// acked to send again, so that one flush covers them all (docs/architecture.md).
#include <algorithm>
#include <new>

#include "runtime/io.hpp"
#include "service/sink.hpp"

namespace ringline::service {

runtime::task<void> sink::gather() {
  // Without it, under steady load the sessions split into two halves that take turns: one
  // half's lines wait while the other half's flush runs, so each flush covers half of them.
  // Waiting for the acked half to send again costs about a round trip and doubles the group.
  // Bounded by the last flush's duration: a longer wait would cost more than a flush.
  const clock::duration limit =
      m_options.gather_limit_fixed
          ? clock::duration(m_options.gather_limit)
          : std::min<clock::duration>(m_last_flush, m_options.gather_limit);
  if (limit <= clock::duration::zero()) {
    co_return;
  }
  runtime::cancellation ended;
  {
    const std::lock_guard lock(m_mutex);
    if (m_expected < 2 || m_waiters.size() >= m_expected || m_stopping || m_failed || m_reopen) {
      co_return;
    }
    m_gathering = ++m_gather_generation;
  }
  m_gather_cancel = &ended;
  (void)co_await runtime::sleep_for(limit, &ended);
  m_gather_cancel = nullptr;
  const std::lock_guard lock(m_mutex);
  m_gathering = 0;
}

std::uint64_t sink::gathered_locked() noexcept {
  if (m_gathering != 0 && m_waiters.size() >= m_expected) {
    return std::exchange(m_gathering, 0);
  }
  return 0;
}

void sink::end_gather(std::uint64_t generation) noexcept {
  // m_gather_generation changes only on this thread, so reading it here needs no lock.
  if (m_gather_cancel != nullptr && generation == m_gather_generation) {
    m_gather_cancel->request();
  }
}

void sink::end_gather_from_any_thread(std::uint64_t generation) noexcept {
  if (on_writer_thread() || m_writer_inbox == nullptr) {
    end_gather(generation);
    return;
  }
  try {
    m_writer_inbox->post([this, generation] { end_gather(generation); });
  } catch (const std::bad_alloc&) {
    // The gather then ends at its time limit instead.
  }
}

void sink::leave() noexcept {
  if (!m_options.durable) {
    return;
  }
  std::uint64_t gathered = 0;
  {
    const std::lock_guard lock(m_mutex);
    if (m_expected > 0) {
      --m_expected;  // perhaps a session of no group: the next group is then a little smaller
    }
    gathered = gathered_locked();
  }
  if (gathered != 0) {
    end_gather_from_any_thread(gathered);
  }
}

}  // namespace ringline::service
