#include "service/sink.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstdlib>
#include <new>
#include <optional>

#include <fmt/format.h>

#include "runtime/duration.hpp"
#include "runtime/error.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/io.hpp"
#include "runtime/log.hpp"
#include "service/sink_file.hpp"

namespace ringline::service {

runtime::result<std::unique_ptr<sink>> sink::open(const std::string& spec, sink_options options,
                                                  std::string& why) {
  if (options.durable && (spec == "none" || spec == "stdout")) {
    why = "--durable needs a file sink (--sink PATH)";
    return std::errc::invalid_argument;  // only a file can be flushed to disk
  }
  if (spec == "none") {
    return std::make_unique<sink>(runtime::unique_fd(), -1, true, options);
  }
  if (spec == "stdout") {
    return std::make_unique<sink>(runtime::unique_fd(), STDOUT_FILENO, false, options);
  }
  auto file = open_sink_file(spec, options.max_line_bytes, why);
  if (!file) {
    return file.error();
  }
  const int raw = file->fd.get();
  auto opened = std::make_unique<sink>(std::move(file->fd), raw, false, options);
  opened->m_repaired = file->repaired_bytes;
  opened->m_marked = file->marked;
  opened->m_path = spec;
  // Read at start, before any other thread exists.
  const char* naive =
      std::getenv("RINGLINE_BENCH_SYNC_EACH_LINE");  // NOLINT(concurrency-mt-unsafe)
  opened->m_sync_each_line = options.durable && naive != nullptr && std::string_view(naive) == "1";
  struct stat status {};
  if (::fstat(raw, &status) == 0 && S_ISREG(status.st_mode)) {
    opened->m_good_size = status.st_size;
  }
  return opened;
}

runtime::result<std::unique_ptr<sink>> sink::open(const std::string& spec, bool durable) {
  std::string why;
  return open(spec, sink_options{.durable = durable}, why);
}

sink::sink(runtime::unique_fd owned, int fd, bool discard, const sink_options& options) noexcept
    : m_owned(std::move(owned)), m_fd(fd), m_discard(discard), m_options(options) {}

sink::~sink() = default;

std::error_code sink::failure() const {
  const std::lock_guard lock(m_mutex);
  return m_failed ? m_failed : m_unavailable;
}

sink::append_awaiter sink::append(std::span<const std::string_view> lines) {
  if (m_discard) {
    return {*this, 0, {}};  // `none`: nothing to hand over, no lock, no other thread
  }
  std::coroutine_handle<> writer;
  std::uint64_t ticket = 0;
  {
    const std::lock_guard lock(m_mutex);
    if (m_failed || m_unavailable) {
      return {*this, 0, m_failed ? m_failed : m_unavailable};
    }
    if (!m_pending.empty() && m_pending.size() >= m_options.pending_limit) {
      return {*this, 0, std::make_error_code(std::errc::no_buffer_space)};
    }
    // Copied whole under the lock: lines of different threads never interleave mid-line,
    // and one session's lines keep their order because it waits for each append.
    for (const auto line : lines) {
      m_pending.append(line);
      m_pending.push_back('\n');
    }
    m_appended += [&] {
      std::uint64_t bytes = 0;
      for (const auto line : lines) {
        bytes += line.size() + 1;
      }
      return bytes;
    }();
    ticket = m_appended;
    // Only an idle writer is woken; a busy one finds the lines when its write completes.
    writer = std::exchange(m_idle_writer, nullptr);
  }
  if (writer) {
    wake_on_writer(writer);
  }
  return {*this, ticket, {}};
}

bool sink::append_awaiter::await_ready() noexcept {
  // The sink's own fields are read under its mutex in await_suspend; here only what this
  // awaiter already knows.
  return m_error || m_sink.m_discard;
}

bool sink::append_awaiter::await_suspend(std::coroutine_handle<> waiter) {
  runtime::inbox* home = nullptr;
  if (!m_sink.on_writer_thread()) {
    home = runtime::inbox::current();
    assert(home != nullptr && "append() from a thread without a running inbox");
  }
  std::coroutine_handle<> expiry;
  std::uint64_t gathered = 0;
  {
    const std::lock_guard lock(m_sink.m_mutex);
    if (m_sink.m_failed) {
      m_error = m_sink.m_failed;
      return false;
    }
    if (m_ticket <= m_sink.m_written) {
      return false;  // written meanwhile, perhaps by another thread's turn of the writer
    }
    const auto deadline = m_sink.m_options.timeout.count() > 0
                              ? clock::now() + m_sink.m_options.timeout
                              : clock::time_point::max();
    m_sink.m_waiters.push_back({m_ticket, deadline, waiter, this, home});
    m_queued = true;
    m_suspended = true;
    expiry = std::exchange(m_sink.m_idle_expiry, nullptr);
    gathered = m_sink.gathered_locked();
  }
  if (expiry) {
    m_sink.wake_on_writer(expiry);
  }
  if (gathered != 0) {
    m_sink.end_gather_from_any_thread(gathered);
  }
  return true;
}

sink::append_awaiter::~append_awaiter() {
  if (!m_suspended) {
    return;  // the usual case: resumed, so already out of the list
  }
  const std::lock_guard lock(m_sink.m_mutex);
  if (m_queued) {
    std::erase_if(m_sink.m_waiters, [this](const waiter& each) { return each.awaiter == this; });
  }
}

// Suspends the writer until there is work (pending lines, stop(), abort()).
class sink::work_awaiter {
 public:
  explicit work_awaiter(sink& owner) noexcept : m_sink(owner) {}
  [[nodiscard]] bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> writer) {
    const std::lock_guard lock(m_sink.m_mutex);
    if (!m_sink.m_pending.empty() || m_sink.m_stopping || m_sink.m_failed || m_sink.m_reopen) {
      return false;
    }
    m_sink.m_idle_writer = writer;
    return true;
  }
  void await_resume() const noexcept {}

