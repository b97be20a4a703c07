#include "service/worker_threads.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>

#include <fmt/format.h>

#include "runtime/event_loop.hpp"
#include "runtime/log.hpp"
#include "runtime/unique_fd.hpp"
#include "service/server.hpp"

namespace ringline::service {

namespace {
// Posted to a worker whose loop must end without waiting for its sessions: the exception
// ends the inbox task, and with it the loop's run(), which cancels and frees everything.
void abandon_loop() {
  throw std::runtime_error("abandoned by the main thread");
}
}  // namespace

struct worker_threads::worker {
  std::size_t index = 0;
  runtime::inbox inbox;
  std::vector<runtime::unique_fd> listeners;
  std::thread thread;
  // The worker loop's own: set by work the main thread posts.
  runtime::event stop_requested;
  runtime::event finish_requested;
  // Written by the worker under the mutex; read by the worker freely, by others locked.
  mutable std::mutex mutex;
  server* running = nullptr;
  stats final_counters;
  stats final_counters_locked() const {
    const std::lock_guard lock(mutex);
    return running != nullptr ? running->counters() : final_counters;
  }
  // The main thread's own.
  bool reported = false;
  bool failed = false;
  bool reply_pending = false;  // collect_counters() waits for this worker
  stats collected;
};

// Publishes a worker's server for counters() while it lives, and leaves its final counters
// behind when it dies, however its frame ends.
class worker_threads::publication {
 public:
  publication(worker& self, server& running) noexcept : m_self(self) {
    const std::lock_guard lock(m_self.mutex);
    m_self.running = &running;
  }
  publication(const publication&) = delete;
  publication& operator=(const publication&) = delete;
  ~publication() {
    const std::lock_guard lock(m_self.mutex);
    m_self.final_counters = m_self.running->counters();
    m_self.running = nullptr;
  }

