#include "service/config.hpp"

#include <sched.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <string_view>
#include <utility>

#include <CLI/CLI.hpp>

#include "protocol/messages.hpp"
#include "runtime/duration.hpp"
#include "runtime/resolve.hpp"
#include "service/config_file.hpp"

namespace ringline::service {

namespace {

constexpr auto k_longest_timeout = std::chrono::hours(365 * 24);
constexpr auto k_longest_grace = std::chrono::hours(1);

std::string check_line_text(const std::string& text) {
  if (text.size() > k_max_message_text_bytes) {
    return std::to_string(text.size()) + " bytes is longer than the limit of " +
           std::to_string(k_max_message_text_bytes);
  }
  if (!protocol::validate_message_text(text)) {
    return "must not contain CR or LF";
  }
  return {};
}

std::string check_host(const std::string& host) {
  auto found = runtime::resolve(host, 0);
  if (!found) {
    return "cannot resolve '" + host + "': " + found.error().message();
  }
  return {};
}

// Binds a duration option to `target`, with the parser both programs share; the check runs
// before the callback, so the callback's parse cannot fail.
CLI::Option* add_duration(CLI::App& app, const std::string& name, std::chrono::milliseconds& target,
                          std::chrono::milliseconds longest, const std::string& help) {
  return app
      .add_option_function<std::string>(
          name,
          [&target](const std::string& text) {
            target = runtime::parse_duration(text).value_or(target);
          },
          help)
      ->check([longest](const std::string& text) { return runtime::check_duration(text, longest); })
      ->type_name("DURATION")
      ->default_str(runtime::format_duration(target));
}

// --metrics HOST:PORT ("127.0.0.1:9100", "[::1]:9100", "localhost:9100"), or empty (off):
// checked with the other flags, so that a typo is a usage error and not a failed start.
std::string check_metrics_address(const std::string& where) {
  if (where.empty()) {
    return {};
  }
  const auto colon = where.rfind(':');
  const auto port_text = colon == std::string::npos ? std::string() : where.substr(colon + 1);
  std::string host = colon == std::string::npos ? std::string() : where.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || !runtime::check_port(port_text).empty()) {
    return "'" + where + "' is not HOST:PORT, e.g. 127.0.0.1:9100";
  }
  return check_host(host);
}

// fdatasync on anything but a regular file promises nothing: /dev/null and pipes accept it and
// keep no data, a directory cannot be appended to. A path that does not exist yet is created
// as a regular file, so it is fine.
std::string check_durable_sink(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0 || S_ISREG(info.st_mode)) {
    return {};
  }
  const char* what = "not a regular file";
  if (S_ISDIR(info.st_mode)) {
    what = "a directory";
  } else if (S_ISCHR(info.st_mode)) {
    what = "a character device";
  } else if (S_ISBLK(info.st_mode)) {
    what = "a block device";
  } else if (S_ISFIFO(info.st_mode)) {
    what = "a pipe (FIFO)";
  } else if (S_ISSOCK(info.st_mode)) {
    what = "a socket";
  }
  return "--durable: " + path + " is " + what +
         ", not a regular file, so fdatasync cannot make lines durable there";
}

// The words --log-level and --log-format take, most important level first.
constexpr std::array<std::pair<std::string_view, runtime::log_level>, 4> k_log_levels{{
    {"error", runtime::log_level::error},
    {"warn", runtime::log_level::warn},
    {"info", runtime::log_level::info},
    {"debug", runtime::log_level::debug},
}};
constexpr std::array<std::pair<std::string_view, runtime::log_format>, 2> k_log_formats{{
    {"text", runtime::log_format::text},
    {"json", runtime::log_format::json},
}};

