#include "service/program.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <exception>

#include <fmt/format.h>

#include "runtime/event_loop.hpp"
#include "runtime/io.hpp"
#include "runtime/log.hpp"
#include "runtime/signal_set.hpp"
#include "service/config.hpp"
#include "service/server.hpp"
#include "service/sink.hpp"

namespace ringline::service {

namespace {

// A second SIGINT/SIGTERM during the graceful phase ends the process at once.
runtime::task<void> exit_on_second_signal(runtime::signal_set& signals,
                                          runtime::cancellation& cancel) {
  for (;;) {
    auto signal_number = co_await signals.wait(&cancel);
    if (!signal_number) {
      co_return;
    }
    if (*signal_number != SIGUSR1) {
      runtime::log_line(fmt::format("second signal: exiting now"));
      (void)std::fflush(stderr);
      ::_exit(128 + *signal_number);
    }
  }
}

runtime::task<int> serve(config settings, runtime::signal_set& signals) {
  auto& loop = runtime::event_loop::current();
  auto opened = sink::open(settings.sink, settings.durable);
  if (!opened) {
    runtime::log_line(fmt::format("ringline-server: cannot open sink '{}': {}", settings.sink,
                                  opened.error().message()));
    co_return 1;
  }
  sink& lines = **opened;
  if (lines.repaired_bytes() > 0) {
    runtime::log_line(fmt::format("sink {}: cut {} bytes of a torn last line left by a crash",
                                  settings.sink, lines.repaired_bytes()));
  }
  server running(settings, lines);
  if (auto listening = running.listen(); !listening) {
    runtime::log_line(fmt::format("ringline-server: cannot listen on {} port {}: {}", settings.host,
                                  settings.port, listening.error().message()));
    co_return 1;
  }
  runtime::log_line(fmt::format("listening on {}", running.local_address().to_string()));

  loop.spawn(lines.run());
  loop.spawn(running.run());
  for (;;) {
    auto signal_number = co_await signals.wait();
    if (!signal_number) {
      runtime::log_line(fmt::format("ringline-server: waiting for signals failed: {}",
                                    signal_number.error().message()));
      break;
    }
    if (*signal_number == SIGUSR1) {
      runtime::log_line(running.counters().summary());
      continue;
    }
    runtime::log_line(fmt::format(
        "signal {}: shutting down (grace {}s)", *signal_number,
        std::chrono::duration_cast<std::chrono::seconds>(settings.shutdown_grace).count()));
    break;
  }
  runtime::cancellation stop_watching;
  loop.spawn(exit_on_second_signal(signals, stop_watching));
  running.stop();

  // The grace timer is cut short when the last session ends.
  runtime::cancellation sessions_ended;
  running.cancel_when_idle(&sessions_ended);
  const bool grace_expired =
      static_cast<bool>(co_await runtime::sleep_for(settings.shutdown_grace, &sessions_ended));
  running.cancel_when_idle(nullptr);
  if (grace_expired) {
    runtime::log_line(
        fmt::format("grace period over: closing {} sessions", running.counters().active));
    running.force_close();
  }
  co_await running.wait_for_sessions();
  lines.stop();
  stop_watching.request();
  // Every spawned task refers to this frame's locals; none may outlive it.
  co_await loop.wait_for_spawned();
  runtime::log_line(running.counters().summary());
  co_return 0;
}

}  // namespace

int run_program(int argc, const char* const* argv) {
  auto parsed = parse_command_line(argc, argv);
  if (!parsed.settings) {
    return parsed.exit_code;
  }
  // Sends use MSG_NOSIGNAL, but the stdout sink is a write(): a closed pipe there must be an
  // EPIPE the sink reports, not a signal that kills the server.
  (void)::signal(SIGPIPE, SIG_IGN);
  try {
    runtime::signal_set signals{SIGINT, SIGTERM, SIGUSR1};
    runtime::event_loop loop;
    return loop.run(serve(std::move(*parsed.settings), signals));
  } catch (const runtime::io_uring_unavailable& error) {
    runtime::log_line(fmt::format("ringline-server: {}", error.what()));
  } catch (const std::exception& error) {
    runtime::log_line(fmt::format("ringline-server: fatal: {}", error.what()));
  }
  return 1;
}

}  // namespace ringline::service
