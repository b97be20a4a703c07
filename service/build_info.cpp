#include "service/build_info.hpp"

namespace ringline::service {

std::string_view build_version() noexcept {
  return RINGLINE_VERSION;
}

std::string_view io_backend_name() noexcept {
  return "io_uring";
}

}  // namespace ringline::service
