#pragma once

#include <chrono>
#include <cstddef>

#include "runtime/cancellation.hpp"
#include "runtime/task.hpp"

namespace ringline::runtime {

/// Returns the heap's free pages to the kernel when more than `threshold` bytes lie free in
/// it; returns true when it did. glibc keeps memory freed in the middle of its heap (the
/// frames and line buffers of a burst of busy connections) for reuse, so after a burst a
/// server's RSS stays at the burst's peak although its connections now hold little.
bool trim_free_memory(std::size_t threshold) noexcept;

/// Calls trim_free_memory(threshold) every `period` until `stop` is requested.
task<void> trim_free_memory_every(std::chrono::milliseconds period, std::size_t threshold,
                                  cancellation& stop);

}  // namespace ringline::runtime
