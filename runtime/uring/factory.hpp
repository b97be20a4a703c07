#pragma once

#include "runtime/backend.hpp"

namespace ringline::runtime::detail {

/// Sets up an io_uring backend and fills in `features`. Throws io_uring_unavailable when the
/// kernel refuses io_uring (EPERM, ENOSYS, EINVAL) or lacks an opcode the loop needs,
/// std::system_error for other failures (ENOMEM, EMFILE).
backend_ptr make_uring_backend(const event_loop_options& options, ring_features& features);

}  // namespace ringline::runtime::detail
