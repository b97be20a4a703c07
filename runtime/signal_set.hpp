#pragma once

#include <signal.h>

#include <initializer_list>

#include "runtime/io.hpp"
#include "runtime/result.hpp"
#include "runtime/task.hpp"
#include "runtime/unique_fd.hpp"

namespace ringline::runtime {

/// Delivers signals to a coroutine through a signalfd read on the ring.
///
/// The constructor blocks the signals for the calling thread; threads created afterwards
/// inherit the mask, so create the signal_set in main() before starting worker threads, or
/// a signal may go to a thread that does not read it. The signals stay blocked after the
/// set is destroyed, so a late one cannot kill the process with its default action.
class signal_set {
 public:
  /// Blocks `signals` and opens a signalfd for them; throws std::system_error on failure.
  explicit signal_set(std::initializer_list<int> signals);
  ~signal_set();
  signal_set(const signal_set&) = delete;
  signal_set& operator=(const signal_set&) = delete;

  /// Suspends until one of the signals arrives and returns its number.
  task<result<int>> wait(cancellation* cancel = nullptr);

 private:
  unique_fd m_fd;
};

}  // namespace ringline::runtime
