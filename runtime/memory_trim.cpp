#include "runtime/memory_trim.hpp"

#include <malloc.h>

#include "runtime/io.hpp"

namespace ringline::runtime {

bool trim_free_memory(std::size_t threshold) noexcept {
  // mallinfo2 reads the arenas' counters; malloc_trim(0) walks the free chunks and
  // madvises their whole pages away, so it runs only when there is something worth it.
  if (::mallinfo2().fordblks <= threshold) {
    return false;
  }
  return ::malloc_trim(0) != 0;
}

task<void> trim_free_memory_every(std::chrono::milliseconds period, std::size_t threshold,
                                  cancellation& stop) {
  for (;;) {
    // Not `while (co_await ...)`: GCC 12 miscompiles a co_await in a loop condition.
    if (auto slept = co_await sleep_for(period, &stop); !slept) {
      co_return;
    }
    (void)trim_free_memory(threshold);
  }
}

}  // namespace ringline::runtime
