#include "client/program.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "client/bench_command.hpp"
#include "client/client.hpp"
#include "client/deliver.hpp"
#include "client/progress_display.hpp"
#include "client/sources.hpp"
#include "protocol/errc.hpp"
#include "protocol/messages.hpp"
#include "runtime/address.hpp"
#include "runtime/duration.hpp"
#include "runtime/error.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/log.hpp"
#include "runtime/resolve.hpp"
#include "runtime/unique_fd.hpp"

namespace ringline::client {

namespace {

constexpr int k_exit_ok = 0;
constexpr int k_exit_failed = 1;
constexpr int k_exit_usage = 2;
constexpr int k_exit_server_full = 3;

constexpr auto k_longest_timeout = std::chrono::hours(24);
constexpr auto k_longest_retry = std::chrono::hours(24 * 7);
constexpr std::size_t k_largest_window = std::size_t{1} << 20;

// Echoes every line of the server as it came, so the output reads like the PHP client's;
// --quiet keeps the expected lines (greeting, acks, refusal) off stdout, never the errors.
void print_reply(const protocol::reply& reply, const client_options& options, bool quiet) {
  if (quiet &&
      (reply.kind == protocol::reply_kind::greeting || reply.kind == protocol::reply_kind::ack ||
       reply.kind == protocol::reply_kind::server_full)) {
    return;
  }
  switch (reply.kind) {
    case protocol::reply_kind::greeting:
      fmt::print("{}\n", options.greeting);
      break;
    case protocol::reply_kind::ack:
      fmt::print("{}\n", options.ack);
      break;
    case protocol::reply_kind::server_full:
      fmt::print("{}\n", protocol::server_full_text);
      break;
    case protocol::reply_kind::need_more:
      (void)std::fflush(stdout);  // each batch shows at once, even through a pipe
      break;
    case protocol::reply_kind::error:
      runtime::log_line(fmt::format("ringline-client: server error: {}", reply.text));
      break;
    default:
      runtime::log_line(
          fmt::format("ringline-client: unexpected line from server: {}", reply.text));
      break;
  }
}

// Says what went wrong in the words of the conversation: what did not arrive, and when.
std::string describe_failure(std::error_code error, const client_options& options,
                             const conversation_result& progress) {
  const auto limit = runtime::format_duration(options.timeout);
  if (error.category() == runtime::resolver_category()) {
    return fmt::format("cannot resolve '{}': {}", options.host, error.message());
  }
  if (!progress.connected) {
    const auto reason = error == std::errc::connection_refused ? "connection refused"
                        : runtime::is_timeout(error) ? fmt::format("no connection within {}", limit)
                                                     : error.message();
    return fmt::format("cannot connect to {} port {}: {}", options.host, options.port, reason);
  }
  if (runtime::is_timeout(error) && !progress.greeted) {
    return fmt::format("no greeting within {}", limit);
  }
  if (runtime::is_timeout(error)) {
    return fmt::format("{} of {} lines unacknowledged after {} without a reply",
                       progress.handed - progress.acked, progress.handed, limit);
  }
  return fmt::format("{} ({} of {} lines acknowledged)", error.message(), progress.acked,
                     progress.sent);
}

runtime::task<int> talk(client_options options, std::unique_ptr<line_source> lines, bool quiet) {
  conversation_result progress;
  auto outcome = co_await converse(
      options, *lines,
      [&options, quiet](const protocol::reply& reply) { print_reply(reply, options, quiet); },
      &progress);
  (void)std::fflush(stdout);
  if (outcome) {
    co_return k_exit_ok;
  }
  const auto error = outcome.error();
  if (error == protocol::errc::server_full) {
    runtime::log_line(fmt::format("ringline-client: server is full (it answered 'not connect')"));
    co_return k_exit_server_full;
  }
  runtime::log_line(fmt::format("ringline-client: {}", describe_failure(error, options, progress)));
  co_return k_exit_failed;
}

// How a --file or --stdin delivery is reported.
struct delivery_report {
  /// Lines in the --file (nullopt for --stdin: unknown until its end).
  std::optional<std::uint64_t> total;
  bool quiet = false;
  /// --file prints a summary; --stdin, a stream that may be a conversation, does not.
  bool summary = false;
};

runtime::task<int> deliver_lines(delivery_options options, std::unique_ptr<line_source> lines,
                                 delivery_report report) {
  // A bar only where a person watches stderr, and not over acks echoed to the same terminal
  // or lines being typed into it.
  const bool watched = ::isatty(STDERR_FILENO) == 1 &&
                       (report.quiet || ::isatty(STDOUT_FILENO) == 0) &&
                       (report.total.has_value() || ::isatty(STDIN_FILENO) == 0);
  progress_display display(report.total, watched);
  delivery_result progress;
  auto outcome = co_await deliver(
      options, *lines,
      [&options, &report](const protocol::reply& reply) {
        print_reply(reply, options.connection, report.quiet);
      },
      [&progress, &display, &options](const delivery_result& now) {
        progress = now;
        if (now.retry_in.count() > 0) {
          // Each failure is worth a line: an operator sees the outage as it happens.
          display.finish();
          const auto resend =
              now.to_resend > 0 ? fmt::format("{} unacknowledged lines to resend, ", now.to_resend)
                                : "";
          runtime::log_line(
              fmt::format("ringline-client: {}; {}reconnecting in {}",
                          describe_failure(now.last_error, options.connection, now.last_attempt),
                          resend, runtime::format_duration(now.retry_in)));
        }
        display.update(now);
      });
  (void)std::fflush(stdout);
  display.finish();
  if (report.summary) {
    runtime::log_line(fmt::format("ringline-client: {}", format_summary(progress)));
  }
  if (outcome) {
    co_return k_exit_ok;
  }
  const auto error = outcome.error();
  const auto total = report.total.value_or(progress.lines);
  const auto unacked = total > progress.acked ? total - progress.acked : 0;
  const auto reason = error == protocol::errc::server_full
                          ? std::string("server is full (it answered 'not connect')")
                          : describe_failure(error, options.connection, progress.last_attempt);
  const auto retried =
      progress.reconnects > 0 ? fmt::format(" after {} reconnects", progress.reconnects) : "";
  // Standard input has no total until its end: say how much of it was read at all.
  const auto unread = report.total || progress.input_done ? "" : " (the rest of the input unread)";
  runtime::log_line(fmt::format("ringline-client: {}{}; {} of {} lines unacknowledged{}", reason,
                                retried, unacked, total, unread));
  const bool full = error == protocol::errc::server_full;
  co_return full&& options.retry_for.count() == 0 ? k_exit_server_full : k_exit_failed;
}

}  // namespace

int run_program(int argc, const char* const* argv) {
  client_options options;
  std::vector<std::string> messages;
  bool from_stdin = false;
  bool quiet = false;

  CLI::App app{"ringline-client: sends lines to a ringline server and waits for every ack."};
  // A repeated option takes its last value, as GNU tools do; --message is a list on purpose.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.set_version_flag("-V,--version", "ringline-client " RINGLINE_VERSION);
  app.add_option("--host", options.host,
                 "Server: an IPv4/IPv6 literal or a name (each address is tried in turn)")
      ->capture_default_str();
  app.add_option("-p,--port", options.port, "Server port")
      ->check(runtime::check_port)
      ->capture_default_str();
  auto* message_option = app.add_option("--message", messages,
                                        fmt::format("Line to send; repeat for more (default: '{}')",
                                                    protocol::default_message))
                             ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  auto* stdin_option =
      app.add_flag("--stdin", from_stdin, "Send the lines of standard input instead")
          ->excludes(message_option);
  std::string file;
  app.add_option("--file", file,
                 "Send the lines of this file, then print a summary on stderr (a progress bar "
                 "too when stderr is a terminal)")
      ->excludes(message_option)
      ->excludes(stdin_option)
      ->check(CLI::ExistingFile)
      ->type_name("PATH");
  delivery_options delivery;
  app.add_option("--window", delivery.window,
                 "Most lines sent and not yet acknowledged, with --file or --stdin (each is kept "
                 "until its ack)")
      ->check(CLI::Range(std::size_t{1}, k_largest_window))
      ->capture_default_str();
  app.add_option_function<std::string>(
         "--retry-for",
         [&delivery](const std::string& text) {
           delivery.retry_for = runtime::parse_duration(text).value_or(delivery.retry_for);
         },
         "With --file or --stdin: when the connection fails, keep reconnecting (backoff 100 ms "
         "to 5 s) for this long without an ack, and resend every unacknowledged line "
         "(at-least-once); same units as --timeout (0: exit 1 at the first failure)")
      ->check(
          [](const std::string& text) { return runtime::check_duration(text, k_longest_retry); })
      ->type_name("DURATION")
      ->default_str(runtime::format_duration(delivery.retry_for));
  app.add_option("--greeting", options.greeting, "Greeting the server is expected to send")
      ->capture_default_str();
  app.add_option("--ack", options.ack, "Ack the server is expected to send")->capture_default_str();
  app.add_option_function<std::string>(
         "--timeout",
         [&options](const std::string& text) {
           options.timeout = runtime::parse_duration(text).value_or(options.timeout);
         },
         "Longest wait for the connection, the greeting, and each owed ack; 300, 30s, 5m, 1h "
         "or 250ms (0: no limit)")
      ->check(
          [](const std::string& text) { return runtime::check_duration(text, k_longest_timeout); })
      ->type_name("DURATION")
      ->default_str(runtime::format_duration(options.timeout));
  app.add_flag("-q,--quiet", quiet,
               "Do not echo the greeting and acks on stdout (errors still go to stderr)");
  bench_options bench;
  auto* bench_command = add_bench_command(app, bench);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? k_exit_ok : k_exit_usage;
  }
  if (bench_command->parsed()) {
    (void)::signal(SIGPIPE, SIG_IGN);  // standard output may be a closed pipe
    return run_bench(bench);
  }
  for (const auto& message : messages) {
    if (!protocol::validate_message_text(message)) {
      runtime::log_line(fmt::format("--message: a line must not contain CR or LF"));
      return k_exit_usage;
    }
  }
  if (messages.empty()) {
    messages.emplace_back(protocol::default_message);
  }