 private:
  worker& m_self;
};

worker_threads::worker_threads(const config& settings, sink& lines, runtime::inbox& main_inbox,
                               server_shared& shared) noexcept
    : m_settings(settings), m_lines(lines), m_main_inbox(main_inbox), m_shared(shared) {}

worker_threads::~worker_threads() {
  for (auto& each : m_workers) {
    if (each->thread.joinable()) {
      // Only when the shutdown did not run (the main loop failed): sessions of this worker
      // may wait for a sink nobody writes any more, so the loop is made to fail, which
      // cancels and frees everything it runs, instead of waiting for them.
      each->inbox.post(abandon_loop);
      each->thread.join();
    }
  }
}

void worker_threads::start(std::size_t count, const std::vector<int>& listeners,
                           runtime::cancellation& on_failure) {
  m_on_failure = &on_failure;
  m_workers.reserve(count);
  try {
    for (std::size_t i = 0; i < count; ++i) {
      auto each = std::make_unique<worker>();  // its inbox is an eventfd
      each->index = i + 1;
      // Duplicates, not second sockets: the same listening sockets whatever the thread count,
      // so "address in use" stays honest and inherited sockets work the same.
      each->listeners.reserve(listeners.size());
      for (const int listener : listeners) {
        runtime::unique_fd copy(::fcntl(listener, F_DUPFD_CLOEXEC, 0));
        if (!copy) {
          throw std::system_error(errno, std::system_category(), "duplicating a listener");
        }
        each->listeners.push_back(std::move(copy));
      }
      m_workers.push_back(std::move(each));
    }
  } catch (const std::system_error& error) {
    const auto failed = m_workers.size() + 1;
    // None of these workers has a thread yet, so none would ever report: the shutdown, which
    // waits for a report from each one, must not wait for them.
    m_workers.clear();
    throw std::runtime_error(fmt::format(
        "cannot start --threads {}: thread {}: {}{}", count + 1, failed, error.what(),
        error.code() == std::errc::too_many_files_open
            ? " (each thread needs descriptors of its own: raise the limit with ulimit -n or "
              "LimitNOFILE=, or lower --threads)"
            : ""));
  }
  // Born with every signal blocked (a thread inherits its creator's mask): a process-directed
  // SIGTERM must reach the main thread's signalfd, never a worker.
  sigset_t all;
  sigset_t previous;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &previous);
  std::size_t started = 0;
  try {
    for (; started < m_workers.size(); ++started) {
      auto* self = m_workers[started].get();
      self->thread = std::thread([this, self] { thread_main(*self); });
    }
  } catch (...) {
    // The shutdown waits for a report from every worker: only started ones can send one.
    m_workers.resize(started);
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    throw;
  }
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

void worker_threads::thread_main(worker& self) noexcept {
  std::string failure;
  try {
    runtime::event_loop loop(loop_options(m_settings));
    loop.run(serve(self));
  } catch (const std::exception& error) {
    failure = error.what();
  } catch (...) {
    failure = "unknown exception";
  }
  if (!failure.empty()) {
    try {
      m_main_inbox.post([this, &self, failure] { reported(self, failure); });
    } catch (...) {
      runtime::log(runtime::log_level::error,
                   fmt::format("thread {} failed: {}", self.index, failure));
    }
  }
}

runtime::task<void> worker_threads::serve(worker& self) {
  auto& loop = runtime::event_loop::current();
  server running(m_settings, m_lines);
  running.share(m_shared);
  for (auto& listener : self.listeners) {
    if (auto taken = running.take_listener(std::move(listener)); !taken) {
      throw std::system_error(taken.error(), "listener");
    }
  }
  self.listeners.clear();
  const publication published(self, running);
  loop.spawn(self.inbox.run());
  loop.spawn(running.run());
  co_await self.stop_requested;
  running.stop();
  co_await running.wait_for_sessions();
  m_main_inbox.post([this, &self] { reported(self, {}); });
  co_await self.finish_requested;
  self.inbox.close();
  co_await loop.wait_for_spawned();
}

void worker_threads::reported(worker& self, std::string failure) {
  if (!failure.empty()) {
    self.failed = true;
    if (self.reply_pending) {
      // It will never answer collect_counters(): its counters as it ended are all there is.
      reply_in(self, self.final_counters_locked());
    }
    runtime::log(runtime::log_level::error,
                 fmt::format("ringline-server: thread {} failed: {}", self.index, failure));
    if (m_failure.empty()) {
      m_failure = fmt::format("thread {}: {}", self.index, failure);
    }
    if (m_on_failure != nullptr) {
      m_on_failure->request();
    }
  }
  if (!self.reported) {
    self.reported = true;
    if (++m_reported == m_workers.size()) {
      m_all_reported.set();
    }
  }
}

void worker_threads::stop() {
  for (auto& each : m_workers) {
    each->inbox.post([self = each.get()] { self->stop_requested.set(); });
  }
}

void worker_threads::force_close() {
  for (auto& each : m_workers) {
    each->inbox.post([self = each.get()] {
      if (self->running != nullptr) {
        self->running->force_close();
      }
    });
  }
}

runtime::task<void> worker_threads::wait_for_sessions() {
  while (m_reported < m_workers.size()) {
    m_all_reported.reset();
    co_await m_all_reported;
  }
}

void worker_threads::finish_and_join() {
  for (auto& each : m_workers) {
    each->inbox.post([self = each.get()] { self->finish_requested.set(); });
  }
  for (auto& each : m_workers) {
    if (each->thread.joinable()) {
      each->thread.join();
    }
  }
}

runtime::task<stats> worker_threads::collect_counters() {
  for (auto& each : m_workers) {
    if (each->failed) {
      each->collected = each->final_counters_locked();
      continue;
    }
    each->reply_pending = true;
    ++m_replies_due;
    each->inbox.post([this, self = each.get()] {
      // On the worker's thread: every completion it reaped before this one is counted.
      stats snapshot = self->running != nullptr ? self->running->counters() : self->final_counters;
      m_main_inbox.post([this, self, snapshot] { reply_in(*self, snapshot); });
    });
  }
  while (m_replies_due > 0) {
    m_replies_in.reset();
    co_await m_replies_in;
  }
  stats sum;
  for (const auto& each : m_workers) {
    sum += each->collected;
  }
  co_return sum;
}

void worker_threads::reply_in(worker& self, const stats& snapshot) {
  if (!self.reply_pending) {
    return;
  }
  self.reply_pending = false;
  self.collected = snapshot;
  if (--m_replies_due == 0) {
    m_replies_in.set();
  }
}

stats worker_threads::counters() const {
  stats sum;
  for (const auto& each : m_workers) {
    const std::lock_guard lock(each->mutex);
    sum += each->running != nullptr ? each->running->counters() : each->final_counters;
  }
  return sum;
}

std::vector<stats> worker_threads::per_thread_counters() const {
  std::vector<stats> each_thread(m_workers.size());
  for (std::size_t i = 0; i < m_workers.size(); ++i) {
    const auto& each = *m_workers[i];
    const std::lock_guard lock(each.mutex);
    each_thread[i] = each.running != nullptr ? each.running->counters() : each.final_counters;
  }
  return each_thread;
}

std::vector<std::uint64_t> worker_threads::accepted_per_thread() const {
  std::vector<std::uint64_t> accepted;
  accepted.reserve(m_workers.size());
  for (const auto& each : m_workers) {
    const std::lock_guard lock(each->mutex);
    accepted.push_back(each->running != nullptr ? each->running->counters().accepted.load()
                                                : each->final_counters.accepted.load());
  }
  return accepted;
}

}  // namespace ringline::service
