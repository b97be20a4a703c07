#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/backend.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/log.hpp"

namespace ringline::service {

/// The longest --greeting or --ack text, in bytes. The server prebuilds a buffer of many ack
/// lines, so an unbounded --ack would cost memory in proportion at start.
inline constexpr std::size_t k_max_message_text_bytes = 1024;

/// Everything ringline-server can be told on its command line, with the defaults that make
/// it byte-compatible with the original PHP server.
struct config {
  /// An IP literal or a name. A name is resolved once, at start (server::listen binds the first
  /// address getaddrinfo gives); a later DNS change needs a restart.
  std::string host = "127.0.0.1";
  std::uint16_t port = 10008;
  std::string greeting;  ///< line text without '\n'; set to protocol::default_greeting
  std::string ack;       ///< line text without '\n'; set to protocol::default_ack
  std::size_t max_line_bytes = 65536;
  std::size_t max_connections = 10000;
  /// A session that sends nothing for this long is closed; zero turns the limit off.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(300)};
  /// A line that stays unfinished this long is cut (slow-loris defence); zero: no limit.
  std::chrono::milliseconds line_timeout{std::chrono::seconds(60)};
  /// How long SIGINT/SIGTERM waits for sessions to finish before closing them by force.
  std::chrono::milliseconds shutdown_grace{std::chrono::seconds(5)};
  /// How long a session may wait for its lines to reach the sink before it gets
  /// `error: sink failed`; zero: it waits as long as the sink takes.
  std::chrono::milliseconds sink_timeout{std::chrono::seconds(60)};
  /// `stdout`, `none`, or the path of a file that is appended to.
  std::string sink = "stdout";
  /// Open a sink path that is a symbolic link (at start and on SIGHUP); refused without it.
  bool sink_follow_symlinks = false;
  /// Acks wait until their lines are on disk (fdatasync per group of lines); file sinks only.
  bool durable = false;
  /// Bytes of one receive; the most a session holds besides its partial line.
  std::size_t recv_buffer_bytes = std::size_t{16} * 1024;
  bool log_connections = true;
  /// Log lines less important than this are not written (--log-level).
  runtime::log_level log_level = runtime::log_level::info;
  /// How log lines are written on standard error: text for people, JSON for collectors.
  runtime::log_format log_format = runtime::log_format::text;
  /// Not a setting: each flag of the command line that overrode a key of the --config file,
  /// as a line to log at start (`--port overrides port from FILE`).
  std::vector<std::string> config_overrides;
  /// Event loop threads, each with its own ring and server on the listening sockets; the
  /// default is the number of CPUs the process may run on (default_thread_count()).
  std::size_t threads = 1;
  /// The I/O backend asked for: "auto", "io_uring" or "epoll" (runtime::parse_backend).
  std::string backend{runtime::backend_name(runtime::backend_from_environment())};
  /// Where /metrics and /health are served ("HOST:PORT"); empty: nowhere.
  std::string metrics;
  /// Every connection must begin with a PROXY protocol header (v1 or v2), read before the
  /// greeting; the client address it carries stands for the peer in logs. Never guessed.
  bool proxy_protocol = false;
  /// Sessions one client address may hold at once (the PROXY header's client with
  /// --proxy-protocol); beyond it a client gets `not connect`. Zero: no limit of its own.
  std::size_t max_connections_per_ip = 0;
  /// Where the server writes its pid once it listens, removed at exit; empty: nowhere.
  std::string pidfile;

  // Periods that tests shorten (apply_test_periods), so that they need not wait them out.
  /// How long a connection may take to send its whole PROXY header. The spec asks for at
  /// least 3 s, so that one lost segment (TCP retransmits it after about 1 s, then 3 s) does
  /// not cost a client its connection.
  std::chrono::milliseconds proxy_header_time{std::chrono::seconds(3)};
  /// How often a service manager gets STATUS= with the counters (SIGUSR1 sends one at once).
  std::chrono::milliseconds status_period{std::chrono::seconds(5)};
};

/// Shortens the periods tests would otherwise wait out, from the environment:
/// RINGLINE_TEST_PROXY_HEADER_TIME and RINGLINE_TEST_STATUS_PERIOD, durations as the flags
/// take them (`300ms`). Unset or unreadable: the product's period stays. Not for operators,
/// hence not flags; call before any thread starts (it reads the environment).
void apply_test_periods(config& settings);

/// Options for each thread's event loop: a completion queue with room for a completion of
/// every connection at once (each session keeps one operation in flight; beyond that the
/// kernel's overflow list takes them, more slowly), up to the kernel's 65,536.
runtime::event_loop_options loop_options(const config& settings) noexcept;

/// The most --threads accepts.
inline constexpr std::size_t k_max_threads = 256;

/// Returns the number of CPUs in the calling thread's affinity mask (sched_getaffinity),
/// clamped to 1..k_max_threads; 1 if the mask cannot be read.
std::size_t default_thread_count() noexcept;

/// The outcome of reading the command line: a config to run with, or an exit code for main
/// (0 after --help, --version or a valid --check-config, 2 after a usage error, with the
/// message already printed).
struct parse_outcome {
  std::optional<config> settings;
  int exit_code = 0;
};

/// Parses ringline-server's arguments; prints help, version and usage errors itself.
///
/// `--config FILE` reads settings from an INI/TOML file first (`key = value`, the keys being
/// the long flags without their dashes); flags on the command line override the file. An
/// unknown key, or a file that cannot be read, is a usage error; so is anything but a regular
/// file (a FIFO, /dev/zero) or one over 1 MiB. --check-config prints the settings in the
/// file's syntax (effective_settings()) instead of returning them.
///
/// Durations take units (`300`, `300s`, `5m`, `1h`, `250ms`; a bare number is seconds). A
/// repeated option takes its last value, as GNU tools do. A --host name is resolved here to
/// check it, which may wait on DNS. --durable refuses a sink path that exists and is not a
/// regular file (/dev/null, a FIFO, a directory): fdatasync cannot make those durable.
parse_outcome parse_command_line(int argc, const char* const* argv);

}  // namespace ringline::service
