#include "client/bench_command.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "client/bench_control.hpp"
#include "client/bench_result.hpp"
#include "client/bench_worker.hpp"
#include "runtime/address.hpp"
#include "runtime/duration.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/log.hpp"
#include "runtime/resolve.hpp"

namespace ringline::client {

namespace {

constexpr int k_exit_ok = 0;
constexpr int k_exit_failed = 1;

constexpr auto k_longest_duration = std::chrono::hours(24);
constexpr std::size_t k_largest_payload = std::size_t{1} << 20;

// Counts the workers that have finished, so the main thread can print progress meanwhile and
// still wake at once when the last one is done.
struct finish_line {
  std::mutex mutex;
  std::condition_variable changed;
  std::size_t finished = 0;
};

void print_progress(const bench_control::progress& now, std::uint64_t previous_lines,
                    double seconds) {
  const auto rate = seconds > 0 ? static_cast<double>(now.lines - previous_lines) / seconds : 0.0;
  // \r and "erase to end of line" redraw the line in place.
  fmt::print(stderr, "\r{:.0f} lines/s  p99 {:.1f} us  errors {}\x1b[K", rate,
             static_cast<double>(now.p99_ns) / 1000.0, now.errors);
  (void)std::fflush(stderr);
}

}  // namespace

CLI::App* add_bench_command(CLI::App& app, bench_options& options) {
  auto* bench = app.add_subcommand(
      "bench",
      "Load generator: keeps --pipeline requests in flight on each of --connections "
      "connections and reports lines/s and latency percentiles");
  bench->add_option("--host", options.host, "Server: an IP literal or a name")
      ->capture_default_str();
  bench->add_option("-p,--port", options.port, "Server port")
      ->check(runtime::check_port)
      ->capture_default_str();
  bench->add_option("--connections", options.connections, "Connections held open")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}))
      ->capture_default_str();
  bench->add_option("--pipeline", options.pipeline, "Requests in flight per connection")
      ->check(CLI::Range(std::size_t{1}, std::size_t{65'536}))
      ->capture_default_str();
  auto* duration = bench->add_option_function<std::string>(
      "--duration",
      [&options](const std::string& text) {
        options.duration = runtime::parse_duration(text).value_or(options.duration);
      },
      "How long to send requests; 300, 30s, 5m, 1h or 250ms");
  duration
      ->check(
          [](const std::string& text) { return runtime::check_duration(text, k_longest_duration); })
      ->type_name("DURATION")
      ->default_str(runtime::format_duration(options.duration));
  bench->add_option("--lines", options.lines, "Requests in total, instead of a --duration")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 62))
      ->excludes(duration);
  bench
      ->add_option("--lines-per-connection", options.lines_per_connection,
                   "A connection storm: close each connection after this many replies and "
                   "connect again (0: keep connections)")
      ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{1} << 62))
      ->capture_default_str();
  bench->add_option("--threads", options.threads, "Threads, each with its own event loop")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1024}))
      ->capture_default_str();
  auto* payload = bench->add_option("--payload", options.payload, "The request line")
                      ->check([](const std::string& text) {
                        return protocol::validate_message_text(text)
                                   ? std::string{}
                                   : std::string{"a line must not contain CR or LF"};
                      })
                      ->capture_default_str();
  bench
      ->add_option_function<std::size_t>(
          "--payload-bytes", [&options](std::size_t bytes) { options.payload.assign(bytes, 'x'); },
          "A request line of this many bytes ('x'), instead of --payload")
      ->check(CLI::Range(std::size_t{0}, k_largest_payload))
      ->excludes(payload);
  bench
      ->add_flag_callback(
          "--no-greeting", [&options] { options.greeting = false; },
          "Other servers (redis, memcached): expect no greeting, take any line as a reply")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  bench->add_flag("--crlf", options.crlf, "End requests with CRLF");
  bench->add_flag("--json", options.json, "Print one JSON object instead of the table");
  return bench;
}

int run_bench(const bench_options& options) {
  // Resolved once, here: getaddrinfo may block, and every worker connects to the same list.
  auto addresses = runtime::resolve(options.host, options.port);
  if (!addresses) {
    runtime::log_line(fmt::format("ringline-client bench: cannot resolve '{}': {}", options.host,
                                  addresses.error().message()));
    return k_exit_failed;
  }
  const auto threads = std::min(options.threads, options.connections);
  const bool progress = ::isatty(STDERR_FILENO) == 1;
  bench_control control(threads, options.lines);
  std::vector<bench_result> results(threads);
  std::vector<std::exception_ptr> failures(threads);
  finish_line finish;
  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) {
    bench_worker_plan plan;
    plan.addresses = *addresses;
    // The first threads take one more when the connections do not divide evenly.
    plan.connections = options.connections / threads + (i < options.connections % threads ? 1 : 0);
    plan.index = i;
    plan.publish_progress = progress;
    workers.emplace_back([&, i, plan = std::move(plan)]() mutable {
      try {
        results[i] = run_bench_worker(options, std::move(plan), control);
      } catch (...) {
        failures[i] = std::current_exception();
      }
      const std::lock_guard lock(finish.mutex);
      ++finish.finished;
      finish.changed.notify_all();
    });
  }
  {
    std::unique_lock lock(finish.mutex);
    auto last = std::chrono::steady_clock::now();
    std::uint64_t last_lines = 0;
    while (finish.finished < threads) {
      // A periodic display, not synchronisation: the wait ends early when the last worker
      // finishes.
      if (finish.changed.wait_for(lock, std::chrono::seconds(1),
                                  [&] { return finish.finished == threads; })) {
        break;
      }
      const auto snapshot = control.snapshot();
      if (progress && (snapshot.lines > 0 || snapshot.errors > 0)) {
        const auto now = std::chrono::steady_clock::now();
        print_progress(snapshot, last_lines, std::chrono::duration<double>(now - last).count());
        last = now;
        last_lines = snapshot.lines;
      }
    }
  }
  for (auto& worker : workers) {
    worker.join();
  }
  if (progress) {
    fmt::print(stderr, "\r\x1b[K");
  }
  for (const auto& failure : failures) {
    if (!failure) {
      continue;
    }
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& error) {
      runtime::log_line(fmt::format("ringline-client bench: {}", error.what()));
    } catch (...) {
      runtime::log_line("ringline-client bench: unknown exception");
    }
    return k_exit_failed;
  }
  bench_result total;
  for (const auto& result : results) {
    total.merge(result);
  }
  if (options.json) {
    fmt::print("{}\n", format_json(total));
  } else {
    fmt::print("{}", format_table(total));
  }
  (void)std::fflush(stdout);
  const bool clean = total.errors == 0 && total.unexpected == 0 && total.lines > 0;
  return clean ? k_exit_ok : k_exit_failed;
}

}  // namespace ringline::client