 private:
  sink& m_sink;
};

void sink::wake_on_writer(std::coroutine_handle<> handle) noexcept {
  assert((on_writer_thread() || m_writer_inbox != nullptr) &&
         "append() from another thread needs set_writer_inbox()");
  if (on_writer_thread() || m_writer_inbox == nullptr) {
    runtime::event_loop::current().post(handle);
  } else {
    m_writer_inbox->post(handle);
  }
}

bool sink::reopen() {
  if (m_path.empty()) {
    return false;
  }
  std::coroutine_handle<> writer;
  {
    const std::lock_guard lock(m_mutex);
    m_reopen = true;
    writer = std::exchange(m_idle_writer, nullptr);
  }
  if (writer) {
    wake_on_writer(writer);
  }
  return true;
}

runtime::task<void> sink::reopen_file() {
  if (m_options.durable) {
    // Everything acknowledged was flushed already; this covers the rest written since.
    (void)co_await runtime::datasync(m_fd, {.timeout = {}, .cancel = &m_cancel});
  }
  std::string why;
  auto file = open_sink_file(m_path, m_options.max_line_bytes, why);
  if (!file) {
    runtime::log_line(fmt::format("sink: cannot reopen: {}; still writing to the old file", why));
    co_return;
  }
  if (m_marked) {
    sink_file_unmark(m_fd);  // the old file ends with whole lines: no repair is owed
  }
  const auto written = std::exchange(m_written_since_open, 0);
  m_fd = file->fd.get();
  m_owned = std::move(file->fd);  // closes the old file, releasing its lock
  m_marked = file->marked;
  struct stat status {};
  m_good_size = ::fstat(m_fd, &status) == 0 && S_ISREG(status.st_mode) ? status.st_size : -1;
  runtime::log_line(fmt::format(
      "sink {}: reopened ({} bytes went to the previous file{})", m_path, written,
      file->repaired_bytes > 0
          ? fmt::format("; cut {} bytes of a torn last line of the new one", file->repaired_bytes)
          : std::string()));
}

