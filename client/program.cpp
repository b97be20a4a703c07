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
#include "client/conversation_output.hpp"
#include "client/deliver.hpp"
#include "client/delivery_command.hpp"
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

constexpr auto k_longest_timeout = std::chrono::hours(24);
constexpr auto k_longest_retry = std::chrono::hours(24 * 7);
constexpr std::size_t k_largest_window = std::size_t{1} << 20;

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

// Decides once, for every loop the program makes, which backend runs; says why when auto
// passes io_uring over. Returns false (and has said why) when neither can run.
bool choose_backend(const std::string& wanted) {
  try {
    const auto decision = runtime::decide_backend(
        runtime::parse_backend(wanted).value_or(runtime::backend_kind::automatic));
    if (!decision.fallback_reason.empty()) {
      runtime::log_line(fmt::format("ringline-client: {}; using epoll", decision.fallback_reason));
    }
    runtime::set_default_backend(decision.kind);
    return true;
  } catch (const std::exception& error) {
    runtime::log_line(fmt::format("ringline-client: {}", error.what()));
    return false;
  }
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
  app.set_version_flag("-V,--version", [] {
    return "ringline-client " RINGLINE_VERSION "\n" + runtime::backend_version_line();
  });
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
  std::string backend{runtime::backend_name(runtime::backend_from_environment())};
  const char* backend_help =
      "I/O backend: auto (io_uring where the kernel allows it, else epoll, with one line on "
      "stderr saying why), io_uring or epoll; the environment variable RINGLINE_BACKEND sets "
      "the default";
  app.add_option("--backend", backend, backend_help)
      ->check(runtime::check_backend)
      ->capture_default_str();
  bench_options bench;
  auto* bench_command = add_bench_command(app, bench);
  bench_command->add_option("--backend", backend, backend_help)
      ->check(runtime::check_backend)
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? k_exit_ok : k_exit_usage;
  }
  if (!choose_backend(backend)) {
    return k_exit_failed;
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
      return loop.run(run_delivery(std::move(delivery), std::move(lines), report));
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
