#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/operation.hpp"
#include "runtime/result.hpp"

namespace ringline::runtime {

class buffer_ring;

/// Which kernel interface an event_loop drives.
enum class backend_kind : std::uint8_t {
  automatic,  ///< io_uring where the kernel allows it, epoll otherwise
  io_uring,
  epoll,
};

/// "auto", "io_uring" or "epoll".
[[nodiscard]] std::string_view backend_name(backend_kind kind) noexcept;

/// Parses "auto", "io_uring" or "epoll".
[[nodiscard]] std::optional<backend_kind> parse_backend(std::string_view text) noexcept;

/// For command lines: "" when `text` names a backend, else the message to print.
[[nodiscard]] std::string check_backend(std::string_view text);

/// The kind the environment variable RINGLINE_BACKEND names (auto when unset). Programs
/// take it as the default of --backend, and event_loop_options as its default, so one
/// variable runs a whole test suite on either backend.
[[nodiscard]] backend_kind backend_from_environment() noexcept;

/// What event_loop_options::backend defaults to: the kind set_default_backend() set, else
/// backend_from_environment().
[[nodiscard]] backend_kind default_backend() noexcept;
/// Sets what loops made from now on, on any thread, use by default (a program's --backend,
/// decided once at start).
void set_default_backend(backend_kind kind) noexcept;

/// What `automatic` resolves to on this machine, found by setting up (and closing) a small
/// ring once: io_uring, or epoll with the reason io_uring was passed over, one line fit to
/// log. Throws std::system_error for resource errors (ENOMEM, EMFILE), which are reported,
/// never a reason to fall back.
struct backend_decision {
  backend_kind kind = backend_kind::io_uring;
  std::string fallback_reason;  ///< empty unless `automatic` chose epoll
};
[[nodiscard]] backend_decision decide_backend(backend_kind wanted);

/// The second line of --version: "backend: io_uring", or "backend: epoll (why)", or
/// "backend: none (why)": what `automatic` picks on this machine.
[[nodiscard]] std::string backend_version_line();

namespace detail {

/// The part of an event_loop that talks to the kernel. Two implement it: runtime/uring/
/// (io_uring) and runtime/epoll/ (epoll, with a worker thread for files). The loop owns one,
/// chosen at construction; operations reach it through event_loop.
class backend {
 public:
  backend() = default;
  backend(const backend&) = delete;
  backend& operator=(const backend&) = delete;
  virtual ~backend() = default;

  /// Starts `request`. Its completions arrive later, from poll(), through m_on_complete
  /// (never from inside start()). Throws std::system_error only when the backend itself
  /// fails.
  virtual void start(io_request& request) = 0;
  /// Asks that `target` end early; its completion still arrives (with -ECANCELED, or its
  /// result if it finished first).
  virtual void cancel(operation& target) = 0;
  /// Submits what start() queued and waits for completions for at most `timeout` (none:
  /// until one arrives; zero: not at all).
  virtual void wait(std::optional<std::chrono::nanoseconds> timeout) = 0;
  /// Delivers the completions that have arrived.
  virtual void deliver() = 0;
  /// Cancels everything in flight and delivers the completions, waiting at most `limit`;
  /// returns true when nothing is left in flight.
  virtual bool cancel_all(std::chrono::nanoseconds limit) noexcept = 0;
  /// Operations started whose last completion has not been delivered.
  [[nodiscard]] virtual std::size_t in_flight() const noexcept = 0;

  /// Lends `ring`'s buffers to receives (recv_pooled); returns the error that prevents it.
  virtual result<void> add_buffers(buffer_ring& ring) = 0;
  virtual void remove_buffers(buffer_ring& ring) noexcept = 0;
  /// Returns buffer `id` of `ring` to the pool.
  virtual void give_back(buffer_ring& ring, std::uint16_t id) noexcept = 0;

  /// `fd` was closed outside the backend; forget what it knew of it.
  virtual void forget(int fd) noexcept = 0;

  /// For tests of the io_uring backend: see event_loop::simulate_busy_kernel_for_testing.
  virtual void simulate_busy_kernel_for_testing(bool /*on*/) noexcept {}
};

}  // namespace detail

}  // namespace ringline::runtime
