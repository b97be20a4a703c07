#pragma once

#include <chrono>
#include <string_view>
#include <system_error>
#include <vector>

#include "protocol/proxy_header.hpp"
#include "runtime/cancellation.hpp"
#include "runtime/task.hpp"

namespace ringline::service {

/// What read_proxy_header() came to: a header, a refusal, or a failed receive.
struct proxy_intake {
  /// Empty when a valid header arrived; otherwise why the connection must be refused
  /// (malformed, incomplete at EOF, too slow), in words for a log line (static text).
  std::string_view refusal;
  /// The receive's error (operation_canceled at shutdown, a reset, ...), when one ended the
  /// reading before a verdict; empty otherwise.
  std::error_code error;
  /// What the header carried; only meaningful when refusal and error are empty.
  protocol::proxy_header header;
  /// The bytes received right behind the header, in the same receive: the client's first
  /// line data, which the session must frame before it receives again.
  std::vector<char> rest;

  /// Returns true when a valid header arrived.
  [[nodiscard]] bool accepted() const noexcept { return refusal.empty() && !error; }
};

/// Reads the PROXY protocol header (v1 or v2) that must begin the connection `fd`, with
/// plain receives into a small buffer of the coroutine's own (a v2 header of up to 4096
/// bytes arrives in several), all within `limit` from the call. `cancel` (may be null) ends
/// the reading with operation_canceled. Runs on the calling thread's event loop; never
/// throws except bad_alloc (for `rest`).
runtime::task<proxy_intake> read_proxy_header(int fd, runtime::cancellation* cancel,
                                              std::chrono::nanoseconds limit);

}  // namespace ringline::service
