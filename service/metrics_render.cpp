#include "service/metrics_render.hpp"

#include <array>
#include <optional>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "service/prometheus_text.hpp"

namespace ringline::service {

namespace {

void counter(prometheus_text& out, std::string_view name, std::string_view help,
             std::uint64_t value) {
  out.family(name, "counter", help);
  out.sample(name, "", value);
}

void gauge(prometheus_text& out, std::string_view name, std::string_view help,
           std::uint64_t value) {
  out.family(name, "gauge", help);
  out.sample(name, "", value);
}

// A process_* series, left out when /proc would not tell (as Prometheus clients do).
template <typename Value>
void process_series(prometheus_text& out, std::string_view name, std::string_view type,
                    std::string_view help, const std::optional<Value>& value) {
  if (value) {
    out.family(name, type, help);
    out.sample(name, "", *value);
  }
}

void process_section(prometheus_text& out, const process_metrics& process) {
  process_series(out, "process_open_fds", "gauge", "Number of open file descriptors.",
                 process.open_fds);
  process_series(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
                 process.max_fds);
  process_series(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
                 process.resident_bytes);
  process_series(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
                 process.virtual_bytes);
  process_series(out, "process_cpu_seconds_total", "counter",
                 "Total user and system CPU time spent in seconds.", process.cpu_seconds);
  process_series(out, "process_start_time_seconds", "gauge",
                 "Start time of the process since unix epoch in seconds.",
                 process.start_time_seconds);
}

// One series per thread: `value` picks the counter from a thread's stats.
template <typename Pick>
void per_thread(prometheus_text& out, std::string_view name, std::string_view type,
                std::string_view help, const std::vector<stats>& threads, Pick value) {
  out.family(name, type, help);
  for (std::size_t i = 0; i < threads.size(); ++i) {
    out.sample(name, fmt::format("thread=\"{}\"", i), value(threads[i]));
  }
}

}  // namespace

std::string render_metrics(const metrics_view& view) {
  prometheus_text out;
  const stats& total = view.total;
  gauge(out, "ringline_connections_active", "Connections being served.", total.active);
  counter(out, "ringline_connections_accepted_total", "Connections accepted.", total.accepted);
  counter(out, "ringline_connections_refused_total",
          "Connections turned away with 'not connect' at --max-connections.", total.refused);
  counter(out, "ringline_connections_refused_per_ip_total",
          "Connections turned away with 'not connect' at --max-connections-per-ip.",
          total.refused_per_ip);
  counter(out, "ringline_accept_errors_total", "Runs of failed accepts (EMFILE, ...).",
          total.accept_errors);
  counter(out, "ringline_lines_received_total", "Complete lines received.", total.lines_received);
  counter(out, "ringline_acks_sent_total",
          "Lines written to the sink and acknowledged (one ack each).", total.lines);
  counter(out, "ringline_bytes_received_total", "Bytes received from clients.", total.bytes);
  counter(out, "ringline_proxy_errors_total",
          "Connections closed without a greeting for a missing, malformed or slow PROXY header.",
          total.proxy_errors);

  out.family("ringline_sessions_ended_total", "counter",
             "Sessions that ended with an error, by reason (clean closes are not counted).");
  const std::array<std::pair<std::string_view, std::uint64_t>, 8> endings{{
      {"line_too_long", total.line_too_long},
      {"idle_timeout", total.idle_timeouts},
      {"line_timeout", total.line_timeouts},
      {"stalled", total.stalled},
      {"reset", total.resets},
      {"sink_failed", total.sink_errors},
      {"forced", total.forced_closes},
      {"internal_error", total.internal_errors},
  }};
  for (const auto& [reason, count] : endings) {
    out.sample("ringline_sessions_ended_total", fmt::format("reason=\"{}\"", reason), count);
  }

  per_thread(out, "ringline_thread_connections_active", "gauge",
             "Connections being served, per thread.", view.threads,
             [](const stats& s) { return s.active.load(); });
  per_thread(out, "ringline_thread_connections_accepted_total", "counter",
             "Connections accepted, per thread.", view.threads,
             [](const stats& s) { return s.accepted.load(); });
  per_thread(out, "ringline_thread_acks_sent_total", "counter", "Lines acknowledged, per thread.",
             view.threads, [](const stats& s) { return s.lines.load(); });

  if (view.sink != nullptr) {
    const auto& sink = *view.sink;
    counter(out, "ringline_sink_writes_total", "Writes to the sink (each covers many lines).",
            sink.writes);
    counter(out, "ringline_sink_written_bytes_total", "Bytes written to the sink.", sink.bytes);
    counter(out, "ringline_sink_flushes_total",
            "Flushes of the sink to stable storage (--durable): synced writes or fdatasync calls.",
            sink.flushes);
    counter(out, "ringline_sink_failures_total", "Writes or flushes of the sink that failed.",
            sink.failures);
    counter(out, "ringline_sink_recoveries_total",
            "Times a failing file sink had room again and took lines.", sink.recoveries);
    out.histogram("ringline_sink_write_seconds", "Time a write to the sink took.", sink.write_time);
    out.histogram("ringline_sink_flush_seconds",
                  "Time a flush of the sink took (a synced write, or an fdatasync).",
                  sink.flush_time);
  }
  gauge(out, "ringline_sink_failing", "1 while the sink is failing: nothing can be acknowledged.",
        view.sink_failing ? 1 : 0);
  gauge(out, "ringline_draining", "1 while the server shuts down.", view.draining ? 1 : 0);
  counter(out, "ringline_log_dropped_lines_total",
          "Log lines dropped because standard error did not keep up.", view.log_dropped_lines);
  counter(out, "ringline_metrics_evicted_total",
          "Connections to this endpoint closed unanswered to make room for newer ones.",
          view.metrics_evicted);
  out.family("ringline_build_info", "gauge",
             "Always 1; the labels say which ringline this is and which I/O backend it runs on.");
  out.sample("ringline_build_info",
             fmt::format("version=\"{}\",backend=\"{}\"", view.version, view.backend),
             std::uint64_t{1});
  out.family("ringline_backend_info", "gauge",
             "Always 1; the label names the I/O backend the event loops run on (io_uring, or "
             "epoll where io_uring is refused or --backend epoll asks for it).");
  out.sample("ringline_backend_info", fmt::format("backend=\"{}\"", view.backend),
             std::uint64_t{1});
  process_section(out, view.process);
  return out.text();
}

health_report judge_health(bool draining, std::error_code sink_failure) {
  if (draining) {
    return {false, "draining"};
  }
  if (sink_failure) {
    return {false, fmt::format("sink failing: {}", sink_failure.message())};
  }
  return {true, "ok"};
}

health_report judge_ready(const readiness_inputs& inputs) {
  if (auto health = judge_health(inputs.draining, inputs.sink_failure); !health.healthy) {
    return health;
  }
  if (inputs.active >= inputs.max_connections) {
    return {false, fmt::format("connection limit reached: {} of {}", inputs.active,
                               inputs.max_connections)};
  }
  return {true, "ready"};
}

}  // namespace ringline::service
