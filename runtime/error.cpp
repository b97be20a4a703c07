#include "runtime/error.hpp"

#include <cerrno>

namespace ringline::runtime {

std::error_code errno_code(int error_number) noexcept {
  return {error_number, std::system_category()};
}

std::error_code last_errno() noexcept {
  return errno_code(errno);
}

bool is_cancelled(std::error_code error) noexcept {
  return error == std::errc::operation_canceled;
}

bool is_timeout(std::error_code error) noexcept {
  return error == std::errc::timed_out;
}

}  // namespace ringline::runtime
