#include "client/progress_display.hpp"

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

namespace ringline::client {

namespace {

constexpr auto k_redraw_every = std::chrono::milliseconds(200);
constexpr std::size_t k_bar_width = 30;

double seconds_of(std::chrono::milliseconds elapsed) {
  return static_cast<double>(elapsed.count()) / 1000.0;
}

double rate_of(const delivery_result& progress) {
  const double seconds = seconds_of(progress.elapsed);
  return seconds > 0 ? static_cast<double>(progress.acked) / seconds : 0.0;
}

}  // namespace

std::string format_summary(const delivery_result& progress, std::optional<std::uint64_t> total) {
  return fmt::format(
      "lines={} sent={} acked={} resent={} reconnects={} elapsed={:.3f}s rate={:.0f}/s",
      total.value_or(progress.lines), progress.sent, progress.acked, progress.resent,
      progress.reconnects, seconds_of(progress.elapsed), rate_of(progress));
}

std::string format_progress(const delivery_result& progress, std::optional<std::uint64_t> total) {
  const double rate = rate_of(progress);
  if (!total || *total == 0) {
    return fmt::format("{} acked, {:.0f} lines/s", progress.acked, rate);
  }
  const auto acked = std::min(progress.acked, *total);
  const double share = static_cast<double>(acked) / static_cast<double>(*total);
  const auto filled = static_cast<std::size_t>(share * static_cast<double>(k_bar_width));
  const std::string bar = std::string(filled, '#') + std::string(k_bar_width - filled, '.');
  const std::string eta =
      rate > 0 ? fmt::format("{:.0f} s", static_cast<double>(*total - acked) / rate) : "?";
  return fmt::format("[{}] {}/{} {:.0f}% {:.0f} lines/s ETA {}", bar, acked, *total, share * 100.0,
                     rate, eta);
}

void progress_display::update(const delivery_result& progress) {
  if (!m_enabled) {
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  if (m_visible && now - m_drawn < k_redraw_every) {
    return;
  }
  m_drawn = now;
  m_visible = true;
  // Carriage return, the bar, then erase to the end of the line: drawn in place.
  fmt::print(stderr, "\r{}\x1b[K", format_progress(progress, m_total));
  (void)std::fflush(stderr);
}

void progress_display::finish() {
  if (m_visible) {
    fmt::print(stderr, "\r\x1b[K");
    (void)std::fflush(stderr);
    m_visible = false;
  }
}

}  // namespace ringline::client
