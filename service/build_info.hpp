#pragma once

#include <string_view>

namespace ringline::service {

/// Returns the version ringline was built as ("0.1.0"): what --version and /metrics say.
[[nodiscard]] std::string_view build_version() noexcept;

/// Returns the name of the I/O backend the calling thread's event loop runs on ("io_uring"
/// or "epoll"), as `ringline_build_info{backend}` shows it. Every loop of a server runs on
/// the one backend chosen at start.
[[nodiscard]] std::string_view io_backend_name() noexcept;

}  // namespace ringline::service