  std::unique_ptr<line_source> lines;
  runtime::unique_fd file_fd;
  delivery_report report{.total = std::nullopt, .quiet = quiet, .summary = !file.empty()};
  if (!file.empty()) {
    file_fd = runtime::unique_fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    auto total =
        file_fd ? count_lines(file_fd.get())
                : runtime::result<std::uint64_t>(std::error_code(errno, std::system_category()));
    if (!total) {
      runtime::log_line(
          fmt::format("ringline-client: cannot read '{}': {}", file, total.error().message()));
      return k_exit_failed;
    }
    report.total = *total;
    lines = std::make_unique<fd_source>(file_fd.get());
  } else if (from_stdin) {
    lines = std::make_unique<fd_source>(STDIN_FILENO);
  } else {
    lines = std::make_unique<vector_source>(std::move(messages));
  }
  delivery.connection = std::move(options);
  (void)::signal(SIGPIPE, SIG_IGN);  // standard output may be a closed pipe
  try {
    runtime::event_loop loop;
    if (!file.empty() || from_stdin) {
      return loop.run(deliver_lines(std::move(delivery), std::move(lines), report));
    }
    return loop.run(talk(std::move(delivery.connection), std::move(lines), quiet));
  } catch (const runtime::io_uring_unavailable& error) {
    runtime::log_line(fmt::format("ringline-client: {}", error.what()));
  } catch (const std::exception& error) {
    runtime::log_line(fmt::format("ringline-client: fatal: {}", error.what()));
  }
  return k_exit_failed;
}

}  // namespace ringline::client
