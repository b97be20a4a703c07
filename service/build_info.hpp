#pragma once

#include <string_view>

namespace ringline::service {

/// Returns the version ringline was built as ("0.1.0"): what --version and /metrics say.
[[nodiscard]] std::string_view build_version() noexcept;

/// Returns the name of the I/O backend the server's loops run on ("io_uring"), as
/// `ringline_build_info{backend}` shows it. The one place that names it: a build or a start
/// that picks another backend changes what this returns.
[[nodiscard]] std::string_view io_backend_name() noexcept;

}  // namespace ringline::service
