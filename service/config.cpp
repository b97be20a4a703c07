#include "service/config.hpp"

#include <CLI/CLI.hpp>

#include "protocol/messages.hpp"
#include "runtime/address.hpp"

namespace ringline::service {

namespace {

std::string check_line_text(const std::string& text) {
  if (!protocol::validate_message_text(text)) {
    return "must not contain CR or LF";
  }
  return {};
}

std::string check_host(const std::string& host) {
  if (!runtime::address::parse(host, 0)) {
    return "must be an IPv4 or IPv6 address literal such as 127.0.0.1 or ::1";
  }
  return {};
}

}  // namespace

parse_outcome parse_command_line(int argc, const char* const* argv) {
  config settings;
  settings.greeting = protocol::default_greeting;
  settings.ack = protocol::default_ack;
  long idle_seconds = settings.idle_timeout.count();
  long grace_seconds = settings.shutdown_grace.count();
  long line_seconds = settings.line_timeout.count();
  bool quiet = false;

  CLI::App app{
      "ringline-server: a line-oriented TCP service that acknowledges every line "
      "once it reached its sink."};
  app.set_version_flag("--version", "ringline-server " RINGLINE_VERSION);
  app.add_option("--host", settings.host, "Address to listen on (IPv4 or IPv6 literal)")
      ->check(check_host)
      ->capture_default_str();
  app.add_option("--port", settings.port, "TCP port; 0 picks a free one (printed at start)")
      ->capture_default_str();
  app.add_option("--greeting", settings.greeting, "Line sent to every new client")
      ->check(check_line_text)
      ->capture_default_str();
  app.add_option("--ack", settings.ack, "Line sent for every received line")
      ->check(check_line_text)
      ->capture_default_str();
  app.add_option("--max-line-bytes", settings.max_line_bytes,
                 "Longest accepted line; a longer one gets 'error: line too long'")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 30))
      ->capture_default_str();
  app.add_option("--max-connections", settings.max_connections,
                 "Concurrent sessions; clients beyond get 'not connect'")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 24))
      ->capture_default_str();
  app.add_option("--idle-timeout", idle_seconds,
                 "Seconds a session may send nothing before 'error: idle timeout' (0: never)")
      ->check(CLI::Range(0L, 365L * 24 * 3600))
      ->capture_default_str();
  app.add_option("--line-timeout", line_seconds,
                 "Seconds a line may stay unfinished before 'error: line timeout' (0: never)")
      ->check(CLI::Range(0L, 365L * 24 * 3600))
      ->capture_default_str();
  app.add_option("--shutdown-grace", grace_seconds,
                 "Seconds SIGINT/SIGTERM waits for sessions before closing them")
      ->check(CLI::Range(0L, 3600L))
      ->capture_default_str();
  app.add_option("--sink", settings.sink,
                 "Where received lines go: stdout, none, or a file path (appended to)")
      ->capture_default_str();
  app.add_flag("--durable", settings.durable,
               "Acknowledge a line only once it is on disk (fdatasync); file sinks only");
  app.add_flag("--quiet", quiet, "Do not log each connect and disconnect");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return {std::nullopt, code == 0 ? 0 : 2};
  }
  if (settings.durable && (settings.sink == "stdout" || settings.sink == "none")) {
    (void)std::fprintf(stderr, "--durable: needs a file sink (--sink PATH)\n");
    return {std::nullopt, 2};
  }
  if (settings.sink.empty()) {
    (void)std::fprintf(stderr, "--sink: must be stdout, none or a file path\n");
    return {std::nullopt, 2};
  }
  settings.idle_timeout = std::chrono::seconds(idle_seconds);
  settings.shutdown_grace = std::chrono::seconds(grace_seconds);
  settings.line_timeout = std::chrono::seconds(line_seconds);
  settings.log_connections = !quiet;
  return {std::move(settings), 0};
}

}  // namespace ringline::service