runtime::task<void> sink::ride_out_failure(std::error_code error) {
  // A write that failed half way left part of the batch in the file: cut it, so that the
  // file ends with the last whole line that was written (and acknowledged).
  struct stat before {};
  const bool sized = ::fstat(m_fd, &before) == 0;
  const bool cut = ::ftruncate(m_fd, m_good_size) == 0;
  const auto removed =
      sized && cut && before.st_size > m_good_size ? before.st_size - m_good_size : 0;
  const auto since = clock::now();
  {
    // None of these lines is acknowledged: their sessions get "sink failed"; new
    // connections get "sink unavailable" until a write succeeds again.
    const std::lock_guard lock(m_mutex);
    m_unavailable = error;
    m_pending.clear();
    m_written = m_appended;
    take_waiters_locked(true, error);
  }
  m_writing.clear();
  resume_taken();
  runtime::log_line(fmt::format(
      "sink: write failed: {}; {} bytes cut back to the last whole line; new connections get "
      "'sink unavailable' until a write succeeds (tried every second)",
      error.message(), removed));
  std::uint64_t attempts = 0;
  for (;;) {
    if (!co_await runtime::sleep_for(k_retry_interval, &m_retry_cancel)) {
      co_return;  // stop() or abort(): run() sees it and ends
    }
    ++attempts;
    if (probe_room()) {
      break;
    }
  }
  {
    const std::lock_guard lock(m_mutex);
    m_unavailable = {};
  }
  ++m_metrics.recoveries;
  runtime::log_line(fmt::format(
      "sink: writing again after {} ({} attempts); accepting lines",
      runtime::format_duration(
          std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - since), ""),
      attempts));
}

bool sink::probe_room() const noexcept {
  // Room for a page more at the end means a write of lines would get through again. The
  // probe leaves the file as it was: fallocate without KEEP_SIZE grows it, so cut it back.
  constexpr off_t k_probe_bytes = 4096;
  if (::fallocate(m_fd, 0, m_good_size, k_probe_bytes) == 0) {
    return ::ftruncate(m_fd, m_good_size) == 0;
  }
  if (errno != EOPNOTSUPP) {
    return false;
  }
  // A file system without fallocate: one byte written and cut again.
  const char probe = '\n';
  const bool wrote = ::write(m_fd, &probe, 1) == 1;
  return ::ftruncate(m_fd, m_good_size) == 0 && wrote;
}

runtime::task<runtime::result<void>> sink::write_and_sync_each_line(runtime::io_options io) {
  std::string_view rest = m_writing;
  while (!rest.empty()) {
    const auto line = rest.substr(0, rest.find('\n') + 1);
    rest.remove_prefix(line.size());
    if (auto wrote = co_await runtime::write_all(m_fd, line, io); !wrote) {
      co_return wrote.error();
    }
    if (auto flushed = co_await runtime::datasync(m_fd, io); !flushed) {
      co_return flushed.error();
    }
    ++m_metrics.writes;
    ++m_metrics.flushes;
  }
  co_return runtime::result<void>{};
}

