#pragma once

#include <memory>
#include <string>

#include "runtime/result.hpp"
#include "runtime/task.hpp"
#include "service/metrics_endpoint.hpp"

namespace ringline::service {

class server;
class sink;
class worker_threads;

/// The --metrics endpoint of a running server: /metrics from the counters of every thread,
/// the sink and /proc/self; /health from the drain and the sink's state; /ready from those
/// and the connection limit. Runs on the main loop.
class metrics_service {
 public:
  /// Binds `where` ("HOST:PORT", "[IPv6]:PORT"); returns the error, with a line for the
  /// operator in `why`.
  static runtime::result<std::unique_ptr<metrics_service>> open(const std::string& where,
                                                                std::string& why);

  /// Serves until stop(); the server, workers and sink must outlive it, and `draining`
  /// must stay valid (the caller sets it when the drain begins).
  runtime::task<void> run(const server& running, const worker_threads& workers, const sink& lines,
                          const bool& draining);

  /// Stops accepting scrapes; run() returns once the ones in progress are answered.
  void stop() noexcept;

  /// Returns the address bound, as "HOST:PORT".
  [[nodiscard]] const std::string& address() const noexcept { return m_address; }

  metrics_service(runtime::unique_fd listener, const std::string& address);

 private:
  runtime::unique_fd m_listener;
  std::string m_address;
  std::unique_ptr<metrics_endpoint> m_endpoint;
  bool m_stopped = false;  // stop() may come before run() has started
};

}  // namespace ringline::service