// Binds a choice among `words` to `target`: CLI11's IsMember checks the word (and lists the
// choices in --help and in its error) before the callback looks it up.
template <typename Value, std::size_t Count>
CLI::Option* add_choice(CLI::App& app, const std::string& name, Value& target,
                        const std::array<std::pair<std::string_view, Value>, Count>& words,
                        const std::string& help) {
  std::vector<std::string> names;
  std::string shown;
  for (const auto& [word, value] : words) {
    names.emplace_back(word);
    if (value == target) {
      shown = word;
    }
  }
  return app
      .add_option_function<std::string>(
          name,
          [&target, &words](const std::string& text) {
            for (const auto& [word, value] : words) {
              if (word == text) {
                target = value;
              }
            }
          },
          help)
      ->check(CLI::IsMember(names))
      ->default_str(shown);
}

// CLI11 words an unknown key "INI was not able to parse KEY"; the operator needs to know it
// is a key of the file that the server does not have.
void print_config_error(const std::string& file, std::string message) {
  constexpr std::string_view unparsed = "INI was not able to parse ";
  if (std::string_view(message).starts_with(unparsed)) {
    message = "unknown setting '" + message.substr(unparsed.size()) +
              "' (the keys are the long flags without their dashes: port = 10008)";
  }
  (void)std::fprintf(stderr, "--config %s: %s\n", file.c_str(), message.c_str());
}

}  // namespace

std::size_t default_thread_count() noexcept {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (::sched_getaffinity(0, sizeof mask, &mask) != 0) {
    return 1;
  }
  const auto count = static_cast<std::size_t>(CPU_COUNT(&mask));
  return std::clamp<std::size_t>(count, 1, k_max_threads);
}

