#pragma once

#include <cstdint>

#include "runtime/buffer_ring.hpp"
#include "runtime/io.hpp"
#include "runtime/result.hpp"

namespace ringline::runtime {

/// A pooled receive that calls a function when it completes instead of resuming a
/// coroutine, so that while it waits nothing is needed but this object.
///
/// A server keeps thousands of connections that wait for their next line; as coroutines each
/// would hold its whole frame (its framer, its awaiters) for as long as the client is silent.
/// A connection with nothing in progress parks instead: its coroutine ends, this object, kept
/// in the connection, waits for the data, and its callback starts a coroutine again to handle
/// it. Lives in its owner; must not move or die while a receive is in flight. Used on the
/// thread of its event loop only.
class parked_receive : private detail::io_operation {
 public:
  /// Called once per start() with the outcome, as recv_pooled() would yield it (a buffer,
  /// an empty buffer at end of stream, or the error); also while the loop is being torn
  /// down, when the owner can only clean up.
  using callback = void (*)(parked_receive& self, result<received_buffer> got,
                            void* context) noexcept;

  parked_receive() noexcept;

  /// Starts a receive on `fd` into a buffer of `pool`, limited by `options`, whose
  /// cancellation must not have been requested yet (a cancelled read has nothing to wait
  /// for). Throws std::system_error only when the ring itself fails.
  void start(int fd, buffer_ring& pool, io_options options, callback done, void* context);

 private:
  static void on_complete(operation& self, int res, std::uint32_t flags) noexcept;

  buffer_ring* m_pool = nullptr;
  callback m_callback = nullptr;
  void* m_context = nullptr;
};

}  // namespace ringline::runtime
