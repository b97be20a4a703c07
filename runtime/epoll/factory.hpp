#pragma once

#include "runtime/backend.hpp"

namespace ringline::runtime::detail {

/// Sets up an epoll backend and fills in `features`. Throws std::system_error when the
/// kernel refuses (EMFILE, ENOMEM).
backend_ptr make_epoll_backend(const event_loop_options& options, ring_features& features);

}  // namespace ringline::runtime::detail