parse_outcome parse_command_line(int argc, const char* const* argv) {
  config settings;
  settings.greeting = protocol::default_greeting;
  settings.ack = protocol::default_ack;
  bool quiet = false;
  settings.threads = default_thread_count();

  CLI::App app{
      "ringline-server: a line-oriented TCP service that acknowledges every line "
      "once it reached its sink."};
  // A repeated option takes its last value, as GNU tools do (CLI11 would reject it).
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.set_version_flag("-V,--version", [] {
    return "ringline-server " RINGLINE_VERSION "\n" + runtime::backend_version_line();
  });
  app.add_option("--host", settings.host,
                 "Address to listen on: an IPv4/IPv6 literal or a name, resolved once at start; "
                 "not used when systemd passes the socket (socket activation)")
      ->check(check_host)
      ->capture_default_str();
  app.add_option(
         "-p,--port", settings.port,
         "TCP port; 0 picks a free one (printed at start); not used under socket activation")
      ->check(runtime::check_port)
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
  add_duration(app, "--idle-timeout", settings.idle_timeout, k_longest_timeout,
               "How long a session may send nothing before 'error: idle timeout' (0: never)");
  add_duration(app, "--line-timeout", settings.line_timeout, k_longest_timeout,
               "How long a line may stay unfinished before 'error: line timeout' (0: never)");
  add_duration(app, "--sink-timeout", settings.sink_timeout, k_longest_timeout,
               "How long a session may wait for its lines to reach the sink before "
               "'error: sink failed' (0: never)");
  add_duration(app, "--shutdown-grace", settings.shutdown_grace, k_longest_grace,
               "How long SIGINT/SIGTERM waits for sessions before closing them");
  app.add_option("--sink", settings.sink,
                 "Where received lines go: stdout, none, or a file path (appended to)")
      ->capture_default_str();
  // No captured default: it is this machine's CPU count, and the man page (help2man) and
  // packaging/ringline.conf must name the rule, not the build machine's number.
  app.add_option("--threads", settings.threads,
                 "Event loop threads (thread-per-core); default: CPUs in the affinity mask")
      ->check(CLI::Range(std::size_t{1}, k_max_threads));
  app.add_option("--backend", settings.backend,
                 "I/O backend: auto (io_uring where the kernel allows it, else epoll, with one "
                 "log line saying why), io_uring or epoll; the environment variable "
                 "RINGLINE_BACKEND sets the default")
      ->check(runtime::check_backend)
      ->capture_default_str();
  app.add_flag("--sink-follow-symlinks", settings.sink_follow_symlinks,
               "Open a --sink path that is a symbolic link (refused without it: whoever may "
               "write its directory could point it at any file the server may write)");
  app.add_flag("--durable", settings.durable,
               "Acknowledge a line only once it is on disk (fdatasync); file sinks only");
  app.add_flag("-q,--quiet", quiet, "Do not log each connect and disconnect");
  app.add_option(
         "--metrics", settings.metrics,
         "HOST:PORT to serve GET /metrics (Prometheus), /health and /ready on; off if empty")
      ->check(check_metrics_address);
  app.add_flag("--proxy-protocol", settings.proxy_protocol,
               "Require a PROXY protocol header (v1 or v2, e.g. HAProxy send-proxy) before the "
               "greeting on every connection, and log the client address it carries");
  app.add_option("--max-connections-per-ip", settings.max_connections_per_ip,
                 "Concurrent sessions of one client address (with --proxy-protocol, the "
                 "address the header carries); clients beyond get 'not connect'; 0: no limit")
      ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 24))
      ->capture_default_str();
  app.add_option("--pidfile", settings.pidfile,
                 "Write the server's pid to FILE once it listens (atomically), remove it at "
                 "exit; refuse to start while a running server holds FILE")
      ->type_name("FILE");
  add_choice(app, "--log-level", settings.log_level, k_log_levels,
             "Least important log lines written: error, warn, info (connects, disconnects, "
             "start and shutdown) or debug");
  add_choice(app, "--log-format", settings.log_format, k_log_formats,
             "Log lines on stderr: text (time, level, message) or json (one object per line "
             "with time, level, message and fields such as peer and lines)");
  // Read after the command line; what the command line set wins, whatever the order.
  auto* config_file = app.set_config(
      "--config", "",
      "Read settings from FILE (key = value per line, INI/TOML; the keys are the long flags "
      "without their dashes); flags on the command line override it");
  config_file->type_name("FILE");
  // Checked as soon as it is parsed, before CLI11 opens it: a FIFO would block, /dev/zero
  // would never end. The reader itself is bounded too, and notes what the command line overrides.
  config_file->check(check_config_file)->trigger_on_parse();
  std::vector<std::string> overrides;
  app.config_formatter(std::make_shared<bounded_config>(app, *config_file, overrides));
  bool check_only = false;
  app.add_flag("--check-config", check_only,
               "Check the flags and the --config file, print the settings they make (in the "
               "file's key = value syntax) and exit: 0 if valid, 2 if not; opens nothing")
      ->configurable(false);
  // An unknown key is a typo or a setting of another version: refuse to start.
  app.allow_config_extras(false);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ConfigError& error) {
    print_config_error(config_file->count() > 0 ? config_file->as<std::string>() : "",
                       error.what());
    return {std::nullopt, 2};
  } catch (const CLI::FileError& error) {
    print_config_error(config_file->count() > 0 ? config_file->as<std::string>() : "",
                       error.what());
    return {std::nullopt, 2};
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
  if (settings.durable) {
    if (const auto problem = check_durable_sink(settings.sink); !problem.empty()) {
      (void)std::fprintf(stderr, "%s\n", problem.c_str());
      return {std::nullopt, 2};
    }
  }
  settings.log_connections = !quiet;
  if (check_only) {
    for (const auto& each : overrides) {
      (void)std::fprintf(stderr, "%s\n", each.c_str());
    }
    const auto text = effective_settings(app, {{"threads", std::to_string(settings.threads)}});
    (void)std::fputs(text.c_str(), stdout);
    return {std::nullopt, 0};
  }
  settings.config_overrides = std::move(overrides);
  return {std::move(settings), 0};
}

runtime::event_loop_options loop_options(const config& settings) noexcept {
  constexpr std::size_t k_most = 65536;
  // Connections spread over the threads, but not evenly enough to count on it.
  const std::size_t wanted = std::min(settings.max_connections + 1024, k_most);
  return {.queue_depth = 1024,
          .completion_entries = static_cast<unsigned>(wanted),
          .backend = runtime::parse_backend(settings.backend).value_or(
              runtime::backend_kind::automatic)};
}

}  // namespace ringline::service