runtime::task<void> sink::run() {
  for (;;) {
    bool idle = false;
    bool reopen_now = false;
    {
      const std::lock_guard lock(m_mutex);
      reopen_now = std::exchange(m_reopen, false) && !m_failed;
    }
    if (reopen_now) {
      // Before the pending lines: none of them is acknowledged yet, so they belong to the
      // new file.
      co_await reopen_file();
      continue;
    }
    {
      const std::lock_guard lock(m_mutex);
      if (m_pending.empty() || m_failed) {
        if (m_stopping || m_failed) {
          break;
        }
        idle = true;
      } else {
        m_writing.swap(m_pending);
        m_pending.clear();
      }
    }
    if (m_discard) {
      break;
    }
    if (idle) {
      co_await work_awaiter(*this);
      continue;
    }
    if (m_options.durable && !m_sync_each_line) {
      co_await gather();
      const std::lock_guard lock(m_mutex);
      m_writing.append(m_pending);  // what came while gathering
      m_pending.clear();
    }
    const runtime::io_options io{.timeout = {}, .cancel = &m_cancel};
    m_write_in_flight = true;
    if (m_sync_each_line) {
      // The naive durable path bench/durable compares against: every line written and
      // flushed on its own. Never the default (RINGLINE_BENCH_SYNC_EACH_LINE=1 only).
      auto wrote_each = co_await write_and_sync_each_line(io);
      m_write_in_flight = false;
      if (!wrote_each) {
        fail_all(wrote_each.error());
        break;
      }
      const std::lock_guard lock(m_mutex);
      m_written += m_writing.size();
      take_waiters_locked(false, {});
      m_writing.clear();
    }
    if (m_writing.empty()) {
      resume_taken();
      continue;
    }
    auto started = clock::now();
    auto wrote = co_await runtime::write_all(m_fd, m_writing, io);
    if (wrote) {
      m_metrics.write_time.record(clock::now() - started);
      ++m_metrics.writes;
      m_metrics.bytes += m_writing.size();
      m_written_since_open += m_writing.size();
    }
    if (wrote && m_options.durable) {
      // One flush for the whole group: every session whose lines are in it, on whatever
      // thread, waits for the same fdatasync, which is what makes durable acks affordable.
      started = clock::now();
      wrote = co_await runtime::datasync(m_fd, io);
      if (wrote) {
        m_last_flush = clock::now() - started;
        m_metrics.flush_time.record(m_last_flush);
        ++m_metrics.flushes;
      }
    }
    m_write_in_flight = false;
    if (!wrote) {
      ++m_metrics.failures;
      std::size_t unwritten = m_writing.size();
      {
        const std::lock_guard lock(m_mutex);
        unwritten += m_pending.size();
      }
      if (runtime::is_cancelled(wrote.error())) {
        // abort() at the end of the shutdown grace: nothing failed, the time was up.
        runtime::log_line(
            fmt::format("sink: stopped with {} bytes unwritten at the end of the "
                        "shutdown grace; none of them was acknowledged",
                        unwritten));
        fail_all(wrote.error());
        break;
      }
      if (m_good_size < 0) {
        // A pipe or a device: nothing to cut back, and no way to try it without data.
        runtime::log_line(fmt::format("sink: write failed: {}; no further line can be acknowledged",
                                      wrote.error().message()));
        fail_all(wrote.error());
        break;
      }
      co_await ride_out_failure(wrote.error());
      continue;
    }
    if (m_good_size >= 0) {
      m_good_size += static_cast<off_t>(m_writing.size());
    }
    {
      const std::lock_guard lock(m_mutex);
      m_written += m_writing.size();
      take_waiters_locked(false, {});
      // The sessions just acked and those already waiting on the next group: what the
      // next gather waits for.
      m_expected = m_waking.size() + m_waiters.size();
    }
    m_writing.clear();
    resume_taken();
  }
  if (!failure() && m_marked) {
    // Everything is written and the file ends with a whole line: no repair is owed.
    sink_file_unmark(m_fd);
  }
  m_stop_expiry.request();
  std::coroutine_handle<> expiry;
  {
    const std::lock_guard lock(m_mutex);
    expiry = std::exchange(m_idle_expiry, nullptr);
  }
  if (expiry) {
    wake_on_writer(expiry);
  }
}

runtime::task<void> sink::expire_waiters() {
  if (m_options.timeout.count() == 0) {
    co_return;
  }
  // Parks until a waiter arrives (or run() ends); a waiter on another thread wakes it
  // through the writer's inbox.
  struct wait_for_waiter {
    sink& owner;
    [[nodiscard]] bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> self) {
      const std::lock_guard lock(owner.m_mutex);
      if (!owner.m_waiters.empty() || owner.m_stop_expiry.requested()) {
        return false;
      }
      owner.m_idle_expiry = self;
      return true;
    }
    void await_resume() const noexcept {}
  };
  while (!m_stop_expiry.requested()) {
    std::optional<clock::time_point> front;
    {
      const std::lock_guard lock(m_mutex);
      if (!m_waiters.empty()) {
        front = m_waiters.front().deadline;
      }
    }
    if (!front) {
      co_await wait_for_waiter{*this};
      continue;
    }
    const auto left = *front - clock::now();
    if (left > clock::duration::zero()) {
      // Waiters queue in deadline order (one timeout for all, appended in time order), so only
      // the front one needs watching; a front that is written meanwhile just makes this wake
      // up early for nothing.
      if (!co_await runtime::sleep_for(left, &m_stop_expiry)) {
        break;
      }
      continue;
    }
    const auto now = clock::now();
    {
      const std::lock_guard lock(m_mutex);
      while (!m_waiters.empty() && m_waiters.front().deadline <= now) {
        // The lines stay queued and may still be written, but are never acknowledged.
        auto& expired = m_waiters.front();
        expired.awaiter->m_error = std::make_error_code(std::errc::timed_out);
        expired.awaiter->m_queued = false;
        m_waking.push_back(expired);
        m_waiters.pop_front();
      }
    }
    resume_taken();
  }
}

