#include "service/build_info.hpp"

#include "runtime/event_loop.hpp"

namespace ringline::service {

std::string_view build_version() noexcept {
  return RINGLINE_VERSION;
}

std::string_view io_backend_name() noexcept {
  return runtime::backend_name(runtime::event_loop::current().features().backend);
}

}  // namespace ringline::service
