#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/cancellation.hpp"
#include "runtime/event.hpp"
#include "runtime/inbox.hpp"
#include "runtime/task.hpp"
#include "service/config.hpp"
#include "service/sink.hpp"
#include "service/stats.hpp"

namespace ringline::service {

struct server_shared;

/// The loop threads beyond the main one (--threads N starts N-1 of them).
///
/// Each worker runs its own event_loop and its own server, accepting on a duplicate of each of
/// the main thread's listening sockets (the same listeners, an accept in flight on each per
/// loop), counting its
/// sessions in `shared` (one --max-connections for all) and handing its
/// lines to the one sink. The main thread steers them through their inboxes: stop(),
/// force_close(), finish_and_join(); they report back through `main_inbox`.
///
/// Threads: everything here is called on the main thread, whose loop runs `main_inbox`;
/// counters() may be called from any thread. The config, sink, inbox and total must outlive
/// this object, which joins its threads when destroyed (abandoning their sessions if the
/// shutdown did not run, so that a failed main loop cannot leave the process hanging).
class worker_threads {
 public:
  worker_threads(const config& settings, sink& lines, runtime::inbox& main_inbox,
                 server_shared& shared) noexcept;
  worker_threads(const worker_threads&) = delete;
  worker_threads& operator=(const worker_threads&) = delete;
  ~worker_threads();

  /// Starts `count` workers with every signal blocked (they belong to the main thread's
  /// signalfd), each accepting on its own duplicates of `listeners` (the caller keeps the
  /// originals). A worker that fails later is reported by requesting `on_failure`, on the
  /// main thread. Throws std::system_error when a thread cannot be had, std::runtime_error
  /// (saying which thread and why) when a descriptor cannot; no worker is left unstarted.
  void start(std::size_t count, const std::vector<int>& listeners,
             runtime::cancellation& on_failure);

  /// Returns how many workers were started.
  [[nodiscard]] std::size_t size() const noexcept { return m_workers.size(); }

  /// Asks every worker's server to stop accepting and finish its sessions gracefully.
  void stop();

  /// Ends the grace on every worker: cancels its sessions' remaining I/O.
  void force_close();

  /// Suspends until every worker has reported its sessions ended after stop(), or failed.
  runtime::task<void> wait_for_sessions();

  /// Lets the workers finish (their sessions must have ended) and joins them.
  void finish_and_join();

  /// Returns the sum of the workers' counters (live, or as they ended). Any thread; a
  /// worker's latest updates may not be visible yet (use collect_counters() for that).
  [[nodiscard]] stats counters() const;

  /// Returns the sum of the workers' counters, each read on its own thread (a round trip
  /// through its inbox): whatever a worker did before the call, such as acking lines a
  /// client has seen, is counted, as it would be on a single thread. Main thread only.
  runtime::task<stats> collect_counters();

  /// Returns each worker's counters, in thread order (thread 1 first). Any thread; as
  /// counters(), the latest updates may not be visible yet.
  [[nodiscard]] std::vector<stats> per_thread_counters() const;

  /// Returns each worker's accepted connections, in thread order (thread 1 first). Any thread.
  [[nodiscard]] std::vector<std::uint64_t> accepted_per_thread() const;

  /// Returns what the first failed worker threw, or an empty string.
  [[nodiscard]] const std::string& failure() const noexcept { return m_failure; }

 private:
  struct worker;
  class publication;
  void thread_main(worker& self) noexcept;
  runtime::task<void> serve(worker& self);
  void reported(worker& self, std::string failure);
  void reply_in(worker& self, const stats& snapshot);

  const config& m_settings;
  sink& m_lines;
  runtime::inbox& m_main_inbox;
  server_shared& m_shared;
  runtime::cancellation* m_on_failure = nullptr;
  std::vector<std::unique_ptr<worker>> m_workers;
  // The main thread's own: which workers reported, and the wake-up of wait_for_sessions().
  std::size_t m_reported = 0;
  runtime::event m_all_reported;
  std::size_t m_replies_due = 0;  // collect_counters() in progress
  runtime::event m_replies_in;
  std::string m_failure;
};

}  // namespace ringline::service
