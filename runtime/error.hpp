#pragma once

#include <system_error>

namespace ringline::runtime {

/// Returns the error code for a positive errno value, in the system category.
[[nodiscard]] std::error_code errno_code(int error_number) noexcept;

/// Returns the error code for the current value of errno.
[[nodiscard]] std::error_code last_errno() noexcept;

/// Returns true when `error` says an operation was cancelled (std::errc::operation_canceled).
[[nodiscard]] bool is_cancelled(std::error_code error) noexcept;

/// Returns true when `error` says an operation's deadline passed (std::errc::timed_out).
[[nodiscard]] bool is_timeout(std::error_code error) noexcept;

}  // namespace ringline::runtime
