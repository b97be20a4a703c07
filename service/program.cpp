#include "service/program.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <optional>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "runtime/duration.hpp"
#include "runtime/event.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/inbox.hpp"
#include "runtime/io.hpp"
#include "runtime/log.hpp"
#include "runtime/memory_trim.hpp"
#include "runtime/signal_set.hpp"
#include "service/config.hpp"
#include "service/metrics_service.hpp"
#include "service/pidfile.hpp"
#include "service/process_setup.hpp"
#include "service/server.hpp"
#include "service/sink.hpp"
#include "service/systemd.hpp"
#include "service/worker_threads.hpp"

namespace ringline::service {

namespace {

using clock = std::chrono::steady_clock;

// After a burst of busy connections the heap holds their freed frames and line buffers;
// once a second, more than this much free heap goes back to the kernel.
constexpr auto k_trim_period = std::chrono::seconds(1);
constexpr std::size_t k_trim_threshold = std::size_t{1} << 20;

// "300s", "250ms": as the command line takes them, and one word in a key=value log field.
std::string duration_text(std::chrono::milliseconds duration) {
  return runtime::format_duration(duration, "");
}

// "127.0.0.1:10008", or "127.0.0.1:10008 [::1]:10008" for several listeners: spaces, since
// each address is one word (IPv6 hosts are bracketed).
std::string addresses_text(const std::vector<runtime::address>& addresses) {
  std::vector<std::string> each;
  each.reserve(addresses.size());
  for (const auto& address : addresses) {
    each.push_back(address.to_string());
  }
  return fmt::format("{}", fmt::join(each, " "));
}

std::string describe_settings(const config& settings, const std::vector<runtime::address>& where) {
  return fmt::format(
      "ringline-server {} (pid {}) listening on {} threads={} backend={} sink={} durable={} "
      "max-connections={} max-line-bytes={} idle-timeout={} line-timeout={} sink-timeout={} "
      "shutdown-grace={}",
      RINGLINE_VERSION, ::getpid(), addresses_text(where), settings.threads, settings.backend,
      settings.sink,
      settings.durable ? "yes" : "no", settings.max_connections, settings.max_line_bytes,
      duration_text(settings.idle_timeout), duration_text(settings.line_timeout),
      duration_text(settings.sink_timeout), duration_text(settings.shutdown_grace));
}

// What STATUS= says: systemctl status shows it, so it is short.
std::string status_line(const stats& counters) {
  return fmt::format("connections={} lines={}", counters.active.load(), counters.lines.load());
}

// The counters of every thread's server, summed; what the exit prints (threads joined).
stats all_counters(const server& running, const worker_threads& workers) {
  stats sum = running.counters();
  sum += workers.counters();
  return sum;
}

// The same while the threads run, for SIGUSR1: each read on its own thread, so that what a
// client has seen (its acks) is counted.
runtime::task<stats> collect_all_counters(const server& running, worker_threads& workers) {
  stats sum = co_await workers.collect_counters();
  sum += running.counters();
  co_return sum;
}

// While the server drains: a second SIGINT/SIGTERM ends the process at once; SIGUSR1 still
// prints the counters and SIGHUP is still harmless.
runtime::task<void> watch_while_draining(runtime::signal_set& signals,
                                         runtime::cancellation& cancel, const server& running,
                                         worker_threads& workers,
                                         const service_notifier& notifier) {
  for (;;) {
    auto signal_number = co_await signals.wait(&cancel);
    if (!signal_number) {
      co_return;
    }
    if (*signal_number == SIGUSR1) {
      const auto counters = co_await collect_all_counters(running, workers);
      runtime::log_line(counters.summary());
      notifier.status("draining: " + status_line(counters));
    } else if (*signal_number == SIGHUP) {
      runtime::log_line("signal 1 (SIGHUP): ignored while shutting down");
    } else {
      runtime::log(runtime::log_level::warn, fmt::format("second signal: exiting now"));
      (void)runtime::flush_log(std::chrono::milliseconds(200));
      ::_exit(128 + *signal_number);
    }
  }
}

// Requests `done` once `work` has finished: lets a timer race a task.
runtime::task<void> request_when_done(runtime::task<void> work, runtime::cancellation& done) {
  co_await std::move(work);
  done.request();
}

// Ends once the sessions of every thread have ended: requests `ended` and sets `done`.
runtime::task<void> wait_for_all_sessions(server& running, worker_threads& workers,
                                          runtime::cancellation& ended, runtime::event& done) {
  co_await running.wait_for_sessions();
  co_await workers.wait_for_sessions();
  ended.request();
  done.set();
}

// Serves until SIGINT/SIGTERM; returns normally for either, throws what went wrong otherwise
// (a worker thread that failed cancels the wait through `failed`).
runtime::task<void> serve_until_signalled(runtime::signal_set& signals, const server& running,
                                          worker_threads& workers, sink& lines,
                                          runtime::cancellation& failed,
                                          const service_notifier& notifier) {
  for (;;) {
    auto signal_number = co_await signals.wait(&failed);
    if (!signal_number) {
      if (!workers.failure().empty()) {
        throw std::runtime_error(workers.failure());
      }
      throw std::system_error(signal_number.error(), "waiting for signals");
    }
    if (*signal_number == SIGUSR1) {
      const auto counters = co_await collect_all_counters(running, workers);
      runtime::log_line(counters.summary());
      notifier.status(status_line(counters));
    } else if (*signal_number == SIGHUP) {
      // Log rotation: the file sink is reopened by its path; nothing else is reloaded.
      runtime::log_line(lines.reopen() ? "signal 1 (SIGHUP): reopening the sink file"
                                       : "signal 1 (SIGHUP): no sink file to reopen; ignored");
    } else {
      runtime::log_line(fmt::format("signal {}: shutting down (grace {})", *signal_number,
                                    duration_text(running.settings().shutdown_grace)));
      co_return;
    }
  }
}

// The listening sockets: every one systemd passed (socket activation), each served by an
// accept loop on every thread, or one new one bound to --host and --port. Logs why when there
// is none to serve.
runtime::result<std::vector<runtime::unique_fd>> listen_or_inherit(
    const config& settings, std::vector<runtime::unique_fd> activated) {
  if (!activated.empty()) {
    // systemd owns these sockets: they are never shut down here, only our descriptors are
    // closed.
    std::vector<int> descriptors;
    descriptors.reserve(activated.size());
    for (const auto& each : activated) {
      descriptors.push_back(each.get());
    }
    runtime::log_line(fmt::format(
        "socket activation: serving {} systemd passed ({} {}); --host and --port are not used",
        activated.size() == 1 ? std::string("the listening socket")
                              : fmt::format("the {} listening sockets", activated.size()),
        activated.size() == 1 ? "descriptor" : "descriptors", fmt::join(descriptors, " ")));
    return activated;
  }
  auto listener = server::open_listener(settings);
  if (!listener) {
    runtime::log(runtime::log_level::error,
                 fmt::format("ringline-server: cannot listen on {} port {}: {}", settings.host,
                             settings.port, listener.error().message()));
    return listener.error();
  }
  std::vector<runtime::unique_fd> bound;
  bound.push_back(std::move(*listener));
  return bound;
}

runtime::task<int> serve(config settings, std::vector<runtime::unique_fd> activated,
                         runtime::signal_set& signals) {
  auto& loop = runtime::event_loop::current();
  const service_notifier notifier;
  // Listen first: a server that cannot serve (port taken) must not have touched the sink.
  const auto at_stop =
      activated.empty() ? server::at_stop::stop_listening : server::at_stop::keep_listening;
  auto listeners = listen_or_inherit(settings, std::move(activated));
  if (!listeners) {
    co_return 1;
  }
  std::string why;
  std::unique_ptr<metrics_service> metrics;
  if (!settings.metrics.empty()) {
    auto opened_metrics = metrics_service::open(settings.metrics, why);
    if (!opened_metrics) {
      runtime::log(runtime::log_level::error, fmt::format("ringline-server: {}", why));
      co_return 1;
    }
    metrics = std::move(*opened_metrics);
  }
  // Once the listeners exist (a server that cannot listen leaves an old pidfile alone), and
  // before the sink is touched (a second server on the same pidfile touches nothing). Removed
  // when this frame ends.
  std::optional<pidfile> pid_file;
  if (!settings.pidfile.empty()) {
    auto held = pidfile::create(settings.pidfile, why);
    if (!held) {
      runtime::log(runtime::log_level::error, fmt::format("ringline-server: {}", why));
      co_return 1;
    }
    pid_file.emplace(std::move(*held));
  }
  auto opened = sink::open(settings.sink,
                           sink_options{.durable = settings.durable,
                                        .max_line_bytes = settings.max_line_bytes,
                                        .follow_symlinks = settings.sink_follow_symlinks,
                                        .timeout = settings.sink_timeout},
                           why);
  if (!opened) {
    runtime::log(runtime::log_level::error, fmt::format("ringline-server: {}", why));
    co_return 1;
  }
  sink& lines = **opened;
  if (lines.repaired_bytes() > 0) {
    runtime::log(runtime::log_level::warn,
                 fmt::format("sink {}: cut {} bytes of a torn last line left by a crash",
                             settings.sink, lines.repaired_bytes()));
  }
  // Thread 0 is this one: signals, the sink writer and a server of its own. Other threads
  // reach it through `mailbox`; appends on them wake the writer through it.
  runtime::inbox mailbox;
  lines.set_writer_inbox(&mailbox);
  server_shared shared;
  server running(settings, lines);
  running.share(shared);
  // The workers duplicate these descriptors, which `running` owns from here on.
  std::vector<int> listener_fds;
  for (auto& each : *listeners) {
    listener_fds.push_back(each.get());
    if (auto taken = running.take_listener(std::move(each), at_stop); !taken) {
      runtime::log(runtime::log_level::error,
                   fmt::format("ringline-server: {}", taken.error().message()));
      co_return 1;
    }
  }
  worker_threads workers(settings, lines, mailbox, shared);
  runtime::cancellation worker_failed;

  // From here on every path goes through the drain below: sessions refer to `running`,
  // `lines` and `workers`, which live in this frame.
  std::exception_ptr failure;
  runtime::cancellation stop_watching;
  runtime::cancellation stop_trimming;
  runtime::cancellation stop_notifying;
  runtime::cancellation sink_done;
  bool draining = false;
  try {
    loop.spawn(mailbox.run());
    loop.spawn(request_when_done(lines.run(), sink_done));
    loop.spawn(lines.expire_waiters());
    loop.spawn(lines.watch_file());
    workers.start(settings.threads - 1, listener_fds, worker_failed);
    loop.spawn(running.run());
    loop.spawn(runtime::trim_free_memory_every(k_trim_period, k_trim_threshold, stop_trimming));
    if (metrics != nullptr) {
      loop.spawn(metrics->run(running, workers, lines, draining));
      runtime::log_line(
          fmt::format("metrics: serving /metrics, /health and /ready on {}", metrics->address()));
    }
    // A round trip through every worker's inbox: each has started its accept loop by the time
    // it answers, so the announcement and READY=1 mean every thread accepts.
    (void)co_await workers.collect_counters();
    const auto addresses = running.local_addresses();
    runtime::log_line(describe_settings(settings, addresses));
    notifier.ready(
        fmt::format("listening on {} ({} threads)", addresses_text(addresses), settings.threads));
    if (notifier.enabled()) {
      runtime::log_line(fmt::format(
          "systemd: sent READY=1; watchdog {}",
          notifier.watchdog_interval().count() > 0
              ? "every " + duration_text(std::chrono::duration_cast<std::chrono::milliseconds>(
                               notifier.watchdog_interval()))
              : std::string("off")));
      // Runs through the drain: systemd may still watch while sessions finish.
      loop.spawn(notify_periodically(
          notifier,
          [&running, &workers, &draining] {
            const auto line = status_line(all_counters(running, workers));
            return draining ? "draining: " + line : line;
          },
          settings.status_period, stop_notifying));
    }
    co_await serve_until_signalled(signals, running, workers, lines, worker_failed, notifier);
    loop.spawn(watch_while_draining(signals, stop_watching, running, workers, notifier));
  } catch (...) {
    failure = std::current_exception();
  }
  draining = true;  // /health says 503, and STATUS= says draining, from here on
  notifier.stopping("draining: " + status_line(all_counters(running, workers)));
  const auto grace_end = clock::now() + settings.shutdown_grace;
  running.stop();
  workers.stop();
  // The grace timer is cut short when the last session of the last thread ends.
  runtime::cancellation sessions_ended;
  runtime::event all_ended;
  loop.spawn(wait_for_all_sessions(running, workers, sessions_ended, all_ended));
  const bool grace_expired =
      static_cast<bool>(co_await runtime::sleep_for(settings.shutdown_grace, &sessions_ended));
  if (grace_expired) {
    runtime::log(runtime::log_level::warn,
                 fmt::format("grace period over: closing {} sessions",
                             all_counters(running, workers).active.load()));
    running.force_close();
    workers.force_close();
  }
  co_await all_ended;
  lines.stop();
  // The writer may be stuck on a stdout pipe nobody reads: it gets what is left of the grace.
  const auto left = grace_end - clock::now();
  if (!sink_done.requested() &&
      (left <= clock::duration::zero() ||
       static_cast<bool>(co_await runtime::sleep_for(left, &sink_done)))) {
    lines.abort();
  }
  stop_watching.request();
  stop_trimming.request();
  stop_notifying.request();
  if (metrics != nullptr) {
    metrics->stop();
  }
  // No session is left on any thread: the workers only close their loops.
  workers.finish_and_join();
  mailbox.close();
  // Every spawned task refers to this frame's locals; none may outlive it.
  co_await loop.wait_for_spawned();
  if (workers.size() > 0) {
    // How the kernel spread the connections over the threads' accepts (thread 0 first).
    runtime::log_line(fmt::format("accepted per thread: {} {}", running.counters().accepted.load(),
                                  fmt::join(workers.accepted_per_thread(), " ")));
  }
  runtime::log_line(all_counters(running, workers).summary());
  if (!failure && !workers.failure().empty()) {
    failure = std::make_exception_ptr(std::runtime_error(workers.failure()));
  }
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& error) {
      runtime::log(runtime::log_level::error,
                   fmt::format("ringline-server: fatal: {}", error.what()));
    } catch (...) {
      runtime::log(runtime::log_level::error, "ringline-server: fatal: unknown exception");
    }
    co_return 1;
  }
  co_return 0;
}

