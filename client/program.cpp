#include "client/program.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "client/client.hpp"
#include "client/sources.hpp"
#include "protocol/errc.hpp"
#include "protocol/messages.hpp"
#include "runtime/address.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/log.hpp"

namespace ringline::client {

namespace {

constexpr int k_exit_ok = 0;
constexpr int k_exit_failed = 1;
constexpr int k_exit_usage = 2;
constexpr int k_exit_server_full = 3;

// Echoes every line of the server as it came, so the output reads like the PHP client's.
void print_reply(const protocol::reply& reply, const client_options& options) {
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

runtime::task<int> talk(client_options options, std::unique_ptr<line_source> lines) {
  conversation_result progress;
  auto outcome = co_await converse(
      options, *lines, [&options](const protocol::reply& reply) { print_reply(reply, options); },
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
  if (error == std::errc::connection_refused) {
    runtime::log_line(
        fmt::format("ringline-client: cannot connect to {} port {}: connection refused",
                    options.host, options.port));
  } else {
    runtime::log_line(fmt::format("ringline-client: {} ({} of {} lines acknowledged)",
                                  error.message(), progress.acked, progress.sent));
  }
  co_return k_exit_failed;
}

}  // namespace

int run_program(int argc, const char* const* argv) {
  client_options options;
  std::vector<std::string> messages;
  bool from_stdin = false;
  long timeout_seconds = 30;

  CLI::App app{"ringline-client: sends lines to a ringline server and waits for every ack."};
  app.set_version_flag("--version", "ringline-client " RINGLINE_VERSION);
  app.add_option("--host", options.host, "Server address (IPv4 or IPv6 literal)")
      ->check([](const std::string& host) -> std::string {
        return runtime::address::parse(host, 0)
                   ? std::string()
                   : "must be an IPv4 or IPv6 address literal such as 127.0.0.1 or ::1";
      })
      ->capture_default_str();
  app.add_option("--port", options.port, "Server port")->capture_default_str();
  auto* message_option = app.add_option(
      "--message", messages,
      fmt::format("Line to send; repeat for more (default: '{}')", protocol::default_message));
  app.add_flag("--stdin", from_stdin, "Send the lines of standard input instead")
      ->excludes(message_option);
  app.add_option("--greeting", options.greeting, "Greeting the server is expected to send")
      ->capture_default_str();
  app.add_option("--ack", options.ack, "Ack the server is expected to send")->capture_default_str();
  app.add_option("--timeout", timeout_seconds,
                 "Seconds to wait for the connection and for each reply (0: no limit)")
      ->check(CLI::Range(0L, 24L * 3600))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? k_exit_ok : k_exit_usage;
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
  options.timeout = std::chrono::seconds(timeout_seconds);

  std::unique_ptr<line_source> lines;
  if (from_stdin) {
    lines = std::make_unique<fd_source>(STDIN_FILENO);
  } else {
    lines = std::make_unique<vector_source>(std::move(messages));
  }
  (void)::signal(SIGPIPE, SIG_IGN);  // standard output may be a closed pipe
  try {
    runtime::event_loop loop;
    return loop.run(talk(std::move(options), std::move(lines)));
  } catch (const runtime::io_uring_unavailable& error) {
    runtime::log_line(fmt::format("ringline-client: {}", error.what()));
  } catch (const std::exception& error) {
    runtime::log_line(fmt::format("ringline-client: fatal: {}", error.what()));
  }
  return k_exit_failed;
}

}  // namespace ringline::client
