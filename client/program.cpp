#include "client/program.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "client/bench_command.hpp"
#include "client/client.hpp"
#include "client/sources.hpp"
#include "protocol/errc.hpp"
#include "protocol/messages.hpp"
#include "runtime/address.hpp"
#include "runtime/duration.hpp"
#include "runtime/error.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/log.hpp"
#include "runtime/resolve.hpp"

namespace ringline::client {

namespace {

constexpr int k_exit_ok = 0;
constexpr int k_exit_failed = 1;
constexpr int k_exit_usage = 2;
constexpr int k_exit_server_full = 3;

constexpr auto k_longest_timeout = std::chrono::hours(24);

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
  app.add_flag("--stdin", from_stdin, "Send the lines of standard input instead")
      ->excludes(message_option);
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
  if (from_stdin) {
    lines = std::make_unique<fd_source>(STDIN_FILENO);
  } else {
    lines = std::make_unique<vector_source>(std::move(messages));
  }
  (void)::signal(SIGPIPE, SIG_IGN);  // standard output may be a closed pipe
  try {
    runtime::event_loop loop;
    return loop.run(talk(std::move(options), std::move(lines), quiet));
  } catch (const runtime::io_uring_unavailable& error) {
    runtime::log_line(fmt::format("ringline-client: {}", error.what()));
  } catch (const std::exception& error) {
    runtime::log_line(fmt::format("ringline-client: fatal: {}", error.what()));
  }
  return k_exit_failed;
}

}  // namespace ringline::client
