#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/operation.hpp"
#include "runtime/result.hpp"

namespace ringline::runtime {

class buffer_ring;
struct event_loop_options;
struct ring_features;

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

class backend;

/// A backend's functions, one table per kind: a table of function pointers rather than
/// virtual functions, as for operation, because UBSan checks every virtual call's vptr and
/// that check needs a descriptor of its own (a pipe), which a loop out of descriptors
/// (EMFILE, a case the tests make on purpose) does not have.
struct backend_functions {
  void (*start)(backend& self, io_request& request);
  void (*cancel)(backend& self, operation& target);
  void (*wait)(backend& self, std::optional<std::chrono::nanoseconds> timeout);
  void (*deliver)(backend& self);
  bool (*cancel_all)(backend& self, std::chrono::nanoseconds limit) noexcept;
  std::size_t (*in_flight)(const backend& self) noexcept;
  result<void> (*add_buffers)(backend& self, buffer_ring& ring);
  void (*remove_buffers)(backend& self, buffer_ring& ring) noexcept;
  void (*give_back)(backend& self, buffer_ring& ring, std::uint16_t id) noexcept;
  void (*forget)(backend& self, int fd) noexcept;
  void (*simulate_busy_kernel_for_testing)(backend& self, bool on) noexcept;
  void (*destroy)(backend* self) noexcept;
};

/// The part of an event_loop that talks to the kernel. Two implement it: runtime/uring/
/// (io_uring) and runtime/epoll/ (epoll, with a worker thread for files). The loop owns one,
/// chosen at construction; operations reach it through event_loop.
class backend {
 public:
  backend(const backend&) = delete;
  backend& operator=(const backend&) = delete;

  /// Starts `request`. Its completions arrive later, through m_on_complete, from deliver()
  /// (never from inside start()). Throws std::system_error only when the backend itself
  /// fails.
  void start(io_request& request) { m_functions->start(*this, request); }
  /// Asks that `target` end early; its completion still arrives (with -ECANCELED, or its
  /// result if it finished first).
  void cancel(operation& target) { m_functions->cancel(*this, target); }
  /// Submits what start() queued and waits for completions for at most `timeout` (none:
  /// until one arrives; zero: not at all).
  void wait(std::optional<std::chrono::nanoseconds> timeout) { m_functions->wait(*this, timeout); }
  /// Delivers the completions that have arrived.
  void deliver() { m_functions->deliver(*this); }
  /// Cancels everything in flight and delivers the completions, waiting at most `limit`;
  /// returns true when nothing is left in flight.
  bool cancel_all(std::chrono::nanoseconds limit) noexcept {
    return m_functions->cancel_all(*this, limit);
  }
  /// Operations started whose last completion has not been delivered.
  [[nodiscard]] std::size_t in_flight() const noexcept { return m_functions->in_flight(*this); }

  /// Lends `ring`'s buffers to receives (recv_pooled); returns the error that prevents it.
  result<void> add_buffers(buffer_ring& ring) { return m_functions->add_buffers(*this, ring); }
  void remove_buffers(buffer_ring& ring) noexcept { m_functions->remove_buffers(*this, ring); }
  /// Returns buffer `id` of `ring` to the pool.
  void give_back(buffer_ring& ring, std::uint16_t id) noexcept {
    m_functions->give_back(*this, ring, id);
  }

  /// `fd` is about to be closed outside the backend; forget what it knew of it.
  void forget(int fd) noexcept { m_functions->forget(*this, fd); }

  /// For tests of the io_uring backend: see event_loop::simulate_busy_kernel_for_testing.
  void simulate_busy_kernel_for_testing(bool on) noexcept {
    m_functions->simulate_busy_kernel_for_testing(*this, on);
  }

  /// Destroys the backend (whatever its kind).
  struct deleter {
    void operator()(backend* self) const noexcept { self->m_functions->destroy(self); }
  };

 protected:
  explicit backend(const backend_functions& functions) noexcept : m_functions(&functions) {}
  ~backend() = default;

  /// The table for the backend class `Impl`, which has each function above as a member.
  template <typename Impl>
  static const backend_functions& functions_of() noexcept {
    static constexpr backend_functions table{
        [](backend& self, io_request& request) { static_cast<Impl&>(self).start(request); },
        [](backend& self, operation& target) { static_cast<Impl&>(self).cancel(target); },
        [](backend& self, std::optional<std::chrono::nanoseconds> timeout) {
          static_cast<Impl&>(self).wait(timeout);
        },
        [](backend& self) { static_cast<Impl&>(self).deliver(); },
        [](backend& self, std::chrono::nanoseconds limit) noexcept {
          return static_cast<Impl&>(self).cancel_all(limit);
        },
        [](const backend& self) noexcept { return static_cast<const Impl&>(self).in_flight(); },
        [](backend& self, buffer_ring& ring) { return static_cast<Impl&>(self).add_buffers(ring); },
        [](backend& self, buffer_ring& ring) noexcept {
          static_cast<Impl&>(self).remove_buffers(ring);
        },
        [](backend& self, buffer_ring& ring, std::uint16_t id) noexcept {
          static_cast<Impl&>(self).give_back(ring, id);
        },
        [](backend& self, int fd) noexcept { static_cast<Impl&>(self).forget(fd); },
        [](backend& self, bool on) noexcept {
          static_cast<Impl&>(self).simulate_busy_kernel_for_testing(on);
        },
        [](backend* self) noexcept { delete static_cast<Impl*>(self); },
    };
    return table;
  }

 private:
  const backend_functions* m_functions;
};

/// A backend, owned.
using backend_ptr = std::unique_ptr<backend, backend::deleter>;

}  // namespace detail

}  // namespace ringline::runtime