// Decides once, for every loop thread, which backend runs; says why when auto passes io_uring
// over. Returns false (and has logged why) when neither can run.
bool choose_backend(config& settings) {
  try {
    const auto decision = runtime::decide_backend(
        runtime::parse_backend(settings.backend).value_or(runtime::backend_kind::automatic));
    if (!decision.fallback_reason.empty()) {
      runtime::log(runtime::log_level::warn,
                   fmt::format("ringline-server: {}; using epoll", decision.fallback_reason));
    }
    settings.backend = runtime::backend_name(decision.kind);
    runtime::set_default_backend(decision.kind);
    return true;
  } catch (const std::exception& error) {
    runtime::log(runtime::log_level::error, fmt::format("ringline-server: {}", error.what()));
    return false;
  }
}

}  // namespace

int run_program(int argc, const char* const* argv) {
  ensure_standard_descriptors();
  auto parsed = parse_command_line(argc, argv);
  if (!parsed.settings) {
    return parsed.exit_code;
  }
  apply_test_periods(*parsed.settings);
  // Before any thread starts: this unsets LISTEN_FDS, and the environment must not change
  // while another thread may read it.
  std::string activation_problem;
  auto activated = take_activated_listeners(activation_problem);
  // Sends use MSG_NOSIGNAL, but the stdout sink is a write(): a closed pipe there must be an
  // EPIPE the sink reports, not a signal that kills the server.
  (void)::signal(SIGPIPE, SIG_IGN);
  // 256 KiB of log (about 2,000 lines) rides out a slow reader; beyond that lines are dropped
  // and counted rather than let the server wait for its stderr.
  runtime::start_background_log(runtime::log_options{.min_level = parsed.settings->log_level,
                                                     .format = parsed.settings->log_format,
                                                     .timestamps = true,
                                                     .queue_bytes = std::size_t{256} * 1024});
  for (const auto& notice : parsed.settings->config_overrides) {
    runtime::log_line(notice);
  }
  if (!activated) {
    runtime::log(runtime::log_level::error, fmt::format("ringline-server: {}", activation_problem));
    (void)runtime::flush_log(std::chrono::seconds(1));
    return 1;
  }
  if (!choose_backend(*parsed.settings)) {
    (void)runtime::flush_log(std::chrono::seconds(1));
    return 1;
  }
  // Each loop thread beyond the first holds a ring, an inbox eventfd and a duplicate of each
  // listener (one, or as many as systemd passed).
  const std::size_t listeners = std::max<std::size_t>(1, activated->size());
  const auto budget = raise_descriptor_limit(parsed.settings->max_connections,
                                             (2 + listeners) * (parsed.settings->threads - 1));
  if (!budget.warning.empty()) {
    runtime::log(runtime::log_level::warn, budget.warning);
    parsed.settings->max_connections = budget.connections;
  }
  int status = 1;
  try {
    runtime::signal_set signals{SIGINT, SIGTERM, SIGUSR1, SIGHUP};
    runtime::event_loop loop(loop_options(*parsed.settings));
    status = loop.run(serve(std::move(*parsed.settings), std::move(*activated), signals));
  } catch (const runtime::io_uring_unavailable& error) {
    runtime::log(runtime::log_level::error, fmt::format("ringline-server: {}", error.what()));
  } catch (const std::exception& error) {
    runtime::log(runtime::log_level::error,
                 fmt::format("ringline-server: fatal: {}", error.what()));
  }
  // A blocked stderr must not keep the process from exiting.
  (void)runtime::flush_log(std::chrono::seconds(1));
  return status;
}

}  // namespace ringline::service