void sink::abort() noexcept {
  if (!on_writer_thread() && m_writer_inbox != nullptr) {
    try {
      m_writer_inbox->post([this] { abort(); });
      return;
    } catch (const std::bad_alloc&) {
      // Without memory for the hand-off the cancellation cannot reach the writer; the
      // shutdown grace's own abort on the writer's thread still will.
      return;
    }
  }
  m_cancel.request();
  m_stop_expiry.request();
  m_retry_cancel.request();
  std::uint64_t gathering = 0;
  {
    const std::lock_guard lock(m_mutex);
    gathering = std::exchange(m_gathering, 0);
  }
  if (gathering != 0) {
    end_gather(gathering);
  }
  if (!m_write_in_flight) {
    // No write in flight to report the cancellation: fail the waiting appends here.
    fail_all(std::make_error_code(std::errc::operation_canceled));
  }
  std::coroutine_handle<> expiry;
  {
    const std::lock_guard lock(m_mutex);
    expiry = std::exchange(m_idle_expiry, nullptr);
  }
  if (expiry) {
    wake_on_writer(expiry);
  }
}

void sink::stop() noexcept {
  std::coroutine_handle<> writer;
  std::uint64_t gathering = 0;
  {
    const std::lock_guard lock(m_mutex);
    m_stopping = true;
    writer = std::exchange(m_idle_writer, nullptr);
    gathering = std::exchange(m_gathering, 0);
  }
  m_retry_cancel.request();  // a failing sink stops trying
  if (writer) {
    wake_on_writer(writer);
  }
  if (gathering != 0) {
    end_gather(gathering);
  }
}

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

void sink::take_waiters_locked(bool all, std::error_code error) {
  // Tickets grow with every append, so the waiters are in ticket order.
  while (!m_waiters.empty() && (all || m_waiters.front().ticket <= m_written)) {
    auto& front = m_waiters.front();
    front.awaiter->m_error = error;
    front.awaiter->m_queued = false;
    m_waking.push_back(front);
    m_waiters.pop_front();
  }
}

void sink::resume_taken() noexcept {
  // Waiters of this thread go to its loop's queue; those of other threads to their inbox, one
  // post (one eventfd write at most) per inbox per batch.
  auto& loop = runtime::event_loop::current();
  while (!m_waking.empty()) {
    runtime::inbox* home = m_waking.front().home;
    m_batch.clear();
    std::erase_if(m_waking, [&](const waiter& each) {
      if (each.home != home) {
        return false;
      }
      m_batch.push_back(each.handle);
      return true;
    });
    if (home == nullptr) {
      for (const auto handle : m_batch) {
        loop.post(handle);
      }
    } else {
      home->post(m_batch);
    }
  }
  m_batch.clear();
}

void sink::fail_all(std::error_code error) noexcept {
  std::coroutine_handle<> writer;
  {
    const std::lock_guard lock(m_mutex);
    if (!m_failed) {
      m_failed = error;
    }
    m_pending.clear();
    take_waiters_locked(true, m_failed);
    writer = std::exchange(m_idle_writer, nullptr);
  }
  resume_taken();
  if (writer) {
    wake_on_writer(writer);
  }
}

}  // namespace ringline::service
