#pragma once

#include <atomic>
#include <barrier>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace ringline::client {

/// What the worker threads of one bench run share: the budget of requests, the start line,
/// and the progress counters the main thread prints. Every member may be called from any
/// thread.
class bench_control {
 public:
  /// For `workers` threads sharing `lines` requests (0: no limit, the run is timed).
  bench_control(std::size_t workers, std::uint64_t lines);

  /// Takes up to `wanted` requests from the budget and returns how many were granted, fewer
  /// (down to 0) when the budget runs out. Without a budget, grants all.
  [[nodiscard]] std::size_t reserve(std::size_t wanted) noexcept;

  /// Blocks until every worker has called ready() or leave(): every connection is set up,
  /// so the load starts at once everywhere and the connect phase is not measured.
  void ready();
  /// Called instead of ready() by a worker that failed before it got there.
  void leave();

  /// Progress a worker publishes once a second, for the progress line.
  void publish(std::size_t worker, std::uint64_t lines, std::uint64_t errors,
               std::uint64_t p99_ns) noexcept;

  /// Returns the sums of the published lines and errors, and the largest published p99.
  struct progress {
    std::uint64_t lines = 0;
    std::uint64_t errors = 0;
    std::uint64_t p99_ns = 0;
  };
  [[nodiscard]] progress snapshot() const noexcept;

 private:
  // One cache line per worker, so publishing does not bounce a line between cores.
  struct alignas(64) slot {
    std::atomic<std::uint64_t> lines{0};
    std::atomic<std::uint64_t> errors{0};
    std::atomic<std::uint64_t> p99_ns{0};
  };

  const bool m_limited;
  std::atomic<std::int64_t> m_remaining;
  std::barrier<> m_start;
  std::size_t m_workers;
  std::unique_ptr<slot[]> m_slots;
};

}  // namespace ringline::client
